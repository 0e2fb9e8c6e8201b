package docform

import (
	"archive/zip"
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// makeDOCX builds a minimal .docx whose body is the given WordprocessingML.
func makeDOCX(t testing.TB, body string) []byte {
	t.Helper()
	return zipFiles(t, map[string]string{
		"[Content_Types].xml": `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`,
		"word/document.xml": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
			`<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"><w:body>` +
			body + `</w:body></w:document>`,
	})
}

func zipFiles(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// storedZip builds a zip holding one uncompressed file (quick to build even
// when large, unlike deflate under the race detector).
func storedZip(t testing.TB, name, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func para(text string) string {
	return `<w:p><w:r><w:t xml:space="preserve">` + text + `</w:t></w:r></w:p>`
}

func row(cells ...string) string {
	s := "<w:tr>"
	for _, c := range cells {
		s += "<w:tc>" + c + "</w:tc>"
	}
	return s + "</w:tr>"
}

func table(rows ...string) string { return "<w:tbl>" + strings.Join(rows, "") + "</w:tbl>" }

func sdtCheckbox(checked bool, glyph string) string {
	v := "0"
	if checked {
		v = "1"
	}
	return `<w:sdt><w:sdtPr><w14:checkbox><w14:checked w14:val="` + v + `"/></w14:checkbox></w:sdtPr><w:sdtContent><w:r><w:t>` + glyph + `</w:t></w:r></w:sdtContent></w:sdt>`
}

func legacyCheckbox(inner string) string {
	return `<w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:name w:val="Check1"/><w:checkBox><w:sizeAuto/>` + inner + `</w:checkBox></w:ffData></w:fldChar></w:r><w:r><w:instrText xml:space="preserve"> FORMCHECKBOX </w:instrText></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>`
}

func legacyText(value string) string {
	return `<w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:name w:val="Text1"/><w:textInput><w:default w:val="Type here"/></w:textInput></w:ffData></w:fldChar></w:r><w:r><w:instrText xml:space="preserve"> FORMTEXT </w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>` + value + `</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>`
}

const declText = "I have read the leaflet and understand consequences of opting out"

func TestReadDOCX(t *testing.T) {
	base := form.Fields{FirstName: "Ann", LastName: "Example", Postcode: "N1 9GU"}
	with := func(change func(*form.Fields)) form.Fields { f := base; change(&f); return f }
	names := para("First name: Ann") + para("Last name: Example") + para("Postcode: N1 9GU")
	tests := []struct {
		name string
		body string
		want form.Fields
	}{
		{"paragraphs", names, base},
		{"two-column table", table(row(para("First name*"), para("Ann")), row(para("Last name*"), para("Example")),
			row(para("Postal address*"), para("1 Example Road")+para("London")), row(para("Postcode*"), para("N1 9GU")),
			row(para(declText), para("☒"))),
			with(func(f *form.Fields) { f.PostalAddress = "1 Example Road, London"; f.Declaration = true })},
		{"header row table", table(row(para("First name"), para("Last name"), para("Postcode")), row(para("Ann"), para("Example"), para("N1 9GU"))), base},
		{"mark cell first", names + table(row(para("☒"), para(declText))), with(func(f *form.Fields) { f.Declaration = true })},
		{"empty value cell", table(row(para("First name"), para("Ann")), row(para("Gender"), para("")), row(para("Last name"), para("Example")), row(para("Postcode"), para("N1 9GU"))), base},
		{"content control checkbox ticked", names + `<w:p>` + sdtCheckbox(true, "☒") + `<w:r><w:t xml:space="preserve"> ` + declText + `</w:t></w:r></w:p>`,
			with(func(f *form.Fields) { f.Declaration = true })},
		{"content control checkbox state wins over glyph", names + `<w:p>` + sdtCheckbox(false, "☒") + `<w:r><w:t xml:space="preserve"> ` + declText + `</w:t></w:r></w:p>`, base},
		{"content control text and placeholder", `<w:p><w:r><w:t>First name: </w:t></w:r><w:sdt><w:sdtPr><w:text/></w:sdtPr><w:sdtContent><w:r><w:t>Ann</w:t></w:r></w:sdtContent></w:sdt></w:p>` +
			`<w:p><w:r><w:t>Gender: </w:t></w:r><w:sdt><w:sdtPr><w:showingPlcHdr/><w:text/></w:sdtPr><w:sdtContent><w:r><w:t>Click or tap here to enter text.</w:t></w:r></w:sdtContent></w:sdt></w:p>` +
			para("Last name: Example") + para("Postcode: N1 9GU"), base},
		{"legacy checkbox checked", names + `<w:p>` + legacyCheckbox(`<w:default w:val="0"/><w:checked/>`) + `<w:r><w:t xml:space="preserve"> ` + declText + `</w:t></w:r></w:p>`,
			with(func(f *form.Fields) { f.Declaration = true })},
		{"legacy checkbox default on", names + `<w:p>` + legacyCheckbox(`<w:default w:val="1"/>`) + `<w:r><w:t xml:space="preserve"> ` + declText + `</w:t></w:r></w:p>`,
			with(func(f *form.Fields) { f.Declaration = true })},
		{"legacy checkbox unchecked", names + `<w:p>` + legacyCheckbox(`<w:default w:val="1"/><w:checked w:val="0"/>`) + `<w:r><w:t xml:space="preserve"> ` + declText + `</w:t></w:r></w:p>`, base},
		{"legacy text field", `<w:p><w:r><w:t xml:space="preserve">First name: </w:t></w:r>` + legacyText("Ann") + `</w:p>` + para("Last name: Example") + para("Postcode: N1 9GU"), base},
		{"wingdings sym", names + `<w:p><w:r><w:sym w:font="Wingdings" w:char="F0FE"/></w:r><w:r><w:t xml:space="preserve"> ` + declText + `</w:t></w:r></w:p>`,
			with(func(f *form.Fields) { f.Declaration = true })},
		{"wingdings empty sym", names + `<w:p><w:r><w:sym w:font="Wingdings" w:char="F0A8"/></w:r><w:r><w:t xml:space="preserve"> ` + declText + `</w:t></w:r></w:p>`, base},
		{"wingdings private use text", names + para("\uF078 "+declText), with(func(f *form.Fields) { f.Declaration = true })},
		{"on behalf checkboxes", names + para("Are you completing this form on behalf of another person?") +
			`<w:p>` + sdtCheckbox(true, "☒") + `<w:r><w:t xml:space="preserve"> Yes</w:t></w:r></w:p><w:p>` + sdtCheckbox(false, "☐") + `<w:r><w:t xml:space="preserve"> No</w:t></w:r></w:p>` +
			`<w:p>` + sdtCheckbox(false, "☐") + `<w:r><w:t xml:space="preserve"> is under 16 and I am their legal guardian/have parental responsibility</w:t></w:r></w:p>` +
			`<w:p>` + sdtCheckbox(true, "☒") + `<w:r><w:t xml:space="preserve"> does not have capacity to give consent and I have lasting power of attorney</w:t></w:r></w:p>`,
			with(func(f *form.Fields) { f.OnBehalf = true; f.Authority = form.AuthorityLPAOrDeputy })},
		{"on behalf row", names + table(row(para("Are you completing this form on behalf of another person?"), para("Yes"), para("☐"), para("No"), para("☒"))), base},
		{"deleted text and instructions ignored", `<w:p><w:r><w:t xml:space="preserve">First name: </w:t></w:r><w:del><w:r><w:delText>Wrong</w:delText></w:r></w:del><w:r><w:t>Ann</w:t></w:r></w:p>` + para("Last name: Example") + para("Postcode: N1 9GU"), base},
		{"line breaks", `<w:p><w:r><w:t>First name: Ann</w:t><w:br/><w:t>Last name: Example</w:t><w:br/><w:t>Postcode: N1 9GU</w:t></w:r></w:p>`, base},
	}
	for _, tt := range tests {
		forms, err := ReadDOCX(makeDOCX(t, tt.body))
		if err != nil {
			t.Errorf("%s: ReadDOCX error %v", tt.name, err)
			continue
		}
		if len(forms) != 1 || forms[0].Format != form.FormatDOCX {
			t.Errorf("%s: ReadDOCX = %+v, want one docx form", tt.name, forms)
			continue
		}
		if forms[0].Fields != tt.want {
			t.Errorf("%s: ReadDOCX fields\n got %+v\nwant %+v", tt.name, forms[0].Fields, tt.want)
		}
	}
}

func TestReadDOCXErrors(t *testing.T) {
	ole := append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 512)...)
	encrypted := append(append([]byte{}, ole...), utf16le("EncryptedPackage")...)
	bomb := storedZip(t, "word/document.xml", strings.Repeat(" ", maxDOCXDocument+1))
	many := map[string]string{"word/document.xml": "<w:document/>"}
	for i := range maxDOCXEntries + 1 {
		many["f/"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+itoa(i)] = ""
	}
	tests := []struct {
		name string
		data []byte
		code string // "" for ErrNoForm
	}{
		{"not a zip", []byte("hello, this is not a Word file"), "docx_invalid"},
		{"empty", nil, "docx_invalid"},
		{"old doc", ole, "doc_legacy_format"},
		{"encrypted docx", encrypted, "docx_encrypted"},
		{"zip without document", zipFiles(t, map[string]string{"hello.txt": "hi"}), "docx_invalid"},
		{"broken xml", zipFiles(t, map[string]string{"word/document.xml": "<w:document><w:body><w:p>"}), "docx_invalid"},
		{"zip bomb", bomb, "docx_too_large"},
		{"too many entries", zipFiles(t, many), "docx_invalid"},
		{"deep nesting", makeDOCX(t, strings.Repeat("<w:p>", 1000)+strings.Repeat("</w:p>", 1000)), "docx_too_deep"},
		{"a letter", makeDOCX(t, para("Dear Sir or Madam,")+para("I would like to opt out.")+para("Yours faithfully")), ""},
	}
	for _, tt := range tests {
		forms, err := ReadDOCX(tt.data)
		if tt.code == "" {
			if !errors.Is(err, ErrNoForm) {
				t.Errorf("%s: ReadDOCX = %v, %v; want ErrNoForm", tt.name, forms, err)
			}
			continue
		}
		var ue *form.UnreadableError
		if !errors.As(err, &ue) || ue.Code != tt.code {
			t.Errorf("%s: ReadDOCX error = %v, want code %s", tt.name, err, tt.code)
		}
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
