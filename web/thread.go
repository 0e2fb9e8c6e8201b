package web

import (
	"context"
	"slices"
	"time"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// threadRow is one email of a conversation on the item page, in or out.
type threadRow struct {
	At       time.Time
	In       bool   // from the resident (or whoever wrote to us)
	From, To string // addresses; "" when not known
	Subject  string
	Outcome  string // the ledger action or outbox state, in staff's words
	Current  bool   // the message this item was raised from
	// order places the row (arrivedBy for a message in, when it was
	// queued for a reply out).
	order time.Time
}

// threadView is the conversation an item belongs to (issue 9 item 2).
type threadView struct {
	// Us is the mailbox's own address, the other end of every row ("" when
	// not known: the page says "This service" alone).
	Us   string
	Rows []threadRow
	Open []relatedItem // the other open items of the conversation or message
}

// relatedItem is another open item staff should decide together with this one.
type relatedItem struct {
	ID          int64
	Reason      string
	SameMessage bool
}

// arrivedBy is the latest a message in can have arrived: the mailbox's
// time, kept to the second only, plus that second, or when we recorded
// it if sooner. It is no earlier than the message arrived and no later
// than any reply we queued to it, so between the replies out (placed by
// when they were queued, to the microsecond) a message in comes after
// the reply it answers and before the replies it caused, even within one
// second.
func arrivedBy(e store.LedgerEntry) time.Time {
	by := e.ReceivedAt.Truncate(time.Second).Add(time.Second)
	if !e.RecordedAt.IsZero() && e.RecordedAt.Before(by) {
		return e.RecordedAt
	}
	return by
}

// threadOf reads the thread of an item (audited as conversation.view).
func (s *server) threadOf(ctx context.Context, sess *store.Session, det store.TriageDetail) (*threadView, error) {
	var ledgerID int64
	if det.Message != nil {
		ledgerID = det.Message.ID
	}
	if det.Item.ConversationID == 0 && ledgerID == 0 {
		return nil, nil
	}
	t, err := s.d.Store.ConversationThread(ctx, det.Item.ConversationID, ledgerID, store.Actor(sess.Staff.ID))
	if err != nil {
		return nil, err
	}
	v := &threadView{}
	if s.d.Composer != nil {
		v.Us = s.d.Composer.Address()
	}
	for _, m := range t.Incoming {
		v.Rows = append(v.Rows, threadRow{At: m.Entry.ReceivedAt, In: true, From: m.Header.From, Subject: m.Header.Subject,
			Outcome: vocab.Action(m.Entry.Action).Text(), Current: m.Entry.ID == ledgerID, order: arrivedBy(m.Entry)})
	}
	for _, o := range t.Outgoing {
		out, ok := outboxStateTexts[o.State]
		if !ok {
			out = string(o.State)
		}
		if o.SentAt != nil {
			out += ", " + o.SentAt.In(s.london).Format("2 Jan 2006 15:04")
		}
		if k, ok := mailKindTexts[o.Kind]; ok {
			out = k + ": " + out
		}
		v.Rows = append(v.Rows, threadRow{At: o.CreatedAt, To: o.To, Subject: o.Subject, Outcome: out, order: o.CreatedAt})
	}
	slices.SortStableFunc(v.Rows, func(a, b threadRow) int { return a.order.Compare(b.order) })
	for _, it := range t.Open {
		if it.ID == det.Item.ID {
			continue
		}
		v.Open = append(v.Open, relatedItem{ID: it.ID, Reason: it.Reason.Text(), SameMessage: t.SameMessage[it.ID]})
	}
	return v, nil
}
