package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ncl-icb/optout-intake/vocab"
)

// QueueSort is an order of the triage queue.
type QueueSort string

// The queue's orders. The default, QueueDueFirst, puts the item whose
// answer date is nearest (or longest past) first.
const (
	QueueDueFirst      QueueSort = "due"           // answer-by date, oldest first
	QueueDueLast       QueueSort = "due-desc"      // answer-by date, latest first
	QueueReceivedFirst QueueSort = "received"      // received date, oldest first
	QueueReceivedLast  QueueSort = "received-desc" // received date, newest first
)

// queueOrders are the ORDER BY clauses of the sorts (a fixed list, never
// built from input).
var queueOrders = map[QueueSort]string{
	QueueDueFirst:      "t.due_by, t.id",
	QueueDueLast:       "t.due_by desc, t.id desc",
	QueueReceivedFirst: "t.created_at, t.id",
	QueueReceivedLast:  "t.created_at desc, t.id desc",
}

// QueueDue filters the queue by answer date.
type QueueDue string

// The answer-date filters.
const (
	QueueDueAny  QueueDue = ""        // any answer date
	QueueOverdue QueueDue = "overdue" // the answer date has passed
	QueueDueWeek QueueDue = "week"    // due within 7 days, not yet overdue
)

// QueueQuery selects one page of the triage queue. Zero fields match
// everything; State "" means open items.
type QueueQuery struct {
	// State is "open" (default: open items, less those waiting for the
	// resident's answer for less than ReplyWait), "waiting" (those), "closed"
	// or "all".
	State      string
	Reason     string
	AssignedTo int64 // a staff id; 0: anyone
	Unassigned bool  // only items assigned to nobody
	Due        QueueDue
	// Now is the time the answer-date filters compare with (default time.Now).
	Now time.Time
	// Search, at most one: a reference code, an NHS number (found through
	// its blind index, never compared in clear) or a sender's address
	// (through the address blind index of the item's conversation).
	Reference string
	NHSNumber string
	Sender    string
	// ReplyWait is how long an item waits for the resident's answer to a
	// staff reply before it comes back to the open queue
	// (OPTOUT_REPLY_WAIT_DAYS); 0: it never leaves it.
	ReplyWait time.Duration
	Sort      QueueSort // default QueueDueFirst
	Limit     int       // default 50, at most 500
	Offset    int
}

// QueuePage is one page of the queue and the number of items that match
// the query over every page.
type QueuePage struct {
	Items []TriageItem
	Total int
}

// sqlQueueWhere is the queue's filter; $1.. are the QueueQuery fields in
// the order queueArgs gives them.
const sqlQueueWhere = `($1 = 'all' or t.state = $1 or ($1 = 'waiting' and t.state = 'open' and t.waiting_since >= $10))
	and ($1 <> 'open' or t.waiting_since is null or t.waiting_since < $10) and ($2 = '' or t.reason = $2)
	and ($3::bigint = 0 or t.assigned_to = $3) and (not $4 or t.assigned_to is null)
	and ($5 = '' or ($5 = 'overdue' and t.due_by < $6) or ($5 = 'week' and t.due_by >= $6 and t.due_by < $6 + interval '7 days'))
	and ($7 = '' or c.reference = $7)
	and ($8::bytea is null or exists (select 1 from submissions sb where sb.nhs_index = $8
		and (sb.id = t.submission_id or sb.conversation_id = t.conversation_id)))
	and ($9::bytea is null or c.address_hash = $9)`

// QueueTriage returns one page of the triage queue and the true number of
// matching items. A search for an NHS number that is not 10 digits, or an
// empty sender, matches nothing rather than everything.
func (s *Store) QueueTriage(ctx context.Context, q QueueQuery) (QueuePage, error) {
	if q.State == "" {
		q.State = string(vocab.ItemOpen)
	}
	if q.Sort == "" {
		q.Sort = QueueDueFirst
	}
	order, ok := queueOrders[q.Sort]
	if !ok {
		return QueuePage{}, fmt.Errorf("list triage queue: unknown order %q", q.Sort)
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 500)
	q.Offset = max(q.Offset, 0)
	if q.Now.IsZero() {
		q.Now = time.Now()
	}
	var nhs, sender []byte
	if q.NHSNumber != "" {
		if nhs = s.keys.NHSIndex(q.NHSNumber); nhs == nil {
			return QueuePage{}, nil
		}
	}
	if q.Sender != "" {
		if NormaliseAddress(q.Sender) == "" {
			return QueuePage{}, nil
		}
		sender = s.keys.AddressHash(q.Sender)
	}
	args := []any{q.State, q.Reason, q.AssignedTo, q.Unassigned, string(q.Due), q.Now, q.Reference, nhs, sender, q.Now.Add(-q.ReplyWait)}
	rows, err := s.pool.Query(ctx, `select `+triageCols+`, count(*) over ()
		from triage t left join conversations c on c.id = t.conversation_id
		where `+sqlQueueWhere+` order by `+order+` limit $11 offset $12`, append(args, q.Limit, q.Offset)...)
	if err != nil {
		return QueuePage{}, fmt.Errorf("list triage queue: %w", err)
	}
	var p QueuePage
	p.Items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (TriageItem, error) {
		var t TriageItem
		err := r.Scan(&t.ID, &t.Reason, &t.State, &t.CreatedAt, &t.DueBy, &t.AssignedTo, &t.SubmissionID, &t.LedgerID,
			&t.ConversationID, &t.OutboxID, &t.Reference, &t.ClosedBy, &t.ClosedAt, &t.Outcome, &t.RegisterState, &p.Total)
		return t, err
	})
	if err != nil {
		return QueuePage{}, fmt.Errorf("list triage queue: %w", err)
	}
	if len(p.Items) == 0 && q.Offset > 0 {
		// Past the last page: the window count saw no rows, so count apart.
		err = s.pool.QueryRow(ctx, `select count(*) from triage t left join conversations c on c.id = t.conversation_id
			where `+sqlQueueWhere, args...).Scan(&p.Total)
		if err != nil {
			return QueuePage{}, fmt.Errorf("count triage queue: %w", err)
		}
	}
	return p, nil
}
