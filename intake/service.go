package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/mailbox"
	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
)

// Defaults for Config.
const (
	DefaultPollSchedule  = "* * * * *"  // every minute
	DefaultPurgeSchedule = "17 3 * * *" // 03:17 every day
	DefaultIdleWait      = 25 * time.Minute
)

// Deps are the parts a Service joins. Store, Session, Extractor, Composer
// and Mailer are required.
type Deps struct {
	// Store is the register. Its pool should have at least Poller.Workers
	// + 2 per outbox worker + 2 connections (store.Options.MaxConns; pgx's
	// default is 4 on a small machine): one holds the mailbox lock for a
	// whole poll, each sender holds one for its SMTP connection slot
	// (store.AcquireSMTPSlot) and marks its sends on another, and one more
	// lets a poll proceed. The daemon sizes its pool so (cmd/optoutd).
	Store     *store.Store
	Session   *mailbox.Session // over Config.Mailbox
	Extractor *extract.Extractor
	Composer  *notify.Composer
	// Signer checks tokens in residents' replies: the Composer's signer.
	Signer notify.Signer
	// Mailer sends the outbox (a *notify.Sender).
	Mailer notify.Mailer
	// Mailers, when set, send the outbox instead of Mailer, one worker
	// each, for example several *notify.Sender with one SMTP connection
	// apiece; claims never overlap (FOR UPDATE SKIP LOCKED).
	Mailers []notify.Mailer
	// SentCopier optionally appends a copy of each sent reply to a folder.
	SentCopier notify.SentCopier
	Logger     *slog.Logger // default: discard
	// Metrics receives the pipeline's events (default: NopMetrics); when
	// it also implements notify.Observer and Config.Worker.Observer is
	// nil, the outbox workers report to it as well.
	Metrics Metrics
	Now     func() time.Time // default: time.Now
}

// Config is the pipeline's configuration. The zero value, with
// Mailbox.Inbox and folders from the mailbox's defaults, is usable.
type Config struct {
	Processor ProcessorConfig
	Poller    PollerConfig
	Worker    notify.WorkerConfig
	// Send paces and budgets sending for the mailbox as a whole
	// (OPTOUT_SMTP_RATE, OPTOUT_SMTP_DAILY_LIMIT); zero for none.
	Send store.SendLimits
	// PollSchedule is a standard 5-field cron spec (OPTOUT_POLL_SCHEDULE).
	PollSchedule string
	// PurgeSchedule is the retention purge's cron spec (OPTOUT_PURGE_SCHEDULE);
	// Retention is how long raw messages are kept (default 90 days).
	PurgeSchedule string
	Retention     time.Duration
	// IdleWait is the longest one IMAP IDLE lasts before it is renewed
	// (servers drop IDLE after 30 minutes). Default DefaultIdleWait;
	// negative disables IDLE (the schedule alone polls).
	IdleWait time.Duration
}

// Service runs the pipeline: the poller on a cron schedule and on IMAP
// IDLE, the outbox worker, and the retention purge.
type Service struct {
	deps    Deps
	cfg     Config
	proc    *Processor
	poller  *Poller
	workers []*notify.Worker
	outbox  *Outbox
	log     *slog.Logger
	poll    cron.Schedule
	purge   cron.Schedule

	mu          sync.Mutex
	lastPollOK  time.Time
	lastPollErr error
	lastPurge   time.Time

	failAt func(step string) error // crash-injection hook, set only by tests (export_test.go); also the processor's and the poller's
}

// New checks the parts and the configuration and returns a Service.
func New(d Deps, cfg Config) (*Service, error) {
	if d.Store == nil || d.Session == nil || d.Extractor == nil || d.Composer == nil || d.Mailer == nil && len(d.Mailers) == 0 {
		return nil, errors.New("intake: the service needs a store, a mailbox session, an extractor, a composer and a mailer")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Metrics == nil {
		d.Metrics = NopMetrics{}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if cfg.PollSchedule == "" {
		cfg.PollSchedule = DefaultPollSchedule
	}
	if cfg.PurgeSchedule == "" {
		cfg.PurgeSchedule = DefaultPurgeSchedule
	}
	if cfg.Retention <= 0 {
		cfg.Retention = store.DefaultRetention
	}
	if cfg.IdleWait == 0 {
		cfg.IdleWait = DefaultIdleWait
	}
	poll, err := cron.ParseStandard(cfg.PollSchedule)
	if err != nil {
		return nil, fmt.Errorf("intake: poll schedule (OPTOUT_POLL_SCHEDULE) %q: %w", cfg.PollSchedule, err)
	}
	purge, err := cron.ParseStandard(cfg.PurgeSchedule)
	if err != nil {
		return nil, fmt.Errorf("intake: purge schedule (OPTOUT_PURGE_SCHEDULE) %q: %w", cfg.PurgeSchedule, err)
	}
	proc, err := NewProcessor(d.Store, d.Extractor, d.Composer, d.Signer, cfg.Processor, d.Logger, d.Metrics, d.Now)
	if err != nil {
		return nil, err
	}
	s := &Service{deps: d, cfg: cfg, proc: proc, log: d.Logger, poll: poll, purge: purge}
	s.poller = NewPoller(proc, d.Store, d.Session, cfg.Poller, d.Logger, d.Metrics)
	s.outbox = &Outbox{Store: d.Store, From: d.Composer.Address(), Metrics: d.Metrics, Limits: cfg.Send}
	wcfg := cfg.Worker
	if wcfg.Sent == nil {
		wcfg.Sent = d.SentCopier
	}
	if o, ok := d.Metrics.(notify.Observer); ok && wcfg.Observer == nil {
		// The metrics package's Metrics counts the outbox's sends too.
		wcfg.Observer = o
	}
	mailers := d.Mailers
	if len(mailers) == 0 {
		mailers = []notify.Mailer{d.Mailer}
	}
	for _, m := range mailers {
		s.workers = append(s.workers, notify.NewWorker(s.outbox, m, wcfg, d.Logger))
	}
	proc.queued = s.Wake
	return s, nil
}

// Poller returns the poller.
func (s *Service) Poller() *Poller { return s.poller }

// Wake asks every outbox worker to look for due rows now, without
// blocking: call it after queueing an email outside the pipeline (a staff
// decision on the triage page), so it goes at once rather than at the
// workers' next look (notify.DefaultInterval).
func (s *Service) Wake() { s.wake() }

// wake asks every outbox worker to look for due rows now.
func (s *Service) wake() {
	for _, w := range s.workers {
		w.Wake()
	}
}

// SendOnce runs one pass of every outbox worker, concurrently, and returns
// how many messages were sent.
func (s *Service) SendOnce(ctx context.Context) (int, error) {
	var mu sync.Mutex
	var total int
	var errs []error
	var wg sync.WaitGroup
	for _, w := range s.workers {
		wg.Go(func() {
			n, err := w.RunOnce(ctx)
			mu.Lock()
			defer mu.Unlock()
			total += n
			errs = append(errs, err)
		})
	}
	wg.Wait()
	return total, errors.Join(errs...)
}

// RunOutbox runs every outbox worker until ctx ends (Run does this; the
// benchmark and tools may run it alone).
func (s *Service) RunOutbox(ctx context.Context) {
	var wg sync.WaitGroup
	for i, w := range s.workers {
		wg.Go(func() {
			defer s.log.Debug("outbox worker stopped", slog.Int("worker", i))
			s.guard(notify.PartOutbox, func() { _ = w.Run(ctx) })
		})
	}
	wg.Wait()
}

// Health is the pipeline's state for /readyz and metrics.
type Health struct {
	LastPollOK  time.Time // zero before the first successful poll
	LastPollErr error     // nil when the last poll succeeded
	LastPurge   time.Time
}

// Health returns the pipeline's state.
func (s *Service) Health() Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Health{LastPollOK: s.lastPollOK, LastPollErr: s.lastPollErr, LastPurge: s.lastPurge}
}

// Ready reports whether the last poll succeeded within maxAge; the error
// says why not, without personal data.
func (s *Service) Ready(maxAge time.Duration) error {
	h := s.Health()
	switch {
	case h.LastPollErr != nil:
		return fmt.Errorf("last mailbox poll failed: %w", h.LastPollErr)
	case h.LastPollOK.IsZero():
		return errors.New("no mailbox poll has succeeded yet")
	case s.deps.Now().Sub(h.LastPollOK) > maxAge:
		return fmt.Errorf("last successful mailbox poll was %s ago", s.deps.Now().Sub(h.LastPollOK).Round(time.Second))
	}
	return nil
}

// PollOnce runs one poll and records its health.
func (s *Service) PollOnce(ctx context.Context) (PollResult, error) {
	res, err := s.poller.Poll(ctx)
	s.mu.Lock()
	if err == nil {
		s.lastPollOK, s.lastPollErr = s.deps.Now(), nil
	} else if ctx.Err() == nil {
		s.lastPollErr = err
	}
	s.mu.Unlock()
	if err == nil && res.Processed > 0 {
		s.Wake()
	}
	if err == nil && !res.Skipped {
		s.readQuota(ctx)
	}
	return res, err
}

// QuotaMetrics is a Metrics that records the mailbox's storage quota;
// *metrics.Metrics is one.
type QuotaMetrics interface {
	MailboxQuota(used, limit int64)
}

// readQuota reads the mailbox's storage quota (where the server offers
// QUOTA) into the metrics, after a poll. A failure is logged, never the
// poll's.
func (s *Service) readQuota(ctx context.Context) {
	qm, ok := s.deps.Metrics.(QuotaMetrics)
	if !ok {
		return
	}
	err := s.deps.Session.Do(ctx, func(c *mailbox.Client) error {
		q, ok, err := c.Quota(ctx)
		if ok {
			qm.MailboxQuota(q.Used, q.Limit)
		}
		return err
	})
	if err != nil && ctx.Err() == nil {
		s.log.Debug("mailbox quota not read", slog.String("error", safeError(err)))
	}
}

// Once runs one poll and one outbox pass (`optoutd once`). Both run even if
// the poll fails; the errors are joined.
func (s *Service) Once(ctx context.Context) (PollResult, error) {
	res, perr := s.PollOnce(ctx)
	if errors.Is(perr, errCrash) {
		return res, perr
	}
	_, werr := s.SendOnce(ctx)
	if werr == nil && s.failAt != nil {
		if err := s.failAt(stepAfterSend); err != nil {
			werr = fmt.Errorf("%w: %w", errStep{stepAfterSend}, err)
		}
	}
	return res, errors.Join(perr, werr)
}

// Purge deletes raw messages and attachments past the retention period.
func (s *Service) Purge(ctx context.Context) (store.PurgeResult, error) {
	r, err := s.deps.Store.Purge(ctx, s.deps.Now().Add(-s.cfg.Retention), store.System)
	err = dbErr(s.deps.Metrics, err)
	if err == nil {
		s.mu.Lock()
		s.lastPurge = s.deps.Now()
		s.mu.Unlock()
		s.log.Info("purge done", slog.Int64("messages", r.Messages), slog.Int64("attachments", r.Attachments))
	}
	return r, err
}

// Run runs the service until ctx ends: polls on the schedule and whenever
// IDLE announces mail, the outbox worker, and the purge. On ctx's end the
// message in hand is finished and moved, the reply being sent is sent, and
// Run returns nil.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { s.RunOutbox(ctx) })
	wg.Go(func() { s.guard(PartPurge, func() { s.purgeLoop(ctx) }) })
	s.guard(PartPoller, func() { s.pollLoop(ctx) })
	wg.Wait()
	return nil
}

// guard runs fn and logs a panic instead of crashing the daemon. name is
// PartPoller, notify.PartOutbox or PartPurge.
func (s *Service) guard(name string, fn func()) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error(name+" crashed", slog.String("panic", fmt.Sprintf("%T", v)))
			s.deps.Metrics.Failed(name + "_panic")
			s.deps.Metrics.Panic(name)
		}
	}()
	fn()
}

// pollLoop polls, then waits for IDLE news or the next scheduled time.
func (s *Service) pollLoop(ctx context.Context) {
	for ctx.Err() == nil {
		if _, err := s.PollOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("poll failed; will try again", slog.String("error", safeError(err)))
		}
		s.wait(ctx, s.poll.Next(s.deps.Now()))
	}
}

// wait returns at next, when IDLE reports new mail, or when ctx ends.
func (s *Service) wait(ctx context.Context, next time.Time) {
	wctx, cancel := context.WithDeadline(ctx, next)
	defer cancel()
	if s.cfg.IdleWait > 0 {
		err := s.deps.Session.Do(wctx, func(c *mailbox.Client) error {
			_, err := c.WaitForChange(wctx, s.cfg.IdleWait)
			return err
		})
		if err == nil || wctx.Err() != nil {
			return // new mail, or time to poll
		}
		s.log.Debug("idle failed; waiting for the schedule", slog.String("error", safeError(err)))
	}
	<-wctx.Done()
}

// purgeLoop runs the purge on its schedule.
func (s *Service) purgeLoop(ctx context.Context) {
	for {
		t := time.NewTimer(time.Until(s.purge.Next(s.deps.Now())))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if _, err := s.Purge(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("purge failed", slog.String("error", safeError(err)))
		}
	}
}
