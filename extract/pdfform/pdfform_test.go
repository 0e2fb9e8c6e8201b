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

// read runs Read with a generous deadline.
func read(t testing.TB, data []byte) ([]form.Form, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return Read(ctx, data, DefaultLimits())
}

// code returns the UnreadableError code of err, or "".
func code(err error) string {
	var ue *form.UnreadableError
	if errors.As(err, &ue) {
		return ue.Code
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return ""
}

// fixture reads a file from the project's fixtures/forms.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "forms", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return data
}

// amelia is what fixtures/README.md says the Amelia forms hold.
var amelia = form.Fields{
	Gender: "Female", FirstName: "Amelia", LastName: "Hartwell", DateOfBirth: "14/03/1978",
	NHSNumber: "943 476 5919", GPPractice: "Example Road Surgery, Islington",
	Email: "amelia.hartwell@example.org", PostalAddress: "Flat 2, 17 Example Road, London",
	Postcode: "N1 9GU", Declaration: true, FullName: "Amelia Hartwell", Signature: "A. Hartwell",
}

func TestReadFixtures(t *testing.T) {
	oliver := amelia
	oliver.Gender, oliver.FirstName, oliver.DateOfBirth, oliver.NHSNumber = "Male", "Oliver", "02/06/2015", "943 476 5870"
	oliver.OnBehalf, oliver.Relationship, oliver.Authority = true, "Mother", form.AuthorityGuardian
	tests := []struct {
		file   string
		format form.Format
		want   form.Fields
		code   string
	}{
		{"fillable-filled.pdf", form.FormatPDFFields, amelia, ""},
		{"fillable-logo.pdf", form.FormatPDFFields, amelia, ""},
		{"fillable-onbehalf.pdf", form.FormatPDFFields, oliver, ""},
		{"fillable-blank.pdf", form.FormatPDFFields, form.Fields{}, ""},
		{"flattened.pdf", form.FormatPDFText, amelia, ""},
		{"printed.pdf", form.FormatPDFText, amelia, ""},
		{"encrypted-owner-only.pdf", form.FormatPDFFields, amelia, ""},
		{"pdf20.pdf", form.FormatPDFFields, amelia, ""},
		{"encrypted-aes256.pdf", "", form.Fields{}, CodeEncrypted},
		{"scanned.pdf", "", form.Fields{}, CodeScanned},
		{"not-a-pdf.pdf", "", form.Fields{}, CodeNotPDF},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			forms, err := read(t, fixture(t, tt.file))
			if got := code(err); got != tt.code {
				t.Fatalf("Read(%s) error code = %q, want %q", tt.file, got, tt.code)
			}
			if tt.code != "" {
				var ue *form.UnreadableError
				if !errors.As(err, &ue) || ue.Message == "" {
					t.Errorf("Read(%s) = %v, want a message for staff", tt.file, err)
				}
				return
			}
			if len(forms) != 1 {
				t.Fatalf("Read(%s) gave %d forms, want 1", tt.file, len(forms))
			}
			if forms[0].Format != tt.format {
				t.Errorf("Read(%s) format = %q, want %q", tt.file, forms[0].Format, tt.format)
			}
			if forms[0].Fields != tt.want {
				t.Errorf("Read(%s) fields =\n%+v\nwant\n%+v", tt.file, forms[0].Fields, tt.want)
			}
		})
	}
}

func TestReadText(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    form.Fields
	}{
		{"label and value on one line",
			show(50, 700, "First name*: Amelia") + show(50, 680, "Last name: Hartwell") + show(50, 660, "Postcode: N1 9GU"),
			form.Fields{FirstName: "Amelia", LastName: "Hartwell", Postcode: "N1 9GU"}},
		{"content order scrambled, values in their own column",
			show(200, 660, "N1 9GU") + show(50, 700, "Forename") + show(200, 680, "Hartwell") + show(50, 660, "Post code") + show(200, 700, "Amelia") + show(50, 680, "Surname"),
			form.Fields{FirstName: "Amelia", LastName: "Hartwell", Postcode: "N1 9GU"}},
		{"value on the line below, address over lines",
			show(50, 700, "Registered GP Practice*:") + show(70, 686, "Example Road Surgery") + show(50, 660, "Postal address*:") + show(70, 646, "Flat 2") + show(70, 632, "London") + show(50, 600, "Postcode*: N1 9GU"),
			form.Fields{GPPractice: "Example Road Surgery", PostalAddress: "Flat 2, London", Postcode: "N1 9GU"}},
		{"underscores to write on",
			show(50, 700, "First name*: ____________") + show(130, 700, "Amelia") + show(50, 680, "NHS Number*: ______ 943 476 5919 ____"),
			form.Fields{FirstName: "Amelia", NHSNumber: "943 476 5919"}},
		{"glyph by glyph",
			"BT /F1 10 Tf 50 700 Td (D) Tj (O) Tj (B) Tj (:) Tj ( ) Tj (1) Tj (4) Tj (/) Tj (0) Tj (3) Tj (/) Tj (1) Tj (9) Tj (7) Tj (8) Tj ET\n",
			form.Fields{DateOfBirth: "14/03/1978"}},
		{"TJ kerning and a typed tick",
			"BT /F1 10 Tf 50 700 Td [(Gen) 20 (der:) -2000 (Female)] TJ ET\n" + show(50, 680, "[x] I have read the leaflet and understand consequences of opting out"),
			form.Fields{Gender: "Female", Declaration: true}},
		{"dingbat ticks: on behalf, guardian, declaration",
			show(50, 700, "Are you completing this form on behalf of another person?") +
				"BT /F2 10 Tf 60 686 Td (4) Tj ET\n" + show(72, 686, "Yes") + "BT /F2 10 Tf 110 686 Td (o) Tj ET\n" + show(122, 686, "No") +
				show(50, 670, "If yes, what is your relationship to this person? Mother") +
				"BT /F2 10 Tf 60 650 Td (4) Tj ET\n" + show(72, 650, "is under 16 and I am their legal guardian/have parental responsibility") +
				"BT /F2 10 Tf 60 630 Td (o) Tj ET\n" + show(72, 630, "does not have capacity to give consent and I have lasting power of") +
				"BT /F2 10 Tf 60 600 Td (4) Tj ET\n" + show(72, 600, "I have read the leaflet and understand consequences of opting out"),
			form.Fields{OnBehalf: true, Relationship: "Mother", Authority: form.AuthorityGuardian, Declaration: true}},
		{"box after its label, No ticked",
			show(50, 700, "On behalf of another person?  Yes [ ]  No [X]") + show(50, 680, "First name: Ann"),
			form.Fields{FirstName: "Ann"}},
		{"prose that starts with a label word is not a value",
			show(50, 700, "Email joined-up.care-record@nhs.net and ask the ICB team to contact you.") + show(50, 680, "Last name: Hartwell"),
			form.Fields{LastName: "Hartwell"}},
		// Shapes seen in files from LibreOffice, Word and ghostscript.
		{"TJ split at kerning pairs with the space at a string's end (LibreOffice)",
			"BT /F1 10 Tf 50 700 Td [(Postal address*: Flat )2(2, 17 Example )-1(Road)] TJ ET\n" +
				"BT /F1 10 Tf 50 680 Td [(Last )3(name*: Hart)-2(well)] TJ ET\n" + show(50, 660, "Postcode: N1 9GU"),
			form.Fields{LastName: "Hartwell", PostalAddress: "Flat 2, 17 Example Road", Postcode: "N1 9GU"}},
		{"a string of spaces alone ends the word before it",
			"BT /F1 10 Tf 50 700 Td [(First)( )(name:)( )(Amelia)] TJ ET\n" + show(50, 680, "Last name: Hartwell"),
			form.Fields{FirstName: "Amelia", LastName: "Hartwell"}},
		{"check box drawn as a square and two diagonals (LibreOffice FORMCHECKBOX)",
			show(50, 700, "First name: Ann") + show(50, 680, "Last name: Lee") +
				"0 0 0 RG 50 598 10 10 re S 50 608 m 60 598 l S 60 608 m 50 598 l S\n" +
				show(64, 600, "I have read the leaflet and understand consequences of opting out"),
			form.Fields{FirstName: "Ann", LastName: "Lee", Declaration: true}},
		{"check box drawn as a square, left empty",
			show(50, 700, "First name: Ann") + show(50, 680, "Last name: Lee") +
				"50 598 10 10 re S\n" + show(64, 600, "I have read the leaflet and understand consequences of opting out"),
			form.Fields{FirstName: "Ann", LastName: "Lee"}},
		{"a clipping square is not a box",
			show(50, 700, "First name: Ann") + show(50, 680, "Last name: Lee") +
				"q 50 598 10 10 re W n 50 608 m 60 598 l S 60 608 m 50 598 l S Q\n" +
				show(64, 600, "I have read the leaflet and understand consequences of opting out"),
			form.Fields{FirstName: "Ann", LastName: "Lee"}},
		{"typed X inside a drawn square",
			show(50, 700, "First name: Ann") + show(50, 680, "Last name: Lee") +
				"49 598 10 10 re S\n" + show(51, 600, "X") + show(64, 600, "I have read the leaflet and understand consequences of opting out"),
			form.Fields{FirstName: "Ann", LastName: "Lee", Declaration: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forms, err := read(t, textPDF(tt.content))
			if err != nil {
				t.Fatalf("Read = %v", err)
			}
			if len(forms) != 1 {
				t.Fatalf("Read gave %d forms, want 1", len(forms))
			}
			if forms[0].Format != form.FormatPDFText {
				t.Errorf("format = %q, want %q", forms[0].Format, form.FormatPDFText)
			}
			if forms[0].Fields != tt.want {
				t.Errorf("fields =\n%+v\nwant\n%+v", forms[0].Fields, tt.want)
			}
		})
	}
}

func TestReadSeveralForms(t *testing.T) {
	content := show(50, 700, "First name: Ann") + show(50, 680, "Last name: One") +
		show(50, 500, "First name: Bob") + show(50, 480, "Last name: Two")
	forms, err := read(t, textPDF(content))
	if err != nil {
		t.Fatalf("Read = %v", err)
	}
	if len(forms) != 2 || forms[0].Fields.FirstName != "Ann" || forms[1].Fields.LastName != "Two" {
		t.Fatalf("Read = %+v, want Ann One then Bob Two", forms)
	}
}

func TestReadXObjectText(t *testing.T) {
	// A flattened form: the label in the page, the value in a form XObject
	// placed with cm and a /Matrix.
	data := buildPDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >> >>",
		"stream:"+show(50, 700, "Last name*:")+"q 1 0 0 1 150 695 cm /X1 Do Q\n",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		"xstream:/Type /XObject /Subtype /Form /BBox [0 0 200 20] /Matrix [1 0 0 1 10 0] /Resources << /Font << /F1 5 0 R >> >>:BT /F1 10 Tf 2 5 Td (Hartwell) Tj ET",
	)
	forms, err := read(t, data)
	if err != nil || len(forms) != 1 || forms[0].Fields.LastName != "Hartwell" {
		t.Fatalf("Read = %+v, %v; want last name Hartwell", forms, err)
	}
}

func TestReadFields(t *testing.T) {
	tests := []struct {
		name   string
		top    string
		fields []string
		want   form.Fields
	}{
		{"names as printed, tooltip on a generic name, UTF-16 value",
			"5 0 R 6 0 R 7 0 R",
			[]string{
				"<< /FT /Tx /T (First name) /V (Zo\xeb) >>",
				"<< /FT /Tx /T (Text1) /TU (Last name*) /V <FEFF004E00ED0020004200680072006900610069006E> >>",
				"<< /FT /Tx /T (NHS Number*) /V (943 476 5919) >>",
			},
			form.Fields{FirstName: "Zoë", LastName: "Ní Bhriain", NHSNumber: "943 476 5919"}},
		{"dotted names through Kids, inherited type",
			"5 0 R",
			[]string{
				"<< /T (form) /FT /Tx /Kids [6 0 R 7 0 R] >>",
				"<< /T (first_name) /V (Ann) /Parent 5 0 R >>",
				"<< /T (postcode) /V (n19gu) /Parent 5 0 R >>",
			},
			form.Fields{FirstName: "Ann", Postcode: "n19gu"}},
		{"check box without V uses the widget's AS; radio group by state",
			"5 0 R 6 0 R 9 0 R",
			[]string{
				"<< /FT /Btn /T (Declaration) /Kids [7 0 R] >>",
				"<< /FT /Btn /Ff 49152 /T (On behalf) /V /Yes /Kids [8 0 R 10 0 R] >>",
				"<< /Subtype /Widget /Parent 5 0 R /AS /Yes /AP << /N << /Yes 11 0 R /Off 11 0 R >> >> >>",
				"<< /Subtype /Widget /Parent 6 0 R /AS /Yes /AP << /N << /Yes 11 0 R /Off 11 0 R >> >> >>",
				"<< /FT /Btn /T (Check Box 3) /TU (does not have capacity to give consent and I have lasting power of attorney) /V /On /AS /On /AP << /N << /On 11 0 R /Off 11 0 R >> >> >>",
				"<< /Subtype /Widget /Parent 6 0 R /AS /Off /AP << /N << /No 11 0 R /Off 11 0 R >> >> >>",
				"stream:",
			},
			form.Fields{Declaration: true, OnBehalf: true, Authority: form.AuthorityLPAOrDeputy}},
		{"radio group states name the authority; unticked box ignored",
			"5 0 R 6 0 R",
			[]string{
				"<< /FT /Btn /Ff 49152 /T (Authority) /V /Guardian >>",
				"<< /FT /Btn /T (Declaration) /V /Off >>",
			},
			form.Fields{Authority: form.AuthorityGuardian}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forms, err := read(t, acroPDF(tt.top, tt.fields...))
			if err != nil {
				t.Fatalf("Read = %v", err)
			}
			if len(forms) != 1 || forms[0].Format != form.FormatPDFFields {
				t.Fatalf("Read = %+v, want one pdf-fields form", forms)
			}
			if forms[0].Fields != tt.want {
				t.Errorf("fields =\n%+v\nwant\n%+v", forms[0].Fields, tt.want)
			}
		})
	}
}

func TestDecodeTextString(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"plain", "plain"},
		{"\xfe\xff\x00A\x00\xe9", "Aé"},
		{"\x8d\x8eq\x8f", "“”q‘"[0:0] + "\u201c\u201dq\u2018"},
		{"\xef\xbb\xbfZo\xc3\xab", "Zoë"},
		{"line\r\nbreak\x00", "line  break"},
	}
	for _, tt := range tests {
		if got := decodeTextString(tt.raw); got != tt.want {
			t.Errorf("decodeTextString(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
	if got := stripPadding("abc\x03\x03\x03"); got != "abc" {
		t.Errorf("stripPadding = %q, want abc", got)
	}
	if got := stripPadding("abc\x03\x02"); got != "abc\x03\x02" {
		t.Errorf("stripPadding kept bad padding as %q", got)
	}
}

func TestReadUnreadable(t *testing.T) {
	image := buildPDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /XObject << /Im1 5 0 R >> >> >>",
		"stream:q 595 0 0 842 0 0 cm /Im1 Do Q",
		"xstream:/Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8:\x80",
	)
	manyPages := func(n int) []byte {
		kids := strings.Repeat("3 0 R ", n)
		return buildPDF(
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids ["+kids+"] /Count 1 >>",
			"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>",
			"stream:",
		)
	}
	loop := buildPDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [2 0 R] /Count 1 >>",
	)
	big := textPDF(show(50, 700, "First name: Ann"))
	tests := []struct {
		name string
		data []byte
		lim  Limits
		code string
	}{
		{"image only", image, DefaultLimits(), CodeScanned},
		{"text without the form", textPDF(show(50, 700, "Dear Sir, please find my letter.")), DefaultLimits(), CodeNoForm},
		{"too many pages", manyPages(60), DefaultLimits(), CodeTooLarge},
		{"page tree loop", loop, DefaultLimits(), CodeDamaged},
		{"too large", big, Limits{MaxBytes: 100, MaxObjects: 100, MaxPages: 5}, CodeTooLarge},
		{"empty", nil, DefaultLimits(), CodeNotPDF},
		{"html", []byte("<html><body>hello</body></html>"), DefaultLimits(), CodeNotPDF},
		{"header only", []byte("%PDF-1.4\n"), DefaultLimits(), CodeDamaged},
		{"truncated", big[:len(big)/2], DefaultLimits(), CodeDamaged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			forms, err := Read(ctx, tt.data, tt.lim)
			if got := code(err); got != tt.code {
				t.Fatalf("Read = %+v, %v; want code %q", forms, err, tt.code)
			}
		})
	}
}

func TestReadTimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Read(ctx, textPDF(show(50, 700, "First name: Ann")), DefaultLimits()); code(err) != CodeTimeout {
		t.Fatalf("Read with an ended context = %v, want %s", err, CodeTimeout)
	}
}

func TestErrorsCarryNoContent(t *testing.T) {
	// Staff messages are fixed sentences: nothing from the file leaks in.
	for c, m := range messages {
		if m == "" || strings.Contains(m, "%") {
			t.Errorf("message for %s = %q", c, m)
		}
	}
}
