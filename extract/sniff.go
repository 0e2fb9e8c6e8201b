package extract

import (
	"archive/zip"
	"bytes"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"
)

// FileType is what a file's content says it is, whatever its name or the
// media type its sender declared.
type FileType string

// The file types Sniff tells apart.
const (
	TypePDF      FileType = "pdf"      // starts with %PDF- (within the first KB, as readers allow)
	TypeDOCX     FileType = "docx"     // a zip holding word/document.xml
	TypeOLE      FileType = "ole"      // an Office 97-2003 compound file (.doc, .xls, .msg)
	TypeODT      FileType = "odt"      // an OpenDocument text: a zip whose mimetype is application/vnd.oasis.opendocument.text, or a flat .fodt
	TypeZip      FileType = "zip"      // any other zip (an archive)
	TypeOffice   FileType = "office"   // a document or spreadsheet the readers do not know: OpenDocument other than text (.ods, .odp), Excel (.xlsx), other Office zips, RTF
	TypeJSON     FileType = "json"     // text starting with { or [
	TypeCSV      FileType = "csv"      // text whose first lines split into the same number of fields
	TypeText     FileType = "text"     // other text
	TypeHTML     FileType = "html"     // an HTML document
	TypeCalendar FileType = "calendar" // an iCalendar invitation
	TypeVCard    FileType = "vcard"    // a contact card
	TypeImage    FileType = "image"    // PNG, JPEG, GIF, TIFF, BMP, WebP, HEIC
	TypeEmail    FileType = "email"    // an RFC 5322 message (.eml)
	TypeBinary   FileType = "binary"   // anything else
)

// sniffBytes is how much of a file Sniff looks at, besides a zip's directory.
const sniffBytes = 8 << 10

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Sniff tells what data is from its content. The name is used only to tell
// apart text formats that look alike (a .csv with one column, a .json
// that is not valid) and never overrides magic bytes.
func Sniff(name string, data []byte) FileType {
	head := data
	if len(head) > sniffBytes {
		head = head[:sniffBytes]
	}
	switch {
	case bytes.Contains(prefix(head, 1024), []byte("%PDF-")):
		return TypePDF
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		if isDOCX(data) {
			return TypeDOCX
		}
		if isODT(head) {
			return TypeODT
		}
		if isOfficeZip(data) {
			return TypeOffice
		}
		return TypeZip
	case bytes.HasPrefix(head, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}):
		return TypeOLE
	case bytes.HasPrefix(head, []byte(`{\rtf`)):
		// WordPad's default format; it starts like JSON.
		return TypeOffice
	case isImage(head):
		return TypeImage
	}
	if !isText(head) {
		return TypeBinary
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(head, utf8BOM), " \t\r\n")
	upper := strings.ToUpper(string(prefix(t, 64)))
	ext := strings.ToLower(path.Ext(name))
	switch {
	case len(t) > 0 && (t[0] == '{' || t[0] == '['):
		return TypeJSON
	case strings.HasPrefix(upper, "BEGIN:VCALENDAR"):
		return TypeCalendar
	case strings.HasPrefix(upper, "BEGIN:VCARD"):
		return TypeVCard
	case isFlatODT(t):
		return TypeODT
	case strings.HasPrefix(upper, "<!DOCTYPE HTML") || strings.HasPrefix(upper, "<HTML") ||
		strings.HasPrefix(upper, "<?XML") && bytes.Contains(prefix(t, 512), []byte("<html")):
		return TypeHTML
	case ext == ".json":
		return TypeJSON
	case ext == ".csv" || ext == ".tsv" || isCSV(t):
		return TypeCSV
	case ext != ".txt" && isEmail(t):
		return TypeEmail
	}
	return TypeText
}

func prefix(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// isDOCX reports a zip archive with a Word main document. Only the zip's
// central directory is read.
func isDOCX(data []byte) bool {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		// A truncated or damaged zip: call it Word when the name of the main
		// document shows in its first entries, so the Word reader reports it.
		return bytes.Contains(prefix(data, 64<<10), []byte("word/document.xml"))
	}
	for i, f := range zr.File {
		if i > 1000 {
			break
		}
		if f.Name == "word/document.xml" {
			return true
		}
	}
	return false
}

// isODT reports a zipped OpenDocument text (or text template): its first
// entry, stored uncompressed, is "mimetype" naming the type.
func isODT(head []byte) bool {
	h := prefix(head, 128)
	return bytes.Contains(h, []byte("mimetypeapplication/vnd.oasis.opendocument.text")) &&
		!bytes.Contains(h, []byte("mimetypeapplication/vnd.oasis.opendocument.text-"+"web"))
}

// isFlatODT reports a flat OpenDocument text (.fodt): XML whose root
// office:document declares the text media type.
func isFlatODT(t []byte) bool {
	h := prefix(t, 4096)
	return bytes.HasPrefix(h, []byte("<?xml")) && bytes.Contains(h, []byte("<office:document")) &&
		bytes.Contains(h, []byte(`office:mimetype="application/vnd.oasis.opendocument.text"`))
}

// isOfficeZip reports an OpenDocument file (its first entry is "mimetype"
// naming application/vnd.oasis.opendocument.*) or an Excel workbook.
func isOfficeZip(data []byte) bool {
	head := prefix(data, 128)
	if bytes.Contains(head, []byte("mimetypeapplication/vnd.oasis.opendocument.")) {
		return true
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return false
	}
	for i, f := range zr.File {
		if i > 1000 {
			break
		}
		if f.Name == "xl/workbook.xml" || f.Name == "content.xml" && i < 8 {
			return true
		}
	}
	return false
}

func isImage(h []byte) bool {
	switch {
	case bytes.HasPrefix(h, []byte("\x89PNG\r\n\x1a\n")),
		bytes.HasPrefix(h, []byte{0xFF, 0xD8, 0xFF}),
		bytes.HasPrefix(h, []byte("GIF87a")), bytes.HasPrefix(h, []byte("GIF89a")),
		bytes.HasPrefix(h, []byte("II*\x00")), bytes.HasPrefix(h, []byte("MM\x00*")),
		bytes.HasPrefix(h, []byte("BM")) && len(h) > 14 && h[6] == 0 && h[7] == 0 && h[8] == 0 && h[9] == 0:
		return true
	case len(h) >= 12 && string(h[0:4]) == "RIFF" && string(h[8:12]) == "WEBP":
		return true
	case len(h) >= 12 && string(h[4:8]) == "ftyp":
		switch string(h[8:12]) {
		case "heic", "heix", "mif1", "msf1", "avif", "hevc":
			return true
		}
	}
	return false
}

// isText reports content with no NUL bytes and mostly printable characters:
// UTF-8, or a single-byte charset such as ISO-8859-1 or Windows-1252.
func isText(h []byte) bool {
	if len(h) == 0 {
		return true
	}
	if bytes.IndexByte(h, 0) >= 0 {
		return false
	}
	bad := 0
	for _, c := range h {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' {
			bad++
		}
	}
	if bad*50 > len(h) {
		return false
	}
	if utf8.Valid(h) {
		return true
	}
	// Not UTF-8 (or cut in the middle of a character): accept a single-byte
	// charset when most bytes are ASCII.
	high := 0
	for _, c := range h {
		if c >= 0x80 {
			high++
		}
	}
	return high*4 < len(h)
}

// isCSV reports text whose first two non-empty lines split on the same
// delimiter into the same number (at least three) of fields.
func isCSV(t []byte) bool {
	var lines []string
	for _, l := range strings.SplitN(string(prefix(t, 4096)), "\n", 8) {
		if l = strings.TrimRight(l, "\r"); strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
		if len(lines) == 2 {
			break
		}
	}
	if len(lines) < 2 {
		return false
	}
	for _, d := range []byte{';', '\t', ','} {
		n := countFields(lines[0], d)
		if n >= 3 && n == countFields(lines[1], d) {
			return true
		}
	}
	return false
}

// countFields counts d-separated fields in one line, honouring double quotes.
func countFields(line string, d byte) int {
	n, quoted := 1, false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '"':
			quoted = !quoted
		case c == d && !quoted:
			n++
		}
	}
	return n
}

var headerStart = regexp.MustCompile(`^[A-Za-z0-9-]+:`)

var headerLine = regexp.MustCompile(`(?im)^(from|to|subject|date|message-id|received|return-path|mime-version|delivered-to|content-type):`)

// isEmail reports text that starts with a mail header block: a header line
// first, and at least three of the usual header fields before a blank line.
func isEmail(t []byte) bool {
	t = prefix(t, 16<<10)
	if i := bytes.Index(t, []byte("\n\n")); i >= 0 {
		t = t[:i]
	}
	if i := bytes.Index(t, []byte("\r\n\r\n")); i >= 0 {
		t = t[:i]
	}
	first, _, _ := bytes.Cut(t, []byte("\n"))
	if !headerStart.Match(first) {
		return false
	}
	seen := map[string]bool{}
	for _, m := range headerLine.FindAllSubmatch(t, 100) {
		seen[strings.ToLower(string(m[1]))] = true
	}
	return len(seen) >= 3
}

// signatureImage matches the names mail clients give images in signatures
// and HTML layouts (Outlook's image001.png, Apple's Outlook-xyz.png, ...).
var signatureImage = regexp.MustCompile(`(?i)^(image\d{3}|outlook-[a-z0-9]+|logo[^.]*|~wrd\d+|att\d+)\.(png|jpe?g|gif|bmp)$`)
