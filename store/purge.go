package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PurgeResult counts what a purge removed.
type PurgeResult struct {
	Messages    int64 // raw messages deleted
	Attachments int64 // attachments deleted
	Sessions    int64 // expired staff sessions deleted
	Signin      int64 // sign-in counters and requests past their windows deleted
}

// Purge deletes the raw messages and attachments of messages received
// before `before` (normally now minus the retention period, DefaultRetention)
// once they are processed (ledger state done) and no open triage item still
// needs them. The ledger rows, submissions, register, history and audit stay.
// It also removes expired sessions, and audits what it did.
func (s *Store) Purge(ctx context.Context, before time.Time, actor Actor) (PurgeResult, error) {
	var r PurgeResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		const eligible = `select l.id from ledger l where l.received_at < $1 and l.state = 'done'
			and not exists (select 1 from triage t left join submissions sb on sb.id = t.submission_id
				where t.state = 'open' and (t.ledger_id = l.id or sb.ledger_id = l.id))`
		tag, err := tx.Exec(ctx, `delete from attachments where ledger_id in (`+eligible+`)`, before)
		if err != nil {
			return fmt.Errorf("purge attachments: %w", err)
		}
		r.Attachments = tag.RowsAffected()
		tag, err = tx.Exec(ctx, `update ledger set raw = null, sender = null, subject = null, threading = null, raw_purged_at = now() where raw is not null and id in (`+eligible+`)`, before)
		if err != nil {
			return fmt.Errorf("purge raw messages: %w", err)
		}
		r.Messages = tag.RowsAffected()
		tag, err = tx.Exec(ctx, `delete from staff_sessions where expires_at <= now()`)
		if err != nil {
			return fmt.Errorf("purge expired sessions: %w", err)
		}
		r.Sessions = tag.RowsAffected()
		if r.Signin, err = deleteOldSigninRows(ctx, tx, DefaultSigninPolicy); err != nil {
			return err
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: actor, Action: "retention.purge",
			Detail: fmt.Sprintf("before=%s messages=%d attachments=%d sessions=%d", before.UTC().Format(time.RFC3339), r.Messages, r.Attachments, r.Sessions)})
	})
	return r, err
}

// sealedColumn is one column of sealed values and the context it is bound to.
type sealedColumn struct {
	table, column string
	context       string // "" means "secrets.<name>" (per row)
}

var sealedColumns = []sealedColumn{
	{"ledger", "raw", "ledger.raw"},
	{"ledger", "sender", "ledger.sender"},
	{"ledger", "subject", "ledger.subject"},
	{"ledger", "threading", "ledger.threading"},
	{"conversations", "address", "conversations.address"},
	{"attachments", "name", "attachments.name"},
	{"attachments", "data", "attachments.data"},
	{"submissions", "source", "submissions.source"},
	{"submissions", "fields", "submissions.fields"},
	{"submissions", "corrected", "submissions.corrected"},
	{"register", "nhs_number", "register.nhs_number"},
	{"outbox", "recipient", "outbox.recipient"},
	{"outbox_content", "subject", "outbox.subject"},
	{"outbox_content", "body", "outbox.body"},
	{"staff", "email", "staff.email"},
	{"secrets", "value", ""},
}

// Rekey re-encrypts every sealed value that is not under the primary data
// key, in transactions of at most batch rows (default 500) claimed with
// SKIP LOCKED, so it can run beside the daemon, be interrupted and resumed,
// or run on several replicas. Blind indexes are unchanged (the index key is
// never rotated). progress, when not nil, is called after each batch. When
// it returns, no value needs an old key: the old keys can be removed from
// OPTOUT_DATA_KEY. It returns how many values it re-encrypted.
func (s *Store) Rekey(ctx context.Context, batch int, progress func(table, column string, done int64)) (int64, error) {
	if batch <= 0 {
		batch = 500
	}
	primary := []byte(s.keys.PrimaryKeyID())
	var total int64
	for _, col := range sealedColumns {
		var done int64
		for {
			n, err := s.rekeyBatch(ctx, col, primary, batch)
			if err != nil {
				return total, err
			}
			if n == 0 {
				break
			}
			done += int64(n)
			total += int64(n)
			if progress != nil {
				progress(col.table, col.column, done)
			}
		}
	}
	if err := s.WriteAudit(ctx, AuditEntry{Actor: System, Action: "keys.rekey", Detail: fmt.Sprintf("key=%s values=%d", primary, total)}); err != nil {
		return total, err
	}
	return total, nil
}

func (s *Store) rekeyBatch(ctx context.Context, col sealedColumn, primary []byte, batch int) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// Column names come from sealedColumns, never from input.
		rows, err := tx.Query(ctx, `select id, `+col.column+`, `+contextExpr(col)+` from `+col.table+`
			where `+col.column+` is not null and substring(`+col.column+` from 2 for get_byte(`+col.column+`, 0)) <> $1
			order by id limit $2 for update skip locked`, primary, batch)
		if err != nil {
			return fmt.Errorf("rekey %s.%s: %w", col.table, col.column, err)
		}
		type upd struct {
			id  int64
			val []byte
		}
		var updates []upd
		for rows.Next() {
			var id int64
			var val []byte
			var context string
			if err := rows.Scan(&id, &val, &context); err != nil {
				rows.Close()
				return fmt.Errorf("rekey %s.%s: %w", col.table, col.column, err)
			}
			pt, err := s.keys.Open(context, val)
			if err != nil {
				rows.Close()
				return fmt.Errorf("rekey %s.%s row %d: %w", col.table, col.column, id, err)
			}
			if val, err = s.keys.Seal(context, pt); err != nil {
				rows.Close()
				return err
			}
			updates = append(updates, upd{id, val})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("rekey %s.%s: %w", col.table, col.column, err)
		}
		b := &pgx.Batch{}
		for _, u := range updates {
			b.Queue(`update `+col.table+` set `+col.column+` = $2 where id = $1`, u.id, u.val)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("rekey %s.%s: %w", col.table, col.column, err)
		}
		n = len(updates)
		return nil
	})
	return n, err
}

func contextExpr(c sealedColumn) string {
	if c.context == "" {
		return `'secrets.' || name`
	}
	return `'` + c.context + `'::text`
}
