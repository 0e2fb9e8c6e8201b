package pdfform

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// FuzzRead feeds Read arbitrary bytes: every input must end as forms or a
// *form.UnreadableError, within the deadline. Seeds: the fixtures, hand-made
// PDFs, and truncated, bit-flipped, deeply nested and oversized variants
// (more in testdata/fuzz/FuzzRead).
func FuzzRead(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("..", "..", "fixtures", "forms", "*.pdf"))
	for _, n := range names {
		if data, err := os.ReadFile(n); err == nil && len(data) < 100<<10 {
			f.Add(data)
			f.Add(data[:len(data)/3])
			flipped := append([]byte(nil), data...)
			flipped[len(flipped)/2] ^= 0x55
			f.Add(flipped)
		}
	}
	f.Add(textPDF(show(50, 700, "First name: Ann") + show(50, 680, "Postcode: N1 9GU")))
	f.Add(acroPDF("5 0 R", "<< /FT /Tx /T (First name) /V (Ann) >>"))
	f.Add(textPDF("[" + strings.Repeat("[", 5000) + "] Tj"))
	f.Add(textPDF(strings.Repeat(show(50, 700, "Surname: X"), 2000)))
	f.Add([]byte("%PDF-1.7\nxref\n0 99999999999\ntrailer\n<< /Size 99999999999 >>\nstartxref\n9\n%%EOF\n"))
	f.Add([]byte("%PDF-2.0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		forms, err := Read(ctx, data, DefaultLimits())
		if err != nil {
			var ue *form.UnreadableError
			if !errors.As(err, &ue) || ue.Code == "" || ue.Message == "" {
				t.Fatalf("Read = %v, want a *form.UnreadableError", err)
			}
			return
		}
		if len(forms) == 0 {
			t.Fatalf("Read = no forms and no error")
		}
		for _, fm := range forms {
			if fm.Format != form.FormatPDFFields && fm.Format != form.FormatPDFText {
				t.Fatalf("form format = %q", fm.Format)
			}
		}
	})
}
