package notify

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/internal/retry"
	"github.com/ncl-icb/optout-intake/internal/smtpsink"
	"github.com/ncl-icb/optout-intake/internal/smtptest"
	"github.com/ncl-icb/optout-intake/vocab"
)

// TestRefusalTable replays each reply of docs/notify.md's table from the
// repository's SMTP sink, over TCP, and checks how the worker reads it:
// a pause of every sender (and for what), or a failure of this one email
// (retried when temporary).
func TestRefusalTable(t *testing.T) {
	tests := []struct {
		name      string
		refusal   smtpsink.Refusal
		down      bool
		closed    bool
		pause     vocab.PauseReason
		temporary bool // for a refusal about the email: retried, not failed
	}{
		{"quota exceeded", smtpsink.Refusal{Step: "data", Code: 554, Enhanced: "5.2.0", Text: "STOREDRV.Submission.Exception:SubmissionQuotaExceededException"}, false, false, vocab.PauseQuota, false},
		{"sender mailbox full", smtpsink.Refusal{Step: "data", Code: 554, Enhanced: "5.2.2", Text: "mailbox full"}, false, false, vocab.PauseQuota, false},
		{"continuous error throttling", smtpsink.Refusal{Step: "mail", Code: 550, Enhanced: "5.2.252", Text: "sender throttled"}, false, false, vocab.PauseThrottled, false},
		{"continuous error throttling at data", smtpsink.Refusal{Step: "data", Code: 550, Enhanced: "5.2.255", Text: "sender throttled"}, false, false, vocab.PauseThrottled, false},
		{"submission rate exceeded", smtpsink.Refusal{Step: "data", Code: 421, Enhanced: "4.4.2", Text: "message submission rate exceeded"}, false, false, vocab.PauseThrottled, false},
		{"rate at greeting", smtpsink.Refusal{Step: "greeting", Code: 421, Enhanced: "4.4.2", Text: "connection dropped"}, false, false, vocab.PauseThrottled, false},
		{"too many connections", smtpsink.Refusal{Step: "greeting", Code: 432, Enhanced: "4.3.2", Text: "STOREDRV; mailbox server is too busy"}, false, false, vocab.PauseThrottled, false},
		{"service unavailable", smtpsink.Refusal{Step: "greeting", Code: 421, Text: "service not available"}, false, false, vocab.PauseOutage, false},
		{"temporary server error", smtpsink.Refusal{Step: "data", Code: 451, Enhanced: "4.3.0", Text: "temporary server error"}, false, false, vocab.PauseOutage, false},
		{"sender refused", smtpsink.Refusal{Step: "mail", Code: 550, Enhanced: "5.7.60", Text: "SendAsDenied"}, false, false, vocab.PauseOutage, false},
		{"connection closed", smtpsink.Refusal{}, true, false, vocab.PauseOutage, false},
		{"connection refused", smtpsink.Refusal{}, false, true, vocab.PauseOutage, false},
		{"unknown recipient", smtpsink.Refusal{Step: "rcpt", Code: 550, Enhanced: "5.1.1", Text: "RESOLVER.ADR.RecipNotFound"}, false, false, "", false},
		{"recipient mailbox busy", smtpsink.Refusal{Step: "rcpt", Code: 450, Enhanced: "4.2.1", Text: "try later"}, false, false, "", true},
		{"recipient mailbox full", smtpsink.Refusal{Step: "rcpt", Code: 552, Enhanced: "5.2.2", Text: "recipient mailbox full"}, false, false, "", false},
		{"message too large", smtpsink.Refusal{Step: "data", Code: 552, Enhanced: "5.3.4", Text: "message size exceeds fixed maximum"}, false, false, "", false},
		{"content refused", smtpsink.Refusal{Step: "data", Code: 550, Enhanced: "5.7.1", Text: "message refused"}, false, false, "", false},
	}
	raw := testMessage(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.Start(t)
			srv.SetDown(tt.down)
			if tt.refusal.Code != 0 {
				srv.Refuse(tt.refusal)
			}
			addr := srv.Addr()
			if tt.closed {
				srv.Close()
			}
			s := newTestSender(t, SenderConfig{Addr: addr, TLS: TLSNone})
			err := s.Send(context.Background(), "team@nhs.net", []string{testRcpt}, raw)
			if err == nil {
				t.Fatal("Send succeeded; want a refusal")
			}
			if got := Refusal(err); got != tt.pause {
				t.Errorf("Refusal(%v) = %q, want %q", err, got, tt.pause)
			}
			if tt.pause == "" && retry.Temporary(err) != tt.temporary {
				t.Errorf("Temporary(%v) = %v, want %v", err, retry.Temporary(err), tt.temporary)
			}
		})
	}
}

// TestRefusalTableSetup replays the table's failures to set up a
// connection (docs/notify.md: "connection refused, reset, timed out; TLS
// or AUTH failure"): each pauses all sending as an outage.
func TestRefusalTableSetup(t *testing.T) {
	tests := []struct {
		name string
		sink smtptest.Config
		cfg  SenderConfig
		step string
	}{
		{"AUTH refused", smtptest.Config{Users: map[string]string{"u": "right"}}, SenderConfig{TLS: TLSNone, User: "u", Password: "wrong"}, "auth"},
		{"TLS certificate not trusted", smtptest.Config{StartTLS: true}, SenderConfig{TLS: TLSStartTLS}, "hello"}, // go-smtp upgrades within its hello
		{"STARTTLS not offered", smtptest.Config{}, SenderConfig{TLS: TLSStartTLS}, "tls"},
		{"timed out", smtptest.Config{}, SenderConfig{TLS: TLSNone, Timeout: 200 * time.Millisecond}, ""},
	}
	raw := testMessage(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if tt.name == "timed out" {
				cfg.Addr = silentServer(t)
			} else {
				cfg.Addr = smtptest.StartWith(t, tt.sink).Addr()
			}
			s := newTestSender(t, cfg)
			err := s.Send(context.Background(), "team@nhs.net", []string{testRcpt}, raw)
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send = %v; want a *SendError", err)
			}
			if tt.step != "" && se.Step != tt.step {
				t.Errorf("Send failed at %q (%v), want at %q", se.Step, err, tt.step)
			}
			if got := Refusal(err); got != vocab.PauseOutage {
				t.Errorf("Refusal(%v) = %q, want %q", err, got, vocab.PauseOutage)
			}
		})
	}
}
