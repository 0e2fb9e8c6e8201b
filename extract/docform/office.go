package docform

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"iter"
	"strings"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// What the Word and OpenDocument readers share: both formats are a zip of
// XML parts whose main part holds paragraphs and tables. An office value
// reads the zip and walks the XML under the same limits, and a blockBuilder
// gathers the paragraphs and tables; each reader keeps only what its own
// markup means.

// office is one office document format: what its forms are marked as (also
// the prefix of its error codes) and how the messages for staff name it.
type office struct {
	format form.Format // form.FormatDOCX or form.FormatODT; error codes are "<format>_invalid" and so on
	name   string      // "Word document": "The <name> is too complex to be a form."
}

var (
	wordDoc = office{format: form.FormatDOCX, name: "Word document"}
	odtDoc  = office{format: form.FormatODT, name: "OpenDocument file"}
)

// unreadable builds the error with code "<format>_<kind>".
func (o office) unreadable(kind, msg string) error {
	return unreadable(string(o.format)+"_"+kind, msg)
}

// tooLarge is the error for a main part over maxDOCXDocument.
func (o office) tooLarge() error {
	return o.unreadable("too_large", "The "+o.name+"'s text is larger than a form can be.")
}

// openZip opens the zip of a document, refusing one with more than
// maxDOCXEntries files.
func (o office) openZip(data []byte) (*zip.Reader, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, o.unreadable("invalid", "The file is not a valid "+o.name+"; ask for the form again or as a PDF.")
	}
	if len(zr.File) > maxDOCXEntries {
		return nil, o.unreadable("invalid", "The "+o.name+" holds too many parts to be a form.")
	}
	return zr, nil
}

// readPart reads one part of the zip, refusing one over max bytes (as the zip
// declares it, and as it turns out).
func (o office) readPart(f *zip.File, max int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(max) {
		return nil, o.tooLarge()
	}
	rc, err := f.Open()
	if err != nil {
		return nil, o.unreadable("invalid", "The "+o.name+"'s text part cannot be opened; the file may be damaged.")
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, o.unreadable("invalid", "The "+o.name+"'s text part is damaged; ask for the form again or as a PDF.")
	}
	if int64(len(b)) > max {
		return nil, o.tooLarge()
	}
	return b, nil
}

// parsed passes on the blocks found in the main part, or turns the error
// of reading them into an unreadable error (broken XML).
func (o office) parsed(blocks []block, err error) ([]block, error) {
	if err != nil {
		var ue *form.UnreadableError
		if errors.As(err, &ue) {
			return nil, err
		}
		return nil, o.unreadable("invalid", "The "+o.name+"'s text is not well-formed XML; the file may be damaged. Ask for the form again or as a PDF.")
	}
	return blocks, nil
}

// readForm reads the form from the blocks of a main part (parsed):
// ErrNoForm with fewer than minDOCXLabels labels, the error as it is when
// reading failed.
func (o office) readForm(blocks []block, err error) ([]form.Form, error) {
	if err != nil {
		return nil, err
	}
	var r reader
	r.read(blocksToEntries(blocks))
	if len(r.labels) < minDOCXLabels {
		return nil, ErrNoForm
	}
	return []form.Form{{Format: o.format, Fields: r.fields, Problems: []form.Problem{}}}, nil
}

// tokens yields the tokens of a main part up to its end, or an error where
// the XML is broken or (an unreadable error) once the part has more than
// maxXMLTokens tokens or nests deeper than maxXMLDepth; nothing follows an
// error. The decoder is lenient (Strict off), as office files in the wild
// are not always well-formed.
func (o office) tokens(data []byte) iter.Seq2[xml.Token, error] {
	return func(yield func(xml.Token, error) bool) {
		dec := xml.NewDecoder(bytes.NewReader(data))
		dec.Strict = false
		depth, tokens := 0, 0
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(nil, err)
				return
			}
			tokens++
			if tokens > maxXMLTokens {
				yield(nil, o.unreadable("too_large", "The "+o.name+" is too complex to be a form."))
				return
			}
			switch tok.(type) {
			case xml.StartElement:
				depth++
				if depth > maxXMLDepth {
					yield(nil, o.unreadable("too_deep", "The "+o.name+" is nested too deeply to be a form."))
					return
				}
			case xml.EndElement:
				depth--
			}
			if !yield(tok, nil) {
				return
			}
		}
	}
}

// blockBuilder gathers paragraphs and tables from the elements a reader
// walks. Tables inside tables are read as part of the outer table's cell.
type blockBuilder struct {
	blocks     []block
	paras      []*strings.Builder // open paragraphs (text boxes nest them)
	tblDepth   int
	table      [][]string
	row        []string
	cell       []string
	suppress   int    // open elements whose text is not the resident's
	suppressed []bool // per open element: did it raise suppress?
}

// open records an element's start; raise says its text is not the
// resident's (a deletion, a comment, a placeholder), up to its end.
func (b *blockBuilder) open(raise bool) {
	if raise {
		b.suppress++
	}
	b.suppressed = append(b.suppressed, raise)
}

// close records an element's end.
func (b *blockBuilder) close() {
	if n := len(b.suppressed); n > 0 {
		if b.suppressed[n-1] {
			b.suppress--
		}
		b.suppressed = b.suppressed[:n-1]
	}
}

// write adds s to the open paragraph (up to 64 KiB of it); false if there is
// no open paragraph.
func (b *blockBuilder) write(s string) bool {
	if len(b.paras) == 0 {
		return false
	}
	if p := b.paras[len(b.paras)-1]; p.Len() < 64<<10 {
		p.WriteString(s)
	}
	return true
}

// startPara opens a paragraph.
func (b *blockBuilder) startPara() {
	b.paras = append(b.paras, &strings.Builder{})
}

// endPara closes the open paragraph and returns its text; false if none is
// open.
func (b *blockBuilder) endPara() (string, bool) {
	if len(b.paras) == 0 {
		return "", false
	}
	text := b.paras[len(b.paras)-1].String()
	b.paras = b.paras[:len(b.paras)-1]
	return text, true
}

// addText adds a closed paragraph's text to the table cell being read
// (inCell) or as a block of its own.
func (b *blockBuilder) addText(text string, inCell bool) {
	if inCell {
		b.cell = append(b.cell, text)
		return
	}
	b.blocks = append(b.blocks, block{text: text})
}

// startTable, startRow and startCell open a table, a row and a cell.
func (b *blockBuilder) startTable() {
	b.tblDepth++
	if b.tblDepth == 1 {
		b.table = nil
	}
}

func (b *blockBuilder) startRow() {
	if b.tblDepth == 1 {
		b.row = nil
	}
}

func (b *blockBuilder) startCell() {
	if b.tblDepth == 1 {
		b.cell = b.cell[:0]
	}
}

// endCell closes a cell: its paragraphs become one text (and the cell's
// slice is reused for the next one).
func (b *blockBuilder) endCell() {
	if b.tblDepth == 1 {
		b.row = append(b.row, strings.Join(b.cell, "\n"))
		b.cell = b.cell[:0]
	}
}

// endRow closes a row.
func (b *blockBuilder) endRow() {
	if b.tblDepth == 1 {
		b.table = append(b.table, b.row)
		b.row = nil
	}
}

// endTable closes a table; the outermost one becomes a block if keep.
func (b *blockBuilder) endTable(keep bool) {
	b.tblDepth--
	if b.tblDepth == 0 && keep {
		b.blocks = append(b.blocks, block{rows: b.table})
		b.table = nil
	}
}

// done returns the blocks, or an error if a paragraph or table is still open.
func (b *blockBuilder) done() ([]block, error) {
	if len(b.paras) > 0 || b.tblDepth > 0 {
		return nil, errors.New("the XML ends inside an element")
	}
	return b.blocks, nil
}
