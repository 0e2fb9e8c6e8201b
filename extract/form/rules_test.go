package form

import (
	"testing"
)

func TestSet(t *testing.T) {
	tests := []struct {
		name   string
		sets   [][2]string // key, value, in order
		want   Fields
		wantOK bool
	}{
		{"text trimmed and collapsed", [][2]string{{"first_name", "  Mary \t Ann  "}}, Fields{FirstName: "Mary Ann"}, true},
		{"newlines collapse in names", [][2]string{{"last_name", "Smith\nJones"}}, Fields{LastName: "Smith Jones"}, true},
		{"address lines joined", [][2]string{{"postal_address", "1 High Street,\n  Islington \r\n\nLondon\n"}}, Fields{PostalAddress: "1 High Street, Islington, London"}, true},
		{"empty keeps earlier value", [][2]string{{"first_name", "Ann"}, {"first_name", "  "}}, Fields{FirstName: "Ann"}, true},
		{"later value replaces", [][2]string{{"gp_practice", "A"}, {"gp_practice", "B"}}, Fields{GPPractice: "B"}, true},
		{"email mailto", [][2]string{{"email", "mailto:a@example.org"}}, Fields{Email: "a@example.org"}, true},
		{"email brackets", [][2]string{{"email", "<a@example.org>"}}, Fields{Email: "a@example.org"}, true},
		{"declaration ticked", [][2]string{{"declaration", "[x]"}}, Fields{Declaration: true}, true},
		{"declaration yes", [][2]string{{"declaration", "Yes"}}, Fields{Declaration: true}, true},
		{"declaration true", [][2]string{{"declaration", "true"}}, Fields{Declaration: true}, true},
		{"declaration no", [][2]string{{"declaration", "No"}}, Fields{}, true},
		{"declaration text", [][2]string{{"declaration", "I have read the leaflet"}}, Fields{Declaration: true}, true},
		{"declaration not read", [][2]string{{"declaration", "I have not read it"}}, Fields{}, true},
		{"declaration empty box", [][2]string{{"declaration", "☐"}}, Fields{}, true},
		{"on behalf yes", [][2]string{{"on_behalf", "yes"}}, Fields{OnBehalf: true}, true},
		{"on behalf choice", [][2]string{{"on_behalf", "Yes [ ] No [x]"}}, Fields{}, true},
		{"on behalf choice yes", [][2]string{{"on_behalf", "☒ Yes ☐ No"}}, Fields{OnBehalf: true}, true},
		{"on behalf untick", [][2]string{{"on_behalf", "yes"}, {"on_behalf", "no"}}, Fields{}, true},
		{"authority canonical guardian", [][2]string{{"authority", "guardian_under_16"}}, Fields{Authority: AuthorityGuardian}, true},
		{"authority canonical lpa", [][2]string{{"authority", "lpa_or_deputy"}}, Fields{Authority: AuthorityLPAOrDeputy}, true},
		{"authority wording guardian", [][2]string{{"authority", "is under 16 and I am their legal guardian"}}, Fields{Authority: AuthorityGuardian}, true},
		{"authority wording parental", [][2]string{{"authority", "I have parental responsibility"}}, Fields{Authority: AuthorityGuardian}, true},
		{"authority wording lpa", [][2]string{{"authority", "Lasting Power of Attorney"}}, Fields{Authority: AuthorityLPAOrDeputy}, true},
		{"authority wording deputy", [][2]string{{"authority", "Court of Protection deputy"}}, Fields{Authority: AuthorityLPAOrDeputy}, true},
		{"authority wording capacity", [][2]string{{"authority", "does not have capacity"}}, Fields{Authority: AuthorityLPAOrDeputy}, true},
		{"authority nonsense ignored", [][2]string{{"authority", "x"}}, Fields{}, true},
		{"guardian box ticked", [][2]string{{KeyGuardianBox, "X"}}, Fields{Authority: AuthorityGuardian}, true},
		{"guardian box empty", [][2]string{{KeyGuardianBox, "Off"}}, Fields{}, true},
		{"lpa box ticked", [][2]string{{KeyLPAOrDeputyBox, "✔"}}, Fields{Authority: AuthorityLPAOrDeputy}, true},
		{"empty box keeps other box", [][2]string{{KeyLPAOrDeputyBox, "✔"}, {KeyGuardianBox, "☐"}}, Fields{Authority: AuthorityLPAOrDeputy}, true},
		{"unknown key", [][2]string{{"telephone", "0207"}}, Fields{}, false},
		{"label is not a key", [][2]string{{"First name", "Ann"}}, Fields{}, false},
		{"control characters dropped", [][2]string{{"first_name", "A\x00n\u200bn"}}, Fields{FirstName: "Ann"}, true},
	}
	for _, tt := range tests {
		var f Fields
		ok := true
		for _, kv := range tt.sets {
			ok = f.Set(kv[0], kv[1])
		}
		if ok != tt.wantOK || f != tt.want {
			t.Errorf("%s: Set %q = %v, fields %+v; want %v, %+v", tt.name, tt.sets, ok, f, tt.wantOK, tt.want)
		}
	}
}

func TestSetCapsLength(t *testing.T) {
	var f Fields
	long := make([]byte, 10*maxValueLen)
	for i := range long {
		long[i] = 'a'
	}
	f.Set("gp_practice", string(long))
	if len(f.GPPractice) != maxValueLen {
		t.Errorf("Set of a %d-byte value stored %d bytes, want %d", len(long), len(f.GPPractice), maxValueLen)
	}
}
