package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ncl-icb/optout-intake/store"
)

// storeEnv reads a setting from NAME, or from the file named by NAME_FILE
// (for secrets mounted as files). The lead will move this to the config package.
func storeEnv(name string) (string, error) {
	if v := os.Getenv(name); v != "" {
		return v, nil
	}
	if path := os.Getenv(name + "_FILE"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read %s_FILE: %w", name, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}

// openStore opens the store from DATABASE_URL, OPTOUT_DATA_KEY,
// OPTOUT_INDEX_KEY and OPTOUT_DB_SCHEMA (default "optout").
func openStore(ctx context.Context, migrate bool) (*store.Store, error) {
	url, err := storeEnv("DATABASE_URL")
	if err != nil {
		return nil, err
	}
	if url == "" {
		return nil, errors.New("DATABASE_URL is not set; set it to a PostgreSQL URL such as postgres://user@host:5432/optout")
	}
	dataKey, err := storeEnv("OPTOUT_DATA_KEY")
	if err != nil {
		return nil, err
	}
	indexKey, err := storeEnv("OPTOUT_INDEX_KEY")
	if err != nil {
		return nil, err
	}
	keys, err := store.ParseKeys(dataKey, indexKey)
	if err != nil {
		return nil, err
	}
	return store.Open(ctx, store.Options{DatabaseURL: url, Schema: os.Getenv("OPTOUT_DB_SCHEMA"), Keys: keys, Migrate: migrate})
}

func runMigrate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := openStore(ctx, true)
	if err != nil {
		return err
	}
	defer s.Close()
	schema := os.Getenv("OPTOUT_DB_SCHEMA")
	if schema == "" {
		schema = store.DefaultSchema
	}
	applied, available, err := store.SchemaVersion(ctx, s.Pool(), schema)
	if err != nil {
		return err
	}
	fmt.Printf("schema %s at migration %d of %d\n", schema, applied, available)
	return nil
}

func runPurge(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("purge", flag.ContinueOnError)
	days := fs.Int("retention-days", 90, "keep raw messages and attachments this many days after receipt")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *days < 1 {
		return errors.New("--retention-days must be at least 1")
	}
	s, err := openStore(ctx, true)
	if err != nil {
		return err
	}
	defer s.Close()
	r, err := s.Purge(ctx, time.Now().AddDate(0, 0, -*days), store.System)
	if err != nil {
		return err
	}
	fmt.Printf("purged %d raw messages, %d attachments, %d expired sessions\n", r.Messages, r.Attachments, r.Sessions)
	return nil
}

func runExport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	since := fs.String("since", "", "export register changes at or after this date (YYYY-MM-DD, UTC) or RFC 3339 time; required")
	format := fs.String("format", "csv", "output format: csv")
	out := fs.String("out", "", "write to this file (created, mode 0600) instead of standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *format != "csv" {
		return fmt.Errorf("--format %q is not supported; use csv", *format)
	}
	t, err := time.Parse("2006-01-02", *since)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, *since); err != nil {
			return errors.New("--since is required, as YYYY-MM-DD or an RFC 3339 time")
		}
	}
	s, err := openStore(ctx, true)
	if err != nil {
		return err
	}
	defer s.Close()
	w := os.Stdout
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("create export file: %w", err)
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	n, err := s.ExportChanges(ctx, bw, t, store.System)
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write export: %w", err)
	}
	fmt.Fprintf(os.Stderr, "exported %d register changes since %s\n", n, t.UTC().Format(time.RFC3339))
	return nil
}

func runRekey(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rekey", flag.ContinueOnError)
	batch := fs.Int("batch", 500, "values re-encrypted per transaction")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := openStore(ctx, true)
	if err != nil {
		return err
	}
	defer s.Close()
	n, err := s.Rekey(ctx, *batch, func(table, column string, done int64) {
		fmt.Fprintf(os.Stderr, "rekey %s.%s: %d\n", table, column, done)
	})
	if err != nil {
		return fmt.Errorf("%w (rerun `optoutd rekey` to resume)", err)
	}
	fmt.Printf("re-encrypted %d values under key %s; older keys can now be removed from OPTOUT_DATA_KEY\n", n, s.Keys().PrimaryKeyID())
	return nil
}

func runGenkey(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("genkey", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	d, x, err := store.GenerateKeys()
	if err != nil {
		return err
	}
	fmt.Printf("OPTOUT_DATA_KEY=%s\nOPTOUT_INDEX_KEY=%s\n", d, x)
	fmt.Fprintln(os.Stderr, "keep both secret; to rotate, put a new data key first in OPTOUT_DATA_KEY (old keys after it) and run `optoutd rekey`; never change OPTOUT_INDEX_KEY")
	return nil
}
