package pdfworker

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ncl-icb/optout-intake/extract/pdfform"
)

// benchFiles are the fixtures every benchmark reads: a filled fillable form
// (AcroForm fields) and a typed form printed to PDF (text layer).
var benchFiles = []struct{ name, file string }{
	{"fields", "fillable-filled.pdf"},
	{"text", "printed.pdf"},
}

// BenchmarkPoolRead reads through a 1-child pool: the guard's amortised
// cost per file (two pipe round trips and JSON) on top of the read. The
// child is started before the timer.
func BenchmarkPoolRead(b *testing.B) {
	for _, f := range benchFiles {
		b.Run(f.name, func(b *testing.B) {
			data := fixture(b, f.file)
			p := testPool(b, "worker", Config{Workers: 1})
			ctx := context.Background()
			if _, err := p.Read(ctx, data, pdfform.DefaultLimits()); err != nil {
				b.Fatalf("Read(%s) = %v", f.file, err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Read(ctx, data, pdfform.DefaultLimits()); err != nil {
					b.Fatalf("Read(%s) = %v", f.file, err)
				}
			}
		})
	}
}

// BenchmarkPoolReadParallel reads through a 2-child pool from many
// goroutines: throughput with both cores busy.
func BenchmarkPoolReadParallel(b *testing.B) {
	data := fixture(b, "fillable-filled.pdf")
	p := testPool(b, "worker", Config{Workers: 2})
	ctx := context.Background()
	for range 2 {
		if _, err := p.Read(ctx, data, pdfform.DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Read(ctx, data, pdfform.DefaultLimits()); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkInProcess is pdfform.Read on the same files, in this process.
func BenchmarkInProcess(b *testing.B) {
	for _, f := range benchFiles {
		b.Run(f.name, func(b *testing.B) {
			data := fixture(b, f.file)
			ctx := context.Background()
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := pdfform.Read(ctx, data, pdfform.DefaultLimits()); err != nil {
					b.Fatalf("Read(%s) = %v", f.file, err)
				}
			}
		})
	}
}

// BenchmarkPdftotext spawns `pdftotext -layout FILE -` on the same files,
// for the ratio.
func BenchmarkPdftotext(b *testing.B) {
	if _, err := exec.LookPath("pdftotext"); err != nil {
		b.Fatalf("pdftotext not installed (apt-get install poppler-utils): %v", err)
	}
	for _, f := range benchFiles {
		b.Run(f.name, func(b *testing.B) {
			path := filepath.Join("..", "..", "fixtures", "forms", f.file)
			for b.Loop() {
				if out, err := exec.Command("pdftotext", "-layout", path, "-").Output(); err != nil || len(out) == 0 {
					b.Fatalf("pdftotext %s = %v", f.file, err)
				}
			}
		})
	}
}

// BenchmarkPoolRoundTrip sends a file the child's guard rejects at once
// (not_a_pdf): the pool's fixed cost per file, with next to no reading.
func BenchmarkPoolRoundTrip(b *testing.B) {
	p := testPool(b, "worker", Config{Workers: 1})
	ctx := context.Background()
	data := []byte("not a pdf")
	if _, err := p.Read(ctx, data, pdfform.DefaultLimits()); codeOf(err) != pdfform.CodeNotPDF {
		b.Fatalf("Read(not a pdf) = %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Read(ctx, data, pdfform.DefaultLimits()); codeOf(err) != pdfform.CodeNotPDF {
			b.Fatalf("Read(not a pdf) = %v", err)
		}
	}
}
