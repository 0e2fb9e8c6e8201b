package store

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ncl-icb/optout-intake/vocab"
)

// SendLimits are the mailbox's limits on sending, held for every replica
// together through the send_control row (migration 005).
type SendLimits struct {
	// Rate is the most emails a minute (OPTOUT_SMTP_RATE), spread evenly by
	// a token bucket of Burst tokens; 0 for no pacing.
	Rate int
	// Burst is how many emails may leave at once after a quiet spell
	// (default and most 5; see MaxBurst).
	Burst int
	// Daily is the most recipients in any rolling 24 hours
	// (OPTOUT_SMTP_DAILY_LIMIT), counted from outbox.sent_at and the rows
	// being sent; 0 for none. Every outbox row has one recipient.
	Daily int
}

// MaxBurst is the largest token bucket of SendLimits.Rate.
const MaxBurst = 5

func (l SendLimits) burst() float64 {
	if l.Burst <= 0 || l.Burst > MaxBurst {
		return MaxBurst
	}
	return float64(l.Burst)
}

// SendHold says why no email was claimed although some may be due: sending
// is paused (Reason) until Until, or the pace allows the next email at
// Until (Reason empty). The zero value means nothing is due.
type SendHold struct {
	Until  time.Time
	Reason vocab.PauseReason
}

// ProbeHold is how long a claim made when a pause has ended keeps the
// other senders waiting: that one email probes the server, and its outcome
// resumes sending (ResumeSending) or pauses it again (PauseSending). A
// prober that dies holds sending for no longer than this.
const ProbeHold = 20 * time.Second

// ClaimNextOutbox claims up to n due emails for lease, as many as the
// pause, the pace and the daily budget allow, in vocab.SendOrder's order of
// kinds and then oldest first, but never before an earlier email of the
// same conversation that is still waiting (a resident reads the receipt
// before the outcome); it counts the attempt as ClaimOutbox does. With no
// email claimed it returns none and the hold (zero: nothing is due). Every
// claim takes the send_control row's lock, so the limits hold for all
// replicas together. After a pause has ended the first claim is a probe:
// one email, probe true, and the other senders wait up to ProbeHold for
// its outcome (ResumeSending or PauseSending).
func (s *Store) ClaimNextOutbox(ctx context.Context, lim SendLimits, n int, lease time.Duration) (out []OutboxMessage, hold SendHold, probe bool, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		out, hold, probe = nil, SendHold{}, false
		var tokens float64
		var refilled, now time.Time
		var paused *time.Time
		var reason string
		if err := tx.QueryRow(ctx, `select tokens, refilled_at, paused_until, pause_reason, now() from send_control where id = 1 for update`).
			Scan(&tokens, &refilled, &paused, &reason, &now); err != nil {
			return fmt.Errorf("read send control: %w", err)
		}
		if paused != nil && paused.After(now) {
			hold = SendHold{Until: *paused, Reason: vocab.PauseReason(reason)}
			return nil
		}
		probe = paused != nil // a pause has ended: one email probes
		if probe {
			n = 1
		}
		if lim.Daily > 0 {
			until, room, err := dailyHold(ctx, tx, lim.Daily, now)
			if err != nil {
				return err
			}
			if !until.IsZero() {
				hold = SendHold{Until: until, Reason: vocab.PauseDailyLimit}
				return nil
			}
			n = min(n, room)
		}
		if lim.Rate > 0 {
			perToken := time.Minute / time.Duration(lim.Rate)
			if refilled.Before(now.Add(-time.Hour)) {
				tokens = lim.burst()
			} else {
				tokens = math.Min(lim.burst(), tokens+float64(now.Sub(refilled))/float64(perToken))
			}
			if tokens < 1 {
				hold = SendHold{Until: now.Add(time.Duration((1 - tokens) * float64(perToken)))}
				return nil
			}
			n = min(n, int(tokens))
		}
		order := make([]string, 0, len(vocab.SendOrder()))
		for _, k := range vocab.SendOrder() {
			order = append(order, string(k))
		}
		rows, err := tx.Query(ctx, `with claimed as (
				update outbox set state = 'sending', attempts = attempts + 1, next_attempt_at = now() + $1::interval
				where id in (select id from outbox o where state in ('pending', 'sending') and next_attempt_at <= now()
					and not exists (select 1 from outbox e where e.conversation_id = o.conversation_id and e.id < o.id
						and e.state in ('pending', 'sending'))
					order by coalesce(array_position($2::text[], kind), 1000), id limit $3 for update skip locked)
				returning *)
			select `+outboxCols+` from claimed o join outbox_content oc on oc.id = o.id
			left join conversations c on c.id = o.conversation_id
			order by coalesce(array_position($2::text[], o.kind), 1000), o.id`, lease, order, max(n, 1))
		if err != nil {
			return fmt.Errorf("claim outbox: %w", err)
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxMessage, error) { return s.scanOutbox(r) })
		if err != nil {
			return fmt.Errorf("claim outbox: %w", err)
		}
		if len(out) == 0 {
			probe = false
			return nil // nothing due: the bucket keeps its tokens
		}
		if lim.Rate > 0 || probe {
			if _, err := tx.Exec(ctx, `update send_control set tokens = $1, refilled_at = $2::timestamptz,
				paused_until = case when $3::boolean then $2::timestamptz + $4::interval else paused_until end where id = 1`,
				max(tokens-float64(len(out)), 0), now, probe, ProbeHold); err != nil {
				return fmt.Errorf("update send control: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, SendHold{}, false, err
	}
	return out, hold, probe, nil
}

// dailyHold returns when the rolling 24-hour window will have room for one
// more recipient, or the zero time and how many more fit when it has room
// now. Rows being sent count as sent.
func dailyHold(ctx context.Context, tx pgx.Tx, daily int, now time.Time) (time.Time, int, error) {
	var sent, sending int
	if err := tx.QueryRow(ctx, `select (select count(*) from outbox where sent_at > $1::timestamptz - interval '24 hours'),
		(select count(*) from outbox where state = 'sending' and next_attempt_at > $1)`, now).Scan(&sent, &sending); err != nil {
		return time.Time{}, 0, fmt.Errorf("count emails sent in 24 hours: %w", err)
	}
	over := sent + sending - daily
	if over < 0 {
		return time.Time{}, -over, nil
	}
	if over >= sent {
		// The rows being sent fill the budget: look again when they are done.
		return now.Add(ProbeHold), 0, nil
	}
	var oldest time.Time
	if err := tx.QueryRow(ctx, `select sent_at from outbox where sent_at > $1::timestamptz - interval '24 hours'
		order by sent_at offset $2 limit 1`, now, over).Scan(&oldest); err != nil {
		return time.Time{}, 0, fmt.Errorf("find when the daily budget frees: %w", err)
	}
	return oldest.Add(24 * time.Hour), 0, nil
}

// PauseSending pauses every sender after a refusal about the sender (see
// notify's refusal table): the pause lasts delay(n), n being the refusals
// in a row including this one, but a quota pause ends when the daily
// window (daily > 0) frees sooner. It returns the time sending resumes
// with one probing email.
func (s *Store) PauseSending(ctx context.Context, reason vocab.PauseReason, delay func(n int) time.Duration, daily int) (time.Time, error) {
	var until time.Time
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var n int
		var now time.Time
		if err := tx.QueryRow(ctx, `update send_control set pause_failures = pause_failures + 1 where id = 1
			returning pause_failures, now()`).Scan(&n, &now); err != nil {
			return fmt.Errorf("pause sending: %w", err)
		}
		until = now.Add(delay(n))
		if reason == vocab.PauseQuota && daily > 0 {
			free, _, err := dailyHold(ctx, tx, daily, now)
			if err != nil {
				return err
			}
			if free.IsZero() || free.Before(now.Add(time.Minute)) {
				free = now.Add(time.Minute)
			}
			if free.Before(until) {
				until = free
			}
		}
		if _, err := tx.Exec(ctx, `update send_control set paused_until = $1, pause_reason = $2 where id = 1`, until, string(reason)); err != nil {
			return fmt.Errorf("pause sending: %w", err)
		}
		return nil
	})
	return until, err
}

// ResumeSending ends a pause after an email was accepted: the other
// senders claim again at once.
func (s *Store) ResumeSending(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `update send_control set paused_until = null, pause_reason = '', pause_failures = 0
		where id = 1 and (paused_until is not null or pause_failures > 0)`); err != nil {
		return fmt.Errorf("resume sending: %w", err)
	}
	return nil
}

// ReleaseOutbox gives back claimed emails that were not sent (a pass that
// stopped, a refusal about the sender): due again at once, failed for
// nothing, with the claim's attempt taken back when undo is true (nothing
// was submitted).
func (s *Store) ReleaseOutbox(ctx context.Context, ids []int64, undo bool) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `update outbox set state = 'pending', next_attempt_at = now(),
		attempts = case when $2 then greatest(attempts - 1, 0) else attempts end
		where id = any($1) and state = 'sending'`, ids, undo); err != nil {
		return fmt.Errorf("release %d outbox rows: %w", len(ids), err)
	}
	return nil
}

// RenewOutbox extends the lease of claimed emails still being sent.
func (s *Store) RenewOutbox(ctx context.Context, ids []int64, lease time.Duration) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `update outbox set next_attempt_at = now() + $2::interval
		where id = any($1) and state = 'sending'`, ids, lease); err != nil {
		return fmt.Errorf("renew the lease of %d outbox rows: %w", len(ids), err)
	}
	return nil
}

// SendStatus is the state of sending for the mailbox as a whole, for
// /metrics and the outgoing-mail page.
type SendStatus struct {
	Paused  bool
	Reason  vocab.PauseReason // why, when Paused
	Until   time.Time         // when sending resumes, when Paused
	Sent24h int               // recipients sent in the last 24 hours
	Daily   int               // the budget (0: none)
}

// SendingStatus reads the pause and counts the last 24 hours' sends
// against daily (OPTOUT_SMTP_DAILY_LIMIT; 0 for none).
func (s *Store) SendingStatus(ctx context.Context, daily int) (SendStatus, error) {
	st := SendStatus{Daily: daily}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var paused *time.Time
		var reason string
		var now time.Time
		if err := tx.QueryRow(ctx, `select paused_until, pause_reason, now(),
			(select count(*) from outbox where sent_at > now() - interval '24 hours') from send_control where id = 1`).
			Scan(&paused, &reason, &now, &st.Sent24h); err != nil {
			return fmt.Errorf("read send control: %w", err)
		}
		if paused != nil && paused.After(now) && reason != "" {
			st.Paused, st.Reason, st.Until = true, vocab.PauseReason(reason), *paused
			return nil
		}
		if daily > 0 {
			until, _, err := dailyHold(ctx, tx, daily, now)
			if err != nil {
				return err
			}
			if !until.IsZero() {
				st.Paused, st.Reason, st.Until = true, vocab.PauseDailyLimit, until
			}
		}
		return nil
	})
	return st, err
}

// Words says the status in a sentence for staff, in loc's clock, e.g.
// "Sending paused until 14:05: daily limit of 10,000 reached"; "" when
// sending is not paused.
func (st SendStatus) Words(loc *time.Location) string {
	if !st.Paused {
		return ""
	}
	if loc == nil {
		loc = time.Local
	}
	why := map[vocab.PauseReason]string{
		vocab.PauseOutage:     "the mail server cannot be reached",
		vocab.PauseThrottled:  "the mail server asked us to slow down",
		vocab.PauseQuota:      "the mail server refuses more mail from this mailbox for now",
		vocab.PauseDailyLimit: "daily limit of " + thousands(st.Daily) + " reached",
	}[st.Reason]
	return "Sending paused until " + st.Until.In(loc).Format("15:04") + ": " + why
}

// thousands writes n with commas: 10000 → "10,000".
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// SMTPConnections is how many SMTP connections the whole deployment may
// hold at once: Exchange Online refuses a mailbox's fourth (432 4.3.2).
const SMTPConnections = 3

// AcquireSMTPSlot waits (until ctx ends) for one of the SMTPConnections
// slots: a session advisory lock on a connection of its own, held until
// release is called or the process dies (PostgreSQL ends the session and
// the lock with it). A sender holds a slot for as long as its SMTP
// connection is open.
func (s *Store) AcquireSMTPSlot(ctx context.Context) (release func(), err error) {
	for {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("take an SMTP connection slot: connect to database: %w", err)
		}
		for slot := range SMTPConnections {
			key := fmt.Sprintf("optout-smtp:%s:%d", s.schema, slot)
			var ok bool
			if err := conn.QueryRow(ctx, `select pg_try_advisory_lock(hashtextextended($1, 0))`, key).Scan(&ok); err != nil {
				conn.Release()
				return nil, fmt.Errorf("take an SMTP connection slot: %w", err)
			}
			if ok {
				return advisoryRelease(conn, key), nil
			}
		}
		conn.Release()
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("take an SMTP connection slot: all %d are held: %w", SMTPConnections, ctx.Err())
		case <-t.C:
		}
	}
}
