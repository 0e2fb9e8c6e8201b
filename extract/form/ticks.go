package form

import (
	"strings"
	"unicode"
)

// tickMarks are the glyphs that mean a ticked box on their own.
const tickMarks = "xX☒☑✓✔✗✘■●◉⊠⮽🗹✅"

// emptyMarks are the glyphs that mean an empty box.
const emptyMarks = "☐□○◯"

// tickWords are the words that mean a ticked box (lower case).
var tickWords = map[string]bool{
	"yes": true, "y": true, "true": true, "on": true, "1": true, "ticked": true,
	"tick": true, "checked": true, "selected": true, "agreed": true, "agree": true,
	"confirmed": true, "confirm": true, "x": true, "iagree": true, "iconfirm": true,
}

// untickWords are the words that mean an empty box (lower case).
var untickWords = map[string]bool{
	"no": true, "n": true, "false": true, "off": true, "0": true, "unticked": true,
	"unchecked": true, "none": true, "na": true, "n/a": true,
}

// Ticked reports whether a value means a ticked box: X, x, [x], ☒, ✓, ✔, Yes, true...
func Ticked(value string) bool {
	t, ok := tickState(value)
	return ok && t
}

// tickState reads a single box's value. ok is false when the value says
// neither ticked nor empty (free text, or both "Yes" and "No").
func tickState(value string) (ticked, ok bool) {
	v := strings.TrimSpace(value)
	if len(v) > 200 {
		return false, false
	}
	v = strings.TrimPrefix(v, "/") // PDF names: /Yes, /Off
	v = strings.Trim(v, " \t\r\n.!:;,")
	// A bracketed box: [x], [ ], (x), ( ).
	if len(v) >= 2 && (v[0] == '[' && v[len(v)-1] == ']' || v[0] == '(' && v[len(v)-1] == ')') {
		inner := strings.TrimSpace(v[1 : len(v)-1])
		if inner == "" {
			return false, true
		}
		v = inner
	}
	if v == "" {
		return false, true
	}
	if r := []rune(v); len(r) == 1 {
		switch {
		case strings.ContainsRune(tickMarks, r[0]):
			return true, true
		case strings.ContainsRune(emptyMarks, r[0]):
			return false, true
		}
	}
	lv := strings.ToLower(v)
	if tickWords[lv] {
		return true, true
	}
	if untickWords[lv] {
		return false, true
	}
	// "Yes, I have read it", "No - not applicable", "✓ done": judge by the first word.
	first := strings.FieldsFunc(lv, func(r rune) bool {
		return unicode.IsSpace(r) || r == ',' || r == '-' || r == '.' || r == ':' || r == ';'
	})
	if len(first) > 1 {
		hasYes, hasNo := containsWord(first, tickWords), containsWord(first, untickWords)
		switch {
		case hasYes && hasNo:
			return false, false
		case tickWords[first[0]] && first[0] != "1" && first[0] != "on":
			return true, true
		case untickWords[first[0]] && first[0] != "0":
			return false, true
		}
	}
	return false, false
}

func containsWord(words []string, set map[string]bool) bool {
	for _, w := range words {
		if w != "x" && w != "y" && w != "n" && w != "on" && w != "1" && w != "0" && set[w] {
			return true
		}
	}
	return false
}

// yesNoChoice reads a printed "Yes No" choice where one answer is marked:
// "[x] Yes [ ] No", "Yes ☒ No ☐", "Yes: X No:", "☐ Yes ☒ No", or a plain
// "Yes"/"No". ok is false when neither or both answers are marked.
func yesNoChoice(value string) (yes, ok bool) {
	if t, ok := tickState(value); ok {
		return t, true
	}
	if len(value) > 200 {
		return false, false
	}
	toks := choiceTokens(value)
	yesAt, noAt := -1, -1
	for i, t := range toks {
		switch t {
		case "yes":
			if yesAt >= 0 {
				return false, false
			}
			yesAt = i
		case "no":
			if noAt >= 0 {
				return false, false
			}
			noAt = i
		}
	}
	marked := func(i int) bool { return i >= 0 && i < len(toks) && toks[i] == "#" }
	if yesAt < 0 || noAt < 0 {
		// One answer alone, marked: "☒ Yes", "No [x]".
		at := max(yesAt, noAt)
		if at >= 0 && (marked(at-1) || marked(at+1)) {
			return yesAt >= 0, true
		}
		return false, false
	}
	// A mark belongs to the answer it is next to. When the line starts with a
	// box ("[x] Yes [ ] No") marks come before their answers, otherwise after
	// them ("Yes [x] No [ ]", "Yes ☒ No ☐").
	first := min(yesAt, noAt)
	off := 1
	if first > 0 && (toks[first-1] == "#" || toks[first-1] == "_") {
		off = -1
	}
	y, n := marked(yesAt+off), marked(noAt+off)
	if y == n {
		return false, false
	}
	return y, true
}

// choiceTokens splits a choice line into "yes", "no", "#" (a mark) and "_"
// (an empty box or other text).
func choiceTokens(value string) []string {
	var toks []string
	rs := []rune(value)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '[' || r == '(':
			j := i + 1
			for j < len(rs) && rs[j] != ']' && rs[j] != ')' && j-i < 6 {
				j++
			}
			inner := ""
			if j < len(rs) && (rs[j] == ']' || rs[j] == ')') {
				inner = strings.TrimSpace(string(rs[i+1 : j]))
				i = j
			}
			if inner != "" && (Ticked(inner)) {
				toks = append(toks, "#")
			} else {
				toks = append(toks, "_")
			}
		case strings.ContainsRune(tickMarks, r) && !unicode.IsLetter(r):
			toks = append(toks, "#")
		case strings.ContainsRune(emptyMarks, r):
			toks = append(toks, "_")
		case unicode.IsLetter(r):
			j := i
			for j < len(rs) && unicode.IsLetter(rs[j]) {
				j++
			}
			w := strings.ToLower(string(rs[i:j]))
			i = j - 1
			switch w {
			case "yes", "no":
				toks = append(toks, w)
			case "x":
				toks = append(toks, "#")
			default:
				toks = append(toks, "_")
			}
		}
	}
	return toks
}
