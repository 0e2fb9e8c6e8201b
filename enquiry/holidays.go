package enquiry

import "time"

// date is a calendar date without a time or zone.
type date struct {
	year  int
	month time.Month
	day   int
}

// LastHolidayYear is the last year bankHolidays covers. Past it, working
// days are counted without bank holidays (weekends only), and a test fails
// from the year before, as a reminder to add the next years from
// https://www.gov.uk/bank-holidays.
const LastHolidayYear = 2028

// bankHolidays are the bank holidays of England and Wales (gov.uk), with the
// substitute days when one falls on a weekend. TestBankHolidaysFollowRules
// derives them from the rules (Easter, first and last Mondays,
// substitution) to check this table.
var bankHolidays = map[date]bool{
	// 2025
	{2025, time.January, 1}: true, {2025, time.April, 18}: true, {2025, time.April, 21}: true,
	{2025, time.May, 5}: true, {2025, time.May, 26}: true, {2025, time.August, 25}: true,
	{2025, time.December, 25}: true, {2025, time.December, 26}: true,
	// 2026: Boxing Day is a Saturday, the substitute is Monday 28 December
	{2026, time.January, 1}: true, {2026, time.April, 3}: true, {2026, time.April, 6}: true,
	{2026, time.May, 4}: true, {2026, time.May, 25}: true, {2026, time.August, 31}: true,
	{2026, time.December, 25}: true, {2026, time.December, 28}: true,
	// 2027: Christmas on a Saturday, Boxing Day on a Sunday
	{2027, time.January, 1}: true, {2027, time.March, 26}: true, {2027, time.March, 29}: true,
	{2027, time.May, 3}: true, {2027, time.May, 31}: true, {2027, time.August, 30}: true,
	{2027, time.December, 27}: true, {2027, time.December, 28}: true,
	// 2028: New Year's Day is a Saturday, the substitute is Monday 3 January
	{2028, time.January, 3}: true, {2028, time.April, 14}: true, {2028, time.April, 17}: true,
	{2028, time.May, 1}: true, {2028, time.May, 29}: true, {2028, time.August, 28}: true,
	{2028, time.December, 25}: true, {2028, time.December, 26}: true,
}
