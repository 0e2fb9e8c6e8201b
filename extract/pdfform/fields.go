package pdfform

import (
	"math"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// Field flags (PDF 32000-1:2008, table 226).
const (
	flagRadio      = 1 << 15
	flagPushbutton = 1 << 16
)

// acroField is one terminal field of an AcroForm, with what it inherited.
type acroField struct {
	names     []string    // candidate labels: the full dotted name, its last part, the /TU tooltip
	typ       string      // /FT: Tx, Btn, Ch, Sig
	flags     int64       // /Ff
	text      string      // a text or choice field's value
	on        bool        // a check box or radio group is on
	state     string      // the on-state name chosen (radio groups: which button)
	widgets   []string    // widget labels near the buttons: their /TU or on-state names
	onWidgets []pdf.Value // the widgets of the buttons that are on, to read the text printed beside them
}

// widgetBox is the rectangle of one widget on its page.
type widgetBox struct {
	x0, y0, x1, y1 float64
}

// readFields reads the AcroForm. It reports whether the document has fields
// at all, and whether any of them holds a value (then the form is read from
// the fields alone).
func (d *doc) readFields(acro pdf.Value) (f form.Fields, hasFields, filled bool, unnamed []acroField) {
	top := acro.Key("Fields")
	if top.Kind() != pdf.Array || top.Len() == 0 {
		return f, false, false, nil
	}
	var fields []acroField
	visited := 0
	var walk func(v pdf.Value, parent acroField, parentV pdf.Value, depth int)
	walk = func(v pdf.Value, parent acroField, parentV pdf.Value, depth int) {
		visited++
		if v.Kind() != pdf.Dict || depth > maxTreeDepth || visited > maxFields {
			return
		}
		cur := acroField{typ: parent.typ, flags: parent.flags}
		full := ""
		if len(parent.names) > 0 {
			full = parent.names[0]
		}
		if t := d.text(v.Key("T")); t != "" {
			if full != "" {
				full += "."
			}
			full += t
		}
		cur.names = []string{full}
		if ft := v.Key("FT").Name(); ft != "" {
			cur.typ = ft
		}
		if ff := v.Key("Ff"); ff.Kind() == pdf.Integer {
			cur.flags = ff.Int64()
		}
		val := v.Key("V")
		if val.IsNull() {
			val = parentV
		}
		tu := d.text(v.Key("TU"))

		// Kids with /T are child fields; kids without are widgets.
		kids := v.Key("Kids")
		var widgets []pdf.Value
		childFields := false
		for i := 0; i < kids.Len() && i < maxFields; i++ {
			k := kids.Index(i)
			if k.Key("T").IsNull() {
				widgets = append(widgets, k)
			} else {
				childFields = true
			}
		}
		if childFields {
			for i := 0; i < kids.Len() && i < maxFields; i++ {
				if k := kids.Index(i); !k.Key("T").IsNull() {
					walk(k, cur, val, depth+1)
				}
			}
			return
		}
		if len(widgets) == 0 {
			widgets = []pdf.Value{v} // field and widget merged in one dictionary
		}
		if tu != "" {
			cur.names = append(cur.names, tu)
		}
		if i := strings.LastIndexByte(full, '.'); i >= 0 {
			cur.names = append(cur.names, full[i+1:])
		}
		switch cur.typ {
		case "Btn":
			if cur.flags&flagPushbutton != 0 {
				return
			}
			d.button(&cur, val, widgets)
		case "Tx":
			cur.text = d.valueText(val)
		case "Ch":
			if val.Kind() == pdf.Array {
				var parts []string
				for i := 0; i < val.Len() && i < 16; i++ {
					parts = append(parts, d.text(val.Index(i)))
				}
				cur.text = strings.Join(parts, ", ")
			} else {
				cur.text = d.valueText(val)
			}
		default:
			return // signatures and unknown types hold nothing to read
		}
		fields = append(fields, cur)
	}
	for i := 0; i < top.Len() && i < maxFields; i++ {
		walk(top.Index(i), acroField{}, pdf.Value{}, 0)
	}
	if len(fields) == 0 {
		return f, false, false, nil
	}
	for _, af := range fields {
		if assignField(&f, af) {
			filled = true
		} else if af.on && len(af.onWidgets) > 0 && !buttonNamed(af) && len(unnamed) < maxUnnamedBoxes {
			unnamed = append(unnamed, af)
		}
	}
	return f, true, filled, unnamed
}

// maxUnnamedBoxes bounds the ticked boxes whose printed text is looked for.
const maxUnnamedBoxes = 8

// buttonNamed reports whether a button's names, tooltip, state or widget
// labels say what it is; when none does ("Confirm", "Check Box1" with the
// tooltip "Tick if applicable"), only the text printed beside it can.
func buttonNamed(af acroField) bool {
	for _, n := range af.names {
		if form.LabelKey(n) != "" {
			return true
		}
	}
	for _, s := range append([]string{af.state}, af.widgets...) {
		if k, _ := tickMeaning(s, ""); k != "" {
			return true
		}
	}
	return false
}

// besideBoxes reads the text printed beside each ticked box in unnamed (on
// the same line, right of the box, or left of it when nothing is on the
// right) and sets the field that text names: the declaration, an
// authority, on behalf. pages are the document's pages, used when a widget
// does not name its own (then only a one-page document is read); each box
// reads its page's text once, at most maxUnnamedBoxes boxes. It reports
// whether a field was set.
func (d *doc) besideBoxes(f *form.Fields, unnamed []acroField, pages []pdf.Value) bool {
	set := false
	for _, af := range unnamed {
		for _, w := range af.onWidgets {
			r := w.Key("Rect")
			if r.Kind() != pdf.Array || r.Len() != 4 {
				continue
			}
			b := widgetBox{x0: r.Index(0).Float64(), y0: r.Index(1).Float64(), x1: r.Index(2).Float64(), y1: r.Index(3).Float64()}
			if b.x0 > b.x1 {
				b.x0, b.x1 = b.x1, b.x0
			}
			if b.y0 > b.y1 {
				b.y0, b.y1 = b.y1, b.y0
			}
			page := w.Key("P")
			if page.Kind() != pdf.Dict {
				if len(pages) != 1 {
					continue
				}
				page = pages[0]
			}
			tx := &textReader{d: d}
			tx.page(page)
			rs := tx.collect
			if k, v := tickMeaning(textBeside(rs, b), ""); k != "" && f.Set(k, v) {
				set = true
			}
		}
	}
	return set
}

// textBeside returns the words printed on the line of box b: those right of
// it, or those left of it when nothing is on the right, up to the next
// wide gap.
func textBeside(rs []run, b widgetBox) string {
	mid, h := (b.y0+b.y1)/2, math.Max(b.y1-b.y0, 4)
	var right, left []run
	for _, r := range rs {
		if math.Abs(r.y+r.size/3-mid) > h*0.75 {
			continue
		}
		switch {
		case r.x0 >= b.x1-1 && r.x0 < b.x1+400:
			right = append(right, r)
		case r.x1 <= b.x0+1 && r.x1 > b.x0-400:
			left = append(left, r)
		}
	}
	pick := right
	if len(pick) == 0 {
		pick = left
	}
	var parts []string
	for _, l := range buildLines(pick) {
		parts = append(parts, l.text(0, len(l.words)))
	}
	return strings.Join(parts, " ")
}

// button reads a check box or a radio group: on when /V (or, without /V,
// a widget's /AS) names a state other than /Off.
func (d *doc) button(cur *acroField, val pdf.Value, widgets []pdf.Value) {
	state := val.Name()
	if val.Kind() == pdf.String {
		state = d.text(val)
	}
	for _, w := range widgets {
		on := onState(w)
		label := d.text(w.Key("TU"))
		if label == "" {
			label = on
		}
		as := w.Key("AS").Name()
		if state == "" && as != "" && as != "Off" {
			state = as
		}
		if state != "" && state != "Off" && (on == state || as == state) {
			if label != "" {
				cur.widgets = append(cur.widgets, label)
			}
			cur.onWidgets = append(cur.onWidgets, w)
		}
	}
	if state != "" && state != "Off" {
		cur.on = true
		cur.state = state
	}
}

// onState returns a widget's on-state name: the key of its /AP /N
// dictionary that is not /Off.
func onState(w pdf.Value) string {
	for _, k := range w.Key("AP").Key("N").Keys() {
		if k != "Off" {
			return k
		}
	}
	for _, k := range w.Key("AP").Key("D").Keys() {
		if k != "Off" {
			return k
		}
	}
	return ""
}

// assignField stores one AcroForm field in f and reports whether it held a
// value.
func assignField(f *form.Fields, af acroField) bool {
	key := ""
	for _, n := range af.names {
		if key = form.LabelKey(n); key != "" {
			break
		}
	}
	if af.typ != "Btn" {
		if key == "" || strings.TrimSpace(af.text) == "" {
			return false
		}
		return f.Set(key, strings.TrimSpace(af.text))
	}
	if !af.on {
		return false
	}
	// A button: a check box or a radio group. The group's own name, the
	// chosen state's name and the widget's tooltip all may say what it means.
	words := append([]string{af.state}, af.widgets...)
	if key == "" || key == "authority" || key == "on_behalf" {
		for _, s := range append(words, af.names...) {
			if k, v := tickMeaning(s, key); k != "" {
				return f.Set(k, v)
			}
		}
	}
	if key == "" {
		return false
	}
	if key == "declaration" || key == form.KeyGuardianBox || key == form.KeyLPAOrDeputyBox {
		return f.Set(key, "Yes")
	}
	// A text-like field presented as buttons (e.g. gender): store the state.
	return f.Set(key, readableState(af.state))
}

// readableState turns a state name such as "Female" or "#20Yes" into text.
func readableState(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(s, "#20", " "))
}

// tickMeaning says what a ticked box with this label or state name means:
// the field key and the value to Set. key is what the group's name already
// told (may be ""). It returns "" when the words say nothing known.
func tickMeaning(s, key string) (string, string) {
	l := strings.ToLower(readableState(s))
	l = strings.NewReplacer("_", " ", "-", " ", ".", " ").Replace(l)
	switch {
	case strings.Contains(l, "under 16") || strings.Contains(l, "under16") || strings.Contains(l, "guardian") || strings.Contains(l, "parental"):
		return "authority", form.AuthorityGuardian
	case strings.Contains(l, "attorney") || strings.Contains(l, "deputy") || strings.Contains(l, "capacity") || strings.Contains(l, "lpa"):
		return "authority", form.AuthorityLPAOrDeputy
	case strings.Contains(l, "have read") || strings.Contains(l, "declar") || strings.Contains(l, "understand"):
		return "declaration", "Yes"
	}
	words := strings.Fields(l)
	last := ""
	if len(words) > 0 {
		last = words[len(words)-1]
	}
	if key == "on_behalf" || strings.Contains(l, "behalf") {
		switch last {
		case "no", "n", "off", "false", "0":
			return "on_behalf", "No"
		case "yes", "y", "on", "true", "1":
			return "on_behalf", "Yes"
		}
		if key == "on_behalf" {
			return "", ""
		}
		return "on_behalf", "Yes"
	}
	return "", ""
}

// valueText decodes a field value: a text string, or a name for the odd
// producer that writes one.
func (d *doc) valueText(v pdf.Value) string {
	switch v.Kind() {
	case pdf.String:
		// Multi-line values (the address) keep their line breaks: Set
		// joins them.
		raw := v.RawString()
		if d.aes {
			raw = stripPadding(raw)
		}
		return keepLines(raw)
	case pdf.Name:
		return readableState(v.Name())
	case pdf.Stream:
		// Rich text values as a stream: read a bounded prefix.
		return ""
	}
	return ""
}

// text decodes a PDF text string: UTF-16BE with a byte order mark, UTF-8
// with one (PDF 2.0), otherwise PDFDocEncoding. The library leaves AES
// padding on decrypted strings; it is stripped here.
func (d *doc) text(v pdf.Value) string {
	if v.Kind() != pdf.String {
		return ""
	}
	raw := v.RawString()
	if d.aes {
		raw = stripPadding(raw)
	}
	return decodeTextString(raw)
}

// stripPadding removes PKCS#7 padding (1 to 16 bytes of the pad length).
func stripPadding(s string) string {
	n := len(s)
	if n == 0 {
		return s
	}
	p := int(s[n-1])
	if p < 1 || p > 16 || p > n {
		return s
	}
	for i := n - p; i < n; i++ {
		if int(s[i]) != p {
			return s
		}
	}
	return s[:n-p]
}

// keepLines decodes a text string like decodeTextString, but keeps its
// line breaks as "\n".
func keepLines(raw string) string {
	raw = strings.ReplaceAll(raw, "\r\n", "\n")
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(decodeRaw(raw), "\r", "\n"), "\n") {
		if l = cleanText(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// decodeTextString decodes a PDF text string to UTF-8 without control
// characters.
func decodeTextString(raw string) string {
	return cleanText(decodeRaw(raw))
}

// decodeRaw decodes a PDF text string to UTF-8.
func decodeRaw(raw string) string {
	var out string
	switch {
	case strings.HasPrefix(raw, "\xfe\xff"):
		b := raw[2:]
		u := make([]uint16, 0, len(b)/2)
		for i := 0; i+1 < len(b); i += 2 {
			u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
		}
		out = string(utf16.Decode(u))
	case strings.HasPrefix(raw, "\xff\xfe"):
		// Little-endian UTF-16 is not allowed but some producers write it.
		b := raw[2:]
		u := make([]uint16, 0, len(b)/2)
		for i := 0; i+1 < len(b); i += 2 {
			u = append(u, uint16(b[i+1])<<8|uint16(b[i]))
		}
		out = string(utf16.Decode(u))
	case strings.HasPrefix(raw, "\xef\xbb\xbf") && utf8.ValidString(raw[3:]):
		out = raw[3:]
	default:
		var sb strings.Builder
		sb.Grow(len(raw))
		for i := 0; i < len(raw); i++ {
			sb.WriteRune(pdfDocRune(raw[i]))
		}
		out = sb.String()
	}
	return out
}

// cleanText turns line breaks and tabs into spaces, drops other control
// characters and U+FFFD, and trims.
func cleanText(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == utf8.RuneError }) < 0 {
		return strings.TrimSpace(s)
	}
	var sb strings.Builder
	for _, r := range s {
		switch {
		case r == '\r' || r == '\n' || r == '\t':
			sb.WriteByte(' ')
		case r < 0x20 || r == 0x7f || r == utf8.RuneError:
		default:
			sb.WriteRune(r)
		}
	}
	return strings.TrimSpace(sb.String())
}

// pdfDocHigh maps PDFDocEncoding bytes 0x80-0x9F, where it differs from
// Latin-1 (PDF 32000-1:2008, annex D.2).
var pdfDocHigh = [32]rune{
	0x2022, 0x2020, 0x2021, 0x2026, 0x2014, 0x2013, 0x0192, 0x2044,
	0x2039, 0x203A, 0x2212, 0x2030, 0x201E, 0x201C, 0x201D, 0x2018,
	0x2019, 0x201A, 0x2122, 0xFB01, 0xFB02, 0x0141, 0x0152, 0x0160,
	0x0178, 0x017D, 0x0131, 0x0142, 0x0153, 0x0161, 0x017E, 0xFFFD,
}

// pdfDocLow maps PDFDocEncoding bytes 0x18-0x1F (accents).
var pdfDocLow = [8]rune{0x02D8, 0x02C7, 0x02C6, 0x02D9, 0x02DD, 0x02DB, 0x02DA, 0x02DC}

// pdfDocRune decodes one PDFDocEncoding byte.
func pdfDocRune(b byte) rune {
	switch {
	case b >= 0x18 && b <= 0x1f:
		return pdfDocLow[b-0x18]
	case b >= 0x80 && b <= 0x9f:
		return pdfDocHigh[b-0x80]
	case b == 0xa0:
		return 0x20AC // euro sign
	case b == 0xad:
		return 0xFFFD // undefined
	}
	return rune(b)
}
