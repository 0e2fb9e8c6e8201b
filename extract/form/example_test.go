package form_test

import (
	"fmt"
	"time"

	"github.com/ncl-icb/optout-intake/extract/form"
)

func Example() {
	var f form.Fields
	for _, line := range [][2]string{
		{"Forename", "Ann"},
		{"Surname", "Example"},
		{"D.O.B.", "29 Feb 1980"},
		{"NHS No.", "943 476 5919"},
		{"GP surgery", "Example Medical Centre"},
		{"Address", "1 Example Road\nLondon"},
		{"Post code", "n19gu"},
		{"I have read the leaflet and understand consequences of opting out", "☒"},
	} {
		f.Set(form.LabelKey(line[0]), line[1])
	}
	problems := form.Check(&f, time.Date(2026, 5, 15, 0, 0, 0, 0, time.UTC))
	fmt.Println(f.DateOfBirth, f.NHSNumber, f.Postcode, f.PostalAddress)
	for _, p := range problems {
		fmt.Println(p.Severity, p.Code)
	}
	// Output:
	// 1980-02-29 9434765919 N1 9GU 1 Example Road, London
	// warning full_name_missing
	// warning signature_missing
}
