package enquiry

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ncl-icb/optout-intake/extract/message"
	"github.com/ncl-icb/optout-intake/vocab"
)

func TestOwnWords(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"plain", "Please opt me out.", "Please opt me out."},
		{"gmail quote wrapped", "Yes please.\n\nOn Tue, 1 Dec 2026 at 09:12, NCL team <\nteam@nhs.net> wrote:\n> Hello", "Yes please."},
		{"apple quote", "Yes.\n\nOn 1 Dec 2026, at 09:12, NCL team <team@nhs.net> wrote:\n\n> Hello", "Yes."},
		{"spanish client quote", "Sí.\n\nEl mar, 1 dic 2026 a las 9:12, NCL team (<team@nhs.net>) escribió:\n> Hola", "Sí."},
		{"outlook block", "Yes please.\n\nFrom: NCL team <team@nhs.net>\nSent: 1 December 2026 09:12\nTo: me\nSubject: x\n\nour text", "Yes please."},
		{"original message", "Ok\n-----Original Message-----\nour text", "Ok"},
		{"quoted lines dropped", "> our text\nmy text", "my text"},
		{"sig separator", "opt out\n-- \nSam Greene\n07700 900456", "opt out"},
		{"iphone", "opt out\n\nSent from my iPhone", "opt out"},
		{"outlook ios", "opt out\n\nGet Outlook for iOS", "opt out"},
		{"kind regards and name", "opt out please\n\nKind regards,\nJane Smith\nFlat 1\nLondon", "opt out please"},
		{"thanks inline name", "opt out please\nThanks, John", "opt out please"},
		{"thank you for is not a sign-off", "Thank you for the leaflet, it was clear.", "Thank you for the leaflet, it was clear."},
		{"postscript after the signature is kept", "opt out please\n\nThanks\nJane\nP.S. I need this in large print", "opt out please\n\nThanks\nJane\nP.S. I need this in large print"},
		{"PS without stops is kept", "opt out please\nKind regards\nSam\nPS my mum wants to opt out too", "opt out please\nKind regards\nSam\nPS my mum wants to opt out too"},
		{"sign-off followed by a question is kept", "Regards\nWhat happens to my data?", "Regards\nWhat happens to my data?"},
		{"footer", "opt out\n\nThis email and any attachments are confidential and intended solely for the addressee.", "opt out"},
		{"leaflet pasted", "If you choose to opt out, you will not be able to take advantage of the benefits\nthat electronic joined-up records can bring you.\nI still want to.", "I still want to."},
		{"short leaflet-like line kept", "How to opt out", "How to opt out"},
		{"trailing name", "I do not want my data shared\nMrs P Adebayo", "I do not want my data shared"},
	}
	for _, tt := range tests {
		if got := OwnWords(tt.body); got != tt.want {
			t.Errorf("%s: OwnWords(%q) = %q, want %q", tt.name, tt.body, got, tt.want)
		}
	}
}

func TestOwnWordsCapsInput(t *testing.T) {
	body := strings.Repeat("x", MaxTextBytes) + " the end"
	if got := OwnWords(body); len(got) > MaxTextBytes || strings.Contains(got, "end") {
		t.Errorf("OwnWords read %d bytes, want at most MaxTextBytes (%d)", len(got), MaxTextBytes)
	}
}

// TestNegation: near misses of opt back in (issue 11 item 2).
func TestNegation(t *testing.T) {
	tests := []struct {
		body string
		want bool // opt_back_in found
	}{
		{"I want to opt back in.", true},
		{"Please opt me back in", true},
		{"I have changed my mind about the opt-out.", true},
		{"Please withdraw my opt-out.", true},
		{"I'd like to cancel my opt out.", true},
		{"I no longer want to be opted out.", true},
		{"I do not want to opt back in.", false},
		{"I don't want to rejoin.", false},
		{"I have not changed my mind.", false},
		{"Under no circumstances opt me back in.", false},
		{"I never want to opt back in, please confirm I am still out.", false},
	}
	for _, tt := range tests {
		if got := Read("", tt.body).Has(vocab.ReasonOptBackIn); got != tt.want {
			t.Errorf("Read(%q) opt_back_in = %v, want %v", tt.body, got, tt.want)
		}
	}
}

func TestNonEnglish(t *testing.T) {
	tests := []struct {
		text string
		want bool
	}{
		{"I would like to opt out of the London Care Record please.", false},
		{"Opt out London Care Record request", false},
		{"Hola, quisiera darme de baja del registro. Gracias.", true},
		{"Dzień dobry, chciałabym zrezygnować z London Care Record.", true},
		{"Merhaba, London Care Record'dan çıkmak istiyorum.", true},
		{"আমি লন্ডন কেয়ার রেকর্ড থেকে বাদ দিতে চাই।", true},
		{"", false},
	}
	for _, tt := range tests {
		if got := nonEnglish(tt.text); got != tt.want {
			t.Errorf("nonEnglish(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

// TestIntroduction: a sentence giving the writer's name is part of a plain
// request; "I am confused" is not a name.
func TestIntroduction(t *testing.T) {
	tests := []struct {
		body  string
		plain bool
	}{
		{"Please opt me out. I am Desmond Okafor, born on 23/11/1951.", true},
		{"Please opt me out. My name is Ana Lima.", true},
		{"Please opt me out. I am confused.", false},
		{"Please opt me out. I am not sure.", false},
	}
	for _, tt := range tests {
		if got := Read("", tt.body); got.Plain != tt.plain {
			t.Errorf("Read(%q) = %+v, want plain %v", tt.body, got, tt.plain)
		}
	}
}

// TestFixtureContacts: the project's sample first contacts (fixtures/mail,
// used by the demo and the pipeline's tests) are plain requests.
func TestFixtureContacts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "fixtures", "mail", "contact-*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures/mail/contact-*.eml: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := message.Parse(bytes.NewReader(b), message.Limits{})
		if r := Read(msg.Subject, msg.Body); !r.Plain {
			t.Errorf("%s: Read = %+v, want a plain request", filepath.Base(f), r)
		}
	}
}
