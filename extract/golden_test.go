package extract

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite fixtures/golden/*.json from the current results")

// fixturesDir is the repository's fixtures folder, seen from this package.
const fixturesDir = "../fixtures"

// goldenNow is the day the goldens are judged on (dates of birth in the
// future, a child's age), so they do not change with the calendar.
var goldenNow = time.Date(2026, 5, 14, 12, 0, 0, 0, time.UTC)

// fixtureFiles lists fixtures/forms and fixtures/mail as paths relative to
// fixtures/ ("forms/printed.pdf"), sorted.
func fixtureFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{"forms", "mail"} {
		entries, err := os.ReadDir(filepath.Join(fixturesDir, dir))
		if err != nil {
			t.Fatalf("list fixtures: %v", err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				files = append(files, dir+"/"+e.Name())
			}
		}
	}
	sort.Strings(files)
	if len(files) < 40 {
		t.Fatalf("found %d fixtures, want the 40 or more in fixtures/forms and fixtures/mail", len(files))
	}
	return files
}

func goldenPath(rel string) string {
	return filepath.Join(fixturesDir, "golden", filepath.Base(rel)+".json")
}

// marshalResult is the golden form of a Result: indented JSON, as the
// contract's field names.
func marshalResult(t testing.TB, r Result) []byte {
	t.Helper()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatalf("marshal result: %v", err)
	}
	return append(b, '\n')
}

// TestGolden reads every fixture and compares its Result with
// fixtures/golden/<name>.json. Run with -update to rewrite the goldens, then
// review the diff by hand against the leaflet's rules.
func TestGolden(t *testing.T) {
	x := New(DefaultLimits(), func() time.Time { return goldenNow })
	for _, rel := range fixtureFiles(t) {
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join(fixturesDir, rel))
			if err != nil {
				t.Fatal(err)
			}
			got := marshalResult(t, x.Read(context.Background(), rel, data))
			gp := goldenPath(rel)
			if *update {
				if err := os.WriteFile(gp, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(gp)
			if err != nil {
				t.Fatalf("read golden (run `go test ./extract -run Golden -update` to create it): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Read(%q) differs from %s:\ngot:\n%s\nwant:\n%s", rel, gp, got, want)
			}
		})
	}
}

// TestGoldenKinds pins the kind of each fixture independently of the
// goldens, so a careless -update cannot change what a message is.
func TestGoldenKinds(t *testing.T) {
	want := map[string]Kind{
		"forms/fillable-filled.pdf":           KindSubmission,
		"forms/fillable-onbehalf.pdf":         KindSubmission,
		"forms/flattened.pdf":                 KindSubmission,
		"forms/printed.pdf":                   KindSubmission,
		"forms/scanned.pdf":                   KindUnreadable,
		"forms/encrypted-aes256.pdf":          KindUnreadable,
		"forms/encrypted-owner-only.pdf":      KindSubmission,
		"forms/pdf20.pdf":                     KindSubmission,
		"forms/form.docx":                     KindSubmission,
		"forms/form-fields.docx":              KindSubmission,
		"forms/form.json":                     KindSubmission,
		"forms/forms.csv":                     KindSubmission,
		"forms/form.txt":                      KindSubmission,
		"forms/not-a-pdf.pdf":                 KindUnreadable,
		"mail/contact-gmail.eml":              KindContact,
		"mail/contact-outlook-html.eml":       KindContact,
		"mail/contact-with-personal-data.eml": KindContact,
		"mail/encoded-subject-cp1252.eml":     KindContact,
		"mail/reply-no-form.eml":              KindContact,
		"mail/human-undeliverable.eml":        KindContact,
		"mail/human-out-of-office.eml":        KindContact,
		"mail/human-returned-mail.eml":        KindContact,
		"mail/auto-oof-exchange.eml":          KindAuto,
		"mail/auto-rfc3834.eml":               KindAuto,
		"mail/bounce-dsn.eml":                 KindAuto,
		"mail/list-mail.eml":                  KindAuto,
		"mail/reply-outlook-pdf.eml":          KindSubmission,
		"mail/reply-gmail-docx.eml":           KindSubmission,
		"mail/reply-apple-inline-pdf.eml":     KindSubmission,
		"mail/reply-thunderbird-rfc2231.eml":  KindSubmission,
		"mail/reply-octet-stream-pdf.eml":     KindSubmission,
		"mail/reply-body-form.eml":            KindSubmission,
		"mail/reply-latin1-body-form.eml":     KindSubmission,
		"mail/reply-json.eml":                 KindSubmission,
		"mail/reply-csv-two-rows.eml":         KindSubmission,
		"mail/reply-two-forms.eml":            KindSubmission,
		"mail/reply-scanned-pdf.eml":          KindSubmission,
		"mail/forwarded-rfc822.eml":           KindSubmission,
		"mail/winmail-tnef.eml":               KindSubmission,
		"mail/smime-signed.eml":               KindSubmission,
		"mail/unsolicited-form.eml":           KindSubmission,
		// Issue 11: protected messages, zips, OpenDocument.
		"mail/protected-rpmsg.eml":          KindProtected,
		"mail/protected-rpmsg-no-class.eml": KindProtected,
		"mail/protected-portal-link.eml":    KindProtected,
		"mail/protected-message-html.eml":   KindProtected,
		"mail/smime-encrypted.eml":          KindProtected,
		"mail/smime-authenveloped.eml":      KindProtected,
		"mail/reply-zip-encrypted.eml":      KindProtected,
		"mail/reply-zip-forms.eml":          KindSubmission,
		"mail/reply-quoting-wrapper.eml":    KindContact,
		"forms/encrypted.zip":               KindProtected,
		"forms/forms.zip":                   KindSubmission,
		"forms/lo-typed.odt":                KindSubmission,
		"forms/lo-typed.fodt":               KindSubmission,
		"forms/lo-table.odt":                KindSubmission,
		"forms/lo-formfields.odt":           KindSubmission,
		"forms/lo-controls.odt":             KindSubmission,
		"forms/lo-controls.fodt":            KindSubmission,
		"forms/printed-wrapped.pdf":         KindSubmission,
		"forms/fillable-short-names.pdf":    KindSubmission,
		"forms/fillable-confirm.pdf":        KindSubmission,
	}
	// Forms each submission must give, and whether they must all be valid.
	forms := map[string]struct {
		n     int
		valid bool
	}{
		"forms/forms.csv":                 {3, true},
		"mail/reply-csv-two-rows.eml":     {2, true},
		"mail/reply-two-forms.eml":        {2, true},
		"mail/reply-scanned-pdf.eml":      {1, false},
		"mail/winmail-tnef.eml":           {1, true},
		"mail/smime-signed.eml":           {1, true},
		"mail/forwarded-rfc822.eml":       {1, true},
		"mail/reply-body-form.eml":        {1, true},
		"mail/reply-latin1-body-form.eml": {1, true},
		"forms/fillable-filled.pdf":       {1, true},
		"forms/printed.pdf":               {1, true},
		"forms/flattened.pdf":             {1, true},
		"mail/reply-zip-forms.eml":        {2, true},
		"forms/forms.zip":                 {2, true},
		"forms/lo-typed.odt":              {1, true},
		"forms/lo-typed.fodt":             {1, true},
		"forms/lo-table.odt":              {1, true},
		"forms/lo-formfields.odt":         {1, true},
		"forms/lo-controls.odt":           {1, true},
		"forms/lo-controls.fodt":          {1, true},
		"forms/printed-wrapped.pdf":       {1, true},
		"forms/fillable-short-names.pdf":  {1, true},
		"forms/fillable-confirm.pdf":      {1, true},
	}
	x := New(DefaultLimits(), func() time.Time { return goldenNow })
	for rel, kind := range want {
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join(fixturesDir, rel))
			if err != nil {
				t.Fatal(err)
			}
			r := x.Read(context.Background(), rel, data)
			if r.Kind != kind {
				t.Errorf("Read(%q).Kind = %q, want %q (notes %q)", rel, r.Kind, kind, r.Notes)
			}
			if w, ok := forms[rel]; ok {
				if len(r.Forms) != w.n {
					t.Fatalf("Read(%q) gave %d forms, want %d", rel, len(r.Forms), w.n)
				}
				for i, f := range r.Forms {
					if f.Valid != w.valid {
						t.Errorf("Read(%q) form %d Valid = %v, want %v (problems %+v)", rel, i, f.Valid, w.valid, f.Problems)
					}
				}
			}
		})
	}
}
