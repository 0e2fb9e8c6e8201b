package pdfform

import (
	"bytes"
	"strconv"
)

// The guard looks at a file's raw bytes before ledongthuc/pdf sees it. The
// library sizes tables from numbers in the file (trailer /Size, xref
// subsection counts, xref stream /Index and /W, object stream /N, predictor
// /Columns) and trusts them: one file asking for a table of 2^40 entries
// makes the Go runtime die with an unrecoverable out-of-memory error, and an
// object stream claiming 2^62 objects spins forever. So every such number
// is checked against what a file of this length could hold, and the
// impossible is rejected as damaged.

// maxHeaderOffset is how far into the file the %PDF- header may start (the
// specification allows junk before it; readers accept up to 1024 bytes).
const maxHeaderOffset = 1024

// guardResult is what the guard learnt about a file that passed.
type guardResult struct {
	headerOffset int  // where "%PDF-" starts
	version20    bool // the header says %PDF-2.x
	encrypted    bool // the trailer has /Encrypt
}

// guardError says why a file was rejected; code is one of the Code* values.
type guardError struct {
	code string
	why  string // for tests and debugging; never contains file content
}

func (e *guardError) Error() string { return e.code + ": " + e.why }

// guard checks data against lim and returns what it found, or a *guardError.
func guard(data []byte, lim Limits) (guardResult, error) {
	var g guardResult
	if lim.MaxBytes > 0 && int64(len(data)) > lim.MaxBytes {
		return g, &guardError{CodeTooLarge, "file larger than the limit"}
	}
	head := data
	if len(head) > maxHeaderOffset+8 {
		head = head[:maxHeaderOffset+8]
	}
	i := bytes.Index(head, []byte("%PDF-"))
	if i < 0 || i > maxHeaderOffset {
		return g, &guardError{CodeNotPDF, "no %PDF- header"}
	}
	g.headerOffset = i
	if i+5 < len(data) && data[i+5] == '2' {
		g.version20 = true
	}
	if !bytes.Contains(tail(data, 2048), []byte("%%EOF")) && !bytes.Contains(data, []byte("startxref")) {
		return g, &guardError{CodeDamaged, "no startxref and no %%EOF"}
	}

	// The largest object count a file of this length could plausibly hold:
	// one object per byte is far beyond any real file, even with compressed
	// object streams, and the configured object limit caps it further.
	maxObj := int64(len(data))
	if lim.MaxObjects > 0 && int64(lim.MaxObjects) < maxObj {
		maxObj = int64(lim.MaxObjects)
	}
	if maxObj < 16 {
		maxObj = 16
	}

	encrypted, err := scanNumbers(data, maxObj)
	if err != nil {
		return g, err
	}
	if err := scanXrefTables(data, maxObj); err != nil {
		return g, err
	}
	g.encrypted = encrypted
	return g, nil
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// scanNumbers checks every /Size, /N, /Count, /Columns, /W and /Index in
// the uncompressed part of the file, and reports whether the file names an
// /Encrypt dictionary. Dictionaries inside compressed object streams are out
// of sight, but the ones the library sizes tables from (xref streams, object
// streams) are never compressed.
//
// It runs on every byte of every PDF, so it is written for speed: one
// IndexByte per '/', a first-letter filter, and no allocation.
func scanNumbers(data []byte, maxObj int64) (encrypted bool, err error) {
	for pos := 0; pos < len(data); {
		j := bytes.IndexByte(data[pos:], '/')
		if j < 0 {
			break
		}
		pos += j + 1
		if pos >= len(data) || !keyFirst[data[pos]] {
			continue
		}
		end := pos
		for end < len(data) && end-pos < 16 && !nameStop[data[end]] {
			end++
		}
		key := data[pos:end]
		pos = end
		switch string(key) {
		case "Size", "N", "Count":
			if n, ok := intAt(data, pos); ok && (n < 0 || n > maxObj) {
				return false, &guardError{CodeDamaged, "/" + string(key) + " beyond what the file can hold"}
			}
		case "Columns":
			// A predictor row buffer is allocated from /Columns; images are
			// never decoded here, so a generous bound is safe.
			if n, ok := intAt(data, pos); ok && (n < 0 || n > 1<<20) {
				return false, &guardError{CodeDamaged, "/Columns out of range"}
			}
		case "W":
			for _, n := range intArrayAt(data, pos, 8) {
				if n < 0 || n > 8 {
					return false, &guardError{CodeDamaged, "/W entry out of range"}
				}
			}
		case "Index":
			a := intArrayAt(data, pos, 2*int(min(maxObj, 1<<16)))
			for k := 0; k+1 < len(a); k += 2 {
				if a[k] < 0 || a[k+1] < 0 || a[k] > maxObj || a[k+1] > maxObj || a[k]+a[k+1] > maxObj {
					return false, &guardError{CodeDamaged, "/Index beyond what the file can hold"}
				}
			}
		case "Encrypt":
			encrypted = true
		}
	}
	return encrypted, nil
}

// keyFirst marks the first letters of the names scanNumbers looks at.
var keyFirst = func() (t [256]bool) {
	for _, c := range "SNCWIE" {
		t[c] = true
	}
	return t
}()

// nameStop marks the bytes that end a name: white space and delimiters.
var nameStop = func() (t [256]bool) {
	for c := range 256 {
		t[c] = isSpace(byte(c)) || isDelim(byte(c))
	}
	return t
}()

// scanXrefTables checks the subsection headers ("start count") of every
// classic xref table: the library grows its table to start+count.
func scanXrefTables(data []byte, maxObj int64) error {
	for pos := 0; ; {
		j := bytes.Index(data[pos:], []byte("xref"))
		if j < 0 {
			return nil
		}
		pos += j + 4
		if pos-4 > 0 && !isSpace(data[pos-5]) || pos < len(data) && !isSpace(data[pos]) {
			continue // "startxref" or part of a longer word
		}
		p := pos
		for {
			start, q, ok := intToken(data, p)
			if !ok {
				break
			}
			count, q2, ok := intToken(data, q)
			if !ok {
				break
			}
			if start < 0 || count < 0 || start > maxObj || count > maxObj || start+count > maxObj {
				return &guardError{CodeDamaged, "xref subsection beyond what the file can hold"}
			}
			// Entries are 20 bytes each; a count the rest of the file cannot
			// hold is a damaged table.
			if count*18 > int64(len(data)-q2) {
				return &guardError{CodeDamaged, "xref subsection longer than the file"}
			}
			// Skip the entries: three tokens each.
			p = q2
			for k := int64(0); k < 3*count; k++ {
				next, ok := anyToken(data, p)
				if !ok {
					break
				}
				p = next
			}
		}
		pos = p
	}
}

func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '\f', 0:
		return true
	}
	return false
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

// intAt reads an integer after optional white space at pos.
func intAt(data []byte, pos int) (int64, bool) {
	n, _, ok := intToken(data, pos)
	return n, ok
}

// intToken reads one integer token after white space; it reports false when
// the next token is not an integer. Numbers too long for int64 come back as
// the largest int64, so that they fail every bound.
func intToken(data []byte, pos int) (int64, int, bool) {
	for pos < len(data) && isSpace(data[pos]) {
		pos++
	}
	start := pos
	if pos < len(data) && (data[pos] == '-' || data[pos] == '+') {
		pos++
	}
	digits := pos
	for pos < len(data) && data[pos] >= '0' && data[pos] <= '9' {
		pos++
	}
	if pos == digits || pos < len(data) && !isSpace(data[pos]) && !isDelim(data[pos]) {
		return 0, pos, false
	}
	n, err := strconv.ParseInt(string(data[start:pos]), 10, 64)
	if err != nil {
		if data[start] == '-' {
			return -1, pos, true
		}
		return 1<<63 - 1, pos, true
	}
	return n, pos, true
}

// anyToken skips one white-space separated token and returns where it ends.
func anyToken(data []byte, pos int) (int, bool) {
	for pos < len(data) && isSpace(data[pos]) {
		pos++
	}
	start := pos
	for pos < len(data) && !isSpace(data[pos]) {
		pos++
	}
	return pos, pos > start
}

// intArrayAt reads "[n n n ...]" after optional white space, up to max
// numbers; it returns nil when no array follows.
func intArrayAt(data []byte, pos int, max int) []int64 {
	for pos < len(data) && isSpace(data[pos]) {
		pos++
	}
	if pos >= len(data) || data[pos] != '[' {
		return nil
	}
	pos++
	var out []int64
	for len(out) < max {
		n, next, ok := intToken(data, pos)
		if !ok {
			break
		}
		out = append(out, n)
		pos = next
	}
	return out
}
