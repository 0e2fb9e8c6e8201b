package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

func TestCompleteMessageFirstContactThenForm(t *testing.T) {
	t.Parallel()
	s := newStore(t, 4)
	ctx := context.Background()
	ref, err := store.NewReference()
	if err != nil {
		t.Fatal(err)
	}
	first := record(t, s)
	res, err := s.CompleteMessage(ctx, &store.Plan{
		LedgerID: first, Kind: "contact", Action: "instructions_sent",
		NewConversation: &store.NewConversation{Address: "Resident@Example.org", Reference: ref},
		Emails:          []*store.Email{email(vocab.KindInstructions)},
	})
	if err != nil {
		t.Fatalf("CompleteMessage(first contact) = %v", err)
	}
	if res.Reference != ref || res.ConversationID == 0 || len(res.Queued) != 1 {
		t.Fatalf("CompleteMessage(first contact) = %+v, want reference %s and one email", res, ref)
	}
	conv, err := s.ConversationByReference(ctx, ref)
	if err != nil || conv.Address != "resident@example.org" || conv.State != vocab.StateInstructionsSent {
		t.Fatalf("ConversationByReference = %+v, %v", conv, err)
	}

	reply := record(t, s)
	res, err = s.CompleteMessage(ctx, formOutcome(reply, conv.ID, "943 476 5919"))
	if err != nil {
		t.Fatalf("CompleteMessage(form) = %v", err)
	}
	if len(res.Submissions) != 1 || res.Submissions[0].Status != vocab.StatusAccepted || len(res.Queued) != 2 {
		t.Fatalf("CompleteMessage(form) = %+v, want accepted with receipt + accepted emails", res)
	}
	// The same message again changes nothing.
	if _, err := s.CompleteMessage(ctx, formOutcome(reply, conv.ID, "9434765919")); !errors.Is(err, store.ErrAlreadyDone) {
		t.Fatalf("CompleteMessage(again) = %v, want ErrAlreadyDone", err)
	}
}
