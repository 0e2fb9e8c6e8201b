package notify

import (
	"bytes"
	"flag"
	"io"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"
	"github.com/ncl-icb/optout-intake/vocab"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func testReply(k vocab.Kind) Reply {
	return Reply{
		Kind: k,
		To:   "Resident <resident@example.org>",
		Data: Data{Ref: "NCL-7K3Q-9XWD", FirstName: "Zoë",
			Reasons: []string{"The declaration box was not ticked.", "The postcode is missing."},
			Text:    staffText(k)},
		InReplyTo:  "<CAF+resident.1@mail.example.org>",
		References: []string{"<root.0@nhs.net>"},
	}
}

// staffText is the staff's words of a staff_reply in the golden files.
func staffText(k vocab.Kind) string {
	if k != vocab.KindStaffReply {
		return ""
	}
	return "Thank you for your question. Yes: your GP can still see your record.\n\nSubject: not a header\n.\nA line that is far longer than seventy-six characters, so quoted-printable must wrap it softly."
}

// TestComposeGolden renders every kind with a fixed clock and random
// source and compares the whole message with testdata/golden/KIND.eml.
// Run `go test ./notify -run TestComposeGolden -update` after changing a
// template on purpose, and read the diff.
func TestComposeGolden(t *testing.T) {
	for _, k := range vocab.Kinds() {
		t.Run(string(k), func(t *testing.T) {
			c := newTestComposer(t)
			raw, _, subject, err := c.Compose(testReply(k))
			if err != nil {
				t.Fatalf("Compose(%s) error: %v", k, err)
			}
			if got := decodedSubject(t, raw); subject != got {
				t.Errorf("Compose(%s) returned subject %q, the message's Subject reads %q", k, subject, got)
			}
			path := filepath.Join("testdata", "golden", string(k)+".eml")
			if *update {
				if err := os.WriteFile(path, raw, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (run with -update to create): %v", err)
			}
			if !bytes.Equal(raw, want) {
				t.Errorf("Compose(%s) differs from %s (run with -update and review the diff):\n%s", k, path, raw)
			}
		})
	}
}

// decodedSubject reads the Subject of a composed message back, as a mail
// client shows it.
func decodedSubject(t *testing.T, raw []byte) string {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read composed message: %v", err)
	}
	s, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode Subject %q: %v", m.Header.Get("Subject"), err)
	}
	return s
}

// TestComposeHeaders parses each composed message back with go-message and
// checks every header and the body.
func TestComposeHeaders(t *testing.T) {
	tmpl, err := LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	signer := Signer{Key: testKey}
	for _, k := range vocab.Kinds() {
		t.Run(string(k), func(t *testing.T) {
			c := newTestComposer(t)
			r := testReply(k)
			raw, id, _, err := c.Compose(r)
			if err != nil {
				t.Fatalf("Compose error: %v", err)
			}
			if !bytes.Contains(raw, []byte("\r\n\r\n")) || bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
				t.Error("message does not use CRLF line endings throughout")
			}
			mr, err := mail.CreateReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("parse composed message: %v", err)
			}
			h := mr.Header
			check := func(name, got, want string) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			from, _ := h.AddressList("From")
			replyTo, _ := h.AddressList("Reply-To")
			to, _ := h.AddressList("To")
			if len(from) != 1 || from[0].Address != "joined-up.care-record@nhs.net" || from[0].Name != DefaultDisplayName {
				t.Errorf("From = %v, want the mailbox with its display name", from)
			}
			if len(replyTo) != 1 || replyTo[0].Address != "joined-up.care-record@nhs.net" {
				t.Errorf("Reply-To = %v, want the mailbox", replyTo)
			}
			if len(to) != 1 || to[0].Address != "resident@example.org" || to[0].Name != "" {
				t.Errorf("To = %v, want the bare resident address", to)
			}
			subject, _ := h.Subject()
			wantSubject, body, _ := tmpl.Render(k, Data{Ref: r.Data.Ref, FirstName: r.Data.FirstName, Reasons: r.Data.Reasons, Text: r.Data.Text,
				TeamName: DefaultDisplayName, Mailbox: "joined-up.care-record@nhs.net", FormURL: DefaultFormURL})
			check("Subject", subject, "[secure] "+wantSubject)
			if !strings.Contains(h.Get("Subject"), "[secure]") {
				t.Errorf("raw Subject %q does not carry the marker unencoded", h.Get("Subject"))
			}
			if !strings.Contains(subject, "reference NCL-7K3Q-9XWD") && k != vocab.KindUnsolicited {
				t.Errorf("Subject %q lacks the reference", subject)
			}
			date, err := h.Date()
			if err != nil || !date.Equal(fixedTime) {
				t.Errorf("Date = %v, %v; want %v", date, err, fixedTime)
			}
			msgID, _ := h.MessageID()
			check("Message-ID", msgID, id)
			if ref, ok := signer.Verify(msgID); !ok || ref != "NCL-7K3Q-9XWD" {
				t.Errorf("Verify(Message-ID) = %q, %v; want the reference", ref, ok)
			}
			irt, _ := h.MsgIDList("In-Reply-To")
			check("In-Reply-To", strings.Join(irt, " "), "CAF+resident.1@mail.example.org")
			refs, _ := h.MsgIDList("References")
			check("References", strings.Join(refs, " "), "root.0@nhs.net CAF+resident.1@mail.example.org")
			if k == vocab.KindStaffReply {
				check("Auto-Submitted", h.Get("Auto-Submitted"), "") // written by a person (RFC 3834)
			} else {
				check("Auto-Submitted", h.Get("Auto-Submitted"), "auto-replied")
			}
			check("X-Auto-Response-Suppress", h.Get("X-Auto-Response-Suppress"), "All")
			check(MarkerHeader, h.Get(MarkerHeader), "optout-intake/test; ref=NCL-7K3Q-9XWD; kind="+string(k))
			check("MIME-Version", h.Get("Mime-Version"), "1.0")
			ct, params, _ := h.ContentType()
			check("Content-Type", ct+"; charset="+params["charset"], "text/plain; charset=utf-8")
			check("Content-Transfer-Encoding", h.Get("Content-Transfer-Encoding"), "quoted-printable")
			if !HasOurMarker(&h) {
				t.Error("HasOurMarker(composed header) = false")
			}
			part, err := mr.NextPart()
			if err != nil {
				t.Fatalf("read body: %v", err)
			}
			got, _ := io.ReadAll(part.Body)
			check("body", strings.ReplaceAll(string(got), "\r\n", "\n"), body)
			if !strings.Contains(string(got), "Zoë") {
				t.Error("body lost the non-ASCII first name")
			}
		})
	}
}

func TestComposeFirstContactHasNoThreading(t *testing.T) {
	c := newTestComposer(t)
	raw, _, _, err := c.Compose(Reply{Kind: vocab.KindInstructions, To: "a@b.example", Data: Data{Ref: "NCL-1"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("In-Reply-To") != "" || m.Header.Get("References") != "" {
		t.Errorf("threading headers on a message with nothing to thread: %q %q", m.Header.Get("In-Reply-To"), m.Header.Get("References"))
	}
	if !HasOurMarker(m.Header) {
		t.Error("HasOurMarker(net/mail header) = false")
	}
}

func TestComposeReferencesCapped(t *testing.T) {
	c := newTestComposer(t)
	var refs []string
	for i := range 60 {
		refs = append(refs, "<id"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+"@x>")
	}
	refs = append(refs, "<bad id@x>", "<"+strings.Repeat("y", 300)+"@x>", "")
	raw, _, _, err := c.Compose(Reply{Kind: vocab.KindReceipt, To: "a@b.example", Data: Data{Ref: "NCL-1"}, InReplyTo: "last@x", References: refs})
	if err != nil {
		t.Fatal(err)
	}
	mr, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	got, err := mr.Header.MsgIDList("References")
	if err != nil {
		t.Fatalf("References does not parse: %v", err)
	}
	if len(got) != maxReferences || got[0] != strings.Trim(refs[0], "<>") || got[len(got)-1] != "last@x" {
		t.Errorf("References = %d ids from %q to %q; want %d, from the root to In-Reply-To", len(got), got[0], got[len(got)-1], maxReferences)
	}
}

func TestComposeRejects(t *testing.T) {
	c := newTestComposer(t)
	tests := []struct {
		name string
		r    Reply
	}{
		{"unknown kind", Reply{Kind: "bogus", To: "a@b.example", Data: Data{Ref: "NCL-1"}}},
		{"bad address", Reply{Kind: vocab.KindReceipt, To: "secret-person at example", Data: Data{Ref: "NCL-1"}}},
		{"header injection in address", Reply{Kind: vocab.KindReceipt, To: "a@b.example\r\nBcc: secret-person@example.org", Data: Data{Ref: "NCL-1"}}},
		{"no reference", Reply{Kind: vocab.KindReceipt, To: "a@b.example"}},
		{"reference with spaces", Reply{Kind: vocab.KindReceipt, To: "a@b.example", Data: Data{Ref: "NCL 1"}}},
	}
	for _, tt := range tests {
		_, _, _, err := c.Compose(tt.r)
		if err == nil {
			t.Errorf("Compose(%s) = nil error, want one", tt.name)
			continue
		}
		if strings.Contains(err.Error(), "secret-person") {
			t.Errorf("Compose(%s) error %q contains the address", tt.name, err)
		}
	}
}

func TestComposeHostileName(t *testing.T) {
	c := newTestComposer(t)
	raw, _, _, err := c.Compose(Reply{Kind: vocab.KindAccepted, To: "a@b.example",
		Data: Data{Ref: "NCL-1", FirstName: "Eve\r\nBcc: x@y\r\n\r\nFake body"}, InReplyTo: "<x@y>\r\nBcc: z@w"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("Bcc") != "" || m.Header.Get("In-Reply-To") != "" {
		t.Errorf("hostile input reached the header: Bcc=%q In-Reply-To=%q", m.Header.Get("Bcc"), m.Header.Get("In-Reply-To"))
	}
}

func TestNewComposerRejects(t *testing.T) {
	ok := ComposerConfig{Address: "team@nhs.net", Signer: Signer{Key: testKey}}
	tests := []struct {
		name string
		edit func(*ComposerConfig)
	}{
		{"no address", func(c *ComposerConfig) { c.Address = "" }},
		{"address with name", func(c *ComposerConfig) { c.Address = "Team <team@nhs.net>" }},
		{"no key", func(c *ComposerConfig) { c.Signer = Signer{} }},
		{"multi-line display name", func(c *ComposerConfig) { c.DisplayName = "a\nb" }},
		{"bad domain", func(c *ComposerConfig) { c.Domain = "nhs net" }},
		{"bad version", func(c *ComposerConfig) { c.Version = "v 1" }},
		{"multi-line marker", func(c *ComposerConfig) { c.SecureMarker = "[secure]\r\n" }},
	}
	if _, err := NewComposer(ok); err != nil {
		t.Fatalf("NewComposer(valid) error: %v", err)
	}
	for _, tt := range tests {
		cfg := ok
		tt.edit(&cfg)
		if _, err := NewComposer(cfg); err == nil {
			t.Errorf("NewComposer(%s) = nil error, want one", tt.name)
		}
	}
}

func TestComposeCustomMarker(t *testing.T) {
	c, err := NewComposer(ComposerConfig{Address: "team@nhs.net", Signer: Signer{Key: testKey}, SecureMarker: "[SECURE]", Domain: "mail.example.nhs.uk"})
	if err != nil {
		t.Fatal(err)
	}
	raw, id, _, err := c.Compose(Reply{Kind: vocab.KindReceipt, To: "a@b.example", Data: Data{Ref: "NCL-1"}})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := netmail.ReadMessage(bytes.NewReader(raw))
	if !strings.HasPrefix(m.Header.Get("Subject"), "[SECURE] ") || !strings.HasSuffix(id, "@mail.example.nhs.uk") {
		t.Errorf("Subject %q / Message-ID %q do not use the configured marker and domain", m.Header.Get("Subject"), id)
	}
}

func TestHasOurMarker(t *testing.T) {
	if HasOurMarker(netmail.Header{}) {
		t.Error("HasOurMarker(empty) = true")
	}
	if HasOurMarker(nil) {
		t.Error("HasOurMarker(nil) = true")
	}
	if !HasOurMarker(netmail.Header{"X-Optout-Intake": {"v1"}}) {
		t.Error("HasOurMarker(marked) = false")
	}
}

func TestEncodeSubject(t *testing.T) {
	tests := []struct{ in, want string }{
		{"[secure] Plain subject NCL-1", "[secure] Plain subject NCL-1"},
		{"[secure] a – b", "[secure] a =?utf-8?q?=E2=80=93?= b"},
		{"[secure] Zoë Ångström x", "[secure] =?utf-8?q?Zo=C3=AB_=C3=85ngstr=C3=B6m?= x"},
		{"[secure] =?utf-8?q?trick?=", "[secure] =?utf-8?q?=3D=3Futf-8=3Fq=3Ftrick=3F=3D?="},
	}
	for _, tt := range tests {
		if got := encodeSubject(tt.in); got != tt.want {
			t.Errorf("encodeSubject(%q) = %q, want %q", tt.in, got, tt.want)
		}
		var h mail.Header
		h.Set("Subject", encodeSubject(tt.in))
		if got, _ := h.Subject(); got != tt.in {
			t.Errorf("decoded encodeSubject(%q) = %q, want the input back", tt.in, got)
		}
	}
}

// FuzzCompose feeds hostile values from a resident's message and form into
// Compose: it must not panic, and what it produces must parse with exactly
// our headers and no injected ones.
func FuzzCompose(f *testing.F) {
	f.Add("a@b.example", "Sam", "<x@y>", "NCL-7K3Q-9XWD")
	f.Add("Name <a@b.example>", "Zoë\r\nBcc: x@y", "<x@y>\r\nBcc: z", "NCL-1")
	f.Add("\"quoted\\\"name\" <a@b.example>", strings.Repeat("é", 1000), strings.Repeat("<", 500), "A")
	f.Add("a@b", "\x00\x01\x7f\u2028", "", "-")
	f.Add("=?utf-8?q?x?= <a@b.example>", "=?utf-8?b?QmNjOiB4?=", "<a@b", "NCL-1")
	c := newTestComposer(f)
	f.Fuzz(func(t *testing.T, to, name, inReplyTo, ref string) {
		raw, id, _, err := c.Compose(Reply{Kind: vocab.KindRejected, To: to, Data: Data{Ref: ref, FirstName: name, Reasons: []string{name}}, InReplyTo: inReplyTo, References: []string{inReplyTo, name}})
		if err != nil {
			return
		}
		m, err := netmail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("composed message does not parse: %v", err)
		}
		for k := range m.Header {
			switch k {
			case "Date", "From", "Reply-To", "To", "Subject", "Message-Id", "In-Reply-To", "References",
				"Auto-Submitted", "X-Auto-Response-Suppress", "X-Optout-Intake", "Mime-Version",
				"Content-Type", "Content-Transfer-Encoding":
			default:
				t.Errorf("unexpected header %q in composed message", k)
			}
		}
		if got := m.Header.Get("Message-Id"); got != "<"+id+">" {
			t.Errorf("Message-Id = %q, want <%s>", got, id)
		}
		if len(m.Header["To"]) != 1 {
			t.Errorf("To appears %d times", len(m.Header["To"]))
		}
	})
}

func BenchmarkCompose(b *testing.B) {
	c := newTestComposer(b)
	r := testReply(vocab.KindAccepted)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := c.Compose(r); err != nil {
			b.Fatal(err)
		}
	}
}

// TestComposeNamesTheForm: an outcome about one of several forms says
// which one; with one form, nothing is added.
func TestComposeNamesTheForm(t *testing.T) {
	c := newTestComposer(t)
	for _, k := range []vocab.Kind{vocab.KindAccepted, vocab.KindDuplicate, vocab.KindRejected} {
		for _, tc := range []struct{ form, want string }{
			{"the form for Grace H. (form 2 of 3 in your email)", "This email is about the form for Grace H. (form 2 of 3 in your email)."},
			{"", ""},
		} {
			raw, _, _, err := c.Compose(Reply{Kind: k, To: "a@b.example", Data: Data{Ref: "NCL-1", FirstName: "Grace", Form: tc.form}})
			if err != nil {
				t.Fatal(err)
			}
			m, err := netmail.ReadMessage(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(quotedprintable.NewReader(m.Body))
			text := strings.Join(strings.Fields(string(body)), " ")
			if tc.want != "" && !strings.Contains(text, tc.want) {
				t.Errorf("%s with Form %q: body lacks %q:\n%s", k, tc.form, tc.want, text)
			}
			if tc.want == "" && strings.Contains(text, "This email is about") {
				t.Errorf("%s with one form names a form:\n%s", k, text)
			}
		}
	}
}
