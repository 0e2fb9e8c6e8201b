package enquiry_test

import (
	"fmt"
	"time"

	"github.com/ncl-icb/optout-intake/enquiry"
	"github.com/ncl-icb/optout-intake/vocab"
)

func ExampleRead() {
	r := enquiry.Read("Opting out for my mother",
		"My mother has dementia and I have lasting power of attorney. She cannot use email. How do I opt her out?\n\nSent from my iPhone")
	fmt.Println(r.Plain, r.Intents, r.AlsoOptOut)

	r = enquiry.Read("Opt out", "Hi, please opt me out of the London Care Record.\n\nKind regards,\nSam")
	fmt.Println(r.Plain, r.Intents, r.AlsoOptOut)
	// Output:
	// false [proxy format_or_language] true
	// true [] false
}

func ExampleDueBy() {
	london, _ := time.LoadLocation("Europe/London")
	received := time.Date(2026, time.December, 23, 12, 0, 0, 0, london)
	fmt.Println(enquiry.DueBy(vocab.ReasonComplaint, received, 10).Format("Mon 2 Jan 2006"))
	fmt.Println(enquiry.DueBy(vocab.ReasonRightsRequest, received, 10).Format("Mon 2 Jan 2006"))
	fmt.Println(enquiry.DueBy(vocab.ReasonQuestion, received, 10).Format("Mon 2 Jan 2006"))
	// Output:
	// Wed 30 Dec 2026
	// Mon 25 Jan 2027
	// Mon 11 Jan 2027
}
