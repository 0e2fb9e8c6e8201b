package form

// ValidNHSNumber reports whether s, after removing spaces and hyphens, is 10
// digits with a valid Modulus 11 check digit: the first nine digits weighted
// 10 down to 2, the check digit 11 minus the sum modulo 11 (11 becomes 0, and
// 10 means the number cannot be valid).
func ValidNHSNumber(s string) bool {
	d, ok := nhsDigits(s)
	return ok && nhsChecksumOK(d)
}
