package docform

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// jnode is a parsed JSON value that keeps object keys in their order.
type jnode struct {
	kind byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	keys []string
	vals []*jnode
	str  string
}

// wrapperKeys name objects that wrap the form itself: {"form": {...}}.
var wrapperKeys = map[string]bool{
	"form": true, "forms": true, "data": true, "submission": true, "submissions": true,
	"optout": true, "opt_out": true, "fields": true, "records": true, "items": true,
	"patient": true, "resident": true, "person": true, "details": true,
}

// ReadJSON reads one JSON object or an array of objects, one form each.
// Keys are the contract's names ("first_name") or labels ("First name");
// values are strings, booleans or numbers (an NHS number may be a number).
// An object wrapping the form ({"form": {...}}) is looked into. Invalid JSON
// returns a *form.UnreadableError with code json_invalid; JSON with no form
// fields returns ErrNoForm.
func ReadJSON(data []byte) ([]form.Form, error) {
	if len(data) > maxJSONBytes {
		return nil, unreadable("json_too_large", "The JSON file is larger than a form can be; ask for a smaller file or a PDF.")
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	root, err := parseJSON(dec, 0)
	if err == nil {
		if _, err2 := dec.Token(); err2 != io.EOF {
			err = errors.New("trailing data after the JSON value")
		}
	}
	if err != nil {
		if errors.Is(err, errTooDeep) {
			return nil, unreadable("json_too_deep", "The JSON file is nested too deeply to be a form.")
		}
		return nil, unreadable("json_invalid", "The file is not valid JSON; ask the resident to send the form again or as a PDF.")
	}
	var forms []form.Form
	collectJSONForms(root, 0, &forms)
	if len(forms) > maxForms {
		return nil, unreadable("json_too_many_forms", "The JSON file holds more forms than one file may.")
	}
	if len(forms) == 0 {
		return nil, ErrNoForm
	}
	return forms, nil
}

var errTooDeep = errors.New("json nested too deeply")

// parseJSON reads one value from dec, keeping object keys in order.
func parseJSON(dec *json.Decoder, depth int) (*jnode, error) {
	if depth > maxJSONDepth {
		return nil, errTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			n := &jnode{kind: 'o'}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errors.New("object key is not a string")
				}
				val, err := parseJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.keys, n.vals = append(n.keys, k), append(n.vals, val)
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return n, nil
		case '[':
			n := &jnode{kind: 'a'}
			for dec.More() {
				val, err := parseJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.vals = append(n.vals, val)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return n, nil
		}
		return nil, errors.New("unexpected delimiter")
	case string:
		return &jnode{kind: 's', str: v}, nil
	case json.Number:
		return &jnode{kind: 'n', str: v.String()}, nil
	case bool:
		if v {
			return &jnode{kind: 'b', str: "true"}, nil
		}
		return &jnode{kind: 'b', str: "false"}, nil
	case nil:
		return &jnode{kind: 'z'}, nil
	}
	return nil, errors.New("unexpected token")
}

// collectJSONForms appends the forms in n: an object with form fields is a
// form; an array's elements and a wrapper's contents are looked into.
func collectJSONForms(n *jnode, depth int, forms *[]form.Form) {
	if depth > 4 || len(*forms) > maxForms {
		return
	}
	switch n.kind {
	case 'a':
		for _, v := range n.vals {
			collectJSONForms(v, depth+1, forms)
		}
	case 'o':
		var r reader
		for i, k := range n.keys {
			key := form.LabelKey(k)
			if key == "" {
				continue
			}
			r.set(key, jsonText(n.vals[i], key, 0))
		}
		if len(r.labels) >= 2 {
			*forms = append(*forms, form.Form{Format: form.FormatJSON, Fields: r.fields, Problems: []form.Problem{}})
			return
		}
		for i, k := range n.keys {
			if wrapperKeys[strings.ToLower(k)] {
				collectJSONForms(n.vals[i], depth+1, forms)
			}
		}
	}
}

// jsonText turns a field's JSON value into the text Set takes: numbers as
// written (an NHS number stays digits), booleans as true/false, an address
// given as an array or object as its parts on separate lines.
func jsonText(n *jnode, key string, depth int) string {
	switch n.kind {
	case 's', 'n', 'b':
		return n.str
	case 'a', 'o':
		if depth > 2 {
			return ""
		}
		var parts []string
		for _, v := range n.vals {
			if s := jsonText(v, key, depth+1); strings.TrimSpace(s) != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "\n")
	}
	return ""
}
