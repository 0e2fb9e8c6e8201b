package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/vocab"
)

// Email is one message to queue in the outbox.
type Email struct {
	Kind vocab.Kind
	// To is the recipient; "" means the conversation's address.
	To      string
	Subject string
	Body    string
	// MessageID is the Message-ID the email will carry (without angle
	// brackets), chosen by the caller so retries resend the same id. It is
	// recorded as ours in the conversation for reply matching. Required.
	MessageID  string
	InReplyTo  string
	References []string
	// Key is the idempotency key; a second email with the same key is not
	// queued. "" derives it: "<kind>/sub/<submission id>" for an email tied
	// to a submission, otherwise "<kind>/conv/<conversation id>".
	Key string
	// Submission ties the email to Outcome.Submissions[Submission-1]
	// (1-based; 0 for none).
	Submission int
}

// NewConversation opens a conversation as part of an outcome.
type NewConversation struct {
	Address   string
	Reference string // "" draws a fresh one; pass NewReference() to know it before (for the subject line)
}

// AttachmentInput is an original attachment kept for staff until the purge.
type AttachmentInput struct {
	Name        string
	ContentType string
	Data        []byte
}

// SubmissionInput is one form read from the message.
type SubmissionInput struct {
	Form    form.Form
	Channel vocab.Channel // default ChannelSecureReply
	// Attachment ties the form to Outcome.Attachments[Attachment-1] (0: none).
	Attachment int
	// Record asks to record a valid form's opt-out in the register. The
	// result is StatusAccepted, or vocab.StatusDuplicate when the person is already
	// opted out, and the matching email below is queued.
	Record bool
	// Status is the status when Record is false (default StatusTriage).
	Status vocab.SubmissionStatus
	// Accepted and Duplicate are the outcome emails for a recorded form;
	// only the one matching the register's answer is queued.
	Accepted, Duplicate *Email
}

// TriageInput raises a triage item.
type TriageInput struct {
	Reason vocab.Reason
	// Submission ties it to Outcome.Submissions[Submission-1] (0: the message as a whole).
	Submission int
}

// Outcome is everything one email causes. CompleteMessage commits all of it
// together with the ledger row becoming done, or none of it.
type Outcome struct {
	LedgerID int64
	Kind     string // the message's kind (extract.Kind); "" keeps the recorded one
	Action   string // what was done, a code without personal data (e.g. "instructions_sent")

	// NewConversation opens a conversation; otherwise ConversationID (0: none) is used.
	NewConversation *NewConversation
	ConversationID  int64
	// ConversationState sets the conversation's state ("" leaves it).
	ConversationState vocab.ConversationState
	// NoFormReply counts one more "no form found" reply in the conversation.
	NoFormReply bool
	// ReplaceRaw replaces the kept raw message (for example with a copy whose
	// body is redacted because a first contact held personal data).
	ReplaceRaw []byte

	Attachments []AttachmentInput
	Submissions []SubmissionInput
	Emails      []Email
	Triage      []TriageInput
	Audit       []AuditEntry // extra entries; register changes are audited by the store
}

// SubmissionResult is what was recorded for one SubmissionInput.
type SubmissionResult struct {
	ID     int64
	Status vocab.SubmissionStatus
}

// OutcomeResult reports what CompleteMessage wrote.
type OutcomeResult struct {
	ConversationID int64
	Reference      string
	Submissions    []SubmissionResult
	// Queued holds the ids of outbox rows queued, in the order of
	// Outcome.Emails then each submission's outcome email; a duplicate key
	// queues nothing and is left out.
	Queued []int64
	Triage []int64
}

// CompleteMessage commits the outcome of one ledger message in a single
// transaction: the conversation, attachments, submissions, register changes
// and their history, outbox emails (idempotent by key), triage items,
// audit entries, and the ledger row turning done. When the row is already
// done it changes nothing and returns ErrAlreadyDone, so a message handled
// twice (re-fetched, two replicas, a restart after a crash) is answered once.
// Two outcomes recording the same NHS number concurrently serialise on the
// register row: one opts out, the other is a duplicate.
func (s *Store) CompleteMessage(ctx context.Context, o Outcome) (OutcomeResult, error) {
	var res OutcomeResult
	if err := s.checkOutcome(&o); err != nil {
		return res, err
	}
	// Seal outside the transaction: it is CPU work that should not hold locks.
	sealed, err := s.sealOutcome(&o)
	if err != nil {
		return res, err
	}
	for attempt := 0; ; attempt++ {
		res, err = s.completeOnce(ctx, &o, sealed)
		if err == nil || attempt >= 3 || o.NewConversation == nil || o.NewConversation.Reference != "" || !isUnique(err) {
			return res, err
		}
		// A drawn reference collided: draw again.
		sealed.reference = ""
	}
}

type sealedOutcome struct {
	reference   string
	convAddress []byte
	convHash    []byte
	raw         []byte
	atts        [][2][]byte // name, data
	subs        []sealedSub
	emails      []sealedEmail
}

type sealedSub struct {
	source, fields []byte
	problems       []byte
	nhsIndex       []byte
	nhsSealed      []byte
}

type sealedEmail struct {
	e        *Email
	to, hash []byte
	subject  []byte
	body     []byte
	useConv  bool
	onlyIf   vocab.SubmissionStatus // queue only when the submission ended with this status
}

func (s *Store) checkOutcome(o *Outcome) error {
	if o.LedgerID == 0 {
		return errors.New("complete message: no ledger id")
	}
	hasConv := o.NewConversation != nil || o.ConversationID != 0
	check := func(e *Email, where string) error {
		if e.Kind == "" || strings.TrimSpace(e.MessageID) == "" {
			return fmt.Errorf("complete message: %s email needs a kind and a Message-ID", where)
		}
		if e.Submission < 0 || e.Submission > len(o.Submissions) {
			return fmt.Errorf("complete message: %s email refers to submission %d of %d", where, e.Submission, len(o.Submissions))
		}
		if (e.To == "" || e.Key == "" && e.Submission == 0) && !hasConv {
			return fmt.Errorf("complete message: %s email has no recipient or key and the outcome no conversation", where)
		}
		return nil
	}
	for i := range o.Emails {
		if err := check(&o.Emails[i], string(o.Emails[i].Kind)); err != nil {
			return err
		}
	}
	for i, sub := range o.Submissions {
		if sub.Attachment < 0 || sub.Attachment > len(o.Attachments) {
			return fmt.Errorf("complete message: submission %d refers to attachment %d of %d", i+1, sub.Attachment, len(o.Attachments))
		}
		if sub.Record && NormaliseNHS(sub.Form.Fields.NHSNumber) == "" {
			return fmt.Errorf("complete message: submission %d is to be recorded but has no 10-digit NHS number", i+1)
		}
		for _, e := range []*Email{sub.Accepted, sub.Duplicate} {
			if e != nil {
				e.Submission = i + 1
				if err := check(e, "submission outcome"); err != nil {
					return err
				}
			}
		}
	}
	for _, t := range o.Triage {
		if t.Reason == "" || t.Submission < 0 || t.Submission > len(o.Submissions) {
			return fmt.Errorf("complete message: triage item needs a reason and a valid submission index")
		}
	}
	return nil
}

func (s *Store) sealOutcome(o *Outcome) (*sealedOutcome, error) {
	so := &sealedOutcome{}
	var err error
	if nc := o.NewConversation; nc != nil {
		so.reference = strings.ToUpper(nc.Reference)
		if so.convAddress, err = s.keys.sealString("conversations.address", NormaliseAddress(nc.Address)); err != nil {
			return nil, err
		}
		so.convHash = s.keys.AddressHash(nc.Address)
	}
	if o.ReplaceRaw != nil {
		if so.raw, err = s.keys.Seal("ledger.raw", o.ReplaceRaw); err != nil {
			return nil, err
		}
	}
	for _, a := range o.Attachments {
		n, err := s.keys.sealString("attachments.name", a.Name)
		if err != nil {
			return nil, err
		}
		d, err := s.keys.Seal("attachments.data", a.Data)
		if err != nil {
			return nil, err
		}
		so.atts = append(so.atts, [2][]byte{n, d})
	}
	for _, sub := range o.Submissions {
		var ss sealedSub
		if ss.source, err = s.keys.sealString("submissions.source", sub.Form.Source); err != nil {
			return nil, err
		}
		if ss.fields, ss.problems, err = s.sealFields("submissions.fields", sub.Form.Fields, sub.Form.Problems); err != nil {
			return nil, err
		}
		ss.nhsIndex = s.keys.NHSIndex(sub.Form.Fields.NHSNumber)
		if sub.Record {
			if ss.nhsSealed, err = s.keys.sealString("register.nhs_number", NormaliseNHS(sub.Form.Fields.NHSNumber)); err != nil {
				return nil, err
			}
		}
		so.subs = append(so.subs, ss)
	}
	add := func(e *Email, onlyIf vocab.SubmissionStatus) error {
		se, err := s.sealEmail(e)
		if err != nil {
			return err
		}
		se.onlyIf = onlyIf
		so.emails = append(so.emails, se)
		return nil
	}
	for i := range o.Emails {
		if err := add(&o.Emails[i], ""); err != nil {
			return nil, err
		}
	}
	for _, sub := range o.Submissions {
		if sub.Accepted != nil {
			if sub.Accepted.Kind == "" {
				sub.Accepted.Kind = vocab.KindAccepted
			}
			if err := add(sub.Accepted, vocab.StatusAccepted); err != nil {
				return nil, err
			}
		}
		if sub.Duplicate != nil {
			if sub.Duplicate.Kind == "" {
				sub.Duplicate.Kind = vocab.KindDuplicate
			}
			if err := add(sub.Duplicate, vocab.StatusDuplicate); err != nil {
				return nil, err
			}
		}
	}
	return so, nil
}

func (s *Store) sealFields(context string, f form.Fields, problems []form.Problem) (fields, probs []byte, err error) {
	js, err := json.Marshal(f)
	if err != nil {
		return nil, nil, fmt.Errorf("encode form fields: %w", err)
	}
	if fields, err = s.keys.Seal(context, js); err != nil {
		return nil, nil, err
	}
	if problems == nil {
		problems = []form.Problem{}
	}
	if probs, err = json.Marshal(problems); err != nil {
		return nil, nil, fmt.Errorf("encode form problems: %w", err)
	}
	return fields, probs, nil
}

func (s *Store) sealEmail(e *Email) (sealedEmail, error) {
	se := sealedEmail{e: e, useConv: e.To == ""}
	var err error
	if !se.useConv {
		if se.to, err = s.keys.sealString("outbox.recipient", NormaliseAddress(e.To)); err != nil {
			return se, err
		}
		se.hash = s.keys.AddressHash(e.To)
	}
	if se.subject, err = s.keys.sealString("outbox.subject", e.Subject); err != nil {
		return se, err
	}
	if se.body, err = s.keys.sealString("outbox.body", e.Body); err != nil {
		return se, err
	}
	return se, nil
}

// attachmentByPosition is parameter $5 of the submission statements: the
// 1-based position of the form's attachment among this message's
// attachments (queued earlier in the same batch), 0 for none.
const attachmentByPosition = `case when $5::int > 0 then (select id from attachments where ledger_id = $3 order by id offset $5::int - 1 limit 1) end`

// The outcome's SQL. Statements run pipelined in one batch, so every
// later statement sees the earlier ones' rows.
const (
	sqlInsertAttachment = `insert into attachments (ledger_id, name, content_type, size, data) values ($1, $2, $3, $4, $5) returning id`

	sqlInsertSubmission = `insert into submissions (id, conversation_id, ledger_id, seq, attachment_id, source, format, fields, problems, nhs_index, channel, status)
		values ($1, $2, $3, $4, ` + attachmentByPosition + `, $6, $7, $8, $9, $10, $11, $12) returning status`

	// One statement records a valid form: the register row is inserted, or
	// updated unless already opted out (ON CONFLICT locks the row, so two
	// transactions for one person serialise and the second sees the
	// first's opt-out); history follows the change; the submission's status
	// says which happened, and the audit entry records it.
	sqlRecordSubmission = `with reg as (
			insert into register as r (nhs_index, nhs_number, state, since, submission_id)
			values ($10, $13, 'opted_out', now(), $1)
			on conflict (nhs_index) do update set state = 'opted_out', since = now(), submission_id = excluded.submission_id,
				nhs_number = excluded.nhs_number, updated_at = now()
			where r.state <> 'opted_out'
			returning r.id),
		hist as (
			insert into register_history (register_id, state, at, submission_id, reference, actor, reason)
			select id, 'opted_out', now(), $1, coalesce((select reference from conversations where id = $2), $14, ''), 'system', 'form' from reg),
		sub as (
			insert into submissions (id, conversation_id, ledger_id, seq, attachment_id, source, format, fields, problems, nhs_index, channel, status, decided_by, decided_at)
			values ($1, $2, $3, $4, ` + attachmentByPosition + `, $6, $7, $8, $9, $10, $11,
				case when exists (select 1 from reg) then 'accepted' else 'duplicate' end, coalesce($12::text, 'system'), now())
			returning id, status, format),
		aud as (
			insert into audit (actor, action, object_type, object_id, reference, detail)
			select 'system', case status when 'accepted' then 'register.opt_out' else 'register.duplicate' end, 'submission', id,
				coalesce((select reference from conversations where id = $2), $14, ''), 'format=' || format
			from sub)
		select status from sub`

	// Queue an email unless its key exists, or its condition on the
	// submission's status fails. Its Message-ID stays in the outbox row
	// (unique, never deleted), which is where ConversationByMessageID
	// finds a reply's conversation: no second row per email.
	// The sealed subject and body go to outbox_content, written once,
	// so the outbox row that changes state stays small.
	sqlQueueEmail = `with o as (
			insert into outbox (key, kind, conversation_id, submission_id, recipient, recipient_hash, message_id, in_reply_to, refs)
			select $1, $2, $3, $4, $5::bytea, coalesce($6, c.address_hash), $9, $10, $11
			from (select 1) one left join conversations c on c.id = $3
			where $12::text is null or (select status from submissions where id = $4) = $12
			and ($5::bytea is not null or c.id is not null)
			on conflict (key) do nothing
			returning id),
		content as (
			insert into outbox_content (id, subject, body) select id, $7::bytea, $8::bytea from o)
		select id from o`

	sqlRaiseTriage = `insert into triage (submission_id, ledger_id, conversation_id, reason, due_by)
		select $1, $2, $3, $4, received_at + interval '1 month' from ledger where id = $2
		on conflict do nothing returning id`
)

func (s *Store) completeOnce(ctx context.Context, o *Outcome, so *sealedOutcome) (OutcomeResult, error) {
	var res OutcomeResult
	// Ids of the new conversation and the submissions come from blocks
	// drawn ahead (a round trip every few messages, not every one), so the
	// whole transaction below is one pipelined round trip.
	newID, subIDs, err := s.takeIDs(ctx, o.NewConversation != nil, len(o.Submissions))
	if err != nil {
		return res, fmt.Errorf("complete message: ledger row %d: %w", o.LedgerID, err)
	}
	convID := o.ConversationID
	if o.NewConversation != nil {
		convID = newID
		if so.reference == "" {
			if so.reference, err = NewReference(); err != nil {
				return res, err
			}
		}
	}
	err = s.pipelinedTx(ctx, func(conn *pgx.Conn) error {
		res = OutcomeResult{ConversationID: convID, Reference: so.reference}
		var conv *int64
		if convID != 0 {
			conv = &convID
		}

		// One round trip: BEGIN; the gate locks the ledger row (the
		// exactly-once gate) and fails when it is unknown or done, which
		// makes the server skip the rest, COMMIT included; then every
		// write and COMMIT. A failing statement anywhere likewise skips
		// the rest; the deferred ROLLBACK of pipelinedTx ends the
		// transaction.
		b := &pgx.Batch{}
		type pending struct {
			kind  string
			index int
		}
		var order []pending
		b.Queue(`begin`)
		order = append(order, pending{"exec", 0})
		b.Queue(`select ledger_gate($1)`, o.LedgerID)
		order = append(order, pending{"exec", 0})
		if o.NewConversation != nil {
			b.Queue(`insert into conversations (id, reference, address, address_hash, state, ledger_id) values ($1, $2, $3, $4, $5, $6)`,
				convID, so.reference, so.convAddress, so.convHash, string(vocab.StateInstructionsSent), o.LedgerID)
			order = append(order, pending{"exec", 0})
		}
		for i, a := range so.atts {
			in := o.Attachments[i]
			ct := in.ContentType
			if ct == "" {
				ct = "application/octet-stream"
			}
			// The id is needed by the submissions in this same batch, so
			// they find it with a subquery by position instead.
			b.Queue(sqlInsertAttachment, o.LedgerID, a[0], ct, int64(len(in.Data)), a[1])
			order = append(order, pending{"att", i})
		}
		for i, sub := range o.Submissions {
			ss := so.subs[i]
			ch := sub.Channel
			if ch == "" {
				ch = vocab.ChannelSecureReply
			}
			args := []any{subIDs[i], conv, o.LedgerID, i + 1, sub.Attachment, ss.source, string(sub.Form.Format), ss.fields, ss.problems, ss.nhsIndex, string(ch)}
			sqlText := sqlInsertSubmission
			if sub.Record {
				sqlText = sqlRecordSubmission
				args = append(args, nil, ss.nhsSealed, so.reference) // $12: decided_by (system)
			} else {
				st := sub.Status
				if st == "" {
					st = vocab.StatusTriage
				}
				args = append(args, string(st))
			}
			b.Queue(sqlText, args...)
			order = append(order, pending{"sub", i})
		}
		for _, se := range so.emails {
			e := se.e
			var subID *int64
			if e.Submission > 0 {
				subID = &subIDs[e.Submission-1]
			}
			key := e.Key
			if key == "" {
				if subID != nil {
					key = fmt.Sprintf("%s/sub/%d", e.Kind, *subID)
				} else {
					key = fmt.Sprintf("%s/conv/%d", e.Kind, convID)
				}
			}
			var onlyIf *string
			if se.onlyIf != "" {
				v := string(se.onlyIf)
				onlyIf = &v
			}
			b.Queue(sqlQueueEmail, key, string(e.Kind), conv, subID, se.to, se.hash, se.subject, se.body,
				strings.Trim(strings.TrimSpace(e.MessageID), "<>"), e.InReplyTo, strings.Join(e.References, " "), onlyIf)
			order = append(order, pending{"mail", 0})
		}
		for _, t := range o.Triage {
			var subID *int64
			if t.Submission > 0 {
				subID = &subIDs[t.Submission-1]
			}
			b.Queue(sqlRaiseTriage, subID, o.LedgerID, conv, t.Reason)
			order = append(order, pending{"triage", 0})
		}
		for _, a := range o.Audit {
			var obj *int64
			if a.ObjectID != 0 {
				obj = &a.ObjectID
			}
			b.Queue(`insert into audit (actor, action, object_type, object_id, reference, detail)
				values ($1, $2, $3, $4, coalesce(nullif($5, ''), (select reference from conversations where id = $6), ''), $7)`,
				a.Actor.String(), a.Action, a.ObjectType, obj, a.Reference, convID, a.Detail)
			order = append(order, pending{"exec", 0})
		}
		if convID != 0 && (o.ConversationState != "" || o.NoFormReply) {
			b.Queue(`update conversations set state = coalesce(nullif($2, ''), state), no_form_count = no_form_count + $3, updated_at = now() where id = $1`,
				convID, string(o.ConversationState), boolInt(o.NoFormReply))
			order = append(order, pending{"exec", 0})
		}
		// The ledger row turns done; an existing conversation's
		// reference comes back for the result.
		b.Queue(`update ledger set state = 'done', kind = coalesce(nullif($2, ''), kind), action = $3, last_error = '',
				next_attempt_at = null, raw = coalesce($4, raw), updated_at = now() where id = $1
			returning (select reference from conversations where id = $5 and not $6)`,
			o.LedgerID, o.Kind, o.Action, so.raw, convID, o.NewConversation != nil)
		order = append(order, pending{"ledger", 0})
		b.Queue(`commit`)
		order = append(order, pending{"commit", 0})

		br := conn.SendBatch(ctx, b)
		for _, p := range order {
			var err error
			switch p.kind {
			case "exec":
				_, err = br.Exec()
			case "commit":
				var tag pgconn.CommandTag
				tag, err = br.Exec()
				if err == nil && tag.String() != "COMMIT" {
					err = fmt.Errorf("commit answered %q: the transaction was rolled back", tag.String())
				}
			case "ledger":
				var ref *string
				err = br.QueryRow().Scan(&ref)
				if ref != nil {
					res.Reference = *ref
				}
			case "att":
				var id int64
				err = br.QueryRow().Scan(&id)
			case "sub":
				var st vocab.SubmissionStatus
				err = br.QueryRow().Scan(&st)
				res.Submissions = append(res.Submissions, SubmissionResult{ID: subIDs[p.index], Status: st})
			case "mail", "triage":
				var id int64
				err = br.QueryRow().Scan(&id)
				if errors.Is(err, pgx.ErrNoRows) {
					err = nil // key or item already there, or condition not met
				} else if err == nil && p.kind == "mail" {
					res.Queued = append(res.Queued, id)
				} else if err == nil {
					res.Triage = append(res.Triage, id)
				}
			}
			if err != nil {
				br.Close()
				return fmt.Errorf("complete message: ledger row %d: %w", o.LedgerID, gateError(err))
			}
		}
		if err := br.Close(); err != nil {
			return fmt.Errorf("complete message: ledger row %d: %w", o.LedgerID, err)
		}
		return nil
	})
	if err != nil {
		return OutcomeResult{}, err
	}
	return res, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// gateError turns the errors ledger_gate raises into ErrNotFound and
// ErrAlreadyDone; other errors are returned as they are.
func gateError(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "OPTNF":
			return ErrNotFound
		case "OPTAD":
			return ErrAlreadyDone
		}
	}
	return err
}
