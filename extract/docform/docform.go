// Package docform reads the opt-out form from Word documents, JSON, CSV and
// plain text ("Label: value" lines, in a file or typed into an email body).
package docform

import (
	"errors"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// ErrNoForm is returned when the input holds nothing that looks like a form.
var ErrNoForm = errors.New("no form found")

// ReadDOCX reads a Word .docx file. Forms come back unchecked (no Problems
// from form.Check). A file that cannot be read returns a *form.UnreadableError.
func ReadDOCX(data []byte) ([]form.Form, error) { return nil, errors.New("not implemented yet") }

// ReadJSON reads one JSON object or an array of objects, one form each.
func ReadJSON(data []byte) ([]form.Form, error) { return nil, errors.New("not implemented yet") }

// ReadCSV reads a CSV file with a header row of labels; each data row is one form.
func ReadCSV(data []byte) ([]form.Form, error) { return nil, errors.New("not implemented yet") }

// ReadText reads "Label: value" lines. It returns ErrNoForm when the text
// does not look like a form (so an ordinary email body is not one).
func ReadText(text string) ([]form.Form, error) { return nil, ErrNoForm }
