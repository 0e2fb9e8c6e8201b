package message

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// oidEnveloped and friends are ContentInfo openings as clients write them.
var (
	derEnveloped     = []byte{0x30, 0x82, 0x01, 0x00, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03, 0xa0}
	berEnveloped     = []byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03, 0xa0, 0x80}
	derSigned        = []byte{0x30, 0x81, 0x90, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0}
	derAuthEnveloped = []byte{0x30, 0x50, 0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x17, 0xa0}
)

func TestCMSContentType(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"DER enveloped-data", derEnveloped, cmsEnvelopedData},
		{"BER indefinite length", berEnveloped, cmsEnvelopedData},
		{"signed-data", derSigned, cmsSignedData},
		{"authEnveloped-data", derAuthEnveloped, cmsAuthEnveloped},
		{"not a SEQUENCE", append([]byte{0x31}, derEnveloped[1:]...), ""},
		{"five-byte length", []byte{0x30, 0x85, 1, 2, 3, 4, 5, 0x06}, ""},
		{"cut short", derEnveloped[:6], ""},
		{"empty", nil, ""},
		{"text", []byte("-----BEGIN PKCS7-----"), ""},
	}
	for _, tt := range tests {
		if got := cmsContentType(tt.in); got != tt.want {
			t.Errorf("cmsContentType(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestParseEncryptedKinds checks Message.Encrypted for S/MIME with and
// without smime-type, opaque signing (not encrypted) and PGP/MIME.
func TestParseEncryptedKinds(t *testing.T) {
	p7m := func(params string, der []byte) string {
		return "From: a@example.org\r\nContent-Type: application/pkcs7-mime" + params + "; name=smime.p7m\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(der) + "\r\n"
	}
	tests := []struct {
		name, raw, want string
	}{
		{"smime-type enveloped-data", p7m("; smime-type=enveloped-data", derEnveloped), EncryptedSMIME},
		{"smime-type authEnveloped-data", p7m("; smime-type=authEnveloped-data", derAuthEnveloped), EncryptedSMIME},
		{"no smime-type, enveloped content", p7m("", berEnveloped), EncryptedSMIME},
		{"no smime-type, signed content", p7m("", derSigned), ""},
		{"smime-type signed-data", p7m("; smime-type=signed-data", derSigned), ""},
		{"PGP/MIME", "From: a@example.org\r\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n--b--\r\n", EncryptedPGP},
		{"plain", "From: a@example.org\r\nContent-Type: text/plain\r\n\r\nHello\r\n", ""},
	}
	for _, tt := range tests {
		m, _ := Parse(strings.NewReader(tt.raw), DefaultLimits())
		if m.Encrypted != tt.want {
			t.Errorf("Parse(%s).Encrypted = %q, want %q (notes %q)", tt.name, m.Encrypted, tt.want, m.Notes)
		}
	}
}

func FuzzCMSContentType(f *testing.F) {
	for _, b := range [][]byte{derEnveloped, berEnveloped, derSigned, derAuthEnveloped, {0x30, 0x84, 0xff, 0xff, 0xff, 0xff}} {
		f.Add(b)
	}
	for _, name := range []string{"smime-encrypted.eml", "smime-authenveloped.eml"} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "mail", name))
		if err != nil {
			f.Fatal(err)
		}
		_, body, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
		der, _ := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(body)))
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		switch k := cmsContentType(b); k {
		case "", cmsSignedData, cmsEnvelopedData, cmsAuthEnveloped, cmsCompressedData:
			if k != "" && (len(b) < 2 || b[0] != 0x30) {
				t.Fatalf("cmsContentType(% x) = %q for input that is not a SEQUENCE", b, k)
			}
		default:
			t.Fatalf("cmsContentType = %q, not a known type", k)
		}
	})
}
