package pdfform

import (
	"math"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// From runs to lines, and from lines to forms. Runs come out of a PDF in
// any order (a flattened form draws every label, then every value); they
// are grouped by baseline into lines, read left to right, split into words
// and into cells where a wide gap separates a label from its value.

// word is one word of a line, with where it lies.
type word struct {
	x0, x1 float64
	text   string
	cell   int  // index of the cell (gap-separated part of the line)
	tick   bool // a tick mark: ✓ ✔ ☒ X [x] or a symbol-font tick
	box    bool // an empty tick box: ☐ [ ] or a symbol-font box
}

// line is the text on one baseline of one page.
type line struct {
	page  int
	y     float64
	size  float64
	words []word
}

// text returns the words from..to (exclusive) joined by spaces.
func (l *line) text(from, to int) string {
	var parts []string
	for _, w := range l.words[max(from, 0):min(to, len(l.words))] {
		parts = append(parts, w.text)
	}
	return strings.Join(parts, " ")
}

// cells returns the line's text split at wide gaps.
func (l *line) cells() []string {
	var out []string
	cur := -1
	for _, w := range l.words {
		if w.cell != cur {
			out = append(out, "")
			cur = w.cell
		}
		if out[len(out)-1] != "" {
			out[len(out)-1] += " "
		}
		out[len(out)-1] += w.text
	}
	return out
}

// hasTick reports whether any word of the line is a tick mark.
func (l *line) hasTick() bool {
	for _, w := range l.words {
		if w.tick {
			return true
		}
	}
	return false
}

// Tick marks and empty boxes, as typed text and as symbol-font glyphs
// (ZapfDingbats '4' is ✔, '8' ✘, 'l' ●; Wingdings 'ü' is ✓, 'þ' ☑).
var (
	tickWords    = map[string]bool{"x": true, "[x]": true, "(x)": true, "☒": true, "☑": true, "✓": true, "✔": true, "✗": true, "✘": true, "■": true, "●": true, "◉": true, "⊠": true, "🗹": true, "🗷": true}
	boxWords     = map[string]bool{"☐": true, "□": true, "[]": true, "()": true, "❏": true, "❑": true, "○": true, "◯": true, "❍": true}
	dingbatTicks = map[string]bool{"3": true, "4": true, "7": true, "8": true, "l": true, "n": true, "u": true, "H": true, "ü": true, "û": true, "ý": true, "þ": true, "x": true}
)

// buildLines groups runs into lines, top of the first page first.
func buildLines(runs []run) []line {
	if len(runs) == 0 {
		return nil
	}
	sort.SliceStable(runs, func(i, j int) bool {
		a, b := runs[i], runs[j]
		if a.page != b.page {
			return a.page < b.page
		}
		if a.y != b.y {
			return a.y > b.y
		}
		return a.x0 < b.x0
	})
	var lines []line
	var group []run
	flush := func() {
		if len(group) > 0 {
			lines = append(lines, makeLine(group))
		}
		group = group[:0]
	}
	for _, r := range runs {
		if len(group) > 0 {
			g := group[0]
			tol := 0.45 * math.Max(math.Max(r.size, g.size), 1)
			if r.page != g.page || math.Abs(r.y-g.y) > tol {
				flush()
			}
		}
		group = append(group, r)
	}
	flush()
	return lines
}

// makeLine turns the runs of one baseline into words and cells.
func makeLine(runs []run) line {
	rs := append([]run(nil), runs...)
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].x0 < rs[j].x0 })
	l := line{page: rs[0].page, y: rs[0].y}
	for _, r := range rs {
		l.size = math.Max(l.size, r.size)
	}
	size := math.Max(l.size, 1)
	cell := 0
	prevEnd := math.Inf(-1)
	prevSpace := false // the previous run ended with a space
	glue := false      // the next run continues the previous word
	for _, r := range rs {
		gap := r.x0 - prevEnd
		if !math.IsInf(prevEnd, -1) && gap > 1.2*size {
			cell++
		}
		glue = !math.IsInf(prevEnd, -1) && gap < 0.15*size && len(l.words) > 0 && !prevSpace && !r.spaceBefore
		text := normaliseBoxes(r.text)
		parts := strings.Fields(text)
		if len(parts) == 0 {
			prevEnd = math.Max(prevEnd, r.x1)
			prevSpace = true
			continue
		}
		prevSpace = r.spaceAfter
		if strings.HasPrefix(text, " ") {
			glue = false
		}
		if glue && (isMark(parts[0]) || isMark(l.words[len(l.words)-1].text)) {
			glue = false // a tick glyph drawn right against a word is a word of its own
		}
		n := utf8.RuneCountInString(text)
		per := (r.x1 - r.x0) / math.Max(float64(n), 1)
		pos := 0
		for i, p := range parts {
			at := strings.Index(text[pos:], p) + pos
			x0 := r.x0 + per*float64(utf8.RuneCountInString(text[:at]))
			x1 := x0 + per*float64(utf8.RuneCountInString(p))
			pos = at + len(p)
			w := word{x0: x0, x1: x1, text: p, cell: cell}
			if r.dingbat {
				w.tick = dingbatTicks[p] || tickWords[strings.ToLower(p)]
				w.box = !w.tick
			}
			if i == 0 && glue && !r.dingbat && !l.words[len(l.words)-1].tick && !l.words[len(l.words)-1].box {
				last := &l.words[len(l.words)-1]
				last.text += p
				last.x1 = x1
				continue
			}
			l.words = append(l.words, w)
		}
		prevEnd = math.Max(prevEnd, r.x1)
	}
	// Typed tick marks are words of their own: "X", "[x]", "☒".
	for i := range l.words {
		w := &l.words[i]
		if !w.tick && !w.box {
			lw := strings.ToLower(w.text)
			w.tick = tickWords[lw]
			w.box = boxWords[lw]
		}
	}
	return l
}

// isMark reports whether s is a tick or box glyph (not a typed letter x).
func isMark(s string) bool {
	if strings.EqualFold(s, "x") {
		return false
	}
	return tickWords[s] || boxWords[s]
}

// normaliseBoxes writes "[ ]" and "( )" as one word.
func normaliseBoxes(s string) string {
	if !strings.ContainsAny(s, "[(") {
		return s
	}
	return strings.NewReplacer("[ ]", "[]", "( )", "()", "[  ]", "[]").Replace(s)
}

// boolKeys are the fields answered with tick boxes: their labels take no
// value from the next line.
var boolKeys = map[string]bool{"on_behalf": true, "declaration": true, "authority": true, form.KeyGuardianBox: true, form.KeyLPAOrDeputyBox: true}

// startKeys are fields that, seen a second time, start the next form of a
// file holding several.
var startKeys = map[string]bool{"first_name": true, "last_name": true, "nhs_number": true, "date_of_birth": true}

// fill leaders: underscores and dots on which values are written.
var leaders = regexp.MustCompile(`_{2,}|\.{3,}|…+`)

// cleanValue strips writing lines, colons and spaces around a value.
func cleanValue(s string) string {
	s = leaders.ReplaceAllString(s, " ")
	s = strings.Trim(s, " :_\t")
	return strings.Join(strings.Fields(s), " ")
}

// splitLabel finds a printed label at the start of s. It returns the field
// key and what follows the label ("" when nothing does).
func splitLabel(s string) (key, value string) {
	// A colon, or the question mark of a printed question, ends a label.
	for _, sep := range []byte{':', '?'} {
		if i := strings.IndexByte(s, sep); i > 0 {
			if k := form.LabelKey(s[:i]); k != "" {
				return k, cleanValue(s[i+1:])
			}
		}
	}
	if strings.Contains(s, "__") || strings.Contains(s, "...") || strings.Contains(s, "…") {
		s = leaders.ReplaceAllString(s, " ")
	}
	words := strings.Fields(s)
	for n := min(len(words), 10); n >= 1; n-- {
		if k := form.LabelKey(strings.Join(words[:n], " ")); k != "" {
			// Without a colon, a label followed by a sentence is prose
			// ("Email us and ask the team to ...") rather than a form line.
			rest := words[n:]
			if len(rest) > 8 || len(rest) > 0 && strings.ContainsAny(rest[len(rest)-1][len(rest[len(rest)-1])-1:], ".?!") && len(rest) > 3 {
				return "", ""
			}
			return k, cleanValue(strings.Join(rest, " "))
		}
	}
	return "", ""
}

// formBuilder accumulates the forms found in a file's lines.
type formBuilder struct {
	forms  []form.Form
	cur    form.Fields
	keys   map[string]bool // labels seen in the current form
	values int             // values set in the current form
}

func (b *formBuilder) set(key, value string) {
	if value == "" {
		return
	}
	if b.cur.Set(key, value) {
		b.values++
	}
}

// flush ends the current form; a form keeps its place when it had values,
// or enough of the form's labels to be a blank copy of it.
func (b *formBuilder) flush() {
	if b.values > 0 || len(b.keys) >= 3 {
		b.forms = append(b.forms, form.Form{Format: form.FormatPDFText, Fields: b.cur})
	}
	b.cur = form.Fields{}
	b.keys = map[string]bool{}
	b.values = 0
}

// matchForms reads the forms from a file's lines: printed labels matched
// to the value after them on the same line, or on the next line, and tick
// marks matched to the words beside them.
func matchForms(lines []line) []form.Form {
	lines = joinWrappedLabels(lines)
	b := &formBuilder{keys: map[string]bool{}}
	for i := 0; i < len(lines); i++ {
		l := &lines[i]
		if l.hasTick() {
			if b.ticks(lines, i) {
				continue
			}
		}
		cells := l.cells()
		for c := 0; c < len(cells); c++ {
			key, value := splitLabel(cells[c])
			if key == "" {
				continue
			}
			if b.keys[key] && startKeys[key] {
				b.flush()
			}
			b.keys[key] = true
			if boolKeys[key] {
				if value == "" && c+1 < len(cells) && isYesNo(cells[c+1]) {
					// "On behalf of another person?      Yes" in two columns.
					c++
					value = cells[c]
				}
				if value != "" && (form.Ticked(value) || isYesNo(value)) {
					b.set(key, value)
				}
				continue
			}
			if value == "" && c+1 < len(cells) {
				if k2, _ := splitLabel(cells[c+1]); k2 == "" {
					c++
					value = cleanValue(cells[c])
				}
			}
			if value == "" && c == len(cells)-1 {
				value = valueBelow(lines, i, key)
			} else if key == "postal_address" && value != "" && c >= len(cells)-2 {
				value = joinNonEmpty(value, continuation(lines, i))
			}
			b.set(key, value)
		}
	}
	b.flush()
	return b.forms
}

// continuation returns the lines of a multi-line value that continue under
// the value on line i (a flattened address box): lines starting at or right
// of where the value starts, close below, that are not labels.
func continuation(lines []line, i int) string {
	l := lines[i]
	start := math.Inf(1)
	for _, w := range l.words {
		if w.cell == l.words[len(l.words)-1].cell {
			start = math.Min(start, w.x0)
		}
	}
	var parts []string
	prev := l
	for j := i + 1; j < len(lines) && len(parts) < 3; j++ {
		n := lines[j]
		if n.page != l.page || prev.y-n.y > 1.8*math.Max(prev.size, 1) || len(n.words) == 0 || n.words[0].x0 < start-2 || n.hasTick() {
			break
		}
		t := cleanValue(n.text(0, len(n.words)))
		if k, _ := splitLabel(t); k != "" {
			break
		}
		parts = append(parts, t)
		prev = n
	}
	return strings.Join(parts, ", ")
}

// joinNonEmpty joins the non-empty parts with ", ".
func joinNonEmpty(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ", ")
}

// isYesNo reports whether s is a yes or no answer.
func isYesNo(s string) bool {
	switch strings.ToLower(strings.Trim(s, " .!")) {
	case "yes", "no", "y", "n":
		return true
	}
	return false
}

// valueBelow returns the value written under a label that has none on its
// own line: the next lines that are not labels, prose or tick lines (up to
// four for the postal address, one otherwise).
func valueBelow(lines []line, i int, key string) string {
	want := 1
	if key == "postal_address" {
		want = 4
	}
	var parts []string
	prev := lines[i]
	for j := i + 1; j < len(lines) && len(parts) < want; j++ {
		l := lines[j]
		if l.page != prev.page || prev.y-l.y > 2.5*math.Max(prev.size, 1) || l.hasTick() {
			break
		}
		raw := strings.TrimSpace(l.text(0, len(l.words)))
		t := cleanValue(raw)
		if t == "" {
			prev = l
			continue
		}
		if k, _ := splitLabel(t); k != "" {
			break
		}
		// A question, a prompt ending in a colon or a sentence is the
		// form's own wording, not a value.
		if strings.HasSuffix(raw, "?") || strings.HasSuffix(raw, ":") || strings.Contains(raw, ";") || len(strings.Fields(t)) > 10 {
			break
		}
		parts = append(parts, t)
		prev = l
	}
	return strings.Join(parts, ", ")
}

// ticks reads the tick marks on line i and reports whether the line was
// only tick boxes and their labels (then it holds no label: value pairs).
func (b *formBuilder) ticks(lines []line, i int) bool {
	l := &lines[i]
	// Boxes before their labels ("☒ Yes ☐ No") unless the line ends in a
	// box ("Yes ☒ No ☐").
	lastW := l.words[len(l.words)-1]
	right := !(lastW.tick || lastW.box)
	used := false
	for k, w := range l.words {
		if !w.tick {
			continue
		}
		phrase, first := neighbourPhrase(l, k, right)
		if phrase == "" {
			phrase, first = neighbourPhrase(l, k, !right)
		}
		key, value := tickKey(phrase, first)
		if key == "" {
			// A box on a line of its own, or beside a wrapped sentence.
			var around []string
			for j := i - 1; j <= i+1; j++ {
				if j >= 0 && j < len(lines) && lines[j].page == l.page && math.Abs(lines[j].y-l.y) < 2*math.Max(l.size, 1) {
					around = append(around, lines[j].text(0, len(lines[j].words)))
				}
			}
			key, value = tickKey(strings.Join(around, " "), "")
		}
		if key != "" {
			b.keys[key] = true
			b.set(key, value)
			used = true
		}
	}
	if !used {
		return false
	}
	// The line is consumed unless it also carries a label with a value.
	for _, c := range l.cells() {
		if k, v := splitLabel(c); k != "" && v != "" && !boolKeys[k] {
			return false
		}
	}
	return true
}

// neighbourPhrase returns the words beside the tick at k, in one direction,
// up to the next tick or box, and the word next to the tick.
func neighbourPhrase(l *line, k int, right bool) (string, string) {
	var parts []string
	step := 1
	if !right {
		step = -1
	}
	for j := k + step; j >= 0 && j < len(l.words) && len(parts) < 16; j += step {
		w := l.words[j]
		if w.tick || w.box {
			break
		}
		parts = append(parts, w.text)
	}
	if len(parts) == 0 {
		return "", ""
	}
	first := parts[0]
	if !right {
		for a, z := 0, len(parts)-1; a < z; a, z = a+1, z-1 {
			parts[a], parts[z] = parts[z], parts[a]
		}
	}
	return strings.Join(parts, " "), first
}

// tickKey says what a tick beside phrase means; first is the word right
// next to the tick.
func tickKey(phrase, first string) (string, string) {
	if isYesNo(first) {
		return "on_behalf", strings.ToLower(strings.Trim(first, " .!"))
	}
	k, v := tickMeaning(phrase, "")
	if k == "on_behalf" && !isYesNo(v) {
		return "", ""
	}
	return k, v
}

// maxWrapWords bounds the words of a label wrapped over several lines (the
// form's longest, the on-behalf question, has ten), so that prose is not
// read as one.
const maxWrapWords = 14

// maxWrapHead bounds the words on the first line of a wrapped label.
const maxWrapHead = 10

// joinWrappedLabels joins a label wrapped over two or three lines of a
// narrow label column into one line: "If yes, what is your relationship" /
// "to this person?" with the value beside either line. Lines join when they
// start at the same x, lie close below one another, carry no tick, the
// first does not end a label (':' or '?'), and together their first cells
// make one label with nothing after it whose field no part names
// differently. The joined line keeps the first line's place; its values
// are the value cells of every part, in order.
func joinWrappedLabels(lines []line) []line {
	var out []line // nil until a label joins: most files have none
	for i := 0; i < len(lines); i++ {
		if n := wrappedLabel(lines, i); n > 1 {
			if out == nil {
				out = append(make([]line, 0, len(lines)), lines[:i]...)
			}
			out = append(out, joinLines(lines[i:i+n]))
			i += n - 1
			continue
		}
		if out != nil {
			out = append(out, lines[i])
		}
	}
	if out == nil {
		return lines
	}
	return out
}

// wrappedLabel returns how many lines (2 or 3) from i hold one wrapped
// label, or 1.
func wrappedLabel(lines []line, i int) int {
	first := &lines[i]
	if len(first.words) == 0 || i+1 >= len(lines) || first.hasTick() {
		return 1
	}
	// Cheap tests first: most lines are "Label: value" or prose.
	if next := &lines[i+1]; next.page != first.page || first.y-next.y > 1.8*math.Max(first.size, 1) ||
		len(next.words) == 0 || math.Abs(next.words[0].x0-first.words[0].x0) > 0.3*math.Max(first.size, 1) {
		return 1
	}
	headWords := 0
	for _, w := range first.words {
		if w.cell != first.words[0].cell {
			break
		}
		if headWords++; headWords > maxWrapHead || strings.ContainsAny(w.text, ":?") {
			return 1 // prose, or a label that ends on this line
		}
	}
	head := firstCell(first)
	headKey, _ := splitLabel(head)
	parts := []string{head}
	best := 1
	for n := 2; n <= 3 && i+n-1 < len(lines); n++ {
		prev, next := &lines[i+n-2], &lines[i+n-1]
		size := math.Max(prev.size, 1)
		if next.page != prev.page || prev.y-next.y > 1.8*size || len(next.words) == 0 || next.hasTick() ||
			math.Abs(next.words[0].x0-first.words[0].x0) > 0.3*size {
			break
		}
		part := firstCell(next)
		parts = append(parts, part)
		joined := strings.Join(parts, " ")
		if len(strings.Fields(joined)) > maxWrapWords {
			break
		}
		key, value := splitLabel(joined)
		if key == "" || value != "" || headKey != "" && headKey != key {
			if strings.HasSuffix(part, ":") || strings.HasSuffix(part, "?") {
				break
			}
			continue
		}
		if k, _ := splitLabel(part); k != "" && k != key {
			break
		}
		best = n
		if strings.HasSuffix(part, ":") || strings.HasSuffix(part, "?") {
			break // the label ends here; a third line may only finish one that does not
		}
	}
	return best
}

// firstCell returns the text of a line's first cell.
func firstCell(l *line) string {
	var parts []string
	for _, w := range l.words {
		if w.cell != l.words[0].cell {
			break
		}
		parts = append(parts, w.text)
	}
	return strings.Join(parts, " ")
}

// joinLines makes one line of a wrapped label's lines: the label words of
// each in cell 0, then each line's value cells after them.
func joinLines(ls []line) line {
	out := line{page: ls[0].page, y: ls[0].y, size: ls[0].size}
	var values []word
	cell := 1
	for _, l := range ls {
		first := l.words[0].cell
		prevCell := first
		for _, w := range l.words {
			if w.cell == first {
				w.cell = 0
				out.words = append(out.words, w)
				continue
			}
			if w.cell != prevCell {
				cell++
				prevCell = w.cell
			}
			w.cell = cell
			values = append(values, w)
		}
	}
	out.words = append(out.words, values...)
	return out
}
