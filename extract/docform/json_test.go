package docform

import (
	"errors"
	"strings"
	"testing"

	"github.com/ncl-icb/optout-intake/extract/form"
)

func TestReadJSON(t *testing.T) {
	tests := []struct {
		name string
		json string
		want []form.Fields
	}{
		{"canonical keys", `{"first_name":"Ann","last_name":"Example","nhs_number":"9434765919","on_behalf":false,"declaration":true,"authority":"","postcode":"n19gu"}`,
			[]form.Fields{{FirstName: "Ann", LastName: "Example", NHSNumber: "9434765919", Declaration: true, Postcode: "n19gu"}}},
		{"label keys", `{"First name":"Ann","Surname":"Example","D.O.B.":"29/02/1980","I have read the leaflet and understand consequences of opting out":"Yes"}`,
			[]form.Fields{{FirstName: "Ann", LastName: "Example", DateOfBirth: "29/02/1980", Declaration: true}}},
		{"numbers and booleans", `{"first_name":"Ann","nhs_number":9434765919,"on_behalf":true,"declaration":1,"authority":"lpa_or_deputy"}`,
			[]form.Fields{{FirstName: "Ann", NHSNumber: "9434765919", OnBehalf: true, Declaration: true, Authority: form.AuthorityLPAOrDeputy}}},
		{"array", `[{"first_name":"Ann","last_name":"A"},{"first_name":"Bob","last_name":"B"}]`,
			[]form.Fields{{FirstName: "Ann", LastName: "A"}, {FirstName: "Bob", LastName: "B"}}},
		{"wrapper", `{"form":{"first_name":"Ann","last_name":"A"}}`,
			[]form.Fields{{FirstName: "Ann", LastName: "A"}}},
		{"wrapped array", `{"version":1,"forms":[{"first_name":"Ann","last_name":"A"}]}`,
			[]form.Fields{{FirstName: "Ann", LastName: "A"}}},
		{"address array", `{"first_name":"Ann","postal_address":["1 Example Road","","London"]}`,
			[]form.Fields{{FirstName: "Ann", PostalAddress: "1 Example Road, London"}}},
		{"address object", `{"first_name":"Ann","address":{"line1":"1 Example Road","town":"London"}}`,
			[]form.Fields{{FirstName: "Ann", PostalAddress: "1 Example Road, London"}}},
		{"guardian tick boxes", `{"first_name":"Ann","on_behalf":"yes","is under 16 and I am their legal guardian":"X","does not have capacity ... lasting power of attorney":""}`,
			[]form.Fields{{FirstName: "Ann", OnBehalf: true, Authority: form.AuthorityGuardian}}},
		{"nulls and unknown keys", `{"first_name":"Ann","last_name":null,"telephone":"0207","notes":{"a":1}}`,
			[]form.Fields{{FirstName: "Ann"}}},
		{"bom", "\uFEFF{\"first_name\":\"Ann\",\"last_name\":\"A\"}",
			[]form.Fields{{FirstName: "Ann", LastName: "A"}}},
	}
	for _, tt := range tests {
		forms, err := ReadJSON([]byte(tt.json))
		if err != nil {
			t.Errorf("%s: ReadJSON error %v", tt.name, err)
			continue
		}
		var got []form.Fields
		for _, f := range forms {
			if f.Format != form.FormatJSON {
				t.Errorf("%s: Format = %q, want json", tt.name, f.Format)
			}
			got = append(got, f.Fields)
		}
		if len(got) != len(tt.want) {
			t.Errorf("%s: ReadJSON = %+v, want %+v", tt.name, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: form %d\n got %+v\nwant %+v", tt.name, i, got[i], tt.want[i])
			}
		}
	}
}

func TestReadJSONErrors(t *testing.T) {
	tests := []struct {
		name, json string
		code       string // "" for ErrNoForm
	}{
		{"truncated", `{"first_name":"Ann"`, "json_invalid"},
		{"trailing comma", `{"first_name":"Ann",}`, "json_invalid"},
		{"two values", `{"first_name":"Ann","last_name":"A"} {}`, "json_invalid"},
		{"not json", `First name: Ann`, "json_invalid"},
		{"empty", ``, "json_invalid"},
		{"deep", strings.Repeat("[", 10000) + strings.Repeat("]", 10000), "json_too_deep"},
		{"deep objects", strings.Repeat(`{"form":`, 100) + "{}" + strings.Repeat("}", 100), "json_too_deep"},
		{"too large", `"` + strings.Repeat("a", maxJSONBytes) + `"`, "json_too_large"},
		{"no fields", `{"hello":"world"}`, ""},
		{"one field", `{"first_name":"Ann"}`, ""},
		{"array of strings", `["first_name","Ann"]`, ""},
		{"scalar", `42`, ""},
	}
	for _, tt := range tests {
		forms, err := ReadJSON([]byte(tt.json))
		if tt.code == "" {
			if !errors.Is(err, ErrNoForm) {
				t.Errorf("%s: ReadJSON = %v, %v; want ErrNoForm", tt.name, forms, err)
			}
			continue
		}
		var ue *form.UnreadableError
		if !errors.As(err, &ue) || ue.Code != tt.code {
			t.Errorf("%s: ReadJSON error = %v, want code %s", tt.name, err, tt.code)
		}
	}
}
