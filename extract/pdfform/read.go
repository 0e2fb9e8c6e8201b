package pdfform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/ledongthuc/pdf"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// readGuarded reads a file that passed the guard: first as it is, then,
// when ledongthuc/pdf cannot open or parse it, once more after pdfcpu has
// rewritten it.
func readGuarded(ctx context.Context, data []byte, g guardResult, lim Limits) ([]form.Form, error) {
	forms, err := attempt(ctx, data, g, lim)
	if err == nil || !retryable(err) {
		return forms, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	fixed, rerr := rewriteRecovered(data, g.encrypted, lim)
	if rerr != nil {
		if errors.Is(rerr, errPassword) {
			return nil, unreadable(CodeEncrypted)
		}
		var ge *guardError
		if errors.As(rerr, &ge) {
			return nil, rerr
		}
		if g.encrypted && isUnsupportedEncryption(err) {
			return nil, unreadable(CodeEncrypted)
		}
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	g2, gerr := guard(fixed, Limits{MaxObjects: lim.MaxObjects, MaxPages: lim.MaxPages})
	if gerr != nil {
		return nil, gerr
	}
	return attempt(ctx, fixed, g2, lim)
}

// rewriteRecovered runs rewrite under a recover: pdfcpu panics too.
func rewriteRecovered(data []byte, encrypted bool, lim Limits) (out []byte, err error) {
	defer func() {
		if x := recover(); x != nil {
			panics.Add(1)
			out, err = nil, &parseError{panicked: true, why: fmt.Sprint(x), stack: debug.Stack()}
		}
	}()
	return rewrite(data, encrypted, lim)
}

// retryable reports whether a failed attempt may succeed after pdfcpu has
// rewritten the file: the file could not be opened or parsed. Answers about
// the form itself (scanned, no form, too many pages) are final.
func retryable(err error) bool {
	var ue *form.UnreadableError
	if errors.As(err, &ue) {
		return false
	}
	return !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// isUnsupportedEncryption reports whether ledongthuc/pdf refused a file for
// its encryption.
func isUnsupportedEncryption(err error) bool {
	s := err.Error()
	return strings.Contains(s, "encrypt") || strings.Contains(s, "password")
}

// attempt opens data with ledongthuc/pdf and reads the form from it. Panics
// inside the library become a *parseError so that readGuarded can retry.
func attempt(ctx context.Context, data []byte, g guardResult, lim Limits) (forms []form.Form, err error) {
	defer func() {
		if x := recover(); x != nil {
			panics.Add(1)
			forms, err = nil, &parseError{panicked: true, why: fmt.Sprint(x), stack: debug.Stack()}
		}
	}()
	if g.headerOffset > 0 {
		data = data[g.headerOffset:]
	}
	if g.version20 || !headerOK(data) {
		// The library only accepts "%PDF-1.[0-7]" and an end of line; PDF
		// 2.0 is the same syntax, so say 1.7 in a copy.
		data = patchHeader(data)
	}
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, &parseError{why: "open: " + err.Error()}
	}
	d := &doc{r: r, ctx: ctx, lim: lim, aes: r.Trailer().Key("Encrypt").Key("V").Int64() == 4}
	return d.read()
}

// headerOK reports whether data starts the way ledongthuc/pdf insists on.
func headerOK(data []byte) bool {
	return len(data) > 9 && bytes.HasPrefix(data, []byte("%PDF-1.")) &&
		data[7] >= '0' && data[7] <= '7' && (data[8] == '\r' || data[8] == '\n')
}

// patchHeader returns a copy of data whose first line says %PDF-1.7, keeping
// every byte offset: only the version digits and the character after them
// change, and only when that character is a space or tab.
func patchHeader(data []byte) []byte {
	if len(data) < 10 || !bytes.HasPrefix(data, []byte("%PDF-")) {
		return data
	}
	out := make([]byte, len(data))
	copy(out, data)
	if out[6] == '.' {
		out[5], out[7] = '1', '7'
	}
	if out[8] == ' ' || out[8] == '\t' {
		out[8] = '\n'
	}
	return out
}

// doc is one opened file being read.
type doc struct {
	r   *pdf.Reader
	ctx context.Context
	lim Limits
	aes bool // strings were AES-encrypted: the library leaves padding on
}

// read reads the form: from the AcroForm fields when they hold values,
// otherwise from the text layer.
func (d *doc) read() ([]form.Form, error) {
	root := d.r.Trailer().Key("Root")
	if root.Kind() != pdf.Dict {
		return nil, &parseError{why: "no document catalog"}
	}
	pages, err := d.pages(root.Key("Pages"))
	if err != nil {
		return nil, err
	}

	fields, hasFields, filled, unnamed := d.readFields(root.Key("AcroForm"))
	if len(unnamed) > 0 && d.besideBoxes(&fields, unnamed, pages) {
		filled = true
	}
	if filled {
		return []form.Form{{Format: form.FormatPDFFields, Fields: fields}}, nil
	}

	tx := &textReader{d: d}
	for _, p := range pages {
		if err := d.ctx.Err(); err != nil {
			return nil, err
		}
		tx.page(p)
	}
	if tx.err != nil {
		return nil, tx.err
	}
	forms := matchForms(buildLines(tx.collect))
	if hasFields && !anyValue(forms) {
		// A fillable form nobody filled in: staff see a blank form.
		return []form.Form{{Format: form.FormatPDFFields, Fields: fields}}, nil
	}
	if len(forms) > 0 {
		return forms, nil
	}
	if hasFields {
		// A fillable form nobody filled in: staff see a blank form.
		return []form.Form{{Format: form.FormatPDFFields, Fields: fields}}, nil
	}
	if tx.runs == 0 {
		if tx.images > 0 {
			return nil, unreadable(CodeScanned)
		}
		return nil, unreadable(CodeNoForm)
	}
	return nil, unreadable(CodeNoForm)
}

// anyValue reports whether any form holds a value.
func anyValue(forms []form.Form) bool {
	for _, f := range forms {
		if f.Fields != (form.Fields{}) {
			return true
		}
	}
	return false
}

// pages walks the page tree and returns the page dictionaries in order,
// refusing more than MaxPages and stopping at loops and deep trees.
func (d *doc) pages(node pdf.Value) ([]pdf.Value, error) {
	var out []pdf.Value
	visited := 0
	var walk func(v pdf.Value, depth int) error
	walk = func(v pdf.Value, depth int) error {
		visited++
		if depth > maxTreeDepth || visited > 4*max(d.lim.MaxPages, 1)+maxTreeDepth {
			return &parseError{why: "page tree too deep or looping"}
		}
		if v.Kind() != pdf.Dict {
			return nil
		}
		kids := v.Key("Kids")
		if v.Key("Type").Name() == "Page" || kids.Kind() != pdf.Array {
			out = append(out, v)
			if d.lim.MaxPages > 0 && len(out) > d.lim.MaxPages {
				return unreadable(CodeTooLarge)
			}
			return nil
		}
		for i := 0; i < kids.Len(); i++ {
			if err := walk(kids.Index(i), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(node, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// inherited returns key from page or the nearest /Parent that has it, with
// a bounded walk: a /Parent loop would spin the library's own helper forever.
func inherited(page pdf.Value, key string) pdf.Value {
	v := page
	for i := 0; i < maxTreeDepth && v.Kind() == pdf.Dict; i++ {
		if r := v.Key(key); !r.IsNull() {
			return r
		}
		v = v.Key("Parent")
	}
	return pdf.Value{}
}
