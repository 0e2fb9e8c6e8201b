// Package extract turns one email, or one bare form file, into checked opt-out
// forms. It joins the MIME reader (extract/message), the form readers
// (extract/pdfform, extract/docform) and the rules (extract/form), and owns the
// JSON contract printed by `optoutd extract --json`.
package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ncl-icb/optout-intake/extract/docform"
	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/extract/message"
	"github.com/ncl-icb/optout-intake/extract/pdfform"
)

// Kind classifies a whole message or file. The values are part of the JSON contract.
type Kind string

// The kinds of message.
const (
	KindSubmission Kind = "submission" // carries at least one form
	KindContact    Kind = "contact"    // a person writing, with no form
	KindAuto       Kind = "auto"       // automatic mail that must never be answered
	KindUnreadable Kind = "unreadable" // could not be parsed at all
	// KindProtected (protected.go) is a message whose content is encrypted
	// and cannot be opened by the service.
)

// Result is what `optoutd extract --json` prints for one file: one JSON object per line.
type Result struct {
	File  string      `json:"file"`
	Kind  Kind        `json:"kind"`
	Forms []form.Form `json:"forms"`
	Notes []string    `json:"notes"`
	// AutoReason says, for kind auto only, why the message is automatic: a
	// stable code (message.ReasonDSN, message.ReasonNoReply...). Absent for
	// the other kinds.
	AutoReason string `json:"auto_reason,omitempty"`
	// Protection is the code (ProtectedRPMsg, ProtectedPortal, ...) of the
	// first protection found, "" when none. It is set whatever the kind (a
	// message may carry a readable form beside an encrypted archive); the
	// kind is protected when no form was read. In JSON it is only the note
	// that begins with the code.
	Protection string `json:"-"`
}

// Limits bound the work done on one message or file. A zero field takes its
// value from DefaultLimits.
type Limits struct {
	Message      message.Limits // the MIME reader's limits (message size, parts, depth)
	PDF          pdfform.Limits // the PDF reader's limits (bytes, objects, pages)
	MaxFileBytes int64          // one bare file or attachment given to a form reader
	FileTimeout  time.Duration  // reading one file or body; past it the file is a problem
	MaxForms     int            // forms kept from one file or message (a CSV may hold thousands)
}

// DefaultLimits are the limits used when none are configured: NHSmail's
// 35 MB attachment maximum, 10 s per file, 100 forms per message.
func DefaultLimits() Limits {
	return Limits{
		Message:      message.DefaultLimits(),
		PDF:          pdfform.DefaultLimits(),
		MaxFileBytes: 35 << 20,
		FileTimeout:  10 * time.Second,
		MaxForms:     100,
	}
}

// withDefaults fills zero or negative fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.Message == (message.Limits{}) {
		l.Message = d.Message
	}
	if l.PDF == (pdfform.Limits{}) {
		l.PDF = d.PDF
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = d.MaxFileBytes
	}
	if l.FileTimeout <= 0 {
		l.FileTimeout = d.FileTimeout
	}
	if l.MaxForms <= 0 {
		l.MaxForms = d.MaxForms
	}
	return l
}

// Extractor turns emails and bare files into Results. It holds no state
// besides its limits, its clock and a panic counter, and is safe for
// concurrent use.
type Extractor struct {
	lim     Limits
	now     func() time.Time
	pdfRead PDFReadFunc
	panics  atomic.Int64
}

// PDFReadFunc reads the forms in one PDF: pdfform.Read in this process, or
// (*pdfworker.Pool).Read in guarded child processes.
type PDFReadFunc func(ctx context.Context, data []byte, lim pdfform.Limits) ([]form.Form, error)

// WithPDFReader makes x read PDFs with read instead of pdfform.Read in this
// process. The daemon and `optoutd extract` pass a pdfworker.Pool's Read, so
// that no PDF can hang or kill the process, and so that what the PDF library
// prints about a file never reaches our own output. It returns x.
func (x *Extractor) WithPDFReader(read PDFReadFunc) *Extractor {
	x.pdfRead = read
	return x
}

// New returns an Extractor bounded by lim that judges dates (a date of birth
// in the future, a child's age) on the day now returns; a nil now is
// time.Now.
func New(lim Limits, now func() time.Time) *Extractor {
	if now == nil {
		now = time.Now
	}
	return &Extractor{lim: lim.withDefaults(), now: now}
}

// Panics returns how many panics inside the readers this Extractor has
// recovered; export it as optout_extract_panics_total.
func (x *Extractor) Panics() int64 { return x.panics.Load() }

// Read reads one file given on the command line: an email when it is named
// .eml or its content is a mail header block, otherwise a bare form file.
// The Result's File is name.
func (x *Extractor) Read(ctx context.Context, name string, data []byte) Result {
	var res Result
	ext := strings.ToLower(path.Ext(name))
	if ext == ".eml" || ext != ".txt" && Sniff(name, data) == TypeEmail {
		_, res = x.Email(ctx, data)
	} else {
		res = x.File(ctx, name, data)
	}
	res.File = name
	return res
}

// File reads one bare form file (.pdf, .docx, .json, .csv, .txt); name may
// be a path, and its last element is the forms' Source. Its kind
// is submission when a form was read from it, unreadable otherwise (the
// forms then hold the reason when the file claims to be a form, the notes
// when it does not).
func (x *Extractor) File(ctx context.Context, name string, data []byte) Result {
	res := Result{File: name, Kind: KindUnreadable}
	fr := x.readFile(ctx, filepath.Base(name), data)
	res.Forms = fr.Forms
	if fr.Note != "" {
		res.Notes = append(res.Notes, fr.Note)
	}
	if fr.Protection != "" {
		res.Protection = fr.Protection
		res.Notes = append(res.Notes, protectionNote(fr.Protection))
	}
	switch {
	case fr.Unreadable:
		res.Notes = append(res.Notes, "the file could not be read as a form")
	case len(fr.Forms) > 0:
		res.Kind = KindSubmission
	case fr.Protection != "":
		res.Kind = KindProtected
	default:
		res.Notes = append(res.Notes, "no form was found in the file")
	}
	return res.normalised()
}

// readFile is readAttachment with the Extractor's limits, clock and panic count.
func (x *Extractor) readFile(ctx context.Context, name string, data []byte) FileResult {
	fr := readAttachment(ctx, name, data, x.lim, x.now(), x.pdfRead)
	if fr.Panicked {
		x.panics.Add(1)
	}
	return fr
}

// Email reads one raw RFC 5322 message: its headers, its body (a form typed
// into it counts) and every attachment, forwarded messages' and
// winmail.dat's included. It returns the parsed message (never nil; partial
// when the message is damaged) and the Result: auto for automatic mail
// (whose forms are not read), submission when at least one form was found
// (an attached form file that cannot be read included), contact otherwise,
// protected when no form was read and the content is encrypted (Result.Protection
// and a note say how), unreadable when nothing at all could be read. The
// Result's File is "".
func (x *Extractor) Email(ctx context.Context, raw []byte) (*message.Message, Result) {
	res := Result{Kind: KindContact}
	msg, err := x.parse(raw)
	res.Notes = append(res.Notes, msg.Notes...)
	if err != nil {
		res.Notes = append(res.Notes, parseNote(err))
		if msg.From == "" && msg.MessageID == "" && msg.Body == "" && len(msg.Attachments) == 0 {
			res.Kind = KindUnreadable
			return msg, res.normalised()
		}
	}
	if msg.Auto {
		res.Kind = KindAuto
		reason := msg.AutoReason
		if reason == "" {
			reason = "automatic"
		}
		res.AutoReason = reason
		res.Notes = append(res.Notes, "automatic mail ("+reason+"): its forms are not read and it is never answered")
		return msg, res.normalised()
	}
	body := ownText(msg.Body)
	protections := []string{}
	if p := protection(msg, body); p != "" {
		protections = append(protections, p)
	}
	if body != "" {
		forms, err, panicked := guarded(ctx, x.lim.FileTimeout, []byte(body), func(_ context.Context, b []byte) ([]form.Form, error) {
			return docform.ReadText(string(b))
		})
		if panicked {
			x.panics.Add(1)
		}
		switch {
		case err == nil:
			for i := range forms {
				forms[i].Source = "body"
				if forms[i].Format == "" {
					forms[i].Format = form.FormatText
				}
				form.Finish(&forms[i], x.now())
			}
			res.Forms = append(res.Forms, forms...)
		case errors.Is(err, docform.ErrNoForm):
		default:
			res.Notes = append(res.Notes, "the text of the message could not be read as a form ("+problemFor(err).Code+")")
		}
	}
	for i, a := range msg.Attachments {
		if err := ctx.Err(); err != nil {
			res.Notes = append(res.Notes, fmt.Sprintf("reading stopped before attachment %d: %v", i+1, err))
			break
		}
		fr := x.readFile(ctx, a.Name, a.Data)
		res.Forms = append(res.Forms, fr.Forms...)
		if fr.Note != "" {
			res.Notes = append(res.Notes, fmt.Sprintf("attachment %d: %s", i+1, fr.Note))
		}
		if fr.Protection != "" && !slices.Contains(protections, fr.Protection) {
			protections = append(protections, fr.Protection)
		}
	}
	for _, p := range protections {
		res.Notes = append(res.Notes, protectionNote(p))
	}
	if len(protections) > 0 {
		res.Protection = protections[0]
		res.Kind = KindProtected
	}
	if len(res.Forms) > x.lim.MaxForms {
		res.Forms = res.Forms[:x.lim.MaxForms]
		res.Notes = append(res.Notes, fmt.Sprintf("only the first %d forms in the message were read", x.lim.MaxForms))
	}
	if len(res.Forms) > 0 {
		res.Kind = KindSubmission
	}
	return msg, res.normalised()
}

// parse runs message.Parse with panics recovered (it recovers its own; this
// is the boundary's second line).
func (x *Extractor) parse(raw []byte) (msg *message.Message, err error) {
	defer func() {
		if v := recover(); v != nil {
			x.panics.Add(1)
			err = fmt.Errorf("read message: the MIME reader crashed: %w", message.ErrDamaged)
		}
		if msg == nil {
			msg = &message.Message{}
		}
	}()
	if len(bytes.TrimSpace(raw)) == 0 {
		return &message.Message{}, fmt.Errorf("read message: the file is empty: %w", message.ErrDamaged)
	}
	return message.Parse(bytes.NewReader(raw), x.lim.Message)
}

// parseNote says in one sentence what went wrong reading a message.
func parseNote(err error) string {
	switch {
	case errors.Is(err, message.ErrTooLarge):
		return "the message breaks a size limit: only part of it was read"
	case errors.Is(err, message.ErrDamaged):
		return "the message is damaged: only part of it could be read"
	}
	return "the message could not be read completely"
}

// normalised returns r with Forms, Notes and every form's Problems non-nil,
// so they are JSON arrays, never null.
func (r Result) normalised() Result {
	if r.Forms == nil {
		r.Forms = []form.Form{}
	}
	if r.Notes == nil {
		r.Notes = []string{}
	}
	for i := range r.Forms {
		if r.Forms[i].Problems == nil {
			r.Forms[i].Problems = []form.Problem{}
		}
	}
	return r
}
