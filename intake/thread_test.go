package intake

import (
	"context"
	"slices"
	"testing"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// TestThreadHoldsEveryMessage: every message the pipeline ties to a
// conversation is in its thread, whatever was done with it: the first
// contact, a reply without a form asked again automatically, an automatic
// reply in the thread, and a reply quoting the reference that goes to
// staff (no_form_again). A stranger quoting the reference is not tied to it.
func TestThreadHoldsEveryMessage(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(nil)
	ctx := context.Background()
	ins := firstContact(t, r, svc, residentAddr)
	r.deliver(replyTo(ins, residentAddr, "").bytes())
	once(t, svc)
	oof := replyTo(ins, residentAddr, "")
	oof.subject, oof.body = "Automatic reply: "+oof.subject, "I am away until Monday."
	oof.extra = []string{"Auto-Submitted: auto-replied"}
	r.deliver(oof.bytes())
	once(t, svc)
	byRef := email{from: residentAddr, subject: "About " + ins.ref(), body: "Please find my form attached."}
	stranger := email{from: otherAddr, subject: "About " + ins.ref(), body: "Is this mine?"}
	r.deliver(byRef.bytes(), stranger.bytes())
	once(t, svc)

	tri := r.openTriage()
	slices.Sort(tri)
	if !slices.Equal(tri, []vocab.Reason{vocab.ReasonNoFormAgain, vocab.ReasonUnverifiedSender}) {
		t.Errorf("open triage %v, want no_form_again and unverified_sender", tri)
	}
	items, err := r.st.ListTriage(ctx, store.TriageFilter{Reason: vocab.ReasonNoFormAgain, Limit: 10})
	if err != nil || len(items) != 1 {
		t.Fatalf("no_form_again items = %d, %v; want 1", len(items), err)
	}
	it := items[0]
	th, err := r.st.ConversationThread(ctx, it.ConversationID, it.LedgerID, store.System)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range th.Incoming {
		got = append(got, m.Entry.Action)
		if m.Header.From != residentAddr {
			t.Errorf("ledger row %d in the thread is from %q, want the resident", m.Entry.ID, m.Header.From)
		}
	}
	want := []string{store.LedgerAction(vocab.FolderProcessed, vocab.ActionInstructions), store.LedgerAction(vocab.FolderProcessed, vocab.ActionNoForm),
		store.LedgerAction(vocab.FolderAuto, vocab.ActionAuto), store.LedgerAction(vocab.FolderTriage, vocab.ActionNoFormAgain)}
	if !slices.Equal(got, want) {
		t.Errorf("thread in = %v, want %v", got, want)
	}
	var out []vocab.Kind
	for _, o := range th.Outgoing {
		out = append(out, o.Kind)
	}
	if !slices.Equal(out, []vocab.Kind{vocab.KindInstructions, vocab.KindNoForm}) {
		t.Errorf("thread out = %v, want instructions then no_form", out)
	}
}
