// Package extract turns one email, or one bare form file, into checked opt-out
// forms. It joins the MIME reader (extract/message), the form readers
// (extract/pdfform, extract/docform) and the rules (extract/form), and owns the
// JSON contract printed by `optoutd extract --json`.
package extract

import (
	"github.com/ncl-icb/optout-intake/extract/form"
)

// Kind classifies a whole message or file. The values are part of the JSON contract.
type Kind string

// The kinds of message.
const (
	KindSubmission Kind = "submission" // carries at least one form
	KindContact    Kind = "contact"    // a person writing, with no form
	KindAuto       Kind = "auto"       // automatic mail that must never be answered
	KindUnreadable Kind = "unreadable" // could not be parsed at all
)

// Result is what `optoutd extract --json` prints for one file: one JSON object per line.
type Result struct {
	File  string      `json:"file"`
	Kind  Kind        `json:"kind"`
	Forms []form.Form `json:"forms"`
	Notes []string    `json:"notes"`
}
