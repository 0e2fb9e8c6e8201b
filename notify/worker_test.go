package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/internal/smtptest"
	"github.com/ncl-icb/optout-intake/vocab"
)

// fakeOutbox is an in-memory Outbox with the contract the store must keep.
type fakeOutbox struct {
	mu       sync.Mutex
	now      func() time.Time
	rows     []*fakeRow
	calls    []string // "sent 1", "retry 1", "failed 1"
	claimErr error
}

type fakeRow struct {
	item       Item
	state      string // queued, sent, failed
	due        time.Time
	leaseUntil time.Time
	lastErr    string
	sentID     string
}

func newFakeOutbox(now func() time.Time, items ...Item) *fakeOutbox {
	ob := &fakeOutbox{now: now}
	for _, it := range items {
		ob.rows = append(ob.rows, &fakeRow{item: it, state: "queued"})
	}
	return ob
}

func (o *fakeOutbox) Claim(_ context.Context, n int, lease time.Duration) ([]Item, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.claimErr != nil {
		return nil, o.claimErr
	}
	now := o.now()
	var out []Item
	for _, r := range o.rows {
		if len(out) == n {
			break
		}
		if r.state == "queued" && !r.due.After(now) && !r.leaseUntil.After(now) {
			r.leaseUntil = now.Add(lease)
			out = append(out, r.item)
		}
	}
	return out, nil
}

func (o *fakeOutbox) row(id int64) *fakeRow {
	for _, r := range o.rows {
		if r.item.ID == id {
			return r
		}
	}
	panic(fmt.Sprintf("no row %d", id))
}

func (o *fakeOutbox) MarkSent(_ context.Context, id int64, messageID string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.row(id)
	r.state, r.sentID, r.leaseUntil = "sent", messageID, time.Time{}
	o.calls = append(o.calls, fmt.Sprintf("sent %d", id))
	return nil
}

func (o *fakeOutbox) MarkRetry(_ context.Context, id int64, next time.Time, errText string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.row(id)
	r.due, r.lastErr, r.leaseUntil = next, errText, time.Time{}
	r.item.Attempts++
	o.calls = append(o.calls, fmt.Sprintf("retry %d", id))
	return nil
}

func (o *fakeOutbox) MarkFailed(_ context.Context, id int64, errText string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.row(id)
	r.state, r.lastErr, r.leaseUntil = "failed", errText, time.Time{}
	o.calls = append(o.calls, fmt.Sprintf("failed %d", id))
	return nil
}

func (o *fakeOutbox) callLog() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.calls, ", ")
}

// scriptMailer returns the scripted errors in order, then nil.
type scriptMailer struct {
	mu    sync.Mutex
	errs  []error
	sends int
}

func (m *scriptMailer) Send(context.Context, string, []string, []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sends++
	if len(m.errs) == 0 {
		return nil
	}
	err := m.errs[0]
	m.errs = m.errs[1:]
	return err
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func item(id int64) Item {
	return Item{ID: id, Ref: fmt.Sprintf("NCL-%d", id), Kind: vocab.KindReceipt, From: "team@nhs.net",
		To: []string{"resident@example.org"}, Raw: []byte("Subject: x\r\n\r\nbody\r\n"), MessageID: fmt.Sprintf("m%d@nhs.net", id)}
}

var (
	temp421  = &SendError{Step: "data", Code: 421, temp: true, err: errors.New("try later")}
	perm550  = &SendError{Step: "rcpt", Code: 550, err: errors.New("no such user")}
	setupErr = &SendError{Step: "auth", Code: 535, Setup: true, temp: true, err: errors.New("bad credentials")}
)

func TestWorker(t *testing.T) {
	tests := []struct {
		name      string
		items     int
		errs      []error
		passes    int // RunOnce calls, the clock moving 2 hours between them
		maxTries  int
		wantCalls string
		wantSends int
	}{
		{"sent once", 2, nil, 2, 0, "sent 1, sent 2", 2},
		{"421 then sent", 1, []error{temp421}, 2, 0, "retry 1, sent 1", 2},
		{"550 fails", 2, []error{perm550}, 2, 0, "failed 1, sent 2", 2},
		{"unknown error retries", 1, []error{errors.New("boom")}, 2, 0, "retry 1, sent 1", 2},
		{"gives up after max attempts", 1, []error{temp421, temp421, temp421}, 4, 3, "retry 1, retry 1, failed 1", 3},
		{"setup error stops the pass", 3, []error{setupErr}, 1, 0, "retry 1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)}
			var items []Item
			for i := 1; i <= tt.items; i++ {
				items = append(items, item(int64(i)))
			}
			ob := newFakeOutbox(clk.now, items...)
			m := &scriptMailer{errs: tt.errs}
			w := NewWorker(ob, m, WorkerConfig{Now: clk.now, Jitter: func() float64 { return 0.5 }, MaxAttempts: tt.maxTries}, nil)
			for range tt.passes {
				if _, err := w.RunOnce(t.Context()); err != nil {
					t.Fatalf("RunOnce: %v", err)
				}
				clk.add(2 * time.Hour)
			}
			if got := ob.callLog(); got != tt.wantCalls {
				t.Errorf("outbox calls = %q, want %q", got, tt.wantCalls)
			}
			if m.sends != tt.wantSends {
				t.Errorf("sends = %d, want %d", m.sends, tt.wantSends)
			}
			for _, r := range ob.rows {
				if r.state == "sent" && r.sentID != r.item.MessageID {
					t.Errorf("row %d marked sent with id %q, want %q", r.item.ID, r.sentID, r.item.MessageID)
				}
				if strings.Contains(r.lastErr, "resident@") {
					t.Errorf("row %d error text %q contains the address", r.item.ID, r.lastErr)
				}
			}
		})
	}
}

func TestWorkerRetryTimes(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)}
	ob := newFakeOutbox(clk.now, item(1))
	m := &scriptMailer{errs: []error{temp421, temp421}}
	w := NewWorker(ob, m, WorkerConfig{Now: clk.now, Jitter: func() float64 { return 0 }}, nil)
	if _, err := w.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := ob.rows[0].due.Sub(clk.now()), 15*time.Second; got != want {
		t.Errorf("first retry after %v, want %v", got, want)
	}
	// Not due yet: nothing happens.
	if _, err := w.RunOnce(t.Context()); err != nil || m.sends != 1 {
		t.Fatalf("RunOnce before the row is due sent %d times (err %v), want 1", m.sends, err)
	}
	clk.add(15 * time.Second)
	if _, err := w.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := ob.rows[0].due.Sub(clk.now()), 30*time.Second; got != want {
		t.Errorf("second retry after %v, want %v", got, want)
	}
}

func TestWorkerClaimError(t *testing.T) {
	ob := newFakeOutbox(time.Now)
	ob.claimErr = errors.New("database down")
	w := NewWorker(ob, &scriptMailer{}, WorkerConfig{}, nil)
	if _, err := w.RunOnce(t.Context()); err == nil || !strings.Contains(err.Error(), "claim") {
		t.Errorf("RunOnce with a failing Claim = %v, want a claim error", err)
	}
}

type panicMailer struct{}

func (panicMailer) Send(context.Context, string, []string, []byte) error { panic("bug") }

func TestWorkerRecoversPanic(t *testing.T) {
	ob := newFakeOutbox(time.Now, item(1))
	w := NewWorker(ob, panicMailer{}, WorkerConfig{}, nil)
	if _, err := w.RunOnce(t.Context()); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("RunOnce with a panicking mailer = %v, want a panic error", err)
	}
}

type copier struct {
	mu sync.Mutex
	n  int
}

func (c *copier) CopySent(context.Context, []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return errors.New("imap down") // logged, never retried
}

func TestWorkerRunAndWake(t *testing.T) {
	ob := newFakeOutbox(time.Now, item(1))
	cp := &copier{}
	w := NewWorker(ob, &scriptMailer{}, WorkerConfig{Interval: time.Hour, Sent: cp}, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	waitCalls(t, ob, "sent 1")
	ob.mu.Lock()
	ob.rows = append(ob.rows, &fakeRow{item: item(2), state: "queued"})
	ob.mu.Unlock()
	w.Wake()
	waitCalls(t, ob, "sent 1, sent 2")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.n != 2 {
		t.Errorf("CopySent called %d times, want 2", cp.n)
	}
}

func waitCalls(t *testing.T, ob *fakeOutbox, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for ob.callLog() != want {
		if time.Now().After(deadline) {
			t.Fatalf("outbox calls = %q, want %q", ob.callLog(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWorkerWithSMTP runs the worker, the real sender and the SMTP sink
// together: 421 then 250 sends once; 550 marks the row failed.
func TestWorkerWithSMTP(t *testing.T) {
	srv := smtptest.Start(t)
	srv.FailNext(421, 1)
	srv.FailNext(550, 1)
	clk := &clock{t: time.Now()}
	c := newTestComposer(t)
	var items []Item
	for i, to := range []string{"first@example.org", "second@example.org"} {
		raw, id, _, err := c.Compose(Reply{Kind: vocab.KindReceipt, To: to, Data: Data{Ref: fmt.Sprintf("NCL-%d", i+1)}})
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, Item{ID: int64(i + 1), Ref: fmt.Sprintf("NCL-%d", i+1), From: c.Address(), To: []string{to}, Raw: raw, MessageID: id})
	}
	ob := newFakeOutbox(clk.now, items...)
	s := newTestSender(t, SenderConfig{Addr: srv.Addr(), TLS: TLSNone})
	w := NewWorker(ob, s, WorkerConfig{Now: clk.now}, nil)
	// Pass 1: row 1 gets 421 (retry), row 2 gets 550 (failed).
	if _, err := w.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Minute)
	// Pass 2: row 1 is due again and is accepted.
	if n, err := w.RunOnce(t.Context()); err != nil || n != 1 {
		t.Fatalf("second pass sent %d (err %v), want 1", n, err)
	}
	if got, want := ob.callLog(), "retry 1, failed 2, sent 1"; got != want {
		t.Errorf("outbox calls = %q, want %q", got, want)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].To[0] != "first@example.org" {
		t.Fatalf("sink has %d messages, want exactly the first one once", len(msgs))
	}
	if !strings.Contains(string(msgs[0].Raw), items[0].MessageID) {
		t.Error("sent message does not carry the Message-ID queued with it")
	}
	if e := ob.rows[1].lastErr; !strings.Contains(e, "550") || !strings.Contains(e, "permanent") {
		t.Errorf("failed row error text = %q, want the 550 and 'permanent'", e)
	}
}
