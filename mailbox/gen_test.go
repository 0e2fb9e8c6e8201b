package mailbox

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// genMessage builds a client-shaped test message: kind 0 is a form reply with
// a PDF attachment of about 100-200 KB, 1 a short first contact, 2 an
// auto-reply. All content is synthetic.
func genMessage(kind, i int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), uint64(kind)))
	var b bytes.Buffer
	date := time.Date(2025, 11, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute).Format(time.RFC1123Z)
	fmt.Fprintf(&b, "Date: %s\r\nFrom: Resident %d <resident%d@example.org>\r\nTo: optout@example.nhs.uk\r\n", date, i, i)
	fmt.Fprintf(&b, "Message-ID: <gen-%d-%d@example.org>\r\nMIME-Version: 1.0\r\n", kind, i)
	switch kind {
	case 0:
		fmt.Fprintf(&b, "Subject: RE: [secure] London Care Record opt-out LCR-%05d\r\n", i)
		b.WriteString("Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n")
		b.WriteString("--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease find my form attached.\r\n")
		b.WriteString("--b1\r\nContent-Type: application/pdf; name=\"form.pdf\"\r\nContent-Disposition: attachment; filename=\"form.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		pdf := make([]byte, 100_000+r.IntN(100_000))
		copy(pdf, "%PDF-1.7\n")
		for j := 9; j < len(pdf); j++ {
			pdf[j] = byte(r.Uint32())
		}
		enc := base64.StdEncoding.EncodeToString(pdf)
		for len(enc) > 76 {
			b.WriteString(enc[:76])
			b.WriteString("\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n--b1--\r\n")
	case 1:
		b.WriteString("Subject: Opting out of the London Care Record\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
		b.WriteString("Hello, I would like to opt out of the London Care Record. How do I do that?\r\n")
		b.WriteString(strings.Repeat("Thank you.\r\n", 1+r.IntN(5)))
	default:
		b.WriteString("Subject: Automatic reply: Out of office\r\nAuto-Submitted: auto-replied\r\nContent-Type: text/plain\r\n\r\n")
		b.WriteString("I am out of the office until Monday.\r\n")
	}
	return b.Bytes()
}

// genMix returns n messages: 60 % form replies, 30 % first contacts, 10 % auto.
func genMix(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = genMessage(mixKind(i), i)
	}
	return out
}

// mixKind is the kind of the i-th message of the mix.
func mixKind(i int) int {
	switch m := i % 10; {
	case m >= 6 && m < 9:
		return 1
	case m == 9:
		return 2
	}
	return 0
}
