package form

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkNow is the day the Check tests are judged on.
var checkNow = time.Date(2026, time.May, 15, 10, 30, 0, 0, time.UTC)

// validFields is a complete, valid form; tests change one thing at a time.
func validFields() Fields {
	return Fields{
		Gender:        "Female",
		FirstName:     "Ann",
		LastName:      "Example",
		DateOfBirth:   "29/02/1980",
		NHSNumber:     "943 476 5919",
		GPPractice:    "Example Medical Centre",
		Email:         "ann@example.org",
		PostalAddress: "1 Example Road\nLondon",
		Postcode:      "n19gu",
		FullName:      "Ann Example",
		Signature:     "A Example",
		Declaration:   true,
	}
}

func codes(ps []Problem) []string {
	var cs []string
	for _, p := range ps {
		cs = append(cs, p.Code)
	}
	slices.Sort(cs)
	return cs
}

func TestCheckValid(t *testing.T) {
	f := validFields()
	ps := Check(&f, checkNow)
	if len(ps) != 0 {
		t.Fatalf("Check(valid form) = %v, want no problems", ps)
	}
	want := validFields()
	want.DateOfBirth = "1980-02-29"
	want.NHSNumber = "9434765919"
	want.PostalAddress = "1 Example Road, London"
	want.Postcode = "N1 9GU"
	if f != want {
		t.Errorf("Check normalised to %+v, want %+v", f, want)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		change func(f *Fields)
		want   []string // problem codes, any order
		check  func(f Fields) string
	}{
		{"nothing", func(f *Fields) { *f = Fields{} }, []string{
			"date_of_birth_missing", "declaration_not_ticked", "first_name_missing",
			"full_name_missing", "gp_practice_missing", "last_name_missing",
			"nhs_number_missing", "postal_address_missing", "postcode_missing", "signature_missing"}, nil},
		{"first name blank", func(f *Fields) { f.FirstName = "  " }, []string{"first_name_missing"}, nil},
		{"last name", func(f *Fields) { f.LastName = "" }, []string{"last_name_missing"}, nil},
		{"gp", func(f *Fields) { f.GPPractice = "" }, []string{"gp_practice_missing"}, nil},
		{"address", func(f *Fields) { f.PostalAddress = "\n , \n" }, []string{"postal_address_missing"}, nil},
		{"declaration", func(f *Fields) { f.Declaration = false }, []string{"declaration_not_ticked"}, nil},

		// NHS number.
		{"nhs hyphens", func(f *Fields) { f.NHSNumber = "943-476-5919" }, nil, wantNHS("9434765919")},
		{"nhs no separators", func(f *Fields) { f.NHSNumber = "4010232137" }, nil, wantNHS("4010232137")},
		{"nhs check 11 becomes 0", func(f *Fields) { f.NHSNumber = "8288360750" }, nil, wantNHS("8288360750")},
		{"nhs check 11 not 1", func(f *Fields) { f.NHSNumber = "8288360751" }, []string{"nhs_number_checksum"}, nil},
		{"nhs check 10 invalid", func(f *Fields) { f.NHSNumber = "1234567890" }, []string{"nhs_number_checksum"}, nil},
		{"nhs check 10 invalid 2", func(f *Fields) { f.NHSNumber = "7049996220" }, []string{"nhs_number_checksum"}, nil},
		{"nhs wrong digit", func(f *Fields) { f.NHSNumber = "9434765918" }, []string{"nhs_number_checksum"}, nil},
		{"nhs transposed", func(f *Fields) { f.NHSNumber = "9434765991" }, []string{"nhs_number_checksum"}, nil},
		{"nhs nine digits", func(f *Fields) { f.NHSNumber = "943476591" }, []string{"nhs_number_format"}, wantNHS("943476591")},
		{"nhs eleven digits", func(f *Fields) { f.NHSNumber = "94347659190" }, []string{"nhs_number_format"}, nil},
		{"nhs letters", func(f *Fields) { f.NHSNumber = "943476591O" }, []string{"nhs_number_format"}, wantNHS("943476591O")},
		{"nhs dots", func(f *Fields) { f.NHSNumber = "943.476.5919" }, []string{"nhs_number_format"}, nil},

		// Date of birth.
		{"dob slash", func(f *Fields) { f.DateOfBirth = "01/02/1980" }, nil, wantDOB("1980-02-01")},
		{"dob hyphen", func(f *Fields) { f.DateOfBirth = "29-02-1980" }, nil, wantDOB("1980-02-29")},
		{"dob dots", func(f *Fields) { f.DateOfBirth = "29.02.1980" }, nil, wantDOB("1980-02-29")},
		{"dob short month", func(f *Fields) { f.DateOfBirth = "29 Feb 1980" }, nil, wantDOB("1980-02-29")},
		{"dob long month", func(f *Fields) { f.DateOfBirth = "29 February 1980" }, nil, wantDOB("1980-02-29")},
		{"dob iso", func(f *Fields) { f.DateOfBirth = "1980-02-29" }, nil, wantDOB("1980-02-29")},
		{"dob ordinal", func(f *Fields) { f.DateOfBirth = "1st March 1975" }, nil, wantDOB("1975-03-01")},
		{"dob ordinal of", func(f *Fields) { f.DateOfBirth = "the 22nd of June, 1975" }, nil, wantDOB("1975-06-22")},
		{"dob month first words", func(f *Fields) { f.DateOfBirth = "Feb 29, 1980" }, nil, wantDOB("1980-02-29")},
		{"dob single digits", func(f *Fields) { f.DateOfBirth = "3/4/1990" }, nil, wantDOB("1990-04-03")},
		{"dob sept", func(f *Fields) { f.DateOfBirth = "3 Sept 1990" }, nil, wantDOB("1990-09-03")},
		{"dob spaces", func(f *Fields) { f.DateOfBirth = " 03 / 04 / 1990 " }, nil, wantDOB("1990-04-03")},
		{"dob ddmmyyyy", func(f *Fields) { f.DateOfBirth = "03041990" }, nil, wantDOB("1990-04-03")},
		{"dob yyyymmdd", func(f *Fields) { f.DateOfBirth = "19900403" }, nil, wantDOB("1990-04-03")},
		{"dob hyphen month", func(f *Fields) { f.DateOfBirth = "03-Apr-1990" }, nil, wantDOB("1990-04-03")},
		{"dob not leap year", func(f *Fields) { f.DateOfBirth = "29/02/1981" }, []string{"date_of_birth_impossible"}, wantDOB("29/02/1981")},
		{"dob 1900 not leap", func(f *Fields) { f.DateOfBirth = "29/02/1900" }, []string{"date_of_birth_impossible"}, nil},
		{"dob 2000 leap", func(f *Fields) { f.DateOfBirth = "29/02/2000" }, nil, wantDOB("2000-02-29")},
		{"dob 31 april", func(f *Fields) { f.DateOfBirth = "31/04/1990" }, []string{"date_of_birth_impossible"}, nil},
		{"dob month first numeric", func(f *Fields) { f.DateOfBirth = "02/29/1980" }, []string{"date_of_birth_impossible"}, nil},
		{"dob two digit year", func(f *Fields) { f.DateOfBirth = "29/02/80" }, []string{"date_of_birth_two_digit_year"}, wantDOB("29/02/80")},
		{"dob two digit year words", func(f *Fields) { f.DateOfBirth = "29 Feb 80" }, []string{"date_of_birth_two_digit_year"}, nil},
		{"dob words", func(f *Fields) { f.DateOfBirth = "my birthday" }, []string{"date_of_birth_format"}, wantDOB("my birthday")},
		{"dob mixed separators", func(f *Fields) { f.DateOfBirth = "29/02-1980" }, []string{"date_of_birth_format"}, nil},
		{"dob future", func(f *Fields) { f.DateOfBirth = "16/05/2026" }, []string{"date_of_birth_future"}, nil},
		{"dob today", func(f *Fields) { f.DateOfBirth = "15/05/2026" }, nil, wantDOB("2026-05-15")},
		{"dob 1900", func(f *Fields) { f.DateOfBirth = "01/01/1900" }, nil, wantDOB("1900-01-01")},
		{"dob 1899", func(f *Fields) { f.DateOfBirth = "31/12/1899" }, []string{"date_of_birth_before_1900"}, nil},

		// Postcode.
		{"postcode spaced", func(f *Fields) { f.Postcode = "N1   9GU" }, nil, wantPostcode("N1 9GU")},
		{"postcode four spaces", func(f *Fields) { f.Postcode = "N1    9GU" }, []string{"postcode_format"}, nil},
		{"postcode lower", func(f *Fields) { f.Postcode = "nw1 2db" }, nil, wantPostcode("NW1 2DB")},
		{"postcode ec1", func(f *Fields) { f.Postcode = "EC1V 2NX" }, nil, wantPostcode("EC1V 2NX")},
		{"postcode wc1", func(f *Fields) { f.Postcode = "wc1n3aa" }, nil, wantPostcode("WC1N 3AA")},
		{"postcode enfield", func(f *Fields) { f.Postcode = "EN1 3EU" }, nil, nil},
		{"postcode barnet", func(f *Fields) { f.Postcode = "NW4 4BG" }, nil, nil},
		{"postcode edgware", func(f *Fields) { f.Postcode = "HA8 7AW" }, nil, nil},
		{"postcode haringey", func(f *Fields) { f.Postcode = "N22 8LE" }, nil, nil},
		{"postcode kings cross", func(f *Fields) { f.Postcode = "N1C 4AG" }, nil, nil},
		{"postcode outside", func(f *Fields) { f.Postcode = "SW1A 1AA" }, []string{"postcode_outside_ncl"}, wantPostcode("SW1A 1AA")},
		{"postcode outside e", func(f *Fields) { f.Postcode = "E8 1DY" }, []string{"postcode_outside_ncl"}, nil},
		{"postcode outside nw10", func(f *Fields) { f.Postcode = "NW10 4UG" }, []string{"postcode_outside_ncl"}, nil},
		{"postcode outside manchester", func(f *Fields) { f.Postcode = "M1 1AE" }, []string{"postcode_outside_ncl"}, nil},
		{"postcode girobank", func(f *Fields) { f.Postcode = "GIR 0AA" }, []string{"postcode_outside_ncl"}, nil},
		{"postcode pseudo", func(f *Fields) { f.Postcode = "zz99 3vz" }, []string{"postcode_pseudo"}, wantPostcode("ZZ99 3VZ")},
		{"postcode pseudo cz", func(f *Fields) { f.Postcode = "ZZ993CZ" }, []string{"postcode_pseudo"}, wantPostcode("ZZ99 3CZ")},
		{"postcode pseudo wz", func(f *Fields) { f.Postcode = "ZZ99 3WZ" }, []string{"postcode_pseudo"}, nil},
		{"postcode bad inward letter", func(f *Fields) { f.Postcode = "N1 9CU" }, []string{"postcode_format"}, wantPostcode("N1 9CU")},
		{"postcode bad first letter", func(f *Fields) { f.Postcode = "Q1 9GU" }, []string{"postcode_format"}, nil},
		{"postcode half", func(f *Fields) { f.Postcode = "N1" }, []string{"postcode_format"}, nil},
		{"postcode words", func(f *Fields) { f.Postcode = "London" }, []string{"postcode_format"}, nil},
		{"postcode split outward", func(f *Fields) { f.Postcode = "N 19GU" }, []string{"postcode_format"}, nil},

		// On behalf.
		{"on behalf complete", func(f *Fields) {
			f.OnBehalf, f.Relationship, f.Authority = true, "Mother", AuthorityGuardian
			f.DateOfBirth = "01/06/2015"
		}, nil, nil},
		{"on behalf lpa", func(f *Fields) { f.OnBehalf, f.Relationship, f.Authority = true, "Son", AuthorityLPAOrDeputy }, nil, nil},
		{"on behalf nothing", func(f *Fields) { f.OnBehalf = true }, []string{"authority_missing", "relationship_missing"}, nil},
		{"on behalf no relationship", func(f *Fields) { f.OnBehalf, f.Authority = true, AuthorityLPAOrDeputy }, []string{"relationship_missing"}, nil},
		{"on behalf no authority", func(f *Fields) { f.OnBehalf, f.Relationship = true, "Daughter" }, []string{"authority_missing"}, nil},
		{"on behalf bad authority", func(f *Fields) { f.OnBehalf, f.Relationship, f.Authority = true, "Daughter", "sister" }, []string{"authority_missing"}, wantAuthority("")},
		{"authority wording normalised", func(f *Fields) { f.OnBehalf, f.Relationship, f.Authority = true, "Son", "power of attorney" }, nil, wantAuthority(AuthorityLPAOrDeputy)},
		{"authority without on behalf", func(f *Fields) { f.Authority = AuthorityLPAOrDeputy }, []string{"authority_without_on_behalf"}, nil},
		{"guardian child 15", func(f *Fields) { guardian(f, "16/05/2010") }, nil, nil},
		{"guardian child 16 today", func(f *Fields) { guardian(f, "15/05/2010") }, []string{"authority_child_over_16"}, nil},
		{"guardian child 16 yesterday", func(f *Fields) { guardian(f, "14/05/2010") }, []string{"authority_child_over_16"}, nil},
		{"guardian adult", func(f *Fields) { guardian(f, "1980-02-29") }, []string{"authority_child_over_16"}, nil},
		{"guardian unreadable dob", func(f *Fields) { guardian(f, "soon") }, []string{"date_of_birth_format"}, nil},

		// Email, full name, signature.
		{"email missing is fine", func(f *Fields) { f.Email = "" }, nil, nil},
		{"email nhs", func(f *Fields) { f.Email = "a.b@nhs.net" }, nil, nil},
		{"email plus", func(f *Fields) { f.Email = "a+optout@example.co.uk" }, nil, nil},
		{"email no at", func(f *Fields) { f.Email = "ann.example.org" }, []string{"email_invalid"}, nil},
		{"email no dot", func(f *Fields) { f.Email = "ann@localhost" }, []string{"email_invalid"}, nil},
		{"email two ats", func(f *Fields) { f.Email = "ann@@example.org" }, []string{"email_invalid"}, nil},
		{"email with name", func(f *Fields) { f.Email = "Ann <ann@example.org>" }, []string{"email_invalid"}, nil},
		{"email space", func(f *Fields) { f.Email = "ann @example.org" }, []string{"email_invalid"}, nil},
		{"email empty label", func(f *Fields) { f.Email = "ann@example..org" }, []string{"email_invalid"}, nil},
		{"full name", func(f *Fields) { f.FullName = "" }, []string{"full_name_missing"}, nil},
		{"signature", func(f *Fields) { f.Signature = "" }, []string{"signature_missing"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := validFields()
			tt.change(&f)
			ps := Check(&f, checkNow)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if got := codes(ps); !slices.Equal(got, want) {
				t.Errorf("Check = %v, want codes %v", ps, want)
			}
			if tt.check != nil {
				if msg := tt.check(f); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}

func guardian(f *Fields, dob string) {
	f.OnBehalf, f.Relationship, f.Authority, f.DateOfBirth = true, "Father", AuthorityGuardian, dob
}

func wantNHS(s string) func(Fields) string {
	return func(f Fields) string {
		if f.NHSNumber != s {
			return fmt.Sprintf("NHSNumber = %q, want %q", f.NHSNumber, s)
		}
		return ""
	}
}

func wantDOB(s string) func(Fields) string {
	return func(f Fields) string {
		if f.DateOfBirth != s {
			return fmt.Sprintf("DateOfBirth = %q, want %q", f.DateOfBirth, s)
		}
		return ""
	}
}

func wantPostcode(s string) func(Fields) string {
	return func(f Fields) string {
		if f.Postcode != s {
			return fmt.Sprintf("Postcode = %q, want %q", f.Postcode, s)
		}
		return ""
	}
}

func wantAuthority(s string) func(Fields) string {
	return func(f Fields) string {
		if f.Authority != s {
			return fmt.Sprintf("Authority = %q, want %q", f.Authority, s)
		}
		return ""
	}
}

// A 29 February birthday. (Sixteen years after a leap year is a leap year
// until 2100, so the 1 March rule of ageAtLeast is tested on its own.)
func TestCheckLeapDayBirthday(t *testing.T) {
	tests := []struct {
		now  time.Time
		want bool // authority_child_over_16 reported
	}{
		{time.Date(2024, 2, 28, 23, 0, 0, 0, time.UTC), false},
		{time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), true}, // a leap year: the day itself
		{time.Date(2025, 2, 28, 12, 0, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		f := validFields()
		guardian(&f, "29/02/2008")
		got := slices.Contains(codes(Check(&f, tt.now)), CodeAuthorityOver16)
		if got != tt.want {
			t.Errorf("Check(born 2008-02-29, now %s) over 16 = %v, want %v", tt.now.Format(time.DateOnly), got, tt.want)
		}
	}
}

func TestAgeAtLeastLeapDay(t *testing.T) {
	dob := time.Date(2084, 2, 29, 0, 0, 0, 0, time.UTC)
	if ageAtLeast(dob, time.Date(2100, 2, 28, 0, 0, 0, 0, time.UTC), 16) {
		t.Error("ageAtLeast(2084-02-29, 2100-02-28, 16) = true, want false")
	}
	if !ageAtLeast(dob, time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC), 16) {
		t.Error("ageAtLeast(2084-02-29, 2100-03-01, 16) = false, want true")
	}
}

// The day is judged on London's calendar whatever now's zone: just after
// midnight in London on a British Summer Time day is still the day before in
// UTC, and the daemon's clock is UTC in its container.
func TestCheckUsesLondonCalendarDay(t *testing.T) {
	tests := []struct {
		now    time.Time
		dob    string
		future bool
	}{
		{time.Date(2026, 5, 15, 0, 30, 0, 0, time.FixedZone("BST", 3600)), "15/05/2026", false},
		{time.Date(2026, 5, 14, 23, 30, 0, 0, time.UTC), "15/05/2026", false}, // 00:30 BST on the 15th
		{time.Date(2026, 5, 14, 22, 30, 0, 0, time.UTC), "15/05/2026", true},  // 23:30 BST on the 14th
		{time.Date(2026, 1, 14, 23, 30, 0, 0, time.UTC), "15/01/2026", true},  // GMT: still the 14th
		{time.Date(2026, 5, 15, 1, 0, 0, 0, time.FixedZone("EST", -5*3600)), "15/05/2026", false},
	}
	for _, tt := range tests {
		f := validFields()
		f.DateOfBirth = tt.dob
		got := slices.Contains(codes(Check(&f, tt.now)), CodeDOBFuture)
		if got != tt.future {
			t.Errorf("Check(born %s, now %s) future = %v, want %v", tt.dob, tt.now.Format(time.RFC3339), got, tt.future)
		}
	}
}

// Messages are for staff and must never quote what the resident wrote.
func TestCheckMessagesNeverQuoteValues(t *testing.T) {
	f := Fields{
		FirstName: "Zebedee", LastName: "Quixotic", DateOfBirth: "31/02/1987",
		NHSNumber: "9434765918", GPPractice: "Foxglove Surgery", Email: "zebedee@quixotic",
		PostalAddress: "77 Marmalade Lane", Postcode: "SW19 9ZZ", OnBehalf: true,
		Relationship: "Nephew", Authority: AuthorityGuardian, FullName: "Zeb Q",
	}
	ps := Check(&f, checkNow)
	for _, p := range ps {
		for _, v := range []string{"Zebedee", "Quixotic", "31/02", "1987", "9434765918", "Foxglove", "zebedee", "Marmalade", "SW19", "Nephew", "Zeb Q"} {
			if strings.Contains(p.Message, v) {
				t.Errorf("problem %s message %q quotes the value %q", p.Code, p.Message, v)
			}
		}
		if p.Message == "" || p.Code == "" || p.Field == "" {
			t.Errorf("problem %+v has an empty code, field or message", p)
		}
	}
}

func TestFinish(t *testing.T) {
	fm := Form{Fields: validFields()}
	Finish(&fm, checkNow)
	if !fm.Valid || fm.Problems == nil || len(fm.Problems) != 0 {
		t.Errorf("Finish(valid) = valid %v problems %v, want valid and an empty list", fm.Valid, fm.Problems)
	}
	fm = Form{Fields: validFields(), Problems: []Problem{{Severity: SeverityWarning, Code: "reader_note"}}}
	fm.Fields.Signature = ""
	Finish(&fm, checkNow)
	if !fm.Valid || len(fm.Problems) != 2 {
		t.Errorf("Finish(warnings only) = valid %v problems %v, want valid with 2 problems", fm.Valid, fm.Problems)
	}
	fm = Form{Fields: validFields()}
	fm.Fields.NHSNumber = "1234567890"
	Finish(&fm, checkNow)
	if fm.Valid {
		t.Errorf("Finish(bad NHS number) valid = true, want false")
	}
}
