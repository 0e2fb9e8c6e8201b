package store

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/vocab"
)

// RegisterState is a person's opt-out state.
type RegisterState string

// The register states.
const (
	OptedOut RegisterState = "opted_out"
	OptedIn  RegisterState = "opted_in" // opted back in after an opt-out
)

// HistoryEntry is one change of a person's register state.
type HistoryEntry struct {
	ID           int64
	State        RegisterState
	At           time.Time
	SubmissionID int64
	Reference    string
	Actor        Actor
	Reason       string
}

// Person is one person's register entry with its history, oldest first.
// NHSNumber is in clear: never log it.
type Person struct {
	RegisterID   int64
	NHSNumber    string
	State        RegisterState
	Since        time.Time
	SubmissionID int64
	Reference    string // of the conversation the current state came from
	History      []HistoryEntry
}

// FindPerson looks a person up by NHS number through the blind index and
// returns their state and history. A staff actor's view is audited.
// ErrNotFound when the register has no entry (never opted out).
func (s *Store) FindPerson(ctx context.Context, nhs string, actor Actor) (Person, error) {
	var p Person
	idx := s.keys.NHSIndex(nhs)
	if idx == nil {
		return p, fmt.Errorf("find person: NHS number is not 10 digits: %w", ErrNotFound)
	}
	var sealed []byte
	err := s.pool.QueryRow(ctx, `select r.id, r.nhs_number, r.state, r.since, coalesce(r.submission_id, 0), coalesce(c.reference, '')
		from register r left join submissions sb on sb.id = r.submission_id left join conversations c on c.id = sb.conversation_id
		where r.nhs_index = $1`, idx).Scan(&p.RegisterID, &sealed, &p.State, &p.Since, &p.SubmissionID, &p.Reference)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, fmt.Errorf("find person: %w", ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("find person: %w", err)
	}
	if p.NHSNumber, err = s.keys.openString("register.nhs_number", sealed); err != nil {
		return p, err
	}
	if p.History, err = s.history(ctx, p.RegisterID); err != nil {
		return p, err
	}
	if actor != System {
		err = s.WriteAudit(ctx, AuditEntry{Actor: actor, Action: "register.view", ObjectType: "register", ObjectID: p.RegisterID, Reference: p.Reference})
	}
	return p, err
}

func (s *Store) history(ctx context.Context, registerID int64) ([]HistoryEntry, error) {
	rows, err := s.pool.Query(ctx, `select id, state, at, coalesce(submission_id, 0), reference, actor, reason
		from register_history where register_id = $1 order by id`, registerID)
	if err != nil {
		return nil, fmt.Errorf("read register history: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (HistoryEntry, error) {
		var h HistoryEntry
		var actor string
		err := r.Scan(&h.ID, &h.State, &h.At, &h.SubmissionID, &h.Reference, &actor, &h.Reason)
		h.Actor, _ = ParseActor(actor)
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("read register history: %w", err)
	}
	return out, nil
}

// OptIn is a staff decision to record that a person opts back in.
type OptIn struct {
	NHSNumber string
	Actor     Actor
	// Reason is kept in the history for staff; keep personal values out of it.
	Reason string
	// Email confirms it to the resident; To "" means the address of the
	// conversation the opt-out came from. Optional.
	Email *Email
}

// RecordOptIn records an opt back in: the register change, its history, the
// confirmation email and the audit entry in one transaction. ErrNotFound
// when the person has no register entry; ErrConflict when already opted in.
func (s *Store) RecordOptIn(ctx context.Context, in OptIn) (HistoryEntry, error) {
	var h HistoryEntry
	idx := s.keys.NHSIndex(in.NHSNumber)
	if idx == nil {
		return h, fmt.Errorf("record opt in: NHS number is not 10 digits: %w", ErrNotFound)
	}
	if in.Actor == System {
		return h, errors.New("record opt in: a staff actor is required")
	}
	var se sealedEmail
	if in.Email != nil {
		if in.Email.Kind == "" {
			in.Email.Kind = vocab.KindOptedIn
		}
		var err error
		if se, err = s.sealEmail(in.Email); err != nil {
			return h, err
		}
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		h, err = recordOptIn(ctx, tx, `r.nhs_index = $1`, idx, in, se, 0)
		return err
	})
	return h, err
}

// recordOptIn is RecordOptIn's transaction, for the register row that where
// (a condition on r, with $1 = arg) selects: the row is locked, turned
// opted_in, its history appended, the confirmation queued (se, when
// in.Email is set: in emailConv, or when 0 in the conversation the opt-out
// came from) and the change audited.
func recordOptIn(ctx context.Context, tx pgx.Tx, where string, arg any, in OptIn, se sealedEmail, emailConv int64) (HistoryEntry, error) {
	var h HistoryEntry
	err := func() error {
		var regID int64
		var state RegisterState
		var conv *int64
		var ref string
		err := tx.QueryRow(ctx, `select r.id, r.state, sb.conversation_id, coalesce(c.reference, '')
			from register r left join submissions sb on sb.id = r.submission_id left join conversations c on c.id = sb.conversation_id
			where `+where+` for update of r`, arg).Scan(&regID, &state, &conv, &ref)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("record opt in: %w", ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("record opt in: %w", err)
		}
		if state == OptedIn {
			return fmt.Errorf("record opt in: already opted in: %w", ErrConflict)
		}
		if _, err := tx.Exec(ctx, `update register set state = 'opted_in', since = now(), updated_at = now() where id = $1`, regID); err != nil {
			return fmt.Errorf("record opt in: %w", err)
		}
		h = HistoryEntry{State: OptedIn, Reference: ref, Actor: in.Actor, Reason: in.Reason}
		if err := tx.QueryRow(ctx, `insert into register_history (register_id, state, at, reference, actor, reason)
			values ($1, 'opted_in', now(), $2, $3, $4) returning id, at`, regID, ref, in.Actor.String(), in.Reason).Scan(&h.ID, &h.At); err != nil {
			return fmt.Errorf("record opt in history: %w", err)
		}
		if in.Email != nil {
			convID := emailConv
			if convID == 0 && conv != nil {
				convID = *conv
			}
			if convID == 0 && in.Email.To == "" {
				return errors.New("record opt in: the opt-out has no conversation, so the confirmation needs an address")
			}
			if _, err := queueEmail(ctx, tx, se, convID, 0, "history/"+strconv.FormatInt(h.ID, 10)); err != nil {
				return err
			}
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: in.Actor, Action: "register.opt_in", ObjectType: "register", ObjectID: regID, Reference: ref})
	}()
	return h, err
}

// ExportChanges writes, as CSV, every register change at or after since, in
// order: a header line "nhs_number,state,effective_at,reference,change_id"
// then one line per change (effective_at in RFC 3339 UTC). This is the file
// applied to the care record. The export is audited; it returns the number
// of changes written.
func (s *Store) ExportChanges(ctx context.Context, w io.Writer, since time.Time, actor Actor) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select h.id, r.nhs_number, h.state, h.at, h.reference
			from register_history h join register r on r.id = h.register_id
			where h.at >= $1 order by h.at, h.id`, since)
		if err != nil {
			return fmt.Errorf("export register changes: %w", err)
		}
		defer rows.Close()
		cw := csv.NewWriter(w)
		if err := cw.Write([]string{"nhs_number", "state", "effective_at", "reference", "change_id"}); err != nil {
			return fmt.Errorf("write export: %w", err)
		}
		for rows.Next() {
			var id int64
			var sealed []byte
			var state, ref string
			var at time.Time
			if err := rows.Scan(&id, &sealed, &state, &at, &ref); err != nil {
				return fmt.Errorf("export register changes: %w", err)
			}
			nhs, err := s.keys.openString("register.nhs_number", sealed)
			if err != nil {
				return err
			}
			if err := cw.Write([]string{nhs, state, at.UTC().Format(time.RFC3339), ref, strconv.FormatInt(id, 10)}); err != nil {
				return fmt.Errorf("write export: %w", err)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("export register changes: %w", err)
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("write export: %w", err)
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: actor, Action: "register.export", ObjectType: "register",
			Detail: fmt.Sprintf("since=%s rows=%d", since.UTC().Format(time.RFC3339), n)})
	})
	return n, err
}

// RegisterCounts returns how many people are in each register state.
func (s *Store) RegisterCounts(ctx context.Context) (map[RegisterState]int, error) {
	rows, err := s.pool.Query(ctx, `select state, count(*) from register group by state`)
	if err != nil {
		return nil, fmt.Errorf("count register: %w", err)
	}
	defer rows.Close()
	out := map[RegisterState]int{}
	for rows.Next() {
		var st RegisterState
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count register: %w", err)
		}
		out[st] = n
	}
	return out, rows.Err()
}

// Submission is one form as recorded, opened. Fields hold personal data.
type Submission struct {
	ID             int64
	ConversationID int64
	Reference      string
	LedgerID       int64
	AttachmentID   int64 // 0 when none or purged
	Source         string
	Format         form.Format
	Fields         form.Fields  // as read
	Corrected      *form.Fields // as corrected by staff, when they did
	Problems       []form.Problem
	Channel        vocab.Channel
	Status         vocab.SubmissionStatus
	DecidedBy      string
	DecidedAt      *time.Time
	CreatedAt      time.Time
}

const subCols = `sb.id, coalesce(sb.conversation_id, 0), coalesce(c.reference, ''), coalesce(sb.ledger_id, 0), coalesce(sb.attachment_id, 0),
	sb.source, sb.format, sb.fields, sb.corrected, sb.problems, sb.channel, sb.status, coalesce(sb.decided_by, ''), sb.decided_at, sb.created_at`

func (s *Store) scanSubmission(row pgx.Row) (Submission, error) {
	var sb Submission
	var source, fields, corrected, problems []byte
	if err := row.Scan(&sb.ID, &sb.ConversationID, &sb.Reference, &sb.LedgerID, &sb.AttachmentID, &source, &sb.Format, &fields, &corrected,
		&problems, &sb.Channel, &sb.Status, &sb.DecidedBy, &sb.DecidedAt, &sb.CreatedAt); err != nil {
		return sb, err
	}
	var err error
	if sb.Source, err = s.keys.openString("submissions.source", source); err != nil {
		return sb, err
	}
	if err := s.openFields("submissions.fields", fields, &sb.Fields); err != nil {
		return sb, err
	}
	if corrected != nil {
		sb.Corrected = new(form.Fields)
		if err := s.openFields("submissions.corrected", corrected, sb.Corrected); err != nil {
			return sb, err
		}
	}
	if err := json.Unmarshal(problems, &sb.Problems); err != nil {
		return sb, fmt.Errorf("decode problems of submission %d: %w", sb.ID, err)
	}
	return sb, nil
}

func (s *Store) openFields(context string, sealed []byte, f *form.Fields) error {
	js, err := s.keys.Open(context, sealed)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(js, f); err != nil {
		return fmt.Errorf("decode %s: %w", context, err)
	}
	return nil
}

// SubmissionsByReference returns a conversation and its submissions, oldest
// first (the "find a person by reference" view). A staff view is audited.
func (s *Store) SubmissionsByReference(ctx context.Context, ref string, actor Actor) (Conversation, []Submission, error) {
	c, err := s.ConversationByReference(ctx, ref)
	if err != nil {
		return c, nil, err
	}
	rows, err := s.pool.Query(ctx, `select `+subCols+` from submissions sb left join conversations c on c.id = sb.conversation_id
		where sb.conversation_id = $1 order by sb.id`, c.ID)
	if err != nil {
		return c, nil, fmt.Errorf("list submissions of a reference: %w", err)
	}
	subs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Submission, error) { return s.scanSubmission(r) })
	if err != nil {
		return c, nil, fmt.Errorf("list submissions of a reference: %w", err)
	}
	if actor != System {
		err = s.WriteAudit(ctx, AuditEntry{Actor: actor, Action: "conversation.view", ObjectType: "conversation", ObjectID: c.ID, Reference: c.Reference})
	}
	return c, subs, err
}

// StaffOptOut is an opt-out staff keyed in from a form the resident gave
// another way (on paper, by phone): the fields, already checked by
// form.Check, and who keyed them in.
type StaffOptOut struct {
	Fields form.Fields
	Actor  Actor
	// Reference links the form to that conversation; "" for none.
	Reference string
	// Accepted is the outcome email, queued to the conversation's address
	// when the register records the opt-out; it needs a conversation with
	// an address. Optional.
	Accepted *Email
}

// RecordStaffOptOut records a staff-keyed form (channel staff) and its
// opt-out in the register, with history reason "staff", the outcome email
// and the audit entry, in one transaction. It returns the form's status:
// StatusAccepted, or StatusDuplicate when the person is already opted out
// (nothing changes in the register, no email goes).
func (s *Store) RecordStaffOptOut(ctx context.Context, in StaffOptOut) (vocab.SubmissionStatus, error) {
	if in.Actor == System {
		return "", errors.New("record staff opt-out: a staff actor is required")
	}
	nhs := NormaliseNHS(in.Fields.NHSNumber)
	if nhs == "" {
		return "", fmt.Errorf("record staff opt-out: the NHS number is not 10 digits: %w", ErrConflict)
	}
	acc, err := s.sealOptional(in.Accepted, vocab.KindAccepted)
	if err != nil {
		return "", err
	}
	fields, probs, err := s.sealFields("submissions.fields", in.Fields, nil)
	if err != nil {
		return "", err
	}
	source, err := s.keys.sealString("submissions.source", "staff")
	if err != nil {
		return "", err
	}
	nhsSealed, err := s.keys.sealString("register.nhs_number", nhs)
	if err != nil {
		return "", err
	}
	idx := s.keys.NHSIndex(nhs)
	ref := strings.ToUpper(strings.TrimSpace(in.Reference))
	var status vocab.SubmissionStatus
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var convID int64
		if ref != "" {
			err := tx.QueryRow(ctx, `select id from conversations where reference = $1`, ref).Scan(&convID)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("record staff opt-out: no conversation %s: %w", ref, ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("record staff opt-out: %w", err)
			}
		}
		if acc != nil && convID == 0 {
			return errors.New("record staff opt-out: the outcome email needs a conversation")
		}
		var conv *int64
		if convID != 0 {
			conv = &convID
		}
		var subID int64
		if err := tx.QueryRow(ctx, `insert into submissions (conversation_id, source, format, fields, problems, nhs_index, channel, status)
			values ($1, $2, '', $3, $4, $5, $6, 'triage') returning id`,
			conv, source, fields, probs, idx, string(vocab.ChannelStaff)).Scan(&subID); err != nil {
			return fmt.Errorf("record staff opt-out: add submission: %w", err)
		}
		if err := tx.QueryRow(ctx, `with `+optOutCTE("$1", "$2", "$3", "$4", "$5", "'staff'")+`
			update submissions set status = case when exists (select 1 from reg) then 'accepted' else 'duplicate' end,
				decided_by = $5, decided_at = now()
			where id = $3 returning status`, idx, nhsSealed, subID, ref, in.Actor.String()).Scan(&status); err != nil {
			return fmt.Errorf("record staff opt-out: %w", err)
		}
		action := "register.opt_out"
		if status == vocab.StatusDuplicate {
			action = "register.duplicate"
		}
		if err := writeAudit(ctx, tx, AuditEntry{Actor: in.Actor, Action: action, ObjectType: "submission", ObjectID: subID, Reference: ref, Detail: "channel=staff"}); err != nil {
			return err
		}
		if acc != nil && status == vocab.StatusAccepted {
			if _, err := queueEmail(ctx, tx, *acc, convID, subID, ""); err != nil && !errors.Is(err, ErrDuplicate) {
				return err
			}
		}
		return nil
	})
	return status, err
}
