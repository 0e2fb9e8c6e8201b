package intake

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestHasPersonalData(t *testing.T) {
	tests := []struct {
		text string
		want bool
	}{
		{"Hello, I would like to opt out please.", false},
		{"Please call me on 07700 900123.", false},
		{"Call 020 7946 0000 any time", false},
		{"My NHS number is 943 476 5919", true},
		{"9434765919", true},
		{"943-476-5919 thanks", true},
		{"I was born on 12/03/1980", true},
		{"dob 1980-03-12", true},
		{"12 March 1980", true},
		{"March 12th, 1980", true},
		{"Date of birth: see attached", true},
		{"I don't know my NHS no.", true},
		{"reference NCL-7K3Q-9XWD", false},
		{"12345678901", false},
	}
	for _, tt := range tests {
		if got := HasPersonalData(tt.text); got != tt.want {
			t.Errorf("HasPersonalData(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

var anyDigits10 = regexp.MustCompile(`[0-9]{3}[ .\-]?[0-9]{3}[ .\-]?[0-9]{4}`)

func TestRedact(t *testing.T) {
	tests := []struct {
		text    string
		want    string
		mustNot []string
	}{
		{text: "My NHS number is 943 476 5919, thanks", mustNot: []string{"943", "5919"}},
		{text: "9434765919 9434765920", want: Redacted + " " + Redacted},
		{text: "DOB: 12/03/1980\nregards", want: "DOB: " + Redacted + "\nregards"},
		{text: "Date of birth 1st of March 1980", mustNot: []string{"March", "1980"}},
		{text: "date of birth - I'll send it later", mustNot: []string{"later"}},
		{text: "Hello, please send me the form.", want: "Hello, please send me the form."},
		{text: "Phone 07700 900123", want: "Phone 07700 900123"},
	}
	for _, tt := range tests {
		got := Redact(tt.text)
		if tt.want != "" && got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.text, got, tt.want)
		}
		for _, s := range tt.mustNot {
			if strings.Contains(got, s) {
				t.Errorf("Redact(%q) = %q, still contains %q", tt.text, got, s)
			}
		}
	}
}

// FuzzRedact checks that redaction never panics, never leaves an
// NHS-number-shaped run of digits behind and keeps its output bounded.
func FuzzRedact(f *testing.F) {
	f.Add("My NHS number is 943 476 5919 and I was born 12/03/1980")
	f.Add("9434765919943476591994347659199434765919")
	f.Add("94347659199")
	f.Add("\xff\xfe DOB 1.2.80 \x00")
	f.Add(strings.Repeat("1234567890 ", 10000))
	f.Add(strings.Repeat("date of birth\n", 5000))
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		got := Redact(text)
		if len(got) > maxScanBytes*2 {
			t.Fatalf("Redact output is %d bytes, want at most %d", len(got), maxScanBytes*2)
		}
		for _, m := range anyDigits10.FindAllStringIndex(got, -1) {
			before := m[0] == 0 || got[m[0]-1] < '0' || got[m[0]-1] > '9'
			after := m[1] == len(got) || got[m[1]] < '0' || got[m[1]] > '9'
			if before && after {
				t.Fatalf("Redact(%q) = %q: an NHS-number-shaped value is left", text, got)
			}
		}
		if HasPersonalData(text) == false && len(text) < maxScanBytes && got != strings.ToValidUTF8(text, "") {
			t.Fatalf("Redact(%q) = %q changed text without personal data", text, got)
		}
	})
}

func BenchmarkRedact(b *testing.B) {
	text := strings.Repeat("Hello, my NHS number is 943 476 5919 and DOB 12/03/1980.\n", 2000)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		Redact(text)
	}
}

func TestSenderKey(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"From: Resident <Resident@Example.ORG>\r\nSubject: x\r\n\r\nbody", "resident@example.org"},
		{"From: plain@example.org\n\nbody", "plain@example.org"},
		{"Subject: none\r\n\r\nFrom: body@example.org", ""},
		{"", ""},
		{"From: not an address\r\n\r\n", "not an address"},
	}
	for _, tt := range tests {
		if got := senderKey([]byte(tt.raw)); got != tt.want {
			t.Errorf("senderKey(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

// FuzzSenderKey checks the sharding key never panics on hostile headers.
func FuzzSenderKey(f *testing.F) {
	f.Add([]byte("From: Resident <resident@example.org>\r\n\r\n"))
	f.Add([]byte("From: =?utf-8?q?=E2=9C=93?= <a@b>\r\nFrom: second@x\r\n\r\n"))
	f.Add([]byte("From: \"unterminated <a@b>\r\n"))
	f.Add(bytes.Repeat([]byte("X-Long: "+strings.Repeat("a", 1000)+"\r\n"), 400))
	f.Add([]byte("From:\r\n\t(((((((((((comment\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		k := senderKey(raw)
		if len(k) > maxSenderKey || !utf8.ValidString(k) {
			t.Fatalf("senderKey returned %d bytes (valid UTF-8: %v), want at most %d of valid UTF-8", len(k), utf8.ValidString(k), maxSenderKey)
		}
	})
}
