package docform

import (
	"archive/zip"
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// flatODT wraps body (the children of office:text) in a flat OpenDocument text.
func flatODT(body string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:form="urn:oasis:names:tc:opendocument:xmlns:form:1.0"
 xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
 xmlns:field="urn:openoffice:names:experimental:ooo-ms-interop:xmlns:field:1.0"
 xmlns:loext="urn:org:documentfoundation:names:experimental:office:xmlns:loext:1.0"
 office:mimetype="application/vnd.oasis.opendocument.text">
<office:master-styles><text:p>First name: Header Text</text:p></office:master-styles>
<office:body><office:text>` + body + `</office:text></office:body></office:document>`)
}

// zipODT stores files in a zip, mimetype first as LibreOffice writes it.
func zipODT(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := []string{"mimetype"}
	for n := range files {
		if n != "mimetype" {
			names = append(names, n)
		}
	}
	for _, n := range names {
		c, ok := files[n]
		if !ok {
			continue
		}
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const odtPerson = `<text:p>First name: Ann</text:p><text:p>Last name:<text:s/>Example</text:p>` +
	`<text:p>Postcode:<text:tab/>N1 9GU</text:p>`

// odtCheckbox is a form control check box labelled with the declaration.
func odtCheckbox(state string) string {
	return `<office:forms><form:form form:name="Standard"><form:checkbox form:name="Confirm" form:id="c1"` +
		` form:label="I have read the leaflet and understand consequences of opting out" ` + state + `/>` +
		`</form:form></office:forms>` + odtPerson + `<text:p><draw:control draw:control="c1"/></text:p>`
}

func TestReadODT(t *testing.T) {
	tests := []struct {
		name     string
		data     []byte
		first    string
		decl     bool
		onBehalf bool
		code     string // an UnreadableError's code, "" for a form
		noForm   bool
	}{
		{name: "flat paragraphs", data: flatODT(odtPerson), first: "Ann"},
		{name: "zipped", data: zipODT(t, map[string]string{"mimetype": "application/vnd.oasis.opendocument.text",
			"content.xml": string(flatODT(odtPerson))}), first: "Ann"},
		{name: "table", data: flatODT(`<table:table><table:table-row><table:table-cell><text:p>First name</text:p></table:table-cell>` +
			`<table:table-cell><text:p>Ann</text:p></table:table-cell><table:covered-table-cell><text:p>Covered</text:p></table:covered-table-cell></table:table-row>` +
			`<table:table-row><table:table-cell><text:p>Last name</text:p></table:table-cell><table:table-cell><text:p>Example</text:p></table:table-cell></table:table-row>` +
			`<table:table-row><table:table-cell><text:p>Postcode</text:p></table:table-cell><table:table-cell><text:p>N1 9GU</text:p></table:table-cell></table:table-row></table:table>`),
			first: "Ann"},
		{name: "check box control ticked", data: flatODT(odtCheckbox(`form:current-state="checked"`)), first: "Ann", decl: true},
		{name: "check box control ticked by default only", data: flatODT(odtCheckbox(`form:state="checked"`)), first: "Ann", decl: true},
		{name: "check box control cleared by the resident", data: flatODT(odtCheckbox(`form:state="checked" form:current-state="unchecked"`)), first: "Ann"},
		{name: "check box control not ticked", data: flatODT(odtCheckbox(``)), first: "Ann"},
		{name: "text control", data: flatODT(`<office:forms><form:form><form:text form:id="t1" form:value="Old" form:current-value="Ann"/></form:form></office:forms>` +
			`<text:p>First name: <draw:control draw:control="t1"/></text:p><text:p>Last name: Example</text:p><text:p>Postcode: N1 9GU</text:p>`), first: "Ann"},
		{name: "option buttons", data: flatODT(odtPerson + `<office:forms><form:form><form:radio form:id="r1" form:label="Yes" form:current-selected="true"/>` +
			`<form:radio form:id="r2" form:label="No"/></form:form></office:forms>` +
			`<text:p>Are you completing this form on behalf of another person? <draw:control draw:control="r1"/> <draw:control draw:control="r2"/></text:p>`),
			first: "Ann", onBehalf: true},
		{name: "fieldmark check box", data: flatODT(odtPerson + `<text:p><field:fieldmark field:type="vnd.oasis.opendocument.field.FORMCHECKBOX">` +
			`<field:param field:name="Checkbox_Checked" field:value="true"/></field:fieldmark> I have read the leaflet and understand consequences of opting out</text:p>`),
			first: "Ann", decl: true},
		{name: "fieldmark check box not ticked", data: flatODT(odtPerson + `<text:p><field:fieldmark field:type="vnd.oasis.opendocument.field.FORMCHECKBOX">` +
			`<field:param field:name="Checkbox_Checked" field:value="false"/></field:fieldmark> I have read the leaflet and understand consequences of opting out</text:p>`),
			first: "Ann"},
		{name: "content control placeholder is not a value", data: flatODT(`<text:p>First name: <loext:content-control loext:showing-place-holder="true">Click here</loext:content-control></text:p>` +
			`<text:p>Last name: Example</text:p><text:p>Postcode: N1 9GU</text:p>`)},
		{name: "comments and tracked deletions are not read", data: flatODT(`<text:tracked-changes><text:changed-region><text:deletion><text:p>First name: Deleted</text:p></text:deletion></text:changed-region></text:tracked-changes>` +
			`<text:p>First name: Ann<office:annotation><text:p>First name: Comment</text:p></office:annotation></text:p><text:p>Last name: Example</text:p><text:p>Postcode: N1 9GU</text:p>`), first: "Ann"},
		{name: "no form", data: flatODT(`<text:p>Dear team, thank you.</text:p>`), noForm: true},
		{name: "password-protected", data: zipODT(t, map[string]string{"mimetype": "application/vnd.oasis.opendocument.text",
			"META-INF/manifest.xml": `<manifest:manifest><manifest:file-entry manifest:full-path="content.xml"><manifest:encryption-data/></manifest:file-entry></manifest:manifest>`,
			"content.xml":           "\x8f\x01binary"}), code: "odt_encrypted"},
		{name: "zip without content", data: zipODT(t, map[string]string{"mimetype": "application/vnd.oasis.opendocument.text"}), code: "odt_invalid"},
		{name: "damaged zip", data: []byte("PK\x03\x04 not really"), code: "odt_invalid"},
		{name: "broken XML", data: flatODT(`<text:p>First name: Ann`), code: "odt_invalid"},
		{name: "too deep", data: flatODT(strings.Repeat("<text:span>", maxXMLDepth+1)), code: "odt_too_deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forms, err := ReadODT(tt.data)
			var ue *form.UnreadableError
			switch {
			case tt.code != "":
				if !errors.As(err, &ue) || ue.Code != tt.code {
					t.Fatalf("ReadODT() error = %v, want code %q", err, tt.code)
				}
				return
			case tt.noForm:
				if !errors.Is(err, ErrNoForm) {
					t.Fatalf("ReadODT() error = %v, want ErrNoForm", err)
				}
				return
			case err != nil:
				t.Fatalf("ReadODT() error = %v", err)
			}
			f := forms[0].Fields
			if f.FirstName != tt.first || f.Declaration != tt.decl || f.OnBehalf != tt.onBehalf || forms[0].Format != form.FormatODT {
				t.Errorf("ReadODT() = first %q, declaration %v, on behalf %v, format %q; want %q, %v, %v, odt",
					f.FirstName, f.Declaration, f.OnBehalf, forms[0].Format, tt.first, tt.decl, tt.onBehalf)
			}
			if f.LastName != "Example" || f.Postcode == "" {
				t.Errorf("ReadODT() last name %q postcode %q", f.LastName, f.Postcode)
			}
		})
	}
}

func FuzzReadODT(f *testing.F) {
	seeds(f, ".odt",
		flatODT(odtCheckbox(`form:current-state="checked"`)),
		flatODT(strings.Repeat("<table:table><table:table-row><table:table-cell>", 80)+odtPerson),
		flatODT(`<text:p>First name:<text:s text:c="99999999999"/>Ann</text:p>`),
		zipODT(f, map[string]string{"mimetype": "application/vnd.oasis.opendocument.text", "content.xml": string(flatODT(odtPerson))}))
	seeds(f, ".fodt")
	f.Fuzz(func(t *testing.T, data []byte) {
		forms, err := ReadODT(data)
		checkResult(t, forms, err, form.FormatODT)
	})
}
