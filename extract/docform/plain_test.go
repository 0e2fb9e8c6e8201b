package docform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDocumentText(t *testing.T) {
	for _, tc := range []struct {
		file string
		read func([]byte) (string, error)
	}{
		{"form.docx", DOCXText},
		{"lo-table.docx", DOCXText},
		{"lo-typed.odt", ODTText},
		{"lo-typed.fodt", ODTText},
	} {
		data, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "forms", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		text, err := tc.read(data)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if !strings.Contains(strings.ToLower(text), "nhs number") {
			t.Errorf("%s: text has no NHS number label:\n%s", tc.file, text)
		}
	}
	if _, err := DOCXText([]byte("not a zip")); err == nil {
		t.Error("DOCXText of junk: no error")
	}
	if _, err := ODTText([]byte("PK\x03\x04junk")); err == nil {
		t.Error("ODTText of junk: no error")
	}
}
