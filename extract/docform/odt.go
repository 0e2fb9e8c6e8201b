package docform

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// ReadODT reads an OpenDocument text document: a .odt (a zip holding
// content.xml) or a flat .fodt (one XML file). Forms come back unchecked. A
// file that cannot be read returns a *form.UnreadableError; a document
// without the form's labels returns ErrNoForm.
//
// As for Word, it reads body paragraphs and table cells ("Label | value"
// tables), form controls (text fields, check boxes and option buttons, whose
// values live in office:forms), content-control check boxes, legacy Word
// form fields kept by LibreOffice (fieldmarks) and ticked-box glyphs. Text
// outside the body (headers, footers, comments, tracked deletions) is not
// read. The zip limits are the Word reader's.
func ReadODT(data []byte) ([]form.Form, error) {
	blocks, err := readODTBlocks(data)
	if err != nil {
		return nil, err
	}
	var r reader
	r.read(blocksToEntries(blocks))
	if len(r.labels) < minDOCXLabels {
		return nil, ErrNoForm
	}
	return []form.Form{{Format: form.FormatODT, Fields: r.fields, Problems: []form.Problem{}}}, nil
}

// readODTBlocks reads the paragraphs and tables of an OpenDocument text
// (zipped or flat). Errors are *form.UnreadableError.
func readODTBlocks(data []byte) ([]block, error) {
	content := data
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		var err error
		if content, err = odtContent(data); err != nil {
			return nil, err
		}
	} else if len(data) > maxDOCXDocument {
		return nil, unreadable("odt_too_large", "The OpenDocument file's text is larger than a form can be.")
	}
	blocks, err := odtBlocks(content)
	if err != nil {
		var ue *form.UnreadableError
		if errors.As(err, &ue) {
			return nil, err
		}
		return nil, unreadable("odt_invalid", "The OpenDocument file's text is not well-formed XML; the file may be damaged. Ask for the form again or as a PDF.")
	}
	return blocks, nil
}

// odtContent returns content.xml of a zipped OpenDocument file.
func odtContent(data []byte) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, unreadable("odt_invalid", "The file is not a valid OpenDocument file; ask for the form again or as a PDF.")
	}
	if len(zr.File) > maxDOCXEntries {
		return nil, unreadable("odt_invalid", "The OpenDocument file holds too many parts to be a form.")
	}
	var content, manifest *zip.File
	for _, f := range zr.File {
		switch f.Name {
		case "content.xml":
			content = f
		case "META-INF/manifest.xml":
			manifest = f
		}
	}
	if manifest != nil && manifest.UncompressedSize64 < 1<<20 {
		if m, err := readZipPart(manifest, 1<<20); err == nil && bytes.Contains(m, []byte("encryption-data")) {
			return nil, unreadable("odt_encrypted", "The OpenDocument file is password-protected; ask for it without a password, or as a PDF.")
		}
	}
	if content == nil {
		return nil, unreadable("odt_invalid", "The file is a zip archive but not an OpenDocument text; ask for the form again or as a PDF.")
	}
	if content.UncompressedSize64 > maxDOCXDocument {
		return nil, unreadable("odt_too_large", "The OpenDocument file's text is larger than a form can be.")
	}
	b, err := readZipPart(content, maxDOCXDocument)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// readZipPart reads one part of a zip, at most max bytes.
func readZipPart(f *zip.File, max int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, unreadable("odt_invalid", "A part of the OpenDocument file cannot be opened; the file may be damaged.")
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, unreadable("odt_invalid", "A part of the OpenDocument file is damaged; ask for the form again or as a PDF.")
	}
	if int64(len(b)) > max {
		return nil, unreadable("odt_too_large", "The OpenDocument file's text is larger than a form can be.")
	}
	return b, nil
}

// The OpenDocument namespaces the reader tells elements apart by.
const (
	nsOffice = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
	nsText   = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
	nsTable  = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
	nsForm   = "urn:oasis:names:tc:opendocument:xmlns:form:1.0"
	nsDraw   = "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
	nsField  = "urn:openoffice:names:experimental:ooo-ms-interop:xmlns:field:1.0"
	nsLOExt  = "urn:org:documentfoundation:names:experimental:office:xmlns:loext:1.0"
)

// odtAttr returns the value of the attribute space:local.
func odtAttr(t xml.StartElement, space, local string) string {
	for _, a := range t.Attr {
		if a.Name.Local == local && a.Name.Space == space {
			return a.Value
		}
	}
	return ""
}

// odtBlocks turns an OpenDocument content.xml (or flat document) into
// paragraphs and tables, with check boxes and option buttons written as
// markTicked or markEmpty.
func odtBlocks(data []byte) ([]block, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = false
	var (
		blocks   []block
		paras    []*strings.Builder
		tblDepth int
		table    [][]string
		row      []string
		cell     []string
		inBody   int
		suppress int
		depth    int
		tokens   int
		controls = map[string]string{} // form control id -> what it shows
		fieldmk  string                // type of an open field:fieldmark
		fmCheck  bool                  // its Checkbox_Checked parameter
	)
	write := func(s string) {
		if len(paras) == 0 || suppress > 0 {
			return
		}
		if p := paras[len(paras)-1]; p.Len() < 64<<10 {
			p.WriteString(s)
		}
	}
	var suppressed []bool
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		tokens++
		if tokens > maxXMLTokens {
			return nil, unreadable("odt_too_large", "The OpenDocument file is too complex to be a form.")
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > maxXMLDepth {
				return nil, unreadable("odt_too_deep", "The OpenDocument file is nested too deeply to be a form.")
			}
			raise := false
			switch t.Name.Space {
			case nsOffice:
				switch t.Name.Local {
				case "body":
					inBody++
				case "annotation", "forms":
					raise = true
				}
			case nsText:
				switch t.Name.Local {
				case "p", "h":
					paras = append(paras, &strings.Builder{})
				case "s":
					n, err := strconv.Atoi(odtAttr(t, nsText, "c"))
					if err != nil || n < 1 {
						n = 1
					}
					write(strings.Repeat(" ", min(n, 64)))
				case "tab":
					write("\t")
				case "line-break":
					write("\n")
				case "tracked-changes", "note-citation", "sequence-decls", "variable-decls", "user-field-decls":
					raise = true
				}
			case nsTable:
				switch t.Name.Local {
				case "table":
					tblDepth++
					if tblDepth == 1 {
						table = nil
					}
				case "table-row":
					if tblDepth == 1 {
						row = nil
					}
				case "table-cell":
					if tblDepth == 1 {
						cell = nil
					}
				case "covered-table-cell":
					raise = true
				}
			case nsForm:
				// The controls' values, kept by id for draw:control.
				odtControl(t, controls)
			case nsDraw:
				if t.Name.Local == "control" {
					write(controls[odtAttr(t, nsDraw, "control")])
				}
			case nsField:
				switch t.Name.Local {
				case "fieldmark":
					fieldmk, fmCheck = odtAttr(t, nsField, "type"), false
				case "param":
					if strings.HasSuffix(fieldmk, "FORMCHECKBOX") && odtAttr(t, nsField, "name") == "Checkbox_Checked" {
						fmCheck = odtAttr(t, nsField, "value") == "true"
					}
				}
			case nsLOExt:
				if t.Name.Local == "content-control" && odtAttr(t, nsLOExt, "showing-place-holder") == "true" {
					raise = true
				}
			}
			if raise {
				suppress++
			}
			suppressed = append(suppressed, raise)
		case xml.EndElement:
			depth--
			if len(suppressed) > 0 {
				if suppressed[len(suppressed)-1] {
					suppress--
				}
				suppressed = suppressed[:len(suppressed)-1]
			}
			switch t.Name.Space {
			case nsOffice:
				if t.Name.Local == "body" {
					inBody--
				}
			case nsText:
				if t.Name.Local != "p" && t.Name.Local != "h" || len(paras) == 0 {
					break
				}
				text := paras[len(paras)-1].String()
				paras = paras[:len(paras)-1]
				switch {
				case inBody == 0 || suppress > 0:
				case tblDepth > 0 && len(paras) == 0:
					cell = append(cell, text)
				default:
					blocks = append(blocks, block{text: text})
				}
			case nsTable:
				switch t.Name.Local {
				case "table-cell":
					if tblDepth == 1 {
						row = append(row, strings.Join(cell, "\n"))
						cell = nil
					}
				case "table-row":
					if tblDepth == 1 {
						table = append(table, row)
						row = nil
					}
				case "table":
					tblDepth--
					if tblDepth == 0 && inBody > 0 {
						blocks = append(blocks, block{rows: table})
						table = nil
					}
				}
			case nsField:
				if t.Name.Local == "fieldmark" {
					if strings.HasSuffix(fieldmk, "FORMCHECKBOX") {
						if fmCheck {
							write(markTicked)
						} else {
							write(markEmpty)
						}
					}
					fieldmk = ""
				}
			}
		case xml.CharData:
			if len(paras) > 0 && inBody > 0 {
				write(mapPrivateUse(string(t)))
			}
		}
	}
	if len(paras) > 0 || tblDepth > 0 {
		return nil, errors.New("content.xml ends inside an element")
	}
	return blocks, nil
}

// odtControl records what a form control shows in the text: a check box or
// option button as a mark followed by its label, a text field or combo box
// as its value. Its id is form:id, or xml:id in newer files.
func odtControl(t xml.StartElement, controls map[string]string) {
	id := odtAttr(t, nsForm, "id")
	if id == "" {
		id = odtAttr(t, "http://www.w3.org/XML/1998/namespace", "id")
	}
	if id == "" || len(controls) > maxDOCXEntries {
		return
	}
	label := strings.TrimSpace(odtAttr(t, nsForm, "label"))
	mark := func(on bool) string {
		m := markEmpty
		if on {
			m = markTicked
		}
		if label != "" {
			m += " " + label
		}
		return m
	}
	switch t.Name.Local {
	case "checkbox":
		state := odtAttr(t, nsForm, "current-state")
		if state == "" {
			state = odtAttr(t, nsForm, "state")
		}
		controls[id] = mark(state == "checked")
	case "radio":
		sel := odtAttr(t, nsForm, "current-selected")
		if sel == "" {
			sel = odtAttr(t, nsForm, "selected")
		}
		controls[id] = mark(sel == "true")
	case "text", "textarea", "formatted-text", "combobox", "date", "number":
		v := odtAttr(t, nsForm, "current-value")
		if v == "" {
			v = odtAttr(t, nsForm, "value")
		}
		controls[id] = v
	}
}
