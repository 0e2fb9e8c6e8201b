package form

import "testing"

func TestLabelKey(t *testing.T) {
	tests := []struct{ label, want string }{
		{"Gender", "gender"},
		{"Gender:", "gender"},
		{"First name*:", "first_name"},
		{"FIRST NAME", "first_name"},
		{"  first   name  ", "first_name"},
		{"Forename", "first_name"},
		{"Given name", "first_name"},
		{"First names", "first_name"},
		{"first_name", "first_name"},
		{"FirstName", "first_name"},
		{"Last name*", "last_name"},
		{"Surname", "last_name"},
		{"Family name:", "last_name"},
		{"last_name", "last_name"},
		{"Date of birth*:", "date_of_birth"},
		{"Date of birth (DD/MM/YYYY)", "date_of_birth"},
		{"DOB", "date_of_birth"},
		{"D.O.B.", "date_of_birth"},
		{"Birth date", "date_of_birth"},
		{"date_of_birth", "date_of_birth"},
		{"NHS Number*:", "nhs_number"},
		{"NHS No.", "nhs_number"},
		{"NHS no", "nhs_number"},
		{"NHS #", "nhs_number"},
		{"NHS number (if known)", "nhs_number"},
		{"nhs_number", "nhs_number"},
		{"Registered GP Practice*:", "gp_practice"},
		{"GP", "gp_practice"},
		{"GP surgery", "gp_practice"},
		{"GP practice", "gp_practice"},
		{"Registered GP", "gp_practice"},
		{"gp_practice", "gp_practice"},
		{"Email address:", "email"},
		{"E-mail", "email"},
		{"Email", "email"},
		{"email", "email"},
		{"Postal address*:", "postal_address"},
		{"Address", "postal_address"},
		{"Home address", "postal_address"},
		{"postal_address", "postal_address"},
		{"Postcode*:", "postcode"},
		{"Post code", "postcode"},
		{"Post-code", "postcode"},
		{"Zip", "postcode"},
		{"Are you completing this form on behalf of another person?", "on_behalf"},
		{"On behalf", "on_behalf"},
		{"on_behalf", "on_behalf"},
		{"If yes, what is your relationship to this person?", "relationship"},
		{"Relationship", "relationship"},
		{"authority", "authority"},
		{"is under 16 and I am their legal guardian/have parental responsibilities", KeyGuardianBox},
		{"The person I am completing this form for is under 16 and I am their legal guardian", KeyGuardianBox},
		{"does not have capacity to give consent and I have lasting power of attorney or Court of Protection Deputyship for health and welfare.", KeyLPAOrDeputyBox},
		{"I have read the leaflet and understand consequences of opting out", "declaration"},
		{"I have read the leaflet and understand the consequences of opting out.", "declaration"},
		{"Declaration", "declaration"},
		{"Your full name:", "full_name"},
		{"Full name", "full_name"},
		{"full_name", "full_name"},
		{"Signature:", "signature"},
		{"signature", "signature"},
		// Not labels on the form.
		{"", ""},
		{"***", ""},
		{"Name", ""},
		{"Hello", ""},
		{"Telephone", ""},
		{"Kind regards", ""},
		{"I am writing about my records", ""},
		{"Dear Sir or Madam", ""},
	}
	for _, tt := range tests {
		if got := LabelKey(tt.label); got != tt.want {
			t.Errorf("LabelKey(%q) = %q, want %q", tt.label, got, tt.want)
		}
	}
}

// Every key LabelKey can return is one Set understands.
func TestLabelKeysAreSettable(t *testing.T) {
	for label, key := range labelKeys {
		var f Fields
		if !f.Set(key, "x") {
			t.Errorf("Set(%q) for label %q = false, want true", key, label)
		}
	}
}
