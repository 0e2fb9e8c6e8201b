package web_test

import (
	"fmt"
	"testing"
)

// BenchmarkQueuePage measures a signed-in queue page with 50 open items
// (session lookup, list, staff names, render) against PostgreSQL.
func BenchmarkQueuePage(b *testing.B) {
	e := newEnv(b)
	for range 50 {
		e.seed(item{Fields: goodFields("123")})
	}
	c := e.signIn(e.viewer)
	b.ResetTimer()
	for b.Loop() {
		if resp, _ := c.get("/queue"); resp.StatusCode != 200 {
			b.Fatalf("GET /queue = %d", resp.StatusCode)
		}
	}
}

// BenchmarkItemPage measures one item page (detail, audit, message parse, render).
func BenchmarkItemPage(b *testing.B) {
	e := newEnv(b)
	id, _ := e.seed(item{Fields: goodFields("123")})
	c := e.signIn(e.viewer)
	path := fmt.Sprintf("/items/%d", id)
	b.ResetTimer()
	for b.Loop() {
		if resp, _ := c.get(path); resp.StatusCode != 200 {
			b.Fatalf("GET %s = %d", path, resp.StatusCode)
		}
	}
}

// BenchmarkQueuePage1200 measures the first queue page with 1,200 open
// items (50 shown, the true total counted). Recorded in docs/web.md.
func BenchmarkQueuePage1200(b *testing.B) {
	e := newEnv(b)
	e.seedMany(1200, "invalid_form")
	c := e.signIn(e.viewer)
	for _, path := range []string{"/queue", "/queue?page=24&sort=received-desc"} {
		b.Run(path, func(b *testing.B) {
			for b.Loop() {
				if resp, _ := c.get(path); resp.StatusCode != 200 {
					b.Fatalf("GET %s = %d", path, resp.StatusCode)
				}
			}
		})
	}
}
