package notify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	netmail "net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message/mail"
	"github.com/ncl-icb/optout-intake/vocab"
)

// Header names and values every reply carries for loop protection.
const (
	// MarkerHeader is our own header on every message we send. Mail that
	// carries it is ours (or a copy of ours) and is never answered.
	MarkerHeader = "X-Optout-Intake"
	// AutoSubmitted marks our replies as automatic (RFC 3834), so
	// well-behaved auto-responders do not answer them.
	AutoSubmitted = "auto-replied"
)

// Defaults for ComposerConfig.
const (
	DefaultDisplayName  = "NCL Care Record opt-out team"
	DefaultSecureMarker = "[secure]"
	DefaultVersion      = "optout-intake"
	// DefaultFormURL is NCL's page for the London Care Record, which holds
	// the opt-out form. The daemon always sets its own (OPTOUT_FORM_URL is
	// required); this default serves tests and the demo.
	DefaultFormURL = "https://nclhealthandcare.org.uk/digital/the-london-care-record/"
)

// Limits on the threading headers copied from a resident's message.
const (
	maxReferences = 20
	maxIDLen      = 250
)

// ComposerConfig configures a Composer. Only Address and Signer are required.
type ComposerConfig struct {
	// Address is the mailbox's own address (OPTOUT_ADDRESS): From,
	// Reply-To and the envelope sender.
	Address string
	// DisplayName is shown with Address in From and Reply-To.
	// Default DefaultDisplayName.
	DisplayName string
	// SecureMarker starts every subject; NHSmail encrypts a message whose
	// subject carries it. Default DefaultSecureMarker ("[secure]").
	SecureMarker string
	// Domain is the right-hand side of our Message-IDs. Default: the
	// domain of Address.
	Domain string
	// Version is the value of the X-Optout-Intake header (followed by the
	// reference and kind). Default DefaultVersion.
	Version string
	// FormURL is where the opt-out form is (OPTOUT_FORM_URL), shown by the
	// templates as {{.FormURL}}. Default DefaultFormURL.
	FormURL string
	// EnquiryPhone is the number residents who cannot use email may call
	// (OPTOUT_ENQUIRY_PHONE), shown as {{.EnquiryPhone}}; "" for none.
	EnquiryPhone string
	// Templates are the reply templates. Default: the embedded ones.
	Templates *Templates
	// Signer signs the Message-IDs. Its key must be at least MinKeyLen bytes.
	Signer Signer
	// Now is the clock for the Date header. Default time.Now.
	Now func() time.Time
	// Rand is the source of the Message-ID's random part. Default crypto/rand.
	Rand io.Reader
}

// Composer renders replies into complete messages, ready to queue. It is
// safe for concurrent use if Rand is (crypto/rand is).
type Composer struct {
	cfg  ComposerConfig
	from *mail.Address
}

// NewComposer checks cfg, fills in its defaults and returns a Composer.
func NewComposer(cfg ComposerConfig) (*Composer, error) {
	addr, err := netmail.ParseAddress(cfg.Address)
	if err != nil || addr.Name != "" || strings.ContainsAny(cfg.Address, "<>") {
		return nil, errors.New("composer: the mailbox address (OPTOUT_ADDRESS) is not a plain email address like team@nhs.net")
	}
	if cfg.DisplayName == "" {
		cfg.DisplayName = DefaultDisplayName
	}
	if oneLine(cfg.DisplayName) != cfg.DisplayName {
		return nil, errors.New("composer: the display name must be one line of text without control characters")
	}
	if cfg.SecureMarker == "" {
		cfg.SecureMarker = DefaultSecureMarker
	}
	if oneLine(cfg.SecureMarker) != cfg.SecureMarker {
		return nil, errors.New("composer: the secure marker must be one line of text, e.g. [secure]")
	}
	if cfg.Domain == "" {
		cfg.Domain = addr.Address[strings.LastIndexByte(addr.Address, '@')+1:]
	}
	if !validDomain(cfg.Domain) {
		return nil, fmt.Errorf("composer: message-id domain %q is not a plain host name: set the domain or a mailbox address with one", cfg.Domain)
	}
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	if cfg.FormURL == "" {
		cfg.FormURL = DefaultFormURL
	}
	if !strings.HasPrefix(cfg.FormURL, "https://") || oneLine(cfg.FormURL) != cfg.FormURL || strings.Contains(cfg.FormURL, " ") {
		return nil, errors.New("composer: the form's address (OPTOUT_FORM_URL) must be one https:// web address")
	}
	if oneLine(cfg.EnquiryPhone) != cfg.EnquiryPhone {
		return nil, errors.New("composer: the telephone number (OPTOUT_ENQUIRY_PHONE) must be one line of text")
	}
	if !isToken(cfg.Version) {
		return nil, errors.New("composer: the version must be printable ASCII without spaces or semicolons")
	}
	if len(cfg.Signer.Key) < MinKeyLen {
		return nil, fmt.Errorf("composer: %w", ErrBadKey)
	}
	if cfg.Templates == nil {
		if cfg.Templates, err = LoadTemplates(""); err != nil {
			return nil, fmt.Errorf("composer: %w", err)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Composer{cfg: cfg, from: &mail.Address{Name: cfg.DisplayName, Address: addr.Address}}, nil
}

// Address returns the mailbox's own address: use it as the envelope sender.
func (c *Composer) Address() string { return c.from.Address }

// Reply is one reply to compose.
type Reply struct {
	Kind vocab.Kind
	// To is the resident's address (a bare address or "Name <address>";
	// only the address is used).
	To string
	// Data fills the template. Data.Ref is required; TeamName, Mailbox,
	// FormURL and EnquiryPhone default to the composer's.
	Data Data
	// InReplyTo is the Message-ID of the resident's message we answer, with
	// or without angle brackets; "" when we write first.
	InReplyTo string
	// References are the ids from the resident's References header; the
	// composer appends InReplyTo and keeps the last 20.
	References []string
}

// Compose renders r into a complete message and returns its bytes, its
// Message-ID (without angle brackets) and its Subject (decoded, as the
// outbox and the triage page show it). Call it when the reply is queued and
// store them: a retry must send the same bytes, and the Message-ID is what
// the resident's reply will refer to. Errors never contain the address.
func (c *Composer) Compose(r Reply) (raw []byte, messageID, subject string, err error) {
	if !r.Kind.Valid() {
		return nil, "", "", fmt.Errorf("compose reply: %w %q", ErrUnknownKind, r.Kind)
	}
	to, err := netmail.ParseAddress(r.To)
	if err != nil || strings.ContainsAny(to.Address, "\r\n<>") {
		return nil, "", "", errors.New("compose reply: the recipient address is not a valid email address")
	}
	if !validRef(r.Data.Ref) {
		return nil, "", "", fmt.Errorf("compose reply: %w", ErrBadRef)
	}
	d := r.Data
	if d.TeamName == "" {
		d.TeamName = c.cfg.DisplayName
	}
	if d.Mailbox == "" {
		d.Mailbox = c.from.Address
	}
	if d.FormURL == "" {
		d.FormURL = c.cfg.FormURL
	}
	if d.EnquiryPhone == "" {
		d.EnquiryPhone = c.cfg.EnquiryPhone
	}
	subject, body, err := c.cfg.Templates.Render(r.Kind, d)
	if err != nil {
		return nil, "", "", fmt.Errorf("compose reply: %w", err)
	}
	messageID, err = c.cfg.Signer.NewMessageID(d.Ref, c.cfg.Domain, c.cfg.Rand)
	if err != nil {
		return nil, "", "", fmt.Errorf("compose reply: %w", err)
	}
	inReplyTo := cleanID(r.InReplyTo)
	refs := make([]string, 0, len(r.References)+1)
	for _, id := range r.References {
		if id = cleanID(id); id != "" {
			refs = append(refs, id)
		}
	}
	if inReplyTo != "" && (len(refs) == 0 || refs[len(refs)-1] != inReplyTo) {
		refs = append(refs, inReplyTo)
	}
	if len(refs) > maxReferences {
		// Keep the first (thread root) and the most recent ones (RFC 5322 3.6.4).
		refs = append(refs[:1], refs[len(refs)-maxReferences+1:]...)
	}

	// go-message writes header fields in the reverse order they are added.
	var h mail.Header
	h.Set("Content-Transfer-Encoding", "quoted-printable")
	h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	h.Set("MIME-Version", "1.0")
	h.Set(MarkerHeader, c.cfg.Version+"; ref="+d.Ref+"; kind="+string(r.Kind))
	h.Set("X-Auto-Response-Suppress", "All")
	if r.Kind != vocab.KindStaffReply {
		// A staff reply is written by a person: RFC 3834 marks only
		// automatic mail. Our marker header still tells our own mail apart.
		h.Set("Auto-Submitted", AutoSubmitted)
	}
	if len(refs) > 0 {
		h.SetMsgIDList("References", refs)
	}
	if inReplyTo != "" {
		h.SetMsgIDList("In-Reply-To", []string{inReplyTo})
	}
	h.SetMessageID(messageID)
	subject = strings.Join(strings.Fields(c.cfg.SecureMarker+" "+subject), " ")
	h.Set("Subject", encodeSubject(subject))
	h.SetAddressList("To", []*mail.Address{{Address: to.Address}})
	h.SetAddressList("Reply-To", []*mail.Address{c.from})
	h.SetAddressList("From", []*mail.Address{c.from})
	h.SetDate(c.cfg.Now())

	var buf bytes.Buffer
	buf.Grow(len(body) + 1024)
	w, err := mail.CreateSingleInlineWriter(&buf, h)
	if err != nil {
		return nil, "", "", fmt.Errorf("compose reply: write header: %w", err)
	}
	if _, err := io.WriteString(w, body); err != nil {
		return nil, "", "", fmt.Errorf("compose reply: write body: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, "", "", fmt.Errorf("compose reply: finish body: %w", err)
	}
	return buf.Bytes(), messageID, subject, nil
}

// encodeSubject encodes s for the Subject header, leaving ASCII words (and
// so the secure marker) readable and encoding each run of non-ASCII words as
// one RFC 2047 encoded word, so filters that look for the marker in the raw
// header still find it.
func encodeSubject(s string) string {
	words := strings.Fields(s)
	out := make([]string, 0, len(words))
	var run []string
	flush := func() {
		if len(run) > 0 {
			out = append(out, qEncode(strings.Join(run, " ")))
			run = run[:0]
		}
	}
	for _, w := range words {
		if isASCIIWord(w) {
			flush()
			out = append(out, w)
		} else {
			run = append(run, w)
		}
	}
	flush()
	return strings.Join(out, " ")
}

// qEncode encodes s as RFC 2047 "Q" encoded words of at most 75
// characters, never splitting a character. Unlike mime.QEncoding it always
// encodes, so ASCII text that looks like an encoded word stays literal.
func qEncode(s string) string {
	const prefix, suffix, max = "=?utf-8?q?", "?=", 75
	var words []string
	var b strings.Builder
	b.WriteString(prefix)
	for _, r := range s {
		var enc string
		switch {
		case r == ' ':
			enc = "_"
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!*+-/", r)):
			enc = string(r)
		default:
			var buf [utf8.UTFMax]byte
			for _, c := range buf[:utf8.EncodeRune(buf[:], r)] {
				enc += fmt.Sprintf("=%02X", c)
			}
		}
		if b.Len()+len(enc)+len(suffix) > max {
			b.WriteString(suffix)
			words = append(words, b.String())
			b.Reset()
			b.WriteString(prefix)
		}
		b.WriteString(enc)
	}
	b.WriteString(suffix)
	return strings.Join(append(words, b.String()), " ")
}

// isASCIIWord reports whether w can stand unencoded in a header: printable
// ASCII that does not look like the start of an encoded word.
func isASCIIWord(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] < '!' || w[i] > '~' {
			return false
		}
	}
	return !strings.Contains(w, "=?")
}

// cleanID returns a message id without angle brackets, or "" when it is
// not a usable one (empty, too long, or with spaces, brackets or controls).
func cleanID(id string) string {
	id = strings.TrimSpace(id)
	id = strings.TrimPrefix(id, "<")
	id = strings.TrimSuffix(id, ">")
	if id == "" || len(id) > maxIDLen {
		return ""
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return ""
		}
	}
	return id
}

// isToken reports whether s is non-empty printable ASCII without spaces or ';'.
func isToken(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == ';' {
			return false
		}
	}
	return true
}

// HeaderGetter is any message header: go-message's mail.Header and
// textproto.Header, net/mail.Header and net/textproto.MIMEHeader all fit.
type HeaderGetter interface {
	Get(key string) string
}

// HasOurMarker reports whether h carries our MarkerHeader, meaning the
// message is one of ours (or a copy or bounce that kept our header) and
// must never be answered.
func HasOurMarker(h HeaderGetter) bool {
	return h != nil && strings.TrimSpace(h.Get(MarkerHeader)) != ""
}
