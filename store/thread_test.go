package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/internal/pgtest"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// recordAt records a message received at at, with header facts (sender
// and subject), and returns its ledger id.
func recordAt(t *testing.T, s *store.Store, at time.Time, from, subject string) int64 {
	t.Helper()
	uid := uidCounter.Add(1)
	id := fmt.Sprintf("thread%d@example.org", uid)
	e, created, err := s.RecordMessage(context.Background(), store.IncomingMessage{
		Mailbox: "INBOX", UIDValidity: 1, UID: uid, MessageID: id, ReceivedAt: at, Size: 100,
		Raw:    []byte("Subject: " + subject + "\r\n\r\nbody"),
		Header: store.MessageHeader{From: from, Subject: subject, MessageID: id},
	})
	if err != nil || !created {
		t.Fatalf("RecordMessage = %v, %v", created, err)
	}
	return e.ID
}

// TestConversationThreadEveryMessage: the thread of a conversation holds
// every message the pipeline settled in it, whatever was done with it: the
// first contact, a reply without a form asked again automatically, an
// automatic reply, a second reply without a form raising an item; oldest
// first, with the replies out. Mail of another conversation or of none
// stays out; the outcome records the conversation once, in its own
// transaction, and a second completion changes nothing.
func TestConversationThreadEveryMessage(t *testing.T) {
	t.Parallel()
	s := newStore(t, 2)
	ctx := context.Background()
	const addr = "ada@example.org"
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)

	// Recorded out of order: the thread follows the time received.
	noForm := recordAt(t, s, t0.Add(2*time.Minute), addr, "RE: instructions")
	first := recordAt(t, s, t0, addr, "Opting out")
	auto := recordAt(t, s, t0.Add(3*time.Minute), addr, "Out of office")
	again := recordAt(t, s, t0.Add(4*time.Minute), addr, "RE: RE: instructions")
	other := recordAt(t, s, t0.Add(time.Minute), "grace@example.org", "Opting out too")
	none := recordAt(t, s, t0.Add(5*time.Minute), "who@example.org", "A reference not theirs")

	opened, err := s.CompleteMessage(ctx, &store.Plan{LedgerID: first, Folder: vocab.FolderProcessed, Action: vocab.ActionInstructions,
		NewConversation: &store.NewConversation{Address: addr}, Emails: []*store.Email{email(vocab.KindInstructions)}})
	if err != nil {
		t.Fatal(err)
	}
	conv := opened.ConversationID
	if _, err := s.CompleteMessage(ctx, &store.Plan{LedgerID: other, Folder: vocab.FolderProcessed, Action: vocab.ActionInstructions,
		NewConversation: &store.NewConversation{Address: "grace@example.org"}, Emails: []*store.Email{email(vocab.KindInstructions)}}); err != nil {
		t.Fatal(err)
	}
	ask := &store.Plan{LedgerID: noForm, Folder: vocab.FolderProcessed, Action: vocab.ActionNoForm, ConversationID: conv,
		NoFormReply: true, Emails: []*store.Email{email(vocab.KindNoForm)}}
	if _, err := s.CompleteMessage(ctx, ask); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteMessage(ctx, &store.Plan{LedgerID: auto, Folder: vocab.FolderAuto, Action: vocab.ActionAuto, ConversationID: conv}); err != nil {
		t.Fatal(err)
	}
	raised, err := s.CompleteMessage(ctx, &store.Plan{LedgerID: again, Folder: vocab.FolderTriage, Action: vocab.ActionNoFormAgain, ConversationID: conv,
		Triage: []*store.NewTriage{{Reason: vocab.ReasonNoFormAgain}}})
	if err != nil || len(raised.Triage) != 1 {
		t.Fatalf("no form again: %v, %d items", err, len(raised.Triage))
	}
	if _, err := s.CompleteMessage(ctx, &store.Plan{LedgerID: none, Folder: vocab.FolderTriage, Action: vocab.ActionOtherSender,
		Triage: []*store.NewTriage{{Reason: vocab.ReasonUnverifiedSender}}}); err != nil {
		t.Fatal(err)
	}
	// A second completion (a re-fetched message) is refused and moves nothing.
	ask.ConversationID = opened.ConversationID + 1000
	if _, err := s.CompleteMessage(ctx, ask); !errors.Is(err, store.ErrAlreadyDone) {
		t.Fatalf("second completion: %v, want ErrAlreadyDone", err)
	}

	// What the ledger recorded.
	want := map[int64]int64{first: conv, noForm: conv, auto: conv, again: conv, none: 0}
	for id, c := range want {
		var got *int64
		if err := s.Pool().QueryRow(ctx, `select conversation_id from ledger where id = $1`, id).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if (got == nil) != (c == 0) || got != nil && *got != c {
			t.Errorf("ledger row %d: conversation %v, want %d", id, got, c)
		}
	}

	th, err := s.ConversationThread(ctx, conv, again, store.System)
	if err != nil {
		t.Fatal(err)
	}
	wantIn := []struct {
		id      int64
		subject string
		action  vocab.Action
	}{{first, "Opting out", vocab.ActionInstructions}, {noForm, "RE: instructions", vocab.ActionNoForm},
		{auto, "Out of office", vocab.ActionAuto}, {again, "RE: RE: instructions", vocab.ActionNoFormAgain}}
	if len(th.Incoming) != len(wantIn) {
		t.Fatalf("thread holds %d messages in, want %d: %+v", len(th.Incoming), len(wantIn), th.Incoming)
	}
	for i, w := range wantIn {
		m := th.Incoming[i]
		if m.Entry.ID != w.id || m.Header.Subject != w.subject || m.Header.From != addr || m.Entry.Action != store.LedgerAction(store.FolderOf(m.Entry.Action), w.action) {
			t.Errorf("message %d in = ledger %d %q from %q, %s; want ledger %d %q from %s, %s", i+1,
				m.Entry.ID, m.Header.Subject, m.Header.From, m.Entry.Action, w.id, w.subject, addr, w.action)
		}
	}
	if len(th.Outgoing) != 2 || th.Outgoing[0].Kind != vocab.KindInstructions || th.Outgoing[1].Kind != vocab.KindNoForm {
		t.Errorf("replies out = %+v, want the instructions then the no-form ask", th.Outgoing)
	}
	if len(th.Open) != 1 || th.Open[0].ID != raised.Triage[0] || !th.SameMessage[raised.Triage[0]] {
		t.Errorf("open items = %+v (same message %v), want item %d of this message", th.Open, th.SameMessage, raised.Triage[0])
	}

	// A message of no conversation: its thread is itself.
	th, err = s.ConversationThread(ctx, 0, none, store.System)
	if err != nil {
		t.Fatal(err)
	}
	if len(th.Incoming) != 1 || th.Incoming[0].Entry.ID != none || len(th.Outgoing) != 0 {
		t.Errorf("thread of a message without conversation = %+v, %+v", th.Incoming, th.Outgoing)
	}
}

// TestMigration010BackfillsLedgerConversation: messages done before
// migration 010 get the conversation they opened, else of their forms,
// else of their items, else of the item they answered; others none.
func TestMigration010BackfillsLedgerConversation(t *testing.T) {
	t.Parallel()
	pool, schema := pgtest.Schema(t, 2)
	ctx := context.Background()
	if err := store.MigrateTo(ctx, pool, schema, 9); err != nil {
		t.Fatal(err)
	}
	s := store.New(pool, store.Options{Schema: schema, Keys: testKeys(t, testDataKey)})
	a, err := s.CreateConversation(ctx, "a@example.org")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateConversation(ctx, "b@example.org")
	if err != nil {
		t.Fatal(err)
	}
	opener, withForm, withItem, answer, alone := record(t, s), record(t, s), record(t, s), record(t, s), record(t, s)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`update conversations set ledger_id = $2 where id = $1`, a.ID, opener)
	// The opener also carried a form of the other conversation: the one
	// it opened wins.
	exec(`insert into submissions (conversation_id, ledger_id, source, fields, status) values ($1, $2, '\x00', '\x00', 'triage'), ($3, $4, '\x00', '\x00', 'triage')`,
		b.ID, opener, b.ID, withForm)
	exec(`insert into triage (ledger_id, conversation_id, reason, due_by) values ($1, $2, 'no_form_again', now())`, withItem, a.ID)
	exec(`insert into triage (conversation_id, reason, due_by, answer_ledger_id) values ($1, 'after_completion', now(), $2)`, b.ID, answer)

	if err := store.Migrate(ctx, pool, schema); err != nil {
		t.Fatal(err)
	}
	want := map[int64]int64{opener: a.ID, withForm: b.ID, withItem: a.ID, answer: b.ID, alone: 0}
	for id, c := range want {
		var got int64
		if err := pool.QueryRow(ctx, `select coalesce(conversation_id, 0) from ledger where id = $1`, id).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c {
			t.Errorf("ledger row %d after migration: conversation %d, want %d", id, got, c)
		}
	}
}
