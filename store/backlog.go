package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ncl-icb/optout-intake/vocab"
)

// Held-back mail (old mail, mail from before the go-live moment, mail
// answered by hand) is recorded done with the ledger action
// LedgerAction(vocab.FolderInbox, a) for a in vocab.HeldActions(): the
// message is left in the inbox, never answered, until staff release it
// (`optoutd backlog --apply`).

// heldLedgerActions are the ledger actions of held mail.
func heldLedgerActions() []string {
	var out []string
	for _, a := range vocab.HeldActions() {
		out = append(out, LedgerAction(vocab.FolderInbox, a))
	}
	return out
}

// HoldMessage completes a ledger row as held back with action (one of
// vocab.HeldActions; the row's action becomes LedgerAction(vocab.FolderInbox,
// action)) and kind (what the message looks like, an
// extract.Kind). No copy of the message is kept: it stays in the mailbox.
// It returns ErrAlreadyDone when the row is done.
func (s *Store) HoldMessage(ctx context.Context, id int64, action vocab.Action, kind string) error {
	if !slices.Contains(vocab.HeldActions(), action) {
		return fmt.Errorf("hold ledger row %d: action %q is not one of vocab.HeldActions", id, action)
	}
	tag, err := s.pool.Exec(ctx, `update ledger set state = 'done', action = $2, kind = $3, raw = null,
		next_attempt_at = null, updated_at = now() where id = $1 and state <> 'done'`, id, LedgerAction(vocab.FolderInbox, action), kind)
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
	return queryAll(ctx, s.pool, "list held messages", scanLedger, `select `+ledgerCols+` from ledger where state = 'done' and action = any($2) and received_at >= $1
		order by received_at, id`, since, heldLedgerActions())
}

// IsHeld reports whether a ledger action is that of a held message.
func IsHeld(action string) bool {
	_, ok := HeldAction(action)
	return ok
}

// HeldAction returns the vocab.HeldActions value a held message's ledger
// action records; ok is false when the action is not that of a held
// message.
func HeldAction(action string) (a vocab.Action, ok bool) {
	f, v, found := strings.Cut(action, ":")
	if !found || vocab.Folder(f) != vocab.FolderInbox || !slices.Contains(vocab.HeldActions(), vocab.Action(v)) {
		return "", false
	}
	return vocab.Action(v), true
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
// copy and header facts (sealed, as RecordMessage keeps them), so the pipeline processes it like fresh mail (`optoutd
// backlog --apply`). Audited. ErrNotFound when the row is not held.
func (s *Store) ReleaseHeld(ctx context.Context, id int64, raw []byte, h MessageHeader, actor Actor) error {
	sealed, err := s.keys.Seal("ledger.raw", raw)
	if err != nil {
		return err
	}
	sh, err := s.sealHeader(h)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `update ledger set state = 'new', action = '', raw = $2, next_attempt_at = null, updated_at = now(),
			sender = $4, sender_hash = $5, subject = $6, threading = $7, sent_at = $8
			where id = $1 and state = 'done' and action = any($3)`, id, sealed, heldLedgerActions(),
			sh.sender, sh.senderHash, sh.subject, sh.threading, sh.sentAt)
		if err != nil {
			return fmt.Errorf("release held ledger row %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("held ledger row %d: %w", id, ErrNotFound)
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: actor, Action: "message.release_held", ObjectType: "ledger", ObjectID: id})
	})
}
