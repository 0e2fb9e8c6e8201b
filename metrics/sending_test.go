package metrics

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

type sendSource struct{ st store.SendStatus }

func (s sendSource) SendingStatus(context.Context, int) (store.SendStatus, error) { return s.st, nil }

// TestCollectSending: /metrics says whether sending is paused and why (1
// for that reason, 0 for the others), when it resumes, and the 24-hour
// count against the budget (issue 16 item 4).
func TestCollectSending(t *testing.T) {
	until := time.Date(2026, 12, 3, 14, 5, 0, 0, time.UTC)
	m, reg := newTest(t)
	src := sendSource{store.SendStatus{Paused: true, Reason: vocab.PauseDailyLimit, Until: until, Sent24h: 10000, Daily: 10000}}
	if err := m.CollectSending(src, 10000, time.Second, nil); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP optout_notify_sending_paused 1 when sending is paused for every replica, by reason (outage, throttled, quota, daily_limit); 0 otherwise.
# TYPE optout_notify_sending_paused gauge
optout_notify_sending_paused{reason="daily_limit"} 1
optout_notify_sending_paused{reason="outage"} 0
optout_notify_sending_paused{reason="quota"} 0
optout_notify_sending_paused{reason="throttled"} 0
# HELP optout_notify_sending_resume_timestamp_seconds Unix time sending resumes (0 when not paused).
# TYPE optout_notify_sending_resume_timestamp_seconds gauge
optout_notify_sending_resume_timestamp_seconds 1.7963067e+09
# HELP optout_notify_sent_last_24h Recipients sent in the last 24 hours, counted by the database (the window of OPTOUT_SMTP_DAILY_LIMIT).
# TYPE optout_notify_sent_last_24h gauge
optout_notify_sent_last_24h 10000
# HELP optout_notify_daily_limit OPTOUT_SMTP_DAILY_LIMIT: most recipients in any 24 hours (0: none).
# TYPE optout_notify_daily_limit gauge
optout_notify_daily_limit 10000
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "optout_notify_sending_paused",
		"optout_notify_sending_resume_timestamp_seconds", "optout_notify_sent_last_24h", "optout_notify_daily_limit"); err != nil {
		t.Error(err)
	}

	// Not paused: every reason 0 and no resume time.
	m, reg = newTest(t)
	if err := m.CollectSending(sendSource{store.SendStatus{Sent24h: 3}}, 0, time.Second, nil); err != nil {
		t.Fatal(err)
	}
	want = `
# HELP optout_notify_sending_paused 1 when sending is paused for every replica, by reason (outage, throttled, quota, daily_limit); 0 otherwise.
# TYPE optout_notify_sending_paused gauge
optout_notify_sending_paused{reason="daily_limit"} 0
optout_notify_sending_paused{reason="outage"} 0
optout_notify_sending_paused{reason="quota"} 0
optout_notify_sending_paused{reason="throttled"} 0
# HELP optout_notify_sending_resume_timestamp_seconds Unix time sending resumes (0 when not paused).
# TYPE optout_notify_sending_resume_timestamp_seconds gauge
optout_notify_sending_resume_timestamp_seconds 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "optout_notify_sending_paused",
		"optout_notify_sending_resume_timestamp_seconds"); err != nil {
		t.Error(err)
	}
}
