package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/internal/pgtest"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// TestLedgerIndexesLeaveStateHot guards migration 002: no index of the
// ledger may depend on its state column (in its key or its predicate), or
// every state change (new, processing, done) stops being a HOT update and
// writes a new entry in every index.
func TestLedgerIndexesLeaveStateHot(t *testing.T) {
	t.Parallel()
	s := newStore(t, 2)
	ctx := context.Background()
	rows, err := s.Pool().Query(ctx, `select indexrelid::regclass::text, pg_get_indexdef(indexrelid)
		from pg_index where indrelid = 'ledger'::regclass`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		n++
		if strings.Contains(def, "state") || strings.Contains(def, "updated_at") || strings.Contains(def, "action") {
			t.Errorf("index %s depends on a column CompleteMessage changes: %s", name, def)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 4 {
		t.Errorf("ledger has %d indexes, want at least 4 (primary key, two unique, retry, purge)", n)
	}
}

// TestFailedMessagesAfterRetryIndex checks that failed rows are still found
// for retry and listing through the retry index, and that a completed row
// drops out of it.
func TestFailedMessagesAfterRetryIndex(t *testing.T) {
	t.Parallel()
	s := newStore(t, 2)
	ctx := context.Background()
	a, b := record(t, s), record(t, s)
	if _, err := s.FailMessage(ctx, a, "extract_failed"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FailMessage(ctx, b, "extract_failed"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ListFailedMessages(ctx, 10); len(got) != 2 {
		t.Fatalf("ListFailedMessages = %d rows, want 2", len(got))
	}
	if got, _ := s.ClaimFailedMessages(ctx, 10, false); len(got) != 0 {
		t.Fatalf("claimed %d rows before their retry time", len(got))
	}
	got, err := s.ClaimFailedMessages(ctx, 10, true)
	if err != nil || len(got) != 2 || got[0].State != store.LedgerProcessing {
		t.Fatalf("ClaimFailedMessages(force) = %+v, %v", got, err)
	}
	if _, err := s.CompleteMessage(ctx, &store.Plan{LedgerID: a, Action: "ignored"}); err != nil {
		t.Fatal(err)
	}
	var inIndex int
	if err := s.Pool().QueryRow(ctx, `select count(*) from ledger where next_attempt_at is not null`).Scan(&inIndex); err != nil {
		t.Fatal(err)
	}
	if inIndex != 1 {
		t.Errorf("rows with a next attempt = %d, want 1 (the completed row leaves the retry index)", inIndex)
	}
}

// TestCompleteMessageOneRoundTripGate checks the gate of the one-round-trip
// CompleteMessage: an unknown row and a done row change nothing at all.
func TestCompleteMessageOneRoundTripGate(t *testing.T) {
	t.Parallel()
	s := newStore(t, 2)
	ctx := context.Background()
	count := func() (n int) {
		t.Helper()
		if err := s.Pool().QueryRow(ctx, `select (select count(*) from conversations) + (select count(*) from outbox)
			+ (select count(*) from submissions) + (select count(*) from audit) + (select count(*) from attachments)`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	id := record(t, s)
	first := &store.Plan{LedgerID: id, Action: "instructions_sent", NewConversation: &store.NewConversation{Address: "a@example.org"},
		Emails: []*store.Email{email(vocab.KindInstructions)}}
	res, err := s.CompleteMessage(ctx, first)
	if err != nil || res.ConversationID == 0 || len(res.Queued) != 1 || !strings.HasPrefix(res.Reference, "NCL-") {
		t.Fatalf("CompleteMessage = %+v, %v", res, err)
	}
	before := count()
	again := *first
	again.Emails = []*store.Email{email(vocab.KindInstructions)}
	if _, err := s.CompleteMessage(ctx, &again); !errors.Is(err, store.ErrAlreadyDone) {
		t.Fatalf("CompleteMessage(done row) = %v, want ErrAlreadyDone", err)
	}
	unknown := again
	unknown.LedgerID = 1 << 40
	if _, err := s.CompleteMessage(ctx, &unknown); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CompleteMessage(unknown row) = %v, want ErrNotFound", err)
	}
	if after := count(); after != before {
		t.Errorf("rows after refused outcomes = %d, want %d (nothing written)", after, before)
	}
	// An existing conversation's reference comes back with the result.
	reply := record(t, s)
	res2, err := s.CompleteMessage(ctx, formOutcome(reply, res.ConversationID, "9434765919"))
	if err != nil || res2.Reference != res.Reference || res2.ConversationID != res.ConversationID {
		t.Fatalf("CompleteMessage(reply) = %+v, %v; want reference %s", res2, err, res.Reference)
	}
}

// TestCompleteMessageIDsUnique runs many outcomes concurrently, each
// drawing ids from the shared blocks: every conversation and submission id
// is distinct and every one is what the result reported.
func TestCompleteMessageIDsUnique(t *testing.T) {
	t.Parallel()
	s := newStore(t, 4)
	ctx := context.Background()
	const workers, each = 4, 15
	var mu sync.Mutex
	convs, subs := map[int64]bool{}, map[int64]bool{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				id := record(t, s)
				o := &store.Plan{LedgerID: id, Action: "form", NewConversation: &store.NewConversation{Address: fmt.Sprintf("p%d.%d@example.org", w, i)},
					Submissions: []*store.NewSubmission{{Form: validForm(""), Status: vocab.StatusTriage}, {Form: validForm(""), Status: vocab.StatusTriage}}}
				res, err := s.CompleteMessage(ctx, o)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if convs[res.ConversationID] {
					t.Errorf("conversation id %d handed out twice", res.ConversationID)
				}
				convs[res.ConversationID] = true
				for _, sr := range res.Submissions {
					if subs[sr.ID] {
						t.Errorf("submission id %d handed out twice", sr.ID)
					}
					subs[sr.ID] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	var nc, ns int
	if err := s.Pool().QueryRow(ctx, `select (select count(*) from conversations), (select count(*) from submissions)`).Scan(&nc, &ns); err != nil {
		t.Fatal(err)
	}
	if nc != workers*each || ns != 2*workers*each || len(convs) != nc || len(subs) != ns {
		t.Errorf("rows: %d conversations, %d submissions; results: %d, %d; want %d and %d",
			nc, ns, len(convs), len(subs), workers*each, 2*workers*each)
	}
}

// TestConversationByReferenceReplies checks the merged lookup against the
// two calls it replaces.
func TestConversationByReferenceReplies(t *testing.T) {
	t.Parallel()
	s := newStore(t, 2)
	ctx := context.Background()
	id := record(t, s)
	res, err := s.CompleteMessage(ctx, &store.Plan{LedgerID: id, Action: "instructions_sent",
		NewConversation: &store.NewConversation{Address: "Resident@Example.org"},
		Emails:          []*store.Email{email(vocab.KindInstructions), email(vocab.KindReceipt)}})
	if err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Hour)
	c, n, err := s.ConversationByReferenceReplies(ctx, strings.ToLower(res.Reference), since)
	if err != nil || c.ID != res.ConversationID || c.Address != "resident@example.org" {
		t.Fatalf("ConversationByReferenceReplies = %+v, %v", c, err)
	}
	want, err := s.CountRepliesTo(ctx, c.Address, since)
	if err != nil || n != want || n != 2 {
		t.Fatalf("replies = %d, CountRepliesTo = %d (%v), want 2", n, want, err)
	}
	if _, n, _ := s.ConversationByReferenceReplies(ctx, res.Reference, time.Now().Add(time.Hour)); n != 0 {
		t.Errorf("replies since the future = %d, want 0", n)
	}
	if _, _, err := s.ConversationByReferenceReplies(ctx, "NCL-0000-0000", since); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown reference: %v, want ErrNotFound", err)
	}
}

// TestConversationByMessageIDBothSources: a queued email's Message-ID is
// found through the outbox, one recorded with AddSentMessageID (or before
// migration 002) through sent_message_ids; the most recent wins.
func TestConversationByMessageIDBothSources(t *testing.T) {
	t.Parallel()
	s := newStore(t, 2)
	ctx := context.Background()
	old, err := s.CreateConversation(ctx, "a@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddSentMessageID(ctx, old.ID, "<legacy.1@optout.test>"); err != nil {
		t.Fatal(err)
	}
	if c, err := s.ConversationByMessageID(ctx, "legacy.1@optout.test"); err != nil || c.ID != old.ID {
		t.Fatalf("by legacy id = %d, %v; want %d", c.ID, err, old.ID)
	}
	e := email(vocab.KindInstructions)
	res, err := s.CompleteMessage(ctx, &store.Plan{LedgerID: record(t, s), Action: "instructions_sent",
		NewConversation: &store.NewConversation{Address: "b@example.org"}, Emails: []*store.Email{e}})
	if err != nil {
		t.Fatal(err)
	}
	var inTable int
	if err := s.Pool().QueryRow(ctx, `select count(*) from sent_message_ids where message_id = $1`, e.MessageID).Scan(&inTable); err != nil || inTable != 0 {
		t.Fatalf("queued id copied to sent_message_ids: %d, %v", inTable, err)
	}
	if c, err := s.ConversationByMessageID(ctx, "<"+e.MessageID+">"); err != nil || c.ID != res.ConversationID {
		t.Fatalf("by outbox id = %d, %v; want %d", c.ID, err, res.ConversationID)
	}
	if c, err := s.ConversationByMessageID(ctx, "legacy.1@optout.test", e.MessageID); err != nil || c.ID != res.ConversationID {
		t.Fatalf("by both = %d, %v; want the newer %d", c.ID, err, res.ConversationID)
	}
	if _, err := s.ConversationByMessageID(ctx, "nobody@else"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}

// TestMigration003KeepsOutboxContent queues an email under the schema of
// migration 002, migrates to the latest, and reads the same subject and
// body back from outbox_content.
func TestMigration003KeepsOutboxContent(t *testing.T) {
	t.Parallel()
	pool, schema := pgtest.Schema(t, 2)
	ctx := context.Background()
	if err := store.MigrateTo(ctx, pool, schema, 2); err != nil {
		t.Fatal(err)
	}
	s := store.New(pool, store.Options{Schema: schema, Keys: testKeys(t, testDataKey)})
	conv, err := s.CreateConversation(ctx, "a@example.org")
	if err != nil {
		t.Fatal(err)
	}
	sealedSubject, err := s.Keys().Seal("outbox.subject", []byte("[secure] Your opt-out"))
	if err != nil {
		t.Fatal(err)
	}
	sealedBody, err := s.Keys().Seal("outbox.body", []byte("Dear resident"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `insert into outbox (key, kind, conversation_id, recipient_hash, subject, body, message_id)
		select 'receipt/conv/1', 'receipt', id, address_hash, $2, $3, 'm1@optout.test' from conversations where id = $1`,
		conv.ID, sealedSubject, sealedBody); err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(ctx, pool, schema); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListOutbox(ctx, store.OutboxFilter{ConversationID: conv.ID})
	if err != nil || len(got) != 1 || got[0].Subject != "[secure] Your opt-out" || got[0].Body != "Dear resident" || got[0].To != "a@example.org" {
		t.Fatalf("outbox after migration = %+v, %v", got, err)
	}
}
