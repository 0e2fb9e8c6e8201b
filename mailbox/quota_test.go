package mailbox

import (
	"bytes"
	"context"
	"testing"

	"github.com/ncl-icb/optout-intake/internal/dovecot"
)

// TestQuota reads the storage quota from a Dovecot with its quota plugin
// (RFC 9208 QUOTA), and reports none from one without it.
func TestQuota(t *testing.T) {
	srv := dovecot.StartWith(t, dovecot.Options{ExtraConfig: `
mail_plugins = $mail_plugins quota
protocol imap {
  mail_plugins = $mail_plugins imap_quota
}
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=1M
}
`})
	cfg := newUser(t, srv)
	appendAll(t, srv, cfg.User, "INBOX", [][]byte{append([]byte("From: a@example.org\r\nSubject: big\r\n\r\n"), bytes.Repeat([]byte("x"), 100<<10)...)})
	c := dial(t, cfg)
	q, ok, err := c.Quota(context.Background())
	if err != nil || !ok {
		t.Fatalf("Quota = %+v, %v, %v; want a quota", q, ok, err)
	}
	if q.Limit != 1<<20 || q.Used < 100<<10 || q.Used > 200<<10 {
		t.Errorf("Quota = %+v; want about 100 KiB used of 1 MiB", q)
	}

	plain := dial(t, newUser(t, shared))
	if q, ok, err := plain.Quota(context.Background()); err != nil || ok {
		t.Errorf("Quota without the plugin = %+v, %v, %v; want none", q, ok, err)
	}
}
