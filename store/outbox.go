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
	OutboxCancelled     OutboxState = "cancelled"     // staff decided it must not be sent
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
	return queryAll(ctx, s.pool, "claim outbox", s.scanOutbox, `with claimed as (
			update outbox set state = 'sending', attempts = attempts + 1, next_attempt_at = now() + $2::interval
			where id in (select id from outbox where state in ('pending', 'sending') and next_attempt_at <= now()
				order by next_attempt_at, id limit $1 for update skip locked)
			returning *)
		select `+outboxCols+` from claimed o join outbox_content oc on oc.id = o.id left join conversations c on c.id = o.conversation_id order by o.id`, n, lease)
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

// RefuseOutbox ends an email the sender refused to send because its
// recipient is a machine (a bounce address, a no-reply sender, our own
// address): the row is cancelled with errText (no personal data) and
// audited as outbox.cancelled, but no triage item is raised, since nobody
// needs to act on it. ErrNotFound when the row is not waiting to be sent.
func (s *Store) RefuseOutbox(ctx context.Context, id int64, errText string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `update outbox set state = 'cancelled', last_error = left($2, 500)
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
	return queryAll(ctx, s.pool, "list outbox", s.scanOutbox, `select `+outboxCols+` from outbox o join outbox_content oc on oc.id = o.id left join conversations c on c.id = o.conversation_id
		where ($1 = 0 or o.conversation_id = $1) and ($2 = 0 or o.submission_id = $2) and ($3 = '' or o.kind = $3) and ($4 = '' or o.state = $4)
		order by o.id limit $5`, f.ConversationID, f.SubmissionID, string(f.Kind), string(f.State), f.Limit)
}

// OutboxStats counts rows by state and gives the oldest pending row's
// creation time (nil when none), for metrics.
func (s *Store) OutboxStats(ctx context.Context) (counts map[OutboxState]int, oldestPending *time.Time, err error) {
	return countOldest(ctx, s.pool, "count outbox", func(st OutboxState) bool { return st == OutboxPending || st == OutboxSending },
		`select state, count(*), min(created_at) from outbox group by state`)
}

// OutgoingMail is an email waiting, retrying or refused, for the outgoing
// mail page: who it goes to and how its delivery went, never its text.
// To is personal data: never log it.
type OutgoingMail struct {
	ID          int64
	Kind        vocab.Kind
	Reference   string
	To          string
	State       OutboxState
	Attempts    int
	LastError   string
	NextAttempt time.Time
	CreatedAt   time.Time
}

// ListOutgoing lists the emails that are not sent yet (pending, retrying,
// sending) or were refused (failed, undeliverable), oldest first, up to
// limit, with the true number of them. The view of their addresses is
// audited.
func (s *Store) ListOutgoing(ctx context.Context, limit int, actor Actor) ([]OutgoingMail, int, error) {
	if limit <= 0 {
		limit = 200
	}
	rows, err := s.pool.Query(ctx, `select o.id, o.kind, coalesce(c.reference, ''), o.recipient, c.address, o.state, o.attempts,
			o.last_error, o.next_attempt_at, o.created_at, count(*) over ()
		from outbox o left join conversations c on c.id = o.conversation_id
		where o.state in ('pending', 'sending', 'failed', 'undeliverable') order by o.id limit $1`, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("list outgoing mail: %w", err)
	}
	total := 0
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutgoingMail, error) {
		var m OutgoingMail
		var to, convTo []byte
		if err := r.Scan(&m.ID, &m.Kind, &m.Reference, &to, &convTo, &m.State, &m.Attempts, &m.LastError, &m.NextAttempt, &m.CreatedAt, &total); err != nil {
			return m, err
		}
		var err error
		if to != nil {
			m.To, err = s.keys.openString("outbox.recipient", to)
		} else if convTo != nil {
			m.To, err = s.keys.openString("conversations.address", convTo)
		}
		return m, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list outgoing mail: %w", err)
	}
	err = s.WriteAudit(ctx, AuditEntry{Actor: actor, Action: "outbox.view", ObjectType: "outbox", Detail: fmt.Sprintf("rows=%d", len(out))})
	return out, total, err
}

// RetryOutboxNow makes an email that is waiting, failed or undeliverable
// due now; the sender picks it up on its next pass. A failed or
// undeliverable email's triage item stays open for staff to close.
// Audited. ErrConflict when it is sent, cancelled or being sent.
func (s *Store) RetryOutboxNow(ctx context.Context, id int64, actor Actor) error {
	return s.changeOutbox(ctx, id, actor, "outbox.retry_now", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `update outbox set state = 'pending', next_attempt_at = now() where id = $1`, id)
		return err
	})
}

// CancelOutbox stops an email that is waiting, failed or undeliverable
// from ever being sent. Audited. ErrConflict when it is sent, cancelled or
// being sent.
func (s *Store) CancelOutbox(ctx context.Context, id int64, actor Actor) error {
	return s.changeOutbox(ctx, id, actor, "outbox.cancel", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `update outbox set state = 'cancelled' where id = $1`, id)
		return err
	})
}

// CorrectOutboxAddress sends an email that is waiting, failed or
// undeliverable to a corrected address instead, now: the address is
// sealed like every other, its blind index replaces the old one, and the
// To header of the stored message is rewritten to match. Audited (never
// with the address).
func (s *Store) CorrectOutboxAddress(ctx context.Context, id int64, address string, actor Actor) error {
	address = NormaliseAddress(address)
	if address == "" || strings.ContainsAny(address, "\r\n<>,; ") || !strings.Contains(address, "@") {
		return errors.New("correct outbox address: the new address is not a single email address")
	}
	sealedTo, err := s.keys.sealString("outbox.recipient", address)
	if err != nil {
		return err
	}
	return s.changeOutbox(ctx, id, actor, "outbox.correct_address", func(tx pgx.Tx) error {
		var sealedBody []byte
		if err := tx.QueryRow(ctx, `select body from outbox_content where id = $1`, id).Scan(&sealedBody); err != nil {
			return err
		}
		body, err := s.keys.openString("outbox.body", sealedBody)
		if err != nil {
			return err
		}
		if sealedBody, err = s.keys.sealString("outbox.body", replaceToHeader(body, address)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `update outbox_content set body = $2 where id = $1`, id, sealedBody); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `update outbox set recipient = $2, recipient_hash = $3, state = 'pending', next_attempt_at = now()
			where id = $1`, id, sealedTo, s.keys.AddressHash(address))
		return err
	})
}

// replaceToHeader rewrites the To field of a composed message's header
// (the composer writes it on one line) to address.
func replaceToHeader(raw, address string) string {
	head, rest, ok := strings.Cut(raw, "\r\n\r\n")
	if !ok {
		return raw
	}
	lines := strings.Split(head, "\r\n")
	for i, l := range lines {
		if len(l) >= 3 && strings.EqualFold(l[:3], "to:") {
			lines[i] = "To: <" + address + ">"
			break
		}
	}
	return strings.Join(lines, "\r\n") + "\r\n\r\n" + rest
}

// changeOutbox locks an actionable outbox row, runs change and audits it,
// in one transaction.
func (s *Store) changeOutbox(ctx context.Context, id int64, actor Actor, action string, change func(pgx.Tx) error) error {
	if actor == System {
		return fmt.Errorf("%s: a staff actor is required", action)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var state OutboxState
		var ref string
		err := tx.QueryRow(ctx, `select o.state, coalesce(c.reference, '') from outbox o left join conversations c on c.id = o.conversation_id
			where o.id = $1 for update of o`, id).Scan(&state, &ref)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("outbox email %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("%s %d: %w", action, id, err)
		}
		if state != OutboxPending && state != OutboxFailed && state != OutboxUndeliverable {
			return fmt.Errorf("%s %d: the email is %s: %w", action, id, state, ErrConflict)
		}
		if err := change(tx); err != nil {
			return fmt.Errorf("%s %d: %w", action, id, err)
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: actor, Action: action, ObjectType: "outbox", ObjectID: id, Reference: ref,
			Detail: "was=" + string(state)})
	})
}
