package pdfform

import (
	"strings"
	"testing"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// textLine builds a line at y from cells; each cell is "x:text", the words
// of one cell laid out from x, 6 points a letter.
func textLine(y float64, cells ...string) line {
	l := line{page: 1, y: y, size: 10}
	for c, cell := range cells {
		xs, text, _ := strings.Cut(cell, ":")
		x := 0.0
		for _, ch := range xs {
			x = x*10 + float64(ch-'0')
		}
		for _, w := range strings.Fields(text) {
			l.words = append(l.words, word{x0: x, x1: x + 6*float64(len(w)), text: w, cell: c})
			x += 6*float64(len(w)) + 3
		}
	}
	return l
}

func TestWrappedLabels(t *testing.T) {
	tests := []struct {
		name  string
		lines []line
		check func(f form.Fields) string
	}{
		{"relationship, value beside the first line", []line{
			textLine(500, "50:If yes, what is your relationship", "230:Mother"),
			textLine(487, "50:to this person?"),
		}, func(f form.Fields) string { return want(f.Relationship, "Mother") }},
		{"relationship, value beside the last line", []line{
			textLine(500, "50:If yes, what is your relationship"),
			textLine(487, "50:to this person?", "230:Mother"),
		}, func(f form.Fields) string { return want(f.Relationship, "Mother") }},
		{"three lines, yes beside the last", []line{
			textLine(500, "50:Are you completing this"),
			textLine(487, "50:form on behalf of another"),
			textLine(474, "50:person?", "230:Yes"),
		}, func(f form.Fields) string { return wantBool(f.OnBehalf, true) }},
		{"three lines, relationship beside the first", []line{
			textLine(500, "50:If yes, what is your", "230:Mother"),
			textLine(487, "50:relationship to this"),
			textLine(474, "50:person?"),
		}, func(f form.Fields) string { return want(f.Relationship, "Mother") }},
		{"three lines, relationship beside the last", []line{
			textLine(500, "50:If yes, what is your"),
			textLine(487, "50:relationship to this"),
			textLine(474, "50:person?", "230:Mother"),
		}, func(f form.Fields) string { return want(f.Relationship, "Mother") }},
		{"label hint on the second line", []line{
			textLine(500, "50:Date of birth"),
			textLine(487, "50:(DD/MM/YYYY)*:", "230:14/03/1978"),
		}, func(f form.Fields) string { return want(f.DateOfBirth, "14/03/1978") }},
		{"a value below a label is not a label's second line", []line{
			textLine(500, "50:Date of birth"),
			textLine(487, "50:14/03/1978"),
		}, func(f form.Fields) string { return want(f.DateOfBirth, "14/03/1978") }},
		{"two labels one above the other stay two", []line{
			textLine(500, "50:Gender", "230:Female"),
			textLine(487, "50:First name", "230:Ann"),
		}, func(f form.Fields) string { return want(f.Gender+"/"+f.FirstName, "Female/Ann") }},
		{"lines at another x do not join", []line{
			textLine(500, "50:If yes, what is your relationship", "230:Mother"),
			textLine(487, "90:to this person?"),
			textLine(460, "50:First name", "230:Ann"),
		}, func(f form.Fields) string { return want(f.Relationship, "") }},
	}
	for _, tt := range tests {
		forms := matchForms(tt.lines)
		if len(forms) != 1 {
			t.Errorf("%s: matchForms gave %d forms, want 1", tt.name, len(forms))
			continue
		}
		if msg := tt.check(forms[0].Fields); msg != "" {
			t.Errorf("%s: %s", tt.name, msg)
		}
	}
}

func want(got, w string) string {
	if got != w {
		return "got " + strings.TrimSpace(got) + ", want " + w
	}
	return ""
}

func wantBool(got, w bool) string {
	if got != w {
		return "got the opposite of what the label says"
	}
	return ""
}

func TestTextBeside(t *testing.T) {
	rs := []run{
		{x0: 78, x1: 300, y: 402, size: 8, text: "I have read the leaflet and understand consequences of opting out", page: 1},
		{x0: 78, x1: 300, y: 380, size: 8, text: "is under 16 and I am their legal guardian", page: 1},
		{x0: 10, x1: 55, y: 358, size: 8, text: "Declaration", page: 1},
	}
	tests := []struct {
		name string
		box  widgetBox
		want string
	}{
		{"sentence right of the box", widgetBox{x0: 60, y0: 400, x1: 72, y1: 412}, "declaration"},
		{"the next line is not beside", widgetBox{x0: 60, y0: 378, x1: 72, y1: 390}, "authority"},
		{"text left of the box when none is right", widgetBox{x0: 60, y0: 356, x1: 72, y1: 368}, "declaration"},
	}
	for _, tt := range tests {
		if k, _ := tickMeaning(textBeside(rs, tt.box), ""); k != tt.want {
			t.Errorf("%s: tickMeaning(textBeside) = %q, want %q", tt.name, k, tt.want)
		}
	}
}
