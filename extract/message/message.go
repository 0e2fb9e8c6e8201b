// Package message reads a raw RFC 5322 email into decoded headers, a text
// body and its attachments, and classifies automatic mail. It trusts nothing
// in the message: every read is bounded by Limits.
package message

import (
	"errors"
	"io"
	"time"
)

// Limits bound what Parse will read from one message.
type Limits struct {
	MaxMessageBytes    int64 // the whole raw message
	MaxAttachmentBytes int64 // one decoded attachment (NHSmail's maximum is 35 MB)
	MaxParts           int   // MIME parts in all, at every depth
	MaxDepth           int   // nesting of multiparts and forwarded messages
}

// DefaultLimits are the limits used when none are configured.
func DefaultLimits() Limits {
	return Limits{MaxMessageBytes: 50 << 20, MaxAttachmentBytes: 35 << 20, MaxParts: 200, MaxDepth: 10}
}

// Attachment is one file carried by a message, decoded.
type Attachment struct {
	Name        string // file name as given by the sender ("" when none)
	ContentType string // declared media type, lower case, without parameters
	Data        []byte
}

// Message is a parsed email.
type Message struct {
	From        string   // the From address (addr-spec only, lower-cased domain)
	FromName    string   // the From display name
	ReplyTo     string   // the Reply-To address, "" when absent
	To          []string // the To and Cc addresses
	Subject     string   // decoded
	Date        time.Time
	MessageID   string   // without angle brackets
	InReplyTo   string   // without angle brackets
	References  []string // without angle brackets, oldest first
	Body        string   // the text body: plain part preferred, HTML turned into text otherwise
	Attachments []Attachment
	Auto        bool   // automatic mail that must never be answered
	AutoReason  string // why Auto is set: a short code such as "auto-submitted", "dsn", "list"
	Notes       []string
}

// ErrTooLarge is returned (wrapped) when a message breaks a size limit.
var ErrTooLarge = errors.New("message exceeds a size limit")

// Parse reads one raw message. It returns what it could read together with
// an error when the message is damaged, so callers can still use the headers.
func Parse(r io.Reader, lim Limits) (*Message, error) {
	return nil, errors.New("message.Parse: not implemented yet")
}
