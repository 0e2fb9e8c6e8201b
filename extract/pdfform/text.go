package pdfform

import (
	"bytes"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"
)

// The text walker: a small content-stream interpreter on pdf.Interpret that
// keeps only what reading a form needs: where each piece of text starts and
// ends, at which size, in page coordinates. It follows form XObjects (Do),
// where flattened forms keep their values, and annotation appearances,
// where "Fill & Sign" tools and form widgets keep theirs.

// matrix is an affine transform [a b c d e f].
type matrix [6]float64

var identity = matrix{1, 0, 0, 1, 0, 0}

// mul returns m followed by n.
func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

// run is one piece of text drawn in one go (a Tj string, or one string of
// a TJ array), in page coordinates.
type run struct {
	x0, x1, y float64
	size      float64
	text      string
	dingbat   bool // drawn with a symbol font: a tick mark if its glyph is one
	page      int
	// spaceBefore and spaceAfter say the string began or ended with a space
	// glyph (trimmed from text): LibreOffice and Word split TJ arrays at
	// kerning pairs, so "Flat " and "2" arrive as two touching runs that are
	// still two words.
	spaceBefore, spaceAfter bool
}

// fontInfo is what the walker needs from one font.
type fontInfo struct {
	enc     pdf.TextEncoding
	twoByte bool
	dingbat bool
	first   int
	widths  []float64
	dw      float64         // default width
	cidW    map[int]float64 // composite fonts' /W widths
}

// gstate is the part of the graphics and text state the walker tracks.
type gstate struct {
	ctm                      matrix
	tm, tlm                  matrix
	font                     *fontInfo
	fs, tc, tw, th, tl, rise float64
}

// textReader collects runs from every page of one document.
type textReader struct {
	d        *doc
	pageNo   int
	collect  []run
	runs     int        // text runs seen (including empty pages' nothing)
	images   int        // images drawn
	xobjects int        // form XObjects and appearances drawn, bounded
	pathOps  int        // curves and lines drawn (l c v y), to tell a ticked box from an empty one
	paths    *pathState // squares and strokes painted by the page's own content
	err      error
}

// page walks one page: its contents, then its annotations' appearances.
func (t *textReader) page(p pdf.Value) {
	t.pageNo++
	res := inherited(p, "Resources")
	first := len(t.collect)
	t.paths = &pathState{}
	t.stream(p.Key("Contents"), res, identity, 0)
	paths := t.paths
	t.paths = nil
	annots := p.Key("Annots")
	for i := 0; i < annots.Len() && i < maxFields; i++ {
		a := annots.Index(i)
		switch a.Key("Subtype").Name() {
		case "Link", "Popup":
			continue
		}
		ap := a.Key("AP").Key("N")
		if ap.Kind() == pdf.Dict {
			// An appearance per state: draw the one in /AS.
			ap = ap.Key(a.Key("AS").Name())
		}
		if ap.Kind() != pdf.Stream {
			continue
		}
		rect := a.Key("Rect")
		if rect.Len() != 4 {
			continue
		}
		x0, y0 := math.Min(rect.Index(0).Float64(), rect.Index(2).Float64()), math.Min(rect.Index(1).Float64(), rect.Index(3).Float64())
		bbox := ap.Key("BBox")
		bx, by := bbox.Index(0).Float64(), bbox.Index(1).Float64()
		// Place the appearance's bounding box at the annotation's rectangle
		// (PDF 32000-1:2008, 12.5.5), ignoring any scaling.
		m := matrix{1, 0, 0, 1, x0 - bx, y0 - by}
		t.xobject(ap, res, m, 1)
	}
	t.drawnBoxes(paths, first)
}

// xobject draws a form XObject with the transform m.
func (t *textReader) xobject(x pdf.Value, parentRes pdf.Value, ctm matrix, depth int) {
	t.xobjects++
	if depth > maxXObjectNest || t.xobjects > 4*maxFields {
		return
	}
	res := x.Key("Resources")
	if res.Kind() != pdf.Dict {
		res = parentRes
	}
	if mm := x.Key("Matrix"); mm.Len() == 6 {
		var m matrix
		for i := range m {
			m[i] = mm.Index(i).Float64()
		}
		ctm = m.mul(ctm)
	}
	runs, ops := len(t.collect), t.pathOps
	t.stream(x, res, ctm, depth)
	t.boxMark(x, ctm, len(t.collect) > runs, t.pathOps-ops)
}

// boxMark records a small square XObject without text as a tick box: ticked
// when it draws a mark (lines or curves beyond its frame), empty otherwise.
// Form tools draw check boxes' appearances this way, and flattening keeps
// them.
func (t *textReader) boxMark(x pdf.Value, ctm matrix, hadText bool, ops int) {
	bbox := x.Key("BBox")
	if hadText || bbox.Len() != 4 {
		return
	}
	bx0, by0, bx1, by1 := bbox.Index(0).Float64(), bbox.Index(1).Float64(), bbox.Index(2).Float64(), bbox.Index(3).Float64()
	w, h := math.Abs(bx1-bx0), math.Abs(by1-by0)
	if w < 4 || h < 4 || w > 30 || h > 30 || w > 2*h || h > 2*w {
		return
	}
	p0 := matrix{1, 0, 0, 1, math.Min(bx0, bx1), math.Min(by0, by1)}.mul(ctm)
	p1 := matrix{1, 0, 0, 1, math.Max(bx0, bx1), math.Min(by0, by1)}.mul(ctm)
	mark := "☐"
	if ops >= 4 {
		mark = "✔"
	}
	t.collect = append(t.collect, run{x0: p0[4], x1: p1[4], y: p0[5] + 0.15*h, size: h, text: mark, dingbat: true, page: t.pageNo})
}

// stream interprets one content stream (or an array of them). A panic in
// one stream loses that stream's text only.
func (t *textReader) stream(content pdf.Value, res pdf.Value, ctm matrix, depth int) {
	if content.Kind() != pdf.Stream && content.Kind() != pdf.Array {
		return
	}
	if t.d.ctx.Err() != nil {
		t.err = t.d.ctx.Err()
		return
	}
	if !streamSizeOK(content) {
		return
	}
	defer func() {
		if x := recover(); x != nil {
			panics.Add(1)
		}
	}()
	fonts := map[string]*fontInfo{}
	g := gstate{ctm: ctm, tm: identity, tlm: identity, th: 1}
	var stack []gstate
	pdf.Interpret(content, func(stk *pdf.Stack, op string) {
		n := stk.Len()
		if n > 64 {
			// No operator takes more than 6 operands (TJ takes one array);
			// drop the rest so the stack cannot grow without bound.
			for stk.Len() > 6 {
				stk.Pop()
			}
			n = stk.Len()
		}
		args := make([]pdf.Value, n)
		for i := n - 1; i >= 0; i-- {
			args[i] = stk.Pop()
		}
		num := func(i int) float64 {
			if i < len(args) {
				return args[i].Float64()
			}
			return 0
		}
		if depth == 0 && t.paths != nil {
			t.paths.op(op, num, len(args), g.ctm)
		}
		switch op {
		case "q":
			if len(stack) < 64 {
				stack = append(stack, g)
			}
		case "Q":
			if len(stack) > 0 {
				g = stack[len(stack)-1]
				stack = stack[:len(stack)-1]
			}
		case "cm":
			if len(args) == 6 {
				g.ctm = matrix{num(0), num(1), num(2), num(3), num(4), num(5)}.mul(g.ctm)
			}
		case "BT":
			g.tm, g.tlm = identity, identity
		case "Tf":
			if len(args) == 2 {
				name := args[0].Name()
				f, ok := fonts[name]
				if !ok {
					f = t.font(res.Key("Font").Key(name))
					fonts[name] = f
				}
				g.font = f
				g.fs = num(1)
			}
		case "Tc":
			g.tc = num(0)
		case "Tw":
			g.tw = num(0)
		case "Tz":
			g.th = num(0) / 100
		case "TL":
			g.tl = num(0)
		case "Ts":
			g.rise = num(0)
		case "Td", "TD":
			if len(args) == 2 {
				if op == "TD" {
					g.tl = -num(1)
				}
				g.tlm = matrix{1, 0, 0, 1, num(0), num(1)}.mul(g.tlm)
				g.tm = g.tlm
			}
		case "Tm":
			if len(args) == 6 {
				g.tlm = matrix{num(0), num(1), num(2), num(3), num(4), num(5)}
				g.tm = g.tlm
			}
		case "T*":
			g.tlm = matrix{1, 0, 0, 1, 0, -g.tl}.mul(g.tlm)
			g.tm = g.tlm
		case "Tj", "'", "\"":
			if len(args) == 0 {
				return
			}
			if op != "Tj" {
				if op == "\"" && len(args) == 3 {
					g.tw, g.tc = num(0), num(1)
				}
				g.tlm = matrix{1, 0, 0, 1, 0, -g.tl}.mul(g.tlm)
				g.tm = g.tlm
			}
			t.show(&g, args[len(args)-1].RawString())
		case "TJ":
			if len(args) == 0 {
				return
			}
			a := args[len(args)-1]
			for i := 0; i < a.Len() && i < 1<<16; i++ {
				e := a.Index(i)
				if e.Kind() == pdf.String {
					t.show(&g, e.RawString())
				} else {
					tx := -e.Float64() / 1000 * g.fs * g.th
					g.tm = matrix{1, 0, 0, 1, tx, 0}.mul(g.tm)
				}
			}
		case "Do":
			if len(args) == 0 {
				return
			}
			x := res.Key("XObject").Key(args[0].Name())
			switch x.Key("Subtype").Name() {
			case "Image":
				t.images++
			case "Form":
				t.xobject(x, res, g.ctm, depth+1)
			}
		case "l", "c", "v", "y":
			t.pathOps++
		case "BI", "ID", "EI":
			if op == "BI" {
				t.images++
			}
		}
	})
}

// streamSizeOK decompresses content once through a limit: a small file can
// inflate to gigabytes, and Interpret would push every number it holds.
func streamSizeOK(content pdf.Value) bool {
	var parts []pdf.Value
	if content.Kind() == pdf.Array {
		for i := 0; i < content.Len() && i < 1024; i++ {
			parts = append(parts, content.Index(i))
		}
	} else {
		parts = []pdf.Value{content}
	}
	// Deflate expands at most about 1032 times: one small stream with a
	// single filter cannot reach the limit, so it need not be read twice.
	if len(parts) == 1 {
		f := parts[0].Key("Filter")
		single := f.IsNull() || f.Kind() == pdf.Name && f.Name() == "FlateDecode"
		if single && parts[0].Key("Length").Int64() <= maxStreamBytes/1032 {
			return true
		}
	}
	var total int64
	for _, p := range parts {
		n, err := io.Copy(io.Discard, io.LimitReader(p.Reader(), maxStreamBytes+1-total))
		total += n
		if total > maxStreamBytes {
			return false
		}
		if err != nil && err != io.ErrUnexpectedEOF {
			// The library reports damaged streams while reading them; what
			// was read is still worth interpreting.
			continue
		}
	}
	return true
}

// show records one string drawn with the current state and advances the
// text matrix past it.
func (t *textReader) show(g *gstate, raw string) {
	if len(t.collect) >= maxGlyphRuns {
		return
	}
	f := g.font
	if f == nil {
		f = &fontInfo{enc: nopEncoding{}, dw: 500}
	}
	trm := matrix{g.fs * g.th, 0, 0, g.fs, 0, g.rise}.mul(g.tm).mul(g.ctm)
	x0, y := trm[4], trm[5]
	size := math.Hypot(trm[2], trm[3])

	// Advance glyph by glyph (PDF 32000-1:2008, 9.4.4).
	step := 1
	if f.twoByte {
		step = 2
	}
	for i := 0; i+step <= len(raw); i += step {
		code := int(raw[i])
		if step == 2 {
			code = code<<8 | int(raw[i+1])
		}
		w := f.width(code)
		tx := w/1000*g.fs + g.tc
		if step == 1 && raw[i] == ' ' {
			tx += g.tw
		}
		g.tm = matrix{1, 0, 0, 1, tx * g.th, 0}.mul(g.tm)
	}
	end := matrix{g.fs * g.th, 0, 0, g.fs, 0, g.rise}.mul(g.tm).mul(g.ctm)
	x1 := end[4]
	decoded := safeDecode(f.enc, raw)
	text := cleanText(decoded)
	t.runs++
	if text == "" {
		if decoded != "" && len(t.collect) > 0 {
			// A string of spaces only: the word before it has ended.
			t.collect[len(t.collect)-1].spaceAfter = true
		}
		return
	}
	if x1 < x0 {
		x0, x1 = x1, x0
	}
	t.collect = append(t.collect, run{x0: x0, x1: x1, y: y, size: size, text: text, dingbat: f.dingbat, page: t.pageNo,
		spaceBefore: startsWithSpace(decoded), spaceAfter: endsWithSpace(decoded)})
}

// startsWithSpace reports whether s begins with white space (or a
// no-break space).
func startsWithSpace(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsSpace(r)
}

// endsWithSpace reports whether s ends with white space.
func endsWithSpace(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return unicode.IsSpace(r)
}

// safeDecode runs the library's decoder under a recover: its CMap decoder
// indexes into strings taken from the file.
func safeDecode(enc pdf.TextEncoding, raw string) (s string) {
	defer func() {
		if x := recover(); x != nil {
			panics.Add(1)
			s = ""
		}
	}()
	return enc.Decode(raw)
}

// width returns the width of one glyph in thousandths of the font size.
func (f *fontInfo) width(code int) float64 {
	if f.cidW != nil {
		if w, ok := f.cidW[code]; ok {
			return w
		}
		return f.dw
	}
	if i := code - f.first; i >= 0 && i < len(f.widths) && f.widths[i] > 0 {
		return f.widths[i]
	}
	return f.dw
}

// nopEncoding passes bytes through, for fonts whose encoding cannot be used.
type nopEncoding struct{}

func (nopEncoding) Decode(raw string) string { return raw }

// font builds the walker's view of a font dictionary.
func (t *textReader) font(v pdf.Value) *fontInfo {
	f := &fontInfo{dw: 500}
	if v.Kind() != pdf.Dict {
		f.enc = nopEncoding{}
		return f
	}
	base := v.Key("BaseFont").Name()
	f.dingbat = strings.Contains(base, "Dingbats") || strings.Contains(base, "Wingdings")
	if v.Key("Subtype").Name() == "Type0" {
		f.twoByte = true
		f.dw = 1000
		desc := v.Key("DescendantFonts").Index(0)
		if dw := desc.Key("DW"); dw.Kind() == pdf.Integer || dw.Kind() == pdf.Real {
			f.dw = dw.Float64()
		}
		f.cidW = cidWidths(desc.Key("W"))
	} else {
		f.first = int(v.Key("FirstChar").Int64())
		ws := v.Key("Widths")
		for i := 0; i < ws.Len() && i < 256; i++ {
			f.widths = append(f.widths, ws.Index(i).Float64())
		}
		if mw := v.Key("FontDescriptor").Key("MissingWidth"); mw.Kind() == pdf.Integer || mw.Kind() == pdf.Real {
			f.dw = mw.Float64()
		}
	}
	if !cmapOK(v.Key("ToUnicode")) {
		f.enc = nopEncoding{}
		return f
	}
	pf := pdf.Font{V: v}
	f.enc = safeEncoder(&pf)
	return f
}

// safeEncoder builds the library's encoder under a recover.
func safeEncoder(pf *pdf.Font) (enc pdf.TextEncoding) {
	defer func() {
		if x := recover(); x != nil {
			panics.Add(1)
			enc = nopEncoding{}
		}
	}()
	enc = pf.Encoder()
	if enc == nil {
		enc = nopEncoding{}
	}
	return enc
}

// cidWidths reads a composite font's /W array: "c [w1 w2 ...]" and
// "cfirst clast w" entries, bounded.
func cidWidths(w pdf.Value) map[int]float64 {
	out := map[int]float64{}
	for i := 0; i < w.Len() && len(out) < 1<<14; {
		c := int(w.Index(i).Int64())
		next := w.Index(i + 1)
		if next.Kind() == pdf.Array {
			for j := 0; j < next.Len() && len(out) < 1<<14; j++ {
				out[c+j] = next.Index(j).Float64()
			}
			i += 2
			continue
		}
		last := int(next.Int64())
		wd := w.Index(i + 2).Float64()
		for c2 := c; c2 <= last && c2-c < 1<<14 && len(out) < 1<<14; c2++ {
			out[c2] = wd
		}
		i += 3
	}
	return out
}

// cmapCount finds "N beginbfchar" (and the like) in a CMap.
var cmapCount = regexp.MustCompile(`(\d+)\s+begin(bfchar|bfrange|codespacerange|cidchar|cidrange)`)

// cmapOK checks a ToUnicode CMap before the library reads it: the library
// loops over the count before "beginbfchar", so a CMap claiming billions of
// entries would hang it. Real CMaps have at most 100 per block.
func cmapOK(v pdf.Value) bool {
	if v.Kind() != pdf.Stream {
		return true
	}
	var buf bytes.Buffer
	n, _ := io.Copy(&buf, io.LimitReader(v.Reader(), 1<<20+1))
	if n > 1<<20 {
		return false
	}
	return cmapCountsOK(buf.Bytes())
}

// cmapSections are the CMap operators whose count cmapCountsOK bounds.
var cmapSections = [][]byte{[]byte("bfchar"), []byte("bfrange"), []byte("codespacerange"), []byte("cidchar"), []byte("cidrange")}

// cmapCountsOK reports whether every "N beginbfchar" (and the other
// sections) in a CMap announces at most 10,000 entries. It is the regexp
// cmapCount by hand: the regexp backtracked over every digit run of large
// CMaps and cost a fifth of a text PDF's reading time.
func cmapCountsOK(b []byte) bool {
	for rest, off := b, 0; ; {
		i := bytes.Index(rest, []byte("begin"))
		if i < 0 {
			return true
		}
		at := off + i
		rest, off = rest[i+5:], at+5
		after := b[at+5:]
		section := false
		for _, name := range cmapSections {
			if bytes.HasPrefix(after, name) {
				section = true
				break
			}
		}
		if !section {
			continue
		}
		j := at
		for j > 0 && isPDFSpace(b[j-1]) {
			j--
		}
		if j == at {
			continue // no white space between the count and the operator
		}
		k := j
		for k > 0 && b[k-1] >= '0' && b[k-1] <= '9' {
			k--
		}
		if k == j {
			continue
		}
		c, err := strconv.Atoi(string(b[k:j]))
		if err != nil || c > 10000 {
			return false
		}
	}
}

// isPDFSpace reports whether c is white space as regexp's \s sees it.
func isPDFSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}
