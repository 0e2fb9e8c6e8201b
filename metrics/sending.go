package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// SendSource is what the sending collector reads; *store.Store has it.
type SendSource interface {
	SendingStatus(ctx context.Context, daily int) (store.SendStatus, error)
}

// CollectSending registers gauges read from src at every scrape, for the
// mailbox as a whole (every replica reads the same database row):
// optout_notify_sending_paused{reason} (1 for the reason sending is paused,
// 0 for the others; reasons from vocab.PauseReasons),
// optout_notify_sending_resume_timestamp_seconds (0 when not paused),
// optout_notify_sent_last_24h and optout_notify_daily_limit (0: none).
// daily is OPTOUT_SMTP_DAILY_LIMIT; timeout 0 is DefaultCollectTimeout.
func (m *Metrics) CollectSending(src SendSource, daily int, timeout time.Duration, log *slog.Logger) error {
	if m == nil {
		return nil
	}
	timeout, log = collectDefaults(timeout, log)
	return m.reg.Register(&sendCollector{
		src: src, daily: daily, timeout: timeout, log: log,
		// reason: outage|throttled|quota|daily_limit (vocab.PauseReasons)
		paused: prometheus.NewDesc("optout_notify_sending_paused",
			"1 when sending is paused for every replica, by reason (outage, throttled, quota, daily_limit); 0 otherwise.", []string{"reason"}, nil),
		resume: prometheus.NewDesc("optout_notify_sending_resume_timestamp_seconds",
			"Unix time sending resumes (0 when not paused).", nil, nil),
		sent: prometheus.NewDesc("optout_notify_sent_last_24h",
			"Recipients sent in the last 24 hours, counted by the database (the window of OPTOUT_SMTP_DAILY_LIMIT).", nil, nil),
		limit: prometheus.NewDesc("optout_notify_daily_limit",
			"OPTOUT_SMTP_DAILY_LIMIT: most recipients in any 24 hours (0: none).", nil, nil),
	})
}

type sendCollector struct {
	src                         SendSource
	daily                       int
	timeout                     time.Duration
	log                         *slog.Logger
	paused, resume, sent, limit *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (c *sendCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.paused
	ch <- c.resume
	ch <- c.sent
	ch <- c.limit
}

// Collect implements prometheus.Collector.
func (c *sendCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	st, err := c.src.SendingStatus(ctx, c.daily)
	cancel()
	if err != nil {
		c.log.Warn("metrics: read sending status", slog.String("error", err.Error()))
		return
	}
	for _, r := range vocab.PauseReasons() {
		v := 0.0
		if st.Paused && st.Reason == r {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.paused, prometheus.GaugeValue, v, string(r))
	}
	resume := 0.0
	if st.Paused {
		resume = float64(st.Until.UnixMilli()) / 1000
	}
	ch <- prometheus.MustNewConstMetric(c.resume, prometheus.GaugeValue, resume)
	ch <- prometheus.MustNewConstMetric(c.sent, prometheus.GaugeValue, float64(st.Sent24h))
	ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(c.daily))
}
