package web

import (
	"strings"
	"testing"
)

// FuzzParseAddress: whatever staff type as a corrected address, what is
// accepted is one bare address that cannot inject a header or a second
// recipient.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"resident@example.org", " a.b+c@nhs.net ", "Name <x@example.org>", "a@b.c, d@e.f",
		"x@localhost", "\"quoted local\"@example.org", "a@example.org\r\nBcc: b@example.org", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addr, ok := parseAddress(s)
		if !ok {
			return
		}
		if strings.ContainsAny(addr, "\r\n<>,") || strings.Count(addr, "@") < 1 || len(addr) > 254 {
			t.Errorf("parseAddress(%q) = %q, accepted", s, addr)
		}
	})
}
