package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// TestItemWork: assign to another member of staff and unassign, internal
// notes (kept in order, sealed, never emailed, audited), bulk close as spam
// with a reason, and a closed item saying who closed it, when and why.
func TestItemWork(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	id, _ := e.seed(item{Fields: goodFields("1")})
	spam1, _ := e.seed(item{NoForm: true, Reason: vocab.ReasonOther})
	spam2, _ := e.seed(item{Fields: goodFields("2")})
	c := e.signIn(e.triager)
	path := fmt.Sprintf("/items/%d", id)

	resp, _ := c.post(path+"/assign", url.Values{"to": {fmt.Sprint(e.viewer.ID)}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("assign to the viewer = %d", resp.StatusCode)
	}
	if _, body := c.get(path); !strings.Contains(body, e.viewer.Email) {
		t.Errorf("item page does not show the viewer as assignee")
	}
	if resp, _ := c.post(path+"/assign", url.Values{"to": {"999999"}}); resp.StatusCode != 422 {
		t.Errorf("assign to an unknown account = %d, want 422", resp.StatusCode)
	}
	c.post(path+"/assign", url.Values{"unassign": {"yes"}})
	if res, _ := e.st.QueueTriage(ctx, store.QueueQuery{Unassigned: true}); len(res.Items) != 3 {
		t.Errorf("unassigned items after unassign = %d, want 3", len(res.Items))
	}

	for _, n := range []string{"Called the resident: new form on its way.", "Second note <b>kept as text</b>"} {
		if resp, _ := c.post(path+"/note", url.Values{"note": {n}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("add note = %d", resp.StatusCode)
		}
	}
	if resp, _ := c.post(path+"/note", url.Values{"note": {"  "}}); resp.StatusCode != 422 {
		t.Errorf("empty note = %d, want 422", resp.StatusCode)
	}
	if resp, _ := e.signIn(e.viewer).post(path+"/note", url.Values{"note": {"x"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer note = %d, want 403", resp.StatusCode)
	}
	_, body := c.get(path)
	i1, i2 := strings.Index(body, "Called the resident"), strings.Index(body, "Second note &lt;b&gt;kept as text&lt;/b&gt;")
	if i1 < 0 || i2 < 0 || i1 > i2 {
		t.Errorf("notes shown at %d and %d, want both in order, escaped", i1, i2)
	}
	var clear int
	if err := e.st.Pool().QueryRow(ctx, `select count(*) from triage_notes where position('Called'::bytea in body) > 0`).Scan(&clear); err != nil || clear != 0 {
		t.Errorf("notes in clear: %d, %v", clear, err)
	}
	if a, _ := e.st.ListAudit(ctx, store.AuditFilter{Action: "triage.note"}); len(a) != 2 || strings.Contains(a[0].Detail, "resident") {
		t.Errorf("note audit = %+v, want 2 entries without the text", a)
	}
	if o, _ := e.st.ListOutbox(ctx, store.OutboxFilter{}); len(o) != 0 {
		t.Errorf("notes queued %d emails", len(o))
	}

	resp, _ = c.post("/queue/close", url.Values{"item": {fmt.Sprint(spam1), fmt.Sprint(spam2)}, "decision": {"spam"},
		"bulk-reason": {"Advertising from a mailing list"}, "back": {"/queue?reason=other"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/queue?reason=other&done=bulk2" {
		t.Fatalf("bulk close = %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, body := c.get("/queue?done=bulk2"); !strings.Contains(body, "2 items closed") {
		t.Errorf("bulk close notice missing")
	}
	if resp, _ := c.post("/queue/close", url.Values{"item": {fmt.Sprint(id)}, "decision": {"spam"}}); resp.StatusCode != 422 {
		t.Errorf("bulk close without a reason = %d, want 422", resp.StatusCode)
	}
	if o, _ := e.st.ListOutbox(ctx, store.OutboxFilter{}); len(o) != 0 {
		t.Errorf("bulk close queued %d emails", len(o))
	}
	if a, _ := e.st.ListAudit(ctx, store.AuditFilter{Action: "triage.closed.spam"}); len(a) != 2 {
		t.Errorf("bulk close audit entries = %d, want 2", len(a))
	}
	_, body = c.get(fmt.Sprintf("/items/%d", spam2))
	for _, want := range []string{"Closed as spam, by You on ", "Reason given: Advertising from a mailing list"} {
		if !strings.Contains(body, want) {
			t.Errorf("closed item page lacks %q", want)
		}
	}
	// A rejected item shows its reasons.
	rej, _ := e.seed(item{Fields: goodFields("3")})
	c.post(fmt.Sprintf("/items/%d/reject", rej), url.Values{"reason": {"nhs_number"}})
	_, body = e.signIn(e.viewer).get(fmt.Sprintf("/items/%d", rej))
	if !strings.Contains(body, "Rejected: the resident was asked for a corrected form, by "+e.triager.Email) || !strings.Contains(body, "The NHS number is missing") {
		t.Errorf("rejected item page does not say who rejected it and why")
	}
}
