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

// TriageNote is an internal note staff keep on an item. Body may hold
// personal data (it is sealed at rest): never log it, never email it.
type TriageNote struct {
	ID      int64
	StaffID int64
	At      time.Time
	Body    string
}

// MaxNoteRunes bounds one note.
const MaxNoteRunes = 2000

// sealStaffText trims a text a member of staff wrote (a note, a close
// note) and, when it may be kept (written by staff, not System, and 1 to max
// characters long; ok false otherwise), seals it for the column field.
func (s *Store) sealStaffText(actor Actor, text string, max int, field string) (sealed []byte, ok bool, err error) {
	text = strings.TrimSpace(text)
	if actor == System || text == "" || len([]rune(text)) > max {
		return nil, false, nil
	}
	sealed, err = s.keys.sealString(field, text)
	return sealed, err == nil, err
}

// AddTriageNote keeps a note on an item (open or closed), sealed. Audited
// without its text.
func (s *Store) AddTriageNote(ctx context.Context, id int64, body string, actor Actor) error {
	sealed, ok, err := s.sealStaffText(actor, body, MaxNoteRunes, "triage_notes.body")
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("add note to triage item %d: a staff actor and 1 to %d characters are required", id, MaxNoteRunes)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var ref string
		err := tx.QueryRow(ctx, `select coalesce(c.reference, '') from triage t left join conversations c on c.id = t.conversation_id where t.id = $1`, id).Scan(&ref)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("triage item %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("add note to triage item %d: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `insert into triage_notes (triage_id, staff_id, body) values ($1, $2, $3)`, id, int64(actor), sealed); err != nil {
			return fmt.Errorf("add note to triage item %d: %w", id, err)
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: actor, Action: "triage.note", ObjectType: "triage", ObjectID: id, Reference: ref})
	})
}

// TriageNotes lists an item's notes, oldest first, opened. Call it with
// TriageItemDetail, whose audited view covers them.
func (s *Store) TriageNotes(ctx context.Context, id int64) ([]TriageNote, error) {
	rows, err := s.pool.Query(ctx, `select id, staff_id, at, body from triage_notes where triage_id = $1 order by id`, id)
	if err != nil {
		return nil, fmt.Errorf("list notes of triage item %d: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TriageNote, error) {
		var n TriageNote
		var sealed []byte
		if err := r.Scan(&n.ID, &n.StaffID, &n.At, &sealed); err != nil {
			return n, err
		}
		var err error
		n.Body, err = s.keys.openString("triage_notes.body", sealed)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("list notes of triage item %d: %w", id, err)
	}
	return out, nil
}

// TriageClosure is why a closed item was closed: the reason codes staff
// chose and, for a bulk close, their words (opened; may be personal).
type TriageClosure struct {
	Reason string
	Note   string
}

// TriageClosureOf returns how an item was closed (zero for an open item).
func (s *Store) TriageClosureOf(ctx context.Context, id int64) (TriageClosure, error) {
	var c TriageClosure
	var note []byte
	err := s.pool.QueryRow(ctx, `select close_reason, close_note from triage where id = $1`, id).Scan(&c.Reason, &note)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("triage item %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("read closure of triage item %d: %w", id, err)
	}
	if note != nil {
		c.Note, err = s.keys.openString("triage.close_note", note)
	}
	return c, err
}

// BulkCloseTriage closes the open items among ids as spam or duplicate,
// with staff's reason (sealed), in one transaction, without emailing
// anyone. Their forms become not_optout (spam) or superseded (duplicate).
// Each item is audited. It returns how many it closed; items already
// closed are left alone.
func (s *Store) BulkCloseTriage(ctx context.Context, ids []int64, decision vocab.CloseReason, reason string, actor Actor) (int, error) {
	if decision != vocab.CloseSpam && decision != vocab.CloseDuplicate {
		return 0, fmt.Errorf("bulk close: decision %q is not spam or duplicate", decision)
	}
	reason = strings.TrimSpace(reason)
	if actor == System || reason == "" || len(ids) == 0 || len(ids) > 500 {
		return 0, errors.New("bulk close: a staff actor, a reason and 1 to 500 items are required")
	}
	note, err := s.keys.sealString("triage.close_note", reason)
	if err != nil {
		return 0, err
	}
	status := vocab.StatusNotOptOut
	if decision == vocab.CloseDuplicate {
		status = vocab.StatusSuperseded
	}
	n := 0
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		n = 0
		rows, err := tx.Query(ctx, `select `+triageCols+` from triage t left join conversations c on c.id = t.conversation_id
			where t.id = any($1) and t.state = 'open' order by t.id for update of t`, ids)
		if err != nil {
			return fmt.Errorf("bulk close: %w", err)
		}
		items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TriageItem, error) { return scanTriage(r) })
		if err != nil {
			return fmt.Errorf("bulk close: %w", err)
		}
		for _, t := range items {
			if err := decideWaitingForm(ctx, tx, t.SubmissionID, status, actor); err != nil {
				return fmt.Errorf("bulk close item %d: %w", t.ID, err)
			}
			if _, err := tx.Exec(ctx, `update triage set close_reason = $2, close_note = $3 where id = $1`, t.ID, decision, note); err != nil {
				return fmt.Errorf("bulk close item %d: %w", t.ID, err)
			}
			if err := closeTriage(ctx, tx, t, actor, decision.Outcome(), ""); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
