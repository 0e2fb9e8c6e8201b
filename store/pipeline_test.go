package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// The pipelined CompleteMessage (BEGIN with the lock, COMMIT with the rest)
// still audits each register change, returns the reference, refuses a done
// row, and leaves nothing behind when a statement fails mid-batch.
func TestCompleteMessagePipelined(t *testing.T) {
	s := newStore(t, 2)
	ctx := context.Background()
	conv, err := s.CreateConversation(ctx, "r@example.org")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		nhs        string
		wantStatus vocab.SubmissionStatus
		wantAction string
	}{
		{"first form opts out", "9434765919", vocab.StatusAccepted, "register.opt_out"},
		{"second form is a duplicate", "9434765919", vocab.StatusDuplicate, "register.duplicate"},
	}
	for _, tt := range tests {
		id := record(t, s)
		res, err := s.CompleteMessage(ctx, formOutcome(id, conv.ID, tt.nhs))
		if err != nil {
			t.Fatalf("%s: CompleteMessage: %v", tt.name, err)
		}
		if res.Reference != conv.Reference || res.Submissions[0].Status != tt.wantStatus {
			t.Errorf("%s: result %+v, want reference %s and status %s", tt.name, res, conv.Reference, tt.wantStatus)
		}
		audit, err := s.ListAudit(ctx, store.AuditFilter{Action: tt.wantAction})
		if err != nil || len(audit) != 1 || audit[0].ObjectID != res.Submissions[0].ID || audit[0].Reference != conv.Reference {
			t.Errorf("%s: audit %+v (%v), want one %s entry for submission %d", tt.name, audit, err, tt.wantAction, res.Submissions[0].ID)
		}
		if _, err := s.CompleteMessage(ctx, formOutcome(id, conv.ID, tt.nhs)); !errors.Is(err, store.ErrAlreadyDone) {
			t.Errorf("%s: second CompleteMessage = %v, want ErrAlreadyDone", tt.name, err)
		}
	}

	// A new conversation's drawn reference is returned.
	id := record(t, s)
	res, err := s.CompleteMessage(ctx, &store.Plan{LedgerID: id, Action: "instructions", NewConversation: &store.NewConversation{Address: "new@example.org"},
		Emails: []*store.Email{email(vocab.KindInstructions)}})
	if err != nil || res.Reference == "" || res.ConversationID == 0 {
		t.Fatalf("new conversation: %+v, %v", res, err)
	}
	if c, err := s.ConversationByReference(ctx, res.Reference); err != nil || c.ID != res.ConversationID {
		t.Errorf("ConversationByReference(%s) = %+v, %v", res.Reference, c, err)
	}

	// A failing statement in the middle of the batch rolls everything back
	// and returns the connection clean: an email without a conversation
	// fails the outbox's NOT NULL recipient hash.
	id = record(t, s)
	bad := formOutcome(id, conv.ID+1000, "9434765919")
	if _, err := s.CompleteMessage(ctx, bad); err == nil {
		t.Fatal("CompleteMessage with an unknown conversation succeeded")
	}
	e, err := s.Message(ctx, id)
	if err != nil || e.State == store.LedgerDone {
		t.Fatalf("ledger row after a failed outcome: %+v, %v", e, err)
	}
	if subs, err := s.ListOutbox(ctx, store.OutboxFilter{ConversationID: conv.ID + 1000}); err != nil || len(subs) != 0 {
		t.Errorf("outbox rows of the failed outcome: %d, %v", len(subs), err)
	}
	for range 3 { // the pool's connections are usable again
		if _, err := s.CompleteMessage(ctx, formOutcome(record(t, s), conv.ID, "9434765919")); err != nil {
			t.Fatalf("CompleteMessage after a failure: %v", err)
		}
	}
	if _, err := s.CompleteMessage(ctx, formOutcome(1<<40, conv.ID, "9434765919")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CompleteMessage(unknown ledger row) = %v, want ErrNotFound", err)
	}
}

func TestMarkSentMany(t *testing.T) {
	s := newStore(t, 2)
	ctx := context.Background()
	conv, err := s.CreateConversation(ctx, "r@example.org")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i := range 3 {
		e := *email(vocab.KindNoForm)
		e.Key = fmt.Sprintf("no_form/test/%d", i)
		id, err := s.Enqueue(ctx, conv.ID, e)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	claimed, err := s.ClaimOutbox(ctx, 10, time.Minute)
	if err != nil || len(claimed) != 3 {
		t.Fatalf("ClaimOutbox = %d, %v", len(claimed), err)
	}
	if n, err := s.MarkSentMany(ctx, ids[:2]); err != nil || n != 2 {
		t.Fatalf("MarkSentMany = %d, %v, want 2", n, err)
	}
	// Marking again (a resend after a lease) changes nothing.
	if n, err := s.MarkSentMany(ctx, ids); err != nil || n != 1 {
		t.Fatalf("MarkSentMany again = %d, %v, want only the third row", n, err)
	}
	if n, err := s.MarkSentMany(ctx, nil); err != nil || n != 0 {
		t.Fatalf("MarkSentMany(nil) = %d, %v", n, err)
	}
	sent, err := s.ListOutbox(ctx, store.OutboxFilter{State: store.OutboxSent})
	if err != nil || len(sent) != 3 {
		t.Fatalf("sent rows = %d, %v, want 3", len(sent), err)
	}
	for _, m := range sent {
		if m.SentAt == nil {
			t.Errorf("row %d sent without a time", m.ID)
		}
	}
}
