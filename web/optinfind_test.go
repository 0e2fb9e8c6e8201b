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

// TestFindPersonOnOptBackInItem: an "asks to opt back in" item whose
// conversation recorded no one (a first email asking to opt back in) lets
// staff find the person by NHS number on the item, shows the register entry
// found and the confirmation step, then records the opt back in, queues the
// opted_in email in the item's conversation and closes the item, audited.
// A number that fails the Modulus 11 check, one not in the register and a
// person already opted back in are refused with a message and no change.
func TestFindPersonOnOptBackInItem(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.signIn(e.triager)

	// Two people opted out through their own conversations; the second
	// has opted back in since.
	out, in := validNHS[2], validNHS[1]
	for _, nhs := range []string{out, in} {
		id, _ := e.seed(item{Fields: goodFields(nhs)})
		if resp, _ := c.post(fmt.Sprintf("/items/%d/accept", id), formValues(goodFields(nhs))); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("accept = %d, want 303", resp.StatusCode)
		}
	}
	if _, err := e.st.RecordOptIn(ctx, store.OptIn{NHSNumber: in, Actor: store.Actor(e.triager.ID), Reason: "asked by phone"}); err != nil {
		t.Fatal(err)
	}
	before, err := e.st.FindPerson(ctx, out, store.System)
	if err != nil || before.State != store.OptedOut {
		t.Fatalf("seeded person = %+v (%v), want opted out", before, err)
	}

	// The resident writes from a new thread: no form in this conversation.
	id, ref := e.seed(item{NoForm: true, Reason: vocab.ReasonOptBackIn, Body: "Please opt me back in."})
	if ref == before.Reference {
		t.Fatal("the item shares the opt-out's conversation: the test would not test a new thread")
	}
	path := fmt.Sprintf("/items/%d/optin", id)
	_, body := c.get(fmt.Sprintf("/items/%d", id))
	if !strings.Contains(body, `id="register-state">Not known`) || !strings.Contains(body, `id="optin-nhs"`) {
		t.Fatalf("the item page does not offer to find the person:\n%.3000s", body)
	}
	if _, vbody := e.signIn(e.viewer).get(fmt.Sprintf("/items/%d", id)); strings.Contains(vbody, `id="optin-nhs"`) {
		t.Error("a viewer is offered the find-the-person form")
	}

	// Refusals: each shows the item again with the reason, and changes nothing.
	searches := func() int { return auditCount(t, e, "people.search", "kind=nhs_number") }
	for _, tc := range []struct {
		name, nhs, want string
		searched        int // people.search rows it adds
	}{
		{"empty", "", "10 digits with a valid check digit", 0},
		{"bad check digit", "943 476 5918", "10 digits with a valid check digit", 0},
		{"not digits", "943476591X", "10 digits with a valid check digit", 0},
		{"not in the register", validNHS[3], "No one with this NHS number is in the register", 1},
		{"already opted back in", in, "already opted back in", 1},
	} {
		n := searches()
		resp, body := c.post(path, url.Values{"nhs": {tc.nhs}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, tc.want) || !strings.Contains(body, `href="#optin-nhs"`) {
			t.Errorf("%s: POST = %d, want 422 with %q linked to the field:\n%.2000s", tc.name, resp.StatusCode, tc.want, body)
		}
		if strings.Contains(body, `id="optback-confirm"`) {
			t.Errorf("%s: the confirmation step is offered", tc.name)
		}
		if got := searches() - n; got != tc.searched {
			t.Errorf("%s: %d people.search audit rows, want %d", tc.name, got, tc.searched)
		}
		// Confirming anyway is refused the same way.
		if resp, _ := c.post(path, url.Values{"nhs": {tc.nhs}, "confirmed": {"yes"}}); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%s: confirmed POST = %d, want 422", tc.name, resp.StatusCode)
		}
	}
	if p, _ := e.st.FindPerson(ctx, in, store.System); p.State != store.OptedIn || len(p.History) != 2 {
		t.Errorf("the person already opted back in now has %+v, want unchanged", p)
	}
	// Roles and CSRF as every item action.
	if resp, _ := e.signIn(e.viewer).post(path, url.Values{"nhs": {out}, "confirmed": {"yes"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer POST = %d, want 403", resp.StatusCode)
	}
	if resp, _ := c.post(path, url.Values{"nhs": {out}, "confirmed": {"yes"}, "csrf": {"wrong"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST with a wrong CSRF token = %d, want 403", resp.StatusCode)
	}
	if det, err := e.st.TriageItemDetail(ctx, id, store.System); err != nil || det.Item.State != vocab.ItemOpen {
		t.Fatalf("after the refusals the item is %+v (%v), want open", det.Item, err)
	}
	if p, _ := e.st.FindPerson(ctx, out, store.System); p.State != store.OptedOut {
		t.Fatal("a refused POST recorded the opt back in")
	}

	// Found: the register entry, masked, then what will happen.
	n, views := searches(), auditCount(t, e, "register.view", "")
	resp, body := c.post(path, url.Values{"nhs": {"401 023 2137"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("find = %d, want 200:\n%.2000s", resp.StatusCode, body)
	}
	for _, want := range []string{`id="found-nhs">*** *** *137<`, `id="found-state">Opted out<`, `id="found-since">`,
		`id="optback-to">` + residentAddr + `<`, ref, `You have opted back in`, `id="optback-confirm"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the confirmation page lacks %q:\n%.3000s", want, body)
		}
	}
	if strings.Contains(strings.ReplaceAll(body, `value="`+out+`"`, ""), out) {
		t.Error("the confirmation page shows the NHS number in clear")
	}
	if searches()-n != 1 || auditCount(t, e, "register.view", "")-views != 1 {
		t.Error("the search on the item is not audited as people.search and register.view")
	}
	if p, _ := e.st.FindPerson(ctx, out, store.System); p.State != store.OptedOut {
		t.Fatal("the opt back in was recorded before it was confirmed")
	}

	// Confirmed: recorded, the email in this conversation, the item closed.
	if resp, _ := c.post(path, url.Values{"nhs": {out}, "confirmed": {"yes"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirmed POST = %d, want 303", resp.StatusCode)
	}
	p, err := e.st.FindPerson(ctx, out, store.System)
	if err != nil || p.State != store.OptedIn {
		t.Fatalf("the register has %+v (%v), want opted back in", p, err)
	}
	det, err := e.st.TriageItemDetail(ctx, id, store.System)
	if err != nil || det.Item.State == vocab.ItemOpen || det.Item.Outcome != vocab.OutcomeOptedIn || det.Item.ClosedBy != e.triager.ID {
		t.Errorf("the item is %+v (%v), want closed opted_in by the triager", det.Item, err)
	}
	mail, err := e.st.ListOutbox(ctx, store.OutboxFilter{Kind: vocab.KindOptedIn})
	if err != nil || len(mail) != 1 {
		t.Fatalf("opted_in emails: %d (%v), want 1", len(mail), err)
	}
	if mail[0].Reference != ref || mail[0].ConversationID != det.Item.ConversationID || mail[0].To != residentAddr {
		t.Errorf("the opted_in email is in conversation %s to %s, want the item's %s", mail[0].Reference, mail[0].To, ref)
	}
	if !e.audited("register.opt_in", p.RegisterID) || !e.audited("triage.opted_in", id) {
		t.Error("the opt back in or the close is not audited")
	}
	if resp, _ := c.post(path, url.Values{"nhs": {out}, "confirmed": {"yes"}}); resp.StatusCode == http.StatusSeeOther {
		t.Error("a second confirm on the closed item was accepted")
	}
}
