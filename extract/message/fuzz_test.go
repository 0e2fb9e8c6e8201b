package message

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzLimits keep each fuzz run small and fast.
var fuzzLimits = Limits{MaxMessageBytes: 1 << 20, MaxAttachmentBytes: 256 << 10, MaxParts: 50, MaxDepth: 8}

func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil {
		f.Fatal(err)
	}
	fixtures, _ := filepath.Glob(filepath.Join("..", "..", "fixtures", "mail", "*.eml"))
	for _, name := range append(files, fixtures...) {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if len(raw) > 512<<10 {
			continue
		}
		f.Add(raw)
		f.Add(raw[:len(raw)/2]) // truncated
		flipped := slices.Clone(raw)
		for i := 7; i < len(flipped); i += 97 {
			flipped[i] ^= 1 << (i % 8) // bit-flipped
		}
		f.Add(flipped)
	}
	f.Add([]byte(tnefMail(buildTNEF([]tnefFile{{title: "a.pdf", data: testPDF}}))))
	f.Add([]byte(nested(1000, "deep")))                                                                               // deeply nested multipart
	f.Add([]byte(forwardChain(50)))                                                                                   // nested forwards
	f.Add([]byte("Subject: x\r\n" + strings.Repeat("X-H: "+strings.Repeat("v", 60)+"\r\n", 4000) + "\r\nbody"))       // huge header
	f.Add([]byte("Subject: " + strings.Repeat("=?utf-8?B?w6k=?= ", 5000) + "\r\n\r\n"))                               // many encoded-words
	f.Add([]byte("Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\n"))                                   // empty boundary
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n" + strings.Repeat("--x\r\n\r\n", 500) + "--x--")) // many parts
	f.Add([]byte("Content-Type: text/html\r\n\r\n" + strings.Repeat("<div><table><tr><td>", 3000)))                   // deep HTML
	f.Add([]byte("Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!====\r\n"))                // bad base64
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Parse(bytes.NewReader(raw), fuzzLimits)
		if m == nil {
			t.Fatal("Parse returned a nil message")
		}
		if errors.Is(err, errRecovered) {
			t.Fatalf("Parse panicked: %v", err)
		}
		if m.Size > fuzzLimits.MaxMessageBytes || m.Size > int64(len(raw)) {
			t.Fatalf("Size = %d for a %d-byte input", m.Size, len(raw))
		}
		if len(m.Attachments) > fuzzLimits.MaxParts {
			t.Fatalf("%d attachments, more than MaxParts", len(m.Attachments))
		}
		for _, a := range m.Attachments {
			if int64(len(a.Data)) > fuzzLimits.MaxAttachmentBytes {
				t.Fatalf("attachment of %d bytes, more than MaxAttachmentBytes", len(a.Data))
			}
			if !utf8.ValidString(a.Name) || strings.ContainsAny(a.Name, "/\\\x00\r\n") {
				t.Fatalf("unsafe attachment name %q", a.Name)
			}
		}
		for _, s := range []string{m.Subject, m.FromName, m.Body} {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 in %q", s)
			}
		}
	})
}

// forwardChain returns n messages each forwarding the next.
func forwardChain(n int) string {
	var b strings.Builder
	for range n {
		b.WriteString("Subject: fwd\r\nContent-Type: message/rfc822\r\n\r\n")
	}
	b.WriteString("Subject: end\r\n\r\nend\r\n")
	return b.String()
}

func TestParseDeepNesting(t *testing.T) {
	for _, raw := range []string{nested(1000, "deep"), forwardChain(1000)} {
		m, err := Parse(strings.NewReader(raw), DefaultLimits())
		if !errors.Is(err, ErrTooDeep) {
			t.Errorf("Parse(1000 deep) error = %v, want ErrTooDeep", err)
		}
		if m.Body != "" {
			t.Errorf("Body = %q, want nothing read past MaxDepth", m.Body)
		}
	}
}

// FuzzBase64Reader checks the fast decoder against the plain rule it
// implements: keep the alphabet up to the first '=', drop a lone trailing
// character, decode the rest with the standard library.
func FuzzBase64Reader(f *testing.F) {
	f.Add([]byte("SGVsbG8="))
	f.Add([]byte("SGVs\r\nbG8=\r\n--junk"))
	f.Add([]byte(" SGVs bG8 = "))
	f.Add([]byte("SGVsbG8hA"))
	f.Add([]byte("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODk=\r\n"))
	f.Add([]byte("QUJD\x00REVG\xffR0hJ"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := io.ReadAll(iotestHalf{newBase64Reader(bytes.NewReader(in))})
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var kept []byte
		for _, c := range in {
			if c == '=' {
				break
			}
			if b64Table[c] < 64 {
				kept = append(kept, c)
			}
		}
		if len(kept)%4 == 1 {
			kept = kept[:len(kept)-1]
		}
		want := make([]byte, base64.RawStdEncoding.DecodedLen(len(kept)))
		n, err := base64.RawStdEncoding.Decode(want, kept)
		if err != nil {
			t.Fatalf("reference decode: %v", err)
		}
		if !bytes.Equal(got, want[:n]) {
			t.Errorf("base64 of %q = %q, want %q", in, got, want[:n])
		}
	})
}

// FuzzParseHeader checks that reading only the header never panics and
// gives the header fields Parse gives for the same message.
func FuzzParseHeader(f *testing.F) {
	fixtures, _ := filepath.Glob(filepath.Join("..", "..", "fixtures", "mail", "*.eml"))
	for _, name := range fixtures {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if i := bytes.Index(raw, []byte("\r\n\r\n")); i > 0 {
			raw = raw[:i+4]
		}
		f.Add(raw)
	}
	f.Add([]byte("From: Resident <Resident@Example.ORG>\r\nSubject: =?utf-8?q?=E2=9C=93?=\r\nIn-Reply-To: <a@b>\r\nReferences: <x@y> <a@b>\r\n\r\nbody"))
	f.Add([]byte("From: \"unterminated <a@b>\r\n"))
	f.Add([]byte("Subject: x\r\n" + strings.Repeat("X-H: "+strings.Repeat("v", 60)+"\r\n", 4000) + "\r\nbody"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		h := ParseHeader(raw)
		if h == nil {
			t.Fatal("ParseHeader returned nil")
		}
		if !utf8.ValidString(h.From) || !utf8.ValidString(h.Subject) {
			t.Fatalf("ParseHeader(%q) gave invalid UTF-8: From %q, Subject %q", raw, h.From, h.Subject)
		}
		m, _ := Parse(bytes.NewReader(raw), fuzzLimits)
		if m.From != h.From || m.Subject != h.Subject || m.MessageID != h.MessageID || m.InReplyTo != h.InReplyTo ||
			!slices.Equal(m.References, h.References) || !m.Date.Equal(h.Date) {
			t.Fatalf("ParseHeader(%q) = %q %q %q %q %q %v, Parse gives %q %q %q %q %q %v", raw,
				h.From, h.Subject, h.MessageID, h.InReplyTo, h.References, h.Date,
				m.From, m.Subject, m.MessageID, m.InReplyTo, m.References, m.Date)
		}
	})
}
