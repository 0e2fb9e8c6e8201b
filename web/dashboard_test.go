package web_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestDashboard: this week's counts appear in the table, the chart is an
// SVG with a line per series, and the page needs no script.
func TestDashboard(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.seed(item{Fields: goodFields("1")})
	id, _ := e.seed(item{Fields: goodFields("2")})
	if _, err := e.st.Pool().Exec(ctx, `update triage set due_by = now() - interval '1 hour' where id = $1`, id); err != nil {
		t.Fatal(err)
	}
	weeks, err := e.st.WeeklyCounts(ctx, 26, e.now)
	if err != nil || len(weeks) != 26 {
		t.Fatalf("WeeklyCounts = %d weeks, %v", len(weeks), err)
	}
	last := weeks[25]
	if last.Received != 2 || last.Triaged != 2 || last.Accepted != 0 || last.OptedBack != 0 {
		t.Errorf("this week = %+v, want 2 received, 2 sent to triage", last)
	}
	if weeks[0].Week.Weekday() != 1 && weeks[0].Week.Weekday() != 0 {
		t.Errorf("weeks start on %s", weeks[0].Week.Weekday())
	}
	resp, body := e.signIn(e.viewer).get("/dashboard")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /dashboard = %d", resp.StatusCode)
	}
	if n := strings.Count(body, "<polyline"); n != 5 {
		t.Errorf("chart lines = %d, want 5", n)
	}
	if strings.Contains(body, "<script") {
		t.Errorf("the dashboard has a script")
	}
	rows := regexp.MustCompile(`<tr><th scope="row">`).FindAllString(body, -1)
	if len(rows) != 26 {
		t.Errorf("table rows = %d, want 26", len(rows))
	}
	if _, err := e.st.WeeklyCounts(ctx, 0, e.now); err == nil {
		t.Errorf("WeeklyCounts(0 weeks) did not fail")
	}
}
