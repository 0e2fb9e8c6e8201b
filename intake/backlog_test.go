package intake

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/ncl-icb/optout-intake/mailbox"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// TestHoldRule is the held-back rule's table: age (with its boundary),
// the start moment (with its boundary), \Answered, and their order.
func TestHoldRule(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	start := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	week := 7 * 24 * time.Hour
	tests := []struct {
		name     string
		rule     HoldRule
		arrived  time.Time
		answered bool
		want     vocab.Action
	}{
		{"fresh", HoldRule{}, now.Add(-time.Minute), false, ""},
		{"exactly the default age", HoldRule{}, now.Add(-week), false, ""},
		{"a second past the default age", HoldRule{}, now.Add(-week - time.Second), false, vocab.ActionHeldOld},
		{"two years old", HoldRule{}, now.AddDate(-2, 0, 0), false, vocab.ActionHeldOld},
		{"a longer max age keeps it", HoldRule{MaxAge: 30 * 24 * time.Hour}, now.Add(-10 * 24 * time.Hour), false, ""},
		{"a shorter max age holds it", HoldRule{MaxAge: 24 * time.Hour}, now.Add(-25 * time.Hour), false, vocab.ActionHeldOld},
		{"negative max age means the default", HoldRule{MaxAge: -1}, now.Add(-6 * 24 * time.Hour), false, ""},
		{"arrived in the future (clock skew)", HoldRule{}, now.Add(time.Hour), false, ""},
		{"no arrival time", HoldRule{}, time.Time{}, false, vocab.ActionHeldOld},
		{"before the start", HoldRule{StartAfter: start}, start.Add(-time.Second), false, vocab.ActionHeldBeforeStart},
		{"exactly at the start", HoldRule{StartAfter: start}, start, false, ""},
		{"after the start", HoldRule{StartAfter: start}, start.Add(time.Second), false, ""},
		{"before the start and old: the start names it", HoldRule{StartAfter: start}, now.AddDate(-1, 0, 0), false, vocab.ActionHeldBeforeStart},
		{"start in the future holds today's mail", HoldRule{StartAfter: now.Add(time.Hour)}, now.Add(-time.Minute), false, vocab.ActionHeldBeforeStart},
		{"answered by hand, fresh", HoldRule{}, now.Add(-time.Minute), true, vocab.ActionHeldAnswered},
		{"answered and old: answered names it", HoldRule{StartAfter: start}, now.AddDate(-2, 0, 0), true, vocab.ActionHeldAnswered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mailbox.Msg{InternalDate: tt.arrived, Answered: tt.answered, Seen: true}
			if got := tt.rule.Reason(m, now); got != tt.want {
				t.Errorf("HoldRule%+v.Reason(arrived %v, answered %v) = %q, want %q", tt.rule, tt.arrived, tt.answered, got, tt.want)
			}
		})
	}
}

// TestHeldActions: the ledger actions of held mail are what the store
// lists and keeps in the inbox.
func TestHeldActions(t *testing.T) {
	for _, a := range vocab.HeldActions() {
		la := store.LedgerAction(vocab.FolderInbox, a)
		if got, ok := store.HeldAction(la); !ok || got != a || !store.IsHeld(la) {
			t.Errorf("store.HeldAction(%q) = %q, %v", la, got, ok)
		}
		if f := store.FolderOf(la); f != "" {
			t.Errorf("FolderOf(%q) = %q: held mail must not be moved", la, f)
		}
	}
	for _, a := range []string{"processed:instructions", "auto:auto", "inbox:held_", "inbox:instructions", "", "held_old", "processed:held_old"} {
		if store.IsHeld(a) {
			t.Errorf("store.IsHeld(%q) = true", a)
		}
	}
}

// TestHoldOnDovecot runs the rule in the poller: mail held back stays in
// the inbox unanswered through later polls and scans; a message already
// in the pipeline (it failed and waits for its retry) is finished, not
// held, when the rule would now hold it.
func TestHoldOnDovecot(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.deliver(contact("failing@example.org").bytes())
	svc := r.service(nil)
	hook, _ := crashOnce(stepAfterExtract, errors.New("injected"))
	svc.setFailAt(hook)
	if res := once(t, svc); res.Failed == 0 {
		t.Fatalf("first poll: %+v, want the message failed", res)
	}

	// From now on every message arrived before the start: held.
	start := func(c *Config) { c.Poller.Hold = HoldRule{StartAfter: time.Now().Add(time.Hour)} }
	hm := &heldMetrics{}
	r.metrics = hm
	r.deliver(contact(residentAddr).bytes())
	held := r.service(start)
	for i := range 3 { // the first poll of a service always scans the inbox too
		res := once(t, held)
		if i == 0 && res.Held != 1 {
			t.Errorf("poll %d: %+v, want one held", i, res)
		}
		if i > 0 && res.Held != 0 {
			t.Errorf("poll %d: %+v, want nothing held again", i, res)
		}
		held = r.service(start)
	}
	// The failed message is retried (by those polls, or here), not held.
	if _, err := held.Poller().Reprocess(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	once(t, held) // moves the finished message
	if got := r.sent(); len(got) != 1 || !slices.Equal(got[0].to, []string{"failing@example.org"}) {
		t.Errorf("sent %+v, want the failed message answered once", got)
	}
	if n := r.count("INBOX"); n != 1 {
		t.Errorf("INBOX holds %d, want the held message only", n)
	}
	if held, err := r.st.HeldMessages(context.Background(), time.Time{}); err != nil || len(held) != 1 || held[0].Action != "inbox:held_before_start" {
		t.Errorf("held rows %+v, %v; want one held_before_start", held, err)
	}
	// The metric counts the held message once, however often it is seen.
	if got := hm.counts(); len(got) != 1 || got[vocab.ActionHeldBeforeStart] != 1 {
		t.Errorf("Metrics.Held calls = %v, want held_before_start once", got)
	}
}

// TestHeldKinds: the backlog tells held first contacts from questions (a
// person must answer those) and forms, as the pipeline would read them.
func TestHeldKinds(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	question := contact("asking@example.org")
	question.body = "Hello,\nWho at the hospital can see my record, and can my GP see it?\nThanks"
	withForm := contact("form@example.org")
	withForm.body = "Please find my form attached."
	withForm.attName, withForm.att = "optout.pdf", fixture("fillable-filled.pdf")
	r.deliver(contact(residentAddr).bytes(), question.bytes(), withForm.bytes())
	svc := r.service(func(c *Config) { c.Poller.Hold = HoldRule{StartAfter: time.Now().Add(time.Hour)} })
	if res := once(t, svc); res.Held != 3 {
		t.Fatalf("poll: %+v, want three held", res)
	}
	held, err := r.st.HeldMessages(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range held {
		kinds = append(kinds, e.Kind)
	}
	slices.Sort(kinds) // the poll holds messages concurrently: ids come in any order
	if want := []string{"contact", HeldKindQuestion, "submission"}; !slices.Equal(kinds, want) {
		t.Errorf("held kinds = %v, want %v", kinds, want)
	}
	if len(r.sent()) != 0 {
		t.Errorf("held mail was answered: %d sent", len(r.sent()))
	}
}

// heldMetrics counts Metrics.Held calls by action.
type heldMetrics struct {
	NopMetrics
	mu   sync.Mutex
	held map[vocab.Action]int
}

func (h *heldMetrics) Held(a vocab.Action) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held == nil {
		h.held = map[vocab.Action]int{}
	}
	h.held[a]++
}

func (h *heldMetrics) counts() map[vocab.Action]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.held)
}

// TestHoldAfterUIDValidityChange: the stored position belongs to another
// UIDVALIDITY (the mailbox was recreated or migrated), so the poll reads
// the inbox again from the start and every message looks new: old mail is
// held all the same, on its INTERNALDATE, and only today's is answered.
func TestHoldAfterUIDValidityChange(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	c, err := r.dv.Login(imapUser)
	if err != nil {
		t.Fatal(err)
	}
	old := contact("old@example.org").bytes()
	app := c.Append("INBOX", int64(len(old)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}, Time: time.Now().AddDate(-2, 0, 0)})
	if _, err := app.Write(old); err != nil {
		t.Fatal(err)
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	r.deliver(contact(residentAddr).bytes())
	// The former mailbox was read up to UID 100 under another UIDVALIDITY.
	if err := r.st.SetMailboxState(ctx, "INBOX", sel.UIDValidity+1, 100); err != nil {
		t.Fatal(err)
	}
	res := once(t, r.service(nil))
	if !res.ValidityChanged || res.Held != 1 {
		t.Errorf("poll after a UIDVALIDITY change: %+v, want the change seen and one message held", res)
	}
	var to [][]string
	for _, m := range r.sent() {
		to = append(to, m.to)
	}
	if len(to) != 1 || !slices.Equal(to[0], []string{residentAddr}) {
		t.Errorf("replies went to %v, want only today's message answered", to)
	}
	if n := r.count("INBOX"); n != 1 {
		t.Errorf("INBOX holds %d, want the old message left there", n)
	}
}
