package intake

import (
	"context"
	"time"

	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// Outbox adapts the store's outbox to notify.Worker. The pipeline queues
// each reply composed (notify.Composer.Compose) with the whole RFC 5322
// message in store.Email.Body, so a retry sends exactly the bytes first
// queued under the same Message-ID.
type Outbox struct {
	Store *store.Store
	// From is the envelope sender: the mailbox's own address.
	From string
	// Metrics, when set, counts the outbox's database errors.
	Metrics Metrics
	// Limits pace and budget sending for the mailbox as a whole
	// (OPTOUT_SMTP_RATE, OPTOUT_SMTP_DAILY_LIMIT); zero for none.
	Limits store.SendLimits
}

// db counts a database error (see dbErr) and returns err.
func (o *Outbox) db(err error) error {
	if o.Metrics == nil {
		return err
	}
	return dbErr(o.Metrics, err)
}

var (
	_ notify.Outbox          = (*Outbox)(nil)
	_ notify.SentBatchMarker = (*Outbox)(nil)
)

// Claim leases up to n due rows (see store.ClaimOutbox).
func (o *Outbox) Claim(ctx context.Context, n int, lease time.Duration) ([]notify.Item, error) {
	rows, err := o.Store.ClaimOutbox(ctx, n, lease)
	if err := o.db(err); err != nil {
		return nil, err
	}
	items := make([]notify.Item, 0, len(rows))
	for _, r := range rows {
		items = append(items, notify.Item{
			ID: r.ID, Ref: r.Reference, Kind: vocab.Kind(r.Kind), From: o.From, To: []string{r.To},
			Raw: []byte(r.Body), MessageID: r.MessageID,
			Attempts: max(r.Attempts-1, 0), // ClaimOutbox counted this claim's attempt already
		})
	}
	return items, nil
}

// MarkSent records the row as sent, if messageID is the row's (the bytes
// the worker sent are the row's own).
func (o *Outbox) MarkSent(ctx context.Context, id int64, messageID string) error {
	return o.db(o.Store.MarkSent(ctx, id, messageID))
}

// MarkSentBatch records several rows as sent in one transaction (see
// notify.SentBatchMarker and store.MarkSentMany).
func (o *Outbox) MarkSentBatch(ctx context.Context, ids []int64) (int, error) {
	n, err := o.Store.MarkSentMany(ctx, ids)
	return n, o.db(err)
}

// MarkRetry records a temporary failure and makes the row due again at
// next, the time the worker's retry policy computed (backoff with jitter).
func (o *Outbox) MarkRetry(ctx context.Context, id int64, next time.Time, errText string) error {
	return o.db(o.Store.RetryOutbox(ctx, id, next, errText))
}

// MarkFailed records a permanent failure; the store raises a send_failed
// triage item in the same transaction.
func (o *Outbox) MarkFailed(ctx context.Context, id int64, errText string) error {
	return o.db(o.Store.FailOutbox(ctx, id, errText))
}

var _ notify.Canceller = (*Outbox)(nil)

// MarkCancelled ends a row the worker refused to send (a machine
// recipient): cancelled, without a triage item (see store.RefuseOutbox).
func (o *Outbox) MarkCancelled(ctx context.Context, id int64, errText string) error {
	return o.db(o.Store.RefuseOutbox(ctx, id, errText))
}

var _ notify.Pacer = (*Outbox)(nil)

// ClaimNext claims up to n due rows, as many as the pause, the pace and
// the daily budget (o.Limits) allow, for every replica together (see
// store.ClaimNextOutbox).
func (o *Outbox) ClaimNext(ctx context.Context, n int, lease time.Duration) ([]notify.Item, notify.Hold, error) {
	rows, h, probe, err := o.Store.ClaimNextOutbox(ctx, o.Limits, n, lease)
	if err := o.db(err); err != nil {
		return nil, notify.Hold{}, err
	}
	items := make([]notify.Item, 0, len(rows))
	for _, r := range rows {
		items = append(items, notify.Item{
			ID: r.ID, Ref: r.Reference, Kind: vocab.Kind(r.Kind), From: o.From, To: []string{r.To},
			Raw: []byte(r.Body), MessageID: r.MessageID, Attempts: max(r.Attempts-1, 0), Probe: probe,
		})
	}
	return items, notify.Hold{Until: h.Until, Reason: h.Reason}, nil
}

// Pause pauses every sender (see store.PauseSending).
func (o *Outbox) Pause(ctx context.Context, reason vocab.PauseReason, delay func(n int) time.Duration) (time.Time, error) {
	t, err := o.Store.PauseSending(ctx, reason, delay, o.Limits.Daily)
	return t, o.db(err)
}

// Resume ends a pause (see store.ResumeSending).
func (o *Outbox) Resume(ctx context.Context) error {
	return o.db(o.Store.ResumeSending(ctx))
}

// Release gives back claimed rows that were not sent (see store.ReleaseOutbox).
func (o *Outbox) Release(ctx context.Context, ids []int64, submitted bool) error {
	return o.db(o.Store.ReleaseOutbox(ctx, ids, !submitted))
}

// Renew extends the lease of claimed rows (see store.RenewOutbox).
func (o *Outbox) Renew(ctx context.Context, ids []int64, lease time.Duration) error {
	return o.db(o.Store.RenewOutbox(ctx, ids, lease))
}
