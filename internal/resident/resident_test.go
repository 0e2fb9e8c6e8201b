package resident

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"
)

func TestMailBytes(t *testing.T) {
	date := time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC)
	form := bytes.Repeat([]byte("NHS number 943 476 5919\n"), 10)
	tests := []struct {
		name    string
		mail    Mail
		subject string // as decoded
		body    string // the text part, CRLF line ends
	}{
		{"first contact", Mail{From: "r@example.org", To: "team@nhs.example", Subject: "Opting out", Body: "Hello,\nopt me out.", Date: date},
			"Opting out", "Hello,\r\nopt me out.\r\n"},
		{"non-ASCII subject and body", Mail{FromName: "Zoë Adebayo", From: "z@example.org", To: "team@nhs.example", Subject: "Désinscription", Body: "Merci", Date: date},
			"Désinscription", "Merci\r\n"},
		{"reply with a form", Mail{From: "r@example.org", To: "team@nhs.example", Subject: "RE: [secure] ref NCL-7K3Q-9XWD", Body: "Form attached.",
			MessageID: "abc@mail.example.org", InReplyTo: "ours@nhs.example", References: []string{"first@mail.example.org", "ours@nhs.example"},
			Extra: []string{"X-Mailer: Outlook"}, Attachment: &Attachment{Name: "form.txt", Data: form}, Date: date},
			"RE: [secure] ref NCL-7K3Q-9XWD", "Form attached."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.mail.Bytes()
			if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
				t.Error("a line does not end in CRLF")
			}
			m, err := mail.ReadMessage(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("ReadMessage: %v", err)
			}
			subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
			if err != nil || subject != tt.subject {
				t.Errorf("Subject = %q (%v), want %q", subject, err, tt.subject)
			}
			if from, err := m.Header.AddressList("From"); err != nil || len(from) != 1 || from[0].Address != tt.mail.From {
				t.Errorf("From = %v (%v), want %s", from, err, tt.mail.From)
			}
			if d, err := m.Header.Date(); err != nil || !d.Equal(date) {
				t.Errorf("Date = %v (%v), want %v", d, err, date)
			}
			if id := m.Header.Get("Message-Id"); tt.mail.MessageID != "" && id != "<"+tt.mail.MessageID+">" || !strings.HasPrefix(id, "<") {
				t.Errorf("Message-ID = %q", id)
			}
			if tt.mail.InReplyTo != "" && (m.Header.Get("In-Reply-To") != "<ours@nhs.example>" ||
				m.Header.Get("References") != "<first@mail.example.org> <ours@nhs.example>" || m.Header.Get("X-Mailer") != "Outlook") {
				t.Errorf("thread headers = %q / %q / %q", m.Header.Get("In-Reply-To"), m.Header.Get("References"), m.Header.Get("X-Mailer"))
			}
			mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
			if err != nil {
				t.Fatal(err)
			}
			if tt.mail.Attachment == nil {
				if b, _ := io.ReadAll(m.Body); mt != "text/plain" || string(b) != tt.body {
					t.Errorf("body = %s %q, want text/plain %q", mt, b, tt.body)
				}
				return
			}
			mr := multipart.NewReader(m.Body, params["boundary"])
			text, err := mr.NextPart()
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := io.ReadAll(text); string(b) != tt.body {
				t.Errorf("text part = %q, want %q", b, tt.body)
			}
			att, err := mr.NextPart()
			if err != nil {
				t.Fatal(err)
			}
			enc, _ := io.ReadAll(att)
			data, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(enc), "\r\n", ""))
			if att.FileName() != "form.txt" || att.Header.Get("Content-Type") != `application/octet-stream; name="form.txt"` || err != nil || !bytes.Equal(data, form) {
				t.Errorf("attachment %q %q: %d bytes (%v), want the form", att.FileName(), att.Header.Get("Content-Type"), len(data), err)
			}
		})
	}
}

func TestThreadHeaderFreshMessageIDs(t *testing.T) {
	a, b := Mail{Subject: "x"}.ThreadHeader(), Mail{Subject: "x"}.ThreadHeader()
	if a == b || !strings.Contains(a, "@mail.example.org>\r\n") {
		t.Errorf("ThreadHeader twice = %q and %q, want fresh Message-IDs", a, b)
	}
}

func TestMailMoreAttachments(t *testing.T) {
	raw := Mail{From: "r@example.org", To: "team@nhs.example", Subject: "Two forms", Body: "Both attached.",
		Attachment: &Attachment{Name: "a.txt", ContentType: "text/plain", Data: []byte("first")},
		More:       []Attachment{{Name: "b.txt", Data: []byte("second")}}}.Bytes()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var got []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		if p.FileName() == "" {
			got = append(got, "text:"+string(b))
			continue
		}
		data, _ := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(b), "\r\n", ""))
		got = append(got, p.FileName()+"="+string(data))
	}
	if want := []string{"text:Both attached.", "a.txt=first", "b.txt=second"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("parts = %q, want the text, then a.txt and b.txt", got)
	}
}
