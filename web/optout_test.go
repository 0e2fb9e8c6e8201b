package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// A form keyed in by staff: an error is shown in the summary and nothing is
// recorded; corrected, it is confirmed, then recorded, and the register
// shows the opt-out.
func TestPersonKeyedInOptOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.signIn(e.triager)
	nhs := validNHS[2]

	// A mistyped number (wrong check digit) is named as such, not "not found".
	if resp, body := c.post("/people", url.Values{"q": {"401 023 2138"}}); resp.StatusCode != 422 || !strings.Contains(body, "fails its check digit") {
		t.Errorf("find a person by a number failing Modulus 11 = %d; want 422 naming the check digit", resp.StatusCode)
	}
	resp, body := c.post("/people", url.Values{"q": {nhs}})
	if resp.StatusCode != 200 || !strings.Contains(body, "Key in a form") {
		t.Fatalf("find a person not in the register = %d; want the button to key in a form", resp.StatusCode)
	}
	resp, body = c.post("/people/optout", url.Values{"start": {"yes"}, "nhs": {nhs}})
	if resp.StatusCode != 200 || !strings.Contains(body, `value="401 023 2137"`) || !strings.Contains(body, `id="f-declaration"`) {
		t.Fatalf("start = %d; want the empty form with the NHS number filled in", resp.StatusCode)
	}
	f := goodFields(nhs)
	f.DateOfBirth = "31/02/1980"
	resp, body = c.post("/people/optout", formValues(f))
	if resp.StatusCode != 422 || !strings.Contains(body, "There is a problem") || !strings.Contains(body, `href="#f-date_of_birth"`) ||
		!strings.Contains(body, "<title>Error:") {
		t.Fatalf("form with an impossible date = %d; want 422 with the error summary linking the field", resp.StatusCode)
	}
	// Even a forged confirmation of a failing form records nothing.
	v := formValues(f)
	v.Set("confirmed", "yes")
	if resp, _ := c.post("/people/optout", v); resp.StatusCode != 422 {
		t.Fatalf("confirmed failing form = %d, want 422", resp.StatusCode)
	}
	if _, err := e.st.FindPerson(ctx, nhs, store.System); err == nil {
		t.Fatal("a failing form changed the register")
	}
	f.DateOfBirth = "1980-02-28"
	resp, body = c.post("/people/optout", formValues(f))
	if resp.StatusCode != 200 || !strings.Contains(body, "Check the opt-out") || !strings.Contains(body, "No email will be sent") ||
		!strings.Contains(body, "record an opt back in") {
		t.Fatalf("corrected form = %d; want the confirmation saying no email goes and how to undo", resp.StatusCode)
	}
	if _, err := e.st.FindPerson(ctx, nhs, store.System); err == nil {
		t.Fatal("the confirmation step changed the register")
	}
	v = formValues(f)
	v.Set("confirmed", "yes")
	resp, body = c.post("/people/optout", v)
	if resp.StatusCode != 200 || !strings.Contains(body, "The opt-out is recorded") || !strings.Contains(body, "Keyed in by staff from the resident") {
		t.Fatalf("confirmed = %d; want the person page with the opt-out and its history", resp.StatusCode)
	}
	p, err := e.st.FindPerson(ctx, nhs, store.System)
	if err != nil || p.State != store.OptedOut || len(p.History) != 1 || p.History[0].Reason != "staff" {
		t.Fatalf("register = %+v, %v; want opted out by staff", p, err)
	}
	if a, _ := e.st.ListAudit(ctx, store.AuditFilter{Action: "register.opt_out"}); len(a) != 1 {
		t.Errorf("register.opt_out audit = %d, want 1", len(a))
	}
	// Undo: the opt back in form says so.
	if !strings.Contains(body, "To undo an opt-out recorded by mistake, record an opt back in") {
		t.Errorf("the person page does not say how to undo an opt-out")
	}
}

// With a conversation the confirmation names the address and the
// "opt-out recorded" email is queued; after an opt back in the page says
// that keying in again undoes it.
func TestPersonKeyedInOptOutEmails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.signIn(e.triager)
	nhs := validNHS[3]
	_, ref := e.seed(item{NoForm: true, Reason: vocab.ReasonNoFormAgain})
	resp, body := c.post("/people", url.Values{"q": {ref}})
	if resp.StatusCode != 200 || !strings.Contains(body, `name="ref" value="`+ref+`"`) {
		t.Fatalf("find by reference = %d; want the button carrying the reference", resp.StatusCode)
	}
	v := formValues(goodFields(nhs))
	v.Set("ref", ref)
	resp, body = c.post("/people/optout", v)
	if resp.StatusCode != 200 || !strings.Contains(body, residentAddr) || !strings.Contains(body, ref) {
		t.Fatalf("confirmation = %d; want the address and reference the email goes to", resp.StatusCode)
	}
	v.Set("confirmed", "yes")
	if resp, body = c.post("/people/optout", v); resp.StatusCode != 200 || !strings.Contains(body, "email is queued") {
		t.Fatalf("confirmed = %d; want the email queued", resp.StatusCode)
	}
	conv, _ := e.st.ConversationByReference(ctx, ref)
	if out, _ := e.st.ListOutbox(ctx, store.OutboxFilter{ConversationID: conv.ID, Kind: vocab.KindAccepted}); len(out) != 1 {
		t.Errorf("accepted emails = %d, want 1", len(out))
	}
	if resp, body = c.post("/people/optin", url.Values{"nhs": {nhs}, "reason": {"recorded by mistake"}, "confirmed": {"yes"}}); resp.StatusCode != http.StatusOK ||
		!strings.Contains(body, "To undo an opt back in recorded by mistake") {
		t.Errorf("after opt in = %d; want the key-in button saying it undoes the opt back in", resp.StatusCode)
	}
}
