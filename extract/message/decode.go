package message

import (
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"strings"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// entity is one MIME entity: its header and its body with the transfer
// encoding (and, for text, the charset) decoded. go-message's textproto reads
// headers and multiparts; the decoding is ours because go-message's base64
// path filters one byte at a time and costs most of the parse.
type entity struct {
	Header  textproto.Header
	Body    io.Reader // decoded; the raw body for multiparts
	ctype   string    // lower case, "text/plain" when missing or unreadable
	cparams map[string]string
	garbled bool // an unknown transfer encoding or charset: Body is passed through as it is
}

// newEntity wraps a header and raw body, decoding as RFC 2045 says:
// multiparts are never decoded (some clients wrongly declare base64 on them),
// text/* is converted from its charset to UTF-8.
func newEntity(h textproto.Header, raw io.Reader) *entity {
	e := &entity{Header: h, Body: raw}
	e.ctype, e.cparams = parseParams(h.Get("Content-Type"))
	if e.ctype == "" || !strings.Contains(e.ctype, "/") {
		e.ctype = "text/plain"
	}
	if strings.HasPrefix(e.ctype, "multipart/") {
		return e
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "base64":
		e.Body = newBase64Reader(raw)
	case "quoted-printable":
		e.Body = quotedprintable.NewReader(raw)
	case "", "7bit", "8bit", "binary":
	default:
		e.garbled = true
	}
	if strings.HasPrefix(e.ctype, "text/") {
		switch cs := strings.ToLower(strings.TrimSpace(e.cparams["charset"])); cs {
		case "", "utf-8", "utf8", "us-ascii", "ascii":
		default:
			if gomessage.CharsetReader == nil {
				e.garbled = true
				break
			}
			if r, err := gomessage.CharsetReader(cs, e.Body); err == nil && r != nil {
				e.Body = r
			} else {
				e.garbled = true
			}
		}
	}
	return e
}

// b64Table maps a byte to its base64 value, or 0xff for a byte to skip
// (line breaks, spaces, junk) and 0xfe for '=' padding.
var b64Table = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range len(alphabet) {
		t[alphabet[i]] = byte(i)
	}
	t['='] = 0xfe
	return t
}()

// base64Reader decodes base64 leniently and fast: it drops everything outside
// the alphabet (line breaks, stray spaces), stops at padding, and decodes
// whole blocks at a time.
type base64Reader struct {
	r    io.Reader
	in   []byte // raw input buffer
	q    []byte // alphabet characters not yet decoded
	out  []byte // decoded bytes not yet returned
	dec  []byte // backing store for out
	done bool   // padding seen: the rest of the input is ignored
	err  error
}

const base64Chunk = 16 << 10

func newBase64Reader(r io.Reader) *base64Reader {
	return &base64Reader{r: r, in: make([]byte, base64Chunk), q: make([]byte, 0, base64Chunk+4), dec: make([]byte, base64Chunk/4*3+3)}
}

func (d *base64Reader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		d.fill()
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

// fill reads one chunk of input and decodes what it can.
func (d *base64Reader) fill() {
	n, err := d.r.Read(d.in)
	if !d.done {
		// Copy every byte, advancing only past alphabet ones: no append,
		// one table lookup per byte.
		j := len(d.q)
		q := d.q[:cap(d.q)]
		if len(q)-j < n {
			q = append(q, make([]byte, n)...)
			q = q[:cap(q)]
		}
		for _, c := range d.in[:n] {
			q[j] = c
			if v := b64Table[c]; v < 64 {
				j++
			} else if v == 0xfe {
				d.done = true
				break
			}
		}
		d.q = q[:j]
	}
	last := err != nil || (d.done && n == 0)
	full := len(d.q) / 4 * 4
	if last {
		full = len(d.q)
		if full%4 == 1 {
			full-- // a lone character cannot be decoded
		}
	}
	m, derr := base64.RawStdEncoding.Decode(d.dec, d.q[:full])
	d.out = d.dec[:m]
	rest := copy(d.q, d.q[full:])
	d.q = d.q[:rest]
	if derr != nil && err == nil {
		err = derr
	}
	if last && err == nil {
		err = io.EOF
	}
	d.err = err
}
