package notify

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// recorder is an Observer that counts the events it receives.
type recorder struct {
	mu     sync.Mutex
	counts map[string]int
}

func (r *recorder) add(k string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts = map[string]int{}
	}
	r.counts[k]++
}

func (r *recorder) OutboxSent()    { r.add("sent") }
func (r *recorder) OutboxRetried() { r.add("retried") }
func (r *recorder) OutboxFailed()  { r.add("failed") }
func (r *recorder) SMTPError(temporary bool) {
	if temporary {
		r.add("smtp_temporary")
	} else {
		r.add("smtp_permanent")
	}
}
func (r *recorder) Panic(part string) { r.add("panic_" + part) }

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprint(r.counts)
}

func TestWorkerObserver(t *testing.T) {
	tests := []struct {
		name     string
		items    int
		errs     []error
		passes   int
		maxTries int
		want     map[string]int
	}{
		{"sent", 2, nil, 1, 0, map[string]int{"sent": 2}},
		{"421 then sent", 1, []error{temp421}, 2, 0, map[string]int{"smtp_temporary": 1, "retried": 1, "sent": 1}},
		{"550 fails", 2, []error{perm550}, 1, 0, map[string]int{"smtp_permanent": 1, "failed": 1, "sent": 1}},
		{"gives up after max attempts", 1, []error{temp421, temp421}, 2, 2,
			map[string]int{"smtp_temporary": 2, "retried": 1, "failed": 1}},
		{"setup error", 3, []error{setupErr}, 1, 0, map[string]int{"smtp_temporary": 1, "retried": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)}
			var items []Item
			for i := 1; i <= tt.items; i++ {
				items = append(items, item(int64(i)))
			}
			ob := newFakeOutbox(clk.now, items...)
			rec := &recorder{}
			w := NewWorker(ob, &scriptMailer{errs: tt.errs}, WorkerConfig{Now: clk.now, Jitter: func() float64 { return 0 },
				MaxAttempts: tt.maxTries, Observer: rec}, nil)
			for range tt.passes {
				if _, err := w.RunOnce(t.Context()); err != nil {
					t.Fatalf("RunOnce: %v", err)
				}
				clk.add(2 * time.Hour)
			}
			if got, want := rec.String(), fmt.Sprint(tt.want); got != want {
				t.Errorf("observer saw %s, want %s (outbox calls %q)", got, want, ob.callLog())
			}
		})
	}
}

func TestWorkerObserverPanic(t *testing.T) {
	rec := &recorder{}
	w := NewWorker(newFakeOutbox(time.Now, item(1)), panicMailer{}, WorkerConfig{Observer: rec}, nil)
	if _, err := w.RunOnce(t.Context()); err == nil {
		t.Fatal("RunOnce with a panicking mailer = nil, want an error")
	}
	if got, want := rec.String(), fmt.Sprint(map[string]int{"panic_outbox": 1}); got != want {
		t.Errorf("observer saw %s, want %s", got, want)
	}
}
