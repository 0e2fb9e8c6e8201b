package extract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/extract/form"
)

func fixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixturesDir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSniff(t *testing.T) {
	tests := []struct {
		name string
		file string // a fixture to read, or "" to use data
		data string
		want FileType
	}{
		{"fillable pdf", "forms/fillable-filled.pdf", "", TypePDF},
		{"pdf 2.0", "forms/pdf20.pdf", "", TypePDF},
		{"pdf after junk bytes", "", "\r\n\x00junk%PDF-1.4\n", TypePDF},
		{"docx by content", "forms/form.docx", "", TypeDOCX},
		{"docx with raw fields", "forms/form-fields.docx", "", TypeDOCX},
		{"zip that is not Word", "", "PK\x03\x04garbage", TypeZip},
		{"OLE .doc", "", "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00", TypeOLE},
		{"OpenDocument text from LibreOffice", "forms/lo-typed.odt", "", TypeODT},
		{"Excel workbook", "forms/lo-forms.xlsx", "", TypeOffice},
		{"RTF is not JSON", "forms/lo-typed.rtf", "", TypeOffice},
		{"Word saved by LibreOffice", "forms/lo-typed.docx", "", TypeDOCX},
		{"Windows-1252 CSV from Calc", "forms/lo-forms.csv", "", TypeCSV},
		{"jpeg named .pdf", "forms/not-a-pdf.pdf", "", TypeImage},
		{"png", "", "\x89PNG\r\n\x1a\n\x00\x00", TypeImage},
		{"heic", "", "\x00\x00\x00\x18ftypheic\x00\x00", TypeImage},
		{"json object", "forms/form.json", "", TypeJSON},
		{"json array with BOM", "", "\xEF\xBB\xBF [ {\"first_name\": \"A\"} ]", TypeJSON},
		{"csv with BOM and ;", "forms/forms.csv", "", TypeCSV},
		{"csv with commas", "", "First name,Last name,NHS Number\nA,B,9434765919\n", TypeCSV},
		{"tab separated", "", "First name\tLast name\tPostcode\nA\tB\tN1 9GU\n", TypeCSV},
		{"label lines are text", "forms/form.txt", "", TypeText},
		{"label lines with commas are text", "", "Address: 1 A Road, London, N1\nPostcode: N1 9GU\nName: A, B\n", TypeText},
		{"latin-1 text", "", "First name: Ren\xe9e\nLast name: Dubois\n", TypeText},
		{"calendar", "", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n", TypeCalendar},
		{"vcard", "", "begin:vcard\r\nversion:3.0\r\n", TypeVCard},
		{"html", "", "<!DOCTYPE html><html><body>x</body></html>", TypeHTML},
		{"email", "mail/contact-gmail.eml", "", TypeEmail},
		{"binary", "", "\x01\x02\x03\x04\x05\x06\x07\x08\x00\x00", TypeBinary},
		{"empty", "", "", TypeText},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.data)
			name := "x"
			if tt.file != "" {
				data = fixture(t, tt.file)
				name = filepath.Base(tt.file)
			}
			if got := Sniff(name, data); got != tt.want {
				t.Errorf("Sniff(%q) = %q, want %q", name, got, tt.want)
			}
		})
	}
}

func TestOwnText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "First name: A\nLast name: B", "First name: A\nLast name: B"},
		{"gmail quote", "Form below\n\nOn Wed, 13 May 2026 at 16:20, X <x@example.org> wrote:\n> First name:\n", "Form below"},
		{"quoted lines dropped", "Hello\n> First name:\n> Last name:\nBye", "Hello\nBye"},
		{"outlook header block", "Thanks\n\nFrom: Team <t@example.org>\nSent: 13 May 2026 16:20\nSubject: x\nFirst name:", "Thanks"},
		{"outlook separator", "Thanks\n________________________________\nFrom: x", "Thanks"},
		{"original message", "Hi\n-----Original Message-----\nFirst name: A", "Hi"},
		{"a From label without a header block is kept", "From: me\nFirst name: A", "From: me\nFirst name: A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ownText(tt.in); got != tt.want {
				t.Errorf("ownText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestReadAttachment(t *testing.T) {
	now := time.Date(2026, 5, 14, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name, file, as string
		data           string
		wantForms      int
		wantUnreadable bool
		wantCode       string // the first form's first problem code, when it must have one
		wantNote       string // a substring of the note
	}{
		{"fillable pdf", "forms/fillable-filled.pdf", "form.pdf", "", 1, false, "", ""},
		{"pdf without extension", "forms/printed.pdf", "optout_form", "", 1, false, "", ""},
		{"jpeg named .pdf", "forms/not-a-pdf.pdf", "form.pdf", "", 1, true, "not_a_pdf", ""},
		{"scan", "forms/scanned.pdf", "scan.pdf", "", 1, true, "pdf_scanned", ""},
		{"old word", "", "form.doc", "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00\x00\x00", 1, true, "doc_legacy_format", ""},
		{"old excel is skipped", "", "sheet.xls", "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00\x00\x00", 0, false, "", "not a Word document"},
		{"signature image", "", "image001.png", "\x89PNG\r\n\x1a\n\x00\x00", 0, false, "", "signature"},
		{"large photo", "", "IMG_0001.jpg", "\xFF\xD8\xFF" + strings.Repeat("x", 40<<10), 0, false, "", "photo"},
		{"calendar", "", "invite.ics", "BEGIN:VCALENDAR\r\n", 0, false, "", "calendar"},
		{"calendar named .pdf is still skipped", "", "invite.pdf", "BEGIN:VCALENDAR\r\n", 0, false, "", "calendar"},
		{"text with no form", "", "notes.dat", "Hello, see you on Monday.", 0, false, "", "no form"},
		{"txt with no form claims a form", "", "form.txt", "Hello, see you on Monday.", 1, true, CodeNoForm, ""},
		{"broken json", "", "form.json", "{\"first_name\": ", 1, true, "", ""},
		{"csv", "forms/forms.csv", "forms.csv", "", 3, false, "", ""},
		{"too large", "", "big.pdf", "%PDF-1.4\n" + strings.Repeat("x", 2000), 1, true, CodeTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.data)
			if tt.file != "" {
				data = fixture(t, tt.file)
			}
			lim := DefaultLimits()
			if tt.wantCode == CodeTooLarge {
				lim.MaxFileBytes = 1000
			}
			got := ReadAttachment(context.Background(), tt.as, data, lim, now)
			if len(got.Forms) != tt.wantForms || got.Unreadable != tt.wantUnreadable {
				t.Fatalf("ReadAttachment(%q) = %d forms, unreadable %v (note %q), want %d, %v",
					tt.as, len(got.Forms), got.Unreadable, got.Note, tt.wantForms, tt.wantUnreadable)
			}
			if tt.wantCode != "" && (len(got.Forms[0].Problems) == 0 || got.Forms[0].Problems[0].Code != tt.wantCode) {
				t.Errorf("ReadAttachment(%q) problems = %+v, want code %q", tt.as, got.Forms[0].Problems, tt.wantCode)
			}
			if !strings.Contains(got.Note, tt.wantNote) {
				t.Errorf("ReadAttachment(%q) note = %q, want it to mention %q", tt.as, got.Note, tt.wantNote)
			}
			for _, f := range got.Forms {
				if f.Source != tt.as {
					t.Errorf("form source = %q, want %q", f.Source, tt.as)
				}
				if f.Problems == nil {
					t.Errorf("form problems is nil, want an empty slice")
				}
				if got.Unreadable && f.Valid {
					t.Errorf("an unreadable file's form is valid")
				}
			}
		})
	}
}

func TestGuarded(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		block := make(chan struct{})
		defer close(block)
		start := time.Now()
		_, err, _ := guarded(context.Background(), 50*time.Millisecond, nil, func(context.Context, []byte) ([]form.Form, error) {
			<-block
			return nil, nil
		})
		if !errors.Is(err, errTimeout) {
			t.Errorf("guarded(blocking reader) error = %v, want errTimeout", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("guarded returned after %v, want about 50ms", d)
		}
		if p := problemFor(err); p.Code != CodeTimeout || p.Message == "" {
			t.Errorf("problemFor(timeout) = %+v, want code %q with a message", p, CodeTimeout)
		}
	})
	t.Run("panic", func(t *testing.T) {
		_, err, panicked := guarded(context.Background(), time.Second, nil, func(context.Context, []byte) ([]form.Form, error) {
			panic("a reader bug")
		})
		if !panicked || !errors.Is(err, errPanic) {
			t.Errorf("guarded(panicking reader) = %v, panicked %v; want errPanic, true", err, panicked)
		}
		if p := problemFor(err); p.Code != CodePanic {
			t.Errorf("problemFor(panic) = %+v, want code %q", p, CodePanic)
		}
	})
	t.Run("unreadable error keeps its code", func(t *testing.T) {
		err := fmt.Errorf("read: %w", &form.UnreadableError{Code: "docx_damaged", Message: "Damaged."})
		if p := problemFor(err); p.Code != "docx_damaged" || p.Message != "Damaged." || p.Severity != form.SeverityError {
			t.Errorf("problemFor(%v) = %+v", err, p)
		}
	})
}

func TestEmailEdgeCases(t *testing.T) {
	x := New(Limits{}, func() time.Time { return goldenNow })
	csvRows := "First name,Last name,Date of birth,NHS Number,Registered GP Practice,Postal address,Postcode,Declaration\r\n" +
		strings.Repeat("A,B,01/01/1970,9434765919,GP,1 Road,N1 9GU,Yes\r\n", 150)
	manyForms := "From: a@example.org\r\nTo: b@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n" +
		"--b\r\nContent-Type: text/csv; name=\"f.csv\"\r\nContent-Disposition: attachment; filename=\"f.csv\"\r\n\r\n" +
		csvRows + "--b--\r\n"
	tests := []struct {
		name      string
		raw       string
		wantKind  Kind
		wantForms int
	}{
		{"empty", "", KindUnreadable, 0},
		{"blank lines", "\r\n\r\n", KindUnreadable, 0},
		{"binary garbage", "\x00\x01\x02\xff\xfe", KindUnreadable, 0},
		{"headers only", "From: a@example.org\r\nSubject: hi\r\n\r\n", KindContact, 0},
		{"auto mail with a form is still auto", "From: a@example.org\r\nAuto-Submitted: auto-replied\r\n\r\nFirst name: A\r\nLast name: B\r\nNHS Number: 9434765919\r\nDate of birth: 01/01/1970\r\n", KindAuto, 0},
		{"forms are capped", manyForms, KindSubmission, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, r := x.Email(context.Background(), []byte(tt.raw))
			if msg == nil {
				t.Fatal("Email returned a nil message")
			}
			if r.Kind != tt.wantKind || len(r.Forms) != tt.wantForms {
				t.Errorf("Email(%s) = kind %q, %d forms (notes %q); want %q, %d", tt.name, r.Kind, len(r.Forms), r.Notes, tt.wantKind, tt.wantForms)
			}
			b, _ := json.Marshal(r)
			if bytes.Contains(b, []byte("null")) {
				t.Errorf("Email(%s) JSON has a null: %s", tt.name, b)
			}
		})
	}
}

func TestEmailCancelled(t *testing.T) {
	x := New(DefaultLimits(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, r := x.Email(ctx, fixture(t, "mail/reply-two-forms.eml"))
	if len(r.Forms) != 0 {
		t.Errorf("Email with a cancelled context read %d forms, want 0", len(r.Forms))
	}
	if len(r.Notes) == 0 || !strings.Contains(strings.Join(r.Notes, " "), "reading stopped") {
		t.Errorf("Email with a cancelled context notes = %q, want one saying reading stopped", r.Notes)
	}
}

// TestNoPersonalDataInNotes checks that notes never quote a resident's
// values or file names (they name attachments by number).
func TestNoPersonalDataInNotes(t *testing.T) {
	x := New(DefaultLimits(), func() time.Time { return goldenNow })
	for _, rel := range fixtureFiles(t) {
		r := x.Read(context.Background(), rel, fixture(t, rel))
		notes := strings.ToLower(strings.Join(r.Notes, "\n"))
		for _, pd := range []string{"amelia", "hartwell", "oliver", "priya", "okafor", "bloom", "9434765919", "943 476", "n1 9gu", "example.org", "opt out form.pdf", "image001"} {
			if strings.Contains(notes, pd) {
				t.Errorf("notes for %s quote %q: %q", rel, pd, r.Notes)
			}
		}
		for _, f := range r.Forms {
			for _, p := range f.Problems {
				if strings.Contains(strings.ToLower(p.Message), "amelia") || strings.Contains(p.Message, "9434765919") {
					t.Errorf("problem for %s quotes a value: %+v", rel, p)
				}
			}
		}
	}
}

func ExampleExtractor_Email() {
	x := New(DefaultLimits(), func() time.Time { return time.Date(2026, 5, 14, 0, 0, 0, 0, time.UTC) })
	raw := "From: Resident <resident@example.org>\r\n" +
		"To: joined-up.care-record@nhs.net\r\n" +
		"Subject: opt out\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\n" +
		"First name: Ada\r\nLast name: Example\r\nDate of birth: 29/02/1980\r\n" +
		"NHS number: 943 476 5919\r\nGP practice: Example Surgery\r\n" +
		"Address: 1 Example Road, London\r\nPostcode: n19gu\r\n" +
		"I have read the leaflet and understand consequences of opting out: X\r\n"
	_, r := x.Email(context.Background(), []byte(raw))
	f := r.Forms[0]
	fmt.Println(r.Kind, f.Source, f.Format, f.Valid)
	fmt.Println(f.Fields.DateOfBirth, f.Fields.NHSNumber, f.Fields.Postcode)
	for _, p := range f.Problems {
		fmt.Println(p.Severity, p.Code)
	}
	// Output:
	// submission body text true
	// 1980-02-29 9434765919 N1 9GU
	// warning full_name_missing
	// warning signature_missing
}
