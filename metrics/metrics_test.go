package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ncl-icb/optout-intake/extract/pdfworker"
	"github.com/ncl-icb/optout-intake/intake"
	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
)

func newTest(t *testing.T) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m, reg
}

func TestNewTwiceOnOneRegistryFails(t *testing.T) {
	_, reg := newTest(t)
	if _, err := New(reg); err == nil {
		t.Error("New on a registry that has the metrics = nil error, want one")
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) = nil error, want one")
	}
}

func TestLabelsAreBounded(t *testing.T) {
	m, _ := newTest(t)
	tests := []struct {
		name   string
		record func()
		c      prometheus.Collector
		labels []string
	}{
		{"known action", func() { m.Processed("processed", "forms", time.Second) }, m.messages, []string{"processed", "forms"}},
		{"rate-limited suffix dropped", func() { m.Processed("triage", "no_form+rate_limited", time.Second) }, m.messages, []string{"triage", "no_form"}},
		{"unknown folder and action", func() { m.Processed("x", "jane@example.org", time.Second) }, m.messages, []string{"other", "other"}},
		{"form", func() { m.Form("docx", "invalid") }, m.forms, []string{"docx", "invalid"}},
		{"form with personal data", func() { m.Form("943 476 5919", "valid") }, m.forms, []string{"other", "valid"}},
		{"failure step", func() { m.Failed("move") }, m.failures, []string{"move"}},
		{"panic", func() { m.Panic("extract") }, m.panics, []string{"extract"}},
		{"panic elsewhere", func() { m.Panic("Ada Lovelace") }, m.panics, []string{"other"}},
		{"smtp", func() { m.SMTPError(true) }, m.smtpErrors, []string{"temporary"}},
		{"sign-in", func() { m.SignIn("rate_limited") }, m.signins, []string{"rate_limited"}},
		{"action", func() { m.Action("accept") }, m.webActions, []string{"accept"}},
		{"photo of the form", func() { m.Processed("triage", "photo_of_form", time.Second) }, m.messages, []string{"triage", "photo_of_form"}},
		{"photo counted as a form not read", func() { m.Form("none", "unreadable") }, m.forms, []string{"none", "unreadable"}},
		{"panic step", func() { m.Failed("process_panic") }, m.failures, []string{"process_panic"}},
		{"pipeline panic", func() { m.Panic("pipeline") }, m.panics, []string{"pipeline"}},
		{"form uploaded by staff", func() { m.Action("upload") }, m.webActions, []string{"upload"}},
		{"bounce closed by staff", func() { m.Action("item_bounce_close") }, m.webActions, []string{"item_bounce_close"}},
	}
	for _, tc := range tests {
		vec := tc.c.(interface {
			WithLabelValues(...string) prometheus.Counter
		})
		before := testutil.ToFloat64(vec.WithLabelValues(tc.labels...))
		tc.record()
		if got := testutil.ToFloat64(vec.WithLabelValues(tc.labels...)); got != before+1 {
			t.Errorf("%s: counter %v = %v, want %v", tc.name, tc.labels, got, before+1)
		}
	}
}

// TestNamedPartsAndResultsAreLabels: every part, failure step and form
// result the other packages name is a label value of its own, never
// "other" (the sets are built from those names).
func TestNamedPartsAndResultsAreLabels(t *testing.T) {
	m, _ := newTest(t)
	for _, part := range []string{intake.PartExtract, intake.PartPipeline, intake.PartPoller, intake.PartPurge, notify.PartOutbox, PartWeb} {
		before := testutil.ToFloat64(m.panics.WithLabelValues(part))
		m.Panic(part)
		if got := testutil.ToFloat64(m.panics.WithLabelValues(part)); got != before+1 {
			t.Errorf("Panic(%q) was not counted under its own label", part)
		}
	}
	for _, step := range intake.FailureSteps() {
		before := testutil.ToFloat64(m.failures.WithLabelValues(step))
		m.Failed(step)
		if got := testutil.ToFloat64(m.failures.WithLabelValues(step)); got != before+1 {
			t.Errorf("Failed(%q) was not counted under its own label", step)
		}
	}
	for _, res := range []string{intake.FormValid, intake.FormInvalid, intake.FormUnreadable} {
		before := testutil.ToFloat64(m.forms.WithLabelValues("docx", res))
		m.Form("docx", res)
		if got := testutil.ToFloat64(m.forms.WithLabelValues("docx", res)); got != before+1 {
			t.Errorf("Form(docx, %q) was not counted under its own label", res)
		}
	}
}

func TestPolled(t *testing.T) {
	m, _ := newTest(t)
	m.Polled(3, time.Second, nil)
	m.Polled(0, time.Second, errors.New("imap down"))
	if got := testutil.ToFloat64(m.fetched); got != 3 {
		t.Errorf("fetched = %v, want 3", got)
	}
	if got := testutil.ToFloat64(m.polls.WithLabelValues("error")); got != 1 {
		t.Errorf("failed polls = %v, want 1", got)
	}
	if last := testutil.ToFloat64(m.lastPoll); time.Since(time.Unix(int64(last), 0)) > time.Minute {
		t.Errorf("last successful poll = %v, want now", last)
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	m.Processed("processed", "forms", time.Second)
	m.Failed("x")
	m.Polled(1, time.Second, nil)
	m.Form("json", "valid")
	m.Extracted(time.Second)
	m.IMAPError()
	m.SMTPError(false)
	m.DatabaseError()
	m.OAuthRefreshFailed()
	m.OutboxSent()
	m.OutboxRetried()
	m.OutboxFailed()
	m.Panic("web")
	m.SignIn("ok")
	m.Action("accept")
	if m.Registry() != nil || m.CollectFrom(nil, 0, nil) != nil {
		t.Error("nil Metrics is not inert")
	}
}

type fakeSource struct {
	open   map[string]int
	oldest *time.Time
	err    error
	block  bool
}

func (f *fakeSource) TriageStats(ctx context.Context) (map[string]int, *time.Time, error) {
	if f.block {
		<-ctx.Done()
		return nil, nil, ctx.Err()
	}
	return f.open, f.oldest, f.err
}

func (f *fakeSource) OutboxStats(ctx context.Context) (map[store.OutboxState]int, *time.Time, error) {
	if f.err != nil {
		return nil, nil, f.err
	}
	return map[store.OutboxState]int{store.OutboxPending: 2, store.OutboxFailed: 1}, f.oldest, nil
}

func TestCollectFromStore(t *testing.T) {
	m, reg := newTest(t)
	old := time.Now().Add(-time.Hour)
	src := &fakeSource{open: map[string]int{"invalid_form": 3, "Bad Reason!": 1, "jane_doe": 2, "photo_of_form": 1}, oldest: &old}
	if err := m.CollectFrom(src, 100*time.Millisecond, nil); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP optout_triage_open_items Open triage items, by reason.
# TYPE optout_triage_open_items gauge
optout_triage_open_items{reason="invalid_form"} 3
optout_triage_open_items{reason="other"} 3
optout_triage_open_items{reason="photo_of_form"} 1
# HELP optout_notify_outbox_messages Outbox emails, by state.
# TYPE optout_notify_outbox_messages gauge
optout_notify_outbox_messages{state="failed"} 1
optout_notify_outbox_messages{state="pending"} 2
optout_notify_outbox_messages{state="sending"} 0
optout_notify_outbox_messages{state="sent"} 0
optout_notify_outbox_messages{state="undeliverable"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "optout_triage_open_items", "optout_notify_outbox_messages"); err != nil {
		t.Error(err)
	}
	fams, _ := reg.Gather()
	for _, f := range fams {
		if f.GetName() == "optout_triage_oldest_open_age_seconds" {
			if v := f.GetMetric()[0].GetGauge().GetValue(); v < 3500 || v > 3700 {
				t.Errorf("oldest age = %v, want about 3600", v)
			}
		}
	}
	// A store that does not answer costs the scrape at most the timeout and is counted.
	src.block = true
	start := time.Now()
	if _, err := reg.Gather(); err != nil {
		t.Errorf("Gather with a stuck store: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("scrape with a stuck store took %v", d)
	}
	// Then a failing store: both queries fail on this gather and on the
	// comparison's own gather (1 + 2 + 2).
	src.block, src.err = false, errors.New("down")
	reg.Gather() //nolint:errcheck
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP optout_store_scrape_errors_total Scrapes whose queue or outbox figures could not be read from the database.
# TYPE optout_store_scrape_errors_total counter
optout_store_scrape_errors_total 5
`), "optout_store_scrape_errors_total"); err != nil {
		t.Error(err)
	}
}

func TestNamesFollowConvention(t *testing.T) {
	m, reg := newTest(t)
	if err := m.CollectFrom(&fakeSource{}, time.Second, nil); err != nil {
		t.Fatal(err)
	}
	m.Processed("processed", "forms", 0)
	m.Form("json", "valid")
	m.SignIn("ok")
	m.Action("accept")
	m.Failed("move")
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range fams {
		name := f.GetName()
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			continue
		}
		n++
		if !strings.HasPrefix(name, "optout_") || strings.Count(name, "_") < 3 {
			t.Errorf("metric %s is not optout_<part>_<name>_<unit>", name)
		}
	}
	if n < 20 {
		t.Errorf("%d optout metrics registered, want at least 20", n)
	}
}

func TestCollectPDFWorkers(t *testing.T) {
	m, reg := newTest(t)
	stats := pdfworker.Stats{Reads: 7, Started: 3, Crashed: 2, TimedOut: 1}
	if err := m.CollectPDFWorkers(func() pdfworker.Stats { return stats }); err != nil {
		t.Fatal(err)
	}
	stats.Crashed = 4 // read at scrape time
	want := `
# HELP optout_extract_pdf_worker_crashes_total PDF reader child processes that died or answered nonsense while reading a file.
# TYPE optout_extract_pdf_worker_crashes_total counter
optout_extract_pdf_worker_crashes_total 4
# HELP optout_extract_pdf_worker_timeouts_total PDF files given up at the reader's time limit (the child killed).
# TYPE optout_extract_pdf_worker_timeouts_total counter
optout_extract_pdf_worker_timeouts_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"optout_extract_pdf_worker_crashes_total", "optout_extract_pdf_worker_timeouts_total"); err != nil {
		t.Error(err)
	}
	if err := m.CollectPDFWorkers(func() pdfworker.Stats { return stats }); err == nil {
		t.Error("CollectPDFWorkers twice on one registry = nil, want an error")
	}
	if err := (*Metrics)(nil).CollectPDFWorkers(nil); err != nil {
		t.Errorf("nil Metrics: CollectPDFWorkers = %v, want nil", err)
	}
}

// overdueSource is a fakeSource that also reports overdue items.
type overdueSource struct {
	fakeSource
	late map[string]int
}

func (o *overdueSource) TriageOverdue(context.Context, time.Time) (map[string]int, error) {
	return o.late, o.err
}

func TestCollectOverdue(t *testing.T) {
	m, reg := newTest(t)
	src := &overdueSource{late: map[string]int{"complaint": 2, "Jane Doe": 1}}
	if err := m.CollectFrom(src, 100*time.Millisecond, nil); err != nil {
		t.Fatal(err)
	}
	got := scrapeValues(t, reg, "optout_triage_overdue_items")
	if got[`reason="complaint"`] != 2 || got[`reason="other"`] != 1 || got[`reason="question"`] != 0 || len(got) != len(reasons) {
		t.Errorf("optout_triage_overdue_items = %v, want complaint 2, other 1 and every listed reason", got)
	}
}

// scrapeValues returns the values of one gauge family by its label pairs.
func scrapeValues(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			out[strings.Join(labels, ",")] = m.GetGauge().GetValue()
		}
	}
	return out
}

// TestEveryWebActionHasItsLabel: each listed staff action and sign-in
// result is counted under its own label, never as "other".
func TestEveryWebActionHasItsLabel(t *testing.T) {
	m, err := New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range WebActions() {
		m.Action(a)
		if got := testutil.ToFloat64(m.webActions.WithLabelValues(string(a))); got != 1 {
			t.Errorf("Action(%q) counted %v under its own label, want 1", a, got)
		}
	}
	for _, r := range SignInResults() {
		m.SignIn(r)
		if got := testutil.ToFloat64(m.signins.WithLabelValues(string(r))); got != 1 {
			t.Errorf("SignIn(%q) counted %v under its own label, want 1", r, got)
		}
	}
	if got := testutil.ToFloat64(m.webActions.WithLabelValues("other")); got != 0 {
		t.Errorf("listed actions counted %v as other, want 0", got)
	}
}
