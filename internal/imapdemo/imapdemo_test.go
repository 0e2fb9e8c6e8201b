package imapdemo

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/mailbox"
)

func testMessage(n int) []byte {
	return fmt.Appendf(nil, "From: resident%d@example.org\r\nTo: team@nhs.example\r\nSubject: opt out %d\r\n"+
		"Message-ID: <m%d@example.org>\r\nDate: Mon, 02 Jun 2025 10:00:00 +0000\r\n\r\nPlease send me the form.\r\n", n, n, n)
}

func start(t *testing.T) *Server {
	t.Helper()
	s, err := Start("demo", "pw")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStartNeedsCredentials(t *testing.T) {
	if _, err := Start("", "pw"); err == nil {
		t.Error(`Start("", "pw") = nil error, want one`)
	}
	if _, err := Start("u", ""); err == nil {
		t.Error(`Start("u", "") = nil error, want one`)
	}
}

// TestWithMailboxClient drives the server with the daemon's own IMAP client:
// login, fetch seeded mail, create folders and move, as a poll does.
func TestWithMailboxClient(t *testing.T) {
	s := start(t)
	for i := 1; i <= 3; i++ {
		if _, err := s.Append(Inbox, testMessage(i), time.Time{}); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
	if got := s.Count(Inbox); got != 3 {
		t.Fatalf("Count(INBOX) = %d, want 3", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := mailbox.Config{Addr: s.Addr(), TLS: mailbox.TLSNone, User: s.User(), Password: s.Password(), DialTimeout: 5 * time.Second, CommandTimeout: 10 * time.Second}
	c, err := mailbox.Dial(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if err := c.EnsureFolders(ctx); err != nil {
		t.Fatalf("EnsureFolders: %v", err)
	}
	var got []mailbox.Msg
	res, err := c.FetchNew(ctx, mailbox.Cursor{}, func(m mailbox.Msg) error { got = append(got, m); return nil })
	if err != nil {
		t.Fatalf("FetchNew: %v", err)
	}
	if len(got) != 3 || res.Next.LastUID != got[2].UID {
		t.Fatalf("FetchNew delivered %d messages, cursor %v; want 3 ending at the last UID", len(got), res.Next)
	}
	if !bytes.Contains(got[1].Raw, []byte("opt out 2")) {
		t.Errorf("message 2 raw = %q, want the seeded message", got[1].Raw)
	}
	if err := c.Move(ctx, []mailbox.UID{got[0].UID, got[1].UID}, "Processed"); err != nil {
		t.Fatalf("Move: %v", err)
	}
	if in, done := s.Count(Inbox), s.Count("Processed"); in != 1 || done != 2 {
		t.Errorf("after Move: INBOX %d, Processed %d; want 1 and 2", in, done)
	}
	// Mail appended later is new to the stored cursor.
	if _, err := s.Append(Inbox, testMessage(4), time.Time{}); err != nil {
		t.Fatal(err)
	}
	got = nil
	if _, err := c.FetchNew(ctx, res.Next, func(m mailbox.Msg) error { got = append(got, m); return nil }); err != nil {
		t.Fatalf("FetchNew again: %v", err)
	}
	if len(got) != 1 || !bytes.Contains(got[0].Raw, []byte("opt out 4")) {
		t.Errorf("second FetchNew delivered %d messages, want only the new one", len(got))
	}
}

func TestWrongPassword(t *testing.T) {
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := mailbox.Config{Addr: s.Addr(), TLS: mailbox.TLSNone, User: s.User(), Password: "wrong", DialTimeout: 5 * time.Second}
	if c, err := mailbox.Dial(ctx, cfg, nil); err == nil {
		c.Close()
		t.Fatal("Dial with a wrong password succeeded")
	}
}

func TestAppendToMissingMailbox(t *testing.T) {
	s := start(t)
	if _, err := s.Append("Nope", testMessage(1), time.Time{}); err == nil {
		t.Error("Append to a missing mailbox = nil error, want one")
	}
	if got := s.Count("Nope"); got != 0 {
		t.Errorf("Count(missing) = %d, want 0", got)
	}
}

func TestCloseTwice(t *testing.T) {
	s, err := Start("demo", "pw")
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	s.Close()
	s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg := mailbox.Config{Addr: addr, TLS: mailbox.TLSNone, User: "demo", Password: "pw", DialTimeout: 2 * time.Second}
	if c, err := mailbox.Dial(ctx, cfg, nil); err == nil {
		c.Close()
		t.Error("Dial after Close succeeded")
	}
}
