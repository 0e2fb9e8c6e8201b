package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ncl-icb/optout-intake/enquiry"
	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/mailbox"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// Held-back mail: a mailbox that has been worked by hand for years holds old
// mail on the day the service starts. The daemon never answers a message
// that HoldRule holds: it records it in the ledger as done with a held
// action (vocab.HeldActions, under vocab.FolderInbox), leaves it in the inbox, counts it
// (Metrics.Held) and lists it for `optoutd backlog`; staff may process it
// deliberately with `optoutd backlog --since DATE --apply` (ApplyBacklog).
// The rule rests on what the server keeps (INTERNALDATE and flags), not on
// our database, so a UIDVALIDITY change, a restored database or a mailbox
// migration that makes old mail look new still holds it.

// DefaultMaxAge is HoldRule.MaxAge's default (OPTOUT_MAX_AGE): long enough
// to ride out a bank-holiday outage, short enough that go-live leaves
// settled mail alone.
const DefaultMaxAge = 7 * 24 * time.Hour

// HoldRule says which mail the daemon never answers on its own.
type HoldRule struct {
	// MaxAge: a message that arrived (INTERNALDATE) longer ago than this is
	// held. Zero means DefaultMaxAge.
	MaxAge time.Duration
	// StartAfter: a message that arrived before it is held. Zero: none.
	StartAfter time.Time
}

// Reason returns the vocab.HeldActions value that holds m back at now, or "" when
// the daemon may process it. \Answered comes first, then the start, then
// the age. A message without an arrival time is held as old: when in
// doubt, do not write to a resident.
func (r HoldRule) Reason(m mailbox.Msg, now time.Time) vocab.Action {
	maxAge := r.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	switch {
	case m.Answered:
		return vocab.ActionHeldAnswered
	case m.InternalDate.IsZero():
		return vocab.ActionHeldOld
	case !r.StartAfter.IsZero() && m.InternalDate.Before(r.StartAfter):
		return vocab.ActionHeldBeforeStart
	case now.Sub(m.InternalDate) > maxAge:
		return vocab.ActionHeldOld
	}
	return ""
}

// hold records m as held back for reason. held is false when m must go
// through Process instead: its ledger row is already in the pipeline (a
// failed message being retried is finished, not held). A message already
// done keeps its outcome (and is moved as before, unless it was held).
func (p *Processor) hold(ctx context.Context, m mailbox.Msg, reason vocab.Action) (out Outcome, held bool, err error) {
	entry, created, err := p.st.RecordMessage(ctx, store.IncomingMessage{
		Mailbox: m.Mailbox, UIDValidity: m.UIDValidity, UID: uint32(m.UID), MessageID: m.MessageID,
		ReceivedAt: m.InternalDate, Size: m.Size, // no copy of the message or its header: it stays in the mailbox
	})
	if err := p.db(err); err != nil {
		return Outcome{}, true, fmt.Errorf("hold uid %d: %w", m.UID, err)
	}
	out = Outcome{LedgerID: entry.ID}
	switch {
	case entry.State == store.LedgerDone:
		o, err := p.done(ctx, out)
		return o, true, err
	case !created && (entry.State != store.LedgerNew || entry.Attempts > 0):
		return Outcome{}, false, nil
	}
	kind := string(extract.KindUnreadable)
	if !m.TooLarge {
		kind = p.heldKind(ctx, m)
	}
	err = p.db(p.st.HoldMessage(ctx, entry.ID, reason, kind))
	if errors.Is(err, store.ErrAlreadyDone) {
		o, err := p.done(ctx, out)
		return o, true, err
	}
	if err != nil {
		return Outcome{}, true, fmt.Errorf("hold ledger row %d: %w", entry.ID, err)
	}
	p.metrics.Held(reason)
	action := store.LedgerAction(vocab.FolderInbox, reason)
	p.log.Info("message held back: left in the inbox, not answered", slog.String("mailbox", m.Mailbox),
		slog.Uint64("uid", uint64(m.UID)), slog.Int64("ledger_id", entry.ID), slog.String("action", action))
	out.Action = action
	return out, true, nil
}

// heldKind says what a held message looks like, for `optoutd backlog`: its
// extract.Kind, except that an email without forms or photos whose words
// the enquiry reader does not take for a plain opt-out request (a
// question, a complaint, any request that needs a person) is
// HeldKindQuestion, as the pipeline would read it.
func (p *Processor) heldKind(ctx context.Context, m mailbox.Msg) string {
	r := p.extract(ctx, m.Raw)
	if r.res.Kind != extract.KindContact || len(r.res.Forms) > 0 || countPhotos(r.msg) > 0 {
		return string(r.res.Kind)
	}
	h, _ := readHeader(m.Raw)
	if !enquiry.Read(h.Subject, r.msg.Body).Plain {
		return HeldKindQuestion
	}
	return string(r.res.Kind)
}

// HeldKindQuestion is the ledger kind of a held message that asks
// something a person must answer (enquiry.Read finds it not Plain): the
// backlog counts these apart from plain first contacts.
const HeldKindQuestion = "question"

// Preview is what a poll would do with one message, found without doing
// it (the dry run). It holds codes only, never personal data.
type Preview struct {
	UID     mailbox.UID
	Arrived time.Time
	// Action is one of vocab.Actions (possibly with the
	// vocab.ActionRateLimited suffix), or vocab.PreviewDone (already done
	// before: it would only be moved to Folder) or vocab.PreviewRetry (a
	// failed message waiting for its retry).
	Action  vocab.Action
	Folder  vocab.Folder // where it would go; vocab.FolderInbox when it stays
	Kind    string       // what it looks like (extract.Kind); "" when not read
	Replies []string     // the reply kinds it would queue (vocab.Kind)
	Reasons []string     // the triage reasons it would raise (vocab.Reason)
}

// preview finds what Process (or hold) would do with m, with read-only
// store lookups: nothing is recorded, no reference code is drawn, nothing
// is composed. rule is applied when hold is set; when it is not, held mail
// is planned as ApplyBacklog would release it.
func (p *Processor) preview(ctx context.Context, m mailbox.Msg, rule HoldRule, hold bool) (Preview, error) {
	pv := Preview{UID: m.UID, Arrived: m.InternalDate, Folder: vocab.FolderInbox}
	e, err := p.st.LookupMessage(ctx, m.Mailbox, m.UIDValidity, uint32(m.UID), m.MessageID)
	switch {
	case err == nil && store.IsHeld(e.Action):
		if hold { // held before: stays held
			pv.Action, _ = store.HeldAction(e.Action)
			pv.Kind = e.Kind
			return pv, nil
		}
		// Released by ApplyBacklog: planned like fresh mail below.
	case err == nil && e.State == store.LedgerDone:
		pv.Action, pv.Kind, pv.Folder = vocab.PreviewDone, e.Kind, store.FolderOf(e.Action)
		if pv.Folder == "" {
			pv.Folder = vocab.FolderProcessed
		}
		return pv, nil
	case err == nil && (e.State != store.LedgerNew || e.Attempts > 0):
		pv.Action = vocab.PreviewRetry
		return pv, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return pv, err
	}
	if hold {
		if r := rule.Reason(m, p.now()); r != "" {
			pv.Action = r
			return pv, nil
		}
	}
	h, _ := readHeader(m.Raw)
	d, err := p.decide(ctx, m, h)
	if err != nil {
		return pv, err
	}
	pv.Action, pv.Folder, pv.Kind = d.plan.Action, d.plan.Folder, string(d.res.Kind)
	for _, e := range d.plan.Emails {
		pv.Replies = append(pv.Replies, string(e.Kind))
	}
	for _, s := range d.plan.Submissions {
		if s.Accepted != nil { // or its Duplicate: one of the two is sent
			pv.Replies = append(pv.Replies, string(s.Accepted.Kind))
		}
	}
	for _, t := range d.plan.Triage {
		pv.Reasons = append(pv.Reasons, string(t.Reason))
	}
	return pv, nil
}

// DryRun reads the inbox as a poll would (the new messages after the stored
// last UID, then the periodic scan of the last ScanDays days, the way the
// first poll of `optoutd once` does) and calls fn with what each message
// would come to. It writes nothing: not to the database (read-only
// lookups; no transaction, so no sequence is drawn), not to the mailbox
// (BODY.PEEK; no folders created, nothing moved). Failed messages waiting
// for a retry from the ledger are not listed unless they are in the inbox.
func (pl *Poller) DryRun(ctx context.Context, fn func(Preview) error) error {
	var cur mailbox.Cursor
	pos, err := pl.st.MailboxState(ctx, pl.cfg.Mailbox.Inbox)
	switch {
	case err == nil:
		cur = mailbox.Cursor{UIDValidity: pos.UIDValidity, LastUID: mailbox.UID(pos.LastUID)}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	return pl.sess.Do(ctx, func(c *mailbox.Client) error {
		seen := map[mailbox.UID]bool{}
		each := func(m mailbox.Msg) error {
			if seen[m.UID] {
				return nil
			}
			seen[m.UID] = true
			pv, err := pl.proc.preview(ctx, m, pl.cfg.Hold, true)
			if err != nil {
				return fmt.Errorf("preview uid %d: %w", m.UID, err)
			}
			return fn(pv)
		}
		if _, err := c.FetchNew(ctx, cur, each); err != nil {
			return err
		}
		if pl.cfg.ScanEvery < 0 {
			return nil
		}
		_, err := c.ScanSince(ctx, pl.now().AddDate(0, 0, -pl.cfg.ScanDays), each)
		return err
	})
}

// backlogCandidate reports whether ApplyBacklog takes m: it arrived at or
// after since, nobody answered it by hand, and it is held (its ledger row
// says so, or it has none yet and the rule holds it).
func (pl *Poller) backlogCandidate(ctx context.Context, m mailbox.Msg, since time.Time) (bool, error) {
	if m.InternalDate.Before(since) || m.Answered {
		return false, nil
	}
	e, err := pl.st.LookupMessage(ctx, m.Mailbox, m.UIDValidity, uint32(m.UID), m.MessageID)
	switch {
	case err == nil:
		return e.State == store.LedgerDone && store.IsHeld(e.Action), nil
	case errors.Is(err, store.ErrNotFound):
		return pl.cfg.Hold.Reason(m, pl.now()) != "", nil
	}
	return false, err
}

// PreviewBacklog calls fn with what ApplyBacklog(since) would do with each
// held message, writing nothing (for the confirmation's count).
func (pl *Poller) PreviewBacklog(ctx context.Context, since time.Time, fn func(Preview) error) error {
	return pl.sess.Do(ctx, func(c *mailbox.Client) error {
		_, err := c.ScanSince(ctx, since, func(m mailbox.Msg) error {
			ok, err := pl.backlogCandidate(ctx, m, since)
			if err != nil || !ok {
				return err
			}
			pv, err := pl.proc.preview(ctx, m, pl.cfg.Hold, false)
			if err != nil {
				return fmt.Errorf("preview uid %d: %w", m.UID, err)
			}
			return fn(pv)
		})
		return err
	})
}

// ApplyBacklog processes, deliberately, the held messages of the inbox that
// arrived at or after since (mail someone answered by hand excepted):
// each is released (store.ReleaseHeld) and run through the same pipeline
// as new mail, then moved to its folder; the replies go to the outbox for
// its normal sending. It holds the mailbox's lock, like a poll.
func (pl *Poller) ApplyBacklog(ctx context.Context, since time.Time) (PollResult, error) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	var res PollResult
	unlock, ok, err := pl.st.TryLockMailbox(ctx, pl.cfg.Mailbox.Inbox)
	if err := dbErr(pl.metrics, err); err != nil {
		return res, err
	}
	defer unlock()
	if !ok {
		return PollResult{Skipped: true}, errors.New("another poller holds the mailbox: try again in a minute")
	}
	work := context.WithoutCancel(ctx)
	moves := &moveSet{}
	err = pl.sess.Do(ctx, func(c *mailbox.Client) error {
		if err := c.EnsureFolders(work); err != nil {
			return err
		}
		b := pl.startBatch(ctx, work, moves, &res)
		b.release = true
		_, serr := c.ScanSince(work, since, func(m mailbox.Msg) error {
			ok, err := pl.backlogCandidate(work, m, since)
			if err != nil || !ok {
				return err
			}
			return b.handle(m)
		})
		uv := uint32(0)
		if _, err := b.wait(); err != nil || serr != nil {
			return errors.Join(serr, err)
		}
		if st, err := c.Select(work, pl.cfg.Mailbox.Inbox); err == nil {
			uv = st.UIDValidity
		} else {
			return err
		}
		return pl.move(work, c, uv, moves, &res)
	})
	return res, err
}

// release puts m's held ledger row back in the pipeline with m's raw copy
// and header h (ApplyBacklog); a message without a row is recorded by
// Process.
func (p *Processor) release(ctx context.Context, m mailbox.Msg, h store.MessageHeader) error {
	e, err := p.st.LookupMessage(ctx, m.Mailbox, m.UIDValidity, uint32(m.UID), m.MessageID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return p.db(err)
	case !store.IsHeld(e.Action):
		return nil
	}
	if err := p.db(p.st.ReleaseHeld(ctx, e.ID, m.Raw, h, store.System)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}
