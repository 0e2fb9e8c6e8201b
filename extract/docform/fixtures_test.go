package docform

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// fixtureNow is the day the fixtures are judged on.
var fixtureNow = time.Date(2026, time.May, 15, 12, 0, 0, 0, time.UTC)

// readFile picks the reader by file extension, as the extract package does.
func readFile(name string, data []byte) ([]form.Form, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".txt":
		return ReadText(string(data))
	case ".json":
		return ReadJSON(data)
	case ".csv":
		return ReadCSV(data)
	case ".docx":
		return ReadDOCX(data)
	}
	return nil, errors.New("not a docform file")
}

// TestFixtures reads the forms made by real tools (python-docx, the fixture
// script) in fixtures/forms and checks what staff would see.
func TestFixtures(t *testing.T) {
	type want struct {
		first, dob, nhs, postcode string
		onBehalf                  bool
		authority                 string
		declaration               bool
		codes                     []string // problem codes after form.Finish
	}
	tests := map[string][]want{
		"form.txt":         {{"Yusuf", "1999-12-31", "9786579755", "N17 0AP", false, "", true, nil}},
		"form.json":        {{"Zoë", "1984-07-30", "9948219937", "N8 7PR", false, "", true, nil}},
		"form.docx":        {{"Priya", "1990-09-05", "9390996031", "NW1 2DB", false, "", true, nil}},
		"form-fields.docx": {{"Tomasz", "1951-11-23", "9082462818", "N17 0AP", true, form.AuthorityLPAOrDeputy, true, nil}},
		"forms.csv": {
			{"Desmond", "1951-11-23", "9131860915", "EN2 6LN", true, form.AuthorityLPAOrDeputy, true, nil},
			{"Harriet", "1967-02-01", "9518190933", "N8 7PR", false, "", true, nil},
			{"Yusuf", "1999-12-31", "9786579755", "N17 0AP", false, "", true, []string{"signature_missing"}},
		},
		"bad-future-dob.json":            {{"Desmond", "2091-11-23", "9131860915", "EN2 6LN", false, "", true, []string{"date_of_birth_future"}}},
		"bad-guardian-over16.json":       {{"Desmond", "1951-11-23", "9131860915", "EN2 6LN", true, form.AuthorityGuardian, true, []string{"authority_child_over_16"}}},
		"bad-missing-declaration.txt":    {{"Harriet", "1967-02-01", "9518190933", "N8 7PR", false, "", false, []string{"declaration_not_ticked"}}},
		"bad-nhs-checksum.json":          {{"Desmond", "1951-11-23", "9131860916", "EN2 6LN", false, "", true, []string{"nhs_number_checksum"}}},
		"bad-onbehalf-no-authority.json": {{"Desmond", "1951-11-23", "9131860915", "EN2 6LN", true, "", true, []string{"authority_missing"}}},
		"warn-outside-ncl.json":          {{"Desmond", "1951-11-23", "9131860915", "SE1 7PB", false, "", true, []string{"postcode_outside_ncl"}}},
	}
	dir := filepath.Join("..", "..", "fixtures", "forms")
	for name, wants := range tests {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("fixture %s: %v (regenerate with fixtures/make-fixtures.sh)", name, err)
		}
		forms, err := readFile(name, data)
		if err != nil {
			t.Errorf("read %s: %v", name, err)
			continue
		}
		if len(forms) != len(wants) {
			t.Errorf("read %s = %d forms, want %d", name, len(forms), len(wants))
			continue
		}
		for i, w := range wants {
			fm := forms[i]
			form.Finish(&fm, fixtureNow)
			f := fm.Fields
			var codes []string
			for _, p := range fm.Problems {
				codes = append(codes, p.Code)
			}
			slices.Sort(codes)
			if f.FirstName != w.first || f.DateOfBirth != w.dob || f.NHSNumber != w.nhs || f.Postcode != w.postcode ||
				f.OnBehalf != w.onBehalf || f.Authority != w.authority || f.Declaration != w.declaration || !slices.Equal(codes, w.codes) {
				t.Errorf("read %s form %d = %+v problems %v\nwant %+v", name, i, f, codes, w)
			}
		}
	}
}
