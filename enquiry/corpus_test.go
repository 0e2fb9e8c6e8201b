package enquiry

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// corpusCase is one message of testdata/corpus: a header of "key: value"
// lines, an empty line, then the body as the resident wrote it.
type corpusCase struct {
	file    string
	expect  []Intent // nil for a plain request
	optOut  string   // "yes", "no" or "" (not checked)
	reject  []Intent // intents that must not be found (near misses)
	subject string
	body    string
}

func loadCorpus(t testing.TB) []corpusCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus in testdata/corpus: %v", err)
	}
	var out []corpusCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		head, body, ok := strings.Cut(string(b), "\n\n")
		if !ok {
			t.Fatalf("%s: no empty line after the header", f)
		}
		c := corpusCase{file: filepath.Base(f), body: body}
		for _, l := range strings.Split(head, "\n") {
			k, v, _ := strings.Cut(l, ":")
			v = strings.TrimSpace(v)
			switch k {
			case "expect":
				if v != "plain" {
					for _, w := range strings.Fields(v) {
						c.expect = append(c.expect, Intent(w))
					}
				}
			case "optout":
				c.optOut = v
			case "reject":
				for _, w := range strings.Fields(v) {
					c.reject = append(c.reject, Intent(w))
				}
			case "subject":
				c.subject = v
			case "note":
			default:
				t.Fatalf("%s: unknown header %q", f, k)
			}
		}
		for _, i := range append(slices.Clone(c.expect), c.reject...) {
			if !slices.Contains(Intents(), i) {
				t.Fatalf("%s: unknown intent %q", f, i)
			}
		}
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
