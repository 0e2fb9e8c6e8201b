package docform_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/ncl-icb/optout-intake/extract/docform"
	"github.com/ncl-icb/optout-intake/extract/form"
)

func ExampleReadText() {
	body := `Hello, here is my form.

First name: Ann
Surname: Example
DOB: 29 Feb 1980
NHS No.: 943 476 5919
Postcode: n19gu
[x] I have read the leaflet and understand consequences of opting out

> quoted text from our earlier email is ignored
`
	forms, err := docform.ReadText(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	fm := forms[0]
	fm.Source = "body"
	form.Finish(&fm, time.Date(2026, 5, 15, 0, 0, 0, 0, time.UTC))
	fmt.Println(fm.Format, fm.Fields.DateOfBirth, fm.Fields.Postcode, fm.Valid)

	_, err = docform.ReadText("Please send me the secure email. Thanks!")
	fmt.Println(errors.Is(err, docform.ErrNoForm))
	// Output:
	// text 1980-02-29 N1 9GU false
	// true
}
