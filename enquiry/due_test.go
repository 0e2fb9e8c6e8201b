package enquiry

import (
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/vocab"
)

// easter returns Easter Sunday of year (the anonymous Gregorian algorithm).
func easter(year int) time.Time {
	a, b, c := year%19, year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return time.Date(year, time.Month(month), day, 12, 0, 0, 0, time.UTC)
}

// rulesHolidays derives England and Wales bank holidays of year from the
// rules, independently of the table.
func rulesHolidays(year int) map[date]bool {
	out := map[date]bool{}
	add := func(t time.Time) { out[date{t.Year(), t.Month(), t.Day()}] = true }
	weekendFixed := func(days ...time.Time) {
		// Fixed-date holidays on a weekend move to the next weekday that
		// is not already a holiday.
		for _, t := range days {
			for t.Weekday() == time.Saturday || t.Weekday() == time.Sunday || out[date{t.Year(), t.Month(), t.Day()}] {
				t = t.AddDate(0, 0, 1)
			}
			add(t)
		}
	}
	firstMonday := func(m time.Month) time.Time {
		t := time.Date(year, m, 1, 12, 0, 0, 0, time.UTC)
		for t.Weekday() != time.Monday {
			t = t.AddDate(0, 0, 1)
		}
		return t
	}
	lastMonday := func(m time.Month) time.Time {
		t := time.Date(year, m+1, 0, 12, 0, 0, 0, time.UTC)
		for t.Weekday() != time.Monday {
			t = t.AddDate(0, 0, -1)
		}
		return t
	}
	weekendFixed(time.Date(year, time.January, 1, 12, 0, 0, 0, time.UTC))
	e := easter(year)
	add(e.AddDate(0, 0, -2))
	add(e.AddDate(0, 0, 1))
	add(firstMonday(time.May))
	add(lastMonday(time.May))
	add(lastMonday(time.August))
	weekendFixed(time.Date(year, time.December, 25, 12, 0, 0, 0, time.UTC), time.Date(year, time.December, 26, 12, 0, 0, 0, time.UTC))
	return out
}

func TestBankHolidaysFollowRules(t *testing.T) {
	for year := 2025; year <= LastHolidayYear; year++ {
		want := rulesHolidays(year)
		for d := range want {
			if !bankHolidays[d] {
				t.Errorf("bank holiday %v missing from the table", d)
			}
		}
		for d := range bankHolidays {
			if d.year == year && !want[d] {
				t.Errorf("table has %v, which the rules do not give", d)
			}
		}
	}
}

// TestBankHolidaysCoverNextYear fails from the year before the table runs
// out: add the next years from https://www.gov.uk/bank-holidays.
func TestBankHolidaysCoverNextYear(t *testing.T) {
	if next := time.Now().Year() + 1; next > LastHolidayYear {
		t.Errorf("bank holidays end in %d; add %d from https://www.gov.uk/bank-holidays", LastHolidayYear, next)
	}
}

func TestDueBy(t *testing.T) {
	lon := london()
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, lon) }
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 23, 59, 59, 0, lon) }
	tests := []struct {
		name     string
		intent   vocab.Reason
		received time.Time
		days     int
		want     time.Time
	}{
		{"complaint on a Monday", vocab.ReasonComplaint, at(2026, time.November, 30, 10, 0), 0, day(2026, time.December, 3)},
		{"complaint on a Friday skips the weekend", vocab.ReasonComplaint, at(2026, time.December, 4, 16, 0), 0, day(2026, time.December, 9)},
		{"complaint on a Saturday", vocab.ReasonComplaint, at(2026, time.December, 5, 9, 0), 0, day(2026, time.December, 9)},
		{"complaint before Christmas 2026 skips 25 and 28 December", vocab.ReasonComplaint, at(2026, time.December, 23, 12, 0), 0, day(2026, time.December, 30)},
		{"complaint before Easter 2027", vocab.ReasonComplaint, at(2027, time.March, 25, 12, 0), 0, day(2027, time.April, 1)},
		{"complaint at 00:30 BST on 1 May counts the London date (4 May is a bank holiday)", vocab.ReasonComplaint, time.Date(2026, time.April, 30, 23, 30, 0, 0, time.UTC), 0, day(2026, time.May, 7)},
		{"rights request: same date next month", vocab.ReasonRightsRequest, at(2026, time.December, 3, 9, 0), 0, day(2027, time.January, 4)},
		{"rights request: 31 January → end of February", vocab.ReasonRightsRequest, at(2028, time.January, 31, 9, 0), 0, day(2028, time.February, 29)},
		{"rights request: 26 November → 28 December 2026 is a bank holiday", vocab.ReasonRightsRequest, at(2026, time.November, 26, 9, 0), 0, day(2026, time.December, 29)},
		{"rights request: lands on a Saturday", vocab.ReasonRightsRequest, at(2027, time.January, 5, 9, 0), 0, day(2027, time.February, 5)},
		{"question: default 10 working days", vocab.ReasonQuestion, at(2026, time.December, 3, 9, 0), 0, day(2026, time.December, 17)},
		{"question over Christmas", vocab.ReasonQuestion, at(2026, time.December, 21, 9, 0), 0, day(2027, time.January, 7)},
		{"proxy: 5 working days configured", vocab.ReasonProxy, at(2026, time.December, 3, 9, 0), 5, day(2026, time.December, 10)},
		{"opt back in uses the enquiry days", vocab.ReasonOptBackIn, at(2026, time.December, 3, 9, 0), 2, day(2026, time.December, 7)},
	}
	for _, tt := range tests {
		if got := DueBy(tt.intent, tt.received, tt.days); !got.Equal(tt.want) {
			t.Errorf("%s: DueBy(%s, %v, %d) = %v, want %v", tt.name, tt.intent, tt.received, tt.days, got, tt.want)
		}
	}
}

func TestResultDueByIsEarliest(t *testing.T) {
	received := time.Date(2026, time.December, 3, 9, 0, 0, 0, london())
	r := Result{Intents: []vocab.Reason{vocab.ReasonRightsRequest, vocab.ReasonQuestion}}
	if got, want := r.DueBy(received, 10), DueBy(vocab.ReasonQuestion, received, 10); !got.Equal(want) {
		t.Errorf("DueBy(rights + question) = %v, want the question's %v", got, want)
	}
	r = Result{Intents: []vocab.Reason{vocab.ReasonComplaint, vocab.ReasonRightsRequest}}
	if got, want := r.DueBy(received, 10), DueBy(vocab.ReasonComplaint, received, 10); !got.Equal(want) {
		t.Errorf("DueBy(complaint + rights) = %v, want the complaint's %v", got, want)
	}
	if got := (Result{Plain: true}).DueBy(received, 10); !got.IsZero() {
		t.Errorf("DueBy(plain) = %v, want zero", got)
	}
}
