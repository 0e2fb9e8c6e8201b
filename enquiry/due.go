package enquiry

import (
	"sync"
	"time"
	_ "time/tzdata" // due dates are London dates whatever the host has

	"github.com/ncl-icb/optout-intake/vocab"
)

// DefaultEnquiryDays is the default of OPTOUT_ENQUIRY_DAYS: other questions
// are answered within 10 working days.
const DefaultEnquiryDays = 10

// ComplaintAckDays is the number of working days within which a complaint
// is acknowledged (the Local Authority Social Services and National Health
// Service Complaints (England) Regulations 2009, regulation 13(1): "not
// later than 3 working days after the day on which it receives the
// complaint").
const ComplaintAckDays = 3

// london is the calendar every due date is counted on.
var london = sync.OnceValue(func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil { // cannot happen: time/tzdata is embedded
		panic("enquiry: load Europe/London: " + err.Error())
	}
	return loc
})

// DueBy returns when a triage item raised for intent i, for a message
// received at received, must be answered: the end (23:59:59, London time)
// of the due day.
//   - Complaint: acknowledged within ComplaintAckDays working days after
//     the day of receipt.
//   - RightsRequest: within one calendar month (UK GDPR Art. 12(3)),
//     counted as the ICO does: the same date in the next month, the last
//     day of that month when it has no such date, moved to the next
//     working day when it falls on a weekend or bank holiday.
//   - every other intent: within enquiryDays working days after the day of
//     receipt (OPTOUT_ENQUIRY_DAYS; DefaultEnquiryDays when <= 0).
//
// Working days are Monday to Friday except the bank holidays of England and
// Wales (holidays.go; weekends only past its last year).
func DueBy(i vocab.Reason, received time.Time, enquiryDays int) time.Time {
	day := received.In(london())
	switch i {
	case vocab.ReasonComplaint:
		return endOfDay(addWorkingDays(day, ComplaintAckDays))
	case vocab.ReasonRightsRequest:
		return endOfDay(nextWorkingDay(addCalendarMonth(day)))
	default:
		if enquiryDays <= 0 {
			enquiryDays = DefaultEnquiryDays
		}
		return endOfDay(addWorkingDays(day, enquiryDays))
	}
}

// DueBy is the earliest due date of r's intents (see the function DueBy):
// one triage item answers all of them. A plain request has no due date
// (the zero time).
func (r Result) DueBy(received time.Time, enquiryDays int) time.Time {
	var due time.Time
	for _, i := range r.Intents {
		if d := DueBy(i, received, enquiryDays); due.IsZero() || d.Before(due) {
			due = d
		}
	}
	return due
}

// IsWorkingDay reports whether the London date of t is a working day in
// England and Wales: not a Saturday, Sunday or bank holiday.
func IsWorkingDay(t time.Time) bool {
	t = t.In(london())
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	return !bankHolidays[date{t.Year(), t.Month(), t.Day()}]
}

// addWorkingDays returns the day n working days after t's day (the day of
// t itself is not counted, working or not).
func addWorkingDays(t time.Time, n int) time.Time {
	for n > 0 {
		t = t.AddDate(0, 0, 1)
		if IsWorkingDay(t) {
			n--
		}
	}
	return t
}

// nextWorkingDay returns t when it is a working day, else the next one.
func nextWorkingDay(t time.Time) time.Time {
	for !IsWorkingDay(t) {
		t = t.AddDate(0, 0, 1)
	}
	return t
}

// addCalendarMonth returns the same day of the next month, or the last day
// of the next month when it is shorter (31 January → 28 or 29 February), as
// PostgreSQL's interval '1 month' (which the store uses for other items) does.
func addCalendarMonth(t time.Time) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+1, 1, 12, 0, 0, 0, t.Location())
	last := first.AddDate(0, 1, -1).Day()
	return time.Date(first.Year(), first.Month(), min(d, last), 12, 0, 0, 0, t.Location())
}

// endOfDay returns 23:59:59 London time on t's London date.
func endOfDay(t time.Time) time.Time {
	y, m, d := t.In(london()).Date()
	return time.Date(y, m, d, 23, 59, 59, 0, london())
}
