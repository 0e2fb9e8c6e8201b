package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/vocab"
)

// DefaultReplyWait is how long an item waits for the resident's answer to a
// staff reply before it comes back to the queue (OPTOUT_REPLY_WAIT_DAYS).
const DefaultReplyWait = 10 * 24 * time.Hour

// StaffReply queues a member of staff's reply (kind staff_reply, composed by
// the caller with notify.Composer, threaded in the item's conversation) in
// the outbox, sealed like every email, and sets the item waiting for the
// resident, in one transaction, audited without the text. It returns the
// outbox row's id. ErrConflict when the item is closed or has no
// conversation.
func (s *Store) StaffReply(ctx context.Context, id int64, e *Email, actor Actor) (int64, error) {
	if actor == System || e == nil || e.MessageID == "" {
		return 0, errors.New("staff reply: a staff actor and a composed email with its Message-ID are required")
	}
	e.Kind = vocab.KindStaffReply
	// One row per reply: the key is the reply's own Message-ID.
	e.Key = string(vocab.KindStaffReply) + "/msg/" + strings.Trim(e.MessageID, "<>")
	se, err := s.sealEmail(e)
	if err != nil {
		return 0, err
	}
	var outboxID int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		t, err := lockOpenTriage(ctx, tx, id)
		if err != nil {
			return err
		}
		if t.ConversationID == 0 {
			return fmt.Errorf("staff reply to triage item %d: the item has no conversation: %w", id, ErrConflict)
		}
		if outboxID, err = queueEmail(ctx, tx, se, t.ConversationID, 0, ""); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `update triage set waiting_since = now(), answer_ledger_id = null where id = $1`, id); err != nil {
			return fmt.Errorf("staff reply to triage item %d: %w", id, err)
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: actor, Action: "triage.staff_reply", ObjectType: "triage", ObjectID: id,
			Reference: t.Reference, Detail: fmt.Sprintf("outbox=%d", outboxID)})
	})
	return outboxID, err
}

// WaitingOnResident reports whether an open item of the conversation waits
// for the resident's answer to a staff reply (the intake then reopens it
// rather than raising another).
func (s *Store) WaitingOnResident(ctx context.Context, convID int64) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `select exists (select 1 from triage where conversation_id = $1 and state = 'open'
		and waiting_since is not null)`, convID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("read waiting items of conversation %d: %w", convID, err)
	}
	return ok, nil
}

// sqlReopenWaiting reopens a conversation's waiting items when the
// resident answers: they stop waiting and point at the answer.
const sqlReopenWaiting = `update triage set waiting_since = null, answer_ledger_id = $2
	where conversation_id = $1 and state = 'open' and waiting_since is not null`

// sqlProtectedAnswer selects the answer of an item ($1) when it is
// encrypted (its ledger row's kind is $2, extract.KindProtected).
const sqlProtectedAnswer = `select coalesce((select l.id from triage t join ledger l on l.id = t.answer_ledger_id
	where t.id = $1 and l.kind = $2), 0)`

// ProtectedAnswer returns the ledger row of an item's answer to a staff
// reply when the answer is encrypted (extract.KindProtected): the item
// reopened with it, and staff upload the form they saved from Outlook on
// the item, as on a protected item (AttachUpload keeps the file with the
// answer). 0 when the item has no answer or its answer is not encrypted.
func (s *Store) ProtectedAnswer(ctx context.Context, id int64) (int64, error) {
	var ledgerID int64
	if err := s.pool.QueryRow(ctx, sqlProtectedAnswer, id, string(extract.KindProtected)).Scan(&ledgerID); err != nil {
		return 0, fmt.Errorf("read the answer of triage item %d: %w", id, err)
	}
	return ledgerID, nil
}

// ReplyWait is an item's wait for the resident: since when, and the
// message that answered (0 while none).
type ReplyWait struct {
	Since          *time.Time
	AnswerLedgerID int64
}

// ReplyWaitOf returns the wait of an item. Call it with TriageItemDetail,
// whose audited view covers it.
func (s *Store) ReplyWaitOf(ctx context.Context, id int64) (ReplyWait, error) {
	var w ReplyWait
	err := s.pool.QueryRow(ctx, `select waiting_since, coalesce(answer_ledger_id, 0) from triage where id = $1`, id).Scan(&w.Since, &w.AnswerLedgerID)
	if errors.Is(err, pgx.ErrNoRows) {
		return w, fmt.Errorf("triage item %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return w, fmt.Errorf("read the wait of triage item %d: %w", id, err)
	}
	return w, nil
}

// StaffReplies lists the staff replies queued in a conversation (their
// outbox rows, oldest first) with their state, without their text.
func (s *Store) StaffReplies(ctx context.Context, convID int64) ([]OutgoingMail, error) {
	rows, err := s.pool.Query(ctx, `select id, state, attempts, last_error, next_attempt_at, created_at from outbox
		where conversation_id = $1 and kind = $2 order by id`, convID, string(vocab.KindStaffReply))
	if err != nil {
		return nil, fmt.Errorf("list staff replies of conversation %d: %w", convID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutgoingMail, error) {
		m := OutgoingMail{Kind: vocab.KindStaffReply}
		err := r.Scan(&m.ID, &m.State, &m.Attempts, &m.LastError, &m.NextAttempt, &m.CreatedAt)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("list staff replies of conversation %d: %w", convID, err)
	}
	return out, nil
}

// MaxOfflineNoteRunes bounds the note of an item answered by phone or post.
const MaxOfflineNoteRunes = 2000

// AnswerOffline closes an item staff answered by phone or post, with their
// note (sealed, like a bulk close's reason), without emailing anyone.
// Audited without the note.
func (s *Store) AnswerOffline(ctx context.Context, id int64, note string, actor Actor) error {
	sealed, ok, err := s.sealStaffText(actor, note, MaxOfflineNoteRunes, "triage.close_note")
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("close triage item %d as answered by phone or post: a staff actor and a note of 1 to %d characters are required", id, MaxOfflineNoteRunes)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		t, err := lockOpenTriage(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := decideWaitingForm(ctx, tx, t.SubmissionID, vocab.StatusNotOptOut, actor); err != nil {
			return fmt.Errorf("close triage item %d: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `update triage set close_reason = $2, close_note = $3, waiting_since = null where id = $1`,
			id, vocab.CloseAnsweredOffline, sealed); err != nil {
			return fmt.Errorf("close triage item %d: %w", id, err)
		}
		return closeTriage(ctx, tx, t, actor, vocab.OutcomeAnsweredOffline, "")
	})
}

// OutboxEmail returns one email of the outbox, opened (its recipient,
// subject and text are personal data: never log them), for the page of the
// item it bounced or failed on. The view is audited.
func (s *Store) OutboxEmail(ctx context.Context, id int64, actor Actor) (OutboxMessage, error) {
	m, err := s.scanOutbox(s.pool.QueryRow(ctx, `select `+outboxCols+` from outbox o join outbox_content oc on oc.id = o.id
		left join conversations c on c.id = o.conversation_id where o.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return m, fmt.Errorf("outbox email %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("read outbox email %d: %w", id, err)
	}
	err = s.WriteAudit(ctx, AuditEntry{Actor: actor, Action: "outbox.view", ObjectType: "outbox", ObjectID: id, Reference: m.Reference})
	return m, err
}

// AttachToConversation ties an item raised for a reference from another
// address (ReasonUnverifiedSender) to the conversation that reference
// names, once staff decided the sender is the same resident: its form
// (read from the message, or keyed in) can then be checked and accepted
// like any, with emails in that conversation. Audited.
func (s *Store) AttachToConversation(ctx context.Context, id, convID int64, actor Actor) error {
	if actor == System {
		return errors.New("attach triage item to a conversation: a staff actor is required")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		t, err := lockUnattachedSender(ctx, tx, id, "attach triage item %d to a conversation")
		if err != nil {
			return err
		}
		var ref string
		err = tx.QueryRow(ctx, `update triage t set conversation_id = c.id from conversations c where t.id = $1 and c.id = $2 returning c.reference`,
			id, convID).Scan(&ref)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("conversation %d: %w", convID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("attach triage item %d to a conversation: %w", id, err)
		}
		if err := tieLedger(ctx, tx, t.LedgerID, convID); err != nil {
			return err
		}
		if err := tieSubmission(ctx, tx, t, convID); err != nil {
			return err
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: actor, Action: "triage.attach_conversation", ObjectType: "triage", ObjectID: id,
			Reference: ref, Detail: fmt.Sprintf("conversation=%d", convID)})
	})
}

// lockUnattachedSender locks the open item id, which must be a reference
// from another address not yet tied to a conversation; what names the
// task in errors (with a %d for the id).
func lockUnattachedSender(ctx context.Context, tx pgx.Tx, id int64, what string) (TriageItem, error) {
	t, err := lockOpenTriage(ctx, tx, id)
	if err != nil {
		return t, err
	}
	if t.Reason != vocab.ReasonUnverifiedSender || t.ConversationID != 0 {
		return t, fmt.Errorf(what+": only an unattached reference from another address can be: %w", id, ErrConflict)
	}
	return t, nil
}

// tieSubmission puts the form of a reference from another address (read
// from its message, kept without a conversation) in the conversation staff
// tied its item to.
func tieSubmission(ctx context.Context, tx pgx.Tx, t TriageItem, convID int64) error {
	if t.SubmissionID == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `update submissions set conversation_id = $2 where id = $1 and conversation_id is null`, t.SubmissionID, convID); err != nil {
		return fmt.Errorf("tie the form of triage item %d to conversation %d: %w", t.ID, convID, err)
	}
	return nil
}

// tieLedger records that the message ledgerID (0: none) belongs to
// conversation convID, when staff tie a message the pipeline left without
// one (a reference from another address) to a conversation: it then shows
// in that thread (ConversationThread).
func tieLedger(ctx context.Context, tx pgx.Tx, ledgerID, convID int64) error {
	if ledgerID == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `update ledger set conversation_id = $2 where id = $1 and conversation_id is null`, ledgerID, convID); err != nil {
		return fmt.Errorf("tie ledger row %d to conversation %d: %w", ledgerID, convID, err)
	}
	return nil
}

// NewContactFromTriage treats the message of an item raised for a
// reference from another address as a new first contact: a new
// conversation with the sender's address (and the reference the caller
// drew, NewReference, for the composed email) opens, the instructions e
// are queued in it, and the item is tied to it and closed, in one
// transaction, audited; a form read from the message is superseded (the
// sender sends one in the new conversation). The caller composes e to the
// sender's address.
func (s *Store) NewContactFromTriage(ctx context.Context, id int64, address, ref string, e *Email, actor Actor) error {
	if actor == System || e == nil || NormaliseAddress(address) == "" || ref == "" {
		return errors.New("new first contact from a triage item: a staff actor, the sender's address, a reference and the instructions are required")
	}
	sealedAddr, err := s.keys.sealString("conversations.address", NormaliseAddress(address))
	if err != nil {
		return err
	}
	if e.Kind == "" {
		e.Kind = vocab.KindInstructions
	}
	e.To = "" // the new conversation's address
	se, err := s.sealEmail(e)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		t, err := lockUnattachedSender(ctx, tx, id, "new first contact from triage item %d")
		if err != nil {
			return err
		}
		var convID int64
		if err := tx.QueryRow(ctx, `insert into conversations (reference, address, address_hash, state, ledger_id)
			values ($1, $2, $3, $4, nullif($5::bigint, 0)) returning id`, ref, sealedAddr, s.keys.AddressHash(address),
			string(vocab.StateInstructionsSent), t.LedgerID).Scan(&convID); err != nil {
			return fmt.Errorf("new first contact from triage item %d: open the conversation: %w", id, err)
		}
		if _, err := queueEmail(ctx, tx, se, convID, 0, ""); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `update triage set conversation_id = $2 where id = $1`, id, convID); err != nil {
			return fmt.Errorf("new first contact from triage item %d: %w", id, err)
		}
		if err := tieLedger(ctx, tx, t.LedgerID, convID); err != nil {
			return err
		}
		if err := tieSubmission(ctx, tx, t, convID); err != nil {
			return err
		}
		// The form read from this email is not taken: the sender is asked
		// to send one in their own secure conversation.
		if err := decideWaitingForm(ctx, tx, t.SubmissionID, vocab.StatusSuperseded, actor); err != nil {
			return fmt.Errorf("new first contact from triage item %d: %w", id, err)
		}
		t.Reference = ref
		return closeTriage(ctx, tx, t, actor, vocab.OutcomeNewContact, fmt.Sprintf("conversation=%d", convID))
	})
}

// SendHeldReplies queues the replies a rate_limited item held back
// (composed by the caller as the pipeline composes them) in the item's
// conversation and closes the item, in one transaction, audited. Each
// email is queued once (its key names the item).
func (s *Store) SendHeldReplies(ctx context.Context, id int64, emails []*Email, actor Actor) error {
	if actor == System || len(emails) == 0 {
		return errors.New("send held replies: a staff actor and the replies are required")
	}
	sealed := make([]sealedEmail, len(emails))
	for i, e := range emails {
		e.To = "" // the conversation's address
		e.Key = fmt.Sprintf("%s/held/%d/%d", e.Kind, id, i)
		var err error
		if sealed[i], err = s.sealEmail(e); err != nil {
			return err
		}
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		t, err := lockOpenTriage(ctx, tx, id)
		if err != nil {
			return err
		}
		if t.Reason != vocab.ReasonRateLimited || t.ConversationID == 0 {
			return fmt.Errorf("send held replies of triage item %d: only a rate_limited item in a conversation has any: %w", id, ErrConflict)
		}
		for _, se := range sealed {
			if _, err := queueEmail(ctx, tx, se, t.ConversationID, 0, ""); err != nil {
				return err
			}
		}
		return closeTriage(ctx, tx, t, actor, vocab.OutcomeRepliesSent, fmt.Sprintf("emails=%d", len(sealed)))
	})
}
