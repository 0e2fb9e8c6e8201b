// Package pdfform reads the opt-out form from a PDF: a fillable form's
// AcroForm fields, or a printed or flattened form's text layer. PDFs are
// hostile input; a malformed file ends as an error, never a crash or a hang.
package pdfform

import (
	"context"
	"errors"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// Limits bound the work done on one PDF.
type Limits struct {
	MaxBytes   int64
	MaxObjects int
	MaxPages   int
}

// DefaultLimits are the limits used when none are configured.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 35 << 20, MaxObjects: 200000, MaxPages: 50}
}

// Read reads the forms in one PDF. Forms come back with Format set and their
// Fields filled, but not yet checked (no Problems from form.Check). A file that
// cannot be read as a form returns a *form.UnreadableError.
func Read(ctx context.Context, data []byte, lim Limits) ([]form.Form, error) {
	return nil, errors.New("pdfform.Read: not implemented yet")
}
