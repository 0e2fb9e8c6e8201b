// Package resident builds the emails a resident sends the service's
// mailbox: a first contact, or a reply in the thread of one of our messages
// with a form attached. `optoutd demo` plays its fictional residents with
// it and the tests build their mail with it, so both send mail of the same
// shape. It owns no data.
package resident

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
)

// Mail is one email from a resident. Bytes renders it.
type Mail struct {
	FromName string // display name; default "Resident"
	From     string // the resident's address
	To       string // the service's mailbox
	// Subject is written as it is when ASCII, else as an RFC 2047 word.
	Subject string
	// Body is plain text; its line ends become CRLF.
	Body string
	// MessageID, without angle brackets; default a fresh one (NewMessageID).
	MessageID string
	// InReplyTo and References, without angle brackets, thread the mail
	// onto earlier messages (ours).
	InReplyTo  string
	References []string
	// Extra are further header lines, written as they are (no CRLF).
	Extra []string
	// Attachment, when set, makes the mail multipart/mixed: the body, then
	// the file in base64.
	Attachment *Attachment
	// More are further files attached after Attachment (which must be set),
	// as an email carrying several forms.
	More []Attachment
	// Date is the Date header; default now.
	Date time.Time
}

// Attachment is one attached file.
type Attachment struct {
	Name        string // file name
	ContentType string // default application/octet-stream
	Data        []byte
}

// boundary separates the parts of a multipart mail. It cannot occur in
// base64 or in the plain-text bodies residents write here.
const boundary = "----=_Part_0_1234567890"

// Bytes returns the mail as RFC 5322 text with CRLF line ends.
func (m Mail) Bytes() []byte {
	if m.FromName == "" {
		m.FromName = "Resident"
	}
	var b strings.Builder
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", m.FromName+" <"+m.From+">")
	h("To", m.To)
	b.WriteString(m.ThreadHeader())
	for _, x := range m.Extra {
		b.WriteString(x + "\r\n")
	}
	h("MIME-Version", "1.0")
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	if m.Attachment == nil {
		h("Content-Type", "text/plain; charset=utf-8")
		if !ascii(body) {
			h("Content-Transfer-Encoding", "8bit")
		}
		b.WriteString("\r\n" + body + "\r\n")
		return []byte(b.String())
	}
	h("Content-Type", `multipart/mixed; boundary="`+boundary+`"`)
	b.WriteString("\r\n--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
	for _, a := range append([]Attachment{*m.Attachment}, m.More...) {
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		b.WriteString("--" + boundary + "\r\nContent-Type: " + ct + "; name=\"" + a.Name + "\"\r\n" +
			"Content-Disposition: attachment; filename=\"" + a.Name + "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		enc := base64.StdEncoding.EncodeToString(a.Data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return []byte(b.String())
}

// ThreadHeader returns the header lines that place the mail in a thread,
// each ending in CRLF: Subject, Date, Message-ID, In-Reply-To and
// References (the last two when set), with the defaults of Mail. Bytes
// writes them; the demo puts them on a real mail client's reply.
func (m Mail) ThreadHeader() string {
	if m.MessageID == "" {
		m.MessageID = NewMessageID()
	}
	if m.Date.IsZero() {
		m.Date = time.Now()
	}
	var b strings.Builder
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("Subject", mimeWord(m.Subject))
	h("Date", m.Date.Format(time.RFC1123Z))
	h("Message-ID", "<"+m.MessageID+">")
	if m.InReplyTo != "" {
		h("In-Reply-To", "<"+m.InReplyTo+">")
	}
	if len(m.References) > 0 {
		refs := make([]string, len(m.References))
		for i, r := range m.References {
			refs[i] = "<" + r + ">"
		}
		h("References", strings.Join(refs, " "))
	}
	return b.String()
}

// NewMessageID returns a fresh Message-ID of a resident's mail client,
// without angle brackets.
func NewMessageID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24 (it aborts the program instead)
	return hex.EncodeToString(b[:]) + "@mail.example.org"
}

// mimeWord encodes a header value as an RFC 2047 word when it is not ASCII.
func mimeWord(s string) string {
	if ascii(s) {
		return s
	}
	return "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
