package pdfform

import (
	"bytes"
	"fmt"
	"strings"
)

// Test PDFs built by hand, byte for byte, so that each test shows exactly
// what the file holds. obj are the bodies of objects 1..n; a body starting
// with "stream:" is a content stream (the rest is its data) and one
// starting with "xstream:DICT:" a stream with extra dictionary entries.
// Object 1 must be the catalog.
func buildPDF(obj ...string) []byte {
	return buildPDFTrailer("", obj...)
}

// buildPDFTrailer is buildPDF with extra trailer entries.
func buildPDFTrailer(trailer string, obj ...string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(obj))
	for i, o := range obj {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n", i+1)
		switch {
		case strings.HasPrefix(o, "stream:"):
			data := strings.TrimPrefix(o, "stream:")
			fmt.Fprintf(&b, "<< /Length %d >>\nstream\n%s\nendstream\n", len(data), data)
		case strings.HasPrefix(o, "xstream:"):
			rest := strings.TrimPrefix(o, "xstream:")
			dict, data, _ := strings.Cut(rest, ":")
			fmt.Fprintf(&b, "<< /Length %d %s >>\nstream\n%s\nendstream\n", len(data), dict, data)
		default:
			b.WriteString(o + "\n")
		}
		b.WriteString("endobj\n")
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(obj)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%d\n%%%%EOF\n", len(obj)+1, trailer, xref)
	return b.Bytes()
}

// textPDF is a one-page PDF whose content stream is content, with Helvetica
// as /F1 and ZapfDingbats as /F2.
func textPDF(content string) []byte {
	return buildPDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> >>",
		"stream:"+content,
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /ZapfDingbats >>",
	)
}

// show returns content-stream text drawing s at x, y in 10 pt Helvetica.
func show(x, y int, s string) string {
	return fmt.Sprintf("BT /F1 10 Tf %d %d Td (%s) Tj ET\n", x, y, s)
}

// acroPDF is a one-page PDF with the given AcroForm field objects: fields
// are object bodies numbered from 5 on, and top lists the top-level field
// references.
func acroPDF(top string, fields ...string) []byte {
	obj := []string{
		"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [" + top + "] >> >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
		"stream:" + show(50, 800, "Opt-out form"),
	}
	return buildPDF(append(obj, fields...)...)
}
