package notify

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// releasingOutbox is a fakeOutbox that is also a Releaser.
type releasingOutbox struct {
	*fakeOutbox
	mu       sync.Mutex
	released []int64
	renewed  int
}

func (o *releasingOutbox) Release(_ context.Context, ids []int64, submitted bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.released = append(o.released, ids...)
	o.fakeOutbox.mu.Lock()
	defer o.fakeOutbox.mu.Unlock()
	for _, id := range ids {
		o.fakeOutbox.row(id).leaseUntil = time.Time{}
	}
	return nil
}

func (o *releasingOutbox) Renew(context.Context, []int64, time.Duration) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.renewed++
	return nil
}

// TestStoppedPassReleasesRows: when a pass stops on a setup failure, the
// rows it claimed and did not try are released at once, not left to their
// lease.
func TestStoppedPassReleasesRows(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)}
	ob := &releasingOutbox{fakeOutbox: newFakeOutbox(clk.now, item(1), item(2), item(3))}
	m := &scriptMailer{errs: []error{&SendError{Step: "auth", Code: 535, Setup: true, temp: true, err: errors.New("bad credentials")}}}
	w := NewWorker(ob, m, WorkerConfig{Now: clk.now, Jitter: func() float64 { return 0 }}, nil)
	if _, err := w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m.sends != 1 {
		t.Errorf("%d sends, want 1 (the pass stops)", m.sends)
	}
	if !slices.Equal(ob.released, []int64{2, 3}) {
		t.Errorf("released %v, want the two rows not tried", ob.released)
	}
	// They are due again at once: the next pass sends them.
	if n, err := w.RunOnce(context.Background()); err != nil || n != 2 {
		t.Errorf("next pass sent %d, %v; want the 2 released rows", n, err)
	}
}

// TestHeldRowsAreRenewed: while a worker holds a claim, it renews the
// lease every Lease/4.
func TestHeldRowsAreRenewed(t *testing.T) {
	ob := &releasingOutbox{fakeOutbox: newFakeOutbox(time.Now, item(1))}
	m := sleepMailer(300 * time.Millisecond)
	w := NewWorker(ob, m, WorkerConfig{Lease: 100 * time.Millisecond}, nil)
	if _, err := w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	ob.mu.Lock()
	defer ob.mu.Unlock()
	if ob.renewed < 3 {
		t.Errorf("renewed %d times during a 300 ms send with a 100 ms lease; want at least 3", ob.renewed)
	}
}

// sleepMailer takes d over each send.
type sleepMailer time.Duration

func (d sleepMailer) Send(context.Context, string, []string, []byte) error {
	time.Sleep(time.Duration(d))
	return nil
}
