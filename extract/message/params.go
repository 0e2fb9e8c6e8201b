package message

import (
	"bytes"
	"io"
	"mime"
	"sort"
	"strconv"
	"strings"

	gomessage "github.com/emersion/go-message"
)

// maxParamSegments bounds the RFC 2231 continuations joined for one parameter.
const maxParamSegments = 64

// wordDecoder decodes RFC 2047 encoded-words in any charset go-message knows.
var wordDecoder = &mime.WordDecoder{CharsetReader: func(cs string, in io.Reader) (io.Reader, error) {
	if gomessage.CharsetReader == nil {
		return nil, errUnknownCharset
	}
	return gomessage.CharsetReader(strings.ToLower(cs), in)
}}

// decodeWords decodes RFC 2047 encoded-words. On failure it returns the raw
// value and false.
func decodeWords(s string) (string, bool) {
	if !strings.Contains(s, "=?") {
		return s, true
	}
	d, err := wordDecoder.DecodeHeader(s)
	if err != nil {
		return s, false
	}
	return d, true
}

// parseParams reads a Content-Type or Content-Disposition value leniently:
// the lower-cased value before the first ';' and its parameters (keys lower
// case). Unlike mime.ParseMediaType it accepts duplicate parameters (the first
// wins), unquoted values with spaces, RFC 2231 values in any charset with
// continuations, and RFC 2047 encoded-words inside quoted values (Outlook,
// Gmail). It never fails: what cannot be read is left out.
func parseParams(s string) (string, map[string]string) {
	value, rest, _ := strings.Cut(s, ";")
	value = strings.ToLower(strings.TrimSpace(value))
	if rest == "" {
		return value, nil
	}
	raw := make(map[string]string)
	for rest != "" && len(raw) < 4*maxParamSegments {
		rest = strings.TrimLeft(rest, " \t\r\n;")
		if rest == "" {
			break
		}
		eq := strings.IndexAny(rest, "=;")
		if eq < 0 || rest[eq] == ';' {
			// A parameter without a value: skip it.
			if eq < 0 {
				break
			}
			rest = rest[eq+1:]
			continue
		}
		key := strings.ToLower(strings.TrimSpace(rest[:eq]))
		rest = strings.TrimLeft(rest[eq+1:], " \t\r\n")
		var val string
		if strings.HasPrefix(rest, `"`) {
			val, rest = quoted(rest[1:])
		} else {
			end := strings.IndexByte(rest, ';')
			if end < 0 {
				end = len(rest)
			}
			val = strings.TrimSpace(rest[:end])
			rest = rest[end:]
		}
		if key == "" {
			continue
		}
		if _, dup := raw[key]; !dup {
			raw[key] = val
		}
	}
	return value, joinParams(raw)
}

// quoted reads a quoted-string body after its opening quote, returning the
// unescaped value and the rest after the closing quote (or the end).
func quoted(s string) (string, string) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}

// joinParams applies RFC 2231: extended values (name*), continuations
// (name*0, name*1*, ...) and charsets; extended values win over plain ones.
// Plain values get their RFC 2047 encoded-words decoded.
func joinParams(raw map[string]string) map[string]string {
	out := make(map[string]string, len(raw))
	type segment struct {
		n       int
		encoded bool
		val     string
	}
	segs := make(map[string][]segment)
	for k, v := range raw {
		star := strings.IndexByte(k, '*')
		if star < 0 {
			if d, ok := decodeWords(v); ok {
				v = d
			}
			if _, done := out[k]; !done {
				out[k] = v
			}
			continue
		}
		base, suffix := k[:star], k[star+1:]
		if base == "" {
			continue
		}
		seg := segment{val: v}
		switch {
		case suffix == "":
			seg.encoded = true
		default:
			num, enc := strings.CutSuffix(suffix, "*")
			n, err := strconv.Atoi(num)
			if err != nil || n < 0 || n >= maxParamSegments {
				continue
			}
			seg.n, seg.encoded = n, enc
		}
		segs[base] = append(segs[base], seg)
	}
	for base, list := range segs {
		sort.Slice(list, func(i, j int) bool { return list[i].n < list[j].n })
		var buf bytes.Buffer
		charset := ""
		for i, seg := range list {
			if seg.n != i {
				break // a missing or duplicate continuation ends the value
			}
			v := seg.val
			if seg.encoded {
				if i == 0 {
					parts := strings.SplitN(v, "'", 3)
					if len(parts) == 3 {
						charset, v = strings.ToLower(parts[0]), parts[2]
					}
				}
				buf.Write(percentDecode(v))
			} else {
				buf.WriteString(v)
			}
		}
		out[base] = toUTF8(charset, buf.Bytes())
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// percentDecode decodes %XX escapes, keeping malformed ones as they are.
func percentDecode(s string) []byte {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b = append(b, byte(v))
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return b
}

// toUTF8 converts b from charset to UTF-8; an unknown charset or invalid
// bytes fall back to the bytes as they are.
func toUTF8(charset string, b []byte) string {
	switch charset {
	case "", "utf-8", "utf8", "us-ascii":
		return string(b)
	}
	if gomessage.CharsetReader == nil {
		return string(b)
	}
	r, err := gomessage.CharsetReader(charset, bytes.NewReader(b))
	if err != nil || r == nil {
		return string(b)
	}
	out, err := io.ReadAll(io.LimitReader(r, int64(4*len(b)+16)))
	if err != nil {
		return string(b)
	}
	return string(out)
}
