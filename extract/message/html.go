package message

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlText turns an HTML body into readable text: script, style and similar
// elements are dropped, block elements and <br> become line breaks, table
// cells on one row are separated by a tab (so a row "First name: | Jane"
// reads "First name:\tJane"), entities are decoded and runs of white space
// collapse as a browser would. It uses the streaming tokenizer, so deeply
// nested or unclosed markup costs no more than flat markup.
func htmlText(b []byte) string {
	z := html.NewTokenizer(bytes.NewReader(b))
	var w textWriter
	var skip atom.Atom // the element whose content is being skipped
	pre := 0
	cells := 0 // cells seen on the current table row
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return w.String()
		case html.TextToken:
			if skip != 0 {
				continue
			}
			if pre > 0 {
				w.raw(string(z.Text()))
			} else {
				w.text(string(z.Text()))
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			end := tt == html.EndTagToken
			if skip != 0 {
				if end && a == skip {
					skip = 0
				}
				continue
			}
			switch a {
			case atom.Script, atom.Style, atom.Title, atom.Template, atom.Svg, atom.Object, atom.Head:
				if tt == html.StartTagToken {
					if a == atom.Head {
						continue // head content is mostly skipped by its own children
					}
					skip = a
				}
			case atom.Br:
				w.newline()
			case atom.Pre:
				w.block()
				if end {
					if pre > 0 {
						pre--
					}
				} else if tt == html.StartTagToken {
					pre++
				}
			case atom.Tr:
				w.block()
				cells = 0
			case atom.Td, atom.Th:
				if !end {
					if cells > 0 {
						w.sep("\t")
					}
					cells++
				}
			case atom.Li:
				w.block()
				if !end {
					w.raw("- ")
				}
			case atom.P, atom.Div, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6,
				atom.Table, atom.Ul, atom.Ol, atom.Dl, atom.Dt, atom.Dd, atom.Blockquote,
				atom.Hr, atom.Section, atom.Article, atom.Header, atom.Footer, atom.Address,
				atom.Form, atom.Fieldset, atom.Center, atom.Caption, atom.Tbody, atom.Thead,
				atom.Tfoot, atom.Main, atom.Nav, atom.Aside, atom.Figure, atom.Body, atom.Html:
				w.block()
			}
		}
	}
}

// textWriter accumulates text with collapsed spaces and tidy line breaks.
type textWriter struct {
	b         strings.Builder
	pending   string // separator to write before the next text ("", " ", "\t")
	lineStart bool   // nothing but white space written on this line yet
	newlines  int    // consecutive line breaks at the end of b
}

func (w *textWriter) text(s string) {
	if s == "" {
		return
	}
	if r, _ := utf8.DecodeRuneInString(s); isHTMLSpace(r) && !w.lineStart && w.pending == "" {
		w.pending = " "
	}
	fields := strings.FieldsFunc(s, isHTMLSpace)
	for i, f := range fields {
		if i > 0 && w.pending == "" {
			w.pending = " "
		}
		w.flushSep()
		w.b.WriteString(f)
		w.lineStart, w.newlines = false, 0
	}
	if r, _ := utf8.DecodeLastRuneInString(s); len(fields) > 0 && isHTMLSpace(r) {
		w.pending = " "
	}
}

// raw writes s as it is (inside <pre>).
func (w *textWriter) raw(s string) {
	if s == "" {
		return
	}
	w.flushSep()
	s = strings.ReplaceAll(s, "\u00a0", " ")
	w.b.WriteString(s)
	if strings.HasSuffix(s, "\n") {
		w.lineStart, w.newlines = true, 1
	} else {
		w.lineStart, w.newlines = false, 0
	}
}

func (w *textWriter) flushSep() {
	if w.pending != "" && !w.lineStart {
		w.b.WriteString(w.pending)
	}
	w.pending = ""
}

// sep asks for a separator before the next text on this line.
func (w *textWriter) sep(s string) { w.pending = s; w.lineStart = false }

// newline ends the line (<br>): consecutive <br>s make blank lines, at most one.
func (w *textWriter) newline() {
	w.pending = ""
	if w.newlines < 2 && w.b.Len() > 0 {
		w.b.WriteByte('\n')
		w.newlines++
	}
	w.lineStart = true
}

// block ends the current line if anything is on it.
func (w *textWriter) block() {
	w.pending = ""
	if !w.lineStart && w.b.Len() > 0 {
		w.b.WriteByte('\n')
		w.newlines = 1
	}
	w.lineStart = true
}

func (w *textWriter) String() string {
	lines := strings.Split(w.b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func isHTMLSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\f', '\u00a0':
		return true
	}
	return false
}
