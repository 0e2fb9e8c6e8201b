package store_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/internal/pgtest"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

func TestMigrateEmptyRerunConcurrent(t *testing.T) {
	t.Parallel()
	pool, schema := pgtest.Schema(t, 4)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { errs[i] = store.Migrate(ctx, pool, schema) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Migrate = %v", err)
		}
	}
	if err := store.Migrate(ctx, pool, schema); err != nil {
		t.Fatalf("Migrate again = %v", err)
	}
	applied, available, err := store.SchemaVersion(ctx, pool, schema)
	if err != nil || applied != available || applied == 0 {
		t.Fatalf("SchemaVersion = %d, %d, %v", applied, available, err)
	}
	// A schema that does not exist yet is created.
	fresh := schema + "_b"
	t.Cleanup(func() { pool.Exec(context.Background(), "drop schema if exists "+fresh+" cascade") })
	if err := store.Migrate(ctx, pool, fresh); err != nil {
		t.Fatalf("Migrate(new schema) = %v", err)
	}
	if err := store.Migrate(ctx, pool, "Bad-Name"); err == nil {
		t.Fatal("Migrate accepted an unsafe schema name")
	}
}

func TestRecordMessageDuplicateDelivery(t *testing.T) {
	t.Parallel()
	s := newStore(t, 4)
	ctx := context.Background()
	m := store.IncomingMessage{Mailbox: "INBOX", UIDValidity: 7, UID: 42, MessageID: "<abc@example.org>", ReceivedAt: time.Now(), Raw: []byte("raw")}
	first, created, err := s.RecordMessage(ctx, m)
	if err != nil || !created {
		t.Fatalf("RecordMessage = %v, %v", created, err)
	}
	again, created, err := s.RecordMessage(ctx, m)
	if err != nil || created || again.ID != first.ID {
		t.Fatalf("RecordMessage(same uid) = %+v, %v, %v; want existing row %d", again, created, err, first.ID)
	}
	// Re-delivered under another UID: the Message-ID finds it.
	m2 := m
	m2.UID, m2.MessageID = 99, "abc@example.org"
	again, created, err = s.RecordMessage(ctx, m2)
	if err != nil || created || again.ID != first.ID {
		t.Fatalf("RecordMessage(new uid, same Message-ID) = %+v, %v, %v; want row %d", again, created, err, first.ID)
	}
	// No Message-ID at all: only the UID identifies it.
	m3 := store.IncomingMessage{Mailbox: "INBOX", UIDValidity: 7, UID: 43, ReceivedAt: time.Now()}
	if _, created, err := s.RecordMessage(ctx, m3); err != nil || !created {
		t.Fatalf("RecordMessage(no Message-ID) = %v, %v", created, err)
	}
	if _, created, err := s.RecordMessage(ctx, store.IncomingMessage{Mailbox: "INBOX", UIDValidity: 7, UID: 44}); err != nil || !created {
		t.Fatalf("RecordMessage(second without Message-ID) = %v, %v", created, err)
	}
	raw, err := s.RawMessage(ctx, first.ID, store.System)
	if err != nil || string(raw) != "raw" {
		t.Fatalf("RawMessage = %q, %v", raw, err)
	}
}

// TestExactlyOnceConcurrent has many workers handle the same message at
// once, as two replicas or a re-fetch would: one outcome commits, the rest
// see ErrAlreadyDone, and there is one of everything.
func TestExactlyOnceConcurrent(t *testing.T) {
	t.Parallel()
	s := newStore(t, 8)
	ctx := context.Background()
	conv, err := s.CreateConversation(ctx, "resident@example.org")
	if err != nil {
		t.Fatal(err)
	}
	m := store.IncomingMessage{Mailbox: "INBOX", UIDValidity: 1, UID: 5, MessageID: "<dup@example.org>", Raw: []byte("x")}
	var wg sync.WaitGroup
	var mu sync.Mutex
	done, already := 0, 0
	for i := range 8 {
		wg.Go(func() {
			mm := m
			mm.UID += uint32(i % 2) // half re-delivered under a new UID
			e, _, err := s.RecordMessage(ctx, mm)
			if err != nil {
				t.Error(err)
				return
			}
			_, err = s.CompleteMessage(ctx, formOutcome(e.ID, conv.ID, "9434765919"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				done++
			case errors.Is(err, store.ErrAlreadyDone):
				already++
			default:
				t.Errorf("CompleteMessage = %v", err)
			}
		})
	}
	wg.Wait()
	if done != 1 || already != 7 {
		t.Fatalf("outcomes committed %d, already done %d; want 1 and 7", done, already)
	}
	counts := countRows(t, s, "ledger", "submissions", "register", "register_history", "outbox", "attachments")
	want := map[string]int{"ledger": 1, "submissions": 1, "register": 1, "register_history": 1, "outbox": 2, "attachments": 1}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("%s rows = %d, want %d", k, counts[k], v)
		}
	}
}

func countRows(t *testing.T, s *store.Store, tables ...string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tb := range tables {
		var n int
		if err := s.Pool().QueryRow(context.Background(), "select count(*) from "+tb).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", tb, err)
		}
		out[tb] = n
	}
	return out
}

// TestSameNHSNumberConcurrent records two different messages for one person
// at once: one opts out, the other is a duplicate, each answered once.
func TestSameNHSNumberConcurrent(t *testing.T) {
	t.Parallel()
	s := newStore(t, 8)
	ctx := context.Background()
	for round := range 5 {
		nhs := []string{"9434765919", "4010232137", "9876543210", "1234567881", "4505577104"}[round]
		var ids [2]int64
		var convs [2]int64
		for i := range ids {
			ids[i] = record(t, s)
			c, err := s.CreateConversation(ctx, "r@example.org")
			if err != nil {
				t.Fatal(err)
			}
			convs[i] = c.ID
		}
		var wg sync.WaitGroup
		res := make([]store.OutcomeResult, 2)
		errs := make([]error, 2)
		for i := range 2 {
			wg.Go(func() { res[i], errs[i] = s.CompleteMessage(ctx, formOutcome(ids[i], convs[i], nhs)) })
		}
		wg.Wait()
		statuses := map[vocab.SubmissionStatus]int{}
		for i := range 2 {
			if errs[i] != nil {
				t.Fatalf("CompleteMessage = %v", errs[i])
			}
			statuses[res[i].Submissions[0].Status]++
			if len(res[i].Queued) != 2 {
				t.Fatalf("queued %v, want receipt + one outcome email", res[i].Queued)
			}
		}
		if statuses[vocab.StatusAccepted] != 1 || statuses[vocab.StatusDuplicate] != 1 {
			t.Fatalf("statuses = %v, want one accepted and one duplicate", statuses)
		}
		p, err := s.FindPerson(ctx, nhs, store.System)
		if err != nil || p.State != store.OptedOut || len(p.History) != 1 {
			t.Fatalf("FindPerson = %+v, %v; want opted out with one change", p, err)
		}
	}
	dups, err := s.ListOutbox(ctx, store.OutboxFilter{Kind: vocab.KindDuplicate})
	if err != nil || len(dups) != 5 {
		t.Fatalf("duplicate emails = %d, %v; want 5", len(dups), err)
	}
}

func TestOutboxClaimTwoWorkers(t *testing.T) {
	t.Parallel()
	s := newStore(t, 8)
	ctx := context.Background()
	conv, err := s.CreateConversation(ctx, "r@example.org")
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	for i := range n {
		e := *email(vocab.KindReceipt)
		e.Key = "receipt/test/" + string(rune('A'+i/26)) + string(rune('a'+i%26))
		if _, err := s.Enqueue(ctx, conv.ID, e); err != nil {
			t.Fatal(err)
		}
	}
	dup := *email(vocab.KindReceipt)
	dup.Key = "receipt/test/Aa"
	if _, err := s.Enqueue(ctx, conv.ID, dup); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("Enqueue(same key) = %v, want ErrDuplicate", err)
	}
	var mu sync.Mutex
	sent := map[int64]int{}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				batch, err := s.ClaimOutbox(ctx, 7, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if len(batch) == 0 {
					return
				}
				for _, m := range batch {
					if m.To != "r@example.org" || m.Reference != conv.Reference {
						t.Errorf("claimed %+v: wrong recipient or reference", m.ID)
					}
					mu.Lock()
					sent[m.ID]++
					mu.Unlock()
					if err := s.MarkSent(ctx, m.ID, m.MessageID); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if len(sent) != n {
		t.Fatalf("sent %d distinct emails, want %d", len(sent), n)
	}
	for id, c := range sent {
		if c != 1 {
			t.Fatalf("email %d sent %d times", id, c)
		}
	}
}

func TestOutboxRetryFailBounce(t *testing.T) {
	t.Parallel()
	s := newStore(t, 4)
	ctx := context.Background()
	conv, _ := s.CreateConversation(ctx, "r@example.org")
	e1, e2 := *email(vocab.KindInstructions), *email(vocab.KindReceipt)
	id1, err := s.Enqueue(ctx, conv.ID, e1)
	if err != nil {
		t.Fatal(err)
	}
	id2, _ := s.Enqueue(ctx, conv.ID, e2)
	claimed, _ := s.ClaimOutbox(ctx, 10, time.Minute)
	if len(claimed) != 2 {
		t.Fatalf("claimed %d, want 2", len(claimed))
	}
	if again, _ := s.ClaimOutbox(ctx, 10, time.Minute); len(again) != 0 {
		t.Fatalf("claimed leased rows again: %d", len(again))
	}
	// The time the sender's retry policy computed is the time stored.
	next := time.Now().Add(90 * time.Second).Truncate(time.Microsecond)
	if err := s.RetryOutbox(ctx, id1, next, "421 try later"); err != nil {
		t.Fatalf("RetryOutbox: %v", err)
	}
	var due time.Time
	if err := s.Pool().QueryRow(ctx, `select next_attempt_at from outbox where id = $1`, id1).Scan(&due); err != nil || !due.Equal(next) {
		t.Fatalf("after RetryOutbox(next %v) the row is due at %v (%v); want a later attempt, at next", next, due, err)
	}
	if again, _ := s.ClaimOutbox(ctx, 10, time.Minute); len(again) != 0 {
		t.Fatalf("claimed a row due in 90 s: %d", len(again))
	}
	if err := s.RetryOutbox(ctx, 1<<40, next, "421"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RetryOutbox(unknown row) = %v, want ErrNotFound", err)
	}
	if err := s.FailOutbox(ctx, id2, "550 no such user"); err != nil {
		t.Fatal(err)
	}
	items, _ := s.ListTriage(ctx, store.TriageFilter{Reason: vocab.ReasonSendFailed})
	if len(items) != 1 || items[0].OutboxID != id2 || items[0].Reference != conv.Reference {
		t.Fatalf("triage after failure = %+v", items)
	}
	if err := s.MarkUndeliverable(ctx, "<"+e1.MessageID+">", "bounce 5.1.1"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkUndeliverable(ctx, "<nobody@else>", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("MarkUndeliverable(unknown) = %v", err)
	}
	items, _ = s.ListTriage(ctx, store.TriageFilter{})
	if len(items) != 2 {
		t.Fatalf("open triage = %d, want 2", len(items))
	}
	c, err := s.ConversationByMessageID(ctx, "x@y", "<"+e1.MessageID+">")
	if err != nil || c.ID != conv.ID {
		t.Fatalf("ConversationByMessageID = %v, %v", c.ID, err)
	}
}

func TestHistoryOptOutInOut(t *testing.T) {
	t.Parallel()
	s := newStore(t, 4)
	ctx := context.Background()
	staff, err := s.CreateStaff(ctx, "Triager@nhs.net", "$argon2id$x", store.RoleTriager, store.System)
	if err != nil {
		t.Fatal(err)
	}
	actor := store.Actor(staff.ID)
	conv, _ := s.CreateConversation(ctx, "r@example.org")
	nhs := "9434765919"
	if _, err := s.CompleteMessage(ctx, formOutcome(record(t, s), conv.ID, nhs)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordOptIn(ctx, store.OptIn{NHSNumber: nhs, Actor: actor, Reason: "changed mind", Email: email(vocab.KindOptedIn)}); err != nil {
		t.Fatalf("RecordOptIn = %v", err)
	}
	if _, err := s.RecordOptIn(ctx, store.OptIn{NHSNumber: nhs, Actor: actor}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("RecordOptIn twice = %v, want ErrConflict", err)
	}
	if _, err := s.RecordOptIn(ctx, store.OptIn{NHSNumber: "4010232137", Actor: actor}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RecordOptIn(unknown) = %v, want ErrNotFound", err)
	}
	res, err := s.CompleteMessage(ctx, formOutcome(record(t, s), conv.ID, nhs))
	if err != nil || res.Submissions[0].Status != vocab.StatusAccepted {
		t.Fatalf("opt out again = %+v, %v; want accepted", res, err)
	}
	p, err := s.FindPerson(ctx, "943 476 5919", actor)
	if err != nil {
		t.Fatal(err)
	}
	var states []store.RegisterState
	for _, h := range p.History {
		states = append(states, h.State)
	}
	if p.State != store.OptedOut || p.NHSNumber != nhs || len(states) != 3 || states[0] != store.OptedOut || states[1] != store.OptedIn || states[2] != store.OptedOut {
		t.Fatalf("person = %s, history %v; want opted_out, [out in out]", p.State, states)
	}
	if p.History[1].Actor != actor || p.History[1].Reference != conv.Reference {
		t.Fatalf("opt-in history = %+v", p.History[1])
	}
	optedIn, _ := s.ListOutbox(ctx, store.OutboxFilter{Kind: vocab.KindOptedIn})
	if len(optedIn) != 1 || optedIn[0].To != "r@example.org" {
		t.Fatalf("opt-in confirmations = %+v", optedIn)
	}
	audit, _ := s.ListAudit(ctx, store.AuditFilter{Actor: &actor})
	actions := map[string]bool{}
	for _, a := range audit {
		actions[a.Action] = true
		if strings.Contains(a.Detail, nhs) || strings.Contains(a.Detail, "r@example.org") {
			t.Fatalf("audit detail holds personal data: %q", a.Detail)
		}
	}
	if !actions["register.opt_in"] || !actions["register.view"] {
		t.Fatalf("audit actions = %v", actions)
	}

	// Export: every change, in order, with the NHS number in clear.
	var buf bytes.Buffer
	n, err := s.ExportChanges(ctx, &buf, time.Now().Add(-time.Hour), actor)
	if err != nil || n != 3 {
		t.Fatalf("ExportChanges = %d, %v", n, err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 4 {
		t.Fatalf("export CSV = %v, %v", recs, err)
	}
	if strings.Join(recs[0], ",") != "nhs_number,state,effective_at,reference,change_id" || recs[2][0] != nhs || recs[2][1] != "opted_in" || recs[1][3] != conv.Reference {
		t.Fatalf("export = %v", recs)
	}
	if n, _ := s.ExportChanges(ctx, &bytes.Buffer{}, time.Now().Add(time.Hour), actor); n != 0 {
		t.Fatalf("ExportChanges(future) = %d rows", n)
	}
	if exp, _ := s.ListAudit(ctx, store.AuditFilter{Action: "register.export"}); len(exp) != 2 {
		t.Fatalf("export audit entries = %d, want 2", len(exp))
	}
}

func TestAppendOnlyTriggers(t *testing.T) {
	t.Parallel()
	s := newStore(t, 4)
	ctx := context.Background()
	conv, _ := s.CreateConversation(ctx, "r@example.org")
	if _, err := s.CompleteMessage(ctx, formOutcome(record(t, s), conv.ID, "9434765919")); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"update register_history set state = 'opted_in'",
		"delete from register_history",
		"truncate register_history",
		"update audit set detail = 'x'",
		"delete from audit",
		"truncate audit",
	} {
		if _, err := s.Pool().Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s = %v, want append-only error", q, err)
		}
	}
}

func TestPurge(t *testing.T) {
	t.Parallel()
	s := newStore(t, 4)
	ctx := context.Background()
	conv, _ := s.CreateConversation(ctx, "r@example.org")
	old := record(t, s)
	if _, err := s.CompleteMessage(ctx, formOutcome(old, conv.ID, "9434765919")); err != nil {
		t.Fatal(err)
	}
	// An invalid form waiting for staff must keep its original.
	waiting := record(t, s)
	o := formOutcome(waiting, conv.ID, "123")
	o.Submissions[0].Status, o.Submissions[0].Accepted, o.Submissions[0].Duplicate = vocab.StatusTriage, nil, nil
	o.Triage = []*store.NewTriage{{Reason: vocab.ReasonInvalidForm, Submission: o.Submissions[0]}}
	if _, err := s.CompleteMessage(ctx, o); err != nil {
		t.Fatal(err)
	}
	unprocessed := record(t, s)
	recent := record(t, s)
	if _, err := s.CompleteMessage(ctx, &store.Plan{LedgerID: recent, Action: "auto_ignored"}); err != nil {
		t.Fatal(err)
	}
	// Make all but "recent" old.
	if _, err := s.Pool().Exec(ctx, "update ledger set received_at = now() - interval '100 days' where id <> $1", recent); err != nil {
		t.Fatal(err)
	}
	r, err := s.Purge(ctx, time.Now().Add(-store.DefaultRetention), store.System)
	if err != nil {
		t.Fatal(err)
	}
	if r.Messages != 1 || r.Attachments != 1 {
		t.Fatalf("Purge = %+v, want one message and one attachment", r)
	}
	if _, err := s.RawMessage(ctx, old, store.System); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RawMessage(purged) = %v", err)
	}
	for _, id := range []int64{waiting, unprocessed, recent} {
		if _, err := s.RawMessage(ctx, id, store.System); err != nil {
			t.Fatalf("RawMessage(%d) after purge = %v, want kept", id, err)
		}
	}
	if p, err := s.FindPerson(ctx, "9434765919", store.System); err != nil || p.State != store.OptedOut {
		t.Fatalf("register after purge = %+v, %v", p, err)
	}
}

func TestRekey(t *testing.T) {
	t.Parallel()
	pool, schema := pgtest.Schema(t, 4)
	ctx := context.Background()
	if err := store.Migrate(ctx, pool, schema); err != nil {
		t.Fatal(err)
	}
	open := func(keys string) *store.Store {
		return store.New(pool, store.Options{Schema: schema, Keys: testKeys(t, keys)})
	}
	old := open(testDataKey)
	conv, _ := old.CreateConversation(ctx, "r@example.org")
	for _, nhs := range []string{"9434765919", "4010232137", "9876543210"} {
		if _, err := old.CompleteMessage(ctx, formOutcome(record(t, old), conv.ID, nhs)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := old.CreateStaff(ctx, "a@nhs.net", "h", store.RoleAdmin, store.System); err != nil {
		t.Fatal(err)
	}
	if err := old.PutSecret(ctx, "oauth.refresh", []byte("tok")); err != nil {
		t.Fatal(err)
	}
	// Without the old key, values are unreadable with a clear error.
	if _, err := open(testDataKey2).FindPerson(ctx, "9434765919", store.System); !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("FindPerson with the wrong key = %v, want ErrWrongKey", err)
	}
	rotated := open(testDataKey2 + "," + testDataKey)
	n, err := rotated.Rekey(ctx, 2, nil)
	if err != nil || n == 0 {
		t.Fatalf("Rekey = %d, %v", n, err)
	}
	if again, err := rotated.Rekey(ctx, 2, nil); err != nil || again != 0 {
		t.Fatalf("Rekey again = %d, %v; want nothing left", again, err)
	}
	only := open(testDataKey2)
	if p, err := only.FindPerson(ctx, "9434765919", store.System); err != nil || p.NHSNumber != "9434765919" {
		t.Fatalf("FindPerson after rekey = %+v, %v", p, err)
	}
	if st, err := only.StaffByEmail(ctx, "A@nhs.net"); err != nil || st.Email != "a@nhs.net" {
		t.Fatalf("StaffByEmail after rekey = %+v, %v", st, err)
	}
	if v, err := only.Secret(ctx, "oauth.refresh"); err != nil || string(v) != "tok" {
		t.Fatalf("Secret after rekey = %q, %v", v, err)
	}
	if out, err := only.ListOutbox(ctx, store.OutboxFilter{}); err != nil || len(out) != 6 {
		t.Fatalf("ListOutbox after rekey = %d, %v", len(out), err)
	}
	if _, err := only.ExportChanges(ctx, &bytes.Buffer{}, time.Time{}, store.System); err != nil {
		t.Fatalf("ExportChanges after rekey = %v", err)
	}
	var left int
	if err := pool.QueryRow(ctx, `select count(*) from submissions where substring(fields from 2 for get_byte(fields, 0)) <> 'k2'`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("submissions not under k2 = %d, %v", left, err)
	}
}

func TestTriageAcceptReject(t *testing.T) {
	t.Parallel()
	s := newStore(t, 4)
	ctx := context.Background()
	st, _ := s.CreateStaff(ctx, "t@nhs.net", "h", store.RoleTriager, store.System)
	actor := store.Actor(st.ID)
	conv, _ := s.CreateConversation(ctx, "r@example.org")
	invalid := func() int64 {
		o := formOutcome(record(t, s), conv.ID, "94347")
		o.Submissions[0].Status, o.Submissions[0].Accepted, o.Submissions[0].Duplicate = vocab.StatusTriage, nil, nil
		o.Submissions[0].Form.Valid = false
		o.Submissions[0].Form.Problems = []form.Problem{{Field: "nhs_number", Severity: form.SeverityError, Code: "nhs_number_length", Message: "The NHS number does not have 10 digits."}}
		o.Triage = []*store.NewTriage{{Reason: vocab.ReasonInvalidForm, Submission: o.Submissions[0]}}
		o.ConversationState = vocab.StateFormReceived
		res, err := s.CompleteMessage(ctx, o)
		if err != nil || len(res.Triage) != 1 || res.Submissions[0].Status != vocab.StatusTriage {
			t.Fatalf("CompleteMessage(invalid) = %+v, %v", res, err)
		}
		return res.Triage[0]
	}
	first, second := invalid(), invalid()
	items, err := s.ListTriage(ctx, store.TriageFilter{Reason: vocab.ReasonInvalidForm})
	if err != nil || len(items) != 2 || items[0].ID != first {
		t.Fatalf("ListTriage = %+v, %v; want two, oldest first", items, err)
	}
	if d := items[0].DueBy.Sub(items[0].CreatedAt); d < 27*24*time.Hour || d > 32*24*time.Hour {
		t.Fatalf("due by %v after creation, want one month", d)
	}
	if err := s.AssignTriage(ctx, first, st.ID, actor); err != nil {
		t.Fatal(err)
	}
	d, err := s.TriageItemDetail(ctx, first, actor)
	if err != nil || d.Submission == nil || d.Submission.Fields.FirstName != "Ada" || len(d.Submission.Problems) != 1 || len(d.Attachments) != 1 || d.Item.AssignedTo != st.ID {
		t.Fatalf("TriageItemDetail = %+v, %v", d, err)
	}
	att, err := s.AttachmentByID(ctx, d.Attachments[0].ID, actor)
	if err != nil || att.Name != "form.pdf" || !bytes.HasPrefix(att.Data, []byte("%PDF")) {
		t.Fatalf("AttachmentByID = %+v, %v", att.AttachmentInfo, err)
	}
	fixed := d.Submission.Fields
	fixed.NHSNumber = "9434765919"
	status, err := s.AcceptTriage(ctx, store.Decision{TriageID: first, Actor: actor, Fields: &fixed, Accepted: email(""), Duplicate: email("")})
	if err != nil || status != vocab.StatusAccepted {
		t.Fatalf("AcceptTriage = %v, %v", status, err)
	}
	if _, err := s.AcceptTriage(ctx, store.Decision{TriageID: first, Actor: actor}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("AcceptTriage(closed) = %v, want ErrConflict", err)
	}
	if p, err := s.FindPerson(ctx, "9434765919", actor); err != nil || p.State != store.OptedOut || p.History[0].Actor != actor {
		t.Fatalf("FindPerson after accept = %+v, %v", p, err)
	}
	if err := s.RejectTriage(ctx, store.Decision{TriageID: second, Actor: actor, Reason: "nhs_number_unreadable", Email: email("")}); err != nil {
		t.Fatal(err)
	}
	_, subs, err := s.SubmissionsByReference(ctx, conv.Reference, actor)
	if err != nil || len(subs) != 2 || subs[0].Status != vocab.StatusAccepted || subs[0].Corrected == nil || subs[1].Status != vocab.StatusRejected {
		t.Fatalf("SubmissionsByReference = %+v, %v", subs, err)
	}
	for _, kind := range []vocab.Kind{vocab.KindAccepted, vocab.KindRejected} {
		if out, _ := s.ListOutbox(ctx, store.OutboxFilter{Kind: kind}); len(out) != 1 {
			t.Fatalf("%s emails = %d, want 1", kind, len(out))
		}
	}
	if open, _ := s.ListTriage(ctx, store.TriageFilter{}); len(open) != 0 {
		t.Fatalf("open triage = %d, want 0", len(open))
	}
}

// TestLastAdminKept: two administrators disabling or demoting each other
// at once leave one enabled; the store refuses the second change.
func TestLastAdminKept(t *testing.T) {
	t.Parallel()
	s := newStore(t, 4)
	ctx := context.Background()
	a, err := s.CreateStaff(ctx, "a@nhs.net", "x", store.RoleAdmin, store.System)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateStaff(ctx, "b@nhs.net", "x", store.RoleAdmin, store.System)
	if err != nil {
		t.Fatal(err)
	}
	viewer := store.RoleViewer
	disabled := true
	errs := make(chan error, 2)
	go func() { errs <- s.UpdateStaff(ctx, a.ID, store.StaffUpdate{Role: &viewer}, store.Actor(b.ID)) }()
	go func() { errs <- s.UpdateStaff(ctx, b.ID, store.StaffUpdate{Disabled: &disabled}, store.Actor(a.ID)) }()
	e1, e2 := <-errs, <-errs
	if (e1 == nil) == (e2 == nil) || !(errors.Is(e1, store.ErrLastAdmin) || errors.Is(e2, store.ErrLastAdmin)) {
		t.Fatalf("concurrent demote and disable = %v, %v; want exactly one ErrLastAdmin", e1, e2)
	}
	list, _ := s.ListStaff(ctx)
	admins := 0
	for _, st := range list {
		if st.Role == store.RoleAdmin && !st.Disabled {
			admins++
		}
	}
	if admins != 1 {
		t.Errorf("enabled admins = %d, want 1", admins)
	}
	// Changing a password or promoting is never blocked.
	hash := "y"
	if err := s.UpdateStaff(ctx, a.ID, store.StaffUpdate{PasswordHash: &hash}, store.System); err != nil {
		t.Errorf("password change = %v", err)
	}
}

func TestStaffSessions(t *testing.T) {
	t.Parallel()
	s := newStore(t, 4)
	ctx := context.Background()
	st, err := s.CreateStaff(ctx, "Admin@NHS.net", "$argon2id$v=19$...", store.RoleAdmin, store.System)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateStaff(ctx, "admin@nhs.net", "x", store.RoleViewer, store.System); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("CreateStaff(same email) = %v, want ErrDuplicate", err)
	}
	token, sess, err := s.CreateSession(ctx, st.ID, time.Hour, "")
	if err != nil || token == "" || sess.CSRFToken == "" {
		t.Fatalf("CreateSession = %q, %+v, %v", token, sess, err)
	}
	got, err := s.Session(ctx, token, time.Hour, 0)
	if err != nil || got.Staff.ID != st.ID || got.Staff.Role != store.RoleAdmin || got.CSRFToken != sess.CSRFToken {
		t.Fatalf("Session = %+v, %v", got, err)
	}
	if _, err := s.Session(ctx, token+"x", time.Hour, 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Session(wrong token) = %v", err)
	}
	disabled := true
	// The last administrator cannot be disabled (issue 9): add a second one first.
	if err := s.UpdateStaff(ctx, st.ID, store.StaffUpdate{Disabled: &disabled}, store.System); !errors.Is(err, store.ErrLastAdmin) {
		t.Fatalf("disable the last admin = %v, want ErrLastAdmin", err)
	}
	if _, err := s.CreateStaff(ctx, "second@nhs.net", "x", store.RoleAdmin, store.System); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateStaff(ctx, st.ID, store.StaffUpdate{Disabled: &disabled}, store.System); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, token, time.Hour, 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Session(disabled) = %v", err)
	}
	if _, _, err := s.CreateSession(ctx, st.ID, time.Hour, ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CreateSession(disabled) = %v", err)
	}
	enabled := false
	_ = s.UpdateStaff(ctx, st.ID, store.StaffUpdate{Disabled: &enabled}, store.System)
	short, _, _ := s.CreateSession(ctx, st.ID, time.Millisecond, "")
	time.Sleep(20 * time.Millisecond)
	if _, err := s.Session(ctx, short, 0, 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Session(expired) = %v", err)
	}
	if n, err := s.DeleteExpiredSessions(ctx); err != nil || n != 1 {
		t.Fatalf("DeleteExpiredSessions = %d, %v", n, err)
	}
}

func TestMailboxStateAndLock(t *testing.T) {
	t.Parallel()
	s := newStore(t, 4)
	ctx := context.Background()
	if _, err := s.MailboxState(ctx, "INBOX"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("MailboxState(before) = %v", err)
	}
	_ = s.SetMailboxState(ctx, "INBOX", 5, 100)
	_ = s.SetMailboxState(ctx, "INBOX", 5, 90) // never backwards
	if p, err := s.MailboxState(ctx, "INBOX"); err != nil || p.UIDValidity != 5 || p.LastUID != 100 || p.LastPollAt == nil {
		t.Fatalf("MailboxState = %+v, %v", p, err)
	}
	_ = s.SetMailboxState(ctx, "INBOX", 6, 3) // new UIDVALIDITY resets
	if p, _ := s.MailboxState(ctx, "INBOX"); p.UIDValidity != 6 || p.LastUID != 3 {
		t.Fatalf("MailboxState after UIDVALIDITY change = %+v", p)
	}
	unlock, ok, err := s.TryLockMailbox(ctx, "INBOX")
	if err != nil || !ok {
		t.Fatalf("TryLockMailbox = %v, %v", ok, err)
	}
	if _, ok2, err := s.TryLockMailbox(ctx, "INBOX"); err != nil || ok2 {
		t.Fatalf("TryLockMailbox(held) = %v, %v; want not ok", ok2, err)
	}
	unlock()
	unlock2, ok, err := s.TryLockMailbox(ctx, "INBOX")
	if err != nil || !ok {
		t.Fatalf("TryLockMailbox(after unlock) = %v, %v", ok, err)
	}
	unlock2()
}

func TestFailedMessages(t *testing.T) {
	t.Parallel()
	s := newStore(t, 4)
	ctx := context.Background()
	id := record(t, s)
	if err := s.StartMessage(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FailMessage(ctx, id, "extract: timeout"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ClaimFailedMessages(ctx, 10, false); len(got) != 0 {
		t.Fatalf("claimed a failed message before its backoff: %d", len(got))
	}
	got, err := s.ClaimFailedMessages(ctx, 10, true)
	if err != nil || len(got) != 1 || got[0].LastError != "extract: timeout" || got[0].Attempts != 2 {
		t.Fatalf("ClaimFailedMessages(force) = %+v, %v", got, err)
	}
	if _, err := s.CompleteMessage(ctx, &store.Plan{LedgerID: id, Action: "auto_ignored"}); err != nil {
		t.Fatal(err)
	}
	if err := s.StartMessage(ctx, id); !errors.Is(err, store.ErrAlreadyDone) {
		t.Fatalf("StartMessage(done) = %v", err)
	}
	if _, err := s.FailMessage(ctx, id, "x"); !errors.Is(err, store.ErrAlreadyDone) {
		t.Fatalf("FailMessage(done) = %v", err)
	}
}

// TestCloseBounceKeepsTheForm: an item about a bounced "recorded" email
// points at the form that email answered; closing it, even as "not an
// opt-out", leaves that accepted form as it was.
func TestCloseBounceKeepsTheForm(t *testing.T) {
	t.Parallel()
	s := newStore(t, 4)
	ctx := context.Background()
	staff, err := s.CreateStaff(ctx, "closer@nhs.net", "$argon2id$x", store.RoleTriager, store.System)
	if err != nil {
		t.Fatal(err)
	}
	conv, _ := s.CreateConversation(ctx, "r@example.org")
	if _, err := s.CompleteMessage(ctx, formOutcome(record(t, s), conv.ID, "9434765919")); err != nil {
		t.Fatal(err)
	}
	accepted, err := s.ListOutbox(ctx, store.OutboxFilter{ConversationID: conv.ID, Kind: vocab.KindAccepted})
	if err != nil || len(accepted) != 1 || accepted[0].SubmissionID == 0 {
		t.Fatalf("the recorded email = %+v, %v", accepted, err)
	}
	if err := s.MarkUndeliverable(ctx, accepted[0].MessageID, "bounced: 5.1.1"); err != nil {
		t.Fatal(err)
	}
	items, _ := s.ListTriage(ctx, store.TriageFilter{Reason: vocab.ReasonUndeliverable})
	if len(items) != 1 || items[0].SubmissionID != accepted[0].SubmissionID {
		t.Fatalf("the bounce item = %+v, want the recorded form's", items)
	}
	if err := s.CloseTriage(ctx, store.Decision{TriageID: items[0].ID, Actor: store.Actor(staff.ID), Reason: string(vocab.StatusNotOptOut)}); err != nil {
		t.Fatal(err)
	}
	var status string
	if err := s.Pool().QueryRow(ctx, `select status from submissions where id = $1`, items[0].SubmissionID).Scan(&status); err != nil || status != string(vocab.StatusAccepted) {
		t.Errorf("the recorded form is %q (%v) after the bounce item closed, want still accepted", status, err)
	}
}
