package message

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// tnefFile describes one attachment for buildTNEF.
type tnefFile struct {
	title    string // attAttachTitle, written in Windows-1252
	longName string // PR_ATTACH_LONG_FILENAME as PT_UNICODE ("" for none)
	mime     string // PR_ATTACH_MIME_TAG as PT_STRING8 ("" for none)
	data     []byte
}

// buildTNEF writes a TNEF stream the way Outlook does: signature, key, the
// message's code page, then per attachment attAttachRendData, attAttachTitle,
// attAttachData and attAttachment (MAPI properties, with a named property
// and fixed-size ones to skip).
func buildTNEF(files []tnefFile) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.Write(le.AppendUint32(nil, tnefSignature))
	b.Write(le.AppendUint16(nil, 0x0001))
	attr := func(level byte, id uint32, data []byte) {
		b.WriteByte(level)
		b.Write(le.AppendUint32(nil, id))
		b.Write(le.AppendUint32(nil, uint32(len(data))))
		b.Write(data)
		var sum uint16
		for _, c := range data {
			sum += uint16(c)
		}
		b.Write(le.AppendUint16(nil, sum))
	}
	attr(lvlMessage, 0x00069007, le.AppendUint32(le.AppendUint32(nil, 1252), 0))
	for _, f := range files {
		attr(lvlAttachment, 0x00069002, make([]byte, 14))
		attr(lvlAttachment, 0x00018010, append(cp1252(f.title), 0))
		attr(lvlAttachment, 0x0006800f, f.data)
		var props bytes.Buffer
		n := uint32(2) // a PT_LONG and a named PT_BOOLEAN
		props.Write(le.AppendUint16(nil, ptLong))
		props.Write(le.AppendUint16(nil, 0x0e20)) // PR_ATTACH_SIZE
		props.Write(le.AppendUint32(nil, uint32(len(f.data))))
		props.Write(le.AppendUint16(nil, ptBoolean))
		props.Write(le.AppendUint16(nil, 0x8001))
		props.Write(make([]byte, 16)) // GUID
		props.Write(le.AppendUint32(nil, 1))
		name := utf16le("Hidden\x00")
		props.Write(le.AppendUint32(nil, uint32(len(name))))
		props.Write(pad4(name))
		props.Write(le.AppendUint32(nil, 1))
		if f.longName != "" {
			n++
			props.Write(le.AppendUint16(nil, ptUnicode))
			props.Write(le.AppendUint16(nil, prAttachLongFilename))
			v := utf16le(f.longName + "\x00")
			props.Write(le.AppendUint32(nil, 1))
			props.Write(le.AppendUint32(nil, uint32(len(v))))
			props.Write(pad4(v))
		}
		if f.mime != "" {
			n++
			props.Write(le.AppendUint16(nil, ptString8))
			props.Write(le.AppendUint16(nil, prAttachMimeTag))
			v := []byte(f.mime + "\x00")
			props.Write(le.AppendUint32(nil, 1))
			props.Write(le.AppendUint32(nil, uint32(len(v))))
			props.Write(pad4(v))
		}
		attr(lvlAttachment, 0x00069005, append(le.AppendUint32(nil, n), props.Bytes()...))
	}
	return b.Bytes()
}

func utf16le(s string) []byte {
	var out []byte
	for _, u := range utf16.Encode([]rune(s)) {
		out = binary.LittleEndian.AppendUint16(out, u)
	}
	return out
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func cp1252(s string) []byte {
	var out []byte
	for _, r := range s {
		switch {
		case r < 0x100:
			out = append(out, byte(r))
		case r == '–':
			out = append(out, 0x96)
		default:
			out = append(out, '?')
		}
	}
	return out
}

var testPDF = []byte("%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")

func TestDecodeTNEF(t *testing.T) {
	files := []tnefFile{
		{title: "OPTOUT~1.PDF", longName: "Opt-out form – Zoë.pdf", mime: "application/pdf", data: testPDF},
		{title: "Café.txt", data: []byte("First name: Zoë\r\n")},
		{title: "empty.bin", data: []byte{}},
	}
	atts, err := decodeTNEF(buildTNEF(files), 100)
	if err != nil {
		t.Fatalf("decodeTNEF: %v", err)
	}
	want := []Attachment{
		{Name: "Opt-out form – Zoë.pdf", ContentType: "application/pdf", Data: testPDF},
		{Name: "Café.txt", ContentType: "application/octet-stream", Data: files[1].data},
		{Name: "empty.bin", ContentType: "application/octet-stream", Data: []byte{}},
	}
	if len(atts) != len(want) {
		t.Fatalf("decodeTNEF gave %d attachments, want %d", len(atts), len(want))
	}
	for i := range want {
		if atts[i].Name != want[i].Name || atts[i].ContentType != want[i].ContentType || !bytes.Equal(atts[i].Data, want[i].Data) {
			t.Errorf("attachment %d = %q %q %q, want %q %q %q", i, atts[i].Name, atts[i].ContentType, atts[i].Data, want[i].Name, want[i].ContentType, want[i].Data)
		}
	}
}

func TestDecodeTNEFDamaged(t *testing.T) {
	good := buildTNEF([]tnefFile{{title: "a.pdf", data: testPDF}, {title: "b.pdf", data: testPDF}})
	tests := []struct {
		name    string
		in      []byte
		max     int
		wantN   int
		wantErr bool
	}{
		{"not tnef", []byte("%PDF-1.7 this is no TNEF"), 10, 0, true},
		{"empty", nil, 10, 0, true},
		{"signature only", good[:6], 10, 0, false},
		{"truncated in second file's properties", good[:len(good)-40], 10, 2, true},
		{"truncated in second file's data", good[:len(good)-100], 10, 1, true},
		{"too many attachments", good, 1, 1, true},
		{"huge length", append(slices.Clone(good[:6]), 2, 0x0f, 0x80, 0x06, 0x00, 0xff, 0xff, 0xff, 0xff), 10, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			atts, err := decodeTNEF(tt.in, tt.max)
			if len(atts) != tt.wantN || (err != nil) != tt.wantErr {
				t.Errorf("decodeTNEF = %d attachments, err %v; want %d, error %v", len(atts), err, tt.wantN, tt.wantErr)
			}
		})
	}
}

// tnefMail wraps a winmail.dat in an Outlook-style message.
func tnefMail(dat []byte) string {
	return "From: Outlook User <user@example.org>\r\nSubject: form\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=t\r\n\r\n--t\r\nContent-Type: text/plain\r\n\r\nForm attached.\r\n" +
		"--t\r\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\r\nContent-Disposition: attachment; filename=\"winmail.dat\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(dat) + "\r\n--t--\r\n"
}

func TestParseTNEF(t *testing.T) {
	dat := buildTNEF([]tnefFile{{title: "FORM~1.PDF", longName: "my form.pdf", data: testPDF}})
	m, err := Parse(strings.NewReader(tnefMail(dat)), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if got := names(m); !slices.Equal(got, []string{"my form.pdf"}) {
		t.Fatalf("attachments = %q, want the unpacked file and no winmail.dat", got)
	}
	if !bytes.Equal(m.Attachments[0].Data, testPDF) {
		t.Errorf("unpacked data = %q", m.Attachments[0].Data)
	}

	m, err = Parse(strings.NewReader(tnefMail([]byte("not a tnef stream at all"))), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if got := names(m); !slices.Equal(got, []string{"winmail.dat"}) {
		t.Errorf("attachments = %q, want winmail.dat kept", got)
	}
	if len(m.Notes) != 1 || !strings.Contains(m.Notes[0], "winmail.dat") {
		t.Errorf("Notes = %q, want one about winmail.dat", m.Notes)
	}
}

func FuzzTNEF(f *testing.F) {
	good := buildTNEF([]tnefFile{
		{title: "OPTOUT~1.PDF", longName: "Opt-out form.pdf", mime: "application/pdf", data: testPDF},
		{title: "b.txt", data: []byte("x")},
	})
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[:7])
	flipped := slices.Clone(good)
	flipped[30] ^= 0x80
	f.Add(flipped)
	f.Add([]byte{0x78, 0x9f, 0x3e, 0x22, 1, 0, 2, 0x05, 0x90, 0x06, 0, 8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x10, 0x07, 0x37, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		const max = 20
		atts, _ := decodeTNEF(data, max)
		if len(atts) > max {
			t.Fatalf("decodeTNEF gave %d attachments, more than %d", len(atts), max)
		}
		total := 0
		for _, a := range atts {
			total += len(a.Data)
			if len(a.Name) > maxNameBytes {
				t.Fatalf("name of %d bytes", len(a.Name))
			}
		}
		if total > len(data) {
			t.Fatalf("attachments hold %d bytes, more than the %d-byte input", total, len(data))
		}
	})
}
