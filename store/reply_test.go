package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// newQuestion raises an item about a message without a form in a new
// conversation and returns the item and conversation ids.
func newQuestion(t *testing.T, s *store.Store) (item, conv int64) {
	t.Helper()
	res, err := s.CompleteMessage(context.Background(), &store.Plan{LedgerID: record(t, s), Folder: vocab.FolderTriage, Action: vocab.ActionNoFormAgain,
		NewConversation: &store.NewConversation{Address: "resident@example.org"}, Triage: []*store.NewTriage{{Reason: vocab.ReasonOther}}})
	if err != nil || len(res.Triage) != 1 {
		t.Fatalf("CompleteMessage = %+v, %v", res, err)
	}
	return res.Triage[0], res.ConversationID
}

func inQueue(t *testing.T, s *store.Store, q store.QueueQuery, id int64) bool {
	t.Helper()
	p, err := s.QueueTriage(context.Background(), q)
	if err != nil {
		t.Fatalf("QueueTriage: %v", err)
	}
	for _, it := range p.Items {
		if it.ID == id {
			return true
		}
	}
	return false
}

// TestStaffReplyWaitsAndReopens checks a staff reply is queued sealed in
// the conversation and audited, the item leaves the open queue while it
// waits (and comes back after the wait), and an answer reopens it.
func TestStaffReplyWaitsAndReopens(t *testing.T) {
	t.Parallel()
	s := newStore(t, 4)
	ctx := context.Background()
	staff, err := s.CreateStaff(ctx, "triager@nhs.net", "h", store.RoleTriager, store.System)
	if err != nil {
		t.Fatal(err)
	}
	actor := store.Actor(staff.ID)
	item, conv := newQuestion(t, s)
	if _, err := s.StaffReply(ctx, item, email(vocab.KindStaffReply), store.System); err == nil {
		t.Error("StaffReply by the system succeeded, want an error (a staff actor is required)")
	}
	e := email(vocab.KindStaffReply)
	e.Body = "Dear resident, the hospital sees what it needs."
	id, err := s.StaffReply(ctx, item, e, actor)
	if err != nil {
		t.Fatalf("StaffReply: %v", err)
	}
	var stored []byte
	if err := s.Pool().QueryRow(ctx, `select body from outbox_content where id = $1`, id).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if string(stored) == e.Body || len(stored) == 0 {
		t.Error("the reply's text is stored in clear")
	}
	replies, err := s.StaffReplies(ctx, conv)
	if err != nil || len(replies) != 1 || replies[0].ID != id || replies[0].State != store.OutboxPending {
		t.Errorf("StaffReplies = %+v, %v; want the one pending reply", replies, err)
	}
	audit, err := s.ListAudit(ctx, store.AuditFilter{Action: "triage.staff_reply"})
	if err != nil || len(audit) != 1 || audit[0].ObjectID != item {
		t.Errorf("staff reply audit = %+v, %v", audit, err)
	}
	// A second reply is its own email (its own Message-ID, its own key).
	if _, err := s.StaffReply(ctx, item, email(vocab.KindStaffReply), actor); err != nil {
		t.Errorf("second StaffReply: %v", err)
	}

	now := time.Now()
	tests := []struct {
		name string
		q    store.QueueQuery
		want bool
	}{
		{"open queue, within the wait", store.QueueQuery{ReplyWait: 10 * 24 * time.Hour, Now: now}, false},
		{"open queue, wait over", store.QueueQuery{ReplyWait: 10 * 24 * time.Hour, Now: now.Add(11 * 24 * time.Hour)}, true},
		{"open queue, no wait", store.QueueQuery{Now: now}, true},
		{"waiting queue, within the wait", store.QueueQuery{State: "waiting", ReplyWait: 10 * 24 * time.Hour, Now: now}, true},
		{"waiting queue, wait over", store.QueueQuery{State: "waiting", ReplyWait: 10 * 24 * time.Hour, Now: now.Add(11 * 24 * time.Hour)}, false},
		{"all", store.QueueQuery{State: "all", ReplyWait: 10 * 24 * time.Hour, Now: now}, true},
	}
	for _, tt := range tests {
		if got := inQueue(t, s, tt.q, item); got != tt.want {
			t.Errorf("%s: item listed = %v, want %v", tt.name, got, tt.want)
		}
	}
	if ok, err := s.WaitingOnResident(ctx, conv); err != nil || !ok {
		t.Errorf("WaitingOnResident = %v, %v; want true", ok, err)
	}

	// The answer: a plan in the conversation with ReopenWaiting.
	answer := record(t, s)
	if _, err := s.CompleteMessage(ctx, &store.Plan{LedgerID: answer, Folder: vocab.FolderTriage, Action: vocab.ActionAnswer,
		ConversationID: conv, ReopenWaiting: true}); err != nil {
		t.Fatalf("CompleteMessage(answer): %v", err)
	}
	if ok, err := s.WaitingOnResident(ctx, conv); err != nil || ok {
		t.Errorf("after the answer WaitingOnResident = %v, %v; want false", ok, err)
	}
	w, err := s.ReplyWaitOf(ctx, item)
	if err != nil || w.Since != nil || w.AnswerLedgerID != answer {
		t.Errorf("ReplyWaitOf = %+v, %v; want no wait and the answer %d", w, err, answer)
	}
	if !inQueue(t, s, store.QueueQuery{ReplyWait: 10 * 24 * time.Hour, Now: now}, item) {
		t.Error("the answered item is not back in the open queue")
	}
}

// TestAnswerOffline closes an item answered by phone or post with a
// sealed note, audited; a closed item cannot be replied to.
func TestAnswerOffline(t *testing.T) {
	t.Parallel()
	s := newStore(t, 4)
	ctx := context.Background()
	staff, err := s.CreateStaff(ctx, "triager@nhs.net", "h", store.RoleTriager, store.System)
	if err != nil {
		t.Fatal(err)
	}
	actor := store.Actor(staff.ID)
	item, _ := newQuestion(t, s)
	for _, note := range []string{"", "   ", string(make([]rune, store.MaxOfflineNoteRunes+1))} {
		if err := s.AnswerOffline(ctx, item, note, actor); err == nil {
			t.Errorf("AnswerOffline(note of %d bytes) succeeded, want an error", len(note))
		}
	}
	if err := s.AnswerOffline(ctx, item, "Called on 5 May.", actor); err != nil {
		t.Fatalf("AnswerOffline: %v", err)
	}
	c, err := s.TriageClosureOf(ctx, item)
	if err != nil || c.Note != "Called on 5 May." {
		t.Errorf("TriageClosureOf = %+v, %v; want the note", c, err)
	}
	if err := s.AnswerOffline(ctx, item, "again", actor); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AnswerOffline on a closed item = %v, want ErrConflict", err)
	}
	if _, err := s.StaffReply(ctx, item, email(vocab.KindStaffReply), actor); !errors.Is(err, store.ErrConflict) {
		t.Errorf("StaffReply on a closed item = %v, want ErrConflict", err)
	}
	audit, err := s.ListAudit(ctx, store.AuditFilter{Action: "triage." + string(vocab.OutcomeAnsweredOffline)})
	if err != nil || len(audit) != 1 || audit[0].ObjectID != item {
		t.Errorf("answered offline audit = %+v, %v", audit, err)
	}
}

// TestSnippets adds, changes, lists and deletes snippets, each audited,
// and refuses empty or too long ones.
func TestSnippets(t *testing.T) {
	t.Parallel()
	s := newStore(t, 4)
	ctx := context.Background()
	admin, err := s.CreateStaff(ctx, "admin@nhs.net", "h", store.RoleAdmin, store.System)
	if err != nil {
		t.Fatal(err)
	}
	actor := store.Actor(admin.ID)
	long := string(make([]byte, store.MaxSnippetBodyRunes+1))
	for _, tt := range []struct{ title, body string }{{"", "b"}, {"t", " "}, {"t", long}, {string(make([]byte, 101)), "b"}} {
		if _, err := s.SaveSnippet(ctx, 0, tt.title, tt.body, actor); !errors.Is(err, store.ErrBadSnippet) {
			t.Errorf("SaveSnippet(%d, %d chars) = %v, want ErrBadSnippet", len(tt.title), len(tt.body), err)
		}
	}
	id, err := s.SaveSnippet(ctx, 0, " Paper form ", "We will post you a paper form.", actor)
	if err != nil {
		t.Fatalf("SaveSnippet: %v", err)
	}
	if _, err := s.SaveSnippet(ctx, id, "Paper form", "We will post you a paper form this week.", actor); err != nil {
		t.Fatalf("SaveSnippet(change): %v", err)
	}
	list, err := s.Snippets(ctx)
	if err != nil || len(list) != 1 || list[0].Title != "Paper form" || list[0].Body != "We will post you a paper form this week." {
		t.Errorf("Snippets = %+v, %v", list, err)
	}
	if err := s.DeleteSnippet(ctx, id, actor); err != nil {
		t.Fatalf("DeleteSnippet: %v", err)
	}
	if _, err := s.Snippet(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Snippet after delete = %v, want ErrNotFound", err)
	}
	for _, action := range []string{"snippet.add", "snippet.change", "snippet.delete"} {
		if a, err := s.ListAudit(ctx, store.AuditFilter{Action: action}); err != nil || len(a) != 1 || a[0].ObjectID != id {
			t.Errorf("audit %s = %+v, %v", action, a, err)
		}
	}
}
