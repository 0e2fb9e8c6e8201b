package notify

import (
	"bytes"
	"mime"
	"net/mail"
)

// SubjectOf returns the decoded Subject of a message Compose made (for the
// outbox's subject column and the triage page), or "" when raw has no
// readable header.
func SubjectOf(raw []byte) string {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	s, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return m.Header.Get("Subject")
	}
	return s
}
