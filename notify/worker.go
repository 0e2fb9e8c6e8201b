package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ncl-icb/optout-intake/extract/message"
	"github.com/ncl-icb/optout-intake/internal/retry"
	"github.com/ncl-icb/optout-intake/vocab"
)

// Item is one queued message, as claimed from the outbox.
type Item struct {
	ID        int64      // outbox row id
	Ref       string     // conversation reference, for logs
	Kind      vocab.Kind // reply kind, for logs
	From      string     // envelope sender: the mailbox's own address
	To        []string   // envelope recipients
	Raw       []byte     // the message exactly as composed at enqueue time
	MessageID string     // its Message-ID, without angle brackets
	Attempts  int        // send attempts already made before this claim
	// Probe is true for the one message a Pacer lets through when a pause
	// has ended: its outcome resumes sending or pauses it again.
	Probe bool
}

// Outbox is the worker's view of the queue of messages to send; intake's
// adapter (intake.Outbox) implements it over the store's outbox table. Rows
// are composed and inserted elsewhere (see Composer.Compose); the worker
// only claims, sends and marks them.
type Outbox interface {
	// Claim leases up to n rows that are due (not sent, not failed, next
	// attempt time reached, no live lease) for lease, so that no other
	// worker claims them meanwhile (SELECT ... FOR UPDATE SKIP LOCKED). A
	// row whose lease runs out without a Mark call is due again: a crash
	// between sending and MarkSent sends it twice, never zero times.
	Claim(ctx context.Context, n int, lease time.Duration) ([]Item, error)
	// MarkSent records that the row was accepted by the SMTP server.
	MarkSent(ctx context.Context, id int64, messageID string) error
	// MarkRetry records a temporary failure (errText has no personal data)
	// and makes the row due again at next, the time the worker's retry
	// policy computed (stored as it is); it counts one more attempt.
	MarkRetry(ctx context.Context, id int64, next time.Time, errText string) error
	// MarkFailed records a permanent failure (errText has no personal
	// data); the store raises a triage item for staff.
	MarkFailed(ctx context.Context, id int64, errText string) error
}

// SentBatchMarker is an Outbox that can record several rows as sent in one
// transaction; intake's adapter implements it. A Worker whose Outbox
// implements it sends the rows of a claim one after another over its
// connection and marks them sent together: at the end of each claimed
// batch, before it stops for any reason, and whenever the oldest unmarked
// send is MarkDelay old. That costs one commit per batch instead of one per
// message. The crash window is the same in kind as with MarkSent, only
// wider: a row sent but not yet marked is still "sending" under its lease,
// and once the lease ends it is sent again with the identical bytes and
// Message-ID (mail clients show one message per Message-ID).
type SentBatchMarker interface {
	// MarkSentBatch records the rows as sent and returns how many it
	// marked (a row already marked elsewhere is not counted).
	MarkSentBatch(ctx context.Context, ids []int64) (marked int, err error)
}

// Releaser is an Outbox that can give claimed rows back and keep them
// claimed while they are being sent; intake's adapter implements it. With
// it, a Worker renews its claims every Lease/4 while it holds them (so a
// short Lease is safe: a sender that dies loses its rows within Lease) and
// releases the rows it claimed and did not send when a pass stops, at
// once and with their attempt taken back.
type Releaser interface {
	// Release makes the rows due again now, their claim's attempt undone
	// unless submitted (the server refused the message after it was
	// submitted: an attempt counts real submissions).
	Release(ctx context.Context, ids []int64, submitted bool) error
	// Renew extends the lease of rows still claimed.
	Renew(ctx context.Context, ids []int64, lease time.Duration) error
}

// Hold says why a Pacer claimed nothing: sending is paused for Reason
// until Until, or the pace allows the next message at Until (Reason
// empty). The zero Hold means nothing is due.
type Hold struct {
	Until  time.Time
	Reason vocab.PauseReason
}

// Pacer is an Outbox that paces and pauses sending for the mailbox as a
// whole, across processes (intake's adapter does, through the database):
// a Worker whose Outbox is a Pacer claims with ClaimNext as many rows as
// the pace allows (at most Batch), marks each sent as soon as it is
// accepted (so a crash sends at most one message twice), and reads every
// failure with Refusal: a refusal about the sender releases the row and
// the rest of the claim and pauses every sender (Pause) instead of
// failing anything; a probe's other outcomes resume (Resume).
type Pacer interface {
	Releaser
	// ClaimNext claims up to n due rows, as many as the pause, the pace
	// and the daily budget allow, else returns none and the Hold.
	ClaimNext(ctx context.Context, n int, lease time.Duration) ([]Item, Hold, error)
	// Pause stops every sender for delay(n), n counting the refusals
	// about the sender in a row, and returns when sending resumes.
	Pause(ctx context.Context, reason vocab.PauseReason, delay func(n int) time.Duration) (time.Time, error)
	// Resume ends a pause after the server answered about the message
	// itself (accepted it, or refused it for reasons of its own).
	Resume(ctx context.Context) error
}

// Canceller is an Outbox that can end a row without sending it and
// without raising a triage item; the store's adapter implements it. The
// Worker cancels a row whose recipient is a machine (see RefusedRecipient).
// An Outbox without it gets MarkFailed instead.
type Canceller interface {
	// MarkCancelled ends the row unsent (errText has no personal data).
	MarkCancelled(ctx context.Context, id int64, errText string) error
}

// RefusedRecipient is the outbox's last gate: it returns why a reply to
// to must never be sent (a reason code of message.MachineAddress:
// "null-return-path", "mailer-daemon", "list-sender", "no-reply"; or
// "own-address" when to is the mailbox's own address, own), or "" when it
// may be sent.
func RefusedRecipient(to, own string) string {
	if r := message.MachineAddress(to); r != "" {
		return r
	}
	if own != "" && strings.EqualFold(strings.TrimSpace(to), strings.TrimSpace(own)) {
		return ReasonOwnAddress
	}
	return ""
}

// ReasonOwnAddress is RefusedRecipient's code for the mailbox's own address.
const ReasonOwnAddress = "own-address"

// Mailer sends one message; *Sender implements it. A returned error that
// is temporary by retry.Temporary's rule is retried later (an error that
// says nothing counts as temporary), any other fails the row.
type Mailer interface {
	Send(ctx context.Context, from string, to []string, raw []byte) error
}

// SentCopier, when given to a Worker, receives a copy of every message
// sent, e.g. to append to the mailbox's Sent folder. Its failures are
// logged and never retried.
type SentCopier interface {
	CopySent(ctx context.Context, raw []byte) error
}

// Defaults for WorkerConfig.
const (
	DefaultBatch       = 20
	DefaultLease       = 20 * time.Second
	DefaultInterval    = 15 * time.Second
	DefaultBaseBackoff = 30 * time.Second
	DefaultMaxBackoff  = time.Hour
	DefaultMaxAttempts = 50 // about two days at the default cap
	DefaultMarkDelay   = time.Second
	DefaultPauseBase   = time.Second
	DefaultPauseMax    = 30 * time.Second
	DefaultQuotaPause  = time.Hour
)

// WorkerConfig configures a Worker. The zero value uses the defaults.
type WorkerConfig struct {
	Batch       int           // rows claimed at a time
	Lease       time.Duration // how long a claim lasts; longer than a send can take
	Interval    time.Duration // how often Run looks for due rows without a Wake
	BaseBackoff time.Duration // wait after the first temporary failure
	MaxBackoff  time.Duration // longest wait between attempts
	// MaxAttempts is how many temporary failures a row may have before it
	// is marked failed (and so raised to staff).
	MaxAttempts int
	// MarkDelay is the longest a sent message waits to be marked sent when
	// the Outbox marks in batches (SentBatchMarker). Default DefaultMarkDelay.
	MarkDelay time.Duration
	// PauseBase and PauseMax bound the backoff of a pause after an
	// outage or throttling (Pacer only): PauseBase doubled per refusal in
	// a row, at most PauseMax. QuotaPause is the pause after a quota
	// refusal (shorter when the daily window frees sooner).
	PauseBase, PauseMax, QuotaPause time.Duration
	Sent                            SentCopier // optional
	// Observer, when set, receives every send's outcome (metrics).
	Observer Observer
	Now      func() time.Time // default time.Now
	Jitter   func() float64   // uniform in [0,1); default math/rand/v2 (see retry.Policy)
}

func (c *WorkerConfig) defaults() {
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	if c.Lease <= 0 {
		c.Lease = DefaultLease
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = DefaultBaseBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxBackoff < c.BaseBackoff {
		c.MaxBackoff = c.BaseBackoff
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.MarkDelay <= 0 {
		c.MarkDelay = DefaultMarkDelay
	}
	if c.PauseBase <= 0 {
		c.PauseBase = DefaultPauseBase
	}
	if c.PauseMax < c.PauseBase {
		c.PauseMax = max(DefaultPauseMax, c.PauseBase)
	}
	if c.QuotaPause <= 0 {
		c.QuotaPause = DefaultQuotaPause
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Worker drains the outbox: it claims due rows, sends each and marks it
// sent, due again later (temporary failure, at the time the retry policy
// computes: exponential backoff with jitter, see internal/retry) or failed
// (permanent failure, or too many attempts).
type Worker struct {
	ob   Outbox
	m    Mailer
	cfg  WorkerConfig
	log  *slog.Logger
	wake chan struct{}
	// resume is when the last paced pass was told sending may go on (a
	// pause's or the pace's end, Unix nanoseconds; 0 for none), so Run
	// comes back then rather than a whole Interval later.
	resume atomic.Int64
}

// NewWorker returns a Worker sending ob's rows with m.
func NewWorker(ob Outbox, m Mailer, cfg WorkerConfig, log *slog.Logger) *Worker {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{ob: ob, m: m, cfg: cfg, log: log, wake: make(chan struct{}, 1)}
}

// Wake asks a running Run to look for due rows now (call it after
// queueing a message). It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run drains the outbox until ctx ends, then returns nil. It looks for
// due rows every Interval and whenever Wake is called. A message being
// sent when ctx ends is finished (within the sender's timeout) before Run
// returns.
func (w *Worker) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		w.resume.Store(0)
		if _, err := w.RunOnce(ctx); err != nil && ctx.Err() == nil {
			w.log.Error("outbox pass failed", slog.String("error", redactErr(err).Error()))
		}
		var soon <-chan time.Time
		var st *time.Timer
		if r := w.resume.Load(); r != 0 {
			st = time.NewTimer(max(time.Unix(0, r).Sub(w.cfg.Now()), 10*time.Millisecond))
			soon = st.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-soon:
		case <-w.wake:
		}
		if st != nil {
			st.Stop()
		}
	}
}

// RunOnce claims and sends batches until no row is due, the sender reports
// a setup failure (no point trying the next row), or ctx ends. It returns
// how many messages were sent.
func (w *Worker) RunOnce(ctx context.Context) (sent int, err error) {
	defer func() {
		if r := recover(); r != nil {
			w.cfg.Observer.Panic(PartOutbox)
			w.log.Error("outbox pass panicked", slog.String("panic", fmt.Sprintf("%T", r)))
			err = fmt.Errorf("outbox pass panicked (%T): see the log and report a bug", r)
		}
	}()
	marks := &sentMarks{w: w}
	// Every way out records what was sent, even while panicking.
	defer func() {
		if ferr := marks.flush(context.WithoutCancel(ctx)); ferr != nil && err == nil {
			err = ferr
		}
	}()
	if p, ok := w.ob.(Pacer); ok {
		return w.runPaced(ctx, p)
	}
	for ctx.Err() == nil {
		items, err := w.ob.Claim(ctx, w.cfg.Batch, w.cfg.Lease)
		if err != nil {
			return sent, fmt.Errorf("claim outbox rows: %w", err)
		}
		if len(items) == 0 {
			return sent, nil
		}
		held := w.hold(ctx, items)
		for i, it := range items {
			if ctx.Err() != nil {
				// Unsent claimed rows are released at once (or, without a
				// Releaser, become due again when their lease ends).
				held.release(items[i:])
				return sent, nil
			}
			ok, stop, err := w.process(ctx, it, marks)
			if err != nil {
				held.release(items[i+1:])
				return sent, err
			}
			if ok {
				sent++
			}
			if stop {
				w.log.Warn("outbox pass stopped: sending is failing for every message",
					slog.Int("left_in_batch", len(items)-i-1))
				held.release(items[i+1:])
				return sent, nil
			}
			if marks.due() {
				if err := marks.flush(context.WithoutCancel(ctx)); err != nil {
					return sent, err
				}
			}
		}
		held.stop()
		if err := marks.flush(context.WithoutCancel(ctx)); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// runPaced is RunOnce for a Pacer: one row at a time, as the pace, the
// budget and any pause allow. It waits for holds up to Interval and
// returns on a longer one (Run comes back every Interval).
func (w *Worker) runPaced(ctx context.Context, p Pacer) (sent int, err error) {
	for ctx.Err() == nil {
		items, h, err := p.ClaimNext(ctx, w.cfg.Batch, w.cfg.Lease)
		if err != nil {
			return sent, fmt.Errorf("claim outbox rows: %w", err)
		}
		if len(items) == 0 {
			if h.Until.IsZero() {
				return sent, nil
			}
			wait := h.Until.Sub(w.cfg.Now())
			if wait > w.cfg.Interval {
				w.resume.Store(h.Until.UnixNano())
				return sent, nil
			}
			t := time.NewTimer(max(wait, 10*time.Millisecond))
			select {
			case <-ctx.Done():
				t.Stop()
				return sent, nil
			case <-t.C:
			}
			continue
		}
		held := w.hold(ctx, items)
		for i, it := range items {
			if ctx.Err() != nil {
				held.release(items[i:])
				return sent, nil
			}
			ok, paused, err := w.process(ctx, it, nil)
			if err != nil {
				held.release(items[i+1:])
				return sent, err
			}
			if paused {
				// Every sender waits; Run comes back when the pause ends.
				held.release(items[i+1:])
				return sent, nil
			}
			if ok {
				sent++
			}
			if it.Probe {
				// Sent, or refused for this email alone: the server works.
				if err := p.Resume(context.WithoutCancel(ctx)); err != nil {
					held.release(items[i+1:])
					return sent, fmt.Errorf("resume sending: %w", err)
				}
			}
			held.done1(it.ID)
		}
		held.stop()
	}
	return sent, nil
}

// held keeps a claim's rows leased while the Worker holds them, when the
// Outbox is a Releaser.
type held struct {
	w    *Worker
	r    Releaser
	ctx  context.Context
	done chan struct{}
	mu   sync.Mutex
	ids  map[int64]bool
}

// hold starts renewing the lease of items every Lease/4 until stop.
func (w *Worker) hold(ctx context.Context, items []Item) *held {
	r, ok := w.ob.(Releaser)
	h := &held{w: w, r: r, ctx: context.WithoutCancel(ctx), done: make(chan struct{}), ids: map[int64]bool{}}
	if !ok {
		return h
	}
	for _, it := range items {
		h.ids[it.ID] = true
	}
	go func() {
		t := time.NewTicker(max(w.cfg.Lease/4, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-t.C:
				h.mu.Lock()
				ids := make([]int64, 0, len(h.ids))
				for id := range h.ids {
					ids = append(ids, id)
				}
				h.mu.Unlock()
				if err := r.Renew(h.ctx, ids, w.cfg.Lease); err != nil {
					w.log.Warn("outbox lease not renewed", slog.String("error", redactErr(err).Error()))
				}
			}
		}
	}()
	return h
}

// done1 stops renewing the row id (sent, failed or released).
func (h *held) done1(id int64) {
	h.mu.Lock()
	delete(h.ids, id)
	h.mu.Unlock()
}

// stop ends the renewals.
func (h *held) stop() {
	if h.r == nil {
		return
	}
	select {
	case <-h.done:
	default:
		close(h.done)
	}
}

// release stops the renewals and gives items back (claimed, not sent).
func (h *held) release(items []Item) {
	h.stop()
	if h.r == nil || len(items) == 0 {
		return
	}
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	if err := h.r.Release(h.ctx, ids, false); err != nil {
		h.w.log.Warn("claimed outbox rows not released: due again when their lease ends",
			slog.Int("rows", len(ids)), slog.String("error", redactErr(err).Error()))
	}
}

// pause handles a refusal about the sender (Refusal): the row goes back
// unfailed and due (its attempt undone when nothing was submitted: a
// failure to connect, secure, greet or log in), and every sender waits.
func (w *Worker) pause(ctx context.Context, p Pacer, it Item, reason vocab.PauseReason, sendErr error, log *slog.Logger) error {
	var se *SendError
	submitted := !errors.As(sendErr, &se) || !se.Setup
	if err := p.Release(ctx, []int64{it.ID}, submitted); err != nil {
		return fmt.Errorf("release outbox row %d: %w", it.ID, err)
	}
	policy := retry.Policy{Base: w.cfg.PauseBase, Max: w.cfg.PauseMax, Jitter: w.cfg.Jitter}
	delay := func(n int) time.Duration {
		if reason == vocab.PauseQuota {
			return w.cfg.QuotaPause
		}
		return policy.Delay(n)
	}
	until, err := p.Pause(ctx, reason, delay)
	if err != nil {
		return fmt.Errorf("pause sending: %w", err)
	}
	w.resume.Store(until.UnixNano())
	log.Warn("sending paused: the mail server refused the sender, not the message",
		slog.String("reason", string(reason)), slog.String("error", redactErr(sendErr).Error()), slog.Time("until", until))
	return nil
}

// sentMarks holds the messages sent but not yet marked, when the Outbox
// marks in batches.
type sentMarks struct {
	w     *Worker
	items []Item
	since time.Time // when the oldest was sent
}

// add keeps it to mark later and reports true, or reports false when the
// Outbox marks one row at a time.
func (m *sentMarks) add(it Item) bool {
	if m == nil {
		return false // a Pacer marks each message at once
	}
	if _, ok := m.w.ob.(SentBatchMarker); !ok {
		return false
	}
	if len(m.items) == 0 {
		m.since = m.w.cfg.Now()
	}
	m.items = append(m.items, it)
	return true
}

func (m *sentMarks) due() bool {
	return len(m.items) > 0 && m.w.cfg.Now().Sub(m.since) >= m.w.cfg.MarkDelay
}

// flush marks the kept messages sent in one call, then copies them to the
// sent folder. On error they stay "sending" and are sent again after their
// lease.
func (m *sentMarks) flush(ctx context.Context) error {
	if len(m.items) == 0 {
		return nil
	}
	items := m.items
	m.items = nil
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	marked, err := m.w.ob.(SentBatchMarker).MarkSentBatch(ctx, ids)
	if err != nil {
		return fmt.Errorf("mark %d outbox rows sent (they will be sent again after their lease): %w", len(ids), err)
	}
	if marked < len(ids) {
		m.w.log.Warn("some sent outbox rows were already marked", slog.Int("sent", len(ids)), slog.Int("marked", marked))
	}
	for _, it := range items {
		m.w.log.Info("reply sent", slog.Int64("outbox_id", it.ID), slog.String("ref", it.Ref),
			slog.String("kind", string(it.Kind)), slog.Int("attempt", it.Attempts+1))
		m.w.copySent(ctx, it)
	}
	return nil
}

// copySent hands a sent message to the SentCopier, if any.
func (w *Worker) copySent(ctx context.Context, it Item) {
	if w.cfg.Sent == nil {
		return
	}
	if err := w.cfg.Sent.CopySent(ctx, it.Raw); err != nil {
		w.log.Warn("copy to sent folder failed", slog.Int64("outbox_id", it.ID), slog.String("error", err.Error()))
	}
}

// refuse ends a row whose recipient must never get a reply, without
// sending it: cancelled when the Outbox can (no triage item), failed
// otherwise.
func (w *Worker) refuse(ctx context.Context, it Item, reason string, log *slog.Logger) error {
	errText := "not sent: the recipient is a machine (" + reason + ")"
	if c, ok := w.ob.(Canceller); ok {
		if err := c.MarkCancelled(ctx, it.ID, errText); err != nil {
			return fmt.Errorf("mark outbox row %d cancelled: %w", it.ID, err)
		}
	} else if err := w.ob.MarkFailed(ctx, it.ID, errText); err != nil {
		return fmt.Errorf("mark outbox row %d failed: %w", it.ID, err)
	}
	log.Warn("reply not sent: the recipient is a machine", slog.String("reason", reason))
	return nil
}

// process sends one item and marks it (or, with a SentBatchMarker, keeps
// it in marks to be marked with others). stop is true when the failure is
// one every other message would meet too. err is a failure to mark.
func (w *Worker) process(ctx context.Context, it Item, marks *sentMarks) (sent, stop bool, err error) {
	log := w.log.With(slog.Int64("outbox_id", it.ID), slog.String("ref", it.Ref),
		slog.String("kind", string(it.Kind)), slog.Int("attempt", it.Attempts+1))
	// Marks must be recorded even when ctx is ending, or the message is sent twice.
	markCtx := context.WithoutCancel(ctx)
	for _, to := range it.To {
		if reason := RefusedRecipient(to, it.From); reason != "" {
			return false, false, w.refuse(markCtx, it, reason, log)
		}
	}
	sendErr := w.m.Send(context.WithoutCancel(ctx), it.From, it.To, it.Raw)
	if sendErr == nil {
		w.cfg.Observer.OutboxSent()
		if marks.add(it) {
			return true, false, nil
		}
		if err := w.ob.MarkSent(markCtx, it.ID, it.MessageID); err != nil {
			return false, false, fmt.Errorf("mark outbox row %d sent: %w", it.ID, err)
		}
		log.Info("reply sent")
		w.copySent(markCtx, it)
		return true, false, nil
	}
	temporary := retry.Temporary(sendErr)
	w.cfg.Observer.SMTPError(temporary)
	if p, ok := w.ob.(Pacer); ok {
		if reason := Refusal(sendErr); reason != "" {
			return false, true, w.pause(markCtx, p, it, reason, sendErr, log)
		}
	}
	errText := sendErr.Error()
	var se *SendError
	setup := errors.As(sendErr, &se) && se.Setup
	attempt := it.Attempts + 1
	if temporary && attempt < w.cfg.MaxAttempts {
		policy := retry.Policy{Base: w.cfg.BaseBackoff, Max: w.cfg.MaxBackoff, Jitter: w.cfg.Jitter}
		next := policy.Next(w.cfg.Now(), attempt)
		if err := w.ob.MarkRetry(markCtx, it.ID, next, errText); err != nil {
			return false, false, fmt.Errorf("mark outbox row %d for retry: %w", it.ID, err)
		}
		w.cfg.Observer.OutboxRetried()
		level := slog.LevelWarn
		if setup {
			level = slog.LevelError // credentials, token or TLS: someone must look
		}
		log.Log(ctx, level, "reply not sent, will retry", slog.String("error", errText), slog.Time("next", next))
		return false, setup, nil
	}
	if !temporary {
		errText = "permanent failure: " + errText
	} else {
		errText = fmt.Sprintf("gave up after %d attempts: %s", attempt, errText)
	}
	if err := w.ob.MarkFailed(markCtx, it.ID, errText); err != nil {
		return false, false, fmt.Errorf("mark outbox row %d failed: %w", it.ID, err)
	}
	w.cfg.Observer.OutboxFailed()
	log.Error("reply failed", slog.String("error", errText))
	return false, setup, nil
}
