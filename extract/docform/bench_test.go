package docform

import (
	"os"
	"path/filepath"
	"testing"
)

func benchFile(b *testing.B, name string, read func([]byte) error) {
	data, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "forms", name))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := read(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadDOCX(b *testing.B) {
	benchFile(b, "form.docx", func(d []byte) error { _, err := ReadDOCX(d); return err })
}

func BenchmarkReadJSON(b *testing.B) {
	benchFile(b, "form.json", func(d []byte) error { _, err := ReadJSON(d); return err })
}

func BenchmarkReadCSV(b *testing.B) {
	benchFile(b, "forms.csv", func(d []byte) error { _, err := ReadCSV(d); return err })
}

func BenchmarkReadText(b *testing.B) {
	benchFile(b, "form.txt", func(d []byte) error { _, err := ReadText(string(d)); return err })
}

// BenchmarkReadTextNoForm is the common case: an ordinary email body.
func BenchmarkReadTextNoForm(b *testing.B) {
	body := "Hello,\n\nI would like to opt out of the London Care Record. Please send me the secure email.\n\nMany thanks,\nA resident\n"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadText(body); err == nil {
			b.Fatal("found a form in an ordinary email")
		}
	}
}
