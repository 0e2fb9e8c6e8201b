package notify

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// cancellingOutbox is a fakeOutbox that can also cancel rows (Canceller).
type cancellingOutbox struct{ *fakeOutbox }

func (o cancellingOutbox) MarkCancelled(_ context.Context, id int64, errText string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.row(id)
	r.state, r.lastErr, r.leaseUntil = "cancelled", errText, time.Time{}
	o.calls = append(o.calls, fmt.Sprintf("cancelled %d", id))
	return nil
}

func TestRefusedRecipient(t *testing.T) {
	const own = "Joined-Up.Care-Record@nhs.net"
	tests := []struct{ to, want string }{
		{"resident@example.org", ""},
		{"", "null-return-path"},
		{"<>", "null-return-path"},
		{"MAILER-DAEMON@mx.example.org", "mailer-daemon"},
		{"postmaster@example.org", "mailer-daemon"},
		{"no-reply@example.org", "no-reply"},
		{"DoNotReply@example.org", "no-reply"},
		{"residents-bounces@lists.example.org", "list-sender"},
		{"owner-residents@lists.example.org", "list-sender"},
		{"residents-request@lists.example.org", "list-sender"},
		{"residents-admin@lists.example.org", "list-sender"},
		{"joined-up.care-record@nhs.net", ReasonOwnAddress},
		{" JOINED-UP.CARE-RECORD@NHS.NET ", ReasonOwnAddress},
	}
	for _, tt := range tests {
		if got := RefusedRecipient(tt.to, own); got != tt.want {
			t.Errorf("RefusedRecipient(%q) = %q, want %q", tt.to, got, tt.want)
		}
	}
}

// TestWorkerRefusesMachines: the outbox is the last gate. A reply to a
// machine or to our own address is not sent; it is cancelled (no triage
// item) when the Outbox can cancel, failed otherwise; the other replies go.
func TestWorkerRefusesMachines(t *testing.T) {
	machines := []string{"MAILER-DAEMON@mx.example.org", "no-reply@example.org", "residents-bounces@lists.example.org", "team@nhs.net", ""}
	for _, cancel := range []bool{true, false} {
		t.Run(fmt.Sprintf("canceller=%v", cancel), func(t *testing.T) {
			clk := &clock{t: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)}
			var items []Item
			for i, to := range machines {
				it := item(int64(i + 1))
				it.To = []string{to}
				items = append(items, it)
			}
			items = append(items, item(int64(len(machines)+1))) // a resident
			fake := newFakeOutbox(clk.now, items...)
			var ob Outbox = fake
			if cancel {
				ob = cancellingOutbox{fake}
			}
			m := &scriptMailer{}
			w := NewWorker(ob, m, WorkerConfig{Now: clk.now}, nil)
			sent, err := w.RunOnce(t.Context())
			if err != nil {
				t.Fatalf("RunOnce: %v", err)
			}
			if sent != 1 || m.sends != 1 {
				t.Errorf("sent %d (%d sends), want only the resident's reply", sent, m.sends)
			}
			want := "failed"
			if cancel {
				want = "cancelled"
			}
			for _, r := range fake.rows[:len(machines)] {
				if r.state != want {
					t.Errorf("row %d to a machine is %s, want %s", r.item.ID, r.state, want)
				}
				if !strings.HasPrefix(r.lastErr, "not sent: the recipient is a machine (") {
					t.Errorf("row %d error = %q", r.item.ID, r.lastErr)
				}
				if strings.Contains(r.lastErr, "@") {
					t.Errorf("row %d error %q quotes an address", r.item.ID, r.lastErr)
				}
			}
			if r := fake.rows[len(machines)]; r.state != "sent" {
				t.Errorf("the resident's reply is %s, want sent", r.state)
			}
		})
	}
}
