package docform

import (
	"errors"
	"strings"
	"testing"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// leafletText is the leaflet's form typed out, as a resident might paste it.
const leafletText = `Hello,

Please find my form below.

Gender: Female
First name*: Ann
Last name*: Example
Date of birth*: 29/02/1980
NHS Number*: 943 476 5919
Registered GP Practice*:
Example Medical Centre
Email address: ann@example.org
Postal address*: 1 Example Road
Islington
London
Postcode*: N1 9GU

Are you completing this form on behalf of another person?
Yes [ ] No [x]

If yes, what is your relationship to this person? _____

Please tick as appropriate; the person I am completing this form for:
[ ] is under 16 and I am their legal guardian/have parental responsibilities
[ ] does not have capacity to give consent and I have lasting power of attorney or Court of Protection Deputyship for health and welfare.

Please tick the box below:
[x] I have read the leaflet and understand consequences of opting out

Your full name: Ann Example
Signature: A. Example

Thanks
Ann
-- 
Address: 99 Signature Street
GP: not this one
`

func TestReadText(t *testing.T) {
	tests := []struct {
		name string
		text string
		want form.Fields
	}{
		{"leaflet", leafletText, form.Fields{
			Gender: "Female", FirstName: "Ann", LastName: "Example", DateOfBirth: "29/02/1980",
			NHSNumber: "943 476 5919", GPPractice: "Example Medical Centre", Email: "ann@example.org",
			PostalAddress: "1 Example Road, Islington, London", Postcode: "N1 9GU",
			Declaration: true, FullName: "Ann Example", Signature: "A. Example",
		}},
		{"variants and separators", "Forename - Bob\nSurname – Smith\nDOB 1 March 1975\nNHS No. 4010232137\nGP surgery: The Surgery\nPost code = n19gu\nDeclaration: Yes\nOn behalf: No\n",
			form.Fields{FirstName: "Bob", LastName: "Smith", DateOfBirth: "1 March 1975", NHSNumber: "4010232137",
				GPPractice: "The Surgery", Postcode: "n19gu", Declaration: true}},
		{"value on next line after blank", "First name:\n\nCarol\nLast name:\nJones\nPostcode:\nN7 6AA\n",
			form.Fields{FirstName: "Carol", LastName: "Jones", Postcode: "N7 6AA"}},
		{"on behalf with guardian", "First name: Dan\nLast name: Lee\nDate of birth: 01/06/2015\nAre you completing this form on behalf of another person? Yes\nIf yes, what is your relationship to this person? Mother\n☒ is under 16 and I am their legal guardian/have parental responsibility\n☐ does not have capacity to give consent and I have lasting power of attorney\nI have read the leaflet and understand consequences of opting out ☒\n",
			form.Fields{FirstName: "Dan", LastName: "Lee", DateOfBirth: "01/06/2015", OnBehalf: true, Relationship: "Mother",
				Authority: form.AuthorityGuardian, Declaration: true}},
		{"choice on separate lines", "First name: Eve\nLast name: Ng\nPostcode: N1 9GU\nAre you completing this form on behalf of another person?\n☒ Yes\n☐ No\nRelationship: Daughter\n",
			form.Fields{FirstName: "Eve", LastName: "Ng", Postcode: "N1 9GU", OnBehalf: true, Relationship: "Daughter"}},
		{"leading X tick", "First name: Fay\nLast name: Oh\nPostcode: N1 9GU\nX I have read the leaflet and understand consequences of opting out\n",
			form.Fields{FirstName: "Fay", LastName: "Oh", Postcode: "N1 9GU", Declaration: true}},
		{"crlf and bom", "\uFEFFFirst name: Gus\r\nLast name: Pi\r\nNHS number: 9434765919\r\n",
			form.Fields{FirstName: "Gus", LastName: "Pi", NHSNumber: "9434765919"}},
		{"quoted reply ignored", "First name: Hal\nLast name: Ro\nPostcode: N1 9GU\n\n> First name: Quoted\n> GP: Quoted practice\n",
			form.Fields{FirstName: "Hal", LastName: "Ro", Postcode: "N1 9GU"}},
		{"stops at original message", "First name: Ida\nLast name: Su\nPostcode: N1 9GU\n\nOn Mon, 4 May 2026 at 10:00, ICB <team@example.org> wrote:\nGP: Quoted practice\nAddress: quoted\n",
			form.Fields{FirstName: "Ida", LastName: "Su", Postcode: "N1 9GU"}},
		{"stops at outlook block", "First name: Jo\nLast name: Ty\nPostcode: N1 9GU\n________________________________\nFrom: ICB\nSent: 4 May 2026\nTo: Jo\nGP: Quoted practice\n",
			form.Fields{FirstName: "Jo", LastName: "Ty", Postcode: "N1 9GU"}},
		{"placeholders are empty", "First name: Kay\nLast name: Um\nGender: _____\nEmail address: ......\nPostcode: N1 9GU\n",
			form.Fields{FirstName: "Kay", LastName: "Um", Postcode: "N1 9GU"}},
		{"bullets", "- First name: Lou\n* Last name: Vo\n• Postcode: N1 9GU\n",
			form.Fields{FirstName: "Lou", LastName: "Vo", Postcode: "N1 9GU"}},
		// Real residents' typing (issue 2 hardening).
		{"value typed under the printed blank", "First name*: _____\nMia\nLast name*: _____\nNash\nNHS Number*: _____\n943 476 5919\nPostcode*: ____\nN1 9GU\n",
			form.Fields{FirstName: "Mia", LastName: "Nash", NHSNumber: "943 476 5919", Postcode: "N1 9GU"}},
		{"printed blank then blank line is empty", "First name: Ned\nLast name: Oz\nPostcode: N1 9GU\nSignature: _____\n\nSome other text\n",
			form.Fields{FirstName: "Ned", LastName: "Oz", Postcode: "N1 9GU"}},
		{"sign-off is not a value", "First name: Pat\nLast name: Qi\nPostcode: N1 9GU\nSignature: _____\nKind regards,\nPat\n",
			form.Fields{FirstName: "Pat", LastName: "Qi", Postcode: "N1 9GU"}},
		{"no space after star colon", "First name*:Rae\nLast name*:Sol\nNHS Number*:943-476-5919\n",
			form.Fields{FirstName: "Rae", LastName: "Sol", NHSNumber: "943-476-5919"}},
		{"outlook tab table", "First name:\tTia\nLast name:\tUd\nDate of birth:\t14.03.78\nPostcode:\tn19gu\n",
			form.Fields{FirstName: "Tia", LastName: "Ud", DateOfBirth: "14.03.78", Postcode: "n19gu"}},
	}
	for _, tt := range tests {
		forms, err := ReadText(tt.text)
		if err != nil {
			t.Errorf("%s: ReadText error %v, want a form", tt.name, err)
			continue
		}
		if len(forms) != 1 || forms[0].Format != form.FormatText {
			t.Errorf("%s: ReadText = %d forms, want 1 text form", tt.name, len(forms))
			continue
		}
		if forms[0].Fields != tt.want {
			t.Errorf("%s: ReadText fields\n got %+v\nwant %+v", tt.name, forms[0].Fields, tt.want)
		}
	}
}

func TestReadTextNoForm(t *testing.T) {
	tests := []struct{ name, text string }{
		{"empty", ""},
		{"request", "Hello,\n\nI would like to opt out of the London Care Record. Please contact me.\n\nThanks,\nAnn"},
		{"mentions", "Hi, my GP surgery told me to email you.\nMy address has changed recently.\nRegards"},
		{"two fields", "First name: Ann\nLast name: Example\n"},
		{"blank printed form", "First name*: _____\nLast name*: _____\nDate of birth*: _____\nNHS Number*: _____\nPostcode*: _____\n"},
		{"fields only in quote", "Thanks, form attached.\n\n> First name: Ann\n> Last name: Example\n> Postcode: N1 9GU\n"},
		{"fields only after signature", "See attached.\n-- \nFirst name: Ann\nLast name: Example\nPostcode: N1 9GU\n"},
		{"out of office", "I am out of the office until Monday.\nFor urgent matters contact the practice.\nAddress queries to reception."},
	}
	for _, tt := range tests {
		forms, err := ReadText(tt.text)
		if !errors.Is(err, ErrNoForm) {
			t.Errorf("%s: ReadText = %+v, %v; want ErrNoForm", tt.name, forms, err)
		}
	}
}

func TestReadTextTooLarge(t *testing.T) {
	_, err := ReadText(strings.Repeat("First name: Ann\n", maxTextBytes/10))
	var ue *form.UnreadableError
	if !errors.As(err, &ue) || ue.Code != "text_too_large" {
		t.Errorf("ReadText(huge) error = %v, want text_too_large", err)
	}
}
