package intake

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/mail"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ncl-icb/optout-intake/internal/pgtest"
	"github.com/ncl-icb/optout-intake/internal/smtpsink"
	"github.com/ncl-icb/optout-intake/internal/smtptest"
	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// sendRig is the outbox on real parts without the mailbox: a PostgreSQL
// schema, the SMTP sink over TCP, and notify.Worker over intake.Outbox.
type sendRig struct {
	t    *testing.T
	pool *pgxpool.Pool
	st   *store.Store
	sink *smtptest.Server
	comp *notify.Composer
	log  *slog.Logger
	uid  uint32
}

func newSendRig(t *testing.T) *sendRig {
	t.Helper()
	pool, schema := pgtest.Schema(t, 8)
	ctx := context.Background()
	if err := store.Migrate(ctx, pool, schema); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	keys, err := store.ParseKeys(testDataKey, testIndexKey)
	if err != nil {
		t.Fatal(err)
	}
	comp, err := notify.NewComposer(notify.ComposerConfig{Address: ourAddress, Signer: notify.Signer{Key: signKey}})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() && os.Getenv("INTAKE_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return &sendRig{t: t, pool: pool, st: store.New(pool, store.Options{Schema: schema, Keys: keys}), sink: smtptest.Start(t), comp: comp, log: log}
}

// queue queues n replies of kind, each to its own resident (rN@example.org,
// numbered on from earlier calls), and returns their Message-IDs.
func (r *sendRig) queue(n int, kind vocab.Kind) []string {
	r.t.Helper()
	ctx := context.Background()
	var ids []string
	for range n {
		r.uid++
		addr := fmt.Sprintf("r%d@example.org", r.uid)
		raw, id, _, err := r.comp.Compose(notify.Reply{Kind: kind, To: addr, Data: notify.Data{Ref: "NCL-TEST-0000"}})
		if err != nil {
			r.t.Fatal(err)
		}
		e, _, err := r.st.RecordMessage(ctx, store.IncomingMessage{Mailbox: "setup", UIDValidity: 1, UID: r.uid, ReceivedAt: time.Now()})
		if err != nil {
			r.t.Fatal(err)
		}
		if _, err := r.st.CompleteMessage(ctx, &store.Plan{LedgerID: e.ID, Folder: vocab.FolderProcessed, Action: vocab.ActionInstructions,
			NewConversation: &store.NewConversation{Address: addr}, ConversationState: vocab.StateInstructionsSent,
			Emails: []*store.Email{{Kind: kind, Subject: "s", Body: string(raw), MessageID: id}}}); err != nil {
			r.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// run runs a worker (one SMTP connection) until the test ends.
func (r *sendRig) run(lim store.SendLimits) {
	r.t.Helper()
	sender, err := notify.NewSender(notify.SenderConfig{Addr: r.sink.Addr(), TLS: notify.TLSNone, Timeout: 10 * time.Second}, r.log)
	if err != nil {
		r.t.Fatal(err)
	}
	w := notify.NewWorker(&Outbox{Store: r.st, From: ourAddress, Limits: lim}, sender, notify.WorkerConfig{Interval: time.Second}, r.log)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.Run(ctx) })
	r.t.Cleanup(func() { cancel(); wg.Wait(); sender.Close() })
}

// states counts the outbox rows by state.
func (r *sendRig) states() map[store.OutboxState]int {
	r.t.Helper()
	rows, err := r.st.ListOutbox(context.Background(), store.OutboxFilter{Limit: 1000})
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[store.OutboxState]int{}
	for _, row := range rows {
		out[row.State]++
	}
	return out
}

// triage returns the open triage items.
func (r *sendRig) triage() int {
	r.t.Helper()
	items, err := r.st.ListTriage(context.Background(), store.TriageFilter{})
	if err != nil {
		r.t.Fatal(err)
	}
	return len(items)
}

// once checks that every Message-ID in ids arrived exactly once.
func (r *sendRig) once(ids []string) {
	r.t.Helper()
	seen := map[string]int{}
	for _, m := range r.sink.Messages() {
		seen[messageIDOf(m.Raw)]++
	}
	for _, id := range ids {
		if seen[id] != 1 {
			r.t.Errorf("message %s arrived %d times, want once", id, seen[id])
		}
	}
}

// settle waits up to 10 s for n rows to be marked sent (the sink has a
// message a moment before the worker records it).
func (r *sendRig) settle(n int) {
	r.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); r.states()[store.OutboxSent] < n && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
}

// waitSent waits until n messages arrived, or fails after d.
func (r *sendRig) waitSent(n int, d time.Duration) {
	r.t.Helper()
	if _, err := r.sink.WaitFor(n, d); err != nil {
		r.t.Fatal(err)
	}
}

func TestSendingOutage(t *testing.T) {
	t.Parallel()
	r := newSendRig(t)
	ids := r.queue(60, vocab.KindInstructions)
	r.sink.SetDown(true)
	r.run(store.SendLimits{})
	time.Sleep(20 * time.Second)
	if got := len(r.sink.Messages()); got != 0 {
		t.Fatalf("%d messages sent while the server was down", got)
	}
	st := r.states()
	if st[store.OutboxFailed] != 0 || r.triage() != 0 {
		t.Fatalf("after the outage: %v, %d triage items; want nothing failed", st, r.triage())
	}
	back := time.Now()
	r.sink.SetDown(false)
	r.waitSent(60, 60*time.Second)
	t.Logf("60 replies sent %v after the server came back", time.Since(back).Round(time.Millisecond))
	r.once(ids)
	r.settle(60)
	rows, err := r.st.ListOutbox(context.Background(), store.OutboxFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if row.State != store.OutboxSent || row.Attempts != 1 {
			t.Errorf("row %d: %s after %d attempts; want sent after 1 (refusals about the sender are not attempts)", row.ID, row.State, row.Attempts)
		}
	}
}

func TestSendingRate(t *testing.T) {
	t.Parallel()
	r := newSendRig(t)
	ids := r.queue(60, vocab.KindInstructions)
	r.run(store.SendLimits{Rate: 600})
	msgs, err := r.sink.WaitFor(60, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	spread := msgs[len(msgs)-1].Received.Sub(msgs[0].Received)
	t.Logf("60 replies at 600 a minute took %v", spread.Round(time.Millisecond))
	// A burst of 5, then one every 100 ms: 5.5 s at the least.
	if spread < 4500*time.Millisecond {
		t.Errorf("60 replies left within %v; want at least 4.5 s at 600 a minute", spread)
	}
	// Within any 1 s, at most the burst plus 10, and a little for the
	// time between a claim and the message's arrival.
	for i := range msgs {
		n := 0
		for j := i; j < len(msgs) && msgs[j].Received.Sub(msgs[i].Received) < time.Second; j++ {
			n++
		}
		if n > 18 {
			t.Fatalf("%d messages within one second from message %d; want at most 18 (a burst of 5, then 10 a second)", n, i)
		}
	}
	r.once(ids)
}

// TestSendingRateTwoSenders: the pace holds for the mailbox as a whole.
// Two workers (two replicas) over one database share the bucket, so 60
// replies at 600 a minute still take 4.5 s or more, and the daily budget
// is one budget for both.
func TestSendingRateTwoSenders(t *testing.T) {
	t.Parallel()
	r := newSendRig(t)
	ids := r.queue(60, vocab.KindInstructions)
	r.run(store.SendLimits{Rate: 600, Daily: 50})
	r.run(store.SendLimits{Rate: 600, Daily: 50})
	msgs, err := r.sink.WaitFor(50, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	spread := msgs[49].Received.Sub(msgs[0].Received)
	t.Logf("50 replies at 600 a minute from two senders took %v", spread.Round(time.Millisecond))
	if spread < 4*time.Second {
		t.Errorf("50 replies from two senders left within %v; want at least 4 s at 600 a minute for both together", spread)
	}
	time.Sleep(2 * time.Second)
	r.settle(50)
	if got := len(r.sink.Messages()); got != 50 {
		t.Errorf("%d sent by two senders with a daily limit of 50, want 50", got)
	}
	seen := map[string]bool{}
	for _, m := range r.sink.Messages() {
		id := messageIDOf(m.Raw)
		if seen[id] || !slices.Contains(ids, id) {
			t.Errorf("message %s sent twice or not queued", id)
		}
		seen[id] = true
	}
	if st := r.states(); st[store.OutboxSent] != 50 || st[store.OutboxPending] != 10 || st[store.OutboxFailed] != 0 {
		t.Errorf("outbox %v; want 50 sent, 10 waiting, nothing failed", st)
	}
}

func TestSendingDailyLimit(t *testing.T) {
	t.Parallel()
	r := newSendRig(t)
	// Acknowledgements queued first, then instructions: when the budget is
	// short the instructions go first.
	acks := r.queue(5, vocab.KindReceipt)
	ids := r.queue(10, vocab.KindInstructions)
	r.run(store.SendLimits{Daily: 10})
	r.waitSent(10, 30*time.Second)
	time.Sleep(3 * time.Second)
	r.settle(10)
	if got := len(r.sink.Messages()); got != 10 {
		t.Fatalf("%d sent, want 10 (the daily limit)", got)
	}
	r.once(ids)
	st := r.states()
	if st[store.OutboxSent] != 10 || st[store.OutboxPending] != 5 || st[store.OutboxFailed] != 0 || r.triage() != 0 {
		t.Errorf("outbox %v with %d triage items; want 10 sent, 5 pending, nothing failed", st, r.triage())
	}
	for _, m := range r.sink.Messages() {
		for _, a := range acks {
			if messageIDOf(m.Raw) == a {
				t.Errorf("acknowledgement %s sent before the instructions", a)
			}
		}
	}
	status, err := r.st.SendingStatus(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if !status.Paused || status.Reason != vocab.PauseDailyLimit || status.Sent24h != 10 || status.Until.Before(time.Now().Add(23*time.Hour)) {
		t.Errorf("status %+v; want paused for the daily limit for about 24 hours", status)
	}
	if w := status.Words(time.UTC); w != "Sending paused until "+status.Until.UTC().Format("15:04")+": daily limit of 10 reached" {
		t.Errorf("words %q", w)
	}
}

// TestSendingDailyLimitWindowFrees: when sends leave the rolling 24-hour
// window, the replies that waited for the budget go, as many as the window
// has room for, and nothing fails.
func TestSendingDailyLimitWindowFrees(t *testing.T) {
	t.Parallel()
	r := newSendRig(t)
	ids := r.queue(15, vocab.KindInstructions)
	r.run(store.SendLimits{Daily: 10})
	r.waitSent(10, 30*time.Second)
	r.settle(10)
	// Three of the ten were sent a day ago: the window has room for three.
	if _, err := r.pool.Exec(context.Background(), `update outbox set sent_at = now() - interval '25 hours'
		where id in (select id from outbox where state = 'sent' order by id limit 3)`); err != nil {
		t.Fatal(err)
	}
	r.waitSent(13, 60*time.Second)
	time.Sleep(3 * time.Second)
	r.settle(13)
	if got := len(r.sink.Messages()); got != 13 {
		t.Errorf("%d sent, want 13 (10, then 3 as the window freed)", got)
	}
	r.once(ids[:13])
	if st := r.states(); st[store.OutboxSent] != 13 || st[store.OutboxPending] != 2 || st[store.OutboxFailed] != 0 || r.triage() != 0 {
		t.Errorf("outbox %v with %d triage items; want 13 sent, 2 waiting, nothing failed", st, r.triage())
	}
}

func TestSendingQuotaRefusal(t *testing.T) {
	t.Parallel()
	r := newSendRig(t)
	r.queue(10, vocab.KindInstructions)
	r.sink.Refuse(smtpsink.Refusal{Step: "data", Code: 554, Enhanced: "5.2.0", Text: "STOREDRV.Submission.Exception:SubmissionQuotaExceededException"})
	r.run(store.SendLimits{})
	time.Sleep(20 * time.Second)
	if n := r.sink.Rejected() + len(r.sink.Messages()); n > 3 || n == 0 {
		t.Errorf("%d submissions in 20 s; want 1 to 3", n)
	}
	st := r.states()
	if st[store.OutboxFailed] != 0 || r.triage() != 0 || st[store.OutboxPending] != 10 {
		t.Errorf("outbox %v with %d triage items; want all 10 waiting, nothing failed", st, r.triage())
	}
	status, err := r.st.SendingStatus(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !status.Paused || status.Reason != vocab.PauseQuota || status.Until.Before(time.Now().Add(50*time.Minute)) {
		t.Errorf("status %+v; want paused for the quota for about an hour", status)
	}
}

func TestSendingThrottled(t *testing.T) {
	t.Parallel()
	r := newSendRig(t)
	ids := r.queue(20, vocab.KindInstructions)
	r.sink.Refuse(smtpsink.Refusal{Step: "data", Code: 421, Enhanced: "4.4.2", Text: "Message submission rate for this client has exceeded the configured limit"})
	r.run(store.SendLimits{})
	time.Sleep(8 * time.Second)
	end := time.Now()
	r.sink.ClearRefusal()
	r.waitSent(20, 60*time.Second)
	t.Logf("20 replies sent %v after the throttling ended", time.Since(end).Round(time.Millisecond))
	r.once(ids)
	r.settle(20)
	if st := r.states(); st[store.OutboxSent] != 20 || r.triage() != 0 {
		t.Errorf("outbox %v with %d triage items; want all sent", st, r.triage())
	}
}

func TestSendingUnknownRecipient(t *testing.T) {
	t.Parallel()
	r := newSendRig(t)
	ids := r.queue(5, vocab.KindInstructions)
	r.sink.RefuseRecipient("r3@example.org", smtpsink.Refusal{Code: 550, Enhanced: "5.1.1", Text: "RESOLVER.ADR.RecipNotFound; not found"})
	r.run(store.SendLimits{})
	r.waitSent(4, 30*time.Second)
	time.Sleep(time.Second)
	r.once(append(ids[:2:2], ids[3:]...))
	r.settle(4)
	st := r.states()
	if st[store.OutboxSent] != 4 || st[store.OutboxFailed] != 1 || r.triage() != 1 {
		t.Errorf("outbox %v with %d triage items; want 4 sent, 1 failed with its triage item", st, r.triage())
	}
	status, err := r.st.SendingStatus(context.Background(), 0)
	if err != nil || status.Paused {
		t.Errorf("status %+v, %v; want not paused", status, err)
	}
}

// messageIDOf returns the Message-ID of a raw message, without brackets.
func messageIDOf(raw []byte) string {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	return strings.Trim(m.Header.Get("Message-Id"), "<> ")
}
