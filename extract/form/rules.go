package form

import "time"

// LabelKey maps a printed label or one of its common variants ("Forename",
// "Surname", "DOB", "NHS No.", "Post code", "E-mail", ...) to a Fields JSON
// name such as "first_name", ignoring case, punctuation and '*' marks. It
// returns "" for a label that is not on the form.
func LabelKey(label string) string { return "" }

// Set stores a raw value read from a file under a Fields JSON name. Boolean
// fields (on_behalf, declaration) take tick marks and yes/no words; authority
// takes the tick-box wording or the canonical value. It reports whether key
// names a field.
func (f *Fields) Set(key, value string) bool { return false }

// Ticked reports whether a value means a ticked box: X, x, [x], ☒, ✓, ✔, Yes, true...
func Ticked(value string) bool { return false }

// Check normalises f in place (date of birth to YYYY-MM-DD, NHS number to 10
// digits, postcode to upper case with one space, when they parse) and returns
// every problem with it, judged on the day now.
func Check(f *Fields, now time.Time) []Problem { return nil }

// Finish checks a form read by a reader: it appends Check's problems to those
// the reader found and sets Valid (no problem is an error).
func Finish(fm *Form, now time.Time) {
	fm.Problems = append(fm.Problems, Check(&fm.Fields, now)...)
	fm.Valid = true
	for _, p := range fm.Problems {
		if p.Severity == SeverityError {
			fm.Valid = false
		}
	}
	if fm.Problems == nil {
		fm.Problems = []Problem{}
	}
}
