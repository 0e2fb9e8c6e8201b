package message

import (
	"encoding/binary"
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
// the alphabet (line breaks, stray spaces), stops at padding, and decodes in
// one pass, eight characters at a time where a run of eight holds no line
// break or junk.
type base64Reader struct {
	r    io.Reader
	in   []byte // raw input buffer
	out  []byte // decoded bytes not yet returned
	dec  []byte // backing store for out
	acc  uint32 // sextets of an unfinished quantum
	nacc int    // how many sextets acc holds (0-3)
	done bool   // padding seen: the rest of the input is ignored
	err  error
}

const base64Chunk = 16 << 10

func newBase64Reader(r io.Reader) *base64Reader {
	return &base64Reader{r: r, in: make([]byte, base64Chunk), dec: make([]byte, base64Chunk/4*3+8)}
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

// fill reads one chunk of input and decodes it.
func (d *base64Reader) fill() {
	n, err := d.r.Read(d.in)
	in := d.in[:n]
	dst := d.dec // room for n/4*3 bytes and 8 more, so every store below fits
	j := 0
	if !d.done {
		acc, nacc := d.acc, d.nacc
		for i := 0; i < len(in); {
			if nacc == 0 && i+8 <= len(in) {
				c := in[i : i+8 : i+8]
				a0, a1, a2, a3 := b64Table[c[0]], b64Table[c[1]], b64Table[c[2]], b64Table[c[3]]
				a4, a5, a6, a7 := b64Table[c[4]], b64Table[c[5]], b64Table[c[6]], b64Table[c[7]]
				if a0|a1|a2|a3|a4|a5|a6|a7 < 64 {
					v := uint64(a0)<<58 | uint64(a1)<<52 | uint64(a2)<<46 | uint64(a3)<<40 |
						uint64(a4)<<34 | uint64(a5)<<28 | uint64(a6)<<22 | uint64(a7)<<16
					binary.BigEndian.PutUint64(dst[j:j+8], v)
					j += 6
					i += 8
					continue
				}
				if a0|a1|a2|a3 < 64 {
					v := uint32(a0)<<26 | uint32(a1)<<20 | uint32(a2)<<14 | uint32(a3)<<8
					binary.BigEndian.PutUint32(dst[j:j+4], v)
					j += 3
					i += 4
					continue
				}
			}
			v := b64Table[in[i]]
			i++
			if v < 64 {
				acc = acc<<6 | uint32(v)
				nacc++
				if nacc == 4 {
					dst[j], dst[j+1], dst[j+2] = byte(acc>>16), byte(acc>>8), byte(acc)
					j += 3
					acc, nacc = 0, 0
				}
			} else if v == 0xfe {
				d.done = true
				break
			}
		}
		if d.done || err != nil {
			// The end of the data: a partial quantum of two or three
			// characters still holds one or two bytes; a lone one holds none.
			switch nacc {
			case 2:
				dst[j] = byte(acc >> 4)
				j++
			case 3:
				dst[j], dst[j+1] = byte(acc>>10), byte(acc>>2)
				j += 2
			}
			acc, nacc = 0, 0
		}
		d.acc, d.nacc = acc, nacc
	}
	out := dst[:j]
	d.out = out
	if err == nil && d.done && n == 0 {
		err = io.EOF
	}
	d.err = err
}
