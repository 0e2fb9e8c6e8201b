package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

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
	// queued. "" derives it: "<kind>/ledger/<ledger id>" when PerMessage,
	// "<kind>/sub/<submission id>" for a submission's outcome email,
	// otherwise "<kind>/conv/<conversation id>".
	Key string
	// PerMessage makes the derived key one per message (a receipt: a
	// conversation may send several forms, each message gets its own).
	PerMessage bool
}

// NewConversation opens a conversation as part of a plan.
type NewConversation struct {
	Address   string
	Reference string // "" draws a fresh one; pass NewReference() to know it before (for the subject line)
}

// NewAttachment is an original attachment kept for staff until the purge.
type NewAttachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// NewSubmission is one form read from the message.
type NewSubmission struct {
	Form    form.Form
	Channel vocab.Channel // default ChannelSecureReply
	// Attachment is the kept file the form came from (one of
	// Plan.Attachments), nil when none is kept.
	Attachment *NewAttachment
	// Status is what becomes of the form (default StatusTriage).
	// StatusAccepted records a valid form's opt-out in the register: the
	// result is StatusAccepted, or StatusDuplicate when the person is
	// already opted out, and the matching email below is queued.
	Status vocab.SubmissionStatus
	// Accepted and Duplicate are the outcome emails for an accepted form;
	// only the one matching the register's answer is queued.
	Accepted, Duplicate *Email
}

// NewTriage is one triage item to raise.
type NewTriage struct {
	Reason vocab.Reason
	// Submission is the form it is about (one of Plan.Submissions), nil
	// for the message as a whole.
	Submission *NewSubmission
	// DueBy is when it must be answered (the law's deadline for what the
	// message asks, see package enquiry); zero means the default, one
	// calendar month from receipt.
	DueBy time.Time
}

// Plan is everything one email causes: intake.Decide draws it up, the
// processor fills in what Decide cannot know (the ledger row, addresses,
// the composed emails, the kept attachments), and CompleteMessage commits
// all of it together with the ledger row becoming done, or none of it.
// Its parts refer to one another by pointer (a triage item to its
// submission, a submission to its attachment).
type Plan struct {
	LedgerID int64
	Kind     string // the message's kind (extract.Kind); "" keeps the recorded one
	// Folder is where the message goes; the ledger's action column keeps
	// "<folder>:<action>" (just the action when Folder is "").
	Folder vocab.Folder
	// Action is what was done, a code without personal data.
	Action vocab.Action

	// NewConversation opens a conversation; otherwise ConversationID (0: none) is used.
	// The ledger row records it: the message is part of its thread.
	NewConversation *NewConversation
	ConversationID  int64
	// ConversationState sets the conversation's state ("" leaves it).
	ConversationState vocab.ConversationState
	// NoFormReply counts one more "no form found" reply in the conversation.
	NoFormReply bool
	// RedactBody asks the caller for ReplaceRaw: a copy of the message
	// whose text is redacted, because a first contact held personal data.
	RedactBody bool
	// ReplaceRaw replaces the kept raw message, and RedactedSubject the
	// subject recorded with it (MessageHeader), when ReplaceRaw is set.
	ReplaceRaw      []byte
	RedactedSubject string
	// MarkUndeliverable asks the caller to mark the outbox row of our
	// bounced email undeliverable (MarkUndeliverable, its own transaction).
	MarkUndeliverable bool
	// ReopenWaiting reopens the conversation's items that wait for the
	// resident's answer to a staff reply: this message is the answer.
	ReopenWaiting bool

	Attachments []*NewAttachment
	Submissions []*NewSubmission
	Emails      []*Email
	Triage      []*NewTriage
	Audit       []AuditEntry // extra entries; register changes are audited by the store
}

// LedgerAction is what the ledger's action column keeps for a plan:
// "<folder>:<action>", so a message already done can be moved to its
// folder without processing it again.
func LedgerAction(f vocab.Folder, a vocab.Action) string {
	if f == "" {
		return string(a)
	}
	return string(f) + ":" + string(a)
}

// FolderOf returns the folder recorded in a ledger action (LedgerAction),
// or "" when the action does not name one.
func FolderOf(action string) vocab.Folder {
	f, _, ok := strings.Cut(action, ":")
	if !ok || !vocab.Folder(f).Valid() {
		return ""
	}
	return vocab.Folder(f)
}

// SubmissionResult is what was recorded for one NewSubmission.
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
	// Plan.Emails then each submission's outcome email; a duplicate key
	// queues nothing and is left out.
	Queued []int64
	Triage []int64
}

// CompleteMessage commits the plan of one ledger message in a single
// transaction: the conversation, attachments, submissions, register changes
// and their history, outbox emails (idempotent by key), triage items,
// audit entries, and the ledger row turning done with its conversation
// recorded (the one the plan opened or names; the thread staff see, see
// ConversationThread). When the row is already
// done it changes nothing and returns ErrAlreadyDone, so a message handled
// twice (re-fetched, two replicas, a restart after a crash) is answered once.
// Two plans recording the same NHS number concurrently serialise on the
// register row: one opts out, the other is a duplicate.
func (s *Store) CompleteMessage(ctx context.Context, p *Plan) (OutcomeResult, error) {
	var res OutcomeResult
	if err := checkPlan(p); err != nil {
		return res, err
	}
	// Seal outside the transaction: it is CPU work that should not hold locks.
	sealed, err := s.sealPlan(p)
	if err != nil {
		return res, err
	}
	for attempt := 0; ; attempt++ {
		res, err = s.completeOnce(ctx, p, sealed)
		if err == nil || attempt >= 3 || p.NewConversation == nil || p.NewConversation.Reference != "" || !isUnique(err) {
			return res, err
		}
		// A drawn reference collided: draw again.
		sealed.reference = ""
	}
}

type sealedPlan struct {
	reference   string
	convAddress []byte
	convHash    []byte
	raw         []byte
	subject     []byte      // the redacted subject, with raw
	atts        [][2][]byte // name, data
	subs        []sealedSub
	emails      []sealedEmail
}

type sealedSub struct {
	source, fields []byte
	problems       []byte
	nhsIndex       []byte
	nhsSealed      []byte
	attachment     int // 1-based position of its attachment in Plan.Attachments, 0 for none
}

type sealedEmail struct {
	e        *Email
	to, hash []byte
	subject  []byte
	body     []byte
	useConv  bool
	sub      int                    // 1-based position of its submission, 0 for none
	onlyIf   vocab.SubmissionStatus // queue only when the submission ended with this status
}

// position returns the 1-based position of x in xs, 0 when it is not there.
func position[T any](xs []*T, x *T) int {
	for i, v := range xs {
		if v == x {
			return i + 1
		}
	}
	return 0
}

func checkPlan(p *Plan) error {
	if p == nil || p.LedgerID == 0 {
		return errors.New("complete message: no ledger id")
	}
	hasConv := p.NewConversation != nil || p.ConversationID != 0
	check := func(e *Email, where string, tied bool) error {
		if e.Kind == "" || strings.TrimSpace(e.MessageID) == "" {
			return fmt.Errorf("complete message: %s email needs a kind and a Message-ID", where)
		}
		if (e.To == "" || e.Key == "" && !tied && !e.PerMessage) && !hasConv {
			return fmt.Errorf("complete message: %s email has no recipient or key and the plan no conversation", where)
		}
		return nil
	}
	for _, e := range p.Emails {
		if e == nil {
			return errors.New("complete message: a nil email")
		}
		if err := check(e, string(e.Kind), false); err != nil {
			return err
		}
	}
	for i, sub := range p.Submissions {
		if sub == nil {
			return errors.New("complete message: a nil submission")
		}
		if sub.Attachment != nil && position(p.Attachments, sub.Attachment) == 0 {
			return fmt.Errorf("complete message: submission %d refers to an attachment not in the plan", i+1)
		}
		if sub.Status == vocab.StatusAccepted && NormaliseNHS(sub.Form.Fields.NHSNumber) == "" {
			return fmt.Errorf("complete message: submission %d is to be recorded but has no 10-digit NHS number", i+1)
		}
		for _, e := range []*Email{sub.Accepted, sub.Duplicate} {
			if e != nil {
				if err := check(e, "submission outcome", true); err != nil {
					return err
				}
			}
		}
	}
	for _, t := range p.Triage {
		if t == nil || t.Reason == "" || t.Submission != nil && position(p.Submissions, t.Submission) == 0 {
			return fmt.Errorf("complete message: triage item needs a reason and a submission of the plan")
		}
	}
	return nil
}

func (s *Store) sealPlan(p *Plan) (*sealedPlan, error) {
	so := &sealedPlan{}
	var err error
	if nc := p.NewConversation; nc != nil {
		so.reference = strings.ToUpper(nc.Reference)
		if so.convAddress, err = s.keys.sealString("conversations.address", NormaliseAddress(nc.Address)); err != nil {
			return nil, err
		}
		so.convHash = s.keys.AddressHash(nc.Address)
	}
	if p.ReplaceRaw != nil {
		if so.raw, err = s.keys.Seal("ledger.raw", p.ReplaceRaw); err != nil {
			return nil, err
		}
		if so.subject, err = s.keys.sealString("ledger.subject", p.RedactedSubject); err != nil {
			return nil, err
		}
	}
	for _, a := range p.Attachments {
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
	for _, sub := range p.Submissions {
		ss := sealedSub{attachment: position(p.Attachments, sub.Attachment)}
		if ss.source, err = s.keys.sealString("submissions.source", sub.Form.Source); err != nil {
			return nil, err
		}
		if ss.fields, ss.problems, err = s.sealFields("submissions.fields", sub.Form.Fields, sub.Form.Problems); err != nil {
			return nil, err
		}
		ss.nhsIndex = s.keys.NHSIndex(sub.Form.Fields.NHSNumber)
		if sub.Status == vocab.StatusAccepted {
			if ss.nhsSealed, err = s.keys.sealString("register.nhs_number", NormaliseNHS(sub.Form.Fields.NHSNumber)); err != nil {
				return nil, err
			}
		}
		so.subs = append(so.subs, ss)
	}
	add := func(e *Email, sub int, onlyIf vocab.SubmissionStatus) error {
		se, err := s.sealEmail(e)
		if err != nil {
			return err
		}
		se.sub, se.onlyIf = sub, onlyIf
		so.emails = append(so.emails, se)
		return nil
	}
	for _, e := range p.Emails {
		if err := add(e, 0, ""); err != nil {
			return nil, err
		}
	}
	for i, sub := range p.Submissions {
		if sub.Accepted != nil {
			if sub.Accepted.Kind == "" {
				sub.Accepted.Kind = vocab.KindAccepted
			}
			if err := add(sub.Accepted, i+1, vocab.StatusAccepted); err != nil {
				return nil, err
			}
		}
		if sub.Duplicate != nil {
			if sub.Duplicate.Kind == "" {
				sub.Duplicate.Kind = vocab.KindDuplicate
			}
			if err := add(sub.Duplicate, i+1, vocab.StatusDuplicate); err != nil {
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

// optOutCTE is the one SQL that records an opt-out in the register, as two
// common table expressions, reg and hist, for the statement of a form read
// by the daemon (sqlRecordSubmission) and of a form accepted by staff
// (AcceptTriage). The register row is inserted, or updated unless already
// opted out (ON CONFLICT locks the row, so two transactions for one person
// serialise and the second sees the first's opt-out); reg holds the row's
// id only when it changed, and history follows that change. The arguments
// are SQL expressions (placeholders) for the NHS number's blind index, the
// sealed NHS number, the submission id, the reference, the actor and the
// history's reason.
func optOutCTE(index, number, submission, reference, actor, reason string) string {
	return `reg as (
			insert into register as r (nhs_index, nhs_number, state, since, submission_id)
			values (` + index + `, ` + number + `, 'opted_out', now(), ` + submission + `)
			on conflict (nhs_index) do update set state = 'opted_out', since = now(), submission_id = excluded.submission_id,
				nhs_number = excluded.nhs_number, updated_at = now()
			where r.state <> 'opted_out'
			returning r.id),
		hist as (
			insert into register_history (register_id, state, at, submission_id, reference, actor, reason)
			select id, 'opted_out', now(), ` + submission + `, ` + reference + `, ` + actor + `, ` + reason + ` from reg)`
}

// The outcome's SQL. Statements run pipelined in one batch, so every
// later statement sees the earlier ones' rows.
var (
	sqlInsertAttachment = `insert into attachments (ledger_id, name, content_type, size, data) values ($1, $2, $3, $4, $5) returning id`

	sqlInsertSubmission = `insert into submissions (id, conversation_id, ledger_id, seq, attachment_id, source, format, fields, problems, nhs_index, channel, status)
		values ($1, $2, $3, $4, ` + attachmentByPosition + `, $6, $7, $8, $9, $10, $11, $12) returning status`

	// One statement records a valid form: the register row is inserted, or
	// updated unless already opted out (ON CONFLICT locks the row, so two
	// transactions for one person serialise and the second sees the
	// first's opt-out); history follows the change; the submission's status
	// says which happened, and the audit entry records it.
	sqlRecordSubmission = `with ` + optOutCTE("$10", "$13", "$1", "coalesce((select reference from conversations where id = $2), $14, '')", "'system'", "'form'") + `,
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

	// The item's due date is the plan's, or one calendar month from
	// receipt; register_id is the person the conversation already
	// recorded (its latest accepted or duplicate form), if any.
	sqlRaiseTriage = `insert into triage (submission_id, ledger_id, conversation_id, reason, due_by, register_id)
		select $1, $2, $3, $4, coalesce($5::timestamptz, received_at + interval '1 month'),
			(select r.id from submissions sb join register r on r.nhs_index = sb.nhs_index
			 where $3::bigint is not null and sb.conversation_id = $3 and sb.status in ('accepted', 'duplicate')
			 order by sb.id desc limit 1)
		from ledger where id = $2
		on conflict do nothing returning id`
)

// completeOnce sends the whole transaction as one pipelined batch. Each
// statement queued comes with the function that reads its answer, in the
// same order.
func (s *Store) completeOnce(ctx context.Context, p *Plan, so *sealedPlan) (OutcomeResult, error) {
	var res OutcomeResult
	// Ids of the new conversation and the submissions come from blocks
	// drawn ahead (a round trip every few messages, not every one), so the
	// whole transaction below is one pipelined round trip.
	newID, subIDs, err := s.takeIDs(ctx, p.NewConversation != nil, len(p.Submissions))
	if err != nil {
		return res, fmt.Errorf("complete message: ledger row %d: %w", p.LedgerID, err)
	}
	convID := p.ConversationID
	if p.NewConversation != nil {
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
		var reads []func(pgx.BatchResults) error
		queue := func(read func(pgx.BatchResults) error, sql string, args ...any) {
			b.Queue(sql, args...)
			reads = append(reads, read)
		}
		exec := func(br pgx.BatchResults) error { _, err := br.Exec(); return err }
		// row reads an id that may be absent (a key or item already
		// there, or a condition not met), appending it to ids when present.
		row := func(ids *[]int64) func(pgx.BatchResults) error {
			return func(br pgx.BatchResults) error {
				var id int64
				err := br.QueryRow().Scan(&id)
				if errors.Is(err, pgx.ErrNoRows) {
					return nil
				}
				if err == nil && ids != nil {
					*ids = append(*ids, id)
				}
				return err
			}
		}
		queue(exec, `begin`)
		queue(exec, `select ledger_gate($1)`, p.LedgerID)
		if p.NewConversation != nil {
			queue(exec, `insert into conversations (id, reference, address, address_hash, state, ledger_id) values ($1, $2, $3, $4, $5, $6)`,
				convID, so.reference, so.convAddress, so.convHash, string(vocab.StateInstructionsSent), p.LedgerID)
		}
		for i, a := range so.atts {
			in := p.Attachments[i]
			ct := in.ContentType
			if ct == "" {
				ct = "application/octet-stream"
			}
			// The id is needed by the submissions in this same batch, so
			// they find it with a subquery by position instead.
			queue(row(nil), sqlInsertAttachment, p.LedgerID, a[0], ct, int64(len(in.Data)), a[1])
		}
		for i, sub := range p.Submissions {
			ss := so.subs[i]
			ch := sub.Channel
			if ch == "" {
				ch = vocab.ChannelSecureReply
			}
			args := []any{subIDs[i], conv, p.LedgerID, i + 1, ss.attachment, ss.source, string(sub.Form.Format), ss.fields, ss.problems, ss.nhsIndex, string(ch)}
			sqlText := sqlInsertSubmission
			if sub.Status == vocab.StatusAccepted {
				sqlText = sqlRecordSubmission
				args = append(args, nil, ss.nhsSealed, so.reference) // $12: decided_by (system)
			} else {
				st := sub.Status
				if st == "" {
					st = vocab.StatusTriage
				}
				args = append(args, string(st))
			}
			id := subIDs[i]
			queue(func(br pgx.BatchResults) error {
				var st vocab.SubmissionStatus
				err := br.QueryRow().Scan(&st)
				res.Submissions = append(res.Submissions, SubmissionResult{ID: id, Status: st})
				return err
			}, sqlText, args...)
		}
		for _, se := range so.emails {
			e := se.e
			var subID *int64
			if se.sub > 0 {
				subID = &subIDs[se.sub-1]
			}
			key := e.Key
			switch {
			case key != "":
			case e.PerMessage:
				key = fmt.Sprintf("%s/ledger/%d", e.Kind, p.LedgerID)
			case subID != nil:
				key = fmt.Sprintf("%s/sub/%d", e.Kind, *subID)
			default:
				key = fmt.Sprintf("%s/conv/%d", e.Kind, convID)
			}
			var onlyIf *string
			if se.onlyIf != "" {
				v := string(se.onlyIf)
				onlyIf = &v
			}
			queue(row(&res.Queued), sqlQueueEmail, key, string(e.Kind), conv, subID, se.to, se.hash, se.subject, se.body,
				strings.Trim(strings.TrimSpace(e.MessageID), "<>"), e.InReplyTo, strings.Join(e.References, " "), onlyIf)
		}
		for _, t := range p.Triage {
			var subID *int64
			if n := position(p.Submissions, t.Submission); n > 0 {
				subID = &subIDs[n-1]
			}
			var due *time.Time
			if !t.DueBy.IsZero() {
				due = &t.DueBy
			}
			queue(row(&res.Triage), sqlRaiseTriage, subID, p.LedgerID, conv, string(t.Reason), due)
		}
		for _, a := range p.Audit {
			var obj *int64
			if a.ObjectID != 0 {
				obj = &a.ObjectID
			}
			queue(exec, `insert into audit (actor, action, object_type, object_id, reference, detail)
				values ($1, $2, $3, $4, coalesce(nullif($5, ''), (select reference from conversations where id = $6), ''), $7)`,
				a.Actor.String(), a.Action, a.ObjectType, obj, a.Reference, convID, a.Detail)
		}
		if convID != 0 && p.ReopenWaiting {
			queue(exec, sqlReopenWaiting, convID, p.LedgerID)
		}
		if convID != 0 && (p.ConversationState != "" || p.NoFormReply) {
			queue(exec, `update conversations set state = coalesce(nullif($2, ''), state), no_form_count = no_form_count + $3, updated_at = now() where id = $1`,
				convID, string(p.ConversationState), boolInt(p.NoFormReply))
		}
		// The ledger row turns done and records its conversation (the
		// one opened or tied to, kept when none: a reprocessed message
		// keeps its thread); an existing conversation's reference comes
		// back for the result.
		queue(func(br pgx.BatchResults) error {
			var ref *string
			err := br.QueryRow().Scan(&ref)
			if ref != nil {
				res.Reference = *ref
			}
			return err
		}, `update ledger set state = 'done', kind = coalesce(nullif($2, ''), kind), action = $3, last_error = '',
				next_attempt_at = null, raw = coalesce($4, raw), subject = case when $4::bytea is null or subject is null then subject else $7 end,
				conversation_id = coalesce(nullif($5::bigint, 0), conversation_id), updated_at = now() where id = $1
			returning (select reference from conversations where id = $5 and not $6)`,
			p.LedgerID, p.Kind, LedgerAction(p.Folder, p.Action), so.raw, convID, p.NewConversation != nil, so.subject)
		queue(func(br pgx.BatchResults) error {
			tag, err := br.Exec()
			if err == nil && tag.String() != "COMMIT" {
				err = fmt.Errorf("commit answered %q: the transaction was rolled back", tag.String())
			}
			return err
		}, `commit`)

		br := conn.SendBatch(ctx, b)
		for _, read := range reads {
			if err := read(br); err != nil {
				br.Close()
				return fmt.Errorf("complete message: ledger row %d: %w", p.LedgerID, gateError(err))
			}
		}
		if err := br.Close(); err != nil {
			return fmt.Errorf("complete message: ledger row %d: %w", p.LedgerID, err)
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
