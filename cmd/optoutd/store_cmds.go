package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/ncl-icb/optout-intake/config"
	"github.com/ncl-icb/optout-intake/store"
)

// storeConfig reads the settings the database commands need (DATABASE_URL,
// OPTOUT_DATA_KEY, OPTOUT_INDEX_KEY, OPTOUT_DB_SCHEMA, OPTOUT_RETENTION)
// through the config package, so OPTOUT_CONFIG_FILE, NAME_FILE secrets and
// the documented defaults apply exactly as they do to `optoutd run`.
func storeConfig(getenv func(string) string) (*config.Config, error) {
	c, err := config.Load(getenv)
	if err != nil {
		return nil, err
	}
	if err := c.RequireDatabase(); err != nil {
		return nil, err
	}
	return c, nil
}

// openStore opens the store the configuration names.
func openStore(ctx context.Context, migrate bool) (*store.Store, *config.Config, error) {
	c, err := storeConfig(os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	keys, err := store.ParseKeys(c.DataKey, c.IndexKey)
	if err != nil {
		return nil, nil, err
	}
	s, err := store.Open(ctx, store.Options{DatabaseURL: c.DatabaseURL, Schema: c.DBSchema, Keys: keys, Migrate: migrate})
	return s, c, err
}

func runMigrate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	grants := fs.String("print-grants", "", "print (do not run) the GRANTs that let `ROLE` run the daemon with least privilege, then exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *grants != "" {
		c, err := config.Load(os.Getenv)
		if err != nil {
			return err
		}
		sql, err := store.RuntimeGrants(c.DBSchema, *grants)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		fmt.Print(sql)
		return nil
	}
	s, cfg, err := openStore(ctx, true)
	if err != nil {
		return err
	}
	defer s.Close()
	schema := cfg.DBSchema
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

// purgeBefore is the receipt time before which `optoutd purge` deletes raw
// mail: --retention-days when given, else OPTOUT_RETENTION.
func purgeBefore(now time.Time, days int, retention time.Duration) (time.Time, error) {
	if days > 0 {
		return now.AddDate(0, 0, -days), nil
	}
	if retention <= 0 {
		return time.Time{}, errors.New("OPTOUT_RETENTION is not set: set it (for example 90d) or pass --retention-days")
	}
	return now.Add(-retention), nil
}

func runPurge(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("purge", flag.ContinueOnError)
	days := fs.Int("retention-days", 0, "keep raw messages and attachments this many days after receipt (default: OPTOUT_RETENTION, as the daemon's scheduled purge)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *days < 0 {
		return errors.New("--retention-days must be at least 1; leave it out to use OPTOUT_RETENTION")
	}
	s, cfg, err := openStore(ctx, true)
	if err != nil {
		return err
	}
	defer s.Close()
	before, err := purgeBefore(time.Now(), *days, cfg.Retention)
	if err != nil {
		return err
	}
	r, err := s.Purge(ctx, before, store.System)
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
	t, err := parseSince(*since)
	if err != nil {
		return errors.New("--since is required, as YYYY-MM-DD or an RFC 3339 time")
	}
	s, _, err := openStore(ctx, true)
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
	s, _, err := openStore(ctx, true)
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
	tok, err := generateTokenKey()
	if err != nil {
		return err
	}
	fmt.Printf("OPTOUT_DATA_KEY=%s\nOPTOUT_INDEX_KEY=%s\nOPTOUT_TOKEN_KEY=%s\n", d, x, tok)
	fmt.Fprintln(os.Stderr, "keep all three secret; to rotate, put a new data key first in OPTOUT_DATA_KEY (old keys after it) and run `optoutd rekey`; never change OPTOUT_INDEX_KEY; a new OPTOUT_TOKEN_KEY makes replies to earlier mail unverifiable")
	return nil
}

// generateTokenKey returns a fresh OPTOUT_TOKEN_KEY: 32 random bytes in
// base64, the form parseTokenKey reads.
func generateTokenKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate OPTOUT_TOKEN_KEY: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b[:]), nil
}

// parseSince reads a --since value: a date (YYYY-MM-DD, midnight UTC) or
// an RFC 3339 time.
func parseSince(v string) (time.Time, error) {
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		t, err = time.Parse(time.RFC3339, v)
	}
	return t, err
}
