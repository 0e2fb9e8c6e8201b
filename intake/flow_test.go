package intake

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/ncl-icb/optout-intake/store"
)

// TestFourStepFlow walks the leaflet's process: first contact →
// instructions under the secure marker with a reference → a reply in that
// thread with the PDF form → receipt and acceptance, the register shows the
// opt-out, and the mail sits in Processed.
func TestFourStepFlow(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(nil)

	r.deliver(contact(residentAddr).bytes())
	res := once(t, svc)
	if res.Processed != 1 || res.Moved != 1 {
		t.Fatalf("first poll = %+v, want 1 processed and moved", res)
	}
	sent := r.sent()
	if len(sent) != 1 || sent[0].kind() != "instructions" {
		t.Fatalf("after first contact sent %v, want one instructions", kinds(sent))
	}
	ins := sent[0]
	subj := ins.header.Get("Subject")
	ref := ins.ref()
	if !strings.HasPrefix(subj, "[secure]") || ref == "" || !strings.Contains(subj, ref) {
		t.Errorf("instructions subject %q (ref %q): want the [secure] marker and the reference", subj, ref)
	}
	if !slices.Equal(sent[0].to, []string{residentAddr}) {
		t.Errorf("instructions went to %v, want the resident", sent[0].to)
	}
	for _, h := range []string{"Auto-Submitted", "X-Auto-Response-Suppress", "X-Optout-Intake", "In-Reply-To"} {
		if ins.header.Get(h) == "" {
			t.Errorf("instructions lack the %s header", h)
		}
	}
	if got := r.count("INBOX"); got != 0 {
		t.Errorf("inbox holds %d messages after the poll, want 0", got)
	}

	r.deliver(replyTo(ins, residentAddr, "fillable-filled.pdf").bytes())
	once(t, svc)
	sent = r.sent()
	// A form accepted in the pass that reads it gets one email, the
	// outcome, which confirms receipt too (issue 16 item 5): no receipt.
	if k := kinds(sent); k["receipt"] != 0 || k["accepted"] != 1 || len(sent) != 2 {
		t.Fatalf("after the form sent %v, want instructions and accepted", k)
	}
	for _, m := range sent[1:] {
		if m.ref() != ref {
			t.Errorf("%s reply carries ref %q, want %q", m.kind(), m.ref(), ref)
		}
		if strings.Contains(string(m.raw), filledNHS) || strings.Contains(string(m.raw), "1978") {
			t.Errorf("%s reply carries the NHS number or the date of birth", m.kind())
		}
	}
	p, err := r.st.FindPerson(context.Background(), filledNHS, store.System)
	if err != nil {
		t.Fatalf("FindPerson: %v", err)
	}
	if p.State != store.OptedOut || p.Reference != ref {
		t.Errorf("register: state %s ref %q, want opted_out under %q", p.State, p.Reference, ref)
	}
	if got := r.count("Processed"); got != 2 {
		t.Errorf("Processed holds %d messages, want 2", got)
	}
	if got := r.count("INBOX"); got != 0 {
		t.Errorf("inbox holds %d messages, want 0", got)
	}
	if tri := r.openTriage(); len(tri) != 0 {
		t.Errorf("open triage %v, want none", tri)
	}
}
