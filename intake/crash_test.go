package intake

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// crashOnce returns a failAt hook that fails the first time step is reached
// with err (errCrash: the process dies there).
func crashOnce(step string, err error) (func(string) error, *atomic.Int32) {
	var hits atomic.Int32
	return func(s string) error {
		if s == step && hits.Add(1) == 1 {
			return err
		}
		return nil
	}, &hits
}

// TestCrashAtEveryStep kills the pipeline (by failure injection) at each
// step of each message of the four-step flow and starts it again: afterwards
// there is exactly one ledger row per message, one register change and one
// of each reply, and the mail is in its folder.
func TestCrashAtEveryStep(t *testing.T) {
	t.Parallel()
	steps := []string{stepAfterLedger, stepAfterExtract, stepAfterCommit, stepAfterSend, stepBeforeMove, stepAfterMove}
	for _, step := range steps {
		for _, kind := range []string{"crash", "failure"} {
			t.Run(step+"/"+kind, func(t *testing.T) {
				t.Parallel()
				injected := errCrash
				if kind == "failure" {
					injected = errors.New("injected failure")
				}
				r := newRig(t)
				run := func(msg []byte) {
					t.Helper()
					r.deliver(msg)
					svc := r.service(nil)
					hook, hits := crashOnce(step, injected)
					svc.setFailAt(hook)
					_, err := svc.Once(context.Background())
					if hits.Load() == 0 {
						t.Fatalf("step %s was never reached", step)
					}
					if kind == "crash" && err == nil && step != stepAfterSend {
						t.Fatalf("Once after a crash at %s returned no error", step)
					}
					// The process starts again (a new service: nothing kept in memory).
					time.Sleep(60 * time.Millisecond) // past the failed row's and the outbox's backoff
					again := r.service(nil)
					once(t, again)
					once(t, again)
				}
				run(contact(residentAddr).bytes())
				sent := r.sent()
				if len(sent) != 1 {
					t.Fatalf("after the contact sent %v, want one instructions", kinds(sent))
				}
				run(replyTo(sent[0], residentAddr, "fillable-filled.pdf").bytes())

				var got []string
				for _, m := range r.sent() {
					got = append(got, m.kind())
				}
				// No receipt: a form accepted at once gets one email, the
				// outcome, which confirms receipt (issue 16 item 5).
				if want := []string{"instructions", "accepted"}; !slices.Equal(got, want) {
					t.Errorf("sent %v, want %v", got, want)
				}
				if n := r.ledgerRows(); n != 2 {
					t.Errorf("ledger rows = %d, want 2", n)
				}
				if n := r.registerChanges(); n != 1 {
					t.Errorf("register changes = %d, want 1", n)
				}
				if n := r.count("Processed"); n != 2 {
					t.Errorf("Processed holds %d, want 2", n)
				}
				if n := r.count("INBOX"); n != 0 {
					t.Errorf("inbox holds %d, want 0", n)
				}
				if tri := r.openTriage(); len(tri) != 0 {
					t.Errorf("open triage %v, want none", tri)
				}
			})
		}
	}
}

// TestDovecotRestartMidPoll restarts the IMAP server while a poll is in the
// middle of a batch: the poll reconnects and carries on, and every message
// is answered once and moved.
func TestDovecotRestartMidPoll(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const n = 30
	var raws [][]byte
	for i := range n {
		raws = append(raws, contact(fmt.Sprintf("resident%d@example.org", i)).bytes())
	}
	r.deliver(raws...)
	svc := r.service(nil)
	var commits atomic.Int32
	var restartErr error
	var once1 sync.Once
	svc.setFailAt(func(step string) error {
		if step == stepAfterCommit && commits.Add(1) == 10 {
			once1.Do(func() { restartErr = r.dv.Restart() })
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := svc.Once(ctx); err != nil {
		t.Fatalf("Once across a Dovecot restart: %v", err)
	}
	if restartErr != nil {
		t.Fatalf("restart dovecot: %v", restartErr)
	}
	once(t, svc)
	if got := len(r.sent()); got != n {
		t.Errorf("sent %d replies, want %d", got, n)
	}
	if got := r.ledgerRows(); got != n {
		t.Errorf("ledger rows = %d, want %d", got, n)
	}
	if got := r.count("Processed"); got != n {
		t.Errorf("Processed holds %d, want %d", got, n)
	}
}

// TestExtractTimeoutGoesToTriage: a message whose reading runs out of time
// is never lost: it goes to staff.
func TestExtractTimeoutGoesToTriage(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(func(c *Config) { c.Processor.ExtractTimeout = time.Nanosecond })
	r.deliver(contact(residentAddr).bytes())
	once(t, svc)
	if n := len(r.sent()); n != 0 {
		t.Errorf("sent %d replies, want 0", n)
	}
	if tri := r.openTriage(); !slices.Equal(tri, []vocab.Reason{vocab.ReasonProcessingFailed}) {
		t.Errorf("open triage %v, want processing_failed", tri)
	}
	if n := r.count("Triage"); n != 1 {
		t.Errorf("Triage holds %d, want 1", n)
	}
}

func TestSMTPTemporaryThenOK(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(nil)
	r.sink.FailNext(421, 1)
	r.deliver(contact(residentAddr).bytes())
	once(t, svc)
	if n := len(r.sent()); n != 0 {
		t.Fatalf("sent %d after a 421, want 0 so far", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(r.sent()) == 0 && time.Now().Before(deadline) {
		time.Sleep(30 * time.Millisecond)
		once(t, svc)
	}
	once(t, svc)
	if n := len(r.sent()); n != 1 {
		t.Errorf("sent %d after 421 then 250, want 1", n)
	}
	if r.sink.Rejected() != 1 {
		t.Errorf("sink rejected %d, want 1", r.sink.Rejected())
	}
	rows, err := r.st.ListOutbox(context.Background(), store.OutboxFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].State != store.OutboxSent || rows[0].Attempts != 2 {
		t.Errorf("outbox = %+v, want one row sent after 2 attempts", rows)
	}
}

func TestSMTPPermanentFailure(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(nil)
	r.sink.FailNext(550, 1)
	r.deliver(contact(residentAddr).bytes())
	once(t, svc)
	time.Sleep(60 * time.Millisecond)
	once(t, svc)
	if n := len(r.sent()); n != 0 {
		t.Errorf("sent %d after a 550, want 0", n)
	}
	rows, err := r.st.ListOutbox(context.Background(), store.OutboxFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].State != store.OutboxFailed {
		t.Errorf("outbox = %+v, want one failed row", rows)
	}
	if tri := r.openTriage(); !slices.Equal(tri, []vocab.Reason{vocab.ReasonSendFailed}) {
		t.Errorf("open triage %v, want send_failed", tri)
	}
}
