package docform

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// ReadCSV reads a CSV file with a header row of labels; each data row is one form.
//
// The delimiter (',' ';' or tab) is sniffed from the first line, a UTF-8 byte
// order mark is dropped, and quoted fields may hold newlines. A two-column
// "label,value" layout (one form, labels down the first column) is read too.
// Malformed CSV returns a *form.UnreadableError with code csv_invalid; a CSV
// with no form labels returns ErrNoForm.
func ReadCSV(data []byte) ([]form.Form, error) {
	if len(data) > maxCSVBytes {
		return nil, unreadable("csv_too_large", "The CSV file is larger than a form file can be; ask for a smaller file.")
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		// Excel on Windows saves CSV as Windows-1252.
		if d, err := charmap.Windows1252.NewDecoder().Bytes(data); err == nil {
			data = d
		}
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, unreadable("csv_invalid", "The file is not text, so not a CSV form; ask for the form again or as a PDF.")
	}
	rows, err := csvRows(data, false)
	if errors.Is(err, csv.ErrBareQuote) {
		// A stray quote inside a field (5'10"): read it leniently. An
		// unterminated quoted field stays an error, since it swallows the rest.
		rows, err = csvRows(data, true)
	}
	if err != nil {
		var ue *form.UnreadableError
		if errors.As(err, &ue) {
			return nil, err
		}
		return nil, unreadable("csv_invalid", "The file is not valid CSV; ask the resident to send the form again or as a PDF.")
	}
	if len(rows) == 0 {
		return nil, ErrNoForm
	}

	// Header layout: labels across the first row. Vertical layout: labels
	// down the first column. Pick the one with more labels.
	across := 0
	for _, c := range rows[0] {
		if form.LabelKey(c) != "" {
			across++
		}
	}
	down := 0
	for _, r := range rows {
		if form.LabelKey(r[0]) != "" {
			down++
		}
	}
	if down > across && down >= 2 {
		var rd reader
		for _, r := range rows {
			if k := form.LabelKey(r[0]); k != "" && len(r) > 1 {
				rd.set(k, r[1])
			} else if k != "" {
				rd.set(k, "")
			}
		}
		return []form.Form{{Format: form.FormatCSV, Fields: rd.fields, Problems: []form.Problem{}}}, nil
	}
	if across == 0 {
		return nil, ErrNoForm
	}
	keys := make([]string, len(rows[0]))
	for i, c := range rows[0] {
		keys[i] = form.LabelKey(c)
	}
	var forms []form.Form
	for _, r := range rows[1:] {
		var rd reader
		for i, v := range r {
			if i < len(keys) && keys[i] != "" {
				rd.set(keys[i], v)
			}
		}
		forms = append(forms, form.Form{Format: form.FormatCSV, Fields: rd.fields, Problems: []form.Problem{}})
	}
	if len(forms) == 0 {
		return nil, ErrNoForm // a header row and no data
	}
	return forms, nil
}

// csvRows reads every non-empty row of data.
func csvRows(data []byte, lazy bool) ([][]string, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = sniffDelimiter(data)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = lazy
	var rows [][]string
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		if len(rec) > maxCSVFields {
			return nil, unreadable("csv_invalid", "The CSV file has more columns than a form can have.")
		}
		if emptyRow(rec) {
			continue
		}
		if len(rows) > maxForms {
			return nil, unreadable("csv_too_many_forms", "The CSV file holds more forms than one file may.")
		}
		rows = append(rows, rec)
	}
}

// sniffDelimiter picks ',' ';' or tab: whichever appears most often outside
// quotes on the first line.
func sniffDelimiter(data []byte) rune {
	counts := map[byte]int{}
	quoted := false
	for i := 0; i < len(data) && i < 64<<10; i++ {
		c := data[i]
		if c == '"' {
			quoted = !quoted
			continue
		}
		if quoted {
			continue
		}
		if c == '\n' {
			break
		}
		if c == ',' || c == ';' || c == '\t' {
			counts[c]++
		}
	}
	best := byte(',')
	for _, c := range []byte{';', '\t'} {
		if counts[c] > counts[best] {
			best = c
		}
	}
	return rune(best)
}

func emptyRow(rec []string) bool {
	for _, c := range rec {
		if cleanValue(c) != "" {
			return false
		}
	}
	return true
}
