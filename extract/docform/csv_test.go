package docform

import (
	"errors"
	"strings"
	"testing"

	"github.com/ncl-icb/optout-intake/extract/form"
)

func TestReadCSV(t *testing.T) {
	ann := form.Fields{FirstName: "Ann", LastName: "Example", Postcode: "N1 9GU", Declaration: true}
	bob := form.Fields{FirstName: "Bob", LastName: "Smith", Postcode: "n19gu"}
	tests := []struct {
		name string
		csv  string
		want []form.Fields
	}{
		{"comma", "First name,Last name,Postcode,Declaration\nAnn,Example,N1 9GU,X\nBob,Smith,n19gu,\n", []form.Fields{ann, bob}},
		{"semicolon", "First name;Last name;Postcode;Declaration\nAnn;Example;N1 9GU;Yes\nBob;Smith;n19gu;No\n", []form.Fields{ann, bob}},
		{"tab", "first_name\tlast_name\tpostcode\tdeclaration\nAnn\tExample\tN1 9GU\t✓\nBob\tSmith\tn19gu\t\n", []form.Fields{ann, bob}},
		{"bom crlf", "\uFEFFForename,Surname,Post code,Declaration\r\nAnn,Example,N1 9GU,true\r\n", []form.Fields{ann}},
		{"quoted newline", "First name,Postal address,Postcode\n\"Ann\",\"1 Example Road\nLondon\",\"N1 9GU\"\n",
			[]form.Fields{{FirstName: "Ann", PostalAddress: "1 Example Road, London", Postcode: "N1 9GU"}}},
		{"quoted delimiter", "First name;Postal address;Postcode\nAnn;\"1 Road; London\";N1 9GU\n",
			[]form.Fields{{FirstName: "Ann", PostalAddress: "1 Road; London", Postcode: "N1 9GU"}}},
		{"blank rows skipped", "First name,Last name\n\n,\nAnn,Example\n", []form.Fields{{FirstName: "Ann", LastName: "Example"}}},
		{"short row", "First name,Last name,Postcode\nAnn\n", []form.Fields{{FirstName: "Ann"}}},
		{"vertical", "Field,Value\nFirst name,Ann\nLast name,Example\nPostcode,N1 9GU\nI have read the leaflet and understand consequences of opting out,X\n", []form.Fields{ann}},
		{"vertical no header", "First name;Ann\nLast name;Example\nPostcode;N1 9GU\nDeclaration;Yes\n", []form.Fields{ann}},
		{"windows-1252", "First name,Last name\nZo\xeb,Ni\xf1o\n", []form.Fields{{FirstName: "Zoë", LastName: "Niño"}}},
		{"bare quote", "First name,Last name,Gender\nAnn,O\"Neil,F\n", []form.Fields{{FirstName: "Ann", LastName: "O\"Neil", Gender: "F"}}},
		{"nhs number column", "NHS No.,First name\n943 476 5919,Ann\n", []form.Fields{{NHSNumber: "943 476 5919", FirstName: "Ann"}}},
	}
	for _, tt := range tests {
		forms, err := ReadCSV([]byte(tt.csv))
		if err != nil {
			t.Errorf("%s: ReadCSV error %v", tt.name, err)
			continue
		}
		if len(forms) != len(tt.want) {
			t.Errorf("%s: ReadCSV = %d forms %+v, want %d", tt.name, len(forms), forms, len(tt.want))
			continue
		}
		for i, f := range forms {
			if f.Format != form.FormatCSV || f.Fields != tt.want[i] {
				t.Errorf("%s: form %d\n got %s %+v\nwant csv %+v", tt.name, i, f.Format, f.Fields, tt.want[i])
			}
		}
	}
}

func TestReadCSVErrors(t *testing.T) {
	tests := []struct {
		name, csv string
		code      string // "" for ErrNoForm
	}{
		{"unterminated quote", "First name,Last name\n\"Ann,Example\nBob,Smith\n", "csv_invalid"},
		{"binary", "PK\x03\x04\x00\x00First name,Last name", "csv_invalid"},
		{"too many columns", strings.Repeat("a,", maxCSVFields+1) + "\n", "csv_invalid"},
		{"too large", strings.Repeat("a", maxCSVBytes+1), "csv_too_large"},
		{"empty", "", ""},
		{"no labels", "a,b,c\n1,2,3\n", ""},
		{"header only", "First name,Last name\n", ""},
	}
	for _, tt := range tests {
		forms, err := ReadCSV([]byte(tt.csv))
		if tt.code == "" {
			if !errors.Is(err, ErrNoForm) {
				t.Errorf("%s: ReadCSV = %v, %v; want ErrNoForm", tt.name, forms, err)
			}
			continue
		}
		var ue *form.UnreadableError
		if !errors.As(err, &ue) || ue.Code != tt.code {
			t.Errorf("%s: ReadCSV error = %v, want code %s", tt.name, err, tt.code)
		}
	}
}
