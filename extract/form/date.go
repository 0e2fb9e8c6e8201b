package form

import (
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the London calendar whatever the host has
	"unicode"
)

// dateError says why a date of birth could not be read.
type dateError int

const (
	dateOK           dateError = iota
	dateUnreadable             // not a date in any accepted layout
	dateTwoDigitYear           // a day-first date with a two-digit year
	dateImpossible             // a day or month out of range (31/02, month 13)
)

var monthNames = map[string]time.Month{
	"jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3,
	"apr": 4, "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7,
	"aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9, "oct": 10,
	"october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}

// parseDOB reads a UK day-first date: 29/02/1980, 29-02-1980, 29.02.1980,
// 29 Feb 1980, 29th February 1980, Feb 29, 1980, 1980-02-29 or 29021980.
// It returns the date at midnight UTC.
func parseDOB(s string) (time.Time, dateError) {
	if len(s) > 64 {
		return time.Time{}, dateUnreadable
	}
	toks, seps := dateTokens(s)
	switch len(toks) {
	case 1:
		t := toks[0]
		if len(t) == 8 && isDigits(t) {
			// DDMMYYYY, or YYYYMMDD when that is the only reading.
			d1, e1 := ymd(t[4:], t[2:4], t[:2])
			d2, e2 := ymd(t[:4], t[4:6], t[6:])
			switch {
			case e1 == dateOK && e2 != dateOK:
				return d1, dateOK
			case e2 == dateOK && e1 != dateOK:
				return d2, dateOK
			}
			if e1 == dateOK {
				return time.Time{}, dateUnreadable // both readings work: ambiguous
			}
			return time.Time{}, dateImpossible
		}
		return time.Time{}, dateUnreadable
	case 3:
	default:
		return time.Time{}, dateUnreadable
	}
	a, b, c := toks[0], toks[1], toks[2]
	switch {
	case isDigits(a) && isDigits(b) && isDigits(c):
		if len(a) == 4 && len(b) <= 2 && len(c) <= 2 {
			return ymd(a, b, c) // ISO 1980-02-29, or 1980/02/29
		}
		if len(a) > 2 || len(b) > 2 {
			return time.Time{}, dateUnreadable
		}
		if len(c) == 2 {
			return time.Time{}, dateTwoDigitYear
		}
		if len(c) != 4 || !numericSeps(seps) {
			return time.Time{}, dateUnreadable
		}
		return ymd(c, b, a)
	case isDigits(a) && isDigits(c) && monthNames[b] != 0:
		if len(c) == 2 {
			return time.Time{}, dateTwoDigitYear
		}
		if len(a) > 2 || len(c) != 4 {
			return time.Time{}, dateUnreadable
		}
		return ymd(c, strconv.Itoa(int(monthNames[b])), a)
	case monthNames[a] != 0 && isDigits(b) && isDigits(c):
		if len(c) == 2 {
			return time.Time{}, dateTwoDigitYear
		}
		if len(b) > 2 || len(c) != 4 {
			return time.Time{}, dateUnreadable
		}
		return ymd(c, strconv.Itoa(int(monthNames[a])), b)
	}
	return time.Time{}, dateUnreadable
}

// numericSeps reports whether an all-digit date used one kind of separator
// ("29/02/1980", not "29/02-1980"), spaces aside.
func numericSeps(seps []string) bool {
	return len(seps) == 2 && seps[0] == seps[1]
}

// dateTokens lower-cases s and splits it into digit runs and letter runs,
// dropping ordinal suffixes (1st, 2nd, 3rd, 4th), weekday names and commas.
// seps holds the punctuation between the tokens.
func dateTokens(s string) (toks, seps []string) {
	rs := []rune(strings.ToLower(s))
	sep := ""
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsDigit(r):
			j := i
			for j < len(rs) && unicode.IsDigit(rs[j]) {
				j++
			}
			if len(toks) > 0 {
				seps = append(seps, sep)
			}
			toks = append(toks, string(rs[i:j]))
			sep = ""
			i = j
			// An ordinal suffix right after a number.
			for _, suf := range []string{"st", "nd", "rd", "th"} {
				if strings.HasPrefix(string(rs[i:min(i+2, len(rs))]), suf) &&
					(i+2 == len(rs) || !unicode.IsLetter(rs[i+2])) {
					i += 2
					break
				}
			}
		case unicode.IsLetter(r):
			j := i
			for j < len(rs) && unicode.IsLetter(rs[j]) {
				j++
			}
			w := string(rs[i:j])
			i = j
			switch w {
			case "mon", "monday", "tue", "tues", "tuesday", "wed", "wednesday", "thu",
				"thur", "thurs", "thursday", "fri", "friday", "sat", "saturday", "sun",
				"sunday", "of", "the":
				continue
			}
			if len(toks) > 0 {
				seps = append(seps, sep)
			}
			toks = append(toks, w)
			sep = ""
		default:
			if r == '/' || r == '-' || r == '.' {
				sep += string(r)
			}
			i++
		}
	}
	return toks, seps
}

// ymd builds a date from decimal year, month and day strings.
func ymd(ys, ms, ds string) (time.Time, dateError) {
	y, err1 := strconv.Atoi(ys)
	m, err2 := strconv.Atoi(ms)
	d, err3 := strconv.Atoi(ds)
	if err1 != nil || err2 != nil || err3 != nil {
		return time.Time{}, dateUnreadable
	}
	if m < 1 || m > 12 || d < 1 || d > 31 {
		return time.Time{}, dateImpossible
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d {
		return time.Time{}, dateImpossible // 30 February, 29 February in a common year
	}
	return t, dateOK
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// london is the time zone whose calendar the forms' dates belong to. The
// service runs in containers whose local zone is UTC: without this, a child
// born today would be "in the future" for the first hour of every summer day.
var london = func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil { // cannot happen: time/tzdata is linked in
		panic("form: load Europe/London time zone: " + err.Error())
	}
	return loc
}()

// civilDate is now's calendar date in London, at midnight UTC, so it
// compares with dates from parseDOB.
func civilDate(now time.Time) time.Time {
	y, m, d := now.In(london).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ageAtLeast reports whether someone born on dob is at least years old on
// today. A 29 February birthday falls on 1 March in common years, as in
// English law.
func ageAtLeast(dob, today time.Time, years int) bool {
	anniversary := time.Date(dob.Year()+years, dob.Month(), dob.Day(), 0, 0, 0, 0, time.UTC)
	return !today.Before(anniversary)
}
