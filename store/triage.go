package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/vocab"
)

// TriageItem is one entry of the triage queue. It holds no personal data.
type TriageItem struct {
	ID             int64
	Reason         vocab.Reason
	State          vocab.ItemState
	CreatedAt      time.Time
	DueBy          time.Time // the law's deadline for what it asks; by default one calendar month from receipt (UK GDPR)
	AssignedTo     int64     // staff id, 0 when unassigned
	SubmissionID   int64
	LedgerID       int64
	ConversationID int64
	OutboxID       int64
	Reference      string
	ClosedBy       int64
	ClosedAt       *time.Time
	Outcome        vocab.Outcome
	// RegisterState is the current register state of the person the
	// conversation had already recorded when the item was raised ("" when
	// none): an "asks to opt back in" item shows it, and ConfirmOptBackIn
	// records the change for that person.
	RegisterState RegisterState
}

const triageCols = `t.id, t.reason, t.state, t.created_at, t.due_by, coalesce(t.assigned_to, 0), coalesce(t.submission_id, 0),
	coalesce(t.ledger_id, 0), coalesce(t.conversation_id, 0), coalesce(t.outbox_id, 0), coalesce(c.reference, ''),
	coalesce(t.closed_by, 0), t.closed_at, t.outcome,
	coalesce((select r.state from register r where r.id = t.register_id), '')`

func scanTriage(row pgx.Row) (TriageItem, error) {
	var t TriageItem
	err := row.Scan(&t.ID, &t.Reason, &t.State, &t.CreatedAt, &t.DueBy, &t.AssignedTo, &t.SubmissionID, &t.LedgerID,
		&t.ConversationID, &t.OutboxID, &t.Reference, &t.ClosedBy, &t.ClosedAt, &t.Outcome, &t.RegisterState)
	return t, err
}

// TriageFilter selects queue items. State is "open" (default), "closed" or "all".
type TriageFilter struct {
	Reason     vocab.Reason
	State      string
	AssignedTo int64 // 0: anyone
	// ByDue lists the items due soonest first (default: oldest first).
	ByDue bool
	// Overdue keeps only the items past their due date.
	Overdue bool
	Limit   int // default 100
	Offset  int
}

// ListTriage lists queue items, oldest first (or due soonest first).
func (s *Store) ListTriage(ctx context.Context, f TriageFilter) ([]TriageItem, error) {
	if f.State == "" {
		f.State = string(vocab.ItemOpen)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	return queryAll(ctx, s.pool, "list triage", scanTriage, `select `+triageCols+` from triage t left join conversations c on c.id = t.conversation_id
		where ($1 = 'all' or t.state = $1) and ($2 = '' or t.reason = $2) and ($3 = 0 or t.assigned_to = $3) and (not $6 or t.due_by < now())
		order by case when $7 then t.due_by end, t.created_at, t.id limit $4 offset $5`, f.State, f.Reason, f.AssignedTo, f.Limit, f.Offset, f.Overdue, f.ByDue)
}

// TriageStats returns the number of open items by reason and the creation
// time of the oldest open item (nil when none), for metrics.
func (s *Store) TriageStats(ctx context.Context) (open map[string]int, oldest *time.Time, err error) {
	return countOldest(ctx, s.pool, "count triage", func(string) bool { return true },
		`select reason, count(*), min(created_at) from triage where state = 'open' group by reason`)
}

// TriageOverdue returns the number of open items past their due date at
// now, by reason, for metrics.
func (s *Store) TriageOverdue(ctx context.Context, now time.Time) (map[string]int, error) {
	out, _, err := countOldest(ctx, s.pool, "count overdue triage", func(string) bool { return false },
		`select reason, count(*), min(created_at) from triage where state = 'open' and due_by < $1 group by reason`, now)
	return out, err
}

// AttachmentInfo describes a kept attachment without its bytes.
type AttachmentInfo struct {
	ID          int64
	Name        string
	ContentType string
	Size        int64
}

// Attachment is a kept attachment with its bytes.
type Attachment struct {
	AttachmentInfo
	Data []byte
}

// TriageDetail is one item with what staff need to decide it. Submission,
// Conversation are nil when the item has none.
type TriageDetail struct {
	Item         TriageItem
	Submission   *Submission
	Conversation *Conversation
	Message      *LedgerEntry
	Attachments  []AttachmentInfo // of the item's message, and the form uploaded on it; nil once purged
}

// TriageItemDetail returns one item with its submission (fields opened),
// conversation, message and attachment list. The view is audited.
func (s *Store) TriageItemDetail(ctx context.Context, id int64, actor Actor) (TriageDetail, error) {
	var d TriageDetail
	var err error
	d.Item, err = scanTriage(s.pool.QueryRow(ctx, `select `+triageCols+` from triage t left join conversations c on c.id = t.conversation_id where t.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return d, fmt.Errorf("triage item %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("read triage item %d: %w", id, err)
	}
	ledgerID := d.Item.LedgerID
	if d.Item.SubmissionID != 0 {
		sb, err := s.scanSubmission(s.pool.QueryRow(ctx, `select `+subCols+` from submissions sb left join conversations c on c.id = sb.conversation_id where sb.id = $1`, d.Item.SubmissionID))
		if err != nil {
			return d, fmt.Errorf("read submission of triage item %d: %w", id, err)
		}
		d.Submission = &sb
		if ledgerID == 0 {
			ledgerID = sb.LedgerID
		}
	}
	if d.Item.ConversationID != 0 {
		c, err := s.Conversation(ctx, d.Item.ConversationID)
		if err != nil {
			return d, err
		}
		d.Conversation = &c
	}
	if ledgerID != 0 {
		m, err := s.Message(ctx, ledgerID)
		if err != nil {
			return d, err
		}
		d.Message = &m
		// With the form uploaded on the item, kept with the message it
		// came from (AttachUpload: an encrypted answer's).
		rows, err := s.pool.Query(ctx, `select id, name, content_type, size from attachments
			where ledger_id = $1 or id = (select attachment_id from submissions where id = $2) order by id`, ledgerID, d.Item.SubmissionID)
		if err != nil {
			return d, fmt.Errorf("list attachments of triage item %d: %w", id, err)
		}
		d.Attachments, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (AttachmentInfo, error) {
			var a AttachmentInfo
			var name []byte
			if err := r.Scan(&a.ID, &name, &a.ContentType, &a.Size); err != nil {
				return a, err
			}
			a.Name, err = s.keys.openString("attachments.name", name)
			return a, err
		})
		if err != nil {
			return d, fmt.Errorf("list attachments of triage item %d: %w", id, err)
		}
	}
	err = s.WriteAudit(ctx, AuditEntry{Actor: actor, Action: "triage.view", ObjectType: "triage", ObjectID: id, Reference: d.Item.Reference})
	return d, err
}

// AttachmentByID returns a kept attachment with its bytes to show on
// screen; the view is audited (attachment.view). ErrNotFound when unknown
// or purged.
func (s *Store) AttachmentByID(ctx context.Context, id int64, actor Actor) (Attachment, error) {
	return s.attachment(ctx, id, actor, "attachment.view")
}

// AttachmentDownload is AttachmentByID for a copy saved to the staff
// member's machine, audited as attachment.download.
func (s *Store) AttachmentDownload(ctx context.Context, id int64, actor Actor) (Attachment, error) {
	return s.attachment(ctx, id, actor, "attachment.download")
}

func (s *Store) attachment(ctx context.Context, id int64, actor Actor, action string) (Attachment, error) {
	var a Attachment
	var name, data []byte
	err := s.pool.QueryRow(ctx, `select id, name, content_type, size, data from attachments where id = $1`, id).Scan(&a.ID, &name, &a.ContentType, &a.Size, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, fmt.Errorf("attachment %d (unknown or purged): %w", id, ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("read attachment %d: %w", id, err)
	}
	if a.Name, err = s.keys.openString("attachments.name", name); err != nil {
		return a, err
	}
	if a.Data, err = s.keys.Open("attachments.data", data); err != nil {
		return a, err
	}
	err = s.WriteAudit(ctx, AuditEntry{Actor: actor, Action: action, ObjectType: "attachment", ObjectID: id})
	return a, err
}

// AssignTriage assigns an open item to a staff member (0 unassigns). Audited.
func (s *Store) AssignTriage(ctx context.Context, id, assignee int64, actor Actor) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var to *int64
		if assignee != 0 {
			to = &assignee
		}
		var from int64
		var ref string
		err := tx.QueryRow(ctx, `with old as (select id, coalesce(assigned_to, 0) as was from triage where id = $1 and state = 'open' for update)
			update triage t set assigned_to = $2 from old where t.id = old.id
			returning old.was, coalesce((select c.reference from conversations c where c.id = t.conversation_id), '')`, id, to).Scan(&from, &ref)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("open triage item %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("assign triage item %d: %w", id, err)
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: actor, Action: "triage.assign", ObjectType: "triage", ObjectID: id, Reference: ref,
			Detail: fmt.Sprintf("assignee=%d from=%d", assignee, from)})
	})
}

// Decision is a staff decision on an open triage item.
type Decision struct {
	TriageID int64
	Actor    Actor
	// Fields are the corrected fields for Accept (already re-checked by the
	// caller with form.Check); nil accepts the fields as read.
	Fields *form.Fields
	// Reason is a code for Reject and Close (e.g. "nhs_number_unreadable",
	// "not_optout"); free text from staff goes in the email, not here.
	Reason string
	// Email is sent for Reject and Close (optional for Close). To "" means
	// the conversation's address.
	Email *Email
	// Accepted and Duplicate are the outcome emails for Accept; the one
	// matching the register's answer is queued.
	Accepted, Duplicate *Email
	// Detail is added to the decision's audit entry: what staff decided,
	// as codes and field names, never personal values (for example
	// "corrected=nhs_number,postcode" or "reply=yes").
	Detail string
}

// lockOpenTriage locks an open item and returns it.
func lockOpenTriage(ctx context.Context, tx pgx.Tx, id int64) (TriageItem, error) {
	t, err := scanTriage(tx.QueryRow(ctx, `select `+triageCols+` from triage t left join conversations c on c.id = t.conversation_id
		where t.id = $1 for update of t`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, fmt.Errorf("triage item %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("lock triage item %d: %w", id, err)
	}
	if t.State != vocab.ItemOpen {
		return t, fmt.Errorf("triage item %d is closed: %w", id, ErrConflict)
	}
	return t, nil
}

// decideWaitingForm records staff's decision status on the form id (0:
// none) when it still waits for staff (status triage), and leaves a form
// already decided alone: an item about an email that bounced points at the
// form that email answered, long accepted, which a close must not undo.
func decideWaitingForm(ctx context.Context, tx pgx.Tx, id int64, status vocab.SubmissionStatus, actor Actor) error {
	if id == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `update submissions set status = $2, decided_by = $3, decided_at = now() where id = $1 and status = $4`,
		id, string(status), actor.String(), string(vocab.StatusTriage))
	return err
}

func closeTriage(ctx context.Context, tx pgx.Tx, t TriageItem, actor Actor, outcome vocab.Outcome, detail string) error {
	if !outcome.Valid() {
		// Every outcome has its words for staff (vocab.Outcomes): a new one
		// must be added there before an item can close with it.
		return fmt.Errorf("close triage item %d: outcome %q is not in vocab.Outcomes", t.ID, outcome)
	}
	if _, err := tx.Exec(ctx, `update triage set state = 'closed', closed_by = $2, closed_at = now(), outcome = $3 where id = $1`,
		t.ID, int64(actor), outcome); err != nil {
		return fmt.Errorf("close triage item %d: %w", t.ID, err)
	}
	return writeAudit(ctx, tx, AuditEntry{Actor: actor, Action: "triage." + string(outcome), ObjectType: "triage", ObjectID: t.ID, Reference: t.Reference, Detail: detail})
}

// auditDetail joins the parts of a decision's audit detail that are set.
func auditDetail(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" && !strings.HasSuffix(p, "=") {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}

func (s *Store) sealOptional(e *Email, kind vocab.Kind) (*sealedEmail, error) {
	if e == nil {
		return nil, nil
	}
	if e.Kind == "" {
		e.Kind = kind
	}
	se, err := s.sealEmail(e)
	return &se, err
}

// AcceptTriage accepts an item's form (with staff corrections): the register
// records the opt-out (or a duplicate), the submission is decided, the
// matching outcome email is queued, the conversation completes and the item
// closes, in one transaction, audited. It returns the submission's status.
// An item without a submission (for example an unsolicited form kept under
// the "ask" policy) needs Fields, and gets a staff-entered submission.
func (s *Store) AcceptTriage(ctx context.Context, d Decision) (vocab.SubmissionStatus, error) {
	if d.Actor == System {
		return "", errors.New("accept triage item: a staff actor is required")
	}
	acc, err := s.sealOptional(d.Accepted, vocab.KindAccepted)
	if err != nil {
		return "", err
	}
	dup, err := s.sealOptional(d.Duplicate, vocab.KindDuplicate)
	if err != nil {
		return "", err
	}
	var corrected []byte
	if d.Fields != nil {
		if corrected, _, err = s.sealFields("submissions.corrected", *d.Fields, nil); err != nil {
			return "", err
		}
	}
	var status vocab.SubmissionStatus
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		t, err := lockOpenTriage(ctx, tx, d.TriageID)
		if err != nil {
			return err
		}
		subID := t.SubmissionID
		var fields form.Fields
		if subID == 0 {
			if d.Fields == nil || t.LedgerID == 0 {
				return fmt.Errorf("accept triage item %d: it has no form, so corrected fields are required: %w", t.ID, ErrConflict)
			}
			fields = *d.Fields
			sealedFields, probs, err := s.sealFields("submissions.fields", fields, nil)
			if err != nil {
				return err
			}
			source, err := s.keys.sealString("submissions.source", "staff")
			if err != nil {
				return err
			}
			var conv *int64
			if t.ConversationID != 0 {
				conv = &t.ConversationID
			}
			if err := tx.QueryRow(ctx, `insert into submissions (conversation_id, ledger_id, seq, source, format, fields, problems, channel, status)
				values ($1, $2, (select coalesce(max(seq), 0) + 1 from submissions where ledger_id = $2), $3, '', $4, $5, 'staff', 'triage') returning id`,
				conv, t.LedgerID, source, sealedFields, probs).Scan(&subID); err != nil {
				return fmt.Errorf("accept triage item %d: add submission: %w", t.ID, err)
			}
			if _, err := tx.Exec(ctx, `update triage set submission_id = $2 where id = $1`, t.ID, subID); err != nil {
				return fmt.Errorf("accept triage item %d: %w", t.ID, err)
			}
			corrected = nil
		} else if d.Fields != nil {
			fields = *d.Fields
		} else {
			var sealed []byte
			if err := tx.QueryRow(ctx, `select fields from submissions where id = $1`, subID).Scan(&sealed); err != nil {
				return fmt.Errorf("accept triage item %d: read submission: %w", t.ID, err)
			}
			if err := s.openFields("submissions.fields", sealed, &fields); err != nil {
				return err
			}
		}
		nhs := NormaliseNHS(fields.NHSNumber)
		if nhs == "" {
			return fmt.Errorf("accept triage item %d: the NHS number is not 10 digits; correct it first: %w", t.ID, ErrConflict)
		}
		nhsSealed, err := s.keys.sealString("register.nhs_number", nhs)
		if err != nil {
			return err
		}
		idx := s.keys.NHSIndex(nhs)
		err = tx.QueryRow(ctx, `with `+optOutCTE("$1", "$2", "$3", "$4", "$5", "'triage'")+`
			update submissions set status = case when exists (select 1 from reg) then 'accepted' else 'duplicate' end,
				decided_by = $5, decided_at = now(), nhs_index = $1, corrected = coalesce($6, corrected)
			where id = $3 returning status`, idx, nhsSealed, subID, t.Reference, d.Actor.String(), corrected).Scan(&status)
		if err != nil {
			return fmt.Errorf("accept triage item %d: record opt-out: %w", t.ID, err)
		}
		action := "register.opt_out"
		mail := acc
		if status == vocab.StatusDuplicate {
			action, mail = "register.duplicate", dup
		}
		if err := writeAudit(ctx, tx, AuditEntry{Actor: d.Actor, Action: action, ObjectType: "submission", ObjectID: subID, Reference: t.Reference}); err != nil {
			return err
		}
		if mail != nil {
			if _, err := queueEmail(ctx, tx, *mail, t.ConversationID, subID, ""); err != nil && !errors.Is(err, ErrDuplicate) {
				return err
			}
		}
		if t.ConversationID != 0 {
			if _, err := tx.Exec(ctx, `update conversations set state = 'completed', updated_at = now() where id = $1`, t.ConversationID); err != nil {
				return fmt.Errorf("accept triage item %d: %w", t.ID, err)
			}
		}
		return closeTriage(ctx, tx, t, d.Actor, vocab.OutcomeAccepted, auditDetail("status="+string(status), d.Detail))
	})
	return status, err
}

// RejectTriage rejects an item's form: the submission becomes rejected, the
// email asking for a corrected form is queued, and the item closes, in one
// transaction, audited with the reason code.
func (s *Store) RejectTriage(ctx context.Context, d Decision) error {
	if d.Email == nil {
		return errors.New("reject triage item: the rejection email is required")
	}
	return s.decide(ctx, d, vocab.StatusRejected, vocab.KindRejected, vocab.OutcomeRejected)
}

// CloseTriage closes an item as settled without recording anything: a
// submission becomes not_optout when Reason is "not_optout", and an
// optional email is queued. Audited.
func (s *Store) CloseTriage(ctx context.Context, d Decision) error {
	st := vocab.SubmissionStatus("")
	if d.Reason == string(vocab.StatusNotOptOut) {
		st = vocab.StatusNotOptOut
	}
	return s.decide(ctx, d, st, vocab.KindNotOptOut, vocab.OutcomeClosed)
}

func (s *Store) decide(ctx context.Context, d Decision, st vocab.SubmissionStatus, kind vocab.Kind, outcome vocab.Outcome) error {
	if d.Actor == System {
		return fmt.Errorf("%s triage item: a staff actor is required", outcome)
	}
	mail, err := s.sealOptional(d.Email, kind)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		t, err := lockOpenTriage(ctx, tx, d.TriageID)
		if err != nil {
			return err
		}
		if st != "" {
			if err := decideWaitingForm(ctx, tx, t.SubmissionID, st, d.Actor); err != nil {
				return fmt.Errorf("%s triage item %d: %w", outcome, t.ID, err)
			}
		}
		if mail != nil {
			if t.ConversationID == 0 && d.Email.To == "" {
				return fmt.Errorf("%s triage item %d: no conversation, so the email needs an address", outcome, t.ID)
			}
			if _, err := queueEmail(ctx, tx, *mail, t.ConversationID, t.SubmissionID, fmt.Sprintf("triage/%d", t.ID)); err != nil {
				return err
			}
		}
		if d.Reason != "" {
			if _, err := tx.Exec(ctx, `update triage set close_reason = left($2, 200) where id = $1`, t.ID, d.Reason); err != nil {
				return fmt.Errorf("%s triage item %d: %w", outcome, t.ID, err)
			}
		}
		if outcome == vocab.OutcomeClosed && d.Reason != "" {
			outcome = vocab.CloseReason(d.Reason).Outcome()
		}
		if err := closeTriage(ctx, tx, t, d.Actor, outcome, auditDetail("reason="+d.Reason, d.Detail)); err != nil {
			return err
		}
		return nil
	})
}

// ConfirmOptBackIn records, from an open triage item (an "asks to opt back
// in" item, or any item whose conversation had recorded the person: see
// TriageItem.RegisterState), that the person opts back in: the register
// change, its history, the confirmation in.Email (KindOptedIn by default; To
// "" is the address of the conversation the opt-out came from) and the
// audit entry, as RecordOptIn makes them, and the item closes, all in one
// transaction. The person is the item's; when its conversation recorded no
// one (a first email asking to opt back in, a new thread), in.NHSNumber
// names the person staff found (through the blind index, as FindPerson),
// and the email belongs to the item's conversation. ErrNotFound when that
// number is not in the register; ErrConflict when the item has no recorded
// person and no number is given, has one and a number is given anyway, the
// person is already opted in, or the item is closed.
func (s *Store) ConfirmOptBackIn(ctx context.Context, triageID int64, in OptIn) (HistoryEntry, error) {
	var h HistoryEntry
	if in.Actor == System {
		return h, errors.New("confirm opt back in: a staff actor is required")
	}
	se, err := s.sealOptional(in.Email, vocab.KindOptedIn)
	if err != nil {
		return h, err
	}
	if se == nil {
		se = &sealedEmail{}
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		t, err := lockOpenTriage(ctx, tx, triageID)
		if err != nil {
			return err
		}
		var regID *int64
		if err := tx.QueryRow(ctx, `select register_id from triage where id = $1`, t.ID).Scan(&regID); err != nil {
			return fmt.Errorf("confirm opt back in on triage item %d: %w", t.ID, err)
		}
		switch {
		case regID != nil && in.NHSNumber != "":
			return fmt.Errorf("confirm opt back in on triage item %d: its conversation recorded the person: %w", t.ID, ErrConflict)
		case regID != nil:
			if h, err = recordOptIn(ctx, tx, `r.id = $1`, *regID, in, *se, 0); err != nil {
				return err
			}
		case in.NHSNumber == "":
			return fmt.Errorf("confirm opt back in on triage item %d: its conversation recorded no one: %w", t.ID, ErrConflict)
		default:
			idx := s.keys.NHSIndex(in.NHSNumber)
			if idx == nil {
				return fmt.Errorf("confirm opt back in on triage item %d: NHS number is not 10 digits: %w", t.ID, ErrNotFound)
			}
			if h, err = recordOptIn(ctx, tx, `r.nhs_index = $1`, idx, in, *se, t.ConversationID); err != nil {
				return err
			}
		}
		return closeTriage(ctx, tx, t, in.Actor, vocab.OutcomeOptedIn, "")
	})
	return h, err
}

// Upload is a file staff saved from a message the service could not open
// (a protected one: they read it in Outlook) and uploaded on its triage
// item, with the form the extractor read from it (intake.UploadForm reads
// it as any attachment is read).
type Upload struct {
	TriageID   int64
	Actor      Actor
	Attachment NewAttachment
	Form       form.Form
}

// AttachUpload keeps an uploaded file (sealed like any attachment, with
// the item's message, or with its answer to a staff reply when that was
// encrypted: ProtectedAnswer) and records its form as a submission of the item's
// conversation waiting for staff, tied to the item (a form uploaded
// before on the item is superseded), in one transaction, audited. Staff
// then accept or reject the item as usual: AcceptTriage reads the
// submission's fields. It returns the submission's id. ErrConflict when
// the item is closed or has no message.
func (s *Store) AttachUpload(ctx context.Context, u Upload) (int64, error) {
	if u.Actor == System {
		return 0, errors.New("attach upload: a staff actor is required")
	}
	name, err := s.keys.sealString("attachments.name", u.Attachment.Name)
	if err != nil {
		return 0, err
	}
	data, err := s.keys.Seal("attachments.data", u.Attachment.Data)
	if err != nil {
		return 0, err
	}
	source, err := s.keys.sealString("submissions.source", u.Form.Source)
	if err != nil {
		return 0, err
	}
	fields, probs, err := s.sealFields("submissions.fields", u.Form.Fields, u.Form.Problems)
	if err != nil {
		return 0, err
	}
	ct := u.Attachment.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	var subID int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		t, err := lockOpenTriage(ctx, tx, u.TriageID)
		if err != nil {
			return err
		}
		// The file is kept with the message it came from: the item's own,
		// or its answer to a staff reply when that was encrypted.
		ledgerID := t.LedgerID
		if t.Reason != vocab.ReasonProtected {
			var answer int64
			if err := tx.QueryRow(ctx, sqlProtectedAnswer, t.ID, string(extract.KindProtected)).Scan(&answer); err != nil {
				return fmt.Errorf("attach upload to triage item %d: %w", t.ID, err)
			}
			if answer != 0 {
				ledgerID = answer
			}
		}
		if ledgerID == 0 {
			return fmt.Errorf("attach upload to triage item %d: it has no message: %w", t.ID, ErrConflict)
		}
		var conv *int64
		if t.ConversationID != 0 {
			conv = &t.ConversationID
		}
		err = tx.QueryRow(ctx, `with att as (
				insert into attachments (ledger_id, name, content_type, size, data) values ($1, $2, $3, $4, $5) returning id)
			insert into submissions (conversation_id, ledger_id, seq, attachment_id, source, format, fields, problems, nhs_index, channel, status)
			select $6, $1, (select coalesce(max(seq), 0) + 1 from submissions where ledger_id = $1), att.id, $7, $8, $9, $10, $11,
				case when exists (select 1 from conversations where id = $6 and ledger_id = $1) then $12 else $13 end, $14
			from att returning id`,
			ledgerID, name, ct, int64(len(u.Attachment.Data)), data, conv, source, string(u.Form.Format), fields, probs,
			s.keys.NHSIndex(u.Form.Fields.NHSNumber), string(vocab.ChannelUnsolicited), string(vocab.ChannelSecureReply),
			string(vocab.StatusTriage)).Scan(&subID)
		if err != nil {
			return fmt.Errorf("attach upload to triage item %d: %w", t.ID, err)
		}
		if err := decideWaitingForm(ctx, tx, t.SubmissionID, vocab.StatusSuperseded, u.Actor); err != nil {
			return fmt.Errorf("attach upload to triage item %d: supersede the earlier form: %w", t.ID, err)
		}
		if _, err := tx.Exec(ctx, `update triage set submission_id = $2 where id = $1`, t.ID, subID); err != nil {
			return fmt.Errorf("attach upload to triage item %d: %w", t.ID, err)
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: u.Actor, Action: "triage.upload", ObjectType: "submission", ObjectID: subID,
			Reference: t.Reference, Detail: "format=" + string(u.Form.Format)})
	})
	return subID, err
}
