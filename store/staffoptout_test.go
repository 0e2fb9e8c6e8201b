package store_test

import (
	"context"
	"testing"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

func TestRecordStaffOptOut(t *testing.T) {
	t.Parallel()
	s := newStore(t, 4)
	ctx := context.Background()
	staff, err := s.CreateStaff(ctx, "keyer@nhs.net", "$argon2id$x", store.RoleTriager, store.System)
	if err != nil {
		t.Fatal(err)
	}
	actor := store.Actor(staff.ID)
	conv, _ := s.CreateConversation(ctx, "r@example.org")
	nhs := "9434765919"
	f := validForm("943 476 5919").Fields

	if _, err := s.RecordStaffOptOut(ctx, store.StaffOptOut{Fields: f, Actor: store.System}); err == nil {
		t.Fatal("RecordStaffOptOut(system) = nil, want an error")
	}
	st, err := s.RecordStaffOptOut(ctx, store.StaffOptOut{Fields: f, Actor: actor, Reference: conv.Reference, Accepted: email(vocab.KindAccepted)})
	if err != nil || st != vocab.StatusAccepted {
		t.Fatalf("RecordStaffOptOut = %q, %v, want accepted", st, err)
	}
	p, err := s.FindPerson(ctx, nhs, store.System)
	if err != nil || p.State != store.OptedOut || len(p.History) != 1 {
		t.Fatalf("FindPerson = %+v, %v, want opted out with one change", p, err)
	}
	if h := p.History[0]; h.Reason != "staff" || h.Actor != actor || h.Reference != conv.Reference || h.SubmissionID == 0 {
		t.Fatalf("history = %+v, want reason staff by %v for %s", h, actor, conv.Reference)
	}
	_, subs, err := s.SubmissionsByReference(ctx, conv.Reference, store.System)
	if err != nil || len(subs) != 1 || subs[0].Channel != vocab.ChannelStaff || subs[0].Status != vocab.StatusAccepted ||
		subs[0].Fields.LastName != "Lovelace" {
		t.Fatalf("SubmissionsByReference = %+v, %v, want one accepted staff form", subs, err)
	}
	if o, _ := s.ListOutbox(ctx, store.OutboxFilter{ConversationID: conv.ID, Kind: vocab.KindAccepted}); len(o) != 1 {
		t.Fatalf("accepted emails = %d, want 1", len(o))
	}
	audit, err := s.ListAudit(ctx, store.AuditFilter{Actor: &actor, Action: "register.opt_out"})
	if err != nil || len(audit) != 1 || audit[0].ObjectID != subs[0].ID {
		t.Fatalf("audit = %+v, %v, want one register.opt_out for the form", audit, err)
	}

	// Already opted out: a duplicate, the register and its history unchanged, no email.
	st, err = s.RecordStaffOptOut(ctx, store.StaffOptOut{Fields: f, Actor: actor, Reference: conv.Reference, Accepted: email(vocab.KindAccepted)})
	if err != nil || st != vocab.StatusDuplicate {
		t.Fatalf("RecordStaffOptOut(again) = %q, %v, want duplicate", st, err)
	}
	if p, _ := s.FindPerson(ctx, nhs, store.System); len(p.History) != 1 {
		t.Fatalf("history after a duplicate = %d changes, want 1", len(p.History))
	}
	if o, _ := s.ListOutbox(ctx, store.OutboxFilter{ConversationID: conv.ID, Kind: vocab.KindAccepted}); len(o) != 1 {
		t.Fatalf("accepted emails after a duplicate = %d, want 1", len(o))
	}
	if a, _ := s.ListAudit(ctx, store.AuditFilter{Actor: &actor, Action: "register.duplicate"}); len(a) != 1 {
		t.Fatalf("register.duplicate audit = %d, want 1", len(a))
	}

	// Opted back in, then keyed in again without a conversation: opted out once more, no email.
	if _, err := s.RecordOptIn(ctx, store.OptIn{NHSNumber: nhs, Actor: actor, Reason: "mistake"}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.RecordStaffOptOut(ctx, store.StaffOptOut{Fields: f, Actor: actor}); err != nil || st != vocab.StatusAccepted {
		t.Fatalf("RecordStaffOptOut(after opt in) = %q, %v, want accepted", st, err)
	}
	if p, _ := s.FindPerson(ctx, nhs, store.System); p.State != store.OptedOut || len(p.History) != 3 {
		t.Fatalf("FindPerson = %+v, want opted out with three changes", p)
	}
}
