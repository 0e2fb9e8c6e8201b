package pgcluster

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func notOnPath(string) (string, error) { return "", errors.New("not found") }

// fakeBin makes root/N/bin with executable initdb and pg_ctl for each version.
func fakeBin(t *testing.T, versions ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, v := range versions {
		dir := filepath.Join(root, v, "bin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"initdb", "pg_ctl"} {
			if err := os.WriteFile(filepath.Join(dir, p), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func TestFind(t *testing.T) {
	root := fakeBin(t, "9", "15", "16")
	onlyPath := fakeBin(t, "14")
	tests := []struct {
		name     string
		lookPath func(string) (string, error)
		glob     string
		want     string
		wantErr  error
	}{
		{"nothing anywhere", notOnPath, filepath.Join(t.TempDir(), "*", "bin"), "", ErrNotInstalled},
		{"newest version wins, numerically", notOnPath, filepath.Join(root, "*", "bin"), filepath.Join(root, "16", "bin"), nil},
		{"PATH before the system directories", func(string) (string, error) { return filepath.Join(onlyPath, "14", "bin", "initdb"), nil },
			filepath.Join(root, "*", "bin"), filepath.Join(onlyPath, "14", "bin"), nil},
		{"initdb on PATH without pg_ctl beside it", func(string) (string, error) { return "/nonexistent/initdb", nil },
			filepath.Join(root, "*", "bin"), filepath.Join(root, "16", "bin"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := find(tt.lookPath, tt.glob)
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Errorf("find() = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestNotInstalledSaysHowToInstall(t *testing.T) {
	if !strings.Contains(ErrNotInstalled.Error(), "apt-get install postgresql") {
		t.Errorf("ErrNotInstalled = %q, want it to say `apt-get install postgresql`", ErrNotInstalled)
	}
}

func TestStartBadBinDir(t *testing.T) {
	bin := filepath.Join(fakeBin(t, "1"), "1", "bin")
	c, err := Start(context.Background(), Options{BinDir: bin, Timeout: 10 * time.Second})
	if err == nil {
		c.Stop()
		t.Fatal("Start with an initdb that fails = nil error, want one")
	}
	if !strings.Contains(err.Error(), "initdb failed") {
		t.Errorf("Start error = %q, want it to name initdb", err)
	}
}

func TestStartBadDatabaseName(t *testing.T) {
	if _, err := Start(context.Background(), Options{Database: "Robert'); drop"}); err == nil {
		t.Error("Start with a bad database name = nil error, want one")
	}
}

// TestCluster starts a real cluster, uses it, stops it and checks nothing is left.
func TestCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := Start(ctx, Options{Database: "demo"})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { c.Stop() })
	if !strings.Contains(c.URL(), "127.0.0.1:") || !strings.Contains(c.URL(), "/demo?") {
		t.Errorf("URL() = %q, want a loopback URL of database demo", c.URL())
	}
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatalf("connect to %s: %v", c.URL(), err)
	}
	if _, err := conn.Exec(ctx, `create table t (id int primary key); insert into t values (1)`); err != nil {
		t.Fatalf("use the cluster: %v", err)
	}
	var db string
	if err := conn.QueryRow(ctx, `select current_database()`).Scan(&db); err != nil || db != "demo" {
		t.Errorf("current_database() = %q, %v; want demo", db, err)
	}
	conn.Close(ctx)

	dir, port := c.Dir(), c.Port()
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cluster directory %s still exists after Stop (stat: %v)", dir, err)
	}
	if nc, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
		nc.Close()
		t.Errorf("port %d still answers after Stop", port)
	}
}
