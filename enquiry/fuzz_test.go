package enquiry

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ncl-icb/optout-intake/vocab"
)

// FuzzRead feeds any subject and body to OwnWords and Read, seeded from the
// corpus: neither may panic, the own words are never longer than the body
// read, and the result is consistent (plain exactly when no intent).
func FuzzRead(f *testing.F) {
	for _, c := range loadCorpus(f) {
		f.Add(c.subject, c.body)
	}
	f.Add("", "")
	f.Add("Re:", "> quoted\n-- \nsig")
	f.Add("", strings.Repeat("opt out ", 10000))
	f.Fuzz(func(t *testing.T, subject, body string) {
		own := OwnWords(body)
		if len(own) > len(capText(body)) {
			t.Errorf("OwnWords(%q) = %d bytes, more than the %d read", body, len(own), len(capText(body)))
		}
		if !utf8.ValidString(own) {
			t.Errorf("OwnWords(%q) is not valid UTF-8", body)
		}
		r := Read(subject, body)
		if r.Plain != (len(r.Intents) == 0) {
			t.Errorf("Read(%q, %q) = %+v: Plain must be true exactly when there is no intent", subject, body, r)
		}
		if r.Plain && r.AlsoOptOut || r.Has(vocab.ReasonOptBackIn) && r.AlsoOptOut {
			t.Errorf("Read(%q, %q) = %+v: AlsoOptOut only beside intents other than opt_back_in", subject, body, r)
		}
		for _, i := range r.Intents {
			if !slices.Contains(Intents(), i) {
				t.Errorf("Read(%q, %q) found unknown intent %q", subject, body, i)
			}
		}
	})
}
