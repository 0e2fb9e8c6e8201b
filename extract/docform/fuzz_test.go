package docform

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// seeds adds the fixtures with the given extension, the extra inputs, and
// truncated and bit-flipped variants of each, to f's corpus.
func seeds(f *testing.F, ext string, extra ...[]byte) {
	f.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "..", "fixtures", "forms", "*"+ext))
	inputs := extra
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		inputs = append(inputs, data)
	}
	for _, in := range inputs {
		f.Add(in)
		if len(in) < 2 {
			continue
		}
		f.Add(in[:len(in)/2]) // truncated
		f.Add(in[:len(in)-1]) // one byte short
		for _, at := range []int{len(in) / 3, len(in) / 2, 2 * len(in) / 3} {
			flipped := append([]byte{}, in...)
			flipped[at] ^= 0x20 // bit-flipped
			f.Add(flipped)
		}
	}
}

// checkResult holds every reader to its contract: forms or an error, never
// both; errors are ErrNoForm or *form.UnreadableError; forms have the right
// format and survive form.Finish.
func checkResult(t *testing.T, forms []form.Form, err error, format form.Format) {
	t.Helper()
	var ue *form.UnreadableError
	switch {
	case err == nil:
		if len(forms) == 0 {
			t.Fatal("no forms and no error")
		}
	case errors.Is(err, ErrNoForm), errors.As(err, &ue):
		if forms != nil {
			t.Fatalf("forms %v with error %v", forms, err)
		}
		return
	default:
		t.Fatalf("error %v is neither ErrNoForm nor *form.UnreadableError", err)
	}
	for _, fm := range forms {
		if fm.Format != format {
			t.Fatalf("format %q, want %q", fm.Format, format)
		}
		form.Finish(&fm, time.Date(2026, 5, 15, 0, 0, 0, 0, time.UTC))
	}
}

func FuzzReadText(f *testing.F) {
	seeds(f, ".txt", []byte(leafletText),
		[]byte("First name:\n"+strings.Repeat("\n", 1000)),
		[]byte(strings.Repeat("> ", 5000)+"First name: Ann"),
		[]byte(strings.Repeat("[x] ", 2000)),
		[]byte(strings.Repeat("Yes No [x] ", 500)),
		[]byte(strings.Repeat("First name: Ann Last name: Example ", 2000)))
	f.Fuzz(func(t *testing.T, data []byte) {
		forms, err := ReadText(string(data))
		checkResult(t, forms, err, form.FormatText)
	})
}

func FuzzReadJSON(f *testing.F) {
	seeds(f, ".json",
		[]byte(`[{"first_name":"Ann","last_name":"A"},{"form":{"First name":"Bob","DOB":19800229}}]`),
		[]byte(strings.Repeat(`{"form":`, 40)+`{"first_name":"a","last_name":"b"}`+strings.Repeat("}", 40)),
		[]byte(strings.Repeat("[", 5000)),
		[]byte(`{"postal_address":[[[["a"]]]],"first_name":{"x":{"y":"z"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		forms, err := ReadJSON(data)
		checkResult(t, forms, err, form.FormatJSON)
	})
}

func FuzzReadCSV(f *testing.F) {
	seeds(f, ".csv",
		[]byte("First name,Last name\n\"Ann\nA\",B\n"),
		[]byte("First name;Ann\nLast name;B\n"),
		[]byte(strings.Repeat("\"", 3000)),
		[]byte(strings.Repeat("First name,", 600)+"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		forms, err := ReadCSV(data)
		checkResult(t, forms, err, form.FormatCSV)
	})
}

func FuzzReadDOCX(f *testing.F) {
	seeds(f, ".docx",
		makeDOCX(f, table(row(para("First name"), para("Ann")), row(para("Last name"), para("B")), row(para("Postcode"), para("N1 9GU")))),
		makeDOCX(f, strings.Repeat("<w:tbl><w:tr><w:tc>", 60)+para("First name: Ann")+strings.Repeat("</w:tc></w:tr></w:tbl>", 60)),
		makeDOCX(f, `<w:p>`+sdtCheckbox(true, "☒")+legacyCheckbox(`<w:checked/>`)+`<w:r><w:sym w:char="F0FE"/></w:r></w:p>`),
		[]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1})
	f.Fuzz(func(t *testing.T, data []byte) {
		forms, err := ReadDOCX(data)
		checkResult(t, forms, err, form.FormatDOCX)
	})
}
