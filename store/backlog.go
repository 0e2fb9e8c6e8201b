package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// LedgerHeldPrefix starts the ledger action of a message held back (old
// mail, mail from before the go-live moment, mail answered by hand): the
// message is left in the inbox, never answered, until staff release it
// (`optoutd backlog --apply`). The intake package writes the codes after it
// (held_old, held_before_start, held_answered).
const LedgerHeldPrefix = "inbox:held_"

// sqlHeld selects held rows (the prefix's underscore escaped for LIKE).
const sqlHeld = `state = 'done' and action like 'inbox:held\_%'`

// HoldMessage completes a ledger row as held back with action (which must
// start with LedgerHeldPrefix) and kind (what the message looks like, an
// extract.Kind). No copy of the message is kept: it stays in the mailbox.
// It returns ErrAlreadyDone when the row is done.
func (s *Store) HoldMessage(ctx context.Context, id int64, action, kind string) error {
	if !IsHeld(action) {
		return fmt.Errorf("hold ledger row %d: action %q does not start with %q", id, action, LedgerHeldPrefix)
	}
	tag, err := s.pool.Exec(ctx, `update ledger set state = 'done', action = $2, kind = $3, raw = null,
		next_attempt_at = null, updated_at = now() where id = $1 and state <> 'done'`, id, action, kind)
	if err != nil {
		return fmt.Errorf("hold ledger row %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return s.notDone(ctx, id)
	}
	return nil
}

// HeldMessages lists the held ledger rows that arrived at or after since,
// oldest first (`optoutd backlog`).
func (s *Store) HeldMessages(ctx context.Context, since time.Time) ([]LedgerEntry, error) {
	rows, err := s.pool.Query(ctx, `select `+ledgerCols+` from ledger where `+sqlHeld+` and received_at >= $1
		order by received_at, id`, since)
	if err != nil {
		return nil, fmt.Errorf("list held messages: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LedgerEntry, error) { return scanLedger(r) })
	if err != nil {
		return nil, fmt.Errorf("list held messages: %w", err)
	}
	return out, nil
}

// IsHeld reports whether a ledger action is that of a held message.
func IsHeld(action string) bool {
	return len(action) > len(LedgerHeldPrefix) && strings.HasPrefix(action, LedgerHeldPrefix)
}

// LookupMessage returns the ledger row of a message by its mailbox UID or
// its Message-ID, as RecordMessage would find it, without writing anything
// (the dry run and the backlog's count). ErrNotFound when there is none.
func (s *Store) LookupMessage(ctx context.Context, mailbox string, uidvalidity, uid uint32, messageID string) (LedgerEntry, error) {
	e, err := scanLedger(s.pool.QueryRow(ctx, `select `+ledgerCols+` from ledger
		where (mailbox, uidvalidity, uid) = ($1, $2, $3) or message_id_hash = $4 order by id limit 1`,
		mailbox, int64(uidvalidity), int64(uid), s.keys.messageIDHash(messageID)))
	if errors.Is(err, pgx.ErrNoRows) {
		return e, fmt.Errorf("ledger row of uid %d: %w", uid, ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("look up ledger row of uid %d: %w", uid, err)
	}
	return e, nil
}

// ReleaseHeld puts a held ledger row back to "new" with the message's raw
// copy (sealed), so the pipeline processes it like fresh mail (`optoutd
// backlog --apply`). Audited. ErrNotFound when the row is not held.
func (s *Store) ReleaseHeld(ctx context.Context, id int64, raw []byte, actor Actor) error {
	sealed, err := s.keys.Seal("ledger.raw", raw)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `update ledger set state = 'new', action = '', raw = $2, next_attempt_at = null, updated_at = now()
			where id = $1 and `+sqlHeld, id, sealed)
		if err != nil {
			return fmt.Errorf("release held ledger row %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("held ledger row %d: %w", id, ErrNotFound)
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: actor, Action: "message.release_held", ObjectType: "ledger", ObjectID: id})
	})
}
