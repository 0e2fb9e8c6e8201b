package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ThreadMessage is one message of a conversation as the ledger keeps it,
// with its header facts (Header is zero when the message was recorded
// before they were kept).
type ThreadMessage struct {
	Entry  LedgerEntry
	Header MessageHeader
}

// Thread is a conversation as staff see it on an item page: every message
// in (oldest first), every reply out (oldest first), and the open items of
// the same conversation or message.
type Thread struct {
	Incoming []ThreadMessage
	Outgoing []OutboxMessage
	Open     []TriageItem
	// SameMessage holds the ids of the Open items raised from the same
	// message as the one asked about.
	SameMessage map[int64]bool
}

// maxThread bounds the messages of one thread shown on a page.
const maxThread = 200

// ConversationThread returns the thread of conversation conv (0 for none)
// and message ledgerID (0 for none). The incoming messages are every
// message the ledger recorded in the conversation (the first maxThread,
// oldest first: answered automatically or not, automatic replies,
// answers to staff) and message ledgerID. The view (addresses and
// subjects) is audited as conversation.view.
func (s *Store) ConversationThread(ctx context.Context, conv, ledgerID int64, actor Actor) (Thread, error) {
	var t Thread
	// Each message's header columns come with its row: one query, not one
	// per message.
	type row struct {
		entry  LedgerEntry
		sealed sealedHeader
	}
	msgs, err := queryAll(ctx, s.pool, fmt.Sprintf("list messages of conversation %d", conv), func(r pgx.Row) (row, error) {
		var x row
		e, err := scanLedgerWith(r, &x.sealed.sender, &x.sealed.subject, &x.sealed.threading, &x.sealed.sentAt)
		x.entry = e
		return x, err
	}, `select `+ledgerCols+`, sender, subject, threading, sent_at from ledger where id in (
			(select id from ledger where conversation_id = $1 order by received_at, id limit $3)
			union select $2::bigint)
		order by received_at, id`, conv, ledgerID, maxThread)
	if err != nil {
		return t, err
	}
	for _, x := range msgs {
		h, _, err := s.openHeader(x.sealed)
		if err != nil {
			return t, err
		}
		t.Incoming = append(t.Incoming, ThreadMessage{Entry: x.entry, Header: h})
	}
	if conv != 0 {
		if t.Outgoing, err = s.ListOutbox(ctx, OutboxFilter{ConversationID: conv, Limit: maxThread}); err != nil {
			return t, err
		}
	}
	rows, err := s.pool.Query(ctx, `select `+triageCols+`, coalesce(t.ledger_id, sb.ledger_id, 0) = $2 from triage t
		left join conversations c on c.id = t.conversation_id left join submissions sb on sb.id = t.submission_id
		where t.state = 'open' and (($1 <> 0 and t.conversation_id = $1) or ($2 <> 0 and (t.ledger_id = $2 or sb.ledger_id = $2)))
		order by t.id limit $3`, conv, ledgerID, maxThread)
	if err != nil {
		return t, fmt.Errorf("list open items of conversation %d: %w", conv, err)
	}
	t.SameMessage = map[int64]bool{}
	for rows.Next() {
		var it TriageItem
		var same bool
		if err := rows.Scan(&it.ID, &it.Reason, &it.State, &it.CreatedAt, &it.DueBy, &it.AssignedTo, &it.SubmissionID,
			&it.LedgerID, &it.ConversationID, &it.OutboxID, &it.Reference, &it.ClosedBy, &it.ClosedAt, &it.Outcome, &it.RegisterState, &same); err != nil {
			rows.Close()
			return t, fmt.Errorf("list open items of conversation %d: %w", conv, err)
		}
		t.Open = append(t.Open, it)
		if same && ledgerID != 0 {
			t.SameMessage[it.ID] = true
		}
	}
	if err := rows.Err(); err != nil {
		return t, fmt.Errorf("list open items of conversation %d: %w", conv, err)
	}
	obj, typ := conv, "conversation"
	if conv == 0 {
		obj, typ = ledgerID, "ledger"
	}
	err = s.WriteAudit(ctx, AuditEntry{Actor: actor, Action: "conversation.view", ObjectType: typ, ObjectID: obj})
	return t, err
}

// ItemsOfSubmissions returns the latest triage item of each submission in
// ids that has one, by submission id, so pages can link a form to its item.
func (s *Store) ItemsOfSubmissions(ctx context.Context, ids []int64) (map[int64]int64, error) {
	out := map[int64]int64{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `select submission_id, max(id) from triage where submission_id = any($1) group by submission_id`, ids)
	if err != nil {
		return nil, fmt.Errorf("find the items of forms: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sub, item int64
		if err := rows.Scan(&sub, &item); err != nil {
			return nil, fmt.Errorf("find the items of forms: %w", err)
		}
		out[sub] = item
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find the items of forms: %w", err)
	}
	return out, nil
}
