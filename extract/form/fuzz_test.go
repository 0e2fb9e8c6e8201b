package form

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCheck feeds hostile values through Set and Check: they must never
// panic, must be idempotent, and must keep the contract's shapes.
func FuzzCheck(f *testing.F) {
	f.Add("29/02/1980", "943 476 5919", "n19gu", "ann@example.org", "[x]", "Yes [ ] No [x]", "guardian")
	f.Add("", "", "", "", "", "", "")
	f.Add("31/02/80", "1234567890", "ZZ99 3VZ", "@@", "☒", "☐ Yes ☒ No", "lasting power of attorney")
	f.Add("1st of Sept, 1999", "９４３４７６５９１９", "N1    9GU", "a@b", "✓", "yes", "lpa_or_deputy")
	f.Add("\xff\xfe29\x00/02", "943-476-591\x00", "GIR0AA", "mailto:<a@b.c>", "[", "[[[[x]]]]", "under 16")
	f.Add(strings.Repeat("29/", 200), strings.Repeat("9", 300), strings.Repeat(" ", 100), strings.Repeat("@.", 300), strings.Repeat("[x]", 100), strings.Repeat("Yes No ", 50), strings.Repeat("capacity", 300))
	f.Fuzz(func(t *testing.T, dob, nhs, pc, email, decl, onBehalf, authority string) {
		var fs Fields
		fs.Set("date_of_birth", dob)
		fs.Set("nhs_number", nhs)
		fs.Set("postcode", pc)
		fs.Set("email", email)
		fs.Set("declaration", decl)
		fs.Set("on_behalf", onBehalf)
		fs.Set("authority", authority)
		fs.Set("postal_address", dob+"\n"+pc)
		first := Check(&fs, checkNow)
		after := fs
		second := Check(&fs, checkNow)
		if fs != after {
			t.Fatalf("Check is not idempotent: %+v then %+v", after, fs)
		}
		if len(first) != len(second) {
			t.Fatalf("Check problems changed on a second run: %v then %v", first, second)
		}
		switch fs.Authority {
		case AuthorityNone, AuthorityGuardian, AuthorityLPAOrDeputy:
		default:
			t.Fatalf("Authority = %q, not a contract value", fs.Authority)
		}
		if len(fs.NHSNumber) == 10 && ValidNHSNumber(fs.NHSNumber) {
			for _, p := range first {
				if p.Field == "nhs_number" {
					t.Fatalf("valid NHS number got problem %v", p)
				}
			}
		}
		for _, p := range first {
			if p.Severity != SeverityError && p.Severity != SeverityWarning {
				t.Fatalf("problem %v has severity %q", p, p.Severity)
			}
			if !utf8.ValidString(p.Message) || p.Code == "" {
				t.Fatalf("problem %v is malformed", p)
			}
		}
	})
}

func FuzzLabelKey(f *testing.F) {
	for label := range labelKeys {
		f.Add(label)
	}
	f.Add("I have read the leaflet and understand consequences of opting out")
	f.Add(strings.Repeat("(", 300))
	f.Fuzz(func(t *testing.T, label string) {
		k := LabelKey(label)
		if k == "" {
			return
		}
		var fs Fields
		if !fs.Set(k, "x") {
			t.Fatalf("LabelKey(%q) = %q, which Set does not know", label, k)
		}
	})
}

func BenchmarkCheck(b *testing.B) {
	base := validFields()
	b.ReportAllocs()
	for b.Loop() {
		f := base
		if ps := Check(&f, checkNow); len(ps) != 0 {
			b.Fatal(ps)
		}
	}
}

func BenchmarkLabelKey(b *testing.B) {
	labels := []string{"First name*:", "D.O.B.", "Registered GP Practice*:", "Hello there", "I have read the leaflet and understand consequences of opting out"}
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range labels {
			LabelKey(l)
		}
	}
}
