package docform

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// minTextFields is how many distinct fields with values a text must have to
// count as a form, so an ordinary email that mentions an address or a GP is
// not read as one.
const minTextFields = 3

// ReadText reads "Label: value" lines. It returns ErrNoForm when the text
// does not look like a form (so an ordinary email body is not one).
//
// It accepts "Label: value", "Label - value", "Label value" for the form's
// labels, the value on the next line after a label ending in ':' or '?', tick
// lines ("[x] I have read the leaflet..."), and "Yes No" choices with one
// answer marked. Quoted reply lines ('>') are skipped, and reading stops at a
// signature ("-- ") or a quoted original message ("On ... wrote:",
// "-----Original Message-----", an Outlook "From:/Sent:" block).
func ReadText(text string) ([]form.Form, error) {
	if len(text) > maxTextBytes {
		return nil, unreadable("text_too_large", "The text is larger than a form can be; ask for the form as an attachment.")
	}
	text = strings.TrimPrefix(text, "\uFEFF")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.Split(text, "\n")
	var entries []entry
	for i, l := range lines {
		if endOfNewText(lines, i) {
			break
		}
		if strings.HasPrefix(strings.TrimLeft(l, " \t"), ">") {
			continue
		}
		entries = append(entries, entry{line: l})
	}
	var r reader
	r.read(entries)
	if r.valued() < minTextFields {
		return nil, ErrNoForm
	}
	return []form.Form{{Format: form.FormatText, Fields: r.fields, Problems: []form.Problem{}}}, nil
}

// endOfNewText reports whether line i starts the part of an email that is not
// the resident's new text: a signature or a quoted original message.
func endOfNewText(lines []string, i int) bool {
	l := strings.TrimSpace(lines[i])
	if lines[i] == "-- " || lines[i] == "--" {
		return true
	}
	ll := strings.ToLower(l)
	switch {
	case strings.HasPrefix(ll, "-----original message-----"),
		strings.HasPrefix(ll, "-----ursprüngliche nachricht-----"),
		ll == "sent from my iphone", ll == "sent from my ipad",
		strings.HasPrefix(ll, "sent from outlook for"):
		return true
	case strings.HasPrefix(ll, "on ") && strings.HasSuffix(ll, "wrote:"):
		return true
	case strings.HasSuffix(ll, "wrote:") && i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), ">"):
		return true
	case strings.HasPrefix(ll, "from:"):
		// An Outlook header block: From: then Sent: or Date: within a few lines.
		for j := i + 1; j < len(lines) && j <= i+3; j++ {
			n := strings.ToLower(strings.TrimSpace(lines[j]))
			if strings.HasPrefix(n, "sent:") || strings.HasPrefix(n, "date:") {
				return true
			}
		}
	case len(l) >= 20 && strings.Trim(l, "_") == "" && i+1 < len(lines) &&
		strings.HasPrefix(strings.ToLower(strings.TrimSpace(lines[i+1])), "from:"):
		return true
	}
	return false
}

// entry is one unit of input for reader: a line of text, or a label and value
// already paired (a two-column table row in a Word document).
type entry struct {
	line         string
	label, value string
	paired       bool
}

// reader fills one form from entries.
type reader struct {
	fields form.Fields
	labels map[string]bool // keys whose labels were seen
	values map[string]bool // keys given a value
}

// valued counts the distinct fields that were given a value.
func (r *reader) valued() int { return len(r.values) }

// set stores a value under key and records what was seen.
func (r *reader) set(key, value string) {
	if r.labels == nil {
		r.labels, r.values = map[string]bool{}, map[string]bool{}
	}
	r.labels[key] = true
	value = cleanValue(value)
	if value == "" {
		return
	}
	before := r.fields
	r.fields.Set(key, value)
	switch key {
	case "on_behalf", "declaration", form.KeyGuardianBox, form.KeyLPAOrDeputyBox, "authority":
		if r.fields != before || form.Ticked(value) || strings.EqualFold(value, "no") {
			r.values[key] = true
		}
	default:
		r.values[key] = true
	}
}

// tickKeys are the keys a tick mark beside the label sets.
var tickKeys = map[string]bool{
	"declaration": true, "on_behalf": true, form.KeyGuardianBox: true, form.KeyLPAOrDeputyBox: true,
}

// markRE matches a tick box or mark at the start or end of a line.
const markPattern = `(\[\s*[xX✓✔✗✘☒]?\s*\]|\(\s*[xX✓✔]?\s*\)|[☒☐☑✓✔✗✘□■]|\[\s*☒\s*\]|\[\s*☐\s*\])`

var (
	leadingMarkRE  = regexp.MustCompile(`^` + markPattern + `\s*(.+)$`)
	trailingMarkRE = regexp.MustCompile(`^(.+?)\s*` + markPattern + `$`)
	leadingXRE     = regexp.MustCompile(`^[xX]\s+(.+)$`)
)

// tickLine reads a line that is a tick box and its label: "[x] I have read
// the leaflet...", "I have read the leaflet... ☒", "X is under 16 and...".
func tickLine(line string) (key, mark string, ok bool) {
	try := func(label, mark string) bool {
		k := form.LabelKey(label)
		if tickKeys[k] {
			key = k
			return true
		}
		return false
	}
	// Cheap test first: a tick line starts or ends with a box, a mark or an X.
	first, _ := utf8.DecodeRuneInString(line)
	last, _ := utf8.DecodeLastRuneInString(line)
	if !strings.ContainsRune("[(xX☒☐☑✓✔✗✘□■", first) && !strings.ContainsRune("])☒☐☑✓✔✗✘□■", last) {
		return "", "", false
	}
	if m := leadingMarkRE.FindStringSubmatch(line); m != nil && try(m[2], m[1]) {
		return key, m[1], true
	}
	if m := trailingMarkRE.FindStringSubmatch(line); m != nil && try(m[1], m[2]) {
		return key, m[2], true
	}
	if m := leadingXRE.FindStringSubmatch(line); m != nil && try(m[1], "X") {
		return key, "X", true
	}
	return "", "", false
}

// separators split a label from its value, tried in order.
var separators = []string{":", "?", " - ", " – ", " — ", "\t", "|", "="}

// splitLabel finds a known label at the start of line. It returns the key,
// the value after the label ("" when there is none) and whether the label was
// followed by a separator such as ':' (so the value may be on the next line).
func splitLabel(line string) (key, value string, ok bool) {
	for _, sep := range separators {
		if i := strings.Index(line, sep); i > 0 {
			if k := form.LabelKey(line[:i]); k != "" {
				return k, strings.TrimSpace(line[i+len(sep):]), true
			}
		}
	}
	// "Label value" for the form's labels: the longest run of leading words
	// that is a label.
	words := strings.Fields(line)
	if len(words) > 40 {
		return "", "", false
	}
	for n := min(len(words), 14); n >= 1; n-- {
		if k := form.LabelKey(strings.Join(words[:n], " ")); k != "" {
			return k, strings.Join(words[n:], " "), true
		}
	}
	return "", "", false
}

// isLabelLine reports whether line starts with a label or is a tick line, so
// it cannot be the value of the label before it.
func isLabelLine(line string) bool {
	if _, _, ok := tickLine(line); ok {
		return true
	}
	_, _, ok := splitLabel(line)
	return ok
}

// read fills r.fields from entries.
func (r *reader) read(entries []entry) {
	for i := 0; i < len(entries); i++ {
		e := entries[i]
		if e.paired {
			if k := form.LabelKey(e.label); k != "" {
				r.set(k, e.value)
			}
			continue
		}
		line := cleanLine(e.line)
		if line == "" {
			continue
		}
		if key, mark, ok := tickLine(line); ok {
			r.set(key, mark)
			continue
		}
		key, value, ok := splitLabel(line)
		if !ok {
			continue
		}
		placeholder := value != "" // "_____" printed for the value
		value = cleanValue(value)
		// The value on the following line(s): one line, or several for the
		// postal address, up to a blank line or the next label.
		take := 0
		switch {
		case key == "postal_address":
			take = 6
		case key == "on_behalf" && value == "":
			// "Yes" and "No" boxes, on one line or one line each.
			for j := i + 1; j < len(entries) && j <= i+3 && !entries[j].paired; j++ {
				next := cleanLine(entries[j].line)
				if next == "" {
					continue
				}
				if !isChoiceLine(next) {
					break
				}
				value += " " + next
				i = j
			}
		case value == "":
			// The value on the next line; under a printed blank ("Label:
			// _____") only when the resident typed it right below.
			take = 1
		}
		blanks := 0
		for j := i + 1; take > 0 && j < len(entries) && !entries[j].paired; j++ {
			next := cleanLine(entries[j].line)
			if next == "" {
				if value != "" || placeholder || blanks >= 2 {
					break
				}
				blanks++
				continue
			}
			if isLabelLine(next) || strings.HasSuffix(next, ":") || isSignOff(next) {
				break
			}
			if value == "" {
				value = next
			} else {
				value += "\n" + next
			}
			i = j
			take--
			blanks = 0
		}
		r.set(key, value)
	}
}

// signOffs are the closing words of a letter, never a value typed under
// a label.
var signOffs = []string{"thanks", "thank you", "many thanks", "regards", "kind regards", "best regards",
	"best wishes", "yours sincerely", "yours faithfully", "cheers", "sent from"}

// isSignOff reports whether line is a letter's closing ("Kind regards,").
func isSignOff(line string) bool {
	l := strings.ToLower(strings.TrimRight(line, " ,.!"))
	for _, s := range signOffs {
		if l == s || strings.HasPrefix(l, "sent from ") {
			return true
		}
	}
	return false
}

// cleanLine trims a line and drops list bullets.
func cleanLine(s string) string {
	s = strings.TrimSpace(strings.TrimPrefix(s, "\uFEFF"))
	for _, b := range []string{"• ", "· ", "* ", "- ", "– "} {
		s = strings.TrimPrefix(s, b)
	}
	if len(s) > 4000 {
		s = s[:4000]
	}
	return strings.TrimSpace(s)
}

// cleanValue drops the blanks printed on the form ("_____", "......") and
// surrounding punctuation left over from the label.
func cleanValue(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimLeft(s, ":-–=| \t")
	if strings.Trim(s, "_.… \t") == "" {
		return ""
	}
	s = strings.TrimFunc(s, func(r rune) bool { return r == '_' || unicode.IsSpace(r) })
	return s
}

// isChoiceLine reports whether a line holds only "Yes"/"No" answers and
// tick boxes: "☒ Yes", "Yes [ ] No [x]".
func isChoiceLine(s string) bool {
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r)
	})
	if len(words) == 0 || len(words) > 4 {
		return false
	}
	for _, w := range words {
		if w != "yes" && w != "no" && w != "x" {
			return false
		}
	}
	return true
}
