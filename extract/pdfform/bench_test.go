package pdfform

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// benchRead reads one fixture b.N times, guard included.
func benchRead(b *testing.B, name string) {
	data := fixture(b, name)
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read(ctx, data, DefaultLimits()); err != nil {
			b.Fatalf("Read(%s) = %v", name, err)
		}
	}
}

// BenchmarkReadFields reads a filled fillable form (AcroForm).
func BenchmarkReadFields(b *testing.B) { benchRead(b, "fillable-filled.pdf") }

// BenchmarkReadFieldsLogo reads the ~250 KB filled form with an image and an
// embedded font.
func BenchmarkReadFieldsLogo(b *testing.B) { benchRead(b, "fillable-logo.pdf") }

// BenchmarkReadText reads a typed form printed to PDF (text layer).
func BenchmarkReadText(b *testing.B) { benchRead(b, "printed.pdf") }

// BenchmarkReadFlattened reads a flattened form (values in form XObjects).
func BenchmarkReadFlattened(b *testing.B) { benchRead(b, "flattened.pdf") }

// BenchmarkPdftotext spawns `pdftotext -layout file -` on the text PDF, for
// the ratio against BenchmarkReadText.
func BenchmarkPdftotext(b *testing.B) {
	path := filepath.Join("..", "..", "fixtures", "forms", "printed.pdf")
	if _, err := os.Stat(path); err != nil {
		b.Fatal(err)
	}
	if _, err := exec.LookPath("pdftotext"); err != nil {
		b.Fatalf("pdftotext not installed (apt-get install poppler-utils): %v", err)
	}
	for b.Loop() {
		if out, err := exec.Command("pdftotext", "-layout", path, "-").Output(); err != nil || len(out) == 0 {
			b.Fatalf("pdftotext = %v", err)
		}
	}
}

// BenchmarkGuard is the pre-parse guard alone on the ~250 KB form: the
// part of every read that scans the whole file.
func BenchmarkGuard(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "forms", "fillable-logo.pdf"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := guard(data, DefaultLimits()); err != nil {
			b.Fatalf("guard(fillable-logo.pdf) = %v, want nil", err)
		}
	}
}
