package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
	"github.com/ncl-icb/optout-intake/web"
)

// TestStaffActionWakesOutbox: a staff action that queues an email (a
// rejection) calls Deps.Queued, so the outbox sends it at once; reading a
// page does not.
func TestStaffActionWakesOutbox(t *testing.T) {
	t.Parallel()
	var woken atomic.Int32
	e := newEnv(t, func(d *web.Deps) { d.Queued = func() { woken.Add(1) } })
	id, _ := e.seed(item{Fields: goodFields("123")})
	c := e.signIn(e.triager)
	if resp, _ := c.get(fmt.Sprintf("/items/%d", id)); resp.StatusCode != http.StatusOK || woken.Load() != 0 {
		t.Fatalf("item page = %d, outbox woken %d times, want 200 and none", resp.StatusCode, woken.Load())
	}
	resp, _ := c.post(fmt.Sprintf("/items/%d/reject", id), url.Values{"reason": {"nhs_number"}})
	if resp.StatusCode != http.StatusSeeOther || woken.Load() != 1 {
		t.Errorf("reject = %d, outbox woken %d times, want 303 and once", resp.StatusCode, woken.Load())
	}
}

// TestNoFormAgainOffersNoReject: a second reply without a form has no form
// to reject; its page offers writing back instead, and a posted rejection
// is refused without queueing anything.
func TestNoFormAgainOffersNoReject(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, ref := e.seed(item{NoForm: true, Reason: vocab.ReasonNoFormAgain, Body: "Please opt me out."})
	c := e.signIn(e.triager)
	path := fmt.Sprintf("/items/%d", id)
	_, body := c.get(path)
	if strings.Contains(body, `id="reject"`) || !strings.Contains(body, `id="send-reply"`) {
		t.Error("the no_form_again page offers Reject, or no reply")
	}
	if resp, _ := c.post(path+"/reject", url.Values{"reason": {"missing"}}); resp.StatusCode != http.StatusConflict {
		t.Errorf("reject a no_form_again item = %d, want 409", resp.StatusCode)
	}
	conv, _ := e.st.ConversationByReference(context.Background(), ref)
	if out, err := e.st.ListOutbox(context.Background(), store.OutboxFilter{ConversationID: conv.ID}); err != nil || len(out) != 0 {
		t.Errorf("emails queued = %d (%v), want none", len(out), err)
	}
}
