// Package pgtest gives each test its own empty PostgreSQL schema on a real
// server, so tests run in parallel and leave nothing behind. The server is
// TEST_DATABASE_URL when set, otherwise postgres://postgres@127.0.0.1:5432/test
// when it answers; without either the test fails (never skips) and says how
// to run the test command, which starts a throwaway cluster.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultURL is tried when TEST_DATABASE_URL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var (
	resolveOnce sync.Once
	resolved    string
	resolveErr  error
)

// URL returns the test server's connection string, or fails the test with
// instructions when no server answers.
func URL(t testing.TB) string {
	t.Helper()
	resolveOnce.Do(func() {
		url := os.Getenv("TEST_DATABASE_URL")
		if url == "" {
			url = DefaultURL
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			resolveErr = err
			return
		}
		conn.Close(ctx)
		resolved = url
	})
	if resolveErr != nil {
		t.Fatalf("no PostgreSQL for tests (%v): set TEST_DATABASE_URL, start a server on 127.0.0.1:5432 with database \"test\", "+
			"or run the README's test command, which starts a throwaway cluster", resolveErr)
	}
	return resolved
}

// Schema creates a fresh, empty schema and returns a pool whose connections
// use it (search_path), with at most maxConns connections (0: 4). The pool
// is closed and the schema dropped when the test ends.
func Schema(t testing.TB, maxConns int32) (*pgxpool.Pool, string) {
	t.Helper()
	url := URL(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("pgtest: random schema name: %v", err)
	}
	schema := "t_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "create schema "+schema); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("pgtest: parse url: %v", err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.ConnConfig.RuntimeParams["timezone"] = "Europe/London" // as store.ConfigurePool
	if maxConns <= 0 {
		maxConns = 4
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("pgtest: pool: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "drop schema "+schema+" cascade"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return pool, schema
}
