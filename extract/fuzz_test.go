package extract

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/extract/message"
)

// fuzzLimits are small so that oversized inputs hit them quickly.
func fuzzLimits() Limits {
	lim := DefaultLimits()
	lim.Message = message.Limits{MaxMessageBytes: 2 << 20, MaxAttachmentBytes: 1 << 20, MaxParts: 50, MaxDepth: 8}
	lim.MaxFileBytes = 1 << 20
	lim.FileTimeout = 2 * time.Second
	return lim
}

// emailSeeds are the mail fixtures plus hostile variants of them:
// truncated, bit-flipped, deeply nested, oversized.
func emailSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, rel := range fixtureFiles(t) {
		if filepath.Ext(rel) != ".eml" {
			continue
		}
		raw := fixture(t, rel)
		seeds = append(seeds, raw, raw[:len(raw)/2], raw[:len(raw)*9/10])
		flipped := bytes.Clone(raw)
		for i := 7; i < len(flipped); i += len(flipped)/13 + 1 {
			flipped[i] ^= 0x20
		}
		seeds = append(seeds, flipped)
	}
	var nested strings.Builder
	nested.WriteString("From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n")
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&nested, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i, i+1)
	}
	nested.WriteString("--b200\r\nContent-Type: text/plain\r\n\r\nFirst name: A\r\n")
	var forwards strings.Builder
	for i := 0; i < 50; i++ {
		forwards.WriteString("From: a@example.org\r\nContent-Type: message/rfc822\r\n\r\n")
	}
	forwards.WriteString("From: a@example.org\r\n\r\nhello\r\n")
	seeds = append(seeds,
		[]byte(nested.String()),
		[]byte(forwards.String()),
		[]byte("From: a@example.org\r\nX-Long: "+strings.Repeat("a", 3<<20)+"\r\n\r\nhi"),
		[]byte("From: a@example.org\r\nContent-Type: application/pdf; name=f.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"+strings.Repeat("JVBERi0xLjQK", 200000)),
		[]byte("From: a@example.org\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"+strings.Repeat("--x\r\nContent-Type: text/plain; name=a.txt\r\n\r\nFirst name: A\r\n", 500)),
		nil,
		[]byte("\x00\x01\x02"),
	)
	return seeds
}

// checkResult asserts the contract's invariants on any Result.
func checkResult(t *testing.T, r Result) {
	t.Helper()
	switch r.Kind {
	case KindSubmission:
		if len(r.Forms) == 0 {
			t.Errorf("kind submission with no forms")
		}
	case KindContact, KindAuto, KindProtected:
		if len(r.Forms) != 0 {
			t.Errorf("kind %q with %d forms", r.Kind, len(r.Forms))
		}
	case KindUnreadable:
	default:
		t.Errorf("kind %q is not in the contract", r.Kind)
	}
	if r.Kind == KindProtected && r.Protection == "" {
		t.Errorf("kind protected without a protection code")
	}
	if r.Protection != "" && !slices.Contains(r.Notes, protectionNote(r.Protection)) {
		t.Errorf("protection %q without its note (notes %q)", r.Protection, r.Notes)
	}
	if r.Forms == nil || r.Notes == nil {
		t.Errorf("forms or notes is nil")
	}
	for i, f := range r.Forms {
		switch f.Format {
		case form.FormatPDFFields, form.FormatPDFText, form.FormatDOCX, form.FormatODT, form.FormatJSON, form.FormatCSV, form.FormatText:
		default:
			t.Errorf("form %d format %q is not in the contract", i, f.Format)
		}
		if f.Problems == nil {
			t.Errorf("form %d problems is nil", i)
		}
		valid := true
		for _, p := range f.Problems {
			if p.Severity == form.SeverityError {
				valid = false
			} else if p.Severity != form.SeverityWarning {
				t.Errorf("form %d problem severity %q", i, p.Severity)
			}
			if p.Code == "" || p.Message == "" {
				t.Errorf("form %d problem without code or message: %+v", i, p)
			}
		}
		if f.Valid != valid {
			t.Errorf("form %d valid = %v with problems %+v", i, f.Valid, f.Problems)
		}
	}
	if _, err := json.Marshal(r); err != nil {
		t.Errorf("marshal result: %v", err)
	}
}

func FuzzEmail(f *testing.F) {
	for _, s := range emailSeeds(f) {
		f.Add(s)
	}
	x := New(fuzzLimits(), func() time.Time { return goldenNow })
	f.Fuzz(func(t *testing.T, raw []byte) {
		defer watchdog(raw)()
		msg, r := x.Email(context.Background(), raw)
		if msg == nil {
			t.Fatal("Email returned a nil message")
		}
		checkResult(t, r)
	})
}

func FuzzFile(f *testing.F) {
	for _, rel := range fixtureFiles(f) {
		if strings.HasPrefix(rel, "forms/") {
			data := fixture(f, rel)
			f.Add(filepath.Base(rel), data)
			f.Add(filepath.Base(rel), data[:len(data)/3])
		}
	}
	f.Add("form.json", []byte(strings.Repeat("[", 100000)))
	f.Add("form.csv", []byte("\xEF\xBB\xBF"+strings.Repeat("a;", 10000)+"\n"))
	x := New(fuzzLimits(), func() time.Time { return goldenNow })
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		defer watchdog(data)()
		r := x.File(context.Background(), name, data)
		checkResult(t, r)
		if r.Kind == KindContact || r.Kind == KindAuto {
			t.Errorf("File gave kind %q, want submission or unreadable", r.Kind)
		}
	})
}

// hangLimit is how long one input may take before the fuzz worker is
// killed: far above fuzzLimits' FileTimeout, so only a real hang trips it.
const hangLimit = 20 * time.Second

// watchdog crashes the process when one input hangs, so the fuzzer records
// the input as a crasher (a hang is as bad as a crash for the daemon). The
// input is also written to $TMPDIR/extract-hang-*.bin. Call the returned
// func when the input is done.
func watchdog(input []byte) (stop func()) {
	t := time.AfterFunc(hangLimit, func() {
		if f, err := os.CreateTemp("", "extract-hang-*.bin"); err == nil {
			f.Write(input)
			f.Close()
		}
		panic(fmt.Sprintf("one input took more than %v", hangLimit))
	})
	return func() { t.Stop() }
}
