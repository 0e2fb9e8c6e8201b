package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// batchOutbox is a fakeOutbox that marks sent rows in batches.
type batchOutbox struct {
	*fakeOutbox
	markErr error
}

func (o *batchOutbox) MarkSentBatch(_ context.Context, ids []int64) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.markErr != nil {
		return 0, o.markErr
	}
	var s []string
	n := 0
	for _, id := range ids {
		r := o.row(id)
		if r.state != "sent" {
			n++
		}
		r.state, r.sentID, r.leaseUntil = "sent", r.item.MessageID, time.Time{}
		s = append(s, fmt.Sprint(id))
	}
	o.calls = append(o.calls, "sent-batch "+strings.Join(s, " "))
	return n, nil
}

// slowMailer moves the clock on each send.
type slowMailer struct {
	scriptMailer
	clk  *clock
	step time.Duration
}

func (m *slowMailer) Send(ctx context.Context, from string, to []string, raw []byte) error {
	m.clk.add(m.step)
	return m.scriptMailer.Send(ctx, from, to, raw)
}

func TestWorkerMarksSentInBatches(t *testing.T) {
	tests := []struct {
		name      string
		items     int
		batch     int
		step      time.Duration // clock movement per send
		errs      []error
		wantCalls string
		wantSent  int
	}{
		{"one mark per claimed batch", 5, 2, 0, nil, "sent-batch 1 2, sent-batch 3 4, sent-batch 5", 5},
		{"failures are marked at once, sends at the batch end", 3, 20, 0, []error{nil, temp421, perm550}, "retry 2, failed 3, sent-batch 1", 1},
		{"mark delay bounds the wait", 4, 20, 600 * time.Millisecond, nil, "sent-batch 1 2 3, sent-batch 4", 4},
		{"setup error still marks what was sent", 3, 20, 0, []error{nil, setupErr}, "retry 2, sent-batch 1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)}
			var items []Item
			for i := 1; i <= tt.items; i++ {
				items = append(items, item(int64(i)))
			}
			ob := &batchOutbox{fakeOutbox: newFakeOutbox(clk.now, items...)}
			m := &slowMailer{scriptMailer: scriptMailer{errs: tt.errs}, clk: clk, step: tt.step}
			cp := &copier{}
			w := NewWorker(ob, m, WorkerConfig{Batch: tt.batch, Now: clk.now, Jitter: func() float64 { return 0 },
				MarkDelay: time.Second, Sent: cp}, nil)
			sent, err := w.RunOnce(t.Context())
			if err != nil {
				t.Fatalf("RunOnce: %v", err)
			}
			if got := ob.callLog(); got != tt.wantCalls {
				t.Errorf("outbox calls = %q, want %q", got, tt.wantCalls)
			}
			cp.mu.Lock()
			copies := cp.n
			cp.mu.Unlock()
			if sent != tt.wantSent || copies != tt.wantSent {
				t.Errorf("sent %d and copied %d to the sent folder, want %d", sent, copies, tt.wantSent)
			}
		})
	}
}

// A failed batch mark leaves the rows to be sent again after their lease
// (at least once, never zero times), and RunOnce reports it.
func TestWorkerBatchMarkFailure(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)}
	ob := &batchOutbox{fakeOutbox: newFakeOutbox(clk.now, item(1), item(2)), markErr: errors.New("database down")}
	m := &scriptMailer{}
	w := NewWorker(ob, m, WorkerConfig{Now: clk.now, Lease: time.Minute}, nil)
	if _, err := w.RunOnce(t.Context()); err == nil || !strings.Contains(err.Error(), "sent again") {
		t.Fatalf("RunOnce = %v, want the mark failure", err)
	}
	ob.markErr = nil
	clk.add(2 * time.Minute)
	if _, err := w.RunOnce(t.Context()); err != nil {
		t.Fatalf("RunOnce after the lease: %v", err)
	}
	if m.sends != 4 {
		t.Errorf("sends = %d, want 4 (both rows sent again after the lease)", m.sends)
	}
	if got := ob.callLog(); got != "sent-batch 1 2" {
		t.Errorf("outbox calls = %q", got)
	}
}

// A context ending in the middle of a batch still marks what was sent.
func TestWorkerBatchMarkOnStop(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)}
	ob := &batchOutbox{fakeOutbox: newFakeOutbox(clk.now, item(1), item(2), item(3))}
	ctx, cancel := context.WithCancel(t.Context())
	m := &cancelAfter{n: 2, cancel: cancel}
	w := NewWorker(ob, m, WorkerConfig{Now: clk.now}, nil)
	if _, err := w.RunOnce(ctx); err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if got := ob.callLog(); got != "sent-batch 1 2" {
		t.Errorf("outbox calls = %q, want the two sent rows marked", got)
	}
}

type cancelAfter struct {
	n      int
	cancel func()
}

func (m *cancelAfter) Send(context.Context, string, []string, []byte) error {
	m.n--
	if m.n == 0 {
		m.cancel()
	}
	return nil
}
