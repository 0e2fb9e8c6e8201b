package message

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"

	"golang.org/x/text/encoding/charmap"
)

// This file holds a small TNEF (winmail.dat, application/ms-tnef) decoder,
// written from [MS-OXTNEF]. It reads only what carries attachments: the
// attachment attributes attAttachRendData (starts an attachment),
// attAttachTitle (short file name), attAttachData (the file) and attAttachment
// (MAPI properties: the long file name, the MIME type, and the data when
// attAttachData is missing). It never copies attachment data: attachments are
// sub-slices of the input. Every length is checked against what is left.

// tnefSignature starts every TNEF stream (little-endian 0x223E9F78).
const tnefSignature = 0x223e9f78

// TNEF attribute ids (the low 16 bits of the attribute; the high 16 bits are
// its type, which is not trusted).
const (
	attAttachData     = 0x800f
	attAttachTitle    = 0x8010
	attAttachRendData = 0x9002
	attAttachment     = 0x9005
	attOemCodepage    = 0x9007
)

// TNEF attribute levels.
const (
	lvlMessage    = 1
	lvlAttachment = 2
)

// MAPI property ids and types used here.
const (
	prAttachDataBin      = 0x3701
	prAttachFilename     = 0x3704
	prAttachLongFilename = 0x3707
	prAttachMimeTag      = 0x370e

	ptShort   = 0x0002
	ptLong    = 0x0003
	ptFloat   = 0x0004
	ptDouble  = 0x0005
	ptCurr    = 0x0006
	ptAppTime = 0x0007
	ptError   = 0x000a
	ptBoolean = 0x000b
	ptObject  = 0x000d
	ptI8      = 0x0014
	ptString8 = 0x001e
	ptUnicode = 0x001f
	ptSysTime = 0x0040
	ptCLSID   = 0x0048
	ptBinary  = 0x0102
	mvFlag    = 0x1000
)

// Bounds on one TNEF stream.
const (
	maxTNEFProps  = 4096 // MAPI properties in one attAttachment attribute
	maxTNEFValues = 4096 // values of one multi-valued property
)

// errNotTNEF is returned for data that does not start with the TNEF signature.
var errNotTNEF = errors.New("not a TNEF stream: bad signature")

// tnefAttachment is one file found in a TNEF stream.
type tnefAttachment struct {
	title    string // attAttachTitle: often an 8.3 name
	longName string // PR_ATTACH_LONG_FILENAME or PR_ATTACH_FILENAME
	mimeType string // PR_ATTACH_MIME_TAG
	data     []byte
	hasData  bool
}

// decodeTNEF returns the attachments of a TNEF stream, at most maxAtts of
// them. A stream damaged part-way returns the attachments read so far with
// an error.
func decodeTNEF(b []byte, maxAtts int) ([]Attachment, error) {
	if len(b) < 6 || binary.LittleEndian.Uint32(b) != tnefSignature {
		return nil, errNotTNEF
	}
	var (
		atts     []*tnefAttachment
		cur      *tnefAttachment
		codepage uint32 = 1252
		err      error
	)
	pos := 6 // signature and legacy key
	for pos < len(b) {
		// level (1) + id (4) + length (4) + data + checksum (2)
		if len(b)-pos < 9 {
			err = fmt.Errorf("read TNEF attribute at byte %d: truncated header", pos)
			break
		}
		level := b[pos]
		id := binary.LittleEndian.Uint32(b[pos+1:]) & 0xffff
		n := binary.LittleEndian.Uint32(b[pos+5:])
		pos += 9
		if uint64(n) > uint64(len(b)-pos) {
			err = fmt.Errorf("read TNEF attribute at byte %d: length %d runs past the end", pos-9, n)
			break
		}
		data := b[pos : pos+int(n) : pos+int(n)]
		pos += int(n)
		if len(b)-pos >= 2 {
			pos += 2 // checksum: not verified, damaged sums are common and harmless
		} else {
			pos = len(b)
		}
		switch {
		case level == lvlMessage && id == attOemCodepage && len(data) >= 4:
			codepage = binary.LittleEndian.Uint32(data)
		case level != lvlAttachment:
		case id == attAttachRendData:
			if len(atts) >= maxAtts {
				return tnefResult(atts), fmt.Errorf("read TNEF: more than %d attachments: %w", maxAtts, ErrTooLarge)
			}
			cur = &tnefAttachment{}
			atts = append(atts, cur)
		case cur == nil:
			// An attachment attribute before any attAttachRendData: ignore it.
		case id == attAttachTitle:
			cur.title = cString8(data, codepage)
		case id == attAttachData:
			cur.data, cur.hasData = data, true
		case id == attAttachment:
			if perr := cur.readProps(data, codepage); perr != nil && err == nil {
				err = perr
			}
		}
	}
	return tnefResult(atts), err
}

// tnefResult turns the attachments read into Attachments, skipping those
// without data (embedded messages, OLE objects).
func tnefResult(atts []*tnefAttachment) []Attachment {
	var out []Attachment
	for _, a := range atts {
		if !a.hasData {
			continue
		}
		name := a.longName
		if name == "" {
			name = a.title
		}
		ct := strings.ToLower(strings.TrimSpace(a.mimeType))
		if ct == "" || !strings.Contains(ct, "/") {
			ct = "application/octet-stream"
		}
		out = append(out, Attachment{Name: cleanName(name), ContentType: ct, Data: a.data})
	}
	return out
}

// readProps reads the MAPI properties of attAttachment, keeping the file
// names, the MIME type and the binary data.
func (a *tnefAttachment) readProps(b []byte, codepage uint32) error {
	r := &tnefReader{b: b}
	count := r.u32()
	if count > maxTNEFProps {
		return fmt.Errorf("read TNEF properties: %d properties is too many", count)
	}
	for i := uint32(0); i < count && r.err == nil; i++ {
		typ := r.u16()
		id := r.u16()
		if id >= 0x8000 { // named property: GUID, kind, then an id or a name
			r.skip(16)
			if r.u32() == 0 {
				r.skip(4)
			} else {
				r.skip(int(r.u32()))
				r.align()
			}
		}
		mv := typ&mvFlag != 0
		base := typ &^ mvFlag
		values := uint32(1)
		if mv || isVarType(base) {
			values = r.u32()
			if values > maxTNEFValues {
				return fmt.Errorf("read TNEF property %#04x: %d values is too many", id, values)
			}
		}
		for v := uint32(0); v < values && r.err == nil; v++ {
			if isVarType(base) {
				n := r.u32()
				val := r.bytes(int(n))
				r.align()
				if r.err != nil || v > 0 {
					continue
				}
				if base == ptObject && len(val) >= 16 {
					val = val[16:] // an object starts with its interface id
				}
				switch id {
				case prAttachLongFilename:
					a.longName = propString(base, val, codepage)
				case prAttachFilename:
					if a.longName == "" {
						a.longName = propString(base, val, codepage)
					}
				case prAttachMimeTag:
					a.mimeType = propString(base, val, codepage)
				case prAttachDataBin:
					if base == ptBinary && !a.hasData {
						a.data, a.hasData = val, true
					}
				}
				continue
			}
			size := fixedSize(base)
			if size < 0 {
				return fmt.Errorf("read TNEF property %#04x: unknown type %#04x", id, typ)
			}
			r.skip(size)
		}
	}
	if r.err != nil {
		return fmt.Errorf("read TNEF properties: %w", r.err)
	}
	return nil
}

func isVarType(t uint16) bool {
	return t == ptString8 || t == ptUnicode || t == ptBinary || t == ptObject
}

// fixedSize is the stored size of a fixed-length MAPI value (padded to 4), or
// -1 for an unknown type.
func fixedSize(t uint16) int {
	switch t {
	case 0x0000, 0x0001: // unspecified, null
		return 0
	case ptShort, ptLong, ptFloat, ptError, ptBoolean:
		return 4
	case ptDouble, ptCurr, ptAppTime, ptI8, ptSysTime:
		return 8
	case ptCLSID:
		return 16
	}
	return -1
}

// propString decodes a PT_STRING8 or PT_UNICODE value.
func propString(typ uint16, b []byte, codepage uint32) string {
	if typ == ptUnicode {
		u := make([]uint16, 0, len(b)/2)
		for i := 0; i+1 < len(b); i += 2 {
			c := binary.LittleEndian.Uint16(b[i:])
			if c == 0 {
				break
			}
			u = append(u, c)
		}
		return string(utf16.Decode(u))
	}
	return cString8(b, codepage)
}

// cString8 decodes a NUL-terminated 8-bit string in a Windows code page.
func cString8(b []byte, codepage uint32) string {
	for i, c := range b {
		if c == 0 {
			b = b[:i]
			break
		}
	}
	switch codepage {
	case 65001, 20127:
		return strings.ToValidUTF8(string(b), "\uFFFD")
	case 28591:
		s, _ := charmap.ISO8859_1.NewDecoder().Bytes(b)
		return string(s)
	case 1250:
		s, _ := charmap.Windows1250.NewDecoder().Bytes(b)
		return string(s)
	case 1251:
		s, _ := charmap.Windows1251.NewDecoder().Bytes(b)
		return string(s)
	}
	s, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(s)
}

// tnefReader reads little-endian values, remembering the first overrun.
type tnefReader struct {
	b   []byte
	pos int
	err error
}

var errTNEFShort = errors.New("value runs past the end of the attribute")

func (r *tnefReader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.pos {
		r.err = errTNEFShort
		r.pos = len(r.b)
		return nil
	}
	v := r.b[r.pos : r.pos+n : r.pos+n]
	r.pos += n
	return v
}

func (r *tnefReader) skip(n int) { r.bytes(n) }

func (r *tnefReader) u16() uint16 {
	if v := r.bytes(2); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (r *tnefReader) u32() uint32 {
	if v := r.bytes(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

// align skips the padding to the next multiple of 4.
func (r *tnefReader) align() {
	if pad := (4 - r.pos%4) % 4; pad > 0 && r.err == nil {
		if pad > len(r.b)-r.pos {
			pad = len(r.b) - r.pos
		}
		r.pos += pad
	}
}
