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

// Conversation is one resident thread. Address is the resident's address in
// clear (opened from its sealed column): never log it.
type Conversation struct {
	ID          int64
	Reference   string
	Address     string
	State       vocab.ConversationState
	NoFormCount int // "we could not find a form" replies so far
	LedgerID    int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

const convCols = `id, reference, address, state, no_form_count, coalesce(ledger_id, 0), created_at, updated_at`

func (s *Store) scanConv(row pgx.Row) (Conversation, error) {
	var c Conversation
	var sealed []byte
	if err := row.Scan(&c.ID, &c.Reference, &sealed, &c.State, &c.NoFormCount, &c.LedgerID, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return c, err
	}
	addr, err := s.keys.openString("conversations.address", sealed)
	c.Address = addr
	return c, err
}

func (s *Store) oneConv(ctx context.Context, what, sql string, args ...any) (Conversation, error) {
	c, err := s.scanConv(s.pool.QueryRow(ctx, sql, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("conversation %s: %w", what, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("read conversation %s: %w", what, err)
	}
	return c, nil
}

// Conversation returns a conversation by id.
func (s *Store) Conversation(ctx context.Context, id int64) (Conversation, error) {
	return s.oneConv(ctx, fmt.Sprint(id), `select `+convCols+` from conversations where id = $1`, id)
}

// ConversationByReference finds a conversation by its reference code (any case).
func (s *Store) ConversationByReference(ctx context.Context, ref string) (Conversation, error) {
	ref = strings.ToUpper(strings.TrimSpace(ref))
	return s.oneConv(ctx, "by reference", `select `+convCols+` from conversations where reference = $1`, ref)
}

// ConversationByMessageID finds the conversation one of our sent Message-IDs
// belongs to: pass a reply's In-Reply-To and References ids (with or without
// angle brackets). The most recent match wins.
func (s *Store) ConversationByMessageID(ctx context.Context, ids ...string) (Conversation, error) {
	clean := make([]string, 0, len(ids))
	for _, id := range ids {
		if id = strings.Trim(strings.TrimSpace(id), "<>"); id != "" {
			clean = append(clean, id)
		}
	}
	if len(clean) == 0 {
		return Conversation{}, fmt.Errorf("conversation by message id: %w", ErrNotFound)
	}
	// Queued emails keep their Message-ID in the outbox; sent_message_ids
	// holds the ids the outbox recorded there before migration 002.
	return s.oneConv(ctx, "by message id", `select `+convCols+` from conversations where id = (
		select conversation_id from (
			select conversation_id, created_at from outbox where message_id = any($1) and conversation_id is not null
			union all
			select conversation_id, created_at from sent_message_ids where message_id = any($1)) m
		order by created_at desc limit 1)`, clean)
}

// CountRepliesTo counts emails queued to an address since a time, for the
// per-sender reply limit (loop and abuse protection).
func (s *Store) CountRepliesTo(ctx context.Context, address string, since time.Time) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `select count(*) from outbox where recipient_hash = $1 and created_at >= $2`, s.keys.AddressHash(address), since).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count replies to an address: %w", err)
	}
	return n, nil
}

// ConversationByReferenceReplies is ConversationByReference and
// CountRepliesTo(c.Address, since) in one round trip: the conversation a
// reply names and how many emails were queued to its address since a time.
func (s *Store) ConversationByReferenceReplies(ctx context.Context, ref string, since time.Time) (Conversation, int, error) {
	ref = strings.ToUpper(strings.TrimSpace(ref))
	var n int
	var c Conversation
	var sealed []byte
	err := s.pool.QueryRow(ctx, `select `+convCols+`,
			(select count(*) from outbox o where o.recipient_hash = c.address_hash and o.created_at >= $2)
		from conversations c where reference = $1`, ref, since).
		Scan(&c.ID, &c.Reference, &sealed, &c.State, &c.NoFormCount, &c.LedgerID, &c.CreatedAt, &c.UpdatedAt, &n)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, 0, fmt.Errorf("conversation by reference: %w", ErrNotFound)
	}
	if err != nil {
		return c, 0, fmt.Errorf("read conversation by reference: %w", err)
	}
	if c.Address, err = s.keys.openString("conversations.address", sealed); err != nil {
		return c, 0, fmt.Errorf("read conversation by reference: %w", err)
	}
	return c, n, nil
}

// LastReplyAt returns when the latest email of kind k was queued in
// conversation convID, and false when none was: intake decides from it
// whether a message after completion is acknowledged again (at most once a
// week).
func (s *Store) LastReplyAt(ctx context.Context, convID int64, k vocab.Kind) (time.Time, bool, error) {
	var at *time.Time
	err := s.pool.QueryRow(ctx, `select max(created_at) from outbox where conversation_id = $1 and kind = $2`, convID, string(k)).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read last %s reply of conversation %d: %w", k, convID, err)
	}
	if at == nil {
		return time.Time{}, false, nil
	}
	return *at, true, nil
}
