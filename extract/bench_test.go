package extract

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/extract/pdfform"
)

// The benchmarks behind docs/extract.md. Run them with
//
//	go test -run '^$' -bench . -benchmem ./extract/...
//
// and compare BenchmarkReadFillablePDF and BenchmarkReadTextPDF with
// BenchmarkPdftotext (the same files through a spawned pdftotext).

const (
	benchEmail    = "mail/reply-outlook-large-pdf.eml" // Outlook-shaped, ~250 KB fillable PDF, signature image
	benchFillable = "forms/fillable-logo.pdf"          // the PDF in benchEmail
	benchText     = "forms/printed.pdf"                // a printed form's text layer
)

// BenchmarkEmailWithPDF is the whole job for one client-shaped email with a
// ~250 KB PDF: parse the MIME, sniff, read the AcroForm, check the form.
func BenchmarkEmailWithPDF(b *testing.B) {
	raw := fixture(b, benchEmail)
	x := New(DefaultLimits(), func() time.Time { return goldenNow })
	ctx := context.Background()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		_, r := x.Email(ctx, raw)
		if r.Kind != KindSubmission || len(r.Forms) != 1 || !r.Forms[0].Valid {
			b.Fatalf("Email(%s) = %q with %d forms", benchEmail, r.Kind, len(r.Forms))
		}
	}
}

func benchPDF(b *testing.B, rel string, want form.Format) {
	data := fixture(b, rel)
	ctx := context.Background()
	lim := pdfform.DefaultLimits()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		forms, err := pdfform.Read(ctx, data, lim)
		if err != nil || len(forms) != 1 || forms[0].Format != want {
			b.Fatalf("pdfform.Read(%s) = %d forms, %v", rel, len(forms), err)
		}
	}
}

// BenchmarkReadFillablePDF reads the AcroForm of the ~250 KB fillable form.
func BenchmarkReadFillablePDF(b *testing.B) { benchPDF(b, benchFillable, form.FormatPDFFields) }

// BenchmarkReadTextPDF reads a printed form from its text layer.
func BenchmarkReadTextPDF(b *testing.B) { benchPDF(b, benchText, form.FormatPDFText) }

// BenchmarkCheck checks one complete form (dates, NHS number, postcode, rules).
func BenchmarkCheck(b *testing.B) {
	fields := form.Fields{
		FirstName: "Amelia", LastName: "Hartwell", DateOfBirth: "14/03/1978", NHSNumber: "943 476 5919",
		GPPractice: "Example Road Surgery", Email: "amelia.hartwell@example.org",
		PostalAddress: "Flat 2, 17 Example Road, London", Postcode: "n19gu", Declaration: true,
		FullName: "Amelia Hartwell", Signature: "A. Hartwell",
	}
	b.ReportAllocs()
	for b.Loop() {
		f := fields
		if p := form.Check(&f, goldenNow); len(p) != 0 {
			b.Fatalf("Check = %+v, want no problems", p)
		}
	}
}

// BenchmarkPdftotext spawns poppler's pdftotext on the same PDFs, the
// yardstick for the in-process readers (target: they are 10x faster).
func BenchmarkPdftotext(b *testing.B) {
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		b.Fatalf("pdftotext is not installed (apt-get install poppler-utils): %v", err)
	}
	for _, rel := range []string{benchFillable, benchText} {
		path := filepath.Join(fixturesDir, rel)
		b.Run(filepath.Base(rel), func(b *testing.B) {
			for b.Loop() {
				if out, err := exec.Command(bin, "-layout", path, "-").Output(); err != nil || len(out) == 0 {
					b.Fatalf("pdftotext %s: %v", rel, err)
				}
			}
		})
	}
}

// benchFile reads one bare file through Extractor.File, as an attachment is read.
func benchFile(b *testing.B, rel string, kind Kind, forms int) {
	data := fixture(b, rel)
	x := New(DefaultLimits(), func() time.Time { return goldenNow })
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := x.File(ctx, rel, data)
		if r.Kind != kind || len(r.Forms) != forms {
			b.Fatalf("File(%s) = %q with %d forms", rel, r.Kind, len(r.Forms))
		}
	}
}

// BenchmarkReadODT reads the form made with Writer form controls (.odt).
func BenchmarkReadODT(b *testing.B) { benchFile(b, "forms/lo-controls.odt", KindSubmission, 1) }

// BenchmarkReadZip reads a zip of a fillable PDF and a Word form.
func BenchmarkReadZip(b *testing.B) { benchFile(b, "forms/forms.zip", KindSubmission, 2) }

// BenchmarkEmailProtected reads a Purview/IRM wrapper: parse, detect, no form.
func BenchmarkEmailProtected(b *testing.B) {
	raw := fixture(b, "mail/protected-rpmsg.eml")
	x := New(DefaultLimits(), func() time.Time { return goldenNow })
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, r := x.Email(ctx, raw); r.Kind != KindProtected {
			b.Fatalf("Email(protected-rpmsg.eml) = %q", r.Kind)
		}
	}
}
