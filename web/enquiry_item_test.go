package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ncl-icb/optout-intake/vocab"
	"github.com/ncl-icb/optout-intake/web"
)

// TestEnquiryItemDecisions: an enquiry without a form offers no "Reject
// the form" and tucks the form to key in away; an opt back in without a
// form offers no opt-out to accept; the handlers refuse both; and every
// staff POST wakes the outbox (Deps.Queued), so its email goes at once.
func TestEnquiryItemDecisions(t *testing.T) {
	t.Parallel()
	var woken atomic.Int32
	e := newEnv(t, func(d *web.Deps) { d.Queued = func() { woken.Add(1) } })
	complaint, _ := e.seed(item{NoForm: true, Reason: vocab.ReasonComplaint, Body: "I am not happy: my records were still shared."})
	optBack, _ := e.seed(item{NoForm: true, Reason: vocab.ReasonOptBackIn, Body: "I would like to opt back in."})
	withForm, _ := e.seed(item{Fields: goodFields("9434765919"), Reason: vocab.ReasonStatusChase})
	c := e.signIn(e.triager)

	_, body := c.get(fmt.Sprintf("/items/%d", complaint))
	if strings.Contains(body, `id="reject"`) || !strings.Contains(body, `<details class="details" id="keyin">`) {
		t.Errorf("complaint without a form: want no reject and the key-in form tucked away")
	}
	_, body = c.get(fmt.Sprintf("/items/%d", optBack))
	if strings.Contains(body, `id="accept"`) || strings.Contains(body, `id="reject"`) || !strings.Contains(body, `id="no-keyin"`) {
		t.Errorf("opt back in without a form: want neither accept nor reject")
	}
	_, body = c.get(fmt.Sprintf("/items/%d", withForm))
	if !strings.Contains(body, `id="reject"`) || strings.Contains(body, `id="keyin"`) {
		t.Errorf("an enquiry that came with a form: want the form and its reject as for any form")
	}

	before := woken.Load()
	if resp, _ := c.post(fmt.Sprintf("/items/%d/reject", complaint), url.Values{"reason": {"nhs_number"}}); resp.StatusCode != http.StatusConflict {
		t.Errorf("reject on a complaint without a form = %d, want 409", resp.StatusCode)
	}
	if resp, _ := c.post(fmt.Sprintf("/items/%d/accept", optBack), formValues(goodFields("9434765919"))); resp.StatusCode != http.StatusConflict {
		t.Errorf("accept an opt-out on an opt back in without a form = %d, want 409", resp.StatusCode)
	}
	if n := woken.Load() - before; n != 2 {
		t.Errorf("two staff POSTs woke the outbox %d times, want 2", n)
	}
}

// TestNoFormDecisionOnBounceOrHeldReplies: an item about an email that
// bounced or was refused, or about replies held by the reply limit, is not
// about a form: accepting or rejecting one is refused with words that say
// what to do instead, and nothing is decided.
func TestNoFormDecisionOnBounceOrHeldReplies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signIn(e.triager)
	for _, tc := range []struct {
		reason vocab.Reason
		words  string
	}{
		{vocab.ReasonUndeliverable, "This item is about an email that bounced"},
		{vocab.ReasonSendFailed, "This item is about an email that bounced"},
		{vocab.ReasonRateLimited, "This item is about replies held by the reply limit, not a form"},
	} {
		id, _ := e.seed(item{Fields: goodFields("9434765919"), Reason: tc.reason})
		for _, action := range []string{"accept", "reject"} {
			values := formValues(goodFields("9434765919"))
			if action == "reject" {
				values = url.Values{"reason": {"nhs_number"}}
			}
			resp, body := c.post(fmt.Sprintf("/items/%d/%s", id, action), values)
			if resp.StatusCode != http.StatusConflict || !strings.Contains(body, tc.words) {
				t.Errorf("%s on a %s item = %d; want 409 saying %q", action, tc.reason, resp.StatusCode, tc.words)
			}
		}
		if _, body := c.get(fmt.Sprintf("/items/%d", id)); strings.Contains(body, "The item is closed") {
			t.Errorf("a %s item was decided", tc.reason)
		}
	}
}
