package extract

import (
	"regexp"
	"strings"
)

// replyHeader matches the line a mail client writes above the message it
// quotes: "On 13 May 2026, at 16:20, X wrote:", "-----Original Message-----",
// Outlook's "From: X" block, "________________________________".
var replyHeader = regexp.MustCompile(`(?i)^(on .{0,200}wrote:?|-{2,}\s*original message\s*-{2,}|_{10,}|-{2,}\s*forwarded message\s*-{2,}|begin forwarded message:?)\s*$`)

// outlookFrom matches the first line of Outlook's quoted header block
// ("From: X" followed within a few lines by "Sent:" or "Date:").
var outlookFrom = regexp.MustCompile(`(?i)^\*?from:\*?\s`)
var outlookSent = regexp.MustCompile(`(?i)^\*?(sent|date):\*?\s`)

// ownText returns the part of a reply's body its sender wrote: it stops at
// the header of the quoted message and drops quoted ("> ") lines, so the
// labels of a message we sent, quoted back, are not read as a form.
func ownText(body string) string {
	lines := strings.Split(body, "\n")
	var b strings.Builder
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if replyHeader.MatchString(t) {
			break
		}
		if outlookFrom.MatchString(t) && quotedHeaderFollows(lines[i+1:]) {
			break
		}
		if strings.HasPrefix(t, ">") {
			continue
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return strings.TrimSpace(b.String())
}

// quotedHeaderFollows reports a "Sent:" or "Date:" line among the next few.
func quotedHeaderFollows(next []string) bool {
	for i, l := range next {
		if i >= 4 {
			break
		}
		if outlookSent.MatchString(strings.TrimSpace(l)) {
			return true
		}
	}
	return false
}
