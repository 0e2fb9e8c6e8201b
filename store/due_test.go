package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// A triage item carries the plan's due date, or received + one calendar
// month; TriageOverdue counts the open ones past it by reason; an item raised
// in a conversation that recorded a person shows that person's state.
func TestTriageDueByAndOverdue(t *testing.T) {
	s := newStore(t, 2)
	ctx := context.Background()
	conv, err := s.CreateConversation(ctx, "r@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteMessage(ctx, formOutcome(record(t, s), conv.ID, "9434765919")); err != nil {
		t.Fatal(err)
	}
	due := time.Date(2020, 1, 7, 23, 59, 59, 0, time.UTC) // long past
	raise := func(r vocab.Reason, d time.Time) store.TriageItem {
		t.Helper()
		res, err := s.CompleteMessage(ctx, &store.Plan{LedgerID: record(t, s), ConversationID: conv.ID, Folder: vocab.FolderTriage,
			Action: vocab.ActionEnquiry, Triage: []*store.NewTriage{{Reason: r, DueBy: d}}})
		if err != nil || len(res.Triage) != 1 {
			t.Fatalf("CompleteMessage: %v, %d items", err, len(res.Triage))
		}
		d2, err := s.TriageItemDetail(ctx, res.Triage[0], store.System)
		if err != nil {
			t.Fatal(err)
		}
		return d2.Item
	}
	other := raise(vocab.ReasonOptBackIn, time.Time{})
	complaint := raise(vocab.ReasonComplaint, due) // raised later, due sooner
	if !complaint.DueBy.Equal(due) {
		t.Errorf("complaint due %v, want %v", complaint.DueBy, due)
	}
	if complaint.RegisterState != store.OptedOut {
		t.Errorf("item register state %q, want opted_out", complaint.RegisterState)
	}
	if d := other.DueBy.Sub(other.CreatedAt); d < 27*24*time.Hour || d > 32*24*time.Hour {
		t.Errorf("default due date %v after creation, want one calendar month", d)
	}
	byDue, err := s.ListTriage(ctx, store.TriageFilter{ByDue: true})
	if err != nil || len(byDue) != 2 || byDue[0].ID != complaint.ID {
		t.Errorf("ListTriage by due = %v (%v), want the complaint first", byDue, err)
	}
	overdue, err := s.ListTriage(ctx, store.TriageFilter{Overdue: true})
	if err != nil || len(overdue) != 1 || overdue[0].ID != complaint.ID {
		t.Errorf("ListTriage overdue = %v (%v), want the complaint", overdue, err)
	}
	late, err := s.TriageOverdue(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if late[string(vocab.ReasonComplaint)] != 1 || late[string(vocab.ReasonOptBackIn)] != 0 {
		t.Errorf("TriageOverdue = %v, want one complaint", late)
	}
}
