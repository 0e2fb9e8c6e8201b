package intake_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/ncl-icb/optout-intake/intake"
	"github.com/ncl-icb/optout-intake/metrics"
)

// TestPipelineMovesMetrics runs real messages through the pipeline
// (Dovecot, PostgreSQL, an SMTP sink) with the Prometheus metrics and
// checks that the right counters moved, and that every label value of the
// service's metrics is a code from a fixed list, never personal data.
func TestPipelineMovesMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	r := intake.NewTestRig(t)
	svc := r.Service(m)

	ins := r.FirstContact(t, svc, intake.ResidentAddr)
	r.Reply(t, svc, ins, intake.ResidentAddr, "fillable-filled.pdf", intake.Fixture("fillable-filled.pdf"))
	ins2 := r.FirstContact(t, svc, intake.OtherAddr)
	r.Reply(t, svc, ins2, intake.OtherAddr, "bad-nhs-checksum.json", intake.Fixture("bad-nhs-checksum.json"))
	r.Reply(t, svc, ins2, intake.OtherAddr, "IMG_0001.HEIC.jpg", intake.Fixture("phone-photo.jpg"))

	want := map[string]float64{
		`optout_intake_messages_total{action="instructions",folder="processed"}`: 2,
		`optout_intake_messages_total{action="forms",folder="processed"}`:        1,
		`optout_intake_messages_total{action="forms",folder="triage"}`:           1,
		`optout_intake_messages_total{action="photo_of_form",folder="triage"}`:   1,
		`optout_extract_forms_total{format="pdf-fields",result="valid"}`:         1,
		`optout_extract_forms_total{format="json",result="invalid"}`:             1,
		`optout_extract_forms_total{format="none",result="unreadable"}`:          1,
		// instructions ×2, receipt ×2 (the invalid form and the photo: the
		// valid form's outcome is its receipt, issue 16 item 5), accepted ×1
		`optout_notify_outbox_sent_total`:                    5,
		`optout_notify_smtp_errors_total{class="temporary"}`: 0,
		`optout_notify_smtp_errors_total{class="permanent"}`: 0,
		`optout_store_errors_total`:                          0,
		`optout_panics_recovered_total{part="extract"}`:      0,
		`optout_mailbox_polls_total{result="ok"}`:            5,
		`optout_extract_duration_seconds_count`:              5,
		`optout_intake_message_duration_seconds_count`:       5,
	}
	// The forms counter as Prometheus shows it: one series per format and
	// result seen, nothing else.
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP optout_extract_forms_total Forms read, by format and result.
# TYPE optout_extract_forms_total counter
optout_extract_forms_total{format="json",result="invalid"} 1
optout_extract_forms_total{format="none",result="unreadable"} 1
optout_extract_forms_total{format="pdf-fields",result="valid"} 1
`), "optout_extract_forms_total"); err != nil {
		t.Error(err)
	}
	got := scrape(t, reg)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if n := r.Sent(); n != 5 {
		t.Errorf("the sink received %d messages, want 5", n)
	}

	// Every label of our metrics is a code: lower-case letters, digits,
	// '_' and '-' (form formats), and none is anything a resident sent.
	code := regexp.MustCompile(`^[a-z0-9_-]{1,40}$`)
	personal := []string{intake.ResidentAddr, intake.OtherAddr, intake.FilledNHS, "resident", "@", "IMG_", "HEIC", ".pdf", ".json"}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "optout_") {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				v := lp.GetValue()
				if !code.MatchString(v) {
					t.Errorf("%s{%s=%q}: the label value is not a code", mf.GetName(), lp.GetName(), v)
				}
				for _, p := range personal {
					if strings.Contains(strings.ToLower(v), strings.ToLower(p)) {
						t.Errorf("%s{%s=%q} holds what a resident sent (%q)", mf.GetName(), lp.GetName(), v, p)
					}
				}
			}
		}
	}
}

// scrape returns every sample of reg as name{label="value",...} → value,
// with histograms as name_count.
func scrape(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			key := mf.GetName() + labelString(mt.GetLabel())
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = mt.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = mt.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[mf.GetName()+"_count"+labelString(mt.GetLabel())] = float64(mt.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

func labelString(lps []*dto.LabelPair) string {
	if len(lps) == 0 {
		return ""
	}
	var parts []string
	for _, lp := range lps {
		parts = append(parts, lp.GetName()+`="`+lp.GetValue()+`"`)
	}
	return "{" + strings.Join(parts, ",") + "}"
}
