package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// LedgerState is the processing state of a ledger row.
type LedgerState string

// The ledger states.
const (
	LedgerNew        LedgerState = "new"        // recorded, not yet processed
	LedgerProcessing LedgerState = "processing" // a worker has it in hand
	LedgerDone       LedgerState = "done"       // its outcome is committed: never process again
	LedgerFailed     LedgerState = "failed"     // processing failed; retried after NextAttemptAt
)

// IncomingMessage describes a message fetched from a mailbox.
type IncomingMessage struct {
	Mailbox     string
	UIDValidity uint32
	UID         uint32
	MessageID   string // the Message-ID the mailbox reported, "" when absent; the duplicate check's blind index
	ReceivedAt  time.Time
	Size        int64
	Kind        string // extract.Kind or "" when not yet known
	Raw         []byte // the whole message; sealed; nil when too large to keep
	// Header is what later steps need from the message's header, read
	// once (message.ParseHeader) and kept with the row: sealed where
	// personal (see MessageHeader).
	Header MessageHeader
}

// MessageHeader is what later steps need from a message's header: the
// processor (sender, threading, subject), a retry, and the triage page
// (threading a staff reply) read it instead of parsing the raw message
// again. The address, subject and threading ids are sealed at rest and
// cleared by the purge with the raw message; the date is kept in clear.
type MessageHeader struct {
	From       string    // the sender's address, "" when none
	MessageID  string    // without angle brackets
	InReplyTo  string    // without angle brackets
	References []string  // without angle brackets, oldest first
	Subject    string    // decoded
	Date       time.Time // zero when missing or unreadable
}

// sealedHeader is a MessageHeader as the ledger keeps it.
type sealedHeader struct {
	sender, senderHash, subject, threading []byte
	sentAt                                 *time.Time
}

// sealHeader seals h for the ledger; a header with nothing in it (a caller
// that read none) is left out, and readers fall back to the raw copy.
func (s *Store) sealHeader(h MessageHeader) (sealedHeader, error) {
	var sh sealedHeader
	var err error
	if h.From == "" && h.MessageID == "" && h.InReplyTo == "" && len(h.References) == 0 && h.Subject == "" && h.Date.IsZero() {
		return sh, nil
	}
	if h.From != "" {
		if sh.sender, err = s.keys.sealString("ledger.sender", NormaliseAddress(h.From)); err != nil {
			return sh, err
		}
		sh.senderHash = s.keys.AddressHash(h.From)
	}
	if sh.subject, err = s.keys.sealString("ledger.subject", h.Subject); err != nil {
		return sh, err
	}
	ids := append([]string{h.MessageID, h.InReplyTo}, h.References...)
	for i, id := range ids {
		ids[i] = strings.NewReplacer("\r", "", "\n", "").Replace(id)
	}
	if sh.threading, err = s.keys.sealString("ledger.threading", strings.Join(ids, "\n")); err != nil {
		return sh, err
	}
	if !h.Date.IsZero() {
		sh.sentAt = &h.Date
	}
	return sh, nil
}

// MessageHeader returns the header facts recorded with a ledger row. ok is
// false when the row has none: recorded before they were kept (migration
// 004), or purged.
func (s *Store) MessageHeader(ctx context.Context, ledgerID int64) (h MessageHeader, ok bool, err error) {
	var sealed sealedHeader
	err = s.pool.QueryRow(ctx, `select sender, subject, threading, sent_at from ledger where id = $1`, ledgerID).
		Scan(&sealed.sender, &sealed.subject, &sealed.threading, &sealed.sentAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return h, false, ErrNotFound
	}
	if err != nil {
		return h, false, fmt.Errorf("read message header of ledger row %d: %w", ledgerID, err)
	}
	return s.openHeader(sealed)
}

// openHeader opens the header columns of one ledger row (sealHeader's
// reverse; the sender's blind index is not needed); ok is false when the
// row was recorded before they were kept.
func (s *Store) openHeader(sealed sealedHeader) (h MessageHeader, ok bool, err error) {
	if sealed.threading == nil {
		return h, false, nil
	}
	if sealed.sender != nil {
		if h.From, err = s.keys.openString("ledger.sender", sealed.sender); err != nil {
			return h, false, err
		}
	}
	if h.Subject, err = s.keys.openString("ledger.subject", sealed.subject); err != nil {
		return h, false, err
	}
	ids, err := s.keys.openString("ledger.threading", sealed.threading)
	if err != nil {
		return h, false, err
	}
	parts := strings.Split(ids, "\n")
	h.MessageID, h.InReplyTo = parts[0], parts[1]
	if len(parts) > 2 {
		h.References = parts[2:]
	}
	if sealed.sentAt != nil {
		h.Date = *sealed.sentAt
	}
	return h, true, nil
}

// LedgerEntry is one ledger row, without the raw message.
type LedgerEntry struct {
	ID            int64
	Mailbox       string
	UIDValidity   uint32
	UID           uint32
	ReceivedAt    time.Time
	Size          int64
	Kind          string // extract.Kind, "" when not yet known; a held message may be intake.HeldKindQuestion
	State         LedgerState
	Action        string
	Attempts      int
	LastError     string
	NextAttemptAt *time.Time
	HasRaw        bool
	// RecordedAt is when the ledger recorded the message, by our clock
	// (ReceivedAt is the mailbox's, to the second only): with ReceivedAt it
	// places a message among the replies we queued (the thread on the
	// item page).
	RecordedAt time.Time
}

const ledgerCols = `id, mailbox, uidvalidity, uid, received_at, size, kind, state, action, attempts, last_error, next_attempt_at, raw is not null, created_at`

func scanLedger(row pgx.Row) (LedgerEntry, error) { return scanLedgerWith(row) }

// scanLedgerWith scans ledgerCols followed by the columns more selects
// into those destinations.
func scanLedgerWith(row pgx.Row, more ...any) (LedgerEntry, error) {
	var e LedgerEntry
	var uv, uid int64
	dest := append([]any{&e.ID, &e.Mailbox, &uv, &uid, &e.ReceivedAt, &e.Size, &e.Kind, &e.State, &e.Action, &e.Attempts,
		&e.LastError, &e.NextAttemptAt, &e.HasRaw, &e.RecordedAt}, more...)
	err := row.Scan(dest...)
	e.UIDValidity, e.UID = uint32(uv), uint32(uid)
	return e, err
}

// RecordMessage inserts a ledger row for a fetched message, or returns the
// existing one when the same (mailbox, UIDVALIDITY, UID) or the same
// Message-ID was recorded before. created reports a new row. The caller
// processes the message only when the entry's State is not LedgerDone; for a
// re-fetched or re-delivered message that is already done this is a no-op.
func (s *Store) RecordMessage(ctx context.Context, m IncomingMessage) (entry LedgerEntry, created bool, err error) {
	var raw []byte
	if m.Raw != nil {
		if raw, err = s.keys.Seal("ledger.raw", m.Raw); err != nil {
			return LedgerEntry{}, false, err
		}
	}
	if m.ReceivedAt.IsZero() {
		m.ReceivedAt = time.Now()
	}
	sh, err := s.sealHeader(m.Header)
	if err != nil {
		return LedgerEntry{}, false, err
	}
	hash := s.keys.messageIDHash(m.MessageID)
	for range 3 {
		// One round trip: BEGIN, an asynchronous commit for this
		// transaction only, insert-or-get, COMMIT. Losing this commit in a
		// database crash is harmless (docs/pipeline.md): the message is
		// still in the inbox above the stored last UID, so it is fetched
		// and recorded again, and every later synchronous commit (the
		// outcome, a failure) flushes this one to disk first.
		b := &pgx.Batch{}
		b.Queue(`begin`)
		b.Queue(`set local synchronous_commit to off`)
		b.Queue(sqlRecordMessage, m.Mailbox, int64(m.UIDValidity), int64(m.UID), hash, m.ReceivedAt, m.Size, m.Kind, raw,
			sh.sender, sh.senderHash, sh.subject, sh.threading, sh.sentAt)
		b.Queue(`commit`)
		found := false
		err = s.pipelinedTx(ctx, func(conn *pgx.Conn) error {
			br := conn.SendBatch(ctx, b)
			defer br.Close()
			for range 2 {
				if _, err := br.Exec(); err != nil {
					return err
				}
			}
			var e LedgerEntry
			var uv, uid int64
			err := br.QueryRow().Scan(&created, &e.ID, &e.Mailbox, &uv, &uid, &e.ReceivedAt, &e.Size, &e.Kind, &e.State, &e.Action,
				&e.Attempts, &e.LastError, &e.NextAttemptAt, &e.HasRaw, &e.RecordedAt)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				// The conflicting row was made by a transaction that
				// committed after this statement's snapshot: look again.
			case err != nil:
				return err
			default:
				e.UIDValidity, e.UID = uint32(uv), uint32(uid)
				entry, found = e, true
			}
			if _, err := br.Exec(); err != nil {
				return err
			}
			return br.Close()
		})
		if err != nil {
			return LedgerEntry{}, false, fmt.Errorf("record message uid %d in ledger: %w", m.UID, err)
		}
		if found {
			return entry, created, nil
		}
	}
	return LedgerEntry{}, false, fmt.Errorf("record message uid %d in ledger: conflicting row keeps vanishing; retry later", m.UID)
}

// sqlRecordMessage inserts a ledger row, or, when either unique key is
// already taken, returns the existing row: one statement, so one round
// trip. The first column says whether the row was created.
const sqlRecordMessage = `with ins as (
		insert into ledger (mailbox, uidvalidity, uid, message_id_hash, received_at, size, kind, raw,
			sender, sender_hash, subject, threading, sent_at)
		values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		on conflict do nothing
		returning true, ` + ledgerCols + `)
	select * from ins
	union all
	(select false, ` + ledgerCols + ` from ledger
		where ((mailbox, uidvalidity, uid) = ($1, $2, $3) or message_id_hash = $4) and not exists (select 1 from ins)
		order by id limit 1)`

// Message returns one ledger row.
func (s *Store) Message(ctx context.Context, id int64) (LedgerEntry, error) {
	e, err := scanLedger(s.pool.QueryRow(ctx, `select `+ledgerCols+` from ledger where id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return e, fmt.Errorf("ledger row %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("read ledger row %d: %w", id, err)
	}
	return e, nil
}

// RawMessage returns the original message of a ledger row, and writes an
// audit entry (message.view) when a member of staff reads it (actor !=
// System). It returns ErrNotFound when the row is unknown or its raw message
// was purged.
func (s *Store) RawMessage(ctx context.Context, id int64, actor Actor) ([]byte, error) {
	return s.rawMessage(ctx, id, actor, "message.view")
}

// RawMessageDownload is RawMessage for a member of staff saving the
// original as a file, audited as message.download.
func (s *Store) RawMessageDownload(ctx context.Context, id int64, actor Actor) ([]byte, error) {
	return s.rawMessage(ctx, id, actor, "message.download")
}

func (s *Store) rawMessage(ctx context.Context, id int64, actor Actor, action string) ([]byte, error) {
	var sealed []byte
	err := s.pool.QueryRow(ctx, `select raw from ledger where id = $1 and raw is not null`, id).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("raw message of ledger row %d (unknown or purged): %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read raw message of ledger row %d: %w", id, err)
	}
	raw, err := s.keys.Open("ledger.raw", sealed)
	if err != nil {
		return nil, err
	}
	if actor != System {
		if err := s.WriteAudit(ctx, AuditEntry{Actor: actor, Action: action, ObjectType: "ledger", ObjectID: id}); err != nil {
			return nil, err
		}
	}
	return raw, nil
}

// StartMessage marks a ledger row processing and counts the attempt. It
// returns ErrAlreadyDone when the row is done.
func (s *Store) StartMessage(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `update ledger set state = 'processing', attempts = attempts + 1, updated_at = now()
		where id = $1 and state <> 'done'`, id)
	if err != nil {
		return fmt.Errorf("mark ledger row %d processing: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return s.notDone(ctx, id)
	}
	return nil
}

func (s *Store) notDone(ctx context.Context, id int64) error {
	var st LedgerState
	err := s.pool.QueryRow(ctx, `select state from ledger where id = $1`, id).Scan(&st)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("ledger row %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("read ledger row %d: %w", id, err)
	}
	return fmt.Errorf("ledger row %d: %w", id, ErrAlreadyDone)
}

// FailMessage records that processing a ledger row failed. errText must not
// contain personal data (use an error code or a fixed sentence). The row is
// retried after an exponential backoff with jitter on its attempts (the
// project's one policy, internal/retry); it never moves a done row. It returns the time of the next attempt.
func (s *Store) FailMessage(ctx context.Context, id int64, errText string) (time.Time, error) {
	var attempts int
	err := s.pool.QueryRow(ctx, `select attempts from ledger where id = $1`, id).Scan(&attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, fmt.Errorf("ledger row %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read ledger row %d: %w", id, err)
	}
	next := s.retry.Next(time.Now(), max(attempts, 1))
	tag, err := s.pool.Exec(ctx, `update ledger set state = 'failed', last_error = left($2, 500), next_attempt_at = $3, updated_at = now()
		where id = $1 and state <> 'done'`, id, errText, next)
	if err != nil {
		return time.Time{}, fmt.Errorf("mark ledger row %d failed: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return time.Time{}, fmt.Errorf("ledger row %d: %w", id, ErrAlreadyDone)
	}
	return next, nil
}

// ClaimFailedMessages claims up to n failed rows whose next attempt is due
// (or every failed row when force is set), marks them processing and returns
// them. Replicas calling it together get disjoint rows. (A failed row
// always has a next attempt time; saying so lets the query use the
// ledger_retry index.)
func (s *Store) ClaimFailedMessages(ctx context.Context, n int, force bool) ([]LedgerEntry, error) {
	return queryAll(ctx, s.pool, "claim failed messages", scanLedger, `update ledger set state = 'processing', attempts = attempts + 1, updated_at = now()
		where id in (select id from ledger where state = 'failed' and next_attempt_at is not null and ($2 or next_attempt_at <= now())
			order by id limit $1 for update skip locked)
		returning `+ledgerCols, n, force)
}

// ListFailedMessages lists failed rows, oldest first (for an operator).
func (s *Store) ListFailedMessages(ctx context.Context, limit int) ([]LedgerEntry, error) {
	return queryAll(ctx, s.pool, "list failed messages", scanLedger, `select `+ledgerCols+` from ledger where state = 'failed' and next_attempt_at is not null order by id limit $1`, limit)
}

// MessagesForReference lists the ledger rows that belong to a conversation:
// the one that opened it and those that carried its submissions.
func (s *Store) MessagesForReference(ctx context.Context, ref string) ([]LedgerEntry, error) {
	return queryAll(ctx, s.pool, "list messages of a reference", scanLedger, `select `+ledgerCols+` from ledger where id in (
			select c.ledger_id from conversations c where c.reference = $1
			union select s.ledger_id from submissions s join conversations c on c.id = s.conversation_id where c.reference = $1
			union select t.ledger_id from triage t join conversations c on c.id = t.conversation_id where c.reference = $1)
		order by id`, ref)
}

// ReopenMessage puts a ledger row back to "new" so it is processed again
// after a fix (`optoutd reprocess`). Forms already recorded from it are not
// recorded twice: submissions are unique per (message, position) and outbox
// rows per idempotency key. Audited.
func (s *Store) ReopenMessage(ctx context.Context, id int64, actor Actor) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `update ledger set state = 'new', next_attempt_at = null, updated_at = now() where id = $1`, id)
		if err != nil {
			return fmt.Errorf("reopen ledger row %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("ledger row %d: %w", id, ErrNotFound)
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: actor, Action: "message.reprocess", ObjectType: "ledger", ObjectID: id})
	})
}

// MailboxPosition is where polling of one mailbox stands.
type MailboxPosition struct {
	UIDValidity uint32
	LastUID     uint32
	LastPollAt  *time.Time
}

// MailboxState returns the stored position of a mailbox, or ErrNotFound
// before the first poll.
func (s *Store) MailboxState(ctx context.Context, mailbox string) (MailboxPosition, error) {
	var p MailboxPosition
	var uv, last int64
	err := s.pool.QueryRow(ctx, `select uidvalidity, last_uid, last_poll_at from mailbox_state where mailbox = $1`, mailbox).Scan(&uv, &last, &p.LastPollAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, fmt.Errorf("mailbox position: %w", ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("read mailbox position: %w", err)
	}
	p.UIDValidity, p.LastUID = uint32(uv), uint32(last)
	return p, nil
}

// SetMailboxState stores a mailbox's position after a poll and the poll
// time. With the same UIDVALIDITY the last UID never goes backwards; a new
// UIDVALIDITY replaces it (the ledger's Message-ID index keeps re-numbered
// messages from being processed again).
func (s *Store) SetMailboxState(ctx context.Context, mailbox string, uidvalidity, lastUID uint32) error {
	_, err := s.pool.Exec(ctx, `insert into mailbox_state (mailbox, uidvalidity, last_uid, last_poll_at) values ($1, $2, $3, now())
		on conflict (mailbox) do update set
			last_uid = case when mailbox_state.uidvalidity = excluded.uidvalidity
				then greatest(mailbox_state.last_uid, excluded.last_uid) else excluded.last_uid end,
			uidvalidity = excluded.uidvalidity, last_poll_at = now(), updated_at = now()`,
		mailbox, int64(uidvalidity), int64(lastUID))
	if err != nil {
		return fmt.Errorf("store mailbox position: %w", err)
	}
	return nil
}

// TryLockMailbox takes the session advisory lock for a mailbox on a
// dedicated connection, so only one poller in the whole deployment works a
// mailbox at a time. ok is false when another session holds it. Call unlock
// (always non-nil when err is nil) to release the lock and the connection.
// If the connection drops, PostgreSQL releases the lock: pollers should call
// again before each poll rather than assume they still hold it.
func (s *Store) TryLockMailbox(ctx context.Context, mailbox string) (unlock func(), ok bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lock mailbox: connect to database: %w", err)
	}
	key := "optout-mailbox:" + s.schema + ":" + mailbox
	if err := conn.QueryRow(ctx, `select pg_try_advisory_lock(hashtextextended($1, 0))`, key).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, fmt.Errorf("lock mailbox: %w", err)
	}
	if !ok {
		conn.Release()
		return func() {}, false, nil
	}
	return advisoryRelease(conn, key), true, nil
}

// advisoryRelease returns the function that gives back the session advisory
// lock key held on conn, and conn to the pool; calls after the first do
// nothing.
func advisoryRelease(conn *pgxpool.Conn, key string) func() {
	var done bool
	return func() {
		if done {
			return
		}
		done = true
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `select pg_advisory_unlock(hashtextextended($1, 0))`, key); err != nil {
			// Closing the session is what guarantees the lock is gone.
			conn.Conn().Close(uctx) //nolint:errcheck
		}
		conn.Release()
	}
}
