package form

import "strings"

// nhsDigits removes spaces and hyphens from an NHS number. ok is false when
// what is left is not exactly 10 ASCII digits.
func nhsDigits(s string) (digits string, ok bool) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == ' ' || r == '-' || r == '\t' || r == '\u00A0':
			continue
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			return "", false
		}
		if b.Len() > 10 {
			return "", false
		}
	}
	if b.Len() != 10 {
		return "", false
	}
	return b.String(), true
}

// nhsChecksumOK checks the Modulus 11 check digit of 10 ASCII digits.
func nhsChecksumOK(d string) bool {
	sum := 0
	for i := range 9 {
		sum += int(d[i]-'0') * (10 - i)
	}
	check := 11 - sum%11
	switch check {
	case 11:
		check = 0
	case 10:
		return false
	}
	return int(d[9]-'0') == check
}

// ValidNHSNumber reports whether s, after removing spaces and hyphens, is 10
// digits with a valid Modulus 11 check digit: the first nine digits weighted
// 10 down to 2, the check digit 11 minus the sum modulo 11 (11 becomes 0, and
// 10 means the number cannot be valid). It is the rule Check applies, for
// a number staff type in.
func ValidNHSNumber(s string) bool {
	d, ok := nhsDigits(s)
	return ok && nhsChecksumOK(d)
}
