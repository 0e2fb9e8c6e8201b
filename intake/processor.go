package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ncl-icb/optout-intake/enquiry"
	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/extract/message"
	"github.com/ncl-icb/optout-intake/mailbox"
	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// The steps between which a failure can be injected in tests (failAt), in
// the order they happen for one message.
const (
	stepAfterLedger  = "after-ledger"
	stepAfterExtract = "after-extract"
	stepAfterCommit  = "after-commit"
	stepAfterSend    = "after-send"
	stepBeforeMove   = "before-move"
	stepAfterMove    = "after-move"
)

// Defaults for ProcessorConfig.
const (
	DefaultExtractTimeout = 2 * time.Minute
	DefaultReplyWindow    = DefaultReplyWindowHours * time.Hour
)

// ProcessorConfig configures a Processor.
type ProcessorConfig struct {
	// Address is the mailbox's own address (OPTOUT_ADDRESS): mail from it
	// is never answered.
	Address string
	// Policy for forms outside the secure exchange; default PolicyProcess.
	Policy Policy
	// ReplyLimit replies per sender address per ReplyWindow (defaults 10
	// and 3 hours); beyond it a message goes to triage unanswered.
	ReplyLimit  int
	ReplyWindow time.Duration
	// ExtractTimeout bounds reading one message; past it the message goes
	// to triage. Default DefaultExtractTimeout.
	ExtractTimeout time.Duration
	// EnquiryDays is OPTOUT_ENQUIRY_DAYS: the working days within which a
	// message that needs a person is answered (complaints and rights
	// requests have the law's own deadlines). Default
	// enquiry.DefaultEnquiryDays.
	EnquiryDays int
	// DropAttachments stops the attachments of a message whose forms go to
	// triage being kept as separate (sealed) files for the triage page;
	// the raw message, which holds them too, is kept either way.
	DropAttachments bool
}

// Processor handles one message at a time, exactly once: ledger, extract,
// correlate, Decide, compose, and one store transaction. It is safe for
// concurrent use.
type Processor struct {
	st      *store.Store
	x       *extract.Extractor
	comp    *notify.Composer
	signer  notify.Signer
	cfg     ProcessorConfig
	log     *slog.Logger
	metrics Metrics
	now     func() time.Time
	// panicsSeen is the extractor's panic count already reported.
	panicsSeen atomic.Int64

	// failAt is a crash-injection hook, set only by tests (setFailAt in
	// export_test.go): called between steps, an error it returns stops
	// processing there, as a crash would. nil in production.
	failAt func(step string) error
	// queued, when set, is called after a commit that queued replies (the
	// Service wakes its outbox workers, so sending overlaps processing).
	queued func()
}

// NewProcessor returns a Processor over its parts. comp composes every
// reply and signer checks the tokens in residents' In-Reply-To and
// References (use the Composer's signer). log, m and now may be nil.
func NewProcessor(st *store.Store, x *extract.Extractor, comp *notify.Composer, signer notify.Signer,
	cfg ProcessorConfig, log *slog.Logger, m Metrics, now func() time.Time) (*Processor, error) {
	if st == nil || x == nil || comp == nil {
		return nil, errors.New("intake: the processor needs a store, an extractor and a composer")
	}
	if len(signer.Key) < notify.MinKeyLen {
		return nil, fmt.Errorf("intake: %w", notify.ErrBadKey)
	}
	if cfg.Address == "" {
		cfg.Address = comp.Address()
	}
	if _, err := mail.ParseAddress(cfg.Address); err != nil {
		return nil, errors.New("intake: the mailbox address (OPTOUT_ADDRESS) is not a valid email address")
	}
	switch cfg.Policy {
	case "":
		cfg.Policy = PolicyProcess
	case PolicyProcess, PolicyAsk:
	default:
		return nil, fmt.Errorf("intake: unsolicited policy %q: use process or ask", cfg.Policy)
	}
	if cfg.ReplyLimit <= 0 {
		cfg.ReplyLimit = DefaultReplyLimit
	}
	if cfg.ReplyWindow <= 0 {
		cfg.ReplyWindow = DefaultReplyWindow
	}
	if cfg.ExtractTimeout <= 0 {
		cfg.ExtractTimeout = DefaultExtractTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = NopMetrics{}
	}
	if now == nil {
		now = time.Now
	}
	p := &Processor{st: st, x: x, comp: comp, signer: signer, cfg: cfg, log: log, metrics: m, now: now}
	p.panicsSeen.Store(x.Panics())
	return p, nil
}

// db counts a database error in the metrics (see dbErr) and returns err.
func (p *Processor) db(err error) error { return dbErr(p.metrics, err) }

// countPanics reports the panics the extractor's readers recovered since
// the last call (the extractor counts them; processors share it).
func (p *Processor) countPanics() {
	for {
		seen, cur := p.panicsSeen.Load(), p.x.Panics()
		if cur <= seen {
			return
		}
		if p.panicsSeen.CompareAndSwap(seen, cur) {
			for range cur - seen {
				p.metrics.Panic(PartExtract)
			}
			return
		}
	}
}

// countForms reports every form read from one message by format and
// result, and each likely photo of the form as a file not read.
func (p *Processor) countForms(res extract.Result, photos int) {
	for _, f := range res.Forms {
		p.metrics.Form(string(f.Format), formResult(f))
	}
	for range photos {
		p.metrics.Form(FormatNone, FormUnreadable)
	}
}

// formResult classifies a form read for the metrics: unreadable when the
// file claimed to be a form but no field could be read from it.
func formResult(f form.Form) string {
	switch {
	case f.Valid:
		return FormValid
	case f.Fields == (form.Fields{}):
		return FormUnreadable
	}
	return FormInvalid
}

// countPhotos counts the attachments of msg that are likely photos or
// scans of the form (not signature or layout images).
func countPhotos(msg *message.Message) int {
	n := 0
	for _, a := range msg.Attachments {
		if extract.LikelyPhoto(a.Name, a.Data) {
			n++
		}
	}
	return n
}

// Outcome is what Process did with one message.
type Outcome struct {
	LedgerID int64
	// Folder is where the message belongs now ("" when it stays in the
	// inbox: it failed and waits for a retry).
	Folder vocab.Folder
	// Ref is the conversation's reference code, "" when none.
	Ref string
	// Action is the ledger action recorded.
	Action string
	// AutoReason is, for automatic mail, why it is automatic: a code of
	// extract/message (message.ReasonDSN, message.ReasonNoReply...); ""
	// otherwise.
	AutoReason string
	// AlreadyDone is true when the message had been processed before:
	// nothing was done this time.
	AlreadyDone bool
	// Failed is true when processing failed: the ledger row is marked
	// failed with its error and retried later.
	Failed bool
	// Queued counts the replies queued.
	Queued int
}

// errStep marks an error injected by failAt.
type errStep struct{ step string }

// errCrash, returned by a failAt hook, simulates the process dying at that
// step: nothing more is done or recorded (the ledger row stays as it was,
// the poll stops without moving or saving its position). Any other hook
// error is an ordinary processing failure.
var errCrash = errors.New("simulated crash")

func (e errStep) Error() string { return "injected failure at " + e.step }

func (p *Processor) fail(step string) error {
	if p.failAt == nil {
		return nil
	}
	if err := p.failAt(step); err != nil {
		return fmt.Errorf("%w: %w", errStep{step}, err)
	}
	return nil
}

// Process handles one message from the mailbox. It is idempotent: a message
// already done (the same mailbox UID, or the same Message-ID under any UID)
// returns its recorded folder and changes nothing. A failure after the
// ledger row exists is recorded on that row (no personal data in the
// error) and reported as Outcome.Failed with a nil error, so the caller
// moves on; the error is non-nil only when nothing could be recorded
// (database down), and the caller should stop.
func (p *Processor) Process(ctx context.Context, m mailbox.Msg, h store.MessageHeader) (Outcome, error) {
	start := p.now()
	raw := m.Raw
	entry, created, err := p.st.RecordMessage(ctx, store.IncomingMessage{
		Mailbox: m.Mailbox, UIDValidity: m.UIDValidity, UID: uint32(m.UID), MessageID: m.MessageID,
		ReceivedAt: m.InternalDate, Size: m.Size, Raw: raw, Header: h,
	})
	err = p.db(err)
	if err != nil {
		return Outcome{}, fmt.Errorf("process uid %d: %w", m.UID, err)
	}
	log := p.log.With(slog.String("mailbox", m.Mailbox), slog.Uint64("uid", uint64(m.UID)), slog.Int64("ledger_id", entry.ID))
	out := Outcome{LedgerID: entry.ID}
	switch entry.State {
	case store.LedgerDone:
		out.AlreadyDone, out.Folder, out.Action = true, store.FolderOf(entry.Action), entry.Action
		if out.Folder == "" && !store.IsHeld(entry.Action) { // held mail stays in the inbox
			out.Folder = vocab.FolderProcessed
		}
		return out, nil
	case store.LedgerFailed:
		if !created && entry.NextAttemptAt != nil && entry.NextAttemptAt.After(p.now()) {
			// Waits for its retry (see Poller's retry of failed messages).
			out.Failed = true
			return out, nil
		}
	}
	// A row just created is started by this call (its attempts count from
	// the failures FailMessage records); a row seen before is marked
	// processing so the attempt is counted.
	if !created && entry.State != store.LedgerProcessing {
		if err := p.db(p.st.StartMessage(ctx, entry.ID)); err != nil {
			if errors.Is(err, store.ErrAlreadyDone) {
				return p.done(ctx, out)
			}
			return out, fmt.Errorf("process ledger row %d: %w", entry.ID, err)
		}
	}
	res, err := p.run(ctx, entry.ID, m, h, log)
	if err == nil {
		res.LedgerID = entry.ID
		_, action, _ := strings.Cut(res.Action, ":")
		p.metrics.Processed(res.Folder, action, p.now().Sub(start))
		if res.Queued > 0 && p.queued != nil {
			p.queued()
		}
		log.Info("message processed", slog.String("ref", res.Ref), slog.String("action", res.Action), slog.Int("queued", res.Queued),
			slog.String("auto_reason", res.AutoReason))
		return res, nil
	}
	if errors.Is(err, store.ErrAlreadyDone) {
		// Another worker completed it meanwhile: nothing to do.
		return p.done(ctx, out)
	}
	if errors.Is(err, errCrash) {
		return out, err
	}
	if ctx.Err() != nil && !errors.As(err, new(errStep)) {
		// Shutting down: leave the row for the next run rather than count a failure.
		return out, fmt.Errorf("process ledger row %d: %w", entry.ID, ctx.Err())
	}
	p.metrics.Failed(failStep(err))
	errText := safeError(err)
	next, ferr := p.st.FailMessage(context.WithoutCancel(ctx), entry.ID, errText)
	ferr = p.db(ferr)
	if ferr != nil {
		if errors.Is(ferr, store.ErrAlreadyDone) {
			return p.done(ctx, out)
		}
		return out, fmt.Errorf("process ledger row %d: %w (and recording the failure: %w)", entry.ID, err, ferr)
	}
	log.Error("message failed; will retry", slog.String("error", errText), slog.Time("next_attempt", next))
	out.Failed = true
	return out, nil
}

// done reads the ledger row of a message completed elsewhere.
func (p *Processor) done(ctx context.Context, out Outcome) (Outcome, error) {
	e, err := p.st.Message(ctx, out.LedgerID)
	if err := p.db(err); err != nil {
		return out, err
	}
	out.AlreadyDone, out.Action, out.Folder = true, e.Action, store.FolderOf(e.Action)
	if out.Folder == "" && !store.IsHeld(e.Action) {
		out.Folder = vocab.FolderProcessed
	}
	return out, nil
}

// failStep names the step an error came from, for the metric.
func failStep(err error) string {
	var es errStep
	if errors.As(err, &es) {
		return es.step
	}
	return StepProcess
}

// safeError turns an error into ledger text without personal data: the
// packages below never put personal data in their errors, and this caps the
// length and strips anything address-shaped as a second line of defence.
func safeError(err error) string {
	words := strings.Fields(err.Error())
	for i, w := range words {
		if strings.Contains(w, "@") {
			words[i] = "[address]"
		}
	}
	s := strings.Join(words, " ")
	if len(s) > 400 {
		s = s[:400]
	}
	return strings.ToValidUTF8(s, "")
}

// read is the extract step's result.
type read struct {
	msg    *message.Message
	res    extract.Result
	failed bool // crashed or timed out
}

// extract reads the message under a deadline, with panics recovered: a
// message that breaks the reader becomes a triage item, never a lost mail.
func (p *Processor) extract(ctx context.Context, raw []byte) read {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.ExtractTimeout)
	defer cancel()
	ch := make(chan read, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				p.log.Error("extract crashed", slog.String("panic", fmt.Sprintf("%T", v)), slog.String("stack", lastFrames(debug.Stack())))
				p.metrics.Failed(StepExtractPanic)
				p.metrics.Panic(PartExtract)
				ch <- read{msg: &message.Message{}, res: extract.Result{Kind: extract.KindUnreadable}, failed: true}
			}
		}()
		msg, res := p.x.Email(ctx, raw)
		ch <- read{msg: msg, res: res}
	}()
	timedOut := func() read {
		p.metrics.Failed(StepExtractTimeout)
		return read{msg: &message.Message{}, res: extract.Result{Kind: extract.KindUnreadable}, failed: true}
	}
	select {
	case r := <-ch:
		// A reader that honours ctx may return early, with part of the
		// message read, once the deadline passes: such a result goes to a
		// person like any timeout, never answered on what was half read.
		// (When both cases are ready, select picks either.)
		if ctx.Err() != nil {
			return timedOut()
		}
		if r.msg == nil {
			r.msg = &message.Message{}
		}
		return r
	case <-ctx.Done():
		// The reader goroutine ends on its own (it honours ctx and its limits).
		return timedOut()
	}
}

// lastFrames keeps a stack trace short enough for one log line; it holds
// code locations only.
func lastFrames(stack []byte) string {
	if len(stack) > 2000 {
		stack = stack[:2000]
	}
	return string(stack)
}

// run does everything after the ledger row exists, up to and including the
// commit.
func (p *Processor) run(ctx context.Context, ledgerID int64, m mailbox.Msg, h store.MessageHeader, log *slog.Logger) (Outcome, error) {
	if err := p.fail(stepAfterLedger); err != nil {
		return Outcome{}, err
	}
	d, err := p.decide(ctx, m, h)
	if err != nil {
		return Outcome{}, err
	}
	msg, plan := d.msg, d.plan
	if err := p.fill(plan, ledgerID, h, msg, d.res, d.conv, d.replyTo); err != nil {
		return Outcome{}, err
	}
	if plan.MarkUndeliverable {
		// Its own transaction, idempotent: a second run finds the row
		// already undeliverable (ErrNotFound) and changes nothing.
		if err := p.db(p.st.MarkUndeliverable(ctx, msg.BouncedMessageID, bounceDetail(msg, ledgerID))); err != nil && !errors.Is(err, store.ErrNotFound) {
			return Outcome{}, err
		}
	}
	res, err := p.st.CompleteMessage(ctx, plan)
	if err := p.db(err); err != nil {
		return Outcome{}, err
	}
	if err := p.fail(stepAfterCommit); err != nil {
		return Outcome{}, err
	}
	log.Debug("plan committed", slog.String("ref", res.Reference), slog.Int("submissions", len(res.Submissions)), slog.Int("triage", len(res.Triage)))
	return Outcome{Folder: plan.Folder, Ref: res.Reference, Action: store.LedgerAction(plan.Folder, plan.Action), Queued: len(res.Queued), AutoReason: msg.AutoReason}, nil
}

// bounceDetail is the bounced email's last error: the status code and the
// receiving server's words from the delivery report (addresses removed),
// and the ledger row of the report.
func bounceDetail(msg *message.Message, ledgerID int64) string {
	said := strings.TrimSpace(msg.BounceStatus + " " + notify.RedactAddresses(msg.BounceDiagnostic))
	if said == "" {
		said = "the report gives no status"
	}
	return fmt.Sprintf("bounced: %s (report: ledger row %d)", said, ledgerID)
}

// decided is what decide found: the message read and the plan Decide drew
// up, not yet filled in.
type decided struct {
	msg     *message.Message
	res     extract.Result
	plan    *store.Plan
	conv    *store.Conversation // nil when none
	replyTo string
}

// decide reads m and plans what to do with it: extract, correlate, Decide.
// It only reads the store, so the dry run uses it as is.
func (p *Processor) decide(ctx context.Context, m mailbox.Msg, h store.MessageHeader) (decided, error) {
	var r read
	if m.TooLarge {
		r = read{msg: &message.Message{}, res: extract.Result{Kind: extract.KindUnreadable}}
	} else {
		start := p.now()
		r = p.extract(ctx, m.Raw)
		p.metrics.Extracted(p.now().Sub(start))
		p.countPanics()
	}
	if err := p.fail(stepAfterExtract); err != nil {
		return decided{}, err
	}
	if err := ctx.Err(); err != nil {
		return decided{}, err
	}
	msg := r.msg
	in := Input{
		Kind:          r.res.Kind,
		Forms:         r.res.Forms,
		HasSender:     h.From != "",
		FromUs:        sameAddress(h.From, p.cfg.Address) || sameAddress(msg.ReplyTo, p.cfg.Address),
		OurMarker:     notify.HasOurMarker(&msg.Header),
		Auto:          msg.Auto,
		TooLarge:      m.TooLarge,
		ExtractFailed: r.failed,
		Policy:        p.cfg.Policy,
		ReplyLimit:    p.cfg.ReplyLimit,
	}
	if r.res.Kind == extract.KindContact {
		in.PersonalData = HasPersonalData(h.Subject) || HasPersonalData(msg.Body)
		in.Photos = countPhotos(msg)
	}
	in.Received, in.EnquiryDays = m.InternalDate, p.cfg.EnquiryDays
	if in.Received.IsZero() {
		in.Received = p.now()
	}
	if !r.failed && !m.TooLarge {
		p.countForms(r.res, in.Photos)
	}
	if msg.BouncedMessageID != "" {
		_, in.BounceOfOurs = p.signer.Verify(msg.BouncedMessageID)
	}

	since := p.now().Add(-p.cfg.ReplyWindow)
	conv, replies, counted, err := p.correlate(ctx, h, &in, since)
	if err != nil {
		return decided{}, err
	}
	replyTo := h.From
	if conv != nil {
		replyTo = conv.Address
	}
	if replyTo != "" && !in.TooLarge && !in.Auto && !in.OurMarker && !in.FromUs {
		if !counted {
			n, err := p.st.CountRepliesTo(ctx, replyTo, since)
			if err := p.db(err); err != nil {
				return decided{}, err
			}
			replies = n
		}
		in.RecentReplies = replies
	}
	if r.res.Kind == extract.KindContact && in.Photos == 0 {
		// The resident's own words: enquiry leaves out quoted replies (the
		// same StripQuoted extract uses), signatures, footers and pasted
		// leaflet text. A subject that carries the conversation's
		// reference is our own subject replied to ("RE: Your opt-out has
		// been recorded – reference …"): not the resident's words.
		subject := h.Subject
		if conv != nil && strings.Contains(strings.ToUpper(subject), conv.Reference) {
			subject = ""
		}
		in.Enquiry = enquiry.Read(subject, msg.Body)
	}
	if in.Conv != nil && in.Conv.done() && r.res.Kind == extract.KindContact && len(r.res.Forms) == 0 {
		// The once-a-week acknowledgement after completion (Decide).
		at, ok, err := p.st.LastReplyAt(ctx, in.Conv.ID, vocab.KindAfterCompletion)
		if err := p.db(err); err != nil {
			return decided{}, err
		}
		if ok {
			in.Conv.LastAfterCompletion = at
		}
	}
	if conv != nil && sameAddress(conv.Address, p.cfg.Address) {
		in.FromUs = true // never answer our own address, whoever wrote
	}

	return decided{msg: msg, res: r.res, plan: Decide(in), conv: conv, replyTo: replyTo}, nil
}

// sameAddress compares two addresses the way the store does.
func sameAddress(a, b string) bool {
	return a != "" && b != "" && store.NormaliseAddress(a) == store.NormaliseAddress(b)
}

// correlate finds the conversation a message belongs to: first by a
// verified token in In-Reply-To/References (or a Message-ID we recorded as
// sent), then by a reference code in the subject. It fills in.Conv,
// in.Match and in.SenderIsOwner, and returns the conversation (nil when
// none). When the conversation was found by its reference, counted is true
// and replies is the number of emails queued to its address since since
// (read in the same query, saving CountRepliesTo a round trip).
func (p *Processor) correlate(ctx context.Context, h store.MessageHeader, in *Input, since time.Time) (conv *store.Conversation, replies int, counted bool, err error) {
	ids := make([]string, 0, len(h.References)+1)
	if h.InReplyTo != "" {
		ids = append(ids, h.InReplyTo)
	}
	refs := slices.Clone(h.References)
	slices.Reverse(refs)
	ids = append(ids, refs...)
	if len(ids) > 100 {
		ids = ids[:100]
	}
	match := MatchNone
	if ref, ok := p.signer.Match(ids); ok {
		c, n, err := p.st.ConversationByReferenceReplies(ctx, ref, since)
		err = p.db(err)
		switch {
		case err == nil:
			conv, match, replies, counted = &c, MatchToken, n, true
		case !errors.Is(err, store.ErrNotFound):
			return nil, 0, false, err
		}
	}
	if conv == nil && len(ids) > 0 {
		// Our Message-IDs signed with an older key are still ours if we
		// recorded them.
		c, err := p.st.ConversationByMessageID(ctx, ids...)
		err = p.db(err)
		switch {
		case err == nil:
			conv, match = &c, MatchToken
		case !errors.Is(err, store.ErrNotFound):
			return nil, 0, false, err
		}
	}
	if conv == nil {
		if ref, ok := store.FindReference(h.Subject); ok {
			c, n, err := p.st.ConversationByReferenceReplies(ctx, ref, since)
			err = p.db(err)
			switch {
			case err == nil:
				conv, match, replies, counted = &c, MatchSubject, n, true
			case !errors.Is(err, store.ErrNotFound):
				return nil, 0, false, err
			}
		}
	}
	if conv == nil {
		return nil, 0, false, nil
	}
	waiting, err := p.st.WaitingOnResident(ctx, conv.ID)
	if err = p.db(err); err != nil {
		return nil, 0, false, err
	}
	in.Conv = &Conversation{ID: conv.ID, Ref: conv.Reference, State: conv.State, NoFormCount: conv.NoFormCount, Waiting: waiting}
	in.Match = match
	in.SenderIsOwner = sameAddress(h.From, conv.Address)
	return conv, replies, counted, nil
}

// fill completes a plan with what Decide cannot know: the ledger row, the
// new conversation's address and reference, the redacted copy, the kept
// attachments and every email, composed now so that retries send identical
// bytes under a fixed Message-ID. It adds nothing to what Decide planned
// but the guard below.
func (p *Processor) fill(plan *store.Plan, ledgerID int64, h store.MessageHeader, msg *message.Message, res extract.Result,
	conv *store.Conversation, replyTo string) error {
	plan.LedgerID, plan.Kind = ledgerID, string(res.Kind)
	ref := ""
	if conv != nil {
		ref = conv.Reference
	}
	if nc := plan.NewConversation; nc != nil {
		r, err := store.NewReference()
		if err != nil {
			return err
		}
		nc.Address, nc.Reference, ref = h.From, r, r
	}
	if plan.RedactBody {
		plan.ReplaceRaw, plan.RedactedSubject = redactedCopy(msg), Redact(h.Subject)
	}
	// An accepted form without a usable NHS number (the form rules should
	// prevent it) still reaches a person.
	// Its outcome then waits for staff, so the receipt goes first.
	for _, s := range plan.Submissions {
		if s.Status == vocab.StatusAccepted && store.NormaliseNHS(s.Form.Fields.NHSNumber) == "" {
			s.Status, s.Accepted, s.Duplicate = vocab.StatusTriage, nil, nil
			plan.Triage = append(plan.Triage, &store.NewTriage{Reason: vocab.ReasonInvalidForm, Submission: s})
			plan.Folder, plan.ConversationState = vocab.FolderTriage, vocab.StateFormReceived
			if !slices.ContainsFunc(plan.Emails, func(e *store.Email) bool { return e.Kind == vocab.KindReceipt }) && !strings.HasSuffix(string(plan.Action), string(vocab.ActionRateLimited)) {
				plan.Emails = append(plan.Emails, receipt())
			}
		}
	}
	// Attachments are kept (sealed, apart from the raw message) when a
	// person must look at a form: the triage page shows them one by one.
	// An accepted form's file stays inside the kept raw message.
	// So is the attachment of a reference from another address: staff
	// read it once they know who sent it; and a form kept unread under
	// policy "ask": staff key it in from the file.
	if len(plan.Triage) > 0 && (len(plan.Submissions) > 0 || plan.Action == vocab.ActionPhoto || plan.Action == vocab.ActionOtherSender ||
		plan.Action == vocab.ActionUnsolicitedAsk) &&
		!p.cfg.DropAttachments {
		// Files of the same name (two "scan.pdf") are paired with their
		// forms in order, one form a file as residents send them.
		byName := map[string][]*store.NewAttachment{}
		for _, a := range msg.Attachments {
			att := &store.NewAttachment{Name: a.Name, ContentType: a.ContentType, Data: a.Data}
			plan.Attachments = append(plan.Attachments, att)
			byName[a.Name] = append(byName[a.Name], att)
		}
		seen := map[string]int{}
		for _, s := range plan.Submissions {
			if atts := byName[s.Form.Source]; len(atts) > 0 {
				s.Attachment = atts[min(seen[s.Form.Source], len(atts)-1)]
				seen[s.Form.Source]++
			}
		}
	}
	firstName := ""
	for _, s := range plan.Submissions {
		if n := s.Form.Fields.FirstName; n != "" {
			firstName = n
			break
		}
	}
	compose := func(e *store.Email, name, which string) error {
		if e == nil {
			return nil
		}
		b, id, subject, err := p.comp.Compose(notify.Reply{
			Kind: e.Kind, To: replyTo,
			Data:      notify.Data{Ref: ref, FirstName: name, Form: which},
			InReplyTo: h.MessageID, References: h.References,
		})
		if err != nil {
			return err
		}
		e.To, e.Subject, e.Body, e.MessageID, e.InReplyTo, e.References = replyTo, subject, string(b), id, h.MessageID, h.References
		return nil
	}
	// An email carrying several forms gets one outcome email per form,
	// each saying which form it is about.
	for i, s := range plan.Submissions {
		which := notify.WhichForm(s.Form.Fields.FirstName, s.Form.Fields.LastName, i+1, len(plan.Submissions))
		if err := compose(s.Accepted, s.Form.Fields.FirstName, which); err != nil {
			return err
		}
		if err := compose(s.Duplicate, s.Form.Fields.FirstName, which); err != nil {
			return err
		}
	}
	for _, e := range plan.Emails {
		if err := compose(e, firstName, ""); err != nil {
			return err
		}
	}
	return nil
}

// redactedCopy is what is kept of a first contact whose text holds personal
// data: the routing headers and the text with NHS numbers and dates
// replaced, without attachments.
func redactedCopy(msg *message.Message) []byte {
	var b strings.Builder
	hdr := func(k, v string) {
		if v = strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' {
				return ' '
			}
			return r
		}, v); v != "" {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	hdr("From", msg.From)
	hdr("To", strings.Join(msg.To, ", "))
	if !msg.Date.IsZero() {
		hdr("Date", msg.Date.Format(time.RFC1123Z))
	}
	hdr("Subject", Redact(msg.Subject))
	if msg.MessageID != "" {
		hdr("Message-ID", "<"+msg.MessageID+">")
	}
	hdr("X-Optout-Redacted", "personal data removed from the stored copy")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(Redact(msg.Body), "\r\n", "\n"), "\n", "\r\n"))
	b.WriteString("\r\n")
	return []byte(b.String())
}
