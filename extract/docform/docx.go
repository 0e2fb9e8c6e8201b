package docform

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"strconv"
	"strings"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// Limits on a Word or OpenDocument file, against zip bombs and hostile XML
// (office.go applies them to both).
const (
	maxDOCXEntries  = 2000     // files in the zip
	maxDOCXDocument = 32 << 20 // uncompressed main part (word/document.xml, content.xml)
	maxXMLDepth     = 256      // element nesting in the main part
	maxXMLTokens    = 4 << 20  // XML tokens in the main part
	minDOCXLabels   = 3        // form labels a document needs to count as a form
)

// Marks the reader writes for ticked and empty check boxes.
const (
	markTicked = "☒"
	markEmpty  = "☐"
)

// oleMagic starts an OLE compound file: an old Word .doc, or an encrypted
// (password-protected) .docx.
var oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// ReadDOCX reads a Word .docx file. Forms come back unchecked (no Problems
// from form.Check). A file that cannot be read returns a *form.UnreadableError.
//
// It reads body paragraphs and table cells (a "Label | value" table is the
// usual layout), content controls (including check box controls), legacy form
// fields (text inputs and check boxes), and ticked-box glyphs (☒ ✓ ✔ and
// Wingdings symbols). A document without the form's labels returns ErrNoForm.
func ReadDOCX(data []byte) ([]form.Form, error) {
	return wordDoc.readForm(readDOCXBlocks(data))
}

// readDOCXBlocks reads the paragraphs and tables of a .docx file, with the
// limits above. Errors are *form.UnreadableError.
func readDOCXBlocks(data []byte) ([]block, error) {
	if bytes.HasPrefix(data, oleMagic) {
		if bytes.Contains(data, utf16le("EncryptedPackage")) {
			return nil, unreadable("docx_encrypted", "The Word file is password-protected; ask for it without a password, or as a PDF.")
		}
		return nil, unreadable("doc_legacy_format", "The file is in the old Word .doc format; ask for a .docx or PDF.")
	}
	zr, err := wordDoc.openZip(data)
	if err != nil {
		return nil, err
	}
	doc := mainDocument(zr)
	if doc == nil {
		return nil, unreadable("docx_invalid", "The file is a zip archive but not a Word document; ask for the form again or as a PDF.")
	}
	xmlData, err := wordDoc.readPart(doc, maxDOCXDocument)
	if err != nil {
		return nil, err
	}
	return wordDoc.parsed(docxBlocks(xmlData))
}

// mainDocument finds the main document part: word/document.xml, or the part
// [Content_Types].xml names as the main document.
func mainDocument(zr *zip.Reader) *zip.File {
	byName := map[string]*zip.File{}
	for _, f := range zr.File {
		byName[strings.TrimPrefix(f.Name, "/")] = f
	}
	if f := byName["word/document.xml"]; f != nil {
		return f
	}
	ct := byName["[Content_Types].xml"]
	if ct == nil {
		return nil
	}
	ctData, err := wordDoc.readPart(ct, 1<<20)
	if err != nil {
		return nil
	}
	var types struct {
		Override []struct {
			PartName    string `xml:"PartName,attr"`
			ContentType string `xml:"ContentType,attr"`
		} `xml:"Override"`
	}
	if err := xml.Unmarshal(ctData, &types); err != nil {
		return nil
	}
	for _, o := range types.Override {
		if strings.Contains(o.ContentType, "wordprocessingml.document.main+xml") ||
			strings.Contains(o.ContentType, "wordprocessingml.template.main+xml") ||
			strings.Contains(o.ContentType, "ms-word.document.macroEnabled.main+xml") {
			return byName[strings.TrimPrefix(o.PartName, "/")]
		}
	}
	return nil
}

// block is a body paragraph (rows == nil) or a table (rows of cell texts).
type block struct {
	text string
	rows [][]string
}

// sdtState is an open content control.
type sdtState struct {
	checkbox, checked, placeholder bool
}

// maxPendingMarks bounds, in bytes, the check-box marks kept for the next
// paragraph: a form has a few between paragraphs, never hundreds.
const maxPendingMarks = 256

// docxBlocks turns document.xml into paragraphs and tables, with check boxes
// of every kind written as markTicked or markEmpty.
func docxBlocks(data []byte) ([]block, error) {
	var (
		b       blockBuilder
		sdts    []*sdtState
		inText  bool
		pending string // a mark to write at the start of the next paragraph
		// Legacy form field check box (w:ffData/w:checkBox).
		inFFCheck              bool
		ffDefault, ffChecked   string
		ffHasDefault, ffHasChk bool
	)
	write := func(s string) {
		// Marks outside any paragraph wait for the next one; a document of
		// nothing but such marks must not grow the wait without bound.
		if !b.write(s) && len(pending) < maxPendingMarks {
			pending += s
		}
	}
	for tok, err := range wordDoc.tokens(data) {
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			raise := false
			switch t.Name.Local {
			case "tbl":
				b.startTable()
			case "tr":
				b.startRow()
			case "tc":
				b.startCell()
			case "p":
				b.startPara()
				if pending != "" {
					write(pending + " ")
					pending = ""
				}
			case "t":
				inText = true
			case "tab":
				if b.suppress == 0 {
					b.write("\t")
				}
			case "br", "cr":
				if b.suppress == 0 {
					b.write("\n")
				}
			case "sym":
				if b.suppress == 0 {
					if m := symMark(attr(t, "char")); m != "" {
						write(m)
					}
				}
			case "sdt":
				sdts = append(sdts, &sdtState{})
			case "checkbox": // w14:checkbox in a content control's properties
				if len(sdts) > 0 {
					sdts[len(sdts)-1].checkbox = true
				}
			case "showingPlcHdr":
				if len(sdts) > 0 {
					sdts[len(sdts)-1].placeholder = true
				}
			case "checked":
				switch {
				case inFFCheck:
					ffHasChk, ffChecked = true, attr(t, "val")
					if ffChecked == "" {
						ffChecked = "1" // <w:checked/> with no value means checked
					}
				case len(sdts) > 0:
					v := attr(t, "val")
					sdts[len(sdts)-1].checked = v == "1" || v == "true" || v == "on"
				}
			case "sdtContent":
				if len(sdts) > 0 {
					s := sdts[len(sdts)-1]
					if s.checkbox {
						mark := markEmpty
						if s.checked {
							mark = markTicked
						}
						write(mark)
					}
					raise = s.checkbox || s.placeholder
				}
			case "checkBox": // w:ffData/w:checkBox, a legacy form field
				inFFCheck, ffHasDefault, ffHasChk, ffDefault, ffChecked = true, false, false, "", ""
			case "default":
				if inFFCheck {
					ffHasDefault, ffDefault = true, attr(t, "val")
				}
			case "instrText", "delText", "delInstrText", "Fallback", "del":
				raise = true
			}
			b.open(raise)
		case xml.EndElement:
			b.close()
			switch t.Name.Local {
			case "t":
				inText = false
			case "p":
				// A text box inside a paragraph is a block of its own, or
				// part of the cell it stands in.
				if text, ok := b.endPara(); ok {
					b.addText(text, b.tblDepth > 0)
				}
			case "tc":
				b.endCell()
			case "tr":
				b.endRow()
			case "tbl":
				b.endTable(true)
			case "sdt":
				if len(sdts) > 0 {
					sdts = sdts[:len(sdts)-1]
				}
			case "checkBox":
				if inFFCheck {
					inFFCheck = false
					v := ffDefault
					if ffHasChk {
						v = ffChecked
					} else if !ffHasDefault {
						v = "0"
					}
					if v == "1" || v == "true" || v == "on" {
						write(markTicked)
					} else {
						write(markEmpty)
					}
				}
			}
		case xml.CharData:
			if inText && b.suppress == 0 && len(b.paras) > 0 {
				write(mapPrivateUse(string(t)))
			}
		}
	}
	return b.done()
}

// attr returns the value of the attribute with the given local name.
func attr(t xml.StartElement, local string) string {
	for _, a := range t.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// symMark maps a w:sym character code (Wingdings, Wingdings 2) to a mark.
func symMark(code string) string {
	n, err := strconv.ParseUint(code, 16, 32)
	if err != nil {
		return ""
	}
	return wingdingsMark(rune(n))
}

// wingdingsMark maps a Wingdings or Wingdings 2 code point (plain, or in the
// U+F000 private-use range Word writes symbol fonts in) to a mark, or "".
func wingdingsMark(r rune) string {
	if r >= 0xF000 && r <= 0xF0FF {
		r -= 0xF000
	}
	switch r {
	case 0xFE, 0xFD, 0x78, 0xFB, 0xFC, 0x52, 0x53, 0x54, 0x50, 0x4F:
		return markTicked
	case 0xA8, 0x6F, 0xA3, 0x71:
		return markEmpty
	}
	return ""
}

// mapPrivateUse replaces symbol-font characters typed as text (U+F0xx) with marks.
func mapPrivateUse(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r >= 0xF000 && r <= 0xF0FF }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r >= 0xF000 && r <= 0xF0FF {
			if m := wingdingsMark(r); m != "" {
				b.WriteString(m)
			}
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// blocksToEntries turns paragraphs into lines and table rows into
// label/value pairs where a cell holds a label, or lines where it does not.
func blocksToEntries(blocks []block) []entry {
	var es []entry
	lines := func(s string) {
		for l := range strings.SplitSeq(s, "\n") {
			es = append(es, entry{line: l})
		}
	}
	for _, b := range blocks {
		if b.rows == nil {
			lines(b.text)
			continue
		}
		for i := 0; i < len(b.rows); i++ {
			row := b.rows[i]
			// Labels across one row and values in the next.
			if i+1 < len(b.rows) && len(row) >= 2 && allLabels(row) && len(b.rows[i+1]) == len(row) && noLabels(b.rows[i+1]) {
				for j, c := range row {
					es = append(es, entry{paired: true, label: c, value: b.rows[i+1][j]})
				}
				i++
				continue
			}
			es = append(es, rowEntries(row)...)
		}
	}
	return es
}

// rowEntries reads one table row: "Label | value", "☒ | I have read...",
// "On behalf? | Yes | ☐ | No | ☒", or cells that are lines of text.
func rowEntries(row []string) []entry {
	var es []entry
	for c := 0; c < len(row); c++ {
		cell := strings.TrimSpace(row[c])
		key := form.LabelKey(cell)
		switch {
		case key != "" && c+1 < len(row):
			value := row[c+1]
			if key == "on_behalf" {
				value = strings.Join(row[c+1:], " ")
				c = len(row)
			} else if form.LabelKey(value) != "" && !isMark(value) {
				es = append(es, entry{paired: true, label: cell})
				continue
			} else {
				c++
			}
			es = append(es, entry{paired: true, label: cell, value: value})
		case key == "" && isMark(cell) && c+1 < len(row) && tickKeys[form.LabelKey(row[c+1])]:
			es = append(es, entry{paired: true, label: row[c+1], value: cell})
			c++
		default:
			for l := range strings.SplitSeq(row[c], "\n") {
				es = append(es, entry{line: l})
			}
		}
	}
	return es
}

// isMark reports whether a cell is only a tick box, ticked or not.
func isMark(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 12 {
		return false
	}
	switch s {
	case markTicked, markEmpty, "☑", "✓", "✔", "✗", "✘", "X", "x", "[x]", "[X]", "[ ]", "[]":
		return true
	}
	return false
}

func allLabels(row []string) bool {
	for _, c := range row {
		if strings.TrimSpace(c) != "" && form.LabelKey(c) == "" {
			return false
		}
	}
	return true
}

func noLabels(row []string) bool {
	for _, c := range row {
		if form.LabelKey(c) != "" {
			return false
		}
	}
	return true
}

// utf16le encodes ASCII s as UTF-16LE, as OLE directory names are stored.
func utf16le(s string) []byte {
	b := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		b = append(b, s[i], 0)
	}
	return b
}
