package enquiry

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ncl-icb/optout-intake/vocab"
)

// Intents returns every intent in priority order: the order Result.Intents
// keeps, the first being the one a single triage item is filed under.
// Complaints come first (the shortest legal deadline), then rights
// requests, then what stops the instructions being sent (opt back in),
// then who and how, then the rest.
//
// An intent is one thing a message asks for that needs a person: the
// triage reason (vocab.Reason) of the item it raises, one name for both,
// so the queue shows the same words the rules use. Each is found by its
// own phrase table (phrases.go):
//   - vocab.ReasonComplaint: a complaint or concern, including a possible
//     data-protection incident ("still shared", "breach").
//   - vocab.ReasonRightsRequest: UK GDPR access (a copy of my records, a
//     subject access request), erasure ("delete my record"), rectification
//     ("correct my record"), or a Freedom of Information request.
//   - vocab.ReasonOptBackIn: opt back in, withdraw or cancel an opt-out,
//     "changed my mind", rejoin. Never answered with the instructions.
//   - vocab.ReasonProxy: written for someone else, often someone who cannot
//     use email (lasting power of attorney, dementia, "my mother", a carer,
//     a child).
//   - vocab.ReasonFormatOrLanguage: another way or format (paper form, large
//     print, braille, a screen reader that cannot use the PDF, no printer)
//     or another language, including a message not written in English.
//   - vocab.ReasonStatusChase: asks about a form or request already sent
//     ("did you get my form", "I sent it weeks ago", "no reply yet").
//   - vocab.ReasonQuestion: a question the instructions do not answer, and
//     anything not recognised as a plain request.
func Intents() []vocab.Reason {
	return []vocab.Reason{vocab.ReasonComplaint, vocab.ReasonRightsRequest, vocab.ReasonOptBackIn, vocab.ReasonProxy, vocab.ReasonFormatOrLanguage, vocab.ReasonStatusChase, vocab.ReasonQuestion}
}

// tables maps each intent found by phrases to its table; Question is also
// found by "?" and by sentences nothing accounts for.
var tables = []struct {
	intent  vocab.Reason
	phrases phraseTable
}{
	{vocab.ReasonComplaint, complaintPhrases},
	{vocab.ReasonRightsRequest, rightsPhrases},
	{vocab.ReasonOptBackIn, optBackInPhrases},
	{vocab.ReasonProxy, proxyPhrases},
	{vocab.ReasonFormatOrLanguage, formatPhrases},
	{vocab.ReasonStatusChase, statusPhrases},
	{vocab.ReasonQuestion, questionPhrases},
}

// Result is what a message asks for.
type Result struct {
	// Plain is true when the message only asks to opt out, to be contacted
	// or for the form, and was recognised as such: the instructions answer
	// it and no person needs to read it. Intents is then empty.
	Plain bool
	// Intents are the needs-a-person intents found, in the order of
	// Intents(); empty exactly when Plain.
	Intents []vocab.Reason
	// AlsoOptOut is true when, besides what needs a person, the message
	// asks to opt out (or for the form): the resident gets the instructions
	// with the acknowledgement. Never true with OptBackIn.
	AlsoOptOut bool
	// Words counts the resident's own words that were read.
	Words int
}

// Primary is the intent a single triage item is filed under (the first of
// Intents), or "" for a plain request.
func (r Result) Primary() vocab.Reason {
	if len(r.Intents) == 0 {
		return ""
	}
	return r.Intents[0]
}

// Has reports whether r found intent i.
func (r Result) Has(i vocab.Reason) bool { return slices.Contains(r.Intents, i) }

// Read says what a message asks for, from its subject and the plain text of
// its body (HTML already turned into text). It reads only the resident's own
// words (OwnWords) and at most MaxTextBytes of each. When unsure it answers
// Question: a message is Plain only when every sentence is accounted for by
// an opt-out, contact or form phrase (with at most a few other words) or is
// a greeting, thanks or a detail about the sender, the whole is short, and
// it is written in English.
func Read(subject, body string) Result {
	own := OwnWords(body)
	found := map[vocab.Reason]bool{}
	var asks, plainPhrase bool

	// The subject is a label, not a sentence: it can name an intent or an
	// opt-out, but is not itself required to be accounted for.
	for _, c := range clauses(normalize(cleanSubject(capText(subject)))) {
		for _, t := range tables {
			if t.intent != vocab.ReasonQuestion && matchAny(t.phrases, c) {
				found[t.intent] = true
			}
		}
		optOut := matchAny(optOutPhrases, c)
		if optOut && (requestCue.MatchString(c) || imperativeOptOut.MatchString(c)) || matchAny(formPhrases, c) {
			asks = true // a subject such as "Opt out" or "I want to opt out"
		}
		if optOut || matchAny(contactPhrases, c) || matchAny(formPhrases, c) || matchAny(formMentions, c) {
			plainPhrase = true
		}
	}

	words := 0
	for _, s := range sentences(own) {
		n := nextSteps.ReplaceAllString(normalize(s.text), "next steps")
		if n == "" {
			continue
		}
		words += countWords(n)
		accounted := false
		sentencePlain, sentenceQuestion := false, false
		for _, c := range clauses(n) {
			for _, t := range tables {
				if matchAny(t.phrases, c) {
					found[t.intent] = true
					accounted = true
					if t.intent == vocab.ReasonQuestion {
						sentenceQuestion = true
					}
				}
			}
			optOut := matchAny(optOutPhrases, c)
			if optOut && (requestCue.MatchString(c) || imperativeOptOut.MatchString(c)) || matchAny(formPhrases, c) {
				asks = true
			}
			if optOut || matchAny(contactPhrases, c) || matchAny(formPhrases, c) || matchAny(formMentions, c) || matchAny(sendItPhrases, c) {
				sentencePlain = true
			}
		}
		if sentencePlain {
			plainPhrase = true
		}
		switch {
		case sentenceQuestion:
		case sentencePlain && !s.question && strayWords(n) <= maxStrayWords,
			sentencePlain && s.question && strayWords(n) <= maxStrayWordsAsked:
			accounted = true
		case isFillerSentence(n, s.text):
			accounted = true
		case s.question:
			found[vocab.ReasonQuestion] = true
			accounted = true
		}
		if !accounted {
			found[vocab.ReasonQuestion] = true
		}
	}
	if nonEnglish(own) {
		found[vocab.ReasonFormatOrLanguage] = true
	}

	r := Result{Words: words}
	if len(found) == 0 && (!plainPhrase || words > maxPlainWords) {
		found[vocab.ReasonQuestion] = true
	}
	for _, i := range Intents() {
		if found[i] {
			r.Intents = append(r.Intents, i)
		}
	}
	r.Plain = len(r.Intents) == 0
	r.AlsoOptOut = !r.Plain && asks && !r.Has(vocab.ReasonOptBackIn)
	return r
}

// matchAny reports whether table t matches clause c; a negatable phrase
// matches only when no negator stands among the negationWindow words
// before it.
func matchAny(t phraseTable, c string) bool {
	if !t.any.MatchString(c) {
		return false
	}
	if !t.negatable {
		return true
	}
	for _, p := range t.phrases {
		for _, loc := range p.FindAllStringIndex(c, -1) {
			if !negated(c[:loc[0]]) {
				return true
			}
		}
	}
	return false
}

// maxNegationBytes bounds the text before a phrase that negated looks at
// (negationWindow words fit many times over), so a long clause with many
// matches is read in linear time.
const maxNegationBytes = 120

// negated reports a negator among the last negationWindow words of before.
func negated(before string) bool {
	if len(before) > maxNegationBytes {
		before = before[len(before)-maxNegationBytes:]
	}
	w := strings.Fields(before)
	if len(w) > negationWindow {
		w = w[len(w)-negationWindow:]
	}
	for _, x := range w {
		if negators[x] {
			return true
		}
	}
	return false
}

// isFiller reports whether n (a sentence or clause) is a greeting, thanks
// or the like, as a whole.
func isFiller(n string) bool {
	for _, re := range fillerPhrases {
		if re.MatchString(n) {
			return true
		}
	}
	return false
}

// introduction matches a clause that gives the writer's name ("I am Desmond
// Okafor"); the words after it must be capitalised where the resident wrote
// them, so "I am confused" is not one.
var introduction = regexp.MustCompile(`^(?:i am|i'm|im|this is|my name is|my name's) ((?:\S+ ?){1,4})$`)

// isFillerSentence reports whether the normalised sentence n says nothing
// that needs reading: as a whole, or clause by clause, each a filler
// phrase, a detail about the sender or an introduction by name (both
// checked against the original text for capitals).
func isFillerSentence(n, original string) bool {
	capital := map[string]bool{}
	for _, w := range strings.Fields(normalizeKeepCase(original)) {
		if r, _ := utf8.DecodeRuneInString(w); unicode.IsUpper(r) {
			capital[strings.ToLower(w)] = true
		}
	}
	ok := func(c string) bool {
		if isFiller(c) {
			return true
		}
		if m := detailPhrase.FindStringSubmatch(c); m != nil {
			return detailOnly(m[1], capital)
		}
		if m := introduction.FindStringSubmatch(c); m != nil {
			return detailOnly(m[1], capital)
		}
		return false
	}
	if !clauseWord.MatchString(n) && ok(n) {
		return true
	}
	for _, c := range clauses(n) {
		if !ok(c) {
			return false
		}
	}
	return true
}

// detailOnly reports whether every word of d is a number (or has a digit),
// was capitalised by the resident, or is one of detailWords.
func detailOnly(d string, capital map[string]bool) bool {
	for _, w := range strings.Fields(d) {
		if !capital[w] && !detailWords[w] && strings.IndexFunc(w, unicode.IsDigit) < 0 {
			return false
		}
	}
	return true
}

// normalizeKeepCase is normalize without lowering the case.
func normalizeKeepCase(s string) string {
	s = strings.NewReplacer("’", "'", "‘", "'").Replace(s)
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	}), " ")
}

// strayWords counts the words of n outside plainVocabulary (numbers and
// single letters do not count).
func strayWords(n string) int {
	k := 0
	for _, w := range strings.Fields(n) {
		if len(w) > 1 && !plainVocabulary[w] && !isNumber(w) {
			k++
		}
	}
	return k
}

// countWords counts the words of a normalised text (not the clause marks).
func countWords(n string) int {
	k := 0
	for _, w := range strings.Fields(n) {
		if w != "," && w != ";" && w != ":" {
			k++
		}
	}
	return k
}

func isNumber(w string) bool {
	return strings.IndexFunc(w, func(r rune) bool { return !unicode.IsDigit(r) }) < 0
}

// sentence is one sentence of the own words and whether it asked ("?").
type sentence struct {
	text     string
	question bool
}

// abbreviations end with a full stop that does not end a sentence.
var abbreviations = wordSet(`mr mrs ms miss dr st no nr eg ie e.g i.e etc tel mob approx dept`)

// sentences splits text into sentences: paragraphs (blank-line separated)
// have their wrapped lines joined, then split after ".", "!" and "?" (not
// after a known abbreviation) and at line ends that close a sentence.
func sentences(text string) []sentence {
	var out []sentence
	for _, para := range strings.Split(text, "\n\n") {
		var cur strings.Builder
		flush := func(q bool) {
			if t := strings.TrimSpace(cur.String()); t != "" {
				out = append(out, sentence{t, q || strings.Contains(t, "?")})
			}
			cur.Reset()
		}
		lines := strings.Split(para, "\n")
		for li, line := range lines {
			rs := []rune(strings.TrimSpace(line))
			for i, r := range rs {
				cur.WriteRune(r)
				if r != '.' && r != '!' && r != '?' {
					continue
				}
				if i+1 < len(rs) && !unicode.IsSpace(rs[i+1]) {
					continue // "e.g", "3.5", "?!"
				}
				if r == '.' && abbreviations[lastWord(cur.String())] {
					continue
				}
				flush(r == '?')
			}
			// A short line (a greeting, a name) ends its sentence; a long
			// one was wrapped by the mail program and goes on.
			if len(rs) < 40 || li == len(lines)-1 {
				flush(false)
			} else {
				cur.WriteByte(' ')
			}
		}
		flush(false)
	}
	return out
}

// lastWord returns the lower-case word before a trailing full stop.
func lastWord(s string) string {
	s = strings.TrimSuffix(s, ".")
	if i := strings.LastIndexFunc(s, unicode.IsSpace); i >= 0 {
		s = s[i+1:]
	}
	return strings.ToLower(s)
}

// clauseBreak splits a normalised sentence into clauses, the scope of a
// negation: "I have decided not to wait, please opt me out" has two.
var clauseBreak = regexp.MustCompile(` ?[,;:] ?| but | however | although | so | and i | and we | because `)

// clauses splits a normalised sentence (which keeps , ; : for this) into
// clauses without punctuation.
func clauses(n string) []string {
	parts := clauseBreak.Split(n, -1)
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// normalize lowers s, keeps letters, digits, apostrophes (curly ones made
// straight) and the clause marks , ; : (spaced), turns everything else,
// hyphens included, into single spaces.
func normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := true
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
			space = false
		case r == '\'' || r == '’' || r == '‘':
			if !space {
				b.WriteByte('\'')
			}
		case r == ',' || r == ';' || r == ':':
			if !space {
				b.WriteByte(' ')
			}
			b.WriteRune(r)
			b.WriteByte(' ')
			space = true
		default:
			if !space {
				b.WriteByte(' ')
				space = true
			}
		}
	}
	return strings.TrimSpace(strings.Join(strings.Fields(b.String()), " "))
}

// subjectNoise is what mail programs and our own subjects add to a subject.
var subjectNoise = regexp.MustCompile(`(?i)\b(re|fw|fwd|aw|sv|antw|rv)\s*:|\[secure\]|\bNCL-[A-Z0-9]{4}-[A-Z0-9]{4}\b|\breference\b`)

// cleanSubject removes reply prefixes, the secure marker and reference codes.
func cleanSubject(s string) string { return subjectNoise.ReplaceAllString(s, " ") }

// nonEnglish reports whether text is written mostly in another language:
// mostly letters outside the Latin script (Bengali, Arabic, Chinese, Greek,
// Cyrillic...), or enough words with too few common English ones among them.
func nonEnglish(text string) bool {
	latin, other := 0, 0
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Latin, r):
			latin++
		case unicode.IsLetter(r):
			other++
		}
	}
	if latin+other == 0 {
		return false
	}
	if float64(other)/float64(latin+other) > maxOtherScript {
		return true
	}
	n, english := 0, 0
	for _, w := range strings.Fields(normalize(text)) {
		w = strings.Trim(w, ",;:'")
		if w == "" || isNumber(w) || domainWords[w] {
			continue
		}
		n++
		if englishWords[w] {
			english++
		}
	}
	return n >= minLanguageWords && float64(english)/float64(n) < minEnglishShare
}

// wordSet makes a set of the space-separated words in s.
func wordSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}
