package form

import (
	"strings"
	"time"
	"unicode"
)

// maxValueLen bounds one field's value; longer values are cut (a form field is
// never this long, and the cap keeps hostile input from growing the store).
const maxValueLen = 2000

// Set stores a raw value read from a file under a Fields JSON name. Boolean
// fields (on_behalf, declaration) take tick marks and yes/no words, or a
// printed "Yes No" choice with one answer marked; authority takes the
// tick-box wording or the canonical value; KeyGuardianBox and
// KeyLPAOrDeputyBox take a tick. Text is trimmed and its whitespace
// collapsed; the postal address's lines are joined with ", ". An empty value
// leaves the field as it was. It reports whether key names a field.
func (f *Fields) Set(key, value string) bool {
	switch key {
	case "on_behalf", "declaration":
		if strings.TrimSpace(value) == "" {
			return true
		}
		yes, ok := yesNoChoice(value)
		if !ok {
			// Free text in a box: "I have read it" counts as ticked, an
			// unreadable answer as not.
			yes = key == "declaration" && looksAffirmative(value)
		}
		if key == "on_behalf" {
			f.OnBehalf = yes
		} else {
			f.Declaration = yes
		}
		return true
	case "authority":
		if a := authorityValue(value); a != "" {
			f.Authority = a
		}
		return true
	case KeyGuardianBox:
		if Ticked(value) {
			f.Authority = AuthorityGuardian
		}
		return true
	case KeyLPAOrDeputyBox:
		if Ticked(value) {
			f.Authority = AuthorityLPAOrDeputy
		}
		return true
	}
	p := f.TextField(key)
	if p == nil {
		return false
	}
	var v string
	switch key {
	case "postal_address":
		v = joinLines(value)
	case "postcode":
		v = strings.TrimSpace(value) // NormalisePostcode judges the inner spaces
		if len(v) > 64 {
			v = collapse(v)
		}
	default:
		v = collapse(value)
	}
	if key == "email" {
		v = strings.TrimPrefix(strings.TrimPrefix(v, "mailto:"), "MAILTO:")
		v = strings.Trim(v, "<>")
	}
	if v != "" {
		*p = v
	}
	return true
}

// TextField returns a pointer to the text field whose JSON name is key
// ("first_name", "authority", ...), or nil when key names no text field.
func (f *Fields) TextField(key string) *string {
	switch key {
	case "gender":
		return &f.Gender
	case "first_name":
		return &f.FirstName
	case "last_name":
		return &f.LastName
	case "date_of_birth":
		return &f.DateOfBirth
	case "nhs_number":
		return &f.NHSNumber
	case "gp_practice":
		return &f.GPPractice
	case "email":
		return &f.Email
	case "postal_address":
		return &f.PostalAddress
	case "postcode":
		return &f.Postcode
	case "relationship":
		return &f.Relationship
	case "authority":
		return &f.Authority
	case "full_name":
		return &f.FullName
	case "signature":
		return &f.Signature
	}
	return nil
}

// BoolField returns a pointer to the yes/no field whose JSON name is key
// ("on_behalf", "declaration"), or nil when key names no such field.
func (f *Fields) BoolField(key string) *bool {
	switch key {
	case "on_behalf":
		return &f.OnBehalf
	case "declaration":
		return &f.Declaration
	}
	return nil
}

// authorityValue maps a canonical authority or the tick boxes' wording to an
// Authority value, or "".
func authorityValue(value string) string {
	v := strings.ToLower(collapse(value))
	switch {
	case v == AuthorityGuardian, v == "guardian":
		return AuthorityGuardian
	case v == AuthorityLPAOrDeputy, v == "lpa", v == "deputy":
		return AuthorityLPAOrDeputy
	case strings.Contains(v, "under 16"), strings.Contains(v, "under16"),
		strings.Contains(v, "guardian"), strings.Contains(v, "parental"):
		return AuthorityGuardian
	case strings.Contains(v, "power of attorney"), strings.Contains(v, "deputy"),
		strings.Contains(v, "court of protection"), strings.Contains(v, "capacity"),
		strings.Contains(v, "lpa"), strings.Contains(v, "attorney"):
		return AuthorityLPAOrDeputy
	}
	return ""
}

// looksAffirmative reports whether free text in a tick box reads as agreement
// ("I have read the leaflet", "I understand").
func looksAffirmative(value string) bool {
	v := strings.ToLower(value)
	if strings.Contains(v, "not ") || strings.Contains(v, "n't") || strings.Contains(v, "no ") {
		return false
	}
	return strings.Contains(v, "i have read") || strings.Contains(v, "i understand") ||
		strings.Contains(v, "i agree") || strings.Contains(v, "i confirm")
}

// collapse trims s, turns every run of whitespace (newlines included) into one
// space, drops control characters and cuts it to maxValueLen bytes.
func collapse(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r), r == '\uFEFF', r == '\u200B':
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if b.Len()+len(string(r)) > maxValueLen {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// joinLines collapses each line of s and joins the non-empty ones with ", ".
func joinLines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var parts []string
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.Trim(collapse(line), ", ")
		if line != "" {
			parts = append(parts, line)
		}
	}
	return collapse(strings.Join(parts, ", "))
}

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
