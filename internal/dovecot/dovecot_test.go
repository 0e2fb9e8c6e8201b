package dovecot

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

func TestStartAppendRestart(t *testing.T) {
	start := time.Now()
	s := Start(t)
	t.Logf("dovecot started in %v", time.Since(start))
	if err := s.AddUser("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	raw := []byte("From: a@example.org\r\nSubject: hello\r\n\r\nbody\r\n")
	uid, err := s.Append("alice", "INBOX", raw)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if uid != 1 {
		t.Errorf("Append uid = %d, want 1", uid)
	}
	if err := s.AddUser("bob", "pw2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append("bob", "Other", raw); err != nil {
		t.Fatalf("Append for a second user: %v", err)
	}
	if err := s.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	total, deleted, err := s.Count("alice", "INBOX")
	if err != nil || total != 1 || deleted != 0 {
		t.Errorf("Count after restart = %d, %d, %v; want 1, 0, nil", total, deleted, err)
	}
	c, err := imapclient.DialTLS(s.TLSAddr, &imapclient.Options{TLSConfig: s.TLSConfig()})
	if err != nil {
		t.Fatalf("DialTLS: %v", err)
	}
	if err := c.Login("alice", "secret").Wait(); err != nil {
		t.Errorf("login over implicit TLS: %v", err)
	}
	c.Close()
	c, err = imapclient.DialStartTLS(s.Addr, &imapclient.Options{TLSConfig: &tls.Config{RootCAs: s.RootCAs}})
	if err != nil {
		t.Fatalf("DialStartTLS: %v", err)
	}
	if err := c.Login("alice", "wrong").Wait(); err == nil {
		t.Errorf("login with a wrong password succeeded")
	}
	c.Close()
}
