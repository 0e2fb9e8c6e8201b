package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// TestRefuseOutbox: a row the sender refuses (a machine recipient) ends
// failed with its reason, raises no triage item, is not claimed again, and
// cannot be cancelled twice.
func TestRefuseOutbox(t *testing.T) {
	t.Parallel()
	s := newStore(t, 4)
	ctx := context.Background()
	conv, _ := s.CreateConversation(ctx, "mailer-daemon@example.org")
	id, err := s.Enqueue(ctx, conv.ID, *email(vocab.KindInstructions))
	if err != nil {
		t.Fatal(err)
	}
	if claimed, _ := s.ClaimOutbox(ctx, 10, time.Minute); len(claimed) != 1 {
		t.Fatalf("claimed %d, want 1", len(claimed))
	}
	const reason = "not sent: the recipient is a machine (mailer-daemon)"
	if err := s.RefuseOutbox(ctx, id, reason); err != nil {
		t.Fatalf("RefuseOutbox: %v", err)
	}
	rows, err := s.ListOutbox(ctx, store.OutboxFilter{ConversationID: conv.ID})
	if err != nil || len(rows) != 1 {
		t.Fatalf("ListOutbox = %d rows, %v", len(rows), err)
	}
	if rows[0].State != store.OutboxCancelled || rows[0].LastError != reason {
		t.Errorf("row = %s %q, want cancelled %q", rows[0].State, rows[0].LastError, reason)
	}
	if items, _ := s.ListTriage(ctx, store.TriageFilter{}); len(items) != 0 {
		t.Errorf("open triage = %d items, want none", len(items))
	}
	if again, _ := s.ClaimOutbox(ctx, 10, 0); len(again) != 0 {
		t.Errorf("a cancelled row was claimed again")
	}
	if err := s.RefuseOutbox(ctx, id, reason); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RefuseOutbox twice = %v, want ErrNotFound", err)
	}
}
