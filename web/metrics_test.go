package web_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ncl-icb/optout-intake/vocab"
)

// scrape reads one sample's value from /metrics (0 when absent).
func scrape(t *testing.T, c *client, series string) float64 {
	t.Helper()
	resp, body := c.get("/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics = %d", resp.StatusCode)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("metric %s = %q", series, m[1])
	}
	return v
}

// TestMetricsMove works a demo-sized queue through the page and checks the
// counters and gauges that operators alert on follow it.
func TestMetricsMove(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const items = 12
	var ids []int64
	for i := range items {
		f := goodFields("123")
		reason := vocab.ReasonInvalidForm
		if i%4 == 3 {
			reason = vocab.ReasonUnreadable
		}
		id, _ := e.seed(item{Fields: f, Reason: reason})
		ids = append(ids, id)
	}
	anon := e.anon()
	if got := scrape(t, anon, `optout_triage_open_items{reason="invalid_form"}`); got != 9 {
		t.Errorf("open invalid_form items = %v, want 9", got)
	}
	if got := scrape(t, anon, `optout_triage_open_items{reason="unreadable"}`); got != 3 {
		t.Errorf("open unreadable items = %v, want 3", got)
	}
	if got := scrape(t, anon, "optout_triage_oldest_open_age_seconds"); got <= 0 || got > 60 {
		t.Errorf("oldest open item age = %v, want a few seconds", got)
	}
	okBefore := scrape(t, anon, `optout_web_signins_total{result="ok"}`)
	c := e.signIn(e.triager)
	bad := e.anon()
	_, body := bad.get("/signin")
	bad.postRaw("/signin", map[string][]string{"csrf": {csrfOf(t, body)}, "email": {"nobody@nhs.net"}, "password": {"wrong"}})
	for i, id := range ids[:5] {
		resp, _ := c.post(fmt.Sprintf("/items/%d/accept", id), formValues(goodFields(validNHS[i%len(validNHS)])))
		if resp.StatusCode != 303 {
			t.Fatalf("accept item %d = %d", id, resp.StatusCode)
		}
	}
	if got := scrape(t, anon, `optout_web_signins_total{result="ok"}`); got != okBefore+1 {
		t.Errorf("successful sign-ins = %v, want %v", got, okBefore+1)
	}
	if got := scrape(t, anon, `optout_web_signins_total{result="bad_credentials"}`); got != 1 {
		t.Errorf("failed sign-ins = %v, want 1", got)
	}
	if got := scrape(t, anon, `optout_web_actions_total{action="accept"}`); got != 5 {
		t.Errorf("accepts = %v, want 5", got)
	}
	open := scrape(t, anon, `optout_triage_open_items{reason="invalid_form"}`) + scrape(t, anon, `optout_triage_open_items{reason="unreadable"}`)
	if open != items-5 {
		t.Errorf("open items after 5 accepts = %v, want %d", open, items-5)
	}
	// Five accepts, one of them a duplicate NHS number: every one queued an outcome email.
	if got := scrape(t, anon, `optout_notify_outbox_messages{state="pending"}`); got != 5 {
		t.Errorf("pending outbox emails = %v, want 5", got)
	}
	_, body = anon.get("/metrics")
	for _, leak := range []string{"@", "943", "Ada", "Lovelace"} {
		for _, line := range strings.Split(body, "\n") {
			// The name and labels only: a value such as 0.00943 is a number, not a leak.
			series, _, _ := strings.Cut(line, " ")
			if !strings.HasPrefix(line, "#") && strings.Contains(series, leak) && strings.Contains(series, "optout_") {
				t.Errorf("metric line holds %q: %s", leak, line)
			}
		}
	}
}
