package notify

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ncl-icb/optout-intake/vocab"
)

func TestKindsHaveEmbeddedTemplates(t *testing.T) {
	entries, err := embedded.ReadDir("templates")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(vocab.Kinds()) {
		t.Errorf("embedded templates = %d files, want one per kind (%d)", len(entries), len(vocab.Kinds()))
	}
	for _, e := range entries {
		if k := vocab.Kind(strings.TrimSuffix(e.Name(), ".txt")); !k.Valid() {
			t.Errorf("embedded template %s has no Kind", e.Name())
		}
	}
}

// TestTemplatesWording checks every kind renders and says what the leaflet
// and the issue require, in plain words.
func TestTemplatesWording(t *testing.T) {
	tmpl, err := LoadTemplates("")
	if err != nil {
		t.Fatalf("LoadTemplates: %v", err)
	}
	all := []string{"NCL-7K3Q-9XWD", "Dear Sam,", "NCL Care Record opt-out team"}
	tests := []struct {
		kind vocab.Kind
		want []string
	}{
		{vocab.KindInstructions, []string{"secure (encrypted)", "NHSmail", "Reply", "Do not start a new email", "attach", "PDF", "Word", "type your answer", "receipt", "What happens next",
			"https://forms.example.nhs.uk/opt-out", "cannot use email", "lasting power of attorney", "someone you trust", "paper", "large print", "another language", "020 7946 0999"}},
		{vocab.KindReceipt, []string{"received your London Care Record opt-out form", "What happens next"}},
		{vocab.KindAccepted, []string{"recorded your opt-out", "Barnet, Camden, Enfield, Haringey and Islington", "only covers data sharing within NCL", "not a central", "GP data may still be visible to organisations outside NCL", "by phone, email and on paper", "opt back in at any time"}},
		{vocab.KindDuplicate, []string{"already recorded", "opt back in at any time"}},
		{vocab.KindRejected, []string{"could not", "- The form was not signed.", "- The declaration box was not ticked.", "reply to this secure message", "corrected form", "not been recorded"}},
		{vocab.KindNoForm, []string{"could not find a completed opt-out form", "attach", "type your answer"}},
		{vocab.KindNotOptOut, []string{"not made any change", "attach"}},
		{vocab.KindOptedIn, []string{"opt back in", "opt out again at any time"}},
		{vocab.KindUnsolicited, []string{"For your protection", "secure", "Reply", "have not processed"}},
		{vocab.KindEnquiry, []string{"A member of our team will read your message and reply", "not made any change", "Reply", "cannot use email", "another language", "020 7946 0999"}},
		{vocab.KindEnquiryInstructions, []string{"A member of our team will read your message and reply", "You also asked about opting out", "How to opt out",
			"https://forms.example.nhs.uk/opt-out", "Do not start a new email", "attach", "type your answer", "cannot use email", "lasting power of attorney", "020 7946 0999", "What happens next"}},
		{vocab.KindAfterCompletion, []string{"We have your message", "will reply\nif anything is needed"}},
		{vocab.KindStaffReply, []string{"Yes, you can opt out by post.\n\nWe will send you a paper form.", "Reply", "020 7946 0999"}},
	}
	if len(tests) != len(vocab.Kinds()) {
		t.Fatalf("test covers %d kinds, want all %d", len(tests), len(vocab.Kinds()))
	}
	d := Data{Ref: "NCL-7K3Q-9XWD", FirstName: "Sam", TeamName: DefaultDisplayName,
		Reasons: []string{"The form was not signed.", "The declaration box was not ticked."},
		FormURL: "https://forms.example.nhs.uk/opt-out", EnquiryPhone: "020 7946 0999",
		Text: "Yes, you can opt out by post.\r\n\r\n\r\nWe will send you a paper form.\x00"}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			subject, body, err := tmpl.Render(tt.kind, d)
			if err != nil {
				t.Fatalf("Render(%s) error: %v", tt.kind, err)
			}
			if !strings.Contains(subject, d.Ref) || strings.ContainsAny(subject, "\r\n") {
				t.Errorf("Render(%s) subject = %q, want one line with the reference", tt.kind, subject)
			}
			for _, w := range append(all, tt.want...) {
				if !strings.Contains(body, w) {
					t.Errorf("Render(%s) body lacks %q", tt.kind, w)
				}
			}
			if strings.Contains(body, "<no value>") {
				t.Errorf("Render(%s) body shows <no value>", tt.kind)
			}
		})
	}
}

// TestFormURLAndPhone: the form's address comes from the setting, never
// from the template (issue 14: the hard-coded address goes), and the
// telephone number appears only when one is set.
func TestFormURLAndPhone(t *testing.T) {
	tmpl, err := LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range vocab.Kinds() {
		b, err := embedded.ReadFile("templates/" + string(k) + ".txt")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "https://") {
			t.Errorf("template %s has a web address written in; use {{.FormURL}}", k)
		}
		_, body, err := tmpl.Render(k, Data{Ref: "NCL-AAAA-BBBB", FormURL: "https://forms.example.nhs.uk/x"})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(body, "call us") {
			t.Errorf("Render(%s) without a telephone number still says \"call us\"", k)
		}
	}
	// The instructions without a number still say what to do for someone
	// who cannot use email.
	_, body, _ := tmpl.Render(vocab.KindInstructions, Data{Ref: "NCL-AAAA-BBBB", FormURL: "https://forms.example.nhs.uk/x"})
	for _, w := range []string{"cannot use email", "someone you trust can write to us for you", "reply to this secure message and tell us what you\nneed"} {
		if !strings.Contains(body, w) {
			t.Errorf("instructions without a telephone number lack %q", w)
		}
	}
	// The combined reply carries the same steps as the instructions.
	_, instr, _ := tmpl.Render(vocab.KindInstructions, Data{Ref: "NCL-AAAA-BBBB", FormURL: "https://forms.example.nhs.uk/x"})
	_, both, _ := tmpl.Render(vocab.KindEnquiryInstructions, Data{Ref: "NCL-AAAA-BBBB", FormURL: "https://forms.example.nhs.uk/x"})
	steps := instr[strings.Index(instr, "1. Complete"):strings.Index(instr, "With thanks")]
	if !strings.Contains(both, steps) {
		t.Errorf("enquiry_instructions does not carry the instructions' steps word for word:\n%s", steps)
	}
}

func TestTemplateMustShowFormAndPhone(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "instructions.txt", "Subject: {{.Ref}}\n\nGo to https://old.example.org/form {{.Ref}}\n")
	if _, err := LoadTemplates(dir); err == nil || !strings.Contains(err.Error(), "OPTOUT_FORM_URL") {
		t.Errorf("an instructions template without {{.FormURL}}: error = %v, want one naming OPTOUT_FORM_URL", err)
	}
	dir = t.TempDir()
	write(t, dir, "enquiry.txt", "Subject: {{.Ref}}\n\nWe will reply. {{.Ref}}\n")
	if _, err := LoadTemplates(dir); err == nil || !strings.Contains(err.Error(), "OPTOUT_ENQUIRY_PHONE") {
		t.Errorf("an enquiry template that never shows the number: error = %v, want one naming OPTOUT_ENQUIRY_PHONE", err)
	}
}

func TestComposerFormURL(t *testing.T) {
	c, err := NewComposer(ComposerConfig{Address: "team@nhs.net", Signer: Signer{Key: testKey},
		FormURL: "https://forms.example.nhs.uk/opt-out", EnquiryPhone: "020 7946 0999"})
	if err != nil {
		t.Fatal(err)
	}
	raw, _, _, err := c.Compose(Reply{Kind: vocab.KindEnquiryInstructions, To: "a@b.example", Data: Data{Ref: "NCL-7K3Q-9XWD"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"https://forms.example.nhs.uk/opt-out", "020 7946 0999"} {
		if !strings.Contains(string(raw), w) {
			t.Errorf("composed reply lacks %q", w)
		}
	}
	for _, bad := range []string{"http://forms.example.nhs.uk/", "https://a b", "https://x\n"} {
		if _, err := NewComposer(ComposerConfig{Address: "team@nhs.net", Signer: Signer{Key: testKey}, FormURL: bad}); err == nil {
			t.Errorf("NewComposer(FormURL %q) = nil error, want one", bad)
		}
	}
}

func TestTemplatesWithoutName(t *testing.T) {
	tmpl, err := LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range vocab.Kinds() {
		_, body, err := tmpl.Render(k, Data{Ref: "NCL-AAAA-BBBB"})
		if err != nil {
			t.Fatalf("Render(%s) error: %v", k, err)
		}
		if !strings.HasPrefix(body, "Hello,") {
			t.Errorf("Render(%s) without a first name starts %q, want \"Hello,\"", k, strings.SplitN(body, "\n", 2)[0])
		}
	}
}

// TestDataHasNoPersonalIdentifiers guards the rule that replies never carry
// the NHS number or date of birth: the template data cannot even hold them.
func TestDataHasNoPersonalIdentifiers(t *testing.T) {
	forbidden := []string{"nhs", "birth", "dob", "address", "postcode", "body", "gp", "signature", "lastname", "surname"}
	typ := reflect.TypeOf(Data{})
	for i := range typ.NumField() {
		name := strings.ToLower(typ.Field(i).Name)
		for _, f := range forbidden {
			if strings.Contains(name, f) {
				t.Errorf("Data has field %s, which could carry personal data (%q)", typ.Field(i).Name, f)
			}
		}
	}
}

func TestRenderCleansValues(t *testing.T) {
	tmpl, err := LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	d := Data{
		Ref:       "NCL-7K3Q-9XWD",
		FirstName: "Sam\r\nBcc: evil@example.com\x00" + strings.Repeat("x", 500),
		Reasons:   []string{"Line one\nline two", "", strings.Repeat("r", 1000)},
	}
	_, body, err := tmpl.Render(vocab.KindRejected, d)
	if err != nil {
		t.Fatal(err)
	}
	first := strings.SplitN(body, "\n", 2)[0]
	if strings.ContainsAny(first, "\r\x00") || len([]rune(first)) > len("Dear ,")+maxFirstNameRunes {
		t.Errorf("greeting line = %q, want one cleaned line capped at %d runes of name", first, maxFirstNameRunes)
	}
	if !strings.Contains(body, "- Line one line two\n") {
		t.Errorf("multi-line reason was not joined into one line:\n%s", body)
	}
	if strings.Contains(body, "- \n") {
		t.Errorf("empty reason rendered as an empty bullet:\n%s", body)
	}
	if strings.Contains(body, strings.Repeat("r", maxReasonRunes+1)) {
		t.Errorf("reason not capped at %d runes", maxReasonRunes)
	}
}

func TestRenderUnknownKind(t *testing.T) {
	tmpl, err := LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tmpl.Render("bogus", Data{Ref: "NCL-A"}); err == nil {
		t.Error("Render(bogus) = nil error, want ErrUnknownKind")
	}
}

func TestTemplateOverride(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "receipt.txt", "Subject: Got it {{.Ref}}\r\n\r\nHi {{.FirstName}}, we have form {{.Ref}}.\r\n")
	write(t, dir, "README.md", "not a template, ignored")
	tmpl, err := LoadTemplates(dir)
	if err != nil {
		t.Fatalf("LoadTemplates(override) error: %v", err)
	}
	subject, body, err := tmpl.Render(vocab.KindReceipt, Data{Ref: "NCL-1", FirstName: "Ana"})
	if err != nil {
		t.Fatal(err)
	}
	if subject != "Got it NCL-1" || body != "Hi Ana, we have form NCL-1.\n" {
		t.Errorf("override Render = %q, %q; want the override's text", subject, body)
	}
	// Other kinds keep the embedded text.
	if _, body, _ := tmpl.Render(vocab.KindAccepted, Data{Ref: "NCL-1"}); !strings.Contains(body, "Barnet") {
		t.Error("kinds without an override lost their embedded template")
	}
}

func TestTemplateOverrideBroken(t *testing.T) {
	tests := []struct {
		name, file, text string
		wantErr          []string
	}{
		{"parse error", "accepted.txt", "Subject: {{.Ref}\n\nbody {{.Ref}}", []string{"accepted.txt", "parse subject"}},
		{"personal field", "receipt.txt", "Subject: {{.Ref}}\n\nYour NHS number {{.NHSNumber}} {{.Ref}}", []string{"receipt.txt", "NHSNumber"}},
		{"date of birth", "receipt.txt", "Subject: {{.Ref}}\n\nBorn {{.DateOfBirth}} {{.Ref}}", []string{"receipt.txt", "DateOfBirth"}},
		{"no subject", "no_form.txt", "Hello {{.Ref}}\n", []string{"no_form.txt", "Subject"}},
		{"no empty line", "no_form.txt", "Subject: x {{.Ref}}\nbody {{.Ref}}", []string{"no_form.txt", "empty line"}},
		{"no ref in subject", "duplicate.txt", "Subject: Hello\n\nbody {{.Ref}}", []string{"duplicate.txt", "{{.Ref}}"}},
		{"no ref in body", "duplicate.txt", "Subject: {{.Ref}}\n\nbody", []string{"duplicate.txt", "{{.Ref}}"}},
		{"unknown file", "recipt.txt", "Subject: {{.Ref}}\n\n{{.Ref}}", []string{"recipt.txt", "unknown template", "receipt"}},
		{"not utf-8", "receipt.txt", "Subject: \xff{{.Ref}}\n\n{{.Ref}}", []string{"receipt.txt", "UTF-8"}},
		{"too big", "receipt.txt", "Subject: {{.Ref}}\n\n{{.Ref}}" + strings.Repeat("x", maxTemplateBytes), []string{"receipt.txt", "over"}},
		{"runtime error", "rejected.txt", "Subject: {{.Ref}}\n\n{{index .Reasons 5}} {{.Ref}}", []string{"rejected.txt", "index"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tt.file, tt.text)
			_, err := LoadTemplates(dir)
			if err == nil {
				t.Fatalf("LoadTemplates(%s) = nil error, want one", tt.name)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("LoadTemplates(%s) error = %q, want it to mention %q", tt.name, err, w)
				}
			}
		})
	}
}

func TestTemplateDirMissing(t *testing.T) {
	_, err := LoadTemplates(filepath.Join(t.TempDir(), "nope"))
	if err == nil || !strings.Contains(err.Error(), "OPTOUT_TEMPLATE_DIR") {
		t.Errorf("LoadTemplates(missing dir) error = %v, want one naming OPTOUT_TEMPLATE_DIR", err)
	}
}

func write(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCleanText checks staff's words keep their lines but lose control
// characters, runs of empty lines and any excess length.
func TestCleanText(t *testing.T) {
	long := strings.Repeat("a", MaxTextRunes+10)
	tests := []struct{ in, want string }{
		{"", ""},
		{"one", "one"},
		{"one\r\ntwo", "one\ntwo"},
		{"\n\none\n\n\n\ntwo\n\n", "one\n\ntwo"},
		{"Bcc: x@example.org\rSubject: y", "Bcc: x@example.org\nSubject: y"},
		{"tab\there\x1b[31m", "tab here [31m"},
		{long, long[:MaxTextRunes]},
	}
	for _, tt := range tests {
		if got := cleanText(tt.in); got != tt.want {
			t.Errorf("cleanText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestAcknowledgementsShowPhone: every acknowledgement that a person will
// reply (issue 14 item 4: "the instructions and acknowledgements say
// residents who cannot use email or need another format can call it"),
// including the one after completion (issue 11 item 3), gives the
// telephone number when OPTOUT_ENQUIRY_PHONE is set.
func TestAcknowledgementsShowPhone(t *testing.T) {
	tmpl, err := LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []vocab.Kind{vocab.KindInstructions, vocab.KindEnquiry, vocab.KindEnquiryInstructions, vocab.KindAfterCompletion} {
		_, body, err := tmpl.Render(k, Data{Ref: "NCL-AAAA-BBBB", FormURL: "https://forms.example.nhs.uk/x", EnquiryPhone: "020 7946 0999"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(body, "020 7946 0999") || !strings.Contains(body, "cannot use email") {
			t.Errorf("Render(%s) with a telephone number does not say those who cannot use email can call it:\n%s", k, body)
		}
	}
}
