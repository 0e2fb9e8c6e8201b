package web_test

import (
	"context"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// seedMany puts n open items without mail in the queue in one statement,
// received three hours apart up to now, each due 30 days after
// receipt, with reasons taken in turn from reasons; it returns their ids
// in that order (which is also answer-date order).
func (e *env) seedMany(n int, reasons ...vocab.Reason) []int64 {
	e.t.Helper()
	codes := make([]string, len(reasons))
	for i, r := range reasons {
		codes[i] = string(r)
	}
	rows, err := e.st.Pool().Query(context.Background(), `insert into triage (reason, created_at, due_by)
		select ($2::text[])[1 + g % cardinality($2::text[])], now() - ($1 - g) * interval '3 hours',
			now() - ($1 - g) * interval '3 hours' + interval '30 days'
		from generate_series(1, $1) g order by g returning id`, n, codes)
	if err != nil {
		e.t.Fatalf("seed %d items: %v", n, err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			e.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

var (
	nextRE  = regexp.MustCompile(`<a rel="next" href="([^"]+)">`)
	itemRE  = regexp.MustCompile(`<a href="/items/(\d+)">`)
	countRE = regexp.MustCompile(`<p class="count" role="status">([^<]*)</p>`)
)

// TestQueueEveryItemReachable follows rel="next" from the queue through
// 1,200 open items: each is on exactly one page, in answer-date order, and
// the count and page numbers are the true ones.
func TestQueueEveryItemReachable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ids := e.seedMany(1200, vocab.ReasonInvalidForm)
	c := e.signIn(e.viewer)
	seen := map[string]int{}
	var order []string
	path, pages := "/queue", 0
	for path != "" {
		pages++
		if pages > 30 {
			t.Fatalf("more than 30 pages followed; the last was %s", path)
		}
		resp, body := c.get(path)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d", path, resp.StatusCode)
		}
		m := countRE.FindStringSubmatch(body)
		want := fmt.Sprintf("1200 items, showing %d to %d (page %d of 24)", (pages-1)*50+1, pages*50, pages)
		if m == nil || m[1] != want {
			t.Fatalf("page %d count line = %q, want %q", pages, m, want)
		}
		for _, id := range itemRE.FindAllStringSubmatch(body, -1) {
			seen[id[1]]++
			order = append(order, id[1])
		}
		head := strings.Contains(body, `<link rel="next"`)
		path = ""
		if n := nextRE.FindStringSubmatch(body); n != nil {
			path = html.UnescapeString(n[1])
			if !head {
				t.Errorf("page %d has a next link but no <link rel=\"next\"> in the head", pages)
			}
		}
	}
	if pages != 24 {
		t.Errorf("followed %d pages, want 24", pages)
	}
	if len(seen) != len(ids) || len(order) != len(ids) {
		t.Fatalf("reached %d distinct items in %d rows, want each of %d once", len(seen), len(order), len(ids))
	}
	for i, id := range ids {
		if order[i] != fmt.Sprint(id) {
			t.Fatalf("row %d is item %s, want %d (answer date order)", i, order[i], id)
		}
	}
	// Received, newest first, reverses the order; a page past the end still counts.
	_, body := c.get("/queue?sort=received-desc")
	if m := itemRE.FindStringSubmatch(body); m == nil || m[1] != fmt.Sprint(ids[len(ids)-1]) {
		t.Errorf("sort=received-desc first item = %v, want %d", m, ids[len(ids)-1])
	}
	_, body = c.get("/queue?page=99")
	if m := countRE.FindStringSubmatch(body); m == nil || !strings.HasPrefix(m[1], "1200 items") {
		t.Errorf("page 99 count = %v, want the true total", m)
	}
}

// TestQueueFiltersSearch covers the due-date and assignee filters and the
// search by reference, NHS number (blind index) and sender address.
func TestQueueFiltersSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a, refA := e.seed(item{Fields: goodFields(validNHS[2])})
	b, _ := e.seed(item{Fields: goodFields(validNHS[3])})
	over := e.seedMany(2, vocab.ReasonOther)
	if _, err := e.st.Pool().Exec(ctx, `update triage set due_by = now() - interval '1 day' where id = $1`, over[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Pool().Exec(ctx, `update triage set due_by = now() + interval '2 days' where id = $1`, over[1]); err != nil {
		t.Fatal(err)
	}
	if err := e.st.AssignTriage(ctx, b, e.viewer.ID, store.Actor(e.admin.ID)); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(e.triager)
	has := func(body string, id int64) bool { return strings.Contains(body, fmt.Sprintf(`href="/items/%d"`, id)) }
	for _, tc := range []struct {
		query   string
		in, out []int64
	}{
		{"due=overdue", []int64{over[0]}, []int64{a, b, over[1]}},
		{"due=week", []int64{over[1]}, []int64{a, b, over[0]}},
		{fmt.Sprintf("assignee=%d", e.viewer.ID), []int64{b}, []int64{a, over[0]}},
		{"assignee=none", []int64{a, over[0]}, []int64{b}},
	} {
		_, body := c.get("/queue?" + tc.query)
		for _, id := range tc.in {
			if !has(body, id) {
				t.Errorf("/queue?%s misses item %d", tc.query, id)
			}
		}
		for _, id := range tc.out {
			if has(body, id) {
				t.Errorf("/queue?%s shows item %d", tc.query, id)
			}
		}
	}
	for _, tc := range []struct {
		q       string
		in, out []int64
	}{
		{refA, []int64{a}, []int64{b}},
		{"943 476 5870", nil, []int64{a, b}}, // valid but unknown
		{validNHS[3][:3] + " " + validNHS[3][3:6] + " " + validNHS[3][6:], []int64{b}, []int64{a}},
		{strings.ToUpper(residentAddr), []int64{a, b}, []int64{over[0]}},
	} {
		resp, body := c.post("/queue", url.Values{"q": {tc.q}})
		if resp.StatusCode != 200 {
			t.Errorf("search %q = %d", tc.q, resp.StatusCode)
		}
		for _, id := range tc.in {
			if !has(body, id) {
				t.Errorf("search %q misses item %d", tc.q, id)
			}
		}
		for _, id := range tc.out {
			if has(body, id) {
				t.Errorf("search %q shows item %d", tc.q, id)
			}
		}
	}
	if resp, _ := c.post("/queue", url.Values{"q": {"hello"}}); resp.StatusCode != 422 {
		t.Errorf("search for nothing searchable = %d, want 422", resp.StatusCode)
	}
	audit, _ := e.st.ListAudit(ctx, store.AuditFilter{Action: "triage.search"})
	if len(audit) != 4 {
		t.Errorf("audited searches = %d, want 4", len(audit))
	}
	for _, a := range audit {
		if strings.Contains(a.Detail, "@") || strings.ContainsAny(a.Detail, "0123456789") {
			t.Errorf("search audit detail %q holds what was searched", a.Detail)
		}
	}
}

// TestFavicon: the icon is served from the binary, so browsers get no 404.
func TestFavicon(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, path := range []string{"/favicon.ico", "/favicon.svg"} {
		resp, body := e.anon().get(path)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.HasPrefix(body, "<svg") {
			t.Errorf("GET %s = %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}
