package intake

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ncl-icb/optout-intake/extract/message"
	"github.com/ncl-icb/optout-intake/mailbox"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// Defaults for PollerConfig.
const (
	DefaultScanEvery      = 15 * time.Minute
	DefaultScanDays       = 3
	DefaultRetryBatch     = 20
	DefaultMessageTimeout = 5 * time.Minute
	DefaultWorkers        = 8
)

// PollerConfig configures a Poller.
type PollerConfig struct {
	// Mailbox is the IMAP configuration the Session uses: the poller reads
	// its Inbox, Folders and MaxMessageBytes (defaults as in mailbox).
	Mailbox mailbox.Config
	// ScanEvery is how often a poll also scans the whole inbox since
	// ScanDays days ago, catching what a UID jump or a person marking mail
	// read would hide, and moving messages whose move failed. The first
	// poll always scans. Default DefaultScanEvery; negative disables.
	ScanEvery time.Duration
	ScanDays  int
	// RetryBatch is how many failed messages one poll retries (from the
	// raw copy kept in the ledger). Default DefaultRetryBatch.
	RetryBatch int
	// MessageTimeout bounds processing one message. A shutdown lets the
	// messages in hand finish within it. Default DefaultMessageTimeout.
	MessageTimeout time.Duration
	// Workers process fetched messages concurrently, each committing its
	// own; the database pool needs Workers + 2 connections. Default
	// DefaultWorkers.
	Workers int
	// Hold is the rule for mail the daemon never answers on its own (old,
	// from before the start, answered by hand): see HoldRule.
	Hold HoldRule
}

func (c *PollerConfig) defaults() {
	mb := c.Mailbox.WithDefaults() // the folder names, as the mailbox defaults them
	if mb.MaxMessageBytes <= 0 {
		mb.MaxMessageBytes = mailbox.DefaultMaxMessageBytes
	}
	c.Mailbox = mb
	if c.ScanEvery == 0 {
		c.ScanEvery = DefaultScanEvery
	}
	if c.ScanDays <= 0 {
		c.ScanDays = DefaultScanDays
	}
	if c.RetryBatch <= 0 {
		c.RetryBatch = DefaultRetryBatch
	}
	if c.MessageTimeout <= 0 {
		c.MessageTimeout = DefaultMessageTimeout
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
}

// Poller walks the inbox: it takes the mailbox's advisory lock, fetches new
// messages in batches, processes each (one commit per message), moves them
// in batches per folder after the commits, and only then advances the
// stored last UID. It also retries failed messages and scans the inbox
// periodically. One Poll runs at a time per Poller; the advisory lock keeps
// other replicas out.
type Poller struct {
	proc    *Processor
	st      *store.Store
	sess    *mailbox.Session
	cfg     PollerConfig
	log     *slog.Logger
	metrics Metrics
	now     func() time.Time

	mu       sync.Mutex // one Poll at a time
	lastScan time.Time
	folders  bool // folders ensured on this run

	// failAt is the crash-injection hook (see Processor.failAt), called
	// before and after the moves; set only by tests.
	failAt func(step string) error
}

// NewPoller returns a Poller that processes with proc and talks IMAP through
// sess. log and m may be nil.
func NewPoller(proc *Processor, st *store.Store, sess *mailbox.Session, cfg PollerConfig, log *slog.Logger, m Metrics) *Poller {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = NopMetrics{}
	}
	return &Poller{proc: proc, st: st, sess: sess, cfg: cfg, log: log.With(slog.String("mailbox", cfg.Mailbox.Inbox)), metrics: m, now: proc.now}
}

// PollResult says what one Poll did.
type PollResult struct {
	Skipped         bool // another poller holds the mailbox's lock: nothing was done
	Fetched         int  // messages handed to the processor (new, retried and scanned)
	Processed       int  // messages completed by this poll
	AlreadyDone     int  // messages seen again that were done before
	Failed          int  // messages that failed (kept for a retry)
	Moved           int  // messages moved to their folder
	Held            int  // messages held back this time: left in the inbox, not answered
	ValidityChanged bool // the inbox's UIDVALIDITY changed: it was read again from the start
	Scanned         bool // the periodic scan ran
}

// errStopping ends a fetch when the context ends between two messages.
var errStopping = errors.New("poll stopped: shutting down")

// folderName maps a Folder to the configured mailbox name.
func (pl *Poller) folderName(f vocab.Folder) string {
	switch f {
	case vocab.FolderTriage:
		return pl.cfg.Mailbox.Folders.Triage
	case vocab.FolderAuto:
		return pl.cfg.Mailbox.Folders.Auto
	}
	return pl.cfg.Mailbox.Folders.Processed
}

// Poll runs one poll. When ctx ends, the message in hand is finished and
// moved, and Poll returns ctx's error.
func (pl *Poller) Poll(ctx context.Context) (res PollResult, err error) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	start := pl.now()
	defer func() {
		pl.metrics.Polled(res.Fetched, pl.now().Sub(start), err)
		if err != nil {
			pl.metrics.Failed(StepPoll)
		}
	}()
	inbox := pl.cfg.Mailbox.Inbox
	unlock, ok, err := pl.st.TryLockMailbox(ctx, inbox)
	if err := dbErr(pl.metrics, err); err != nil {
		return res, err
	}
	defer unlock()
	if !ok {
		pl.log.Debug("another poller holds the mailbox: skipped")
		return PollResult{Skipped: true}, nil
	}
	var cur mailbox.Cursor
	pos, err := pl.st.MailboxState(ctx, inbox)
	err = dbErr(pl.metrics, err)
	switch {
	case err == nil:
		cur = mailbox.Cursor{UIDValidity: pos.UIDValidity, LastUID: mailbox.UID(pos.LastUID)}
	case !errors.Is(err, store.ErrNotFound):
		return res, err
	}

	// Work that must finish after a shutdown signal (the messages in hand,
	// the moves of what was committed) runs on work, not ctx.
	work := context.WithoutCancel(ctx)
	moves := &moveSet{}
	err = pl.sess.Do(ctx, func(c *mailbox.Client) error {
		if !pl.folders {
			if err := c.EnsureFolders(work); err != nil {
				return err
			}
			pl.folders = true
		}
		b := pl.startBatch(ctx, work, moves, &res)
		b.hold = true
		fr, ferr := c.FetchNew(work, cur, b.handle)
		failedUID, berr := b.wait()
		if fr.ValidityChanged {
			res.ValidityChanged = true
		}
		if berr != nil {
			ferr = berr
			if fr.Next.UIDValidity == cur.UIDValidity || cur.UIDValidity == 0 {
				// Only what was processed without error counts as read.
				fr.Next.LastUID = max(min(fr.Next.LastUID, failedUID-1), cur.LastUID)
			}
		}
		if fr.Next.UIDValidity != 0 {
			cur = fr.Next
		}
		if errors.Is(ferr, errCrash) {
			return ferr
		}
		if merr := pl.move(work, c, cur.UIDValidity, moves, &res); merr != nil {
			return errors.Join(ferr, merr)
		}
		if ferr != nil {
			return ferr
		}
		if err := dbErr(pl.metrics, pl.st.SetMailboxState(work, inbox, cur.UIDValidity, uint32(cur.LastUID))); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return errStopping
		}
		b = pl.startBatch(ctx, work, moves, &res)
		rerr := pl.retryFailed(work, b)
		if _, err := b.wait(); err != nil || rerr != nil {
			return errors.Join(rerr, err)
		}
		if pl.cfg.ScanEvery > 0 && (pl.lastScan.IsZero() || pl.now().Sub(pl.lastScan) >= pl.cfg.ScanEvery) {
			since := pl.now().AddDate(0, 0, -pl.cfg.ScanDays)
			b = pl.startBatch(ctx, work, moves, &res)
			b.hold = true
			_, serr := c.ScanSince(work, since, b.handle)
			if _, err := b.wait(); err != nil || serr != nil {
				return errors.Join(serr, err)
			}
			pl.lastScan = pl.now()
			res.Scanned = true
		}
		return pl.move(work, c, cur.UIDValidity, moves, &res)
	})
	if errors.Is(err, errStopping) {
		return res, ctx.Err()
	}
	if err != nil {
		pl.log.Warn("poll failed", slog.String("error", safeError(err)))
		return res, err
	}
	if res.Fetched > 0 {
		pl.log.Info("poll done", slog.Int("fetched", res.Fetched), slog.Int("processed", res.Processed),
			slog.Int("failed", res.Failed), slog.Int("moved", res.Moved), slog.Int("held", res.Held))
	}
	return res, nil
}

// moveSet collects the messages to move, per folder, with the UIDVALIDITY
// their UIDs belong to.
type moveSet struct {
	mu    sync.Mutex
	items map[vocab.Folder][]movable
}

type movable struct {
	validity uint32
	uid      mailbox.UID
}

func (ms *moveSet) add(f vocab.Folder, validity uint32, uid mailbox.UID) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.items == nil {
		ms.items = map[vocab.Folder][]movable{}
	}
	ms.items[f] = append(ms.items[f], movable{validity, uid})
}

// take returns the UIDs of folder f under validity, and forgets every
// entry of f (those of another numbering can no longer be moved by UID; a
// later scan finds them by Message-ID).
func (ms *moveSet) take(f vocab.Folder, validity uint32) []mailbox.UID {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	var uids []mailbox.UID
	for _, m := range ms.items[f] {
		if m.validity == validity {
			uids = append(uids, m.uid)
		}
	}
	delete(ms.items, f)
	slices.Sort(uids)
	return slices.Compact(uids)
}

// putBack returns uids to f after a failed move.
func (ms *moveSet) putBack(f vocab.Folder, validity uint32, uids []mailbox.UID) {
	for _, u := range uids {
		ms.add(f, validity, u)
	}
}

// batch processes the messages a fetch hands over on a pool of workers:
// the fetch of the next messages overlaps the processing (and its database
// round trips) of the previous ones, while each message still commits on
// its own.
type batch struct {
	pl    *Poller
	ctx   context.Context // ends: stop taking new messages
	work  context.Context // the messages in hand finish on it
	moves *moveSet
	res   *PollResult
	inbox string
	jobs  []chan job // one queue per worker
	wg    sync.WaitGroup
	// hold applies the Hold rule (mail fetched from the inbox; set before
	// the first handle); release runs held mail (ApplyBacklog).
	hold, release bool

	mu        sync.Mutex
	err       error       // the first error of a message that could not be recorded
	failedUID mailbox.UID // the lowest UID of such a message
}

func (pl *Poller) startBatch(ctx, work context.Context, moves *moveSet, res *PollResult) *batch {
	b := &batch{pl: pl, ctx: ctx, work: work, moves: moves, res: res, inbox: pl.cfg.Mailbox.Inbox}
	for range pl.cfg.Workers {
		jobs := make(chan job, 1)
		b.jobs = append(b.jobs, jobs)
		b.wg.Go(func() { b.worker(jobs) })
	}
	return b
}

// handle is the fetch callback: it hands m to the worker of its sender,
// waiting while that worker is busy. Messages from one address go to one
// worker, in order, so what Decide reads about a sender (replies counted
// for the rate limit, a conversation's no-form count) is never read by two
// messages at once. It returns an error (stopping the fetch) once a message
// could not be recorded or ctx has ended.
func (b *batch) handle(m mailbox.Msg) error {
	hdr, key := readHeader(m.Raw)
	return b.dispatch(job{m, hdr}, key)
}

// dispatch hands j to the worker of the sender key.
func (b *batch) dispatch(j job, key string) error {
	if b.ctx.Err() != nil {
		return errStopping
	}
	b.mu.Lock()
	err := b.err
	b.mu.Unlock()
	if err != nil {
		return err
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	b.jobs[h.Sum32()%uint32(len(b.jobs))] <- j
	return nil
}

// job is one message to process, with the facts of its header read once.
type job struct {
	msg mailbox.Msg
	hdr store.MessageHeader
}

// readHeader reads the header of a fetched message, once: the facts
// recorded with it (store.MessageHeader) and its sender key.
func readHeader(raw []byte) (store.MessageHeader, string) {
	m := message.ParseHeader(raw)
	return store.MessageHeader{From: m.From, MessageID: m.MessageID, InReplyTo: m.InReplyTo, References: m.References,
		Subject: m.Subject, Date: m.Date}, senderKeyOf(m)
}

// senderKeyOf returns the normalised From address of a parsed header (the
// header's From text, lower-cased, when it holds no address), or "" when
// there is none (such messages share one worker).
func senderKeyOf(m *message.Message) string {
	key := store.NormaliseAddress(m.From)
	if key == "" {
		key = strings.ToLower(strings.TrimSpace(strings.ToValidUTF8(m.Header.Get("From"), "")))
	}
	if len(key) > maxSenderKey {
		key = strings.ToValidUTF8(key[:maxSenderKey], "")
	}
	return key
}

// maxSenderKey bounds a sender key: an address is at most 254 bytes.
const maxSenderKey = 320

func (b *batch) worker(jobs <-chan job) {
	for j := range jobs {
		m := j.msg
		out, err := b.process(j)
		b.mu.Lock()
		b.res.Fetched++
		switch {
		case err != nil:
			if b.err == nil || errors.Is(err, errCrash) {
				b.err = err
			}
			if b.failedUID == 0 || m.UID < b.failedUID {
				b.failedUID = m.UID
			}
		case out.Failed:
			b.res.Failed++
		case out.AlreadyDone:
			b.res.AlreadyDone++
		case store.IsHeld(out.Action):
			b.res.Held++
		default:
			b.res.Processed++
		}
		b.mu.Unlock()
		if err == nil && out.Folder != "" && !out.Failed && m.Mailbox == b.inbox {
			b.moves.add(out.Folder, m.UIDValidity, m.UID)
		}
	}
}

// process runs one message with panics recovered: a bug must not take the
// poller down with a message half done (the ledger keeps it for a retry).
func (b *batch) process(j job) (out Outcome, err error) {
	m := j.msg
	defer func() {
		if v := recover(); v != nil {
			b.pl.metrics.Failed(StepProcessPanic)
			b.pl.metrics.Panic(PartPipeline)
			b.pl.log.Error("processing a message crashed", slog.Uint64("uid", uint64(m.UID)), slog.String("panic", fmt.Sprintf("%T", v)))
			err = fmt.Errorf("process uid %d: recovered from a crash", m.UID)
		}
	}()
	mctx, cancel := context.WithTimeout(b.work, b.pl.cfg.MessageTimeout)
	defer cancel()
	if b.hold {
		if reason := b.pl.cfg.Hold.Reason(m, b.pl.now()); reason != "" {
			if out, held, err := b.pl.proc.hold(mctx, m, reason); held || err != nil {
				return out, err
			}
		}
	}
	if b.release {
		if err := b.pl.proc.release(mctx, m, j.hdr); err != nil {
			return Outcome{}, fmt.Errorf("release uid %d: %w", m.UID, err)
		}
	}
	return b.pl.proc.Process(mctx, m, j.hdr)
}

// wait ends the batch once every message handed over is finished, and
// returns the first error with the lowest UID that had one.
func (b *batch) wait() (mailbox.UID, error) {
	for _, jobs := range b.jobs {
		close(jobs)
	}
	b.wg.Wait()
	return b.failedUID, b.err
}

// move moves the committed messages to their folders, one batch per
// folder.
func (pl *Poller) move(ctx context.Context, c *mailbox.Client, validity uint32, moves *moveSet, res *PollResult) error {
	if pl.failAt != nil {
		if err := pl.failAt(stepBeforeMove); err != nil {
			return fmt.Errorf("%w: %w", errStep{stepBeforeMove}, err)
		}
	}
	for _, f := range []vocab.Folder{vocab.FolderProcessed, vocab.FolderTriage, vocab.FolderAuto} {
		uids := moves.take(f, validity)
		if len(uids) == 0 {
			continue
		}
		if err := c.Move(ctx, uids, pl.folderName(f)); err != nil {
			moves.putBack(f, validity, uids)
			pl.metrics.Failed(StepMove)
			return err
		}
		res.Moved += len(uids)
	}
	if pl.failAt != nil {
		if err := pl.failAt(stepAfterMove); err != nil {
			return fmt.Errorf("%w: %w", errStep{stepAfterMove}, err)
		}
	}
	return nil
}

// retryFailed retries failed messages whose next attempt is due, from the
// raw copy kept in the ledger. Those of the current inbox numbering are
// moved with the rest; others are moved by a later scan (the ledger knows
// them by Message-ID).
func (pl *Poller) retryFailed(ctx context.Context, b *batch) error {
	entries, err := pl.st.ClaimFailedMessages(ctx, pl.cfg.RetryBatch, false)
	if err := dbErr(pl.metrics, err); err != nil {
		return err
	}
	for _, e := range entries {
		j, err := pl.msgFromLedger(ctx, e)
		if err != nil {
			return err
		}
		if err := b.dispatch(j, store.NormaliseAddress(j.hdr.From)); err != nil {
			return err
		}
	}
	return nil
}

// msgFromLedger rebuilds a message from a ledger row: its raw copy, and
// the header facts recorded with it (read from the raw copy only for a row
// recorded before they were kept).
func (pl *Poller) msgFromLedger(ctx context.Context, e store.LedgerEntry) (job, error) {
	m := mailbox.Msg{Mailbox: e.Mailbox, UIDValidity: e.UIDValidity, UID: mailbox.UID(e.UID), Size: e.Size,
		InternalDate: e.ReceivedAt, TooLarge: e.Size > pl.cfg.Mailbox.MaxMessageBytes}
	raw, err := pl.st.RawMessage(ctx, e.ID, store.System)
	err = dbErr(pl.metrics, err)
	switch {
	case err == nil:
		m.Raw = raw
	case errors.Is(err, store.ErrNotFound):
		m.TooLarge = true // nothing left to read: it goes to staff
	default:
		return job{msg: m}, err
	}
	h, ok, err := pl.st.MessageHeader(ctx, e.ID)
	if err := dbErr(pl.metrics, err); err != nil {
		return job{msg: m}, err
	}
	if !ok && m.Raw != nil {
		h, _ = readHeader(m.Raw)
	}
	return job{m, h}, nil
}
