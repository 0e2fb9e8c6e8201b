package enquiry

import (
	_ "embed"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxTextBytes caps how much of a body (or subject) is read: a resident's own
// words fit many times over, and a hostile message cannot make the rules do
// unbounded work. Text past the cap is ignored.
const MaxTextBytes = 8 << 10

// capText cuts s to MaxTextBytes without splitting a character and makes it
// valid UTF-8 with "\n" line ends.
func capText(s string) string {
	if len(s) > MaxTextBytes {
		s = s[:MaxTextBytes]
		for len(s) > 0 && !utf8.ValidString(s[len(s)-utf8.UTFMax:]) {
			s = s[:len(s)-1]
		}
	}
	s = strings.ToValidUTF8(s, " ")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// replyHeader matches the line a mail client writes above the message it
// quotes: "On 13 May 2026, at 16:20, X wrote:" (and the same in Spanish,
// French, German, Polish, Dutch and Italian clients),
// "-----Original Message-----", Outlook's "________________________________",
// a forwarded message's header.
var replyHeader = regexp.MustCompile(`(?i)^(on .{0,200}wrote:?|(el|le|am|w dniu|op|il) .{0,200}(escribió|a écrit|schrieb|napisał\(a\)|napisał|napisała|schreef|ha scritto)\s*:?|-{2,}\s*original message\s*-{2,}|_{10,}|-{2,}\s*forwarded message\s*-{2,}|begin forwarded message:?)\s*$`)

// replyHeaderStart and replyHeaderEnd match Gmail's "On ... wrote:" when
// the client wrapped it over two lines (a long sender name and address).
var (
	replyHeaderStart = regexp.MustCompile(`(?i)^on\s.{0,200}$`)
	replyHeaderEnd   = regexp.MustCompile(`(?i)^.{0,200}\bwrote:\s*$`)
)

// outlookFrom matches the first line of Outlook's quoted header block
// ("From: X" followed within a few lines by "Sent:" or "Date:").
var (
	outlookFrom = regexp.MustCompile(`(?i)^\*?from:\*?\s`)
	outlookSent = regexp.MustCompile(`(?i)^\*?(sent|date):\*?\s`)
)

// StripQuoted returns the part of a reply's body its sender wrote: it stops
// at the header of the quoted message and drops quoted ("> ") lines, so the
// text of a message we sent, quoted back, is not read as the resident's. The
// extract package uses it before reading a form typed into the body.
func StripQuoted(body string) string {
	lines := strings.Split(body, "\n")
	var b strings.Builder
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if replyHeader.MatchString(t) {
			break
		}
		if i+1 < len(lines) && replyHeaderStart.MatchString(t) && replyHeaderEnd.MatchString(strings.TrimSpace(lines[i+1])) {
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

// mobileLine matches what a phone or a mail program appends below the
// message: "Sent from my iPhone", "Get Outlook for iOS", "Sent from Mail for
// Windows", "Sent from Yahoo Mail on Android".
var mobileLine = regexp.MustCompile(`(?i)^(sent from (my )?(iphone|ipad|android|samsung|galaxy|huawei|mobile|phone|smartphone|blackberry|tablet|outlook|mail for windows|yahoo mail|aol|proton|gmail)|sent (via|with|using) .{0,40}|get outlook for (ios|android)|download outlook for|sent from .{0,40}(iphone|ipad|android|mobile|phone|outlook|mail))\b.{0,60}$`)

// signOff matches a closing line: "Kind regards", "Thanks, Sam",
// "Yours sincerely". The rest of the line, if any, must look like a name.
var signOff = regexp.MustCompile(`(?i)^(kind(est)? regards|best regards|warm(est)? regards|regards|best wishes|many thanks|thanks( again| very much| so much| a lot)?|thank you( very much| so much| again| kindly)?|yours (sincerely|faithfully|truly)|sincerely|cheers|best|all the best|with thanks|with (best|kind) wishes|with many thanks|respectfully|take care|love)\s*[,.!]*\s*(.*)$`)

// nameLike matches a short name: one to four capitalised words ("Sam",
// "Mrs J. Okafor", "Anne-Marie O'Neill").
var nameLike = regexp.MustCompile(`^(\p{Lu}[\p{L}.'’-]*\s*){1,4}$`)

// maxSignatureLines is how many non-empty lines may follow a sign-off for
// them to be taken as the signature (name, job, phone, address).
const maxSignatureLines = 8

// footerLine matches the first line of a confidentiality footer or an
// organisation's disclaimer, which runs to the end of the message.
var footerLine = regexp.MustCompile(`(?i)^(\W*)(this (e-?mail|message|communication)( and any (attachments?|files)( transmitted with it| to it| are)?)?,? (is|are|may be|may contain|contains?) .{0,40}(confidential|privileged|intended|legally)|the (information|content) (contained )?in this (e-?mail|message)|confidentiality (notice|note|statement|warning)|disclaimer\b|if you (are not the intended recipient|have received this (e-?mail|message) in error)|please consider the environment|this e-?mail has been (scanned|checked)|privileged (and|&) confidential|caution: this (e-?mail|message) (originated|came) from outside|nhsmail is the secure email)`)

// OwnWords returns the resident's own words in body: quoted replies
// (StripQuoted), the signature ("-- ", a sign-off and what follows it,
// "Sent from my iPhone"), confidentiality footers, and lines pasted from the
// leaflet are left out. The body is read up to MaxTextBytes.
func OwnWords(body string) string {
	lines := strings.Split(StripQuoted(capText(body)), "\n")
	lines = cutFooter(lines)
	lines = cutSignature(lines)
	lines = dropLeaflet(lines)
	lines = cutTrailingName(lines)
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// cutFooter drops everything from the first footer line on.
func cutFooter(lines []string) []string {
	for i, l := range lines {
		if footerLine.MatchString(strings.TrimSpace(l)) {
			return lines[:i]
		}
	}
	return lines
}

// cutSignature drops the signature: from a "--" separator or a phone's
// "Sent from" line to the end, and from a sign-off line (with at most a
// name after it on the line) when no more than maxSignatureLines short lines
// without a question follow it.
func cutSignature(lines []string) []string {
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "--" || t == "—" || mobileLine.MatchString(t) {
			return lines[:i]
		}
		m := signOff.FindStringSubmatch(t)
		if m == nil {
			continue
		}
		if rest := strings.TrimSpace(m[len(m)-1]); rest != "" && !nameLike.MatchString(rest) {
			continue
		}
		if signatureFollows(lines[i+1:]) {
			return lines[:i]
		}
	}
	return lines
}

// cutTrailingName drops a last line that is only a name ("Mrs P
// Adebayo"), the signature of a message without a sign-off, when other
// lines come before it.
func cutTrailingName(lines []string) []string {
	last := len(lines) - 1
	for last >= 0 && strings.TrimSpace(lines[last]) == "" {
		last--
	}
	if last < 1 || !nameLike.MatchString(strings.TrimSpace(lines[last])) {
		return lines
	}
	return lines[:last]
}

// postscript matches the start of a postscript ("PS", "P.S.", "P.S:"):
// words written after the signature are the resident's own.
var postscript = regexp.MustCompile(`(?i)^p\.?\s?s\b\.?`)

// signatureFollows reports whether next looks like a signature block: at
// most maxSignatureLines non-empty lines, each short, none asking anything
// and none a postscript.
func signatureFollows(next []string) bool {
	n := 0
	for _, l := range next {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		n++
		if n > maxSignatureLines || strings.Contains(t, "?") || len(strings.Fields(t)) > 10 || postscript.MatchString(t) {
			return false
		}
	}
	return true
}

//go:embed leaflet.md
var leafletText string

// minLeafletWords is the fewest words a line must have to be recognised as
// pasted from the leaflet: shorter lines ("How to opt out") are too likely
// to be the resident's own.
const minLeafletWords = 5

// leaflet returns the leaflet's words, normalised, as one string with a
// space at each end, built once.
var leaflet = sync.OnceValue(func() string {
	t := strings.NewReplacer("**", " ", "](#)", " ", "[", " ", "<", " ", ">", " ").Replace(leafletText)
	return " " + normalize(t) + " "
})

// dropLeaflet drops every line of at least minLeafletWords words that is a
// run of the leaflet's own words (as pasted, whatever the line wrapping).
func dropLeaflet(lines []string) []string {
	out := lines[:0:0]
	for _, l := range lines {
		n := normalize(l)
		if strings.Count(n, " ")+1 >= minLeafletWords && strings.Contains(leaflet(), " "+n+" ") {
			continue
		}
		out = append(out, l)
	}
	return out
}
