package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ncl-icb/optout-intake/internal/pgtest"
	"github.com/ncl-icb/optout-intake/store"
)

// TestDueDateFollowsLondonCalendar: on a pool set up by ConfigurePool, "one
// calendar month after receipt" (a triage item's answer-by date) follows the
// London calendar, whatever the server's own time zone.
func TestDueDateFollowsLondonCalendar(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	store.ConfigurePool(cfg, store.DefaultSchema)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	received := time.Date(2026, 5, 1, 0, 30, 0, 0, london) // 23:30 UTC on 30 April
	var due time.Time
	if err := pool.QueryRow(ctx, `select $1::timestamptz + interval '1 month'`, received).Scan(&due); err != nil {
		t.Fatal(err)
	}
	if got := due.In(london); got.Month() != time.June || got.Day() != 1 || got.Hour() != 0 {
		t.Errorf("received %v + 1 month = %v (London), want 00:30 on 1 June", received, got)
	}
}
