package intake

import (
	"regexp"
	"strings"
)

// maxScanBytes bounds how much of a body the personal-data scan reads; the
// redaction of a longer body keeps only this much.
const maxScanBytes = 256 << 10

// Redacted replaces each personal value in a redacted copy.
const Redacted = "[redacted]"

var (
	// nhsLike: ten digits, alone or grouped 3-3-4 with spaces, hyphens or
	// dots, not part of a longer number (telephone numbers have 11 digits).
	nhsLike = regexp.MustCompile(`(^|[^0-9])([0-9]{3}[ .\-]?[0-9]{3}[ .\-]?[0-9]{4})($|[^0-9])`)
	// dateLike: numeric dates (12/03/1980, 1980-03-12, 12.3.80) and dates
	// with a month name (12 March 1980, March 12th 1980, 12-Mar-80).
	dateLike = regexp.MustCompile(`(?i)\b(` +
		`[0-9]{1,2}[/.\-][0-9]{1,2}[/.\-][0-9]{2,4}` +
		`|[0-9]{4}[/.\-][0-9]{1,2}[/.\-][0-9]{1,2}` +
		`|[0-9]{1,2}(st|nd|rd|th)?[ \-]+(of[ ]+)?` + monthNames + `[a-z]*\.?,?[ \-]+[0-9]{2,4}` +
		`|` + monthNames + `[a-z]*\.?[ \-]+[0-9]{1,2}(st|nd|rd|th)?,?[ \-]+[0-9]{2,4}` +
		`)\b`)
	// dobLabel: "DOB", "D.O.B.", "date of birth", "born on".
	dobLabel = regexp.MustCompile(`(?i)\b(d\.?\s?o\.?\s?b\.?|date\s+of\s+birth|born\s+on)\b`)
	// nhsLabel: "NHS number", "NHS no".
	nhsLabel = regexp.MustCompile(`(?i)\bnhs\s*(number|no\.?|num)\b`)
)

const monthNames = `(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)`

// HasPersonalData reports whether text looks as though it holds an NHS
// number or a date of birth: ten digits shaped like an NHS number, a date,
// or the words "NHS number" / "date of birth" followed by a value. It errs
// towards yes: a false alarm costs only a redacted copy.
func HasPersonalData(text string) bool {
	if len(text) > maxScanBytes {
		text = text[:maxScanBytes]
	}
	// Judge the text Redact would keep: dropping invalid bytes can join
	// two runs of digits into one number.
	text = strings.ToValidUTF8(text, "")
	return nhsLike.MatchString(text) || dateLike.MatchString(text) ||
		dobLabel.MatchString(text) || nhsLabel.MatchString(text)
}

// Redact returns text with every NHS-number-like run of digits and every
// date replaced by Redacted, and with the rest of each line that names a
// date of birth or an NHS number removed as well. Text past maxScanBytes is
// dropped.
func Redact(text string) string {
	if len(text) > maxScanBytes {
		text = text[:maxScanBytes]
	}
	text = strings.ToValidUTF8(text, "")
	// Adjacent numbers share a separator, which one pass consumes: repeat.
	for range 4 {
		next := nhsLike.ReplaceAllString(text, "${1}"+Redacted+"${3}")
		if next == text {
			break
		}
		text = next
	}
	text = dateLike.ReplaceAllString(text, Redacted)
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		for _, re := range []*regexp.Regexp{dobLabel, nhsLabel} {
			if loc := re.FindStringIndex(line); loc != nil {
				rest := strings.TrimLeft(line[loc[1]:], " \t:=-–")
				if rest != "" && rest != Redacted {
					line = line[:len(line)-len(rest)] + Redacted
				}
			}
		}
		lines[i] = line
	}
	return strings.Join(lines, "\n")
}
