// Package docform reads the opt-out form from Word documents, JSON, CSV and
// plain text ("Label: value" lines, in a file or typed into an email body).
// Every reader turns its input into label/value pairs and fills form.Fields
// through form.LabelKey and form.Fields.Set; none of them checks the form
// (that is form.Check's job). The package owns no state and does no I/O: it
// reads byte slices the caller has already bounded, and applies its own size,
// count and depth limits on top, since every input is outside input.
package docform

import (
	"errors"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// ErrNoForm is returned when the input holds nothing that looks like a form.
var ErrNoForm = errors.New("no form found")

// Limits on outside input. Inputs over them are unreadable, never truncated
// silently.
const (
	maxTextBytes = 2 << 20  // a text file or email body
	maxJSONBytes = 8 << 20  // a JSON file
	maxJSONDepth = 32       // nesting of JSON objects and arrays
	maxCSVBytes  = 16 << 20 // a CSV file
	maxForms     = 10000    // forms from one JSON or CSV file
	maxCSVFields = 512      // columns in one CSV row
)

// unreadable builds the error for input that cannot be read as a form.
func unreadable(code, msg string) error {
	return &form.UnreadableError{Code: code, Message: msg}
}
