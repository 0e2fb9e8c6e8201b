package message

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// parseFile parses testdata/name with the default limits.
func parseFile(t *testing.T, name string) (*Message, error) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	m, err := Parse(bytes.NewReader(raw), DefaultLimits())
	if m == nil {
		t.Fatalf("Parse(%s) returned a nil message (err %v)", name, err)
	}
	return m, err
}

// mustParseFile parses testdata/name and fails on any error.
func mustParseFile(t *testing.T, name string) *Message {
	t.Helper()
	m, err := parseFile(t, name)
	if err != nil {
		t.Fatalf("Parse(%s) error: %v", name, err)
	}
	return m
}

// names lists the attachment names of m.
func names(m *Message) []string {
	var out []string
	for _, a := range m.Attachments {
		out = append(out, a.Name)
	}
	return out
}

func TestParseOutlook(t *testing.T) {
	m := mustParseFile(t, "outlook.eml")
	checks := []struct{ what, got, want string }{
		{"From", m.From, "Jose.Garcia@example.org.uk"},
		{"FromName", m.FromName, "José García"},
		{"Subject", m.Subject, "RE: London Care Record – opt-out form"},
		{"MessageID", m.MessageID, "AM0PR01MB1234ABCD@AM0PR01MB1234.eurprd01.prod.outlook.com"},
		{"InReplyTo", m.InReplyTo, "optout-ack-42@ncl.example.nhs.uk"},
		{"AutoReason", m.AutoReason, ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if want := []string{"optout-req-41@ncl.example.nhs.uk", "optout-ack-42@ncl.example.nhs.uk"}; !slices.Equal(m.References, want) {
		t.Errorf("References = %q, want %q", m.References, want)
	}
	if want := []string{"joined-up.care-record@nhs.net", "carer@example.com", "ann.smith@example.com"}; !slices.Equal(m.To, want) {
		t.Errorf("To = %q, want %q", m.To, want)
	}
	if want := time.Date(2025, 3, 4, 10, 14, 58, 0, time.UTC); !m.Date.Equal(want) {
		t.Errorf("Date = %v, want %v", m.Date, want)
	}
	// The plain part wins over the HTML one, decoded from Windows-1252 QP.
	if want := "Please find my opt-out form attached. I’ve filled in every box – thank you."; !strings.Contains(m.Body, want) {
		t.Errorf("Body = %q, want it to contain %q", m.Body, want)
	}
	if strings.Contains(m.Body, "<p") || strings.Contains(m.Body, "MsoNormal") {
		t.Errorf("Body = %q, holds HTML: the plain part should win", m.Body)
	}
	if want := []string{"image001.png", "London Care Record opt-out form – José.pdf"}; !slices.Equal(names(m), want) {
		t.Fatalf("attachments = %q, want %q", names(m), want)
	}
	pdf := m.Attachments[1]
	if pdf.ContentType != "application/octet-stream" {
		t.Errorf("PDF ContentType = %q, want the declared application/octet-stream", pdf.ContentType)
	}
	if !bytes.HasPrefix(pdf.Data, []byte("%PDF-1.7")) || !bytes.HasSuffix(pdf.Data, []byte("%%EOF\n")) {
		t.Errorf("PDF data not decoded whole: %q...", pdf.Data[:min(20, len(pdf.Data))])
	}
	if m.Auto {
		t.Errorf("a person's reply from Outlook classified auto (%s)", m.AutoReason)
	}
	if got := m.Header.Get("Thread-Topic"); got != "London Care Record opt-out form" {
		t.Errorf("Header.Get(Thread-Topic) = %q", got)
	}
	if m.Size == 0 {
		t.Error("Size = 0, want the raw size")
	}
}

func TestParseGmail(t *testing.T) {
	m := mustParseFile(t, "gmail.eml")
	if m.From != "priya.patel@gmail.com" || m.FromName != "Priya Patel" {
		t.Errorf("From = %q %q", m.From, m.FromName)
	}
	if want := "Opt-out forms – two of us"; m.Subject != want {
		t.Errorf("Subject = %q, want %q", m.Subject, want)
	}
	if want := "Here is the form for me and one for my son. Cheers 😊"; !strings.Contains(m.Body, want) {
		t.Errorf("Body = %q, want base64 UTF-8 plain text %q", m.Body, want)
	}
	if want := []string{"optout-form.pdf", "Formulaire d’opposition fils.docx"}; !slices.Equal(names(m), want) {
		t.Fatalf("attachments = %q, want %q (RFC 2047 in a Content-Type name)", names(m), want)
	}
	if ct := m.Attachments[1].ContentType; ct != "application/vnd.openxmlformats-officedocument.wordprocessingml.document" {
		t.Errorf("docx ContentType = %q", ct)
	}
	if !bytes.HasPrefix(m.Attachments[1].Data, []byte("PK\x03\x04")) {
		t.Errorf("docx data = %q, want a zip", m.Attachments[1].Data)
	}
}

func TestParseAppleMailInline(t *testing.T) {
	m := mustParseFile(t, "apple.eml")
	// An inline part with a file name is an attachment; RFC 2231 in ISO-8859-1 wins over name.
	if want := []string{"Fiche désinscription.pdf"}; !slices.Equal(names(m), want) {
		t.Fatalf("attachments = %q, want %q", names(m), want)
	}
	if !strings.Contains(m.Body, "Here it is:") || !strings.Contains(m.Body, "Sent from my iPad") {
		t.Errorf("Body = %q, want both text parts around the inline PDF", m.Body)
	}
	if m.From != "moneill@icloud.com" || m.FromName != "Margaret O'Neill" {
		t.Errorf("From = %q %q", m.From, m.FromName)
	}
}

func TestParseHTMLOnly(t *testing.T) {
	m := mustParseFile(t, "html_only.eml")
	if m.Subject != "Renée's form" {
		t.Errorf("Subject = %q, want ISO-8859-1 Q decoded", m.Subject)
	}
	for _, want := range []string{
		"Hello,\nmy details are below & I'm happy to be contacted.",
		"First name*:\tRenée",
		"Last name*:\tO’Brien",
		"Postcode*:\tn1 9gu",
		"- one\n- two",
		"Café <> end",
	} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("Body = %q, want it to contain %q", m.Body, want)
		}
	}
	for _, bad := range []string{"alert", "color", "<", "Form\n"} {
		if bad == "<" {
			if strings.Contains(strings.ReplaceAll(m.Body, "<>", ""), "<") {
				t.Errorf("Body = %q, holds markup", m.Body)
			}
			continue
		}
		if strings.Contains(m.Body, bad) {
			t.Errorf("Body = %q, holds %q from script/style/title", m.Body, bad)
		}
	}
	if !m.Date.Equal(time.Date(2025, 3, 7, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("Date = %v", m.Date)
	}
}

func TestParseForwarded(t *testing.T) {
	m := mustParseFile(t, "forward.eml")
	if want := []string{"mum-form.pdf"}; !slices.Equal(names(m), want) {
		t.Fatalf("attachments = %q, want the forwarded message's %q", names(m), want)
	}
	if m.Body != "Please send this for me." {
		t.Errorf("Body = %q, want the forwarded body (the outer one is blank)", m.Body)
	}
	if m.MessageID != "fwd-outer@example.net" {
		t.Errorf("MessageID = %q, want the outer message's", m.MessageID)
	}
}

func TestParseForwardedKeepsOuterBody(t *testing.T) {
	raw := strings.ReplaceAll(readTestdata(t, "forward.eml"), "\r\n \r\n--outer", "\r\nMy own words.\r\n--outer")
	m, err := Parse(strings.NewReader(raw), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if m.Body != "My own words." {
		t.Errorf("Body = %q, want the outer body", m.Body)
	}
}

func TestParseSigned(t *testing.T) {
	m := mustParseFile(t, "signed.eml")
	if want := []string{"signed-form.pdf"}; !slices.Equal(names(m), want) {
		t.Errorf("attachments = %q, want %q (no smime.p7s)", names(m), want)
	}
	if m.Body != "Signed message body." {
		t.Errorf("Body = %q", m.Body)
	}
}

func TestParseEncrypted(t *testing.T) {
	m := mustParseFile(t, "smime_encrypted.eml")
	if len(m.Attachments) != 0 {
		t.Errorf("attachments = %q, want none", names(m))
	}
	if !slices.Contains(m.Notes, "encrypted S/MIME content cannot be read") {
		t.Errorf("Notes = %q, want the encrypted S/MIME note", m.Notes)
	}
}

func TestParseDSN(t *testing.T) {
	tests := []struct {
		file, reason, bounced, status, diagnostic string
	}{
		{"dsn.eml", ReasonDSN, "optout-outbox-1234@ncl.example.nhs.uk", "5.1.1", "smtp;550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"},
		{"dsn_headers.eml", ReasonDSN, "optout-outbox-5678@ncl.example.nhs.uk", "5.0.0", ""},
		{"ooo_exchange.eml", ReasonExchange, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m := mustParseFile(t, tt.file)
			if !m.Auto || m.AutoReason != tt.reason {
				t.Errorf("Auto, AutoReason = %v, %q, want true, %q", m.Auto, m.AutoReason, tt.reason)
			}
			if m.BouncedMessageID != tt.bounced {
				t.Errorf("BouncedMessageID = %q, want %q", m.BouncedMessageID, tt.bounced)
			}
			if m.BounceStatus != tt.status || m.BounceDiagnostic != tt.diagnostic {
				t.Errorf("BounceStatus, BounceDiagnostic = %q, %q, want %q, %q", m.BounceStatus, m.BounceDiagnostic, tt.status, tt.diagnostic)
			}
			if len(m.Attachments) != 0 {
				t.Errorf("attachments = %q, want none (the returned message is not a forward)", names(m))
			}
		})
	}
}

// TestParseDeliveryStatus: the failed recipient's status and diagnostic
// are kept, a folded Diagnostic-Code is joined, a delayed recipient before
// it is passed over.
func TestParseDeliveryStatus(t *testing.T) {
	raw := "From: MAILER-DAEMON@mx.example.org\r\nTo: a@example.nhs.uk\r\nSubject: failure\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n" +
		"Final-Recipient: rfc822; one@example.org\r\nAction: delayed\r\nStatus: 4.4.1\r\nDiagnostic-Code: smtp; 451 4.4.1 later\r\n\r\n" +
		"Final-Recipient: rfc822; two@example.org\r\nAction: failed\r\nStatus: 5.2.2\r\n" +
		"Diagnostic-Code: smtp; 552 5.2.2 <two@example.org>:\r\n    Mailbox full\r\n\r\n--b--\r\n"
	m, err := Parse(strings.NewReader(raw), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if m.BounceStatus != "5.2.2" || m.BounceDiagnostic != "smtp; 552 5.2.2 <two@example.org>: Mailbox full" {
		t.Errorf("BounceStatus, BounceDiagnostic = %q, %q, want the failed recipient's, unfolded", m.BounceStatus, m.BounceDiagnostic)
	}
}

func TestParseDamaged(t *testing.T) {
	m, err := parseFile(t, "damaged.eml")
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("Parse(damaged.eml) error = %v, want ErrDamaged", err)
	}
	if m.Subject != "truncated" || m.Body != "The form is attached." {
		t.Errorf("partial message lost: Subject %q Body %q", m.Subject, m.Body)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Name != "form.pdf" || !bytes.HasPrefix(m.Attachments[0].Data, []byte("%PDF")) {
		t.Errorf("attachments = %q, want the truncated form.pdf kept", names(m))
	}
	if len(m.Notes) == 0 {
		t.Error("no note for staff about the damage")
	}
}

func TestParseOddHeaders(t *testing.T) {
	m, err := parseFile(t, "odd_headers.eml")
	if err != nil {
		t.Fatalf("Parse(odd_headers.eml) error = %v, want none (odd headers are notes)", err)
	}
	if m.From != "no-close@example.com" {
		t.Errorf("From = %q, want the address read leniently", m.From)
	}
	if m.ReplyTo != "Reply@example.com" {
		t.Errorf("ReplyTo = %q", m.ReplyTo)
	}
	if m.MessageID != "no-brackets@example.com" {
		t.Errorf("MessageID = %q", m.MessageID)
	}
	if want := []string{"a@x", "b@y", "c@z"}; !slices.Equal(m.References, want) {
		t.Errorf("References = %q, want %q", m.References, want)
	}
	if !m.Date.Equal(time.Date(2025, 3, 11, 9, 5, 0, 0, time.UTC)) {
		t.Errorf("Date = %v, want 2025-03-11 09:05", m.Date)
	}
	if m.Body != "Café – “quoted”" {
		t.Errorf("Body = %q, want Windows-1252 decoded", m.Body)
	}
	if len(m.To) != 0 {
		t.Errorf("To = %q, want none for a group with no members", m.To)
	}
	if m.Subject != "=?unknown-8bit?Q?caf=E9?=" || len(m.Notes) == 0 {
		t.Errorf("Subject = %q Notes = %q, want raw subject and a note", m.Subject, m.Notes)
	}
}

func TestParseDates(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}
	tests := []struct {
		in   string
		want time.Time // zero: unreadable
	}{
		{"Tue, 4 Mar 2025 10:14:58 +0000", utc(2025, 3, 4, 10, 14, 58)},
		{"Tue,  4 Mar 2025 10:14:58 +0000 (UTC)", utc(2025, 3, 4, 10, 14, 58)},
		{"4 Mar 2025 10:14:58 GMT", utc(2025, 3, 4, 10, 14, 58)},
		{"Wed, 4 Mar 2025 10:14:58 +0000", utc(2025, 3, 4, 10, 14, 58)}, // wrong weekday
		{"Tue, 4 Mar 2025 11:14:58 +0100 BST", utc(2025, 3, 4, 10, 14, 58)},
		{"Tue, 4 Mar 2025 10:14 +0000", utc(2025, 3, 4, 10, 14, 0)},
		{"Tuesday, March 4, 2025 10:14 AM", utc(2025, 3, 4, 10, 14, 0)},
		{"2025-03-04T10:14:58Z", utc(2025, 3, 4, 10, 14, 58)},
		{"2025-03-04 10:14:58", utc(2025, 3, 4, 10, 14, 58)},
		{"Tue Mar  4 10:14:58 2025", utc(2025, 3, 4, 10, 14, 58)},
		{"yesterday", time.Time{}},
		{"", time.Time{}},
	}
	for _, tt := range tests {
		got, ok := parseDate(tt.in)
		if ok != !tt.want.IsZero() || (ok && !got.Equal(tt.want)) {
			t.Errorf("parseDate(%q) = %v, %v, want %v", tt.in, got, ok, tt.want)
		}
	}
	// A bad date is a note, not a failure.
	m, err := Parse(strings.NewReader("Date: yesterday\r\nSubject: x\r\n\r\nhello\r\n"), DefaultLimits())
	if err != nil || !m.Date.IsZero() || len(m.Notes) != 1 || m.Body != "hello" {
		t.Errorf("bad Date: err %v Date %v Notes %q Body %q", err, m.Date, m.Notes, m.Body)
	}
}

func TestParseParams(t *testing.T) {
	tests := []struct {
		in, value, key, want string
	}{
		{`attachment; filename="form.pdf"`, "attachment", "filename", "form.pdf"},
		{`attachment; filename=my form.pdf`, "attachment", "filename", "my form.pdf"},
		{`attachment; filename="a.pdf"; filename="b.pdf"`, "attachment", "filename", "a.pdf"},
		{`attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf`, "attachment", "filename", "€ rates.pdf"},
		{`attachment; filename*=iso-8859-1'en'caf%E9.pdf`, "attachment", "filename", "café.pdf"},
		{`attachment; filename*=windows-1252''%93quote%94.pdf`, "attachment", "filename", "“quote”.pdf"},
		{`attachment; filename*0="long "; filename*1="name.pdf"`, "attachment", "filename", "long name.pdf"},
		{`attachment; filename*1*=b.pdf; filename*0*=UTF-8''a%20`, "attachment", "filename", "a b.pdf"},
		{`attachment; filename="plain.pdf"; filename*=UTF-8''ext.pdf`, "attachment", "filename", "ext.pdf"},
		{`Application/PDF; NAME="=?utf-8?B?w6ljcml0LnBkZg==?="`, "application/pdf", "name", "écrit.pdf"},
		{`application/pdf; name="=?windows-1252?Q?=93x=94.pdf?="`, "application/pdf", "name", "“x”.pdf"},
		{`text/plain; charset="a\"b"`, "text/plain", "charset", `a"b`},
		{`text/plain; ; =x; charset`, "text/plain", "charset", ""},
		{`multipart/mixed; boundary="unterminated`, "multipart/mixed", "boundary", "unterminated"},
		{`attachment; filename*0*=UTF-8''a; filename*2*=c`, "attachment", "filename", "a"},
		{`inline`, "inline", "filename", ""},
	}
	for _, tt := range tests {
		v, params := parseParams(tt.in)
		if v != tt.value || params[tt.key] != tt.want {
			t.Errorf("parseParams(%q) = %q, %q=%q, want %q, %q", tt.in, v, tt.key, params[tt.key], tt.value, tt.want)
		}
	}
}

func TestCleanName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"form.pdf", "form.pdf"},
		{`C:\Users\jane\Documents\form.pdf`, "form.pdf"},
		{"../../etc/passwd", "passwd"},
		{"..", ""},
		{"a\x00b\nc.pdf", "abc.pdf"},
		{"  \"quoted.pdf\" ", "quoted.pdf"},
		{strings.Repeat("é", 200) + ".pdf", strings.Repeat("é", 127)},
	}
	for _, tt := range tests {
		if got := cleanName(tt.in); got != tt.want {
			t.Errorf("cleanName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHTMLText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<p>a</p><p>b</p>", "a\nb"},
		{"a<br>b<br/><br>c", "a\nb\n\nc"},
		{"<b>First</b>name", "Firstname"},
		{"<b>First</b> name", "First name"},
		{"a&nbsp;&amp;&lt;&#8364;&eacute;", "a &<€é"},
		{"<table><tr><td>Label:</td><td>value</td><td>3</td></tr><tr><th>x</th></tr></table>", "Label:\tvalue\t3\nx"},
		{"<style>p{}</style><script>x()</script><title>t</title>text", "text"},
		{"<pre>  keep\n   spaces</pre>", "keep\n   spaces"},
		{"<div><div><div>deep", "deep"},
		{"<!-- comment -->seen<![CDATA[x]]>", "seen"},
		{"<p>unclosed <b>bold", "unclosed bold"},
		{"<script>never closed", ""},
	}
	for _, tt := range tests {
		if got := htmlText([]byte(tt.in)); got != tt.want {
			t.Errorf("htmlText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseLimits(t *testing.T) {
	big := strings.Repeat("A", 3000)
	msg := "Subject: big\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/pdf; name=a.pdf\r\n\r\n" + big + "\r\n--b\r\nContent-Type: application/pdf; name=small.pdf\r\n\r\nsmall\r\n--b--\r\n"
	tests := []struct {
		name    string
		raw     string
		lim     Limits
		want    error
		atts    []string
		subject string
	}{
		{"attachment too large", msg, Limits{MaxAttachmentBytes: 1000}, ErrTooLarge, []string{"small.pdf"}, "big"},
		{"message too large", msg, Limits{MaxMessageBytes: 200}, ErrTooLarge, []string{"a.pdf"}, "big"}, // kept cut short, with a note
		{"too many parts", msg, Limits{MaxParts: 2}, ErrTooManyParts, nil, "big"},
		{"too deep", nested(5, "x"), Limits{MaxDepth: 3}, ErrTooDeep, nil, "nested"},
		{"header too large", "Subject: x\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\nbody", Limits{}, ErrTooLarge, nil, "x"},
		{"within limits", msg, Limits{}, nil, []string{"a.pdf", "small.pdf"}, "big"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(strings.NewReader(tt.raw), tt.lim)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Parse error = %v, want %v", err, tt.want)
			}
			if tt.want != nil && !errors.Is(err, ErrTooLarge) {
				t.Errorf("error %v does not wrap ErrTooLarge", err)
			}
			if m.Subject != tt.subject {
				t.Errorf("Subject = %q, want %q (headers kept)", m.Subject, tt.subject)
			}
			if !slices.Equal(names(m), tt.atts) {
				t.Errorf("attachments = %q, want %q", names(m), tt.atts)
			}
			if lim := tt.lim.withDefaults(); m.Size > lim.MaxMessageBytes {
				t.Errorf("Size = %d, read past MaxMessageBytes %d", m.Size, lim.MaxMessageBytes)
			}
		})
	}
}

// nested returns a message with multiparts nested depth deep around body.
func nested(depth int, body string) string {
	var b strings.Builder
	b.WriteString("Subject: nested\r\n")
	for i := range depth {
		b.WriteString("Content-Type: multipart/mixed; boundary=b" + itoa(i) + "\r\n\r\n--b" + itoa(i) + "\r\n")
	}
	b.WriteString("Content-Type: text/plain\r\n\r\n" + body + "\r\n")
	for i := depth - 1; i >= 0; i-- {
		b.WriteString("--b" + itoa(i) + "--\r\n")
	}
	return b.String()
}

func itoa(i int) string { return strconv.Itoa(i) }

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// panicReader panics on Read, standing in for a library bug.
type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("boom") }

func TestParseRecoversPanics(t *testing.T) {
	m, err := Parse(panicReader{}, DefaultLimits())
	if m == nil || !errors.Is(err, ErrDamaged) {
		t.Fatalf("Parse(panicking reader) = %v, %v, want a message and ErrDamaged", m, err)
	}
	if strings.Contains(err.Error(), "boom") {
		t.Errorf("error %q quotes the panic value", err)
	}
}

func TestFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "fixtures", "mail", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	testdata, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(testdata) == 0 {
		t.Fatal("no testdata/*.eml")
	}
	t.Logf("%d fixtures", len(files))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(bytes.NewReader(raw), DefaultLimits())
			if err != nil {
				t.Errorf("Parse(%s) error: %v", f, err)
			}
			if m.Size != int64(len(raw)) {
				t.Errorf("Size = %d, want %d", m.Size, len(raw))
			}
			if strings.Contains(m.Body, "\r") {
				t.Errorf("Body holds carriage returns: %q", m.Body)
			}
			// The golden answer's kind says whether the mail is automatic.
			golden, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "golden", filepath.Base(f)+".json"))
			if err != nil {
				return // a fixture without a golden answer yet
			}
			var want struct {
				Kind string `json:"kind"`
			}
			if err := json.Unmarshal(golden, &want); err != nil {
				t.Fatalf("read golden answer: %v", err)
			}
			if m.Auto != (want.Kind == "auto") {
				t.Errorf("Auto = %v (%s), golden kind %q", m.Auto, m.AutoReason, want.Kind)
			}
		})
	}
}
