package pdfworker

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/extract/pdfform"
)

// frame is payload with its length prefix.
func frame(payload []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(payload))), payload...)
}

// TestReadResponse: the parent accepts a well-formed response and refuses
// everything else without reading past the frame limit.
func TestReadResponse(t *testing.T) {
	good, _ := json.Marshal(response{Forms: []form.Form{{Source: "a.pdf", Format: form.FormatPDFFields, Fields: form.Fields{FirstName: "Ann"}}}})
	tests := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"forms", frame(good), true},
		{"code", frame([]byte(`{"forms":null,"code":"pdf_scanned","message":"m"}`)), true},
		{"retire", frame([]byte(`{"forms":[],"retire":true}`)), true},
		{"empty stream", nil, false},
		{"truncated length", frame(good)[:3], false},
		{"truncated payload", frame(good)[:len(good)/2], false},
		{"unknown code", frame([]byte(`{"forms":null,"code":"rm -rf"}`)), false},
		{"forms and a code", frame([]byte(`{"forms":[{}],"code":"pdf_damaged"}`)), false},
		{"unknown field", frame([]byte(`{"forms":[],"extra":1}`)), false},
		{"trailing data", frame([]byte(`{"forms":[]} {}`)), false},
		{"not json", frame([]byte("DEBUG: stray output")), false},
		{"length past the limit", binary.BigEndian.AppendUint32(nil, MaxResponseBytes+1), false},
		{"length 4 GiB", []byte{0xff, 0xff, 0xff, 0xff}, false},
		{"deeply nested", frame([]byte(`{"forms":[` + strings.Repeat("[", 100000) + `]}`)), false},
	}
	for _, tt := range tests {
		_, err := readResponse(bytes.NewReader(tt.in))
		if (err == nil) != tt.ok {
			t.Errorf("readResponse(%s) = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

// FuzzReadResponse: whatever a child writes, the parent returns a response
// or an error, and an accepted response is consistent.
func FuzzReadResponse(f *testing.F) {
	good, _ := json.Marshal(response{Forms: []form.Form{{Source: "a.pdf", Format: form.FormatPDFText, Fields: form.Fields{NHSNumber: "9434765919"}}}})
	f.Add(frame(good))
	f.Add(frame(good)[:len(good)/2])
	flipped := frame(good)
	flipped[20] ^= 0x10
	f.Add(flipped)
	f.Add(frame([]byte(`{"forms":null,"code":"pdf_timeout","message":"x","retire":true}`)))
	f.Add(frame([]byte(`{"forms":` + strings.Repeat("[", 5000) + `}`)))
	f.Add(binary.BigEndian.AppendUint32(nil, 1<<31))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		resp, err := readResponse(bytes.NewReader(in))
		if err != nil {
			return
		}
		if resp.Code != "" && (!knownCodes[resp.Code] || len(resp.Forms) > 0) {
			t.Errorf("readResponse accepted code %q with %d forms", resp.Code, len(resp.Forms))
		}
	})
}

// FuzzServe: the child's loop survives any byte stream from its parent
// (it is trusted, but a bug there must not wedge a child) and answers only
// in well-formed frames.
func FuzzServe(f *testing.F) {
	var h bytes.Buffer
	writeJSON(&h, hello{Version: protocolVersion})
	req := h.Bytes()
	req = append(req, frame([]byte(`{"timeout_ms":1000,"max_bytes":100}`))...)
	req = append(req, frame([]byte("%PDF-1.4 not really"))...)
	f.Add(req)
	f.Add(req[:len(req)-3])
	f.Add(append(append([]byte(nil), h.Bytes()...), frame([]byte(`{"timeout_ms":1000,"max_bytes":10}`))...))
	f.Add([]byte{0, 0, 0, 1, '{'})
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		noLimits := func(hello) (bool, error) { return false, nil }
		read := func(_ context.Context, data []byte, lim pdfform.Limits) ([]form.Form, error) {
			return nil, &form.UnreadableError{Code: pdfform.CodeNotPDF, Message: "m"}
		}
		serve(t.Context(), bytes.NewReader(in), &out, read, noLimits)
		r := bytes.NewReader(out.Bytes())
		if out.Len() == 0 {
			return
		}
		var rd ready
		if err := readJSON(r, maxHelloBytes, &rd); err != nil {
			t.Fatalf("serve wrote a bad ready frame: %v", err)
		}
		for r.Len() > 0 {
			if _, err := readResponse(r); err != nil {
				t.Fatalf("serve wrote a bad response: %v", err)
			}
		}
	})
}
