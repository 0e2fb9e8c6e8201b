package message

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMachineAddress(t *testing.T) {
	tests := []struct {
		addr, want string
	}{
		// The null address.
		{"", ReasonNullReturnPath},
		{"<>", ReasonNullReturnPath},
		{" < > ", ReasonNullReturnPath},
		{"@example.org", ReasonNullReturnPath},
		// Mail systems.
		{"MAILER-DAEMON@mx.example.org", ReasonDaemon},
		{"mailer-daemon@googlemail.com", ReasonDaemon},
		{"MAILER-DAEMON", ReasonDaemon},
		{"Mailer_Daemon@example.org", ReasonDaemon},
		{"mail.daemon@example.org", ReasonDaemon},
		{"postmaster@example.org", ReasonDaemon},
		{"Postmaster@AOL.com", ReasonDaemon},
		{"post_master@vtext.example.com", ReasonDaemon},
		{"post.master@example.org", ReasonDaemon},
		{"MDaemon@example.org", ReasonDaemon},
		// Mailing-list software (RFC 3834 section 2, RFC 2142).
		{"owner-residents@lists.example.org", ReasonListSender},
		{"residents-request@lists.example.org", ReasonListSender},
		{"residents-admin@lists.example.org", ReasonListSender},
		{"2ndml-admin@example.com", ReasonListSender},
		{"residents-bounces@lists.example.org", ReasonListSender},
		{"residents-bounces+jane=example.com@lists.example.org", ReasonListSender},
		{"residents-bounce@lists.example.org", ReasonListSender},
		{"residents-owner@lists.example.org", ReasonListSender},
		{"LISTSERV@LISTS.EXAMPLE.ORG", ReasonListSender},
		{"majordomo@example.org", ReasonListSender},
		{"mailman@example.org", ReasonListSender},
		{"bounces+61689-10be-kijitora=example.jp@sendgrid.info", ReasonListSender},
		{"bounce-3d94d3fa8f@vtiger.example", ReasonListSender},
		// Notification senders.
		{"no-reply@example.org", ReasonNoReply},
		{"noreply@boxbe.com", ReasonNoReply},
		{"NoReply@example.org", ReasonNoReply},
		{"no_reply@example.org", ReasonNoReply},
		{"no.reply@example.org", ReasonNoReply},
		{"donotreply@example.org", ReasonNoReply},
		{"do-not-reply@example.org", ReasonNoReply},
		{"do_not_reply@example.org", ReasonNoReply},
		{"DoNotReply.Appointments@nhs.example", ReasonNoReply},
		{"notifications-noreply@example.org", ReasonNoReply},
		{"noreply+abc@example.org", ReasonNoReply},
		{"dont-reply@example.org", ReasonNoReply},
		// People, and addresses that only look a little like a machine.
		{"jane@example.com", ""},
		{"resident@example.org", ""},
		{"postmaster.jones@example.org", ""},
		{"daemon.smith@example.org", ""},
		{"request@example.org", ""},
		{"admin@example.org", ""},
		{"owner@example.org", ""},
		{"-admin@example.org", ""},
		{"owner-@example.org", ""},
		{"bouncer.jane@example.org", ""},
		{"norah.eply@example.org", ""},
		{"fred.bloggs@email.example.com", ""},
	}
	for _, tt := range tests {
		if got := MachineAddress(tt.addr); got != tt.want {
			t.Errorf("MachineAddress(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

func TestMboxLine(t *testing.T) {
	const mail = "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\nSubject: failure notice\n\nSorry.\n"
	tests := []struct {
		name, raw  string
		wantFrom   string
		wantReason string
	}{
		{"mailer-daemon envelope", "From MAILER-DAEMON Thu Apr 29 10:20:30 2021\n" + mail, "MAILER-DAEMON@mx.example.org", ReasonNullReturnPath},
		{"null envelope", "From <> Thu Apr 29 10:20:30 2021\nFrom: jane@example.com\nSubject: hi\n\nHello\n", "jane@example.com", ReasonNullReturnPath},
		{"person's envelope", "From jane@example.com Thu Apr 29 10:20:30 2021\nFrom: jane@example.com\nSubject: hi\n\nHello\n", "jane@example.com", ""},
		{"thunderbird dash", "From - Sat Nov 01 10:20:30 2025\r\nFrom: jane@example.com\r\nSubject: hi\r\n\r\nHello\r\n", "jane@example.com", ""},
		{"no mbox line", "From: jane@example.com\nSubject: hi\n\nHello\n", "jane@example.com", ""},
		{"long mbox line", "From " + strings.Repeat("x", 40000) + "\nFrom: jane@example.com\nSubject: hi\n\nHello\n", "jane@example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(strings.NewReader(tt.raw), DefaultLimits())
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if m.From != tt.wantFrom || m.AutoReason != tt.wantReason {
				t.Errorf("From, AutoReason = %q, %q, want %q, %q", m.From, m.AutoReason, tt.wantFrom, tt.wantReason)
			}
			if m.Size != int64(len(tt.raw)) {
				t.Errorf("Size = %d, want %d", m.Size, len(tt.raw))
			}
		})
	}
}

func TestTextBouncesAndReplies(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"qmail from a bounce address", "From: bounce-handler@mx.example.org\nSubject: failure notice\n\nHi. This is the qmail-send program at mx.example.org.\n", ReasonListSender},
		{"mail delivery system name", "From: Mail Delivery System <mail@mx.example.org>\nSubject: Mail delivery failed: returning message to sender\n\nx\n", ReasonTextBounce},
		{"no From at all", "Subject: Undelivered Mail Returned to Sender\n\nThis is the mail system at host mx.example.org.\n", ReasonTextBounce},
		{"system administrator", "From: System Administrator <admin.team@example.org>\nSubject: Undeliverable: opt-out\n\nYour message did not reach some or all of the intended recipients.\n", ReasonTextBounce},
		{"resident says undeliverable", "From: Jane <jane@example.com>\nSubject: Undeliverable\n\nMy email to the practice was undeliverable, so I am writing to you.\n", ""},
		{"resident quotes a bounce", "From: Jane <jane@example.com>\nSubject: Fwd: Delivery Status Notification (Failure)\n\nThis is the mail system at host mx.example.org. Why did this happen?\n", ""},
		{"lotus notes auto-reply", "From: John.Smith@example.com\nSubject: AUTO: Smith, John is out of the office. (returning 05/01/2010)\n\nI am out of the office.\n\nNote: This is an automated response to your message\n", ReasonAutoReplyText},
		{"resident's own out of office words", "From: Jane <jane@example.com>\nSubject: Out of office until Monday, form attached\n\nI am out of the office, here is my form.\n", ""},
		{"x-loop", "From: jane@example.com\nX-Loop: jane@example.com\nSubject: Re: x\n\nAway\n", ReasonAutoReply},
		{"feedback-id", "From: Notifications <alerts@example.org>\nFeedback-ID: 1:2:3:ses\nSubject: Your parcel\n\nx\n", ReasonBulk},
		{"list-admin return path", "From: Jane <jane@example.com>\nReturn-Path: <residents-bounces+x=example.org@lists.example.org>\nSubject: hello list\n\nx\n", ReasonListSender},
		{"jmrp complaint", "From: staff@hotmail.example\nSubject: complaint about message from 192.0.2.1\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\nSubject: x\n\ny\n--b--\n", ReasonReport},
		{"resident's complaint", "From: jane@example.com\nSubject: A complaint about my GP\n\nI want to complain.\n", ""},
		{"unknown report type", "From: reporter@example.org\nContent-Type: multipart/report; report-type=x-tlsrpt; boundary=b\n\n--b\nContent-Type: text/plain\n\nreport\n--b--\n", ReasonReport},
		{"report without a report type", "From: reporter@example.org\nContent-Type: multipart/report; boundary=b\n\n--b\nContent-Type: text/plain\n\nreport\n--b--\n", ReasonReport},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(strings.NewReader(tt.raw), DefaultLimits())
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if m.AutoReason != tt.want || m.Auto != (tt.want != "") {
				t.Errorf("Auto, AutoReason = %v, %q, want %v, %q", m.Auto, m.AutoReason, tt.want != "", tt.want)
			}
		})
	}
}

// FuzzMboxLine checks the mbox "From " line handling: a message read with
// a "From " line in front gives the same header as without one, and
// nothing panics.
func FuzzMboxLine(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "fixtures", "machines", "*", "*.eml"))
	for i, name := range files {
		if i%4 != 0 { // a sample is enough to seed
			continue
		}
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if len(raw) <= 64<<10 {
			f.Add("MAILER-DAEMON Thu Apr 29 10:20:30 2021", raw)
		}
	}
	f.Add("", []byte("From: a@b\n\nx"))
	f.Add("<>", []byte("Subject: x\r\n\r\n"))
	f.Add(strings.Repeat("x", 20000), []byte("Content-Type: multipart/report; boundary=b\n\n--b\n--b--\n"))
	f.Fuzz(func(t *testing.T, line string, raw []byte) {
		if strings.ContainsAny(line, "\r\n") || bytes.HasPrefix(raw, []byte("From ")) {
			return
		}
		plain, _ := Parse(bytes.NewReader(raw), fuzzLimits)
		mbox, err := Parse(bytes.NewReader(append([]byte("From "+line+"\n"), raw...)), fuzzLimits)
		if mbox == nil || plain == nil {
			t.Fatal("Parse returned a nil message")
		}
		if err != nil && strings.Contains(err.Error(), errRecovered.Error()) {
			t.Fatalf("Parse panicked: %v", err)
		}
		if len(line)+6 > maxMessageLine {
			return
		}
		if mbox.From != plain.From || mbox.Subject != plain.Subject || mbox.MessageID != plain.MessageID {
			t.Errorf("with an mbox line: From, Subject, Message-ID = %q, %q, %q; without: %q, %q, %q",
				mbox.From, mbox.Subject, mbox.MessageID, plain.From, plain.Subject, plain.MessageID)
		}
		if plain.Auto && !mbox.Auto {
			t.Errorf("automatic without an mbox line (%s), not with one", plain.AutoReason)
		}
	})
}

func TestChallengeResponse(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"bluebottle header", "From: jane@example.com\nX-Bluebottle-Request: <1>\nSubject: RE: x\n\nx\n", ReasonChallenge},
		{"guest list", "From: jane@example.com\nSubject: Re: x\n\nPlease add yourself to my Guest List so your messages reach me.\n", ReasonChallenge},
		{"a person asking to be added", "From: jane@example.com\nSubject: Re: x\n\nPlease add me to your mailing list.\n", ""},
	}
	for _, tt := range tests {
		m, err := Parse(strings.NewReader(tt.raw), DefaultLimits())
		if err != nil {
			t.Fatalf("%s: Parse: %v", tt.name, err)
		}
		if m.AutoReason != tt.want {
			t.Errorf("%s: AutoReason = %q, want %q", tt.name, m.AutoReason, tt.want)
		}
	}
}
