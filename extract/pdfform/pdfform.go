// Package pdfform reads the opt-out form from a PDF: a fillable form's
// AcroForm fields, or a printed or flattened form's text layer. PDFs are
// hostile input; a malformed file ends as an error, never a crash or a hang.
//
// Read is the only entry point. Before github.com/ledongthuc/pdf sees a file,
// a guard checks its header, its size and every table size the library would
// trust (trailer /Size, xref counts, object stream /N, ...) against what the
// file's length could hold. The parse runs in its own goroutine under a
// recover and the caller's deadline. A file the library cannot open (PDF
// 2.0, AES-256 encryption, a broken xref table) is rewritten in memory by
// github.com/pdfcpu/pdfcpu, under the same guards, before one retry.
//
// The package owns no state and does no I/O besides reading the bytes given.
//
// A goroutine cannot be killed: a file that makes the library loop forever
// keeps burning one CPU after Read has returned CodeTimeout. The guard
// closes the loops known today; a daemon that must survive anything should
// also run Read in a child process with a memory and time limit.
package pdfform

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// The stable codes of the *form.UnreadableError values Read returns.
const (
	CodeNotPDF    = "not_a_pdf"     // the bytes are not a PDF at all
	CodeTooLarge  = "pdf_too_large" // larger than Limits.MaxBytes, or more pages than Limits.MaxPages
	CodeDamaged   = "pdf_damaged"   // a PDF that cannot be parsed, even after repair
	CodeEncrypted = "pdf_encrypted" // needs a password to open
	CodeScanned   = "pdf_scanned"   // pages of images: no text layer and no form fields
	CodeTimeout   = "pdf_timeout"   // reading took longer than the caller's deadline
	CodeNoForm    = "pdf_no_form"   // a readable PDF in which none of the form's labels appear
)

// messages are the sentences for staff, one per code. They never quote
// the file's content.
var messages = map[string]string{
	CodeNotPDF:    "The file is named or sent as a PDF but is not one; ask the resident to send the form again as a PDF or Word file.",
	CodeTooLarge:  "The PDF is larger than the service reads automatically; open it by hand and key the form in.",
	CodeDamaged:   "The PDF is damaged and could not be read; open it by hand, or ask the resident to send the form again.",
	CodeEncrypted: "The PDF is protected by a password; ask the resident to send it again without a password.",
	CodeScanned:   "The PDF is a scan or photo with no text to read; open it by hand and key the form in.",
	CodeTimeout:   "The PDF took too long to read and was given up; open it by hand and key the form in.",
	CodeNoForm:    "The PDF has text but not the opt-out form's labels; open it by hand to see what the resident sent.",
}

// unreadable returns the *form.UnreadableError for code.
func unreadable(code string) *form.UnreadableError {
	return &form.UnreadableError{Code: code, Message: messages[code]}
}

// Limits bound the work done on one PDF.
type Limits struct {
	MaxBytes   int64 // largest file read; bigger is CodeTooLarge
	MaxObjects int   // most objects a file may declare; more is CodeDamaged
	MaxPages   int   // most pages read; more is CodeTooLarge
}

// DefaultLimits are the limits used when none are configured.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 35 << 20, MaxObjects: 200000, MaxPages: 50}
}

// Limits on work inside one file that do not need configuring.
const (
	maxStreamBytes = 16 << 20 // decompressed size of one content stream or CMap
	maxFields      = 2000     // AcroForm field tree nodes visited
	maxTreeDepth   = 32       // depth of the page tree, field tree, /Parent chains
	maxXObjectNest = 8        // form XObjects drawn inside form XObjects
	maxGlyphRuns   = 200000   // text runs collected from one file
)

// panics counts panics recovered inside the PDF libraries (the tests read
// it through Panics, in export_test.go).
var panics atomic.Int64

// Read reads the forms in one PDF. Forms come back with Format set and their
// Fields filled, but not yet checked (no Problems from form.Check). A file that
// cannot be read as a form returns a *form.UnreadableError.
//
// Read stops at ctx's deadline with CodeTimeout; give it one (a few seconds
// is plenty: a real form takes well under a millisecond).
func Read(ctx context.Context, data []byte, lim Limits) ([]form.Form, error) {
	if err := ctx.Err(); err != nil {
		return nil, unreadable(CodeTimeout)
	}
	g, err := guard(data, lim)
	if err != nil {
		return nil, toUnreadable(err)
	}
	type result struct {
		forms []form.Form
		err   error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if x := recover(); x != nil {
				panics.Add(1)
				r = result{err: &parseError{panicked: true, why: fmt.Sprint(x), stack: debug.Stack()}}
			}
			done <- r
		}()
		r.forms, r.err = readGuarded(ctx, data, g, lim)
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, toUnreadable(r.err)
		}
		return r.forms, nil
	case <-ctx.Done():
		return nil, unreadable(CodeTimeout)
	}
}

// parseError is an internal failure to parse; it becomes CodeDamaged unless
// it carries another code.
type parseError struct {
	code     string
	panicked bool
	why      string
	stack    []byte
}

func (e *parseError) Error() string { return "parse pdf: " + e.why }

// toUnreadable turns an internal error into the *form.UnreadableError the
// caller sees.
func toUnreadable(err error) *form.UnreadableError {
	var ue *form.UnreadableError
	if errors.As(err, &ue) {
		return ue
	}
	var ge *guardError
	if errors.As(err, &ge) {
		return unreadable(ge.code)
	}
	var pe *parseError
	if errors.As(err, &pe) && pe.code != "" {
		return unreadable(pe.code)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return unreadable(CodeTimeout)
	}
	return unreadable(CodeDamaged)
}
