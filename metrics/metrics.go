// Package metrics defines every Prometheus metric optout-intake exports,
// registered on a registry the caller passes in (no globals, no init). It
// owns no data: counters are moved by the pipeline, the mailbox, the
// outbox worker and the web page through the methods of Metrics, and the
// queue and outbox gauges are read from the store at scrape time.
//
// Names follow optout_<part>_<name>_<unit>. Every label's allowed values are
// listed beside it; a value outside the list is recorded as "other", so a
// bug can never put personal data or unbounded values into a label.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/extract/pdfworker"
	"github.com/ncl-icb/optout-intake/intake"
	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// Label values. Any other value passed to a method becomes "other". The
// folders, actions and triage reasons are the vocabulary's own lists, so a
// value added there is a label value here at once.
var (
	// folders: where a processed message went (vocab.Folders).
	folders = set(vocab.Folders()...)
	// actions: ledger actions (vocab.Actions; the "+rate_limited" suffix dropped).
	actions = set(vocab.Actions()...)
	// steps: where processing failed (intake.FailureSteps).
	steps = set(intake.FailureSteps()...)
	// reasons: triage reasons (vocab.Reasons).
	reasons = set(vocab.Reasons()...)
	// formats: form.Formats, plus intake.FormatNone for a file that was not read.
	formats = set(append(form.Formats(), intake.FormatNone)...)
	// formResults: what a form read came to (intake.Form*).
	formResults = set[string](intake.FormValid, intake.FormInvalid, intake.FormUnreadable)
	// smtpClasses: how a send failed.
	smtpClasses = set[string]("temporary", "permanent")
	// parts: where a panic was recovered (intake.Part*, notify.PartOutbox,
	// PartWeb).
	parts = set[string](intake.PartExtract, intake.PartPipeline, intake.PartPoller, notify.PartOutbox, intake.PartPurge, PartWeb)
	// outboxStates: store.OutboxState values.
	outboxStates = []store.OutboxState{store.OutboxPending, store.OutboxSending, store.OutboxSent, store.OutboxFailed, store.OutboxUndeliverable}
	// signinResults: how a sign-in attempt ended (SignInResults).
	signinResults = set(SignInResults()...)
	// webActions: staff actions on the triage page (WebActions).
	webActions = set(WebActions()...)
	// heldActions: why a message was held back (vocab.HeldActions).
	heldActions = set(vocab.HeldActions()...)
)

func set[T ~string](vs ...T) map[string]bool {
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[string(v)] = true
	}
	return m
}

func allowed(v string, in map[string]bool) string {
	if in[v] {
		return v
	}
	return "other"
}

// Metrics holds every metric of the service. Its methods are safe for
// concurrent use and never block. The zero value is not usable: call New.
// A nil *Metrics is valid and records nothing, so parts can be tested
// without metrics.
type Metrics struct {
	messages        *prometheus.CounterVec
	messageDuration prometheus.Histogram
	failures        *prometheus.CounterVec
	forms           *prometheus.CounterVec
	extractDuration prometheus.Histogram
	pollDuration    prometheus.Histogram
	polls           *prometheus.CounterVec
	fetched         prometheus.Counter
	lastPoll        prometheus.Gauge
	quotaUsed       *prometheus.GaugeVec
	imapErrors      prometheus.Counter
	smtpErrors      *prometheus.CounterVec
	dbErrors        prometheus.Counter
	oauthFailures   prometheus.Counter
	outboxRetried   prometheus.Counter
	outboxFailed    prometheus.Counter
	outboxSent      prometheus.Counter
	panics          *prometheus.CounterVec
	signins         *prometheus.CounterVec
	webActions      *prometheus.CounterVec
	held            *prometheus.CounterVec
	reg             *prometheus.Registry
}

var (
	_ intake.Metrics  = (*Metrics)(nil)
	_ notify.Observer = (*Metrics)(nil)
)

// New creates every metric and registers it, with the Go and process
// collectors, on reg. It returns an error when a metric is already
// registered there (New called twice on one registry).
func New(reg *prometheus.Registry) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("metrics: a registry is required")
	}
	durations := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	m := &Metrics{
		reg: reg,
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "optout_intake_messages_total",
			Help: "Messages whose outcome was committed, by destination folder and action.",
		}, []string{"folder", "action"}), // folder: processed|triage|auto|other; action: intake.Action* codes|other
		messageDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "optout_intake_message_duration_seconds", Help: "Time to process one message, from fetch to commit.", Buckets: durations,
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "optout_intake_failures_total", Help: "Message processing failures, by step.",
		}, []string{"step"}), // step: after-ledger|after-extract|process|extract_panic|extract_timeout|move|poll|other
		forms: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "optout_extract_forms_total", Help: "Forms read, by format and result.",
		}, []string{"format", "result"}), // format: form.Format values|none|other; result: valid|invalid|unreadable|other
		extractDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "optout_extract_duration_seconds", Help: "Time to read one message's forms.", Buckets: durations,
		}),
		pollDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "optout_mailbox_poll_duration_seconds", Help: "Time one poll of the mailbox took.", Buckets: durations,
		}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "optout_mailbox_polls_total", Help: "Polls of the mailbox, by result.",
		}, []string{"result"}), // result: ok|error
		fetched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "optout_mailbox_fetched_messages_total", Help: "Messages fetched from the mailbox and handed to the pipeline.",
		}),
		lastPoll: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "optout_mailbox_last_success_timestamp_seconds", Help: "Unix time of the last successful poll (0: none since start).",
		}),
		imapErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "optout_mailbox_imap_errors_total", Help: "IMAP errors (connection, login, commands).",
		}),
		smtpErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "optout_notify_smtp_errors_total", Help: "SMTP send errors, by class.",
		}, []string{"class"}), // class: temporary|permanent|other
		dbErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "optout_store_errors_total", Help: "Database errors seen by the service (excluding expected outcomes such as not found).",
		}),
		oauthFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "optout_mailbox_oauth_refresh_failures_total", Help: "Failed OAuth token refreshes for the mailbox.",
		}),
		outboxRetried: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "optout_notify_outbox_retried_total", Help: "Outbox sends that failed temporarily and were scheduled again.",
		}),
		outboxFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "optout_notify_outbox_failed_total", Help: "Outbox sends that failed permanently (a triage item is raised).",
		}),
		outboxSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "optout_notify_outbox_sent_total", Help: "Outbox emails accepted by the SMTP server.",
		}),
		panics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "optout_panics_recovered_total", Help: "Panics recovered, by part of the service.",
		}, []string{"part"}), // part: extract|pipeline|poller|outbox|web|purge|other
		signins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "optout_web_signins_total", Help: "Sign-in attempts on the triage page, by result.",
		}, []string{"result"}), // result: ok|bad_credentials|rate_limited|bad_request
		webActions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "optout_web_actions_total", Help: "Staff actions on the triage page that succeeded.",
		}, []string{"action"}), // action: accept|reject|close|assign|check|opt_in|outbox_retry|outbox_cancel|outbox_address|staff_add|staff_role|staff_disable|staff_enable|staff_password|staff_unlock|note|bulk_close|reply|answered_offline|item_resend|item_redirect|download|sender_attach|sender_new|snippet|send_held
		held: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "optout_intake_held_messages_total",
			Help: "Messages held back unanswered (old, from before the start, or answered by hand), left in the inbox for `optoutd backlog`.",
		}, []string{"action"}), // action: held_old|held_before_start|held_answered|other
		quotaUsed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "optout_mailbox_quota_used_ratio", Help: "Share of the mailbox's storage quota in use, read after each poll where the IMAP server offers QUOTA (RFC 9208).",
		}, nil),
	}
	cs := []prometheus.Collector{m.messages, m.messageDuration, m.failures, m.forms, m.extractDuration, m.pollDuration,
		m.polls, m.fetched, m.lastPoll, m.imapErrors, m.smtpErrors, m.dbErrors, m.oauthFailures, m.outboxRetried,
		m.outboxFailed, m.outboxSent, m.panics, m.signins, m.webActions, m.held, m.quotaUsed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Make the labelled series exist from the start, so rate() and
	// absent() behave before the first event.
	for v := range smtpClasses {
		m.smtpErrors.WithLabelValues(v)
	}
	for v := range parts {
		m.panics.WithLabelValues(v)
	}
	for v := range heldActions {
		m.held.WithLabelValues(v)
	}
	m.polls.WithLabelValues("ok")
	m.polls.WithLabelValues("error")
	return m, nil
}

// Registry returns the registry the metrics are registered on (serve it at /metrics).
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Processed records one message completed (implements intake.Metrics).
func (m *Metrics) Processed(folder vocab.Folder, action string, elapsed time.Duration) {
	if m == nil {
		return
	}
	action, _, _ = strings.Cut(action, "+")
	m.messages.WithLabelValues(allowed(string(folder), folders), allowed(action, actions)).Inc()
	m.messageDuration.Observe(elapsed.Seconds())
}

// Held records one message held back (implements intake.Metrics).
func (m *Metrics) Held(action vocab.Action) {
	if m == nil {
		return
	}
	m.held.WithLabelValues(allowed(string(action), heldActions)).Inc()
}

// Failed records a processing failure at step (implements intake.Metrics).
func (m *Metrics) Failed(step string) {
	if m == nil {
		return
	}
	m.failures.WithLabelValues(allowed(step, steps)).Inc()
}

// Polled records the end of one poll (implements intake.Metrics): its
// duration, and on success the time of the last successful poll.
func (m *Metrics) Polled(fetched int, elapsed time.Duration, err error) {
	if m == nil {
		return
	}
	m.pollDuration.Observe(elapsed.Seconds())
	if err != nil {
		m.polls.WithLabelValues("error").Inc()
		return
	}
	m.polls.WithLabelValues("ok").Inc()
	m.fetched.Add(float64(max(fetched, 0)))
	m.lastPoll.Set(float64(time.Now().UnixNano()) / 1e9)
}

// Form records one form read: its format (a form.Format value, "none" when
// the file could not be read) and result ("valid", "invalid" or "unreadable").
func (m *Metrics) Form(format, result string) {
	if m == nil {
		return
	}
	m.forms.WithLabelValues(allowed(format, formats), allowed(result, formResults)).Inc()
}

// Extracted records how long reading one message's forms took.
func (m *Metrics) Extracted(elapsed time.Duration) {
	if m == nil {
		return
	}
	m.extractDuration.Observe(elapsed.Seconds())
}

// IMAPError counts one IMAP error.
func (m *Metrics) IMAPError() {
	if m != nil {
		m.imapErrors.Inc()
	}
}

// SMTPError counts one SMTP send error; temporary says whether it will be retried.
func (m *Metrics) SMTPError(temporary bool) {
	if m == nil {
		return
	}
	if temporary {
		m.smtpErrors.WithLabelValues("temporary").Inc()
	} else {
		m.smtpErrors.WithLabelValues("permanent").Inc()
	}
}

// DatabaseError counts one database error.
func (m *Metrics) DatabaseError() {
	if m != nil {
		m.dbErrors.Inc()
	}
}

// OAuthRefreshFailed counts one failed OAuth token refresh.
func (m *Metrics) OAuthRefreshFailed() {
	if m != nil {
		m.oauthFailures.Inc()
	}
}

// MailboxQuota records the mailbox's storage quota use (bytes used of
// limit); the gauge exists only once a server has reported a quota.
func (m *Metrics) MailboxQuota(used, limit int64) {
	if m != nil && limit > 0 {
		m.quotaUsed.WithLabelValues().Set(float64(used) / float64(limit))
	}
}

// OutboxSent counts one email accepted by the SMTP server.
func (m *Metrics) OutboxSent() {
	if m != nil {
		m.outboxSent.Inc()
	}
}

// OutboxRetried counts one send that failed temporarily and will be retried.
func (m *Metrics) OutboxRetried() {
	if m != nil {
		m.outboxRetried.Inc()
	}
}

// OutboxFailed counts one send that failed permanently.
func (m *Metrics) OutboxFailed() {
	if m != nil {
		m.outboxFailed.Inc()
	}
}

// PartWeb is the part the triage page names when it recovers a panic
// (Metrics.Panic).
const PartWeb = "web"

// Panic counts one recovered panic in part: one of intake's Part* values,
// notify.PartOutbox or PartWeb.
func (m *Metrics) Panic(part string) {
	if m != nil {
		m.panics.WithLabelValues(allowed(part, parts)).Inc()
	}
}

// SignIn counts one sign-in attempt by result.
func (m *Metrics) SignIn(result SignInResult) {
	if m != nil {
		m.signins.WithLabelValues(allowed(string(result), signinResults)).Inc()
	}
}

// Action counts one staff action that succeeded.
func (m *Metrics) Action(action WebAction) {
	if m != nil {
		m.webActions.WithLabelValues(allowed(string(action), webActions)).Inc()
	}
}

// CollectPDFWorkers registers counters read at scrape time from the PDF
// worker pool's stats (pass (*pdfworker.Pool).Stats): children started,
// files read, children that crashed on a file (a hostile or broken PDF
// killed the reader: the file goes to staff as damaged) and files given
// up at the time limit. No labels.
func (m *Metrics) CollectPDFWorkers(stats func() pdfworker.Stats) error {
	if m == nil {
		return nil
	}
	if stats == nil {
		return errors.New("metrics: the PDF worker stats function is required")
	}
	counter := func(name, help string, v func(pdfworker.Stats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v(stats())) })
	}
	cs := []prometheus.Collector{
		counter("optout_extract_pdf_workers_started_total", "PDF reader child processes started.",
			func(s pdfworker.Stats) int64 { return s.Started }),
		counter("optout_extract_pdf_worker_reads_total", "PDF files answered by a reader child process.",
			func(s pdfworker.Stats) int64 { return s.Reads }),
		counter("optout_extract_pdf_worker_crashes_total", "PDF reader child processes that died or answered nonsense while reading a file.",
			func(s pdfworker.Stats) int64 { return s.Crashed }),
		counter("optout_extract_pdf_worker_timeouts_total", "PDF files given up at the reader's time limit (the child killed).",
			func(s pdfworker.Stats) int64 { return s.TimedOut }),
	}
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return fmt.Errorf("metrics: register PDF worker counters: %w", err)
		}
	}
	return nil
}

// Source is what the scrape-time collector reads; *store.Store has it.
type Source interface {
	TriageStats(ctx context.Context) (open map[string]int, oldest *time.Time, err error)
	OutboxStats(ctx context.Context) (counts map[store.OutboxState]int, oldestPending *time.Time, err error)
}

// OverdueSource is what the collector also reads when src has it (as
// *store.Store does): the open triage items past their due date, by reason.
type OverdueSource interface {
	TriageOverdue(ctx context.Context, now time.Time) (map[string]int, error)
}

// DefaultCollectTimeout bounds the store queries of one scrape.
const DefaultCollectTimeout = 2 * time.Second

// CollectFrom registers a collector that reads the triage queue and the
// outbox from src at every scrape, each query bounded by timeout (0:
// DefaultCollectTimeout). When the store does not answer, the scrape goes
// on without those gauges, optout_store_scrape_errors_total counts it and
// log (may be nil) says so.
func (m *Metrics) CollectFrom(src Source, timeout time.Duration, log *slog.Logger) error {
	if m == nil {
		return nil
	}
	timeout, log = collectDefaults(timeout, log)
	return m.reg.Register(newStoreCollector(src, timeout, log, time.Now))
}

// collectDefaults fills the defaults of a collector reading the store:
// DefaultCollectTimeout for timeout 0, and a discarding logger for nil.
func collectDefaults(timeout time.Duration, log *slog.Logger) (time.Duration, *slog.Logger) {
	if timeout <= 0 {
		timeout = DefaultCollectTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return timeout, log
}

type storeCollector struct {
	src         Source
	timeout     time.Duration
	log         *slog.Logger
	now         func() time.Time
	triageOpen  *prometheus.Desc
	triageAge   *prometheus.Desc
	triageLate  *prometheus.Desc
	outbox      *prometheus.Desc
	outboxAge   *prometheus.Desc
	scrapeError prometheus.Counter
}

func newStoreCollector(src Source, timeout time.Duration, log *slog.Logger, now func() time.Time) *storeCollector {
	return &storeCollector{
		src: src, timeout: timeout, log: log, now: now,
		// reason: store.Reason* codes and Reason* codes (fixed, stable set)|other
		triageOpen: prometheus.NewDesc("optout_triage_open_items", "Open triage items, by reason.", []string{"reason"}, nil),
		triageAge: prometheus.NewDesc("optout_triage_oldest_open_age_seconds",
			"Age of the oldest open triage item (0 when none); the resident must have an answer within one calendar month.", nil, nil),
		// reason: as triageOpen; one series per listed reason, 0 when none is late
		triageLate: prometheus.NewDesc("optout_triage_overdue_items",
			"Open triage items past their due date (the law's deadline for what the resident asked: 3 working days for a complaint, a calendar month for a rights request, OPTOUT_ENQUIRY_DAYS for other enquiries, a calendar month otherwise), by reason.",
			[]string{"reason"}, nil),
		// state: pending|sending|sent|failed|undeliverable (cancelled emails are not counted)
		outbox:    prometheus.NewDesc("optout_notify_outbox_messages", "Outbox emails, by state.", []string{"state"}, nil),
		outboxAge: prometheus.NewDesc("optout_notify_outbox_oldest_pending_age_seconds", "Age of the oldest email waiting to be sent (0 when none).", nil, nil),
		scrapeError: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "optout_store_scrape_errors_total", Help: "Scrapes whose queue or outbox figures could not be read from the database.",
		}),
	}
}

// Describe implements prometheus.Collector.
func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.triageOpen
	ch <- c.triageAge
	if _, ok := c.src.(OverdueSource); ok {
		ch <- c.triageLate
	}
	ch <- c.outbox
	ch <- c.outboxAge
	c.scrapeError.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	defer c.scrapeError.Collect(ch)
	now := c.now()
	age := func(t *time.Time) float64 {
		if t == nil {
			return 0
		}
		return max(now.Sub(*t).Seconds(), 0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	open, oldest, err := c.src.TriageStats(ctx)
	cancel()
	if err != nil {
		c.scrapeError.Inc()
		c.log.Warn("metrics: read triage queue", slog.String("error", err.Error()))
	} else {
		// Reasons outside the list add up under "other": one series per label.
		byLabel := map[string]int{}
		for reason, n := range open {
			byLabel[allowed(labelSafe(reason), reasons)] += n
		}
		for reason, n := range byLabel {
			ch <- prometheus.MustNewConstMetric(c.triageOpen, prometheus.GaugeValue, float64(n), reason)
		}
		ch <- prometheus.MustNewConstMetric(c.triageAge, prometheus.GaugeValue, age(oldest))
	}
	if ov, ok := c.src.(OverdueSource); ok {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		late, err := ov.TriageOverdue(ctx, now)
		cancel()
		if err != nil {
			c.scrapeError.Inc()
			c.log.Warn("metrics: read overdue triage items", slog.String("error", err.Error()))
		} else {
			byLabel := map[string]int{}
			for r := range reasons {
				byLabel[r] = 0
			}
			for reason, n := range late {
				byLabel[allowed(labelSafe(reason), reasons)] += n
			}
			for reason, n := range byLabel {
				ch <- prometheus.MustNewConstMetric(c.triageLate, prometheus.GaugeValue, float64(n), reason)
			}
		}
	}
	ctx, cancel = context.WithTimeout(context.Background(), c.timeout)
	counts, pending, err := c.src.OutboxStats(ctx)
	cancel()
	if err != nil {
		c.scrapeError.Inc()
		c.log.Warn("metrics: read outbox", slog.String("error", err.Error()))
		return
	}
	for _, st := range outboxStates {
		ch <- prometheus.MustNewConstMetric(c.outbox, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
	ch <- prometheus.MustNewConstMetric(c.outboxAge, prometheus.GaugeValue, age(pending))
}

// labelSafe keeps a stored reason code as a label only when it looks like a
// code (lower-case letters, digits, '_', at most 40 bytes).
func labelSafe(s string) string {
	if s == "" || len(s) > 40 {
		return "other"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return "other"
		}
	}
	return s
}
