package message_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ncl-icb/optout-intake/extract/message"
)

func ExampleParse() {
	raw := "From: =?utf-8?Q?Zo=C3=AB_Brown?= <zoe@Example.COM>\r\n" +
		"To: joined-up.care-record@nhs.net\r\n" +
		"Subject: My opt-out form\r\n" +
		"Message-ID: <abc@example.com>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease find my form attached.\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\n" +
		"Content-Disposition: attachment; filename*=UTF-8''opt-out%20form.pdf\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjcK\r\n--b--\r\n"
	m, err := message.Parse(strings.NewReader(raw), message.DefaultLimits())
	if errors.Is(err, message.ErrTooLarge) {
		fmt.Println("too large: what was read is still in m")
	} else if err != nil {
		fmt.Println("damaged:", err)
	}
	fmt.Println(m.From, "|", m.FromName, "|", m.Subject, "|", m.MessageID)
	fmt.Println(m.Body)
	for _, a := range m.Attachments {
		fmt.Printf("%s (%s) %q\n", a.Name, a.ContentType, a.Data)
	}
	fmt.Println("auto:", m.Auto)
	// Output:
	// zoe@example.com | Zoë Brown | My opt-out form | abc@example.com
	// Please find my form attached.
	// opt-out form.pdf (application/octet-stream) "%PDF-1.7\n"
	// auto: false
}
