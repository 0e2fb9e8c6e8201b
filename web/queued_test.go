package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"

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
