// Package message reads a raw RFC 5322 email into decoded headers, a text
// body and its attachments, and classifies automatic mail (auto-replies,
// bounces, mailing lists). It trusts nothing in the message: every read is
// bounded by Limits, panics from the MIME libraries are recovered, and damaged
// mail gives back what could be read together with an error.
//
// It owns no data: a Message lives as long as the caller keeps it. Notes and
// errors never quote personal data (names, addresses, file names, text): they
// name parts by number.
package message

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	_ "github.com/emersion/go-message/charset" // charsets beyond UTF-8 in headers and bodies
	"github.com/emersion/go-message/textproto"
	"golang.org/x/text/encoding/charmap"
)

// Limits bound what Parse will read from one message. A zero field takes its
// value from DefaultLimits.
type Limits struct {
	MaxMessageBytes    int64 // the whole raw message
	MaxAttachmentBytes int64 // one decoded attachment or body part (NHSmail's maximum is 35 MB)
	MaxParts           int   // MIME parts in all, at every depth, including files unpacked from winmail.dat
	MaxDepth           int   // nesting of multiparts and forwarded messages
}

// DefaultLimits are the limits used when none are configured.
func DefaultLimits() Limits {
	return Limits{MaxMessageBytes: 50 << 20, MaxAttachmentBytes: 35 << 20, MaxParts: 200, MaxDepth: 10}
}

// withDefaults fills zero or negative fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = d.MaxMessageBytes
	}
	if l.MaxAttachmentBytes <= 0 {
		l.MaxAttachmentBytes = d.MaxAttachmentBytes
	}
	if l.MaxParts <= 0 {
		l.MaxParts = d.MaxParts
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	return l
}

// maxHeaderBytes bounds one header block (the top-level one and each part's).
const maxHeaderBytes = 1 << 20

// Attachment is one file carried by a message, decoded.
type Attachment struct {
	Name        string // file name as given by the sender, without any directory ("" when none)
	ContentType string // declared media type, lower case, without parameters: callers sniff the content
	Data        []byte
}

// Message is a parsed email.
type Message struct {
	Header      textproto.Header // the top-level header as sent (for example our own X-Optout-Intake marker)
	Size        int64            // raw bytes read
	From        string           // the From address (addr-spec only, lower-cased domain)
	FromName    string           // the From display name, decoded
	ReplyTo     string           // the Reply-To address, "" when absent
	To          []string         // the To and Cc addresses
	Subject     string           // decoded
	Date        time.Time        // zero when missing or unreadable (then a note says so)
	MessageID   string           // without angle brackets
	InReplyTo   string           // without angle brackets
	References  []string         // without angle brackets, oldest first
	Body        string           // the text body: plain part preferred, HTML turned into text otherwise
	Attachments []Attachment     // in the order they appear, forwarded messages' and winmail.dat's included
	Auto        bool             // automatic mail that must never be answered
	AutoReason  string           // why Auto is set: a short code, see Classify
	// BouncedMessageID is, for a delivery report (bounce), the Message-ID of
	// the message that could not be delivered, without angle brackets; "" when
	// the report does not say.
	BouncedMessageID string
	// BounceStatus and BounceDiagnostic are, for a delivery report, the
	// status code ("5.1.1") and the receiving server's words
	// ("smtp; 550 5.1.1 ... User unknown") of its first failed recipient
	// (or its first recipient when none says failed), as the
	// message/delivery-status part gives them; "" when it does not. The
	// diagnostic often names the recipient's address: personal data.
	BounceStatus, BounceDiagnostic string
	// Encrypted says the message carries encrypted content that was not
	// read: EncryptedSMIME or EncryptedPGP, "" when none was seen.
	Encrypted string
	Notes     []string // what staff should know about how the message was read
}

// ErrTooLarge is returned (wrapped) when a message breaks a size limit.
var ErrTooLarge = errors.New("message exceeds a size limit")

// ErrTooDeep is returned (wrapped, together with ErrTooLarge) when multiparts
// or forwarded messages nest deeper than Limits.MaxDepth.
var ErrTooDeep = errors.New("message nests too deeply")

// ErrTooManyParts is returned (wrapped, together with ErrTooLarge) when a
// message has more than Limits.MaxParts parts.
var ErrTooManyParts = errors.New("message has too many parts")

// ErrDamaged is returned (wrapped) when the MIME structure is broken: a
// missing boundary, a truncated part, a malformed header.
var ErrDamaged = errors.New("message is damaged")

// maxErrors bounds the errors joined into Parse's result.
const maxErrors = 8

// Parse reads one raw message. It returns what it could read together with
// an error when the message is damaged or breaks a limit, so callers can
// still use the headers, body and attachments read so far; the returned
// Message is never nil. Errors wrap ErrTooLarge (and ErrTooDeep or
// ErrTooManyParts) for a limit, ErrDamaged for broken MIME.
func Parse(r io.Reader, lim Limits) (msg *Message, err error) {
	lim = lim.withDefaults()
	msg = &Message{}
	lr := &limitReader{r: r, left: lim.MaxMessageBytes}
	p := &parser{lim: lim, msg: msg}
	if l, ok := r.(interface{ Len() int }); ok {
		p.src = l
	}
	defer func() {
		if v := recover(); v != nil {
			p.fail(panicError(v))
		}
		msg.Size = lr.read
		if lr.exceeded {
			p.errs = append([]error{fmt.Errorf("read message: more than %d bytes: %w", lim.MaxMessageBytes, ErrTooLarge)}, p.errs...)
			p.note(fmt.Sprintf("the message is larger than %d bytes: only its first part was read", lim.MaxMessageBytes))
		}
		p.finish()
		err = p.err()
	}()
	p.top(lr)
	return msg, nil
}

// panicError turns a recovered panic into an error without quoting the
// message: only runtime errors (index out of range...) are described.
func panicError(v any) error {
	if re, ok := v.(runtime.Error); ok {
		return fmt.Errorf("read message: %w (%v): %w", errRecovered, re, ErrDamaged)
	}
	return fmt.Errorf("read message: %w (%T): %w", errRecovered, v, ErrDamaged)
}

// parser holds the state of one Parse.
type parser struct {
	lim        Limits
	msg        *Message
	parts      int
	stop       bool // a limit was hit that ends all reading
	errs       []error
	reportType string   // report-type of a multipart/report, "" when none
	dsnPart    bool     // a message/delivery-status part was seen
	forwarded  []string // bodies of forwarded messages, used when the outer body is empty
	hdr        textproto.Header
	src        interface{ Len() int } // the source, when it knows how much is left unread (a bytes.Reader)
	mbox       bool                   // the message began with an mbox "From " line
	envelope   string                 // that line's envelope sender
}

// level collects the text parts of one message (the outer one or a forwarded one).
type level struct {
	plain []string
	html  []string
}

// text returns the plain text parts joined, or the HTML ones as text when
// there is no plain text.
func (lv *level) text() string {
	if s := strings.TrimSpace(normalizeNewlines(strings.Join(lv.plain, "\n"))); s != "" {
		return s
	}
	var b strings.Builder
	for _, h := range lv.html {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(htmlText([]byte(validUTF8(h))))
	}
	return strings.TrimSpace(b.String())
}

func (p *parser) note(s string) {
	if len(p.msg.Notes) < 50 {
		p.msg.Notes = append(p.msg.Notes, s)
	}
}

func (p *parser) fail(err error) {
	if len(p.errs) < maxErrors {
		p.errs = append(p.errs, err)
	}
}

func (p *parser) err() error {
	switch len(p.errs) {
	case 0:
		return nil
	case 1:
		return p.errs[0]
	}
	return errors.Join(p.errs...)
}

// top reads the top-level header and walks the body.
func (p *parser) top(lr *limitReader) {
	hl := &headerLimit{r: lr, left: maxHeaderBytes}
	br := bufio.NewReaderSize(hl, 16<<10)
	p.mbox, p.envelope = skipMboxLine(br)
	h, herr := textproto.ReadHeader(br)
	hl.left = -1 // the header is read: lift its limit
	p.hdr = h
	p.msg.Header = h
	if herr != nil {
		if hl.exceeded {
			p.fail(fmt.Errorf("read message header: more than %d bytes: %w", maxHeaderBytes, ErrTooLarge))
			p.note("the message header is too large: the message was not read")
			p.headers(h)
			p.stop = true
			return
		}
		p.fail(fmt.Errorf("read message header: %w: %w", ErrDamaged, herr))
		p.note("the message header is damaged: some header fields may be missing")
	}
	p.headers(h)
	e := newEntity(h, br)
	lv := &level{}
	p.entity(e, 0, lv, false)
	p.msg.Body = lv.text()
	if p.msg.Body == "" {
		for _, f := range p.forwarded {
			if f != "" {
				p.msg.Body = f
				p.note("the message has no text of its own: the body is the forwarded message's")
				break
			}
		}
	}
}

// maxMboxLine bounds the mbox "From " line skipped before the header.
const maxMboxLine = 4096

// skipMboxLine reads past a leading mbox "From " line (the separator mbox
// files and many saved bounces begin with: "From MAILER-DAEMON Thu Apr 29
// 10:20:30 2021"), which is not a header field and would otherwise end the
// header before it starts. It reports whether there was one and returns its
// envelope sender ("" when the line gives none). A line longer than
// maxMboxLine is skipped all the same.
func skipMboxLine(br *bufio.Reader) (bool, string) {
	if b, _ := br.Peek(5); string(b) != "From " {
		return false, ""
	}
	var line []byte
	for n := 0; ; {
		chunk, err := br.ReadSlice('\n')
		if len(line) < maxMboxLine {
			line = append(line, chunk[:min(len(chunk), maxMboxLine-len(line))]...)
		}
		n += len(chunk)
		if err != bufio.ErrBufferFull || n > maxMessageLine {
			break
		}
	}
	return true, mboxSender(string(line))
}

// maxMessageLine bounds how far skipMboxLine reads looking for the end of
// the line: past it the rest is read as the header.
const maxMessageLine = 1 << 20

// mboxSender returns the envelope sender of an mbox "From " line: its
// second word, "" when it is missing or empty ("<>").
func mboxSender(line string) string {
	f := strings.Fields(line)
	if len(f) < 2 {
		return ""
	}
	s := strings.Trim(f[1], "<>")
	return validUTF8(s)
}

// headers fills the decoded header fields of msg.
func (p *parser) headers(h textproto.Header) {
	m := p.msg
	if from, ok := parseAddresses(h.Get("From")); len(from) > 0 {
		m.From, m.FromName = validUTF8(from[0].addr), stripControls(validUTF8(from[0].name))
		if !ok {
			p.note("the From address is malformed: it was read leniently")
		}
	}
	if rt, _ := parseAddresses(h.Get("Reply-To")); len(rt) > 0 {
		m.ReplyTo = rt[0].addr
	}
	for _, k := range []string{"To", "Cc"} {
		for _, v := range h.Values(k) {
			list, _ := parseAddresses(v)
			for _, a := range list {
				if len(m.To) < maxAddresses && a.addr != "" {
					m.To = append(m.To, a.addr)
				}
			}
		}
	}
	subj, ok := decodeWords(h.Get("Subject"))
	if !ok {
		p.note("the subject uses an unknown charset: it is shown undecoded")
	}
	m.Subject = strings.TrimSpace(stripControls(validUTF8(subj)))
	if v := h.Get("Date"); v != "" {
		if t, ok := parseDate(v); ok {
			m.Date = t
		} else {
			p.note("the Date header could not be read")
		}
	}
	m.MessageID = firstID(h.Get("Message-Id"))
	m.InReplyTo = firstID(h.Get("In-Reply-To"))
	refs := msgIDs(h.Get("References"))
	if len(refs) > maxReferences {
		refs = refs[len(refs)-maxReferences:]
	}
	m.References = refs
}

// entity reads one MIME entity at depth, adding its text to lv.
func (p *parser) entity(e *entity, depth int, lv *level, inReport bool) {
	if p.stop {
		return
	}
	p.parts++
	if p.parts > p.lim.MaxParts {
		p.fail(fmt.Errorf("read part %d: more than %d parts: %w: %w", p.parts, p.lim.MaxParts, ErrTooManyParts, ErrTooLarge))
		p.note(fmt.Sprintf("the message has more than %d parts: the rest was not read", p.lim.MaxParts))
		p.stop = true
		return
	}
	n := p.parts
	ctype, cparams := e.ctype, e.cparams
	if e.garbled {
		p.note(fmt.Sprintf("part %d declares an unknown transfer encoding or charset: it is read as it is", n))
	}
	disp, dparams := parseParams(e.Header.Get("Content-Disposition"))
	name := dparams["filename"]
	if name == "" {
		name = cparams["name"]
	}
	name = cleanName(name)

	switch {
	case strings.HasPrefix(ctype, "multipart/"):
		p.multipart(e, ctype, depth, lv, inReport)
	case ctype == "message/rfc822" || ctype == "message/global":
		if inReport {
			p.bounced(e.Body)
			return
		}
		p.forward(e, n, depth)
	case ctype == "text/rfc822-headers" || ctype == "message/rfc822-headers" || ctype == "message/global-headers":
		if inReport || p.reportType != "" {
			p.bounced(e.Body)
			return
		}
		p.attach(e, n, name, ctype)
	case ctype == "message/delivery-status" || ctype == "message/global-delivery-status":
		p.dsnPart = true
		p.deliveryStatus(e.Body)
	case ctype == "message/disposition-notification" || ctype == "message/global-disposition-notification":
		if p.reportType == "" {
			p.reportType = "disposition-notification"
		}
	case isSignature(ctype):
		// A detached signature: nothing to read.
	case ctype == "application/pkcs7-mime" || ctype == "application/x-pkcs7-mime":
		st := strings.ToLower(cparams["smime-type"])
		switch st {
		case cmsSignedData, cmsEnvelopedData, cmsAuthEnveloped, cmsCompressedData:
			// Not read, but consumed, so Size counts the whole message.
			_, _ = io.Copy(io.Discard, e.Body)
		default:
			// No smime-type (older clients) or an unknown one: the
			// content's own type says what it is.
			if b, _ := p.read(e, n); b != nil {
				st = cmsContentType(b)
			}
		}
		switch st {
		case cmsSignedData:
			p.note("opaque-signed S/MIME content cannot be read: ask the sender to sign without opaque signing or to send without signing")
		case cmsCompressedData:
			p.note("compressed S/MIME content cannot be read")
		default:
			p.note("encrypted S/MIME content cannot be read")
			if p.msg.Encrypted == "" {
				p.msg.Encrypted = EncryptedSMIME
			}
		}
	case isTNEF(ctype, name):
		p.tnef(e, n, name, ctype)
	case (ctype == "text/plain" || ctype == "text/html") && disp != "attachment" && name == "":
		b, ok := p.read(e, n)
		if !ok && b == nil {
			return
		}
		if ctype == "text/plain" {
			lv.plain = append(lv.plain, validUTF8(string(b)))
		} else {
			lv.html = append(lv.html, string(b))
		}
	case strings.HasPrefix(ctype, "text/") && disp != "attachment" && name == "":
		// Other inline text without a name (text/enriched, text/watch-html,
		// text/calendar in an alternative): not the body, not a file.
	default:
		p.attach(e, n, name, ctype)
	}
}

// multipart reads the parts of a multipart entity.
func (p *parser) multipart(e *entity, ctype string, depth int, lv *level, inReport bool) {
	sub := strings.TrimPrefix(ctype, "multipart/")
	if sub == "encrypted" {
		p.note("encrypted PGP/MIME content cannot be read")
		if p.msg.Encrypted == "" {
			p.msg.Encrypted = EncryptedPGP
		}
		return
	}
	if depth+1 > p.lim.MaxDepth {
		p.fail(fmt.Errorf("read part %d: nested more than %d deep: %w: %w", p.parts, p.lim.MaxDepth, ErrTooDeep, ErrTooLarge))
		p.note(fmt.Sprintf("parts nested more than %d deep were not read", p.lim.MaxDepth))
		return
	}
	if sub == "report" {
		rt := strings.ToLower(e.cparams["report-type"])
		if rt == "" {
			rt = "unknown"
		}
		if p.reportType == "" {
			p.reportType = rt
		}
		inReport = true
	}
	n := p.parts
	boundary := e.cparams["boundary"]
	if boundary == "" || len(boundary) > 200 {
		p.fail(fmt.Errorf("read part %d: multipart without a usable boundary: %w", n, ErrDamaged))
		p.note(fmt.Sprintf("part %d is a multipart without a usable boundary: it was not read", n))
		return
	}
	mr := textproto.NewMultipartReader(e.Body, boundary)
	for i := 0; !p.stop; i++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			return
		}
		if err != nil {
			p.fail(fmt.Errorf("read parts of part %d: %w: %w", n, ErrDamaged, err))
			p.note("the message's MIME structure is damaged: some parts may be missing")
			return
		}
		if sub == "signed" && i > 0 {
			p.parts++ // the signature: counted, not read
			continue
		}
		p.entity(newEntity(part.Header, part), depth+1, lv, inReport)
	}
}

// forward reads a forwarded message (message/rfc822): its attachments join
// the message's, its text is kept for when the outer body is empty.
func (p *parser) forward(e *entity, n, depth int) {
	if depth+1 > p.lim.MaxDepth {
		p.fail(fmt.Errorf("read part %d: nested more than %d deep: %w: %w", n, p.lim.MaxDepth, ErrTooDeep, ErrTooLarge))
		p.note(fmt.Sprintf("a forwarded message nested more than %d deep was not read", p.lim.MaxDepth))
		return
	}
	hl := &headerLimit{r: e.Body, left: maxHeaderBytes}
	br := bufio.NewReader(hl)
	h, err := textproto.ReadHeader(br)
	hl.left = -1
	if err != nil {
		p.fail(fmt.Errorf("read forwarded message in part %d: %w: %w", n, ErrDamaged, err))
		p.note(fmt.Sprintf("the forwarded message in part %d is damaged", n))
		if hl.exceeded {
			return
		}
	}
	lv := &level{}
	p.entity(newEntity(h, br), depth+1, lv, false)
	p.forwarded = append(p.forwarded, lv.text())
}

// bounced reads the header of the message returned in a delivery report and
// keeps its Message-ID.
func (p *parser) bounced(r io.Reader) {
	br := bufio.NewReader(io.LimitReader(r, maxHeaderBytes))
	h, _ := textproto.ReadHeader(br)
	if id := firstID(h.Get("Message-Id")); id != "" && p.msg.BouncedMessageID == "" {
		p.msg.BouncedMessageID = id
	}
}

// maxDeliveryStatusBytes bounds the delivery-status part read.
const maxDeliveryStatusBytes = 64 << 10

// deliveryStatus reads a delivery report's message/delivery-status part
// (RFC 3464: the per-message fields, then a block of fields per recipient)
// and keeps the Status and Diagnostic-Code of the first recipient whose
// Action is failed, or else of the first recipient with a Status.
func (p *parser) deliveryStatus(r io.Reader) {
	if p.msg.BounceStatus != "" {
		return
	}
	b, _ := io.ReadAll(io.LimitReader(r, maxDeliveryStatusBytes))
	var first, failed [2]string
	var block [2]string
	var action string
	var last string // the field a folded line continues
	end := func() {
		if block[0] != "" && first[0] == "" {
			first = block
		}
		if block[0] != "" && action == "failed" && failed[0] == "" {
			failed = block
		}
		block, action, last = [2]string{}, "", ""
	}
	for line := range strings.Lines(strings.ReplaceAll(string(b), "\r\n", "\n")) {
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.TrimSpace(line) == "":
			end()
		case line[0] == ' ' || line[0] == '\t':
			if last == "diagnostic-code" {
				block[1] += " " + strings.TrimSpace(line)
			}
		default:
			k, v, _ := strings.Cut(line, ":")
			last, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
			switch last {
			case "status":
				block[0] = v
			case "diagnostic-code":
				block[1] = v
			case "action":
				action = strings.ToLower(v)
			}
		}
	}
	end()
	if failed[0] == "" {
		failed = first
	}
	p.msg.BounceStatus, p.msg.BounceDiagnostic = failed[0], failed[1]
}

// attach reads a part as an attachment.
func (p *parser) attach(e *entity, n int, name, ctype string) {
	b, ok := p.read(e, n)
	if b == nil && !ok {
		return
	}
	p.msg.Attachments = append(p.msg.Attachments, Attachment{Name: name, ContentType: ctype, Data: b})
}

// tnef unpacks a winmail.dat part. When it holds no file or cannot be read,
// the winmail.dat itself is kept, with a note.
func (p *parser) tnef(e *entity, n int, name, ctype string) {
	b, ok := p.read(e, n)
	if b == nil && !ok {
		return
	}
	room := p.lim.MaxParts - p.parts
	if room < 0 {
		room = 0
	}
	atts, err := decodeTNEF(b, room)
	p.parts += len(atts)
	switch {
	case len(atts) > 0:
		p.msg.Attachments = append(p.msg.Attachments, atts...)
		if err != nil {
			p.note(fmt.Sprintf("the winmail.dat in part %d is damaged: some of its files may be missing", n))
			if errors.Is(err, ErrTooLarge) {
				p.fail(fmt.Errorf("unpack winmail.dat in part %d: %w: %w", n, ErrTooManyParts, err))
			}
		}
	default:
		p.note(fmt.Sprintf("the winmail.dat in part %d could not be unpacked: it is kept as it is", n))
		p.msg.Attachments = append(p.msg.Attachments, Attachment{Name: name, ContentType: ctype, Data: b})
	}
}

// read reads one decoded part, at most MaxAttachmentBytes. ok is false when
// the part was too large (b is nil) or damaged (b holds what was read).
func (p *parser) read(e *entity, n int) (b []byte, ok bool) {
	b, err := readCapped(e.Body, p.lim.MaxAttachmentBytes, p.sizeHint(e))
	switch {
	case errors.Is(err, errPartTooLarge):
		p.fail(fmt.Errorf("read part %d: more than %d bytes decoded: %w", n, p.lim.MaxAttachmentBytes, ErrTooLarge))
		p.note(fmt.Sprintf("part %d is larger than %d bytes: it was left out", n, p.lim.MaxAttachmentBytes))
		return nil, false
	case errors.Is(err, errMessageTooLarge):
		p.stop = true
		p.note(fmt.Sprintf("part %d was cut short by the message size limit", n))
		return b, false
	case err != nil:
		p.fail(fmt.Errorf("read part %d: %w: %w", n, ErrDamaged, err))
		p.note(fmt.Sprintf("part %d is damaged or truncated: what could be read is kept", n))
		return b, false
	}
	return b, true
}

// sizeHint bounds the decoded size of the part e from the raw bytes not
// yet read (0 when unknown): no part can decode to more than what is left
// of the message, plus what the MIME reader holds in its buffers, and a
// base64 part to three quarters of it.
func (p *parser) sizeHint(e *entity) int64 {
	if p.src == nil {
		return 0
	}
	left := int64(p.src.Len()) + readAheadSlack
	if strings.EqualFold(strings.TrimSpace(e.Header.Get("Content-Transfer-Encoding")), "base64") {
		left = left/4*3 + 3
	}
	return left
}

// readAheadSlack bounds what go-message's buffered readers have taken from
// the source but not yet handed on (4 KB a level, MaxDepth levels).
const readAheadSlack = 1 << 16

// isSignature reports a detached signature part.
func isSignature(ctype string) bool {
	switch ctype {
	case "application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature":
		return true
	}
	return false
}

// isTNEF reports an Outlook TNEF part (winmail.dat).
func isTNEF(ctype, name string) bool {
	switch ctype {
	case "application/ms-tnef", "application/vnd.ms-tnef", "application/x-tnef":
		return true
	}
	return strings.EqualFold(name, "winmail.dat")
}

// maxNameBytes bounds a file name.
const maxNameBytes = 255

// cleanName makes a sender's file name safe to show and store: no directory
// (Windows or Unix), no control characters, valid UTF-8, at most 255 bytes.
func cleanName(s string) string {
	s = validUTF8(s)
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	s = strings.TrimSpace(stripControls(s))
	s = strings.Trim(s, `"'`)
	if s == "." || s == ".." {
		return ""
	}
	for len(s) > maxNameBytes {
		_, size := lastRune(s)
		s = s[:len(s)-size]
	}
	return s
}

func lastRune(s string) (rune, int) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i]&0xc0 != 0x80 {
			return rune(s[i]), len(s) - i
		}
	}
	return 0, 1
}

// normalizeNewlines turns CRLF and lone CR line ends into LF.
func normalizeNewlines(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// validUTF8 returns s when it is valid UTF-8. Otherwise it is raw 8-bit
// text from a client that did not encode its header or body: it is read as
// Windows-1252 (a superset of ISO-8859-1 for printable text), which is what
// such clients almost always send in the UK.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	d, err := charmap.Windows1252.NewDecoder().String(s)
	if err != nil {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return d
}

// stripControls removes control characters (a header value has no line
// breaks once unfolded; a decoded one may smuggle them in).
func stripControls(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' {
			return ' '
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// errMessageTooLarge and errPartTooLarge are internal: Parse reports them as
// errors wrapping ErrTooLarge.
var (
	errMessageTooLarge = errors.New("message size limit reached")
	errPartTooLarge    = errors.New("part size limit reached")
	errHeaderTooLarge  = errors.New("header size limit reached")
	errUnknownCharset  = errors.New("unknown charset")
	errRecovered       = errors.New("recovered from a bug in the MIME reader")
)

// limitReader reads at most left bytes of r; reading past that fails with
// errMessageTooLarge and sets exceeded.
type limitReader struct {
	r        io.Reader
	left     int64
	read     int64
	exceeded bool
}

func (l *limitReader) Read(b []byte) (int, error) {
	if l.exceeded {
		return 0, errMessageTooLarge
	}
	if int64(len(b)) > l.left+1 {
		b = b[:l.left+1]
	}
	n, err := l.r.Read(b)
	if int64(n) > l.left {
		n = int(l.left)
		l.exceeded = true
		err = errMessageTooLarge
	}
	l.left -= int64(n)
	l.read += int64(n)
	return n, err
}

// headerLimit bounds a header block; left < 0 means no limit.
type headerLimit struct {
	r        io.Reader
	left     int64
	exceeded bool
}

func (h *headerLimit) Read(b []byte) (int, error) {
	if h.left < 0 {
		return h.r.Read(b)
	}
	if h.left == 0 {
		h.exceeded = true
		return 0, errHeaderTooLarge
	}
	if int64(len(b)) > h.left {
		b = b[:h.left]
	}
	n, err := h.r.Read(b)
	h.left -= int64(n)
	return n, err
}

// readCapped reads all of r into one slice, failing with errPartTooLarge
// past max bytes. It reads into a list of chunks and copies them once at the
// end, so a part of n bytes costs about 2n of allocation (a growing buffer
// would cost up to 3n and hold two copies while growing). When hint bounds
// the part's size (hint > 0), a part past 1 MB is read straight into one
// buffer of that size instead: about n of allocation, which keeps a 20 MB
// attachment within the memory target.
func readCapped(r io.Reader, max, hint int64) ([]byte, error) {
	const first, most = 16 << 10, 1 << 20
	var chunks [][]byte
	var total int64
	size := first
	var err error
	for {
		if hint > 0 && total >= most {
			return readRest(r, chunks, total, max, hint)
		}
		buf := make([]byte, size)
		n := 0
		for n < len(buf) && err == nil {
			var m int
			m, err = r.Read(buf[n:])
			n += m
		}
		chunks = append(chunks, buf[:n])
		total += int64(n)
		if total > max {
			return nil, errPartTooLarge
		}
		if err != nil {
			break
		}
		if size < most {
			size *= 2
		}
	}
	if err == io.EOF {
		err = nil
	}
	var out []byte
	if len(chunks) == 1 {
		out = chunks[0]
	} else {
		out = make([]byte, 0, total)
		for _, c := range chunks {
			out = append(out, c...)
		}
	}
	if len(out) == 0 && err == nil {
		out = []byte{}
	}
	return out, err
}

// readRest finishes readCapped for a large part: the chunks read so far and
// the rest of r go into one buffer of the hinted size (grown by append if
// the hint was short), trimmed to size when the hint was far too long.
func readRest(r io.Reader, chunks [][]byte, total, limit, hint int64) ([]byte, error) {
	size := min(limit+1, max(hint, total+1<<20))
	out := make([]byte, 0, size)
	for _, c := range chunks {
		out = append(out, c...)
	}
	var err error
	for err == nil {
		if len(out) == cap(out) {
			out = append(out, 0)[:len(out)] // the hint was short: grow
		}
		var m int
		m, err = r.Read(out[len(out):cap(out)])
		out = out[:len(out)+m]
		if int64(len(out)) > limit {
			return nil, errPartTooLarge
		}
	}
	if err == io.EOF {
		err = nil
	}
	if waste := cap(out) - len(out); waste > 1<<20 && waste > len(out)/4 {
		// The hint counted later parts too: do not keep their room.
		out = append([]byte(nil), out...)
	}
	return out, err
}

// ParseHeader reads only the top-level header of raw (at most 1 MiB of
// it) and returns a Message with its header fields set: From, FromName,
// ReplyTo, To, Subject, Date, MessageID, InReplyTo, References and Header.
// It never fails: a damaged header gives what could be read. The poller
// calls it once per message; the header facts are then recorded with the
// message (store.RecordMessage) and read from there.
func ParseHeader(raw []byte) *Message {
	msg := &Message{}
	p := &parser{lim: DefaultLimits(), msg: msg}
	defer func() {
		if v := recover(); v != nil {
			p.fail(panicError(v))
		}
	}()
	hl := &headerLimit{r: bytes.NewReader(raw), left: maxHeaderBytes}
	br := bufio.NewReaderSize(hl, 16<<10)
	skipMboxLine(br) // as Parse does: a saved message may begin with one
	h, _ := textproto.ReadHeader(br)
	msg.Header = h
	p.headers(h)
	return msg
}
