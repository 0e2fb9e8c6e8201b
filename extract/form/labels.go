package form

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Keys for the two authority tick boxes. LabelKey returns them for the boxes'
// printed wording (they are not Fields JSON names); Set with one of them and a
// ticked value sets Fields.Authority, and an unticked value changes nothing.
const (
	KeyGuardianBox    = "authority_guardian_under_16" // "is under 16 and I am their legal guardian..."
	KeyLPAOrDeputyBox = "authority_lpa_or_deputy"     // "does not have capacity ... lasting power of attorney..."
)

// labelKeys maps a squashed label (lower case, letters and digits only) to its
// Fields JSON name. Squashing makes "First name", "first_name", "FirstName"
// and "First-name" the same key.
var labelKeys = map[string]string{
	// gender
	"gender": "gender", "sex": "gender", "genderidentity": "gender",

	// first name
	"firstname": "first_name", "firstnames": "first_name", "forename": "first_name",
	"forenames": "first_name", "givenname": "first_name", "givennames": "first_name",
	"christianname": "first_name", "fname": "first_name",

	// last name
	"lastname": "last_name", "surname": "last_name", "familyname": "last_name",
	"lname": "last_name",

	// date of birth
	"dateofbirth": "date_of_birth", "dob": "date_of_birth", "birthdate": "date_of_birth",
	"dateofbirthddmmyyyy": "date_of_birth", "birthday": "date_of_birth",

	// NHS number
	"nhsnumber": "nhs_number", "nhsno": "nhs_number", "nhs": "nhs_number",
	"nhsnum": "nhs_number", "nhsnr": "nhs_number", "nhsnumberifknown": "nhs_number",

	// GP practice
	"registeredgppractice": "gp_practice", "gppractice": "gp_practice", "gp": "gp_practice",
	"gpsurgery": "gp_practice", "registeredgp": "gp_practice", "registeredgpsurgery": "gp_practice",
	"gppracticename": "gp_practice", "surgery": "gp_practice", "practice": "gp_practice",
	"gpname": "gp_practice", "generalpractice": "gp_practice", "doctorssurgery": "gp_practice",
	"registeredpractice": "gp_practice", "gpaddress": "gp_practice",

	// email
	"email": "email", "emailaddress": "email", "emailaddr": "email", "mail": "email",

	// postal address
	"postaladdress": "postal_address", "address": "postal_address", "homeaddress": "postal_address",
	"fulladdress": "postal_address", "residentialaddress": "postal_address",
	"postaladdressincludingpostcode": "postal_address",

	// postcode
	"postcode": "postcode", "zip": "postcode", "zipcode": "postcode", "postalcode": "postcode",

	// on behalf
	"areyoucompletingthisformonbehalfofanotherperson": "on_behalf", "onbehalf": "on_behalf",
	"onbehalfofanotherperson": "on_behalf", "completingonbehalf": "on_behalf",
	"onbehalfofsomeoneelse": "on_behalf",

	// relationship
	"ifyeswhatisyourrelationshiptothisperson": "relationship", "relationship": "relationship",
	"relationshiptothisperson": "relationship", "yourrelationship": "relationship",
	"relationshiptoperson": "relationship", "relationshiptopatient": "relationship",

	// authority
	"authority": "authority", "legalauthority": "authority",
	"authorityguardianunder16": KeyGuardianBox, "authoritylpaordeputy": KeyLPAOrDeputyBox,

	// declaration
	"ihavereadtheleafletandunderstandconsequencesofoptingout":    "declaration",
	"ihavereadtheleafletandunderstandtheconsequencesofoptingout": "declaration",
	"declaration": "declaration", "ihavereadtheleaflet": "declaration",

	// full name and signature
	"yourfullname": "full_name", "fullname": "full_name", "printname": "full_name",
	"nameinfull": "full_name", "signature": "signature", "signed": "signature",
	"sign": "signature", "yoursignature": "signature",
}

// LabelKey maps a printed label or one of its common variants ("Forename",
// "Surname", "DOB", "NHS No.", "Post code", "E-mail", ...) to a Fields JSON
// name such as "first_name", ignoring case, punctuation and '*' marks. It
// returns "" for a label that is not on the form.
//
// The two authority tick boxes' wording maps to KeyGuardianBox and
// KeyLPAOrDeputyBox, which Set understands.
func LabelKey(label string) string {
	if len(label) > 400 {
		return ""
	}
	joined, n := labelWords(label)
	if n == 0 {
		return ""
	}
	sq := strings.ReplaceAll(joined, " ", "")
	if k, ok := labelKeys[sq]; ok {
		return k
	}
	// Printed labels sometimes carry a hint: "Date of birth (DD/MM/YYYY)",
	// "NHS number if known", "Email address (optional)".
	if i := strings.IndexAny(label, "(["); i > 0 {
		if k := LabelKey(label[:i]); k != "" {
			return k
		}
	}
	for _, suffix := range []string{"optional", "ifknown", "ifapplicable", "required", "mandatory"} {
		if s, ok := strings.CutSuffix(sq, suffix); ok && s != "" {
			if k, ok := labelKeys[s]; ok {
				return k
			}
		}
	}
	// Long printed wording, matched on its distinctive phrases.
	words := n
	joined = " " + joined + " "
	switch {
	case words >= 4 && strings.Contains(joined, " under 16 ") &&
		(strings.Contains(joined, "guardian") || strings.Contains(joined, "parental")):
		return KeyGuardianBox
	case words >= 4 && (strings.Contains(joined, "power of attorney") ||
		strings.Contains(joined, "court of protection") || strings.Contains(joined, " capacity ")):
		return KeyLPAOrDeputyBox
	case words >= 3 && strings.Contains(joined, " read the leaflet"):
		return "declaration"
	case words >= 3 && strings.Contains(joined, " on behalf of "):
		return "on_behalf"
	case words >= 3 && strings.Contains(joined, " relationship to "):
		return "relationship"
	}
	return ""
}

// labelWords lower-cases label and returns its words of letters and digits
// joined by single spaces, and how many there are. '#' and '№' read as "no"
// ("NHS #"), camelCase splits ("FirstName"), and everything else
// (punctuation, '*', '_', colons) separates words.
func labelWords(label string) (string, int) {
	var b strings.Builder
	b.Grow(len(label) + 4)
	n := 0
	inWord := false
	word := func() {
		if !inWord {
			if n > 0 {
				b.WriteByte(' ')
			}
			n++
			inWord = true
		}
	}
	var prev rune
	for _, r := range label {
		switch {
		case r == '#' || r == '№':
			inWord = false
			word()
			b.WriteString("no")
			inWord = false
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if unicode.IsUpper(r) && unicode.IsLower(prev) {
				inWord = false
			}
			word()
			if r < utf8.RuneSelf {
				if 'A' <= r && r <= 'Z' {
					r += 'a' - 'A'
				}
				b.WriteByte(byte(r))
			} else {
				b.WriteRune(unicode.ToLower(r))
			}
		default:
			inWord = false
		}
		prev = r
	}
	return b.String(), n
}
