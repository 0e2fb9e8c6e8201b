package message

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	gomessage "github.com/emersion/go-message"
)

// outlookMail returns an Outlook-shaped message (mixed > related >
// alternative, an inline logo, and a PDF of size bytes, base64 in 76-column
// lines) and the PDF.
func outlookMail(size int) ([]byte, []byte) {
	r := rand.New(rand.NewPCG(1, 2))
	pdf := make([]byte, size)
	for i := 0; i+8 <= size; i += 8 {
		binary.LittleEndian.PutUint64(pdf[i:], r.Uint64())
	}
	copy(pdf, "%PDF-1.7\n")
	var b bytes.Buffer
	b.WriteString("From: =?iso-8859-1?Q?Jos=E9_Garc=EDa?= <jose@example.org>\r\n" +
		"To: \"Joined-up Care Record\" <joined-up.care-record@nhs.net>\r\n" +
		"Subject: =?Windows-1252?Q?RE:_London_Care_Record_=96_opt-out_form?=\r\n" +
		"Thread-Topic: London Care Record opt-out form\r\nThread-Index: AdqKx2j3kM1f0Tq8S0WkF5a6b7c8dA==\r\n" +
		"Date: Tue, 4 Mar 2025 10:14:58 +0000\r\nMessage-ID: <AM0PR01MB1234@outlook.com>\r\n" +
		"In-Reply-To: <ack-42@ncl.example>\r\nReferences: <req-41@ncl.example> <ack-42@ncl.example>\r\n" +
		"X-MS-Has-Attach: yes\r\nX-Auto-Response-Suppress: DR, OOF, AutoReply\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"_004_\"\r\n\r\n" +
		"--_004_\r\nContent-Type: multipart/related; boundary=\"_003_\"; type=\"multipart/alternative\"\r\n\r\n" +
		"--_003_\r\nContent-Type: multipart/alternative; boundary=\"_000_\"\r\n\r\n" +
		"--_000_\r\nContent-Type: text/plain; charset=\"Windows-1252\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"Dear team,\r\n\r\nPlease find my opt-out form attached. I=92ve filled in every box.\r\n\r\nKind regards\r\nJos=E9\r\n" +
		"--_000_\r\nContent-Type: text/html; charset=\"Windows-1252\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"<html><body><p class=3DMsoNormal>Dear team,</p><p class=3DMsoNormal>Please find my opt-out form attach=\r\ned.</p></body></html>\r\n" +
		"--_000_--\r\n\r\n--_003_\r\nContent-Type: image/png; name=\"image001.png\"\r\nContent-Disposition: inline; filename=\"image001.png\"\r\n" +
		"Content-ID: <image001.png@01DA>\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\r\n" +
		"--_003_--\r\n\r\n--_004_\r\nContent-Type: application/pdf; name=\"London Care Record opt-out form.pdf\"\r\n" +
		"Content-Disposition: attachment; filename=\"London Care Record opt-out form.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(pdf)
	b.Grow(len(enc) + len(enc)/38 + 64)
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	b.WriteString("\r\n--_004_--\r\n")
	return b.Bytes(), pdf
}

func TestParseMemory(t *testing.T) {
	const size = 20 << 20
	raw, pdf := outlookMail(size)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := Parse(bytes.NewReader(raw), DefaultLimits())
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 2 || !bytes.Equal(m.Attachments[1].Data, pdf) {
		t.Fatalf("the 20 MB attachment did not come back whole: %q", names(m))
	}
	ratio := float64(after.TotalAlloc-before.TotalAlloc) / size
	t.Logf("allocated %.2f× the attachment size", ratio)
	if ratio >= 3.5 {
		t.Errorf("Parse allocated %.2f× a 20 MB attachment, want < 3.5×", ratio)
	}
}

func TestReadCapped(t *testing.T) {
	sizes := []int{0, 1, 16<<10 - 1, 16 << 10, 16<<10 + 1, 100 << 10, 1<<20 + 1, 3<<20 + 7}
	// hint 0 is an unknown size; the others are exact, short and long
	// guesses, which must change only the allocation, never the bytes.
	for _, n := range sizes {
		in := bytes.Repeat([]byte{'x'}, n)
		for _, hint := range []int64{0, int64(n), int64(n) / 2, 4 * int64(n), 1} {
			got, err := readCapped(iotestHalf{bytes.NewReader(in)}, 4<<20, hint)
			if err != nil || !bytes.Equal(got, in) {
				t.Errorf("readCapped(%d bytes, hint %d) = %d bytes, %v", n, hint, len(got), err)
			}
			if n > 0 {
				if _, err := readCapped(bytes.NewReader(in), int64(n-1), hint); err != errPartTooLarge {
					t.Errorf("readCapped(%d bytes, max %d, hint %d) error = %v, want errPartTooLarge", n, n-1, hint, err)
				}
			}
		}
	}
}

// iotestHalf returns at most half of each read, like a slow network.
type iotestHalf struct{ r io.Reader }

func (h iotestHalf) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:len(p)/2]
	}
	return h.r.Read(p)
}

func BenchmarkParse(b *testing.B) {
	raw, _ := outlookMail(200 << 10)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(raw), DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGoMessageOnly is the floor: go-message walking the same message
// and reading every part, with nothing of ours.
func BenchmarkGoMessageOnly(b *testing.B) {
	raw, _ := outlookMail(200 << 10)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		e, err := gomessage.Read(bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		err = e.Walk(func(_ []int, part *gomessage.Entity, _ error) error {
			if part.MultipartReader() == nil {
				_, err := io.ReadAll(part.Body)
				return err
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse20MB(b *testing.B) {
	raw, _ := outlookMail(20 << 20)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(raw), DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHTMLText(b *testing.B) {
	page := []byte("<html><head><style>p{}</style></head><body>" +
		strings.Repeat("<table><tr><td>First name:</td><td>Jane</td></tr><tr><td>NHS number:</td><td>943 476 5919</td></tr></table><p>Kind&nbsp;regards</p>", 200) +
		"</body></html>")
	b.SetBytes(int64(len(page)))
	for b.Loop() {
		htmlText(page)
	}
}

func TestBase64Reader(t *testing.T) {
	long := bytes.Repeat([]byte("0123456789abcdef"), 5000)
	enc := base64.StdEncoding.EncodeToString(long)
	var wrapped strings.Builder
	for i := 0; i < len(enc); i += 76 {
		wrapped.WriteString(enc[i:min(i+76, len(enc))] + "\r\n")
	}
	tests := []struct{ in, want string }{
		{"SGVsbG8=", "Hello"},
		{"SGVs\r\nbG8=\r\n", "Hello"},
		{" SGVs bG8 = ", "Hello"},       // stray spaces (some clients indent continuation lines)
		{"SGVsbG8", "Hello"},            // padding missing
		{"SGVsbG8=\r\n--junk", "Hello"}, // anything after padding is ignored
		{"SGVsbG8h!", "Hello!"},         // a character outside the alphabet is skipped
		{"SGVsbG8hA", "Hello!"},         // a lone trailing character cannot be decoded
		{"", ""},
		{wrapped.String(), string(long)},
	}
	for _, tt := range tests {
		got, err := io.ReadAll(iotestHalf{newBase64Reader(strings.NewReader(tt.in))})
		if err != nil || string(got) != tt.want {
			name := tt.in
			if len(name) > 40 {
				name = name[:40] + "..."
			}
			t.Errorf("base64 %q = %d bytes %q, %v; want %d bytes", name, len(got), got[:min(len(got), 20)], err, len(tt.want))
		}
	}
}

func TestUnknownEncodingIsANote(t *testing.T) {
	m, err := Parse(strings.NewReader("Content-Type: text/plain; charset=x-klingon\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nhello\r\n"), DefaultLimits())
	if err != nil || m.Body != "hello" || len(m.Notes) != 1 {
		t.Errorf("Parse = Body %q Notes %q err %v, want the text as it is and one note", m.Body, m.Notes, err)
	}
}
