package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ncl-icb/optout-intake/vocab"
)

// OutboxState is the delivery state of an outbox row.
type OutboxState string

// The outbox states.
const (
	OutboxPending       OutboxState = "pending"       // waiting for its next attempt
	OutboxSending       OutboxState = "sending"       // claimed by a worker until its lease ends
	OutboxSent          OutboxState = "sent"          // accepted by the SMTP server
	OutboxFailed        OutboxState = "failed"        // permanently refused; a triage item was raised
	OutboxUndeliverable OutboxState = "undeliverable" // bounced; a triage item was raised
)

// OutboxMessage is one email to send, opened for the sender. To, Subject and
// Body are personal data: never log them (log ID, Kind and Reference).
type OutboxMessage struct {
	ID             int64
	Kind           vocab.Kind
	ConversationID int64
	SubmissionID   int64
	Reference      string
	To             string
	Subject        string
	Body           string
	MessageID      string
	InReplyTo      string
	References     []string
	State          OutboxState
	Attempts       int
	LastError      string
	CreatedAt      time.Time
	SentAt         *time.Time
}

const outboxCols = `o.id, o.kind, coalesce(o.conversation_id, 0), coalesce(o.submission_id, 0), coalesce(c.reference, ''),
	o.recipient, c.address, oc.subject, oc.body, o.message_id, o.in_reply_to, o.refs, o.state, o.attempts, o.last_error, o.created_at, o.sent_at`

func (s *Store) scanOutbox(row pgx.Row) (OutboxMessage, error) {
	var m OutboxMessage
	var to, convTo, subj, body []byte
	var refs string
	if err := row.Scan(&m.ID, &m.Kind, &m.ConversationID, &m.SubmissionID, &m.Reference, &to, &convTo, &subj, &body, &m.MessageID,
		&m.InReplyTo, &refs, &m.State, &m.Attempts, &m.LastError, &m.CreatedAt, &m.SentAt); err != nil {
		return m, err
	}
	m.References = strings.Fields(refs)
	var err error
	if to != nil {
		m.To, err = s.keys.openString("outbox.recipient", to)
	} else {
		m.To, err = s.keys.openString("conversations.address", convTo)
	}
	if err != nil {
		return m, err
	}
	if m.Subject, err = s.keys.openString("outbox.subject", subj); err != nil {
		return m, err
	}
	m.Body, err = s.keys.openString("outbox.body", body)
	return m, err
}

// queueEmail queues a sealed email in tx, deriving the key from the
// submission or conversation. It returns ErrDuplicate for a repeated key.
func queueEmail(ctx context.Context, tx pgx.Tx, se sealedEmail, convID, subID int64, keyScope string) (int64, error) {
	e := se.e
	key := e.Key
	if key == "" {
		switch {
		case keyScope != "":
			key = string(e.Kind) + "/" + keyScope
		case subID != 0:
			key = fmt.Sprintf("%s/sub/%d", e.Kind, subID)
		default:
			key = fmt.Sprintf("%s/conv/%d", e.Kind, convID)
		}
	}
	var conv, sub *int64
	if convID != 0 {
		conv = &convID
	}
	if subID != 0 {
		sub = &subID
	}
	var id int64
	err := tx.QueryRow(ctx, sqlQueueEmail, key, string(e.Kind), conv, sub, se.to, se.hash, se.subject, se.body,
		strings.Trim(strings.TrimSpace(e.MessageID), "<>"), e.InReplyTo, strings.Join(e.References, " "), nil).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("queue %s email: %w", e.Kind, ErrDuplicate)
	}
	if err != nil {
		return 0, fmt.Errorf("queue %s email: %w", e.Kind, err)
	}
	return id, nil
}

// ClaimOutbox claims up to n due emails (pending ones whose next attempt has
// come, and sending ones whose lease ran out because a worker died), counts
// the attempt and leases them for lease. Workers calling it together get
// disjoint rows. Report each with MarkSent, RetryOutbox or FailOutbox.
func (s *Store) ClaimOutbox(ctx context.Context, n int, lease time.Duration) ([]OutboxMessage, error) {
	rows, err := s.pool.Query(ctx, `with claimed as (
			update outbox set state = 'sending', attempts = attempts + 1, next_attempt_at = now() + $2::interval
			where id in (select id from outbox where state in ('pending', 'sending') and next_attempt_at <= now()
				order by next_attempt_at, id limit $1 for update skip locked)
			returning *)
		select `+outboxCols+` from claimed o join outbox_content oc on oc.id = o.id left join conversations c on c.id = o.conversation_id order by o.id`, n, lease)
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxMessage, error) { return s.scanOutbox(r) })
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	return out, nil
}

// MarkSent records that an email was accepted by the SMTP server. messageID
// (angle brackets optional) is the Message-ID of the bytes sent: the row is
// marked only when it is that row's, so a mix-up can never mark another
// email sent (ErrNotFound).
func (s *Store) MarkSent(ctx context.Context, id int64, messageID string) error {
	tag, err := s.pool.Exec(ctx, `update outbox set state = 'sent', sent_at = now(), last_error = ''
		where id = $1 and message_id = $2 and state in ('pending', 'sending')`, id, strings.Trim(strings.TrimSpace(messageID), "<>"))
	if err != nil {
		return fmt.Errorf("mark outbox %d sent: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("outbox %d waiting to be sent: %w", id, ErrNotFound)
	}
	return nil
}

// MarkSentMany records that several emails were accepted by the SMTP server,
// in one synchronous transaction (one commit for a whole batch of sends).
// It returns how many rows it marked: a row already marked (for example
// sent again by another worker after its lease ran out) is left alone.
// Until the commit, the rows stay "sending" under their lease, and a crash
// there sends them again with identical bytes and Message-IDs.
func (s *Store) MarkSentMany(ctx context.Context, ids []int64) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `update outbox set state = 'sent', sent_at = now(), last_error = ''
		where id = any($1) and state in ('pending', 'sending')`, ids)
	if err != nil {
		return 0, fmt.Errorf("mark %d outbox rows sent: %w", len(ids), err)
	}
	return int(tag.RowsAffected()), nil
}

// RetryOutbox records a temporary failure (4xx, network) with errText (no
// personal data) and makes the row due again at next: the time the
// sender's retry policy computed (internal/retry), stored as it is, so the
// backoff and its jitter are what decide when the row is tried again.
func (s *Store) RetryOutbox(ctx context.Context, id int64, next time.Time, errText string) error {
	tag, err := s.pool.Exec(ctx, `update outbox set state = 'pending', next_attempt_at = $2, last_error = left($3, 500)
		where id = $1 and state in ('pending', 'sending')`, id, next, errText)
	if err != nil {
		return fmt.Errorf("retry outbox %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("outbox %d waiting to be sent: %w", id, ErrNotFound)
	}
	return nil
}

// FailOutbox records a permanent failure (5xx) with errText (no personal
// data) and raises a triage item (ReasonSendFailed) in the same transaction.
func (s *Store) FailOutbox(ctx context.Context, id int64, errText string) error {
	return s.endOutbox(ctx, `id = $1 and state in ('pending', 'sending')`, id, OutboxFailed, vocab.ReasonSendFailed, errText)
}

// CancelOutbox ends an email the sender refused to send because its
// recipient is a machine (a bounce address, a no-reply sender, our own
// address): the row is failed with errText (no personal data) and audited
// as outbox.cancelled, but no triage item is raised, since nobody needs to
// act on it. ErrNotFound when the row is not waiting to be sent.
func (s *Store) CancelOutbox(ctx context.Context, id int64, errText string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `update outbox set state = 'failed', last_error = left($2, 500)
			where id = $1 and state in ('pending', 'sending')`, id, errText)
		if err != nil {
			return fmt.Errorf("cancel outbox %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("cancel outbox %d: %w", id, ErrNotFound)
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: System, Action: "outbox.cancelled", ObjectType: "outbox", ObjectID: id})
	})
}

// MarkUndeliverable marks the email that carried messageID (angle brackets
// optional) undeliverable after a bounce and raises a triage item
// (ReasonUndeliverable). ErrNotFound when the id is not one of ours.
func (s *Store) MarkUndeliverable(ctx context.Context, messageID, detail string) error {
	return s.endOutbox(ctx, `message_id = $1 and state <> 'undeliverable'`, strings.Trim(strings.TrimSpace(messageID), "<>"), OutboxUndeliverable, vocab.ReasonUndeliverable, detail)
}

func (s *Store) endOutbox(ctx context.Context, where string, arg any, state OutboxState, reason vocab.Reason, errText string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var id int64
		var conv, sub *int64
		err := tx.QueryRow(ctx, `update outbox set state = $2, last_error = left($3, 500) where `+where+`
			returning id, conversation_id, submission_id`, arg, string(state), errText).Scan(&id, &conv, &sub)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("mark outbox email %s: %w", state, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("mark outbox email %s: %w", state, err)
		}
		if _, err := tx.Exec(ctx, `insert into triage (outbox_id, conversation_id, submission_id, reason, due_by)
			values ($1, $2, $3, $4, now() + interval '1 month') on conflict do nothing`, id, conv, sub, reason); err != nil {
			return fmt.Errorf("raise triage for outbox %d: %w", id, err)
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: System, Action: "outbox." + string(state), ObjectType: "outbox", ObjectID: id})
	})
}

// OutboxFilter selects outbox rows. Zero fields match everything.
type OutboxFilter struct {
	ConversationID int64
	SubmissionID   int64
	Kind           vocab.Kind
	State          OutboxState
	Limit          int // default 100
}

// ListOutbox lists outbox rows, oldest first, opened.
func (s *Store) ListOutbox(ctx context.Context, f OutboxFilter) ([]OutboxMessage, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	rows, err := s.pool.Query(ctx, `select `+outboxCols+` from outbox o join outbox_content oc on oc.id = o.id left join conversations c on c.id = o.conversation_id
		where ($1 = 0 or o.conversation_id = $1) and ($2 = 0 or o.submission_id = $2) and ($3 = '' or o.kind = $3) and ($4 = '' or o.state = $4)
		order by o.id limit $5`, f.ConversationID, f.SubmissionID, string(f.Kind), string(f.State), f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxMessage, error) { return s.scanOutbox(r) })
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return out, nil
}

// OutboxStats counts rows by state and gives the oldest pending row's
// creation time (nil when none), for metrics.
func (s *Store) OutboxStats(ctx context.Context) (counts map[OutboxState]int, oldestPending *time.Time, err error) {
	rows, err := s.pool.Query(ctx, `select state, count(*), min(created_at) from outbox group by state`)
	if err != nil {
		return nil, nil, fmt.Errorf("count outbox: %w", err)
	}
	defer rows.Close()
	counts = map[OutboxState]int{}
	for rows.Next() {
		var st OutboxState
		var n int
		var oldest time.Time
		if err := rows.Scan(&st, &n, &oldest); err != nil {
			return nil, nil, fmt.Errorf("count outbox: %w", err)
		}
		counts[st] = n
		if st == OutboxPending || st == OutboxSending {
			if oldestPending == nil || oldest.Before(*oldestPending) {
				o := oldest
				oldestPending = &o
			}
		}
	}
	return counts, oldestPending, rows.Err()
}
