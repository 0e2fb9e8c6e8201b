package message

import (
	"net/mail"
	"strings"
	"time"
	"unicode"
)

// Bounds on what is kept from one header field.
const (
	maxAddresses  = 500 // To and Cc addresses kept
	maxReferences = 200 // References kept (the newest ones)
	maxIDLength   = 998 // one message id (the longest legal header line)
)

// addressParser decodes encoded-words in display names in any charset.
var addressParser = &mail.AddressParser{WordDecoder: wordDecoder}

// address is one mailbox: the addr-spec (domain lower-cased) and display name.
type address struct{ addr, name string }

// parseAddresses reads an address list leniently. It returns the addresses
// and false when the strict parser failed and a fallback scan was used.
func parseAddresses(v string) ([]address, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, true
	}
	if list, err := addressParser.ParseList(v); err == nil {
		out := make([]address, 0, len(list))
		for _, a := range list {
			out = append(out, address{addr: normAddr(a.Address), name: strings.TrimSpace(a.Name)})
		}
		return out, true
	}
	// Fallback: split on commas outside quotes and angle brackets, then take
	// the part inside <...> (or the token with an '@') of each.
	var out []address
	for _, item := range splitList(v) {
		if a, ok := scanAddress(item); ok {
			out = append(out, a)
		}
	}
	return out, false
}

// splitList splits an address list on commas that are outside quotes and
// angle brackets.
func splitList(v string) []string {
	var out []string
	inQuote, inAngle, start := false, false, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			inQuote = !inQuote
		case '<':
			inAngle = true
		case '>':
			inAngle = false
		case ',':
			if !inQuote && !inAngle {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}

// scanAddress finds a mailbox in a damaged address.
func scanAddress(item string) (address, bool) {
	item = strings.TrimSpace(item)
	if lt := strings.LastIndexByte(item, '<'); lt >= 0 {
		rest := item[lt+1:]
		if gt := strings.IndexByte(rest, '>'); gt >= 0 {
			rest = rest[:gt]
		}
		rest = strings.TrimSpace(rest)
		if strings.Contains(rest, "@") {
			name := strings.Trim(strings.TrimSpace(item[:lt]), `"' `)
			if d, ok := decodeWords(name); ok {
				name = d
			}
			return address{addr: normAddr(rest), name: name}, true
		}
	}
	for _, f := range strings.FieldsFunc(item, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(`<>"'(),;`, r)
	}) {
		if strings.Count(f, "@") == 1 && !strings.HasPrefix(f, "@") && !strings.HasSuffix(f, "@") {
			return address{addr: normAddr(f)}, true
		}
	}
	return address{}, false
}

// normAddr lower-cases the domain of an addr-spec (the local part is case
// sensitive in principle, so it is kept).
func normAddr(a string) string {
	a = strings.TrimSpace(a)
	at := strings.LastIndexByte(a, '@')
	if at < 0 {
		return a
	}
	return a[:at+1] + strings.ToLower(a[at+1:])
}

// msgIDs reads message ids from a Message-ID, In-Reply-To or References
// value: every <...> token, or whitespace-separated tokens when there are no
// angle brackets. Ids come back without brackets or inner whitespace.
func msgIDs(v string) []string {
	var out []string
	add := func(id string) {
		id = strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) || r == '<' || r == '>' {
				return -1
			}
			return r
		}, id)
		if id != "" && len(id) <= maxIDLength {
			out = append(out, id)
		}
	}
	if strings.Contains(v, "<") {
		rest := v
		for {
			lt := strings.IndexByte(rest, '<')
			if lt < 0 {
				break
			}
			rest = rest[lt+1:]
			gt := strings.IndexByte(rest, '>')
			if gt < 0 {
				add(rest)
				break
			}
			add(rest[:gt])
			rest = rest[gt+1:]
		}
		return out
	}
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return unicode.IsSpace(r) || r == ',' }) {
		add(f)
	}
	return out
}

// firstID returns the first message id in v, or "".
func firstID(v string) string {
	if ids := msgIDs(v); len(ids) > 0 {
		return ids[0]
	}
	return ""
}

// dateLayouts are tried, in order, after net/mail's parser has failed on a
// cleaned Date value. They cover what real clients and scripts send.
var dateLayouts = []string{
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 2006 15:04 -0700",
	"Mon, 2 Jan 2006 15:04:05",
	"2 Jan 2006 15:04:05 -0700",
	"2 Jan 2006 15:04:05",
	"Mon, 2 Jan 06 15:04:05 -0700",
	"Mon, 2 January 2006 15:04:05 -0700",
	"Monday, 2 January 2006 15:04:05 -0700",
	"Monday, January 2, 2006 3:04 PM",
	"Monday, January 2, 2006 15:04:05 -0700",
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 MST 2006",
	"Mon Jan 2 15:04:05 -0700 2006",
	time.RFC3339,
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	"02/01/2006 15:04:05",
	"02/01/2006 15:04",
}

// parseDate reads a Date value leniently: comments, doubled spaces, a
// missing or misspelt weekday and a zone name after the offset are tolerated.
func parseDate(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false
	}
	if t, err := mail.ParseDate(v); err == nil {
		return t, true
	}
	// Remove (comments), collapse whitespace, drop a trailing zone name that
	// follows a numeric offset ("+0100 BST") and commas after the day.
	var b strings.Builder
	depth := 0
	for _, r := range v {
		switch {
		case r == '(':
			depth++
		case r == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	fields := strings.Fields(b.String())
	if n := len(fields); n >= 2 && isOffset(fields[n-2]) && isZoneName(fields[n-1]) {
		fields = fields[:n-1]
	}
	clean := strings.Join(fields, " ")
	candidates := []string{clean}
	if i := strings.IndexByte(clean, ','); i >= 0 && i < 10 {
		// A weekday that does not match the date, or is misspelt: drop it.
		candidates = append(candidates, strings.TrimSpace(clean[i+1:]))
	}
	for _, c := range candidates {
		if t, err := mail.ParseDate(c); err == nil {
			return t, true
		}
		for _, layout := range dateLayouts {
			if t, err := time.Parse(layout, c); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

func isOffset(s string) bool {
	if len(s) != 5 || (s[0] != '+' && s[0] != '-') {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func isZoneName(s string) bool {
	if len(s) < 2 || len(s) > 5 {
		return false
	}
	for _, c := range s {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
