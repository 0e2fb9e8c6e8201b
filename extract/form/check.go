package form

import (
	"net/mail"
	"strings"
	"time"
)

// Problem codes returned by Check. They are stable: the store, the triage page
// and outside checks match on them. Missing mandatory fields use the code
// "<field>_missing" (first_name_missing, date_of_birth_missing, ...).
const (
	CodeDeclarationNotTicked = "declaration_not_ticked"
	CodeNHSNumberFormat      = "nhs_number_format"
	CodeNHSNumberChecksum    = "nhs_number_checksum"
	CodeDOBFormat            = "date_of_birth_format"
	CodeDOBTwoDigitYear      = "date_of_birth_two_digit_year"
	CodeDOBImpossible        = "date_of_birth_impossible"
	CodeDOBFuture            = "date_of_birth_future"
	CodeDOBBefore1900        = "date_of_birth_before_1900"
	CodePostcodeFormat       = "postcode_format"
	CodePostcodeOutsideNCL   = "postcode_outside_ncl"
	CodePostcodePseudo       = "postcode_pseudo"
	CodeRelationshipMissing  = "relationship_missing"
	CodeAuthorityMissing     = "authority_missing"
	CodeAuthorityOver16      = "authority_child_over_16"
	CodeAuthorityNotOnBehalf = "authority_without_on_behalf"
	CodeEmailInvalid         = "email_invalid"
	CodeFullNameMissing      = "full_name_missing"
	CodeSignatureMissing     = "signature_missing"
)

// mandatory lists the fields that must have a value, with the words used for
// them in messages, in the form's order.
var mandatory = []struct{ key, words string }{
	{"first_name", "first name"},
	{"last_name", "last name"},
	{"date_of_birth", "date of birth"},
	{"nhs_number", "NHS number"},
	{"gp_practice", "registered GP practice"},
	{"postal_address", "postal address"},
	{"postcode", "postcode"},
}

// Check normalises f in place (date of birth to YYYY-MM-DD, NHS number to 10
// digits, postcode to upper case with one space, when they parse) and returns
// every problem with it, judged on now's calendar day in London. Errors stop the form being
// accepted; warnings are for staff to look at. Messages never quote the
// resident's values.
func Check(f *Fields, now time.Time) []Problem {
	var ps []Problem
	errorf := func(field, code, msg string) {
		ps = append(ps, Problem{Field: field, Severity: SeverityError, Code: code, Message: msg})
	}
	warnf := func(field, code, msg string) {
		ps = append(ps, Problem{Field: field, Severity: SeverityWarning, Code: code, Message: msg})
	}

	for _, p := range []*string{&f.Gender, &f.FirstName, &f.LastName, &f.DateOfBirth,
		&f.NHSNumber, &f.GPPractice, &f.Email, &f.Relationship,
		&f.FullName, &f.Signature} {
		*p = collapse(*p)
	}
	f.PostalAddress = joinLines(f.PostalAddress)
	f.Postcode = strings.TrimSpace(f.Postcode)
	if a := authorityValue(f.Authority); a != "" || f.Authority == "" {
		f.Authority = a
	} else {
		f.Authority = AuthorityNone // not a value the contract allows
	}

	for _, m := range mandatory {
		if *f.TextField(m.key) == "" {
			errorf(m.key, m.key+"_missing", "The "+m.words+" is missing; it is required.")
		}
	}

	if f.NHSNumber != "" {
		if d, ok := nhsDigits(f.NHSNumber); !ok {
			errorf("nhs_number", CodeNHSNumberFormat, "The NHS number is not 10 digits.")
		} else {
			f.NHSNumber = d
			if !nhsChecksumOK(d) {
				errorf("nhs_number", CodeNHSNumberChecksum,
					"The NHS number fails its check digit; it is probably mistyped.")
			}
		}
	}

	today := civilDate(now)
	var dob time.Time
	if f.DateOfBirth != "" {
		t, derr := parseDOB(f.DateOfBirth)
		switch derr {
		case dateOK:
			f.DateOfBirth = t.Format(time.DateOnly)
			switch {
			case t.After(today):
				errorf("date_of_birth", CodeDOBFuture, "The date of birth is in the future.")
			case t.Year() < 1900:
				errorf("date_of_birth", CodeDOBBefore1900, "The date of birth is before 1900.")
			default:
				dob = t
			}
		case dateTwoDigitYear:
			errorf("date_of_birth", CodeDOBTwoDigitYear,
				"The date of birth has a two-digit year; ask for the full four-digit year.")
		case dateImpossible:
			errorf("date_of_birth", CodeDOBImpossible,
				"The date of birth is not a real date (day or month out of range).")
		default:
			errorf("date_of_birth", CodeDOBFormat,
				"The date of birth could not be read as a day, month and year.")
		}
	}

	if f.Postcode != "" {
		if pc, ok := NormalisePostcode(f.Postcode); !ok {
			errorf("postcode", CodePostcodeFormat, "The postcode is not a valid UK postcode.")
		} else {
			f.Postcode = pc
			switch {
			case isPseudoPostcode(pc):
				warnf("postcode", CodePostcodePseudo,
					"The postcode is an NHS pseudo-postcode (such as no fixed abode); check the registered GP practice is in north central London.")
			case !InNCL(pc):
				warnf("postcode", CodePostcodeOutsideNCL,
					"The postcode is outside the north central London postcode districts; this opt-out covers NCL only.")
			}
		}
	}

	if !f.Declaration {
		errorf("declaration", CodeDeclarationNotTicked,
			"The declaration that the leaflet has been read is not ticked.")
	}

	if f.OnBehalf {
		if f.Relationship == "" {
			errorf("relationship", CodeRelationshipMissing,
				"The form is completed on behalf of another person but the relationship is missing.")
		}
		if f.Authority == AuthorityNone {
			errorf("authority", CodeAuthorityMissing,
				"The form is completed on behalf of another person but neither authority box is ticked.")
		}
	} else if f.Authority != AuthorityNone {
		warnf("on_behalf", CodeAuthorityNotOnBehalf,
			"An authority box is ticked but the form does not say it is completed on behalf of another person.")
	}
	if f.Authority == AuthorityGuardian && !dob.IsZero() && ageAtLeast(dob, today, 16) {
		errorf("authority", CodeAuthorityOver16,
			"The guardian authority is for a child under 16, but the date of birth makes the person 16 or over.")
	}

	if f.Email != "" && !validEmail(f.Email) {
		warnf("email", CodeEmailInvalid,
			"The email address does not look valid; an acknowledgement may not arrive.")
	}
	if f.FullName == "" {
		warnf("full_name", CodeFullNameMissing, "The full name of the person completing the form is missing.")
	}
	if f.Signature == "" {
		warnf("signature", CodeSignatureMissing, "The signature is missing.")
	}
	return ps
}

// validEmail reports whether s is one bare address with a dotted domain.
func validEmail(s string) bool {
	if len(s) > 254 || strings.ContainsAny(s, " <>,;\"") {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return false
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || strings.Contains(domain, "@") {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return false
		}
	}
	return true
}
