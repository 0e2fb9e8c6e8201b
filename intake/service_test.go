package intake

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRunPicksUpMailWithIdleAndStops: with a schedule that never fires
// during the test, IDLE alone brings a new message in; cancelling the
// context stops Run.
func TestRunPicksUpMailWithIdleAndStops(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(func(c *Config) {
		c.PollSchedule = "0 0 1 1 *" // once a year
		c.IdleWait = time.Minute
		c.Worker.Interval = time.Hour // only Wake sends
	})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- svc.Run(ctx) }()
	// Run polls once at start; wait for it, then deliver while it idles.
	deadline := time.Now().Add(20 * time.Second)
	for svc.Health().LastPollOK.IsZero() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := svc.Ready(time.Minute); err != nil {
		t.Fatalf("Ready after the first poll: %v", err)
	}
	time.Sleep(200 * time.Millisecond) // let it enter IDLE
	r.deliver(contact(residentAddr).bytes())
	if _, err := r.sink.WaitFor(1, 20*time.Second); err != nil {
		t.Fatalf("no reply through IDLE: %v", err)
	}
	cancel()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not stop after cancel")
	}
	if got := r.count("Processed"); got != 1 {
		t.Errorf("Processed holds %d, want 1", got)
	}
}

// TestReprocessFailed: a message that keeps failing is kept (failed, in
// the inbox, no reply); after the fix `reprocess --failed` completes it once,
// and the next poll moves it.
func TestReprocessFailed(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	broken := r.service(nil)
	broken.setFailAt(func(step string) error {
		if step == stepAfterExtract {
			return errors.New("reader bug")
		}
		return nil
	})
	r.deliver(contact(residentAddr).bytes())
	res := once(t, broken)
	if res.Failed == 0 || res.Processed != 0 || len(r.sent()) != 0 || r.count("INBOX") != 1 {
		t.Fatalf("poll with a bug = %+v, sent %d, inbox %d: want the message failed, unanswered, kept", res, len(r.sent()), r.count("INBOX"))
	}
	failed, err := r.st.ListFailedMessages(context.Background(), 10)
	if err != nil || len(failed) != 1 || failed[0].LastError == "" {
		t.Fatalf("failed messages = %+v, %v: want one with its error", failed, err)
	}

	fixed := r.service(nil)
	rr, err := fixed.Poller().Reprocess(context.Background(), "")
	if err != nil || rr.Processed != 1 {
		t.Fatalf("Reprocess = %+v, %v, want 1 processed", rr, err)
	}
	rr, err = fixed.Poller().Reprocess(context.Background(), "")
	if err != nil || rr.Processed != 0 {
		t.Fatalf("second Reprocess = %+v, %v, want nothing to do", rr, err)
	}
	once(t, fixed) // its first poll scans the inbox and moves the message
	if k := kinds(r.sent()); k["instructions"] != 1 || len(r.sent()) != 1 {
		t.Errorf("sent %v, want one instructions", k)
	}
	if got := r.count("Processed"); got != 1 {
		t.Errorf("Processed holds %d, want 1", got)
	}
}

// TestSentCopyWhilePollIdles: the Sent copy of a reply goes over its own
// IMAP connection, so it is appended while the poller holds its session in
// IDLE (before, it waited for the IDLE to end: up to IdleWait).
func TestSentCopyWhilePollIdles(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.sentFolder = "Sent"
	svc := r.service(func(c *Config) {
		c.PollSchedule = "0 0 1 1 *" // once a year: after its first poll, Run idles
		c.IdleWait = time.Minute
		c.Worker.Interval = 100 * time.Millisecond
		c.Worker.BaseBackoff, c.Worker.MaxBackoff = 4*time.Second, 4*time.Second
	})
	// A reply queued by a poll before Run starts; its first send is
	// refused, so it goes again 2 to 4 s later, once Run's poll is in IDLE.
	r.deliver(contact(residentAddr).bytes())
	if res, err := svc.PollOnce(t.Context()); err != nil || res.Processed != 1 {
		t.Fatalf("PollOnce = %+v, %v; want one message processed", res, err)
	}
	queuedAt := svc.Health().LastPollOK
	r.sink.FailNext(421, 1)

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- svc.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
			t.Error("Run did not stop after cancel")
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !svc.Health().LastPollOK.After(queuedAt) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	idleSince := svc.Health().LastPollOK
	if !idleSince.After(queuedAt) {
		t.Fatal("Run's first poll did not finish")
	}
	if _, err := r.sink.WaitFor(1, 20*time.Second); err != nil {
		t.Fatalf("reply not sent: %v", err)
	}
	for r.count("Sent") == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := r.count("Sent"); got != 1 {
		t.Fatalf("Sent holds %d copies while the poller idles, want 1", got)
	}
	if r.sink.Rejected() != 1 {
		t.Errorf("sink refused %d sends, want the first one", r.sink.Rejected())
	}
	if last := svc.Health().LastPollOK; !last.Equal(idleSince) {
		t.Errorf("a poll ran at %v after the first at %v: the copy was not made during IDLE", last, idleSince)
	}
}
