package message

import (
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	const plain = "Content-Type: text/plain\r\n\r\nHello\r\n"
	report := func(rt string) string {
		return "Content-Type: multipart/report; report-type=" + rt + "; boundary=r\r\n\r\n--r\r\nContent-Type: text/plain\r\n\r\nreport\r\n--r--\r\n"
	}
	tests := []struct {
		name    string
		headers string // extra header lines, CRLF-terminated
		from    string
		subject string
		body    string // Content-Type and body; plain when ""
		want    string // AutoReason; "" means a person's mail
	}{
		// RFC 3834 Auto-Submitted.
		{"auto-submitted auto-replied", "Auto-Submitted: auto-replied\r\n", "", "", "", ReasonAutoSubmitted},
		{"auto-submitted auto-generated with params", "Auto-Submitted: Auto-Generated; owner-email=\"x@y\"\r\n", "", "", "", ReasonAutoSubmitted},
		{"auto-submitted auto-notified", "Auto-Submitted: auto-notified (comment)\r\n", "", "", "", ReasonAutoSubmitted},
		{"auto-submitted no", "Auto-Submitted: no\r\n", "", "", "", ""},
		{"auto-submitted NO with comment", "Auto-Submitted: NO (a person)\r\n", "", "", "", ""},
		// Precedence.
		{"precedence bulk", "Precedence: bulk\r\n", "", "", "", ReasonPrecedence},
		{"precedence junk", "Precedence: junk\r\n", "", "", "", ReasonPrecedence},
		{"precedence list", "Precedence: list\r\n", "", "", "", ReasonPrecedence},
		{"precedence auto_reply", "Precedence: auto_reply\r\n", "", "", "", ReasonPrecedence},
		{"precedence first-class", "Precedence: first-class\r\n", "", "", "", ""},
		// X-Autoreply family.
		{"x-autoreply", "X-Autoreply: yes\r\n", "", "", "", ReasonAutoReply},
		{"x-autorespond", "X-Autorespond: Out of office\r\n", "", "", "", ReasonAutoReply},
		{"x-autoreply no", "X-Autoreply: no\r\n", "", "", "", ""},
		// Exchange.
		{"exchange inbox rules loop", "X-MS-Exchange-Inbox-Rules-Loop: someone@example.org\r\n", "", "", "", ReasonExchange},
		{"exchange generated source", "X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent\r\n", "", "", "", ReasonExchange},
		{"exchange OOF header set", "X-Auto-Response-Suppress: All\r\nThread-Topic: x\r\n", "", "Automatic reply: your email", "", ReasonExchange},
		{"exchange OOF thread-topic and has-attach", "Thread-Topic: x\r\nX-MS-Has-Attach:\r\n", "", "Out of Office: your email", "", ReasonExchange},
		{"exchange NDR header", "X-MS-Exchange-Message-Is-Ndr:\r\n", "", "Undeliverable: x", "", ReasonDSN},
		{"suppress alone is not auto", "X-Auto-Response-Suppress: All\r\nThread-Topic: x\r\nX-MS-Has-Attach: yes\r\n", "", "RE: my opt-out form", "", ""},
		{"auto-reply subject alone is not auto", "", "", "Automatic reply: I'm writing myself", "", ""},
		{"out of office subject from gmail", "Thread-Topic: x\r\n", "", "Out of office: back Monday, form attached", "", ""},
		// Reports and bounces.
		{"multipart/report delivery-status", "", "", "", report("delivery-status"), ReasonDSN},
		{"multipart/report disposition-notification", "", "", "", report("disposition-notification"), ReasonMDN},
		{"multipart/report feedback", "", "", "", report("feedback-report"), ReasonReport},
		{"delivery-status part without report", "", "", "", "Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n--m--\r\n", ReasonDSN},
		{"x-failed-recipients", "X-Failed-Recipients: a@b\r\n", "", "", "", ReasonDSN},
		{"null return path", "Return-Path: <>\r\n", "", "", "", ReasonNullReturnPath},
		{"null return path spaced", "Return-Path: < >\r\n", "", "", "", ReasonNullReturnPath},
		{"return path set", "Return-Path: <resident@example.com>\r\n", "", "", "", ""},
		{"mailer-daemon", "", "Mail Delivery System <MAILER-DAEMON@mx.example.com>", "", "", ReasonDaemon},
		{"postmaster", "", "postmaster@example.com", "", "", ReasonDaemon},
		{"sender mailer-daemon", "Sender: mailer-daemon@example.com\r\n", "", "", "", ReasonDaemon},
		{"postmaster in display name only", "", "\"postmaster\" <jane@example.com>", "", "", ""},
		// Lists.
		{"list-id", "List-Id: <residents.lists.example.org>\r\n", "", "", "", ReasonList},
		{"list-unsubscribe", "List-Unsubscribe: <mailto:unsub@example.org>\r\n", "", "", "", ReasonList},
		// People.
		{"plain reply", "In-Reply-To: <x@y>\r\n", "", "Re: London Care Record", "", ""},
		{"outlook reply", "Thread-Topic: London Care Record\r\nThread-Index: AQ==\r\nX-MS-Has-Attach: yes\r\nX-MS-Exchange-Organization-SCL: 1\r\n", "", "RE: London Care Record", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, subject, body := tt.from, tt.subject, tt.body
			if from == "" {
				from = "Jane Resident <jane@example.com>"
			}
			if subject == "" {
				subject = "my form"
			}
			if body == "" {
				body = plain
			}
			raw := "From: " + from + "\r\nSubject: " + subject + "\r\n" + tt.headers + body
			m, err := Parse(strings.NewReader(raw), DefaultLimits())
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if m.AutoReason != tt.want || m.Auto != (tt.want != "") {
				t.Errorf("Auto, AutoReason = %v, %q, want %v, %q", m.Auto, m.AutoReason, tt.want != "", tt.want)
			}
		})
	}
}

func TestBouncedMessageIDFallbacks(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"quoted header in text bounce",
			"From: MAILER-DAEMON@mx.example.com\r\nSubject: failure notice\r\n\r\nSorry.\r\n--- Below this line is a copy of the message.\r\n\r\nMessage-ID: <outbox-1@ncl.example>\r\nSubject: x\r\n",
			"outbox-1@ncl.example"},
		{"in-reply-to of a bounce",
			"From: postmaster@example.com\r\nIn-Reply-To: <outbox-2@ncl.example>\r\nSubject: undeliverable\r\n\r\nSorry.\r\n",
			"outbox-2@ncl.example"},
		{"not for an out-of-office",
			"From: jane@example.com\r\nAuto-Submitted: auto-replied\r\nIn-Reply-To: <outbox-3@ncl.example>\r\n\r\nAway.\r\n",
			""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(strings.NewReader(tt.raw), DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if m.BouncedMessageID != tt.want {
				t.Errorf("BouncedMessageID = %q, want %q", m.BouncedMessageID, tt.want)
			}
		})
	}
}
