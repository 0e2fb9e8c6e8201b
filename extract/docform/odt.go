package docform

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
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
	return odtDoc.readForm(readODTBlocks(data))
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
		return nil, odtDoc.tooLarge()
	}
	return odtDoc.parsed(odtBlocks(content))
}

// odtContent returns content.xml of a zipped OpenDocument file.
func odtContent(data []byte) ([]byte, error) {
	zr, err := odtDoc.openZip(data)
	if err != nil {
		return nil, err
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
	if manifest != nil {
		if m, err := odtDoc.readPart(manifest, 1<<20); err == nil && bytes.Contains(m, []byte("encryption-data")) {
			return nil, unreadable("odt_encrypted", "The OpenDocument file is password-protected; ask for it without a password, or as a PDF.")
		}
	}
	if content == nil {
		return nil, unreadable("odt_invalid", "The file is a zip archive but not an OpenDocument text; ask for the form again or as a PDF.")
	}
	return odtDoc.readPart(content, maxDOCXDocument)
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
	var (
		b        blockBuilder
		inBody   int
		controls = map[string]string{} // form control id -> what it shows
		fieldmk  string                // type of an open field:fieldmark
		fmCheck  bool                  // its Checkbox_Checked parameter
	)
	write := func(s string) {
		if b.suppress == 0 {
			b.write(s)
		}
	}
	for tok, err := range odtDoc.tokens(data) {
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
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
					b.startPara()
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
					b.startTable()
				case "table-row":
					b.startRow()
				case "table-cell":
					b.startCell()
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
			b.open(raise)
		case xml.EndElement:
			b.close()
			switch t.Name.Space {
			case nsOffice:
				if t.Name.Local == "body" {
					inBody--
				}
			case nsText:
				if t.Name.Local != "p" && t.Name.Local != "h" {
					break
				}
				// Text outside the body or suppressed is dropped; a text
				// box's paragraph inside a cell is a block of its own.
				if text, ok := b.endPara(); ok && inBody > 0 && b.suppress == 0 {
					b.addText(text, b.tblDepth > 0 && len(b.paras) == 0)
				}
			case nsTable:
				switch t.Name.Local {
				case "table-cell":
					b.endCell()
				case "table-row":
					b.endRow()
				case "table":
					b.endTable(inBody > 0)
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
			if len(b.paras) > 0 && inBody > 0 {
				write(mapPrivateUse(string(t)))
			}
		}
	}
	return b.done()
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
