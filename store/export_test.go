package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// MigrateTo applies the embedded migrations up to version, for tests of a
// migration's data changes.
func MigrateTo(ctx context.Context, pool *pgxpool.Pool, schema string, version int32) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	return migrateConn(ctx, conn.Conn(), schema, version)
}

// The store operations below are used only by tests (setting up
// conversations and outbox rows the pipeline would make with CompleteMessage).

// CreateConversation opens a conversation with a fresh reference code, outside
// any message outcome (CompleteMessage creates them for mail).
func (s *Store) CreateConversation(ctx context.Context, address string) (Conversation, error) {
	sealed, err := s.keys.sealString("conversations.address", NormaliseAddress(address))
	if err != nil {
		return Conversation{}, err
	}
	for range 5 {
		ref, err := NewReference()
		if err != nil {
			return Conversation{}, err
		}
		c, err := s.scanConv(s.pool.QueryRow(ctx, `insert into conversations (reference, address, address_hash) values ($1, $2, $3)
			on conflict (reference) do nothing returning `+convCols, ref, sealed, s.keys.AddressHash(address)))
		if errors.Is(err, pgx.ErrNoRows) {
			continue // reference collision: draw again
		}
		if err != nil {
			return c, fmt.Errorf("create conversation: %w", err)
		}
		return c, nil
	}
	return Conversation{}, errors.New("create conversation: could not draw an unused reference code")
}

// AddSentMessageID records a Message-ID we sent in a conversation outside
// the outbox (every queued email's id is found through its outbox row
// already). Repeats are ignored.
func (s *Store) AddSentMessageID(ctx context.Context, conversationID int64, messageID string) error {
	_, err := s.pool.Exec(ctx, `insert into sent_message_ids (message_id, conversation_id) values ($1, $2) on conflict do nothing`,
		strings.Trim(strings.TrimSpace(messageID), "<>"), conversationID)
	if err != nil {
		return fmt.Errorf("record sent message id for conversation %d: %w", conversationID, err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions past their expiry and returns how many.
func (s *Store) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `delete from staff_sessions where expires_at <= now()`)
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Enqueue queues one email outside a message outcome (conversationID may
// be 0 when e.To and e.Key are set). It returns the new row's id, or 0 and
// ErrDuplicate when its idempotency key is already queued.
func (s *Store) Enqueue(ctx context.Context, conversationID int64, e Email) (int64, error) {
	if e.Kind == "" || strings.TrimSpace(e.MessageID) == "" {
		return 0, errors.New("enqueue email: kind and Message-ID are required")
	}
	if conversationID == 0 && (e.To == "" || e.Key == "") {
		return 0, errors.New("enqueue email: without a conversation, To and Key are required")
	}
	se, err := s.sealEmail(&e)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		id, err = queueEmail(ctx, tx, se, conversationID, 0, "")
		return err
	})
	return id, err
}
