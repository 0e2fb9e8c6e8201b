package form

import (
	"regexp"
	"strings"
)

// postcodeRE is the shape of a UK postcode once upper-cased and with up to
// three spaces between its outward and inward codes: the letters allowed in
// each position follow the Royal Mail rules (as in the government's published
// pattern), and GIR 0AA is the one historic exception.
var postcodeRE = regexp.MustCompile(`^(GIR|[A-PR-UWYZ][0-9]{1,2}|[A-PR-UWYZ][A-HK-Y][0-9]{1,2}|[A-PR-UWYZ][0-9][A-HJKPSTUW]|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRV-Y]) {0,3}([0-9][ABD-HJLNP-UW-Z]{2})$`)

// pseudoPostcodeRE matches the NHS pseudo-postcodes (ZZ99 3VZ for no fixed
// abode, ZZ99 3WZ, ZZ99 3CZ and the rest of the ZZ99 series). Their inward
// codes break the Royal Mail letter rules, so they have their own pattern.
var pseudoPostcodeRE = regexp.MustCompile(`^(ZZ99) {0,3}([0-9][A-Z]{2})$`)

// NormalisePostcode returns a UK postcode in upper case with one space
// ("n19gu" gives "N1 9GU") and whether it has a postcode's shape. NHS
// pseudo-postcodes (ZZ99 3VZ) count as valid. Up to three spaces, or none, are
// accepted between the outward and inward codes.
func NormalisePostcode(s string) (string, bool) {
	if len(s) > 32 {
		return s, false
	}
	v := strings.ToUpper(strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(s, "\t", " "), "\u00A0", " ")))
	for _, re := range []*regexp.Regexp{postcodeRE, pseudoPostcodeRE} {
		if m := re.FindStringSubmatch(v); m != nil {
			return m[1] + " " + m[2], true
		}
	}
	return s, false
}

// isPseudoPostcode reports whether a normalised postcode is an NHS pseudo-postcode.
func isPseudoPostcode(pc string) bool { return strings.HasPrefix(pc, "ZZ99 ") }

// nclDistricts are the postcode districts (outward codes) that cover any part
// of the five north central London boroughs: Barnet, Camden, Enfield, Haringey
// and Islington. Borough boundaries cut across postcode districts (N16 is
// mostly Hackney, NW8 mostly Westminster, HA8 partly Harrow, EN5 partly
// Hertsmere, WC2 mostly Westminster), so a district here does not prove the
// address is in NCL, and this list only drives a warning for staff, never a
// rejection. Sources: Royal Mail district maps against the borough boundaries.
var nclDistricts = map[string]bool{
	// N1 to N22 each touch at least one NCL borough; N1C is King's Cross (Camden).
	"N1": true, "N1C": true, "N2": true, "N3": true, "N4": true, "N5": true, "N6": true,
	"N7": true, "N8": true, "N9": true, "N10": true, "N11": true, "N12": true,
	"N13": true, "N14": true, "N15": true, "N16": true, "N17": true, "N18": true,
	"N19": true, "N20": true, "N21": true, "N22": true,
	// Camden: NW1, NW3, NW5, and parts of NW2, NW6, NW8; Barnet: NW4, NW7, NW11,
	// and parts of NW2 and NW9.
	"NW1": true, "NW2": true, "NW3": true, "NW4": true, "NW5": true, "NW6": true,
	"NW7": true, "NW8": true, "NW9": true, "NW11": true,
	// Enfield (EN1 to EN3, part of EN4) and Barnet (part of EN4, EN5).
	"EN1": true, "EN2": true, "EN3": true, "EN4": true, "EN5": true,
	// Edgware and Burnt Oak (Barnet, shared with Harrow).
	"HA8": true,
	// Bloomsbury and Holborn (Camden), King's Cross Road (Islington).
	"WC1A": true, "WC1B": true, "WC1E": true, "WC1H": true, "WC1N": true,
	"WC1R": true, "WC1V": true, "WC1X": true,
	// Holborn and Covent Garden's north side (Camden, shared with Westminster).
	"WC2A": true, "WC2B": true, "WC2H": true,
	// Clerkenwell and Finsbury (Islington), Hatton Garden (Camden).
	"EC1A": true, "EC1M": true, "EC1N": true, "EC1R": true, "EC1V": true, "EC1Y": true,
}

// InNCL reports whether a normalised postcode's district covers part of north
// central London. It is a heuristic: see nclDistricts.
func InNCL(pc string) bool {
	out, _, ok := strings.Cut(pc, " ")
	return ok && nclDistricts[out]
}
