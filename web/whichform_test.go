package web

import (
	"testing"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/store"
)

func TestWhichForm(t *testing.T) {
	sub := func(id, ledger int64, first, last string) store.Submission {
		return store.Submission{ID: id, LedgerID: ledger, Fields: form.Fields{FirstName: first, LastName: last, NHSNumber: "9434765919", DateOfBirth: "1980-01-31"}}
	}
	subs := []store.Submission{sub(1, 10, "Ada", "Lovelace"), sub(2, 11, "Grace", "hopper"), sub(3, 11, "", "Turing"), sub(4, 11, "Mary", ""), sub(5, 12, "Solo", "One")}
	corrected := subs[3]
	corrected.Corrected = &form.Fields{FirstName: "Marie", LastName: "Curie"}
	for _, tc := range []struct {
		sb   store.Submission
		want string
	}{
		{subs[0], ""}, // the only form of its email
		{subs[1], "the form for Grace H. (form 1 of 3 in your email)"},
		{subs[2], "form 2 of 3 in your email"},
		{subs[3], "the form for Mary (form 3 of 3 in your email)"},
		{corrected, "the form for Marie C. (form 3 of 3 in your email)"},
		{subs[4], ""},
	} {
		if got := whichForm(subs, &tc.sb); got != tc.want {
			t.Errorf("whichForm(%d) = %q, want %q", tc.sb.ID, got, tc.want)
		}
	}
}

func TestSizeText(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 1023: "1023 bytes", 1024: "1 KB", 102178: "100 KB", 3 << 20: "3.0 MB"} {
		if got := sizeText(n); got != want {
			t.Errorf("sizeText(%d) = %q, want %q", n, got, want)
		}
	}
}
