package enquiry

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ncl-icb/optout-intake/extract/message"
	"github.com/ncl-icb/optout-intake/vocab"
)

// corpusCase is one message of testdata/corpus: an email as a resident
// would send it (read by extract/message, as the pipeline reads it), whose
// X-Expect header lists the intents a person must see ("plain" for a plain
// request), X-Also-Opt-Out says whether it also asks to opt out (checked
// when present), and X-Reject lists intents it must not be read as (near
// misses). X-Note says where it comes from.
type corpusCase struct {
	file    string
	expect  []vocab.Reason // nil for a plain request
	optOut  string         // "yes", "no" or "" (not checked)
	reject  []vocab.Reason
	subject string
	body    string
}

func loadCorpus(t testing.TB) []corpusCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus in testdata/corpus: %v", err)
	}
	intents := func(f, v string) []vocab.Reason {
		var out []vocab.Reason
		for _, w := range strings.Fields(v) {
			if !slices.Contains(Intents(), vocab.Reason(w)) {
				t.Fatalf("%s: unknown intent %q", f, w)
			}
			out = append(out, vocab.Reason(w))
		}
		return out
	}
	var out []corpusCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := message.Parse(bytes.NewReader(b), message.Limits{})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		c := corpusCase{file: filepath.Base(f), subject: msg.Subject, body: msg.Body, optOut: msg.Header.Get("X-Also-Opt-Out")}
		switch e := msg.Header.Get("X-Expect"); e {
		case "":
			t.Fatalf("%s: no X-Expect header", f)
		case "plain":
		default:
			c.expect = intents(f, e)
		}
		c.reject = intents(f, msg.Header.Get("X-Reject"))
		out = append(out, c)
	}
	return out
}

// TestCorpus reads every message of the corpus. Every message that needs a
// person must be found to (100 %), with each expected intent; at most 1 in
// 8 plain requests may be sent to a person.
func TestCorpus(t *testing.T) {
	corpus := loadCorpus(t)
	var plain, plainToPerson, person, personFound int
	for _, c := range corpus {
		got := Read(c.subject, c.body)
		if c.expect == nil {
			plain++
			if !got.Plain {
				plainToPerson++
				t.Logf("%s: plain request sent to a person: %v", c.file, got.Intents)
			}
		} else {
			person++
			if got.Plain {
				t.Errorf("%s: Read = plain, want %v (a person must read it)", c.file, c.expect)
			} else {
				personFound++
			}
			for _, i := range c.expect {
				if !got.Has(i) {
					t.Errorf("%s: Read intents = %v, want %s among them", c.file, got.Intents, i)
				}
			}
			if got.Primary() != c.expect[0] {
				t.Logf("%s: filed under %s, the corpus expects %s first", c.file, got.Primary(), c.expect[0])
			}
			if c.optOut != "" && got.AlsoOptOut != (c.optOut == "yes") {
				t.Errorf("%s: Read AlsoOptOut = %v, want %s", c.file, got.AlsoOptOut, c.optOut)
			}
		}
		for _, i := range c.reject {
			if got.Has(i) {
				t.Errorf("%s: Read intents = %v, must not include %s", c.file, got.Intents, i)
			}
		}
	}
	if len(corpus) < 40 {
		t.Errorf("corpus has %d messages, want at least 40", len(corpus))
	}
	t.Logf("needs a person: %d/%d found (%.0f %%); plain requests sent to a person: %d/%d (%.1f %%, limit 12.5 %%)",
		personFound, person, 100*float64(personFound)/float64(person), plainToPerson, plain, 100*float64(plainToPerson)/float64(plain))
	if plainToPerson*8 > plain {
		t.Errorf("%d of %d plain requests sent to a person, more than 1 in 8", plainToPerson, plain)
	}
}
