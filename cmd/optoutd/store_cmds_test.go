package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The database commands (staff, migrate, purge, export, rekey) read their
// settings as the daemon does: from OPTOUT_CONFIG_FILE, NAME_FILE secrets and
// the documented defaults, not only from the bare environment.
func TestStoreConfigReadsConfigFile(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "data.key")
	if err := os.WriteFile(keyFile, []byte("k1:AAAA\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "optoutd.env")
	body := "DATABASE_URL=postgres://db.example/optout\nOPTOUT_DATA_KEY_FILE=" + keyFile + "\nOPTOUT_INDEX_KEY=BBBB\nOPTOUT_RETENTION=30d\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"OPTOUT_CONFIG_FILE": file}
	c, err := storeConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("storeConfig(config file) error: %v", err)
	}
	if c.DatabaseURL != "postgres://db.example/optout" || c.DataKey != "k1:AAAA" || c.IndexKey != "BBBB" {
		t.Errorf("storeConfig(config file) = url %q data key %q index key %q, want the file's values", c.DatabaseURL, c.DataKey, c.IndexKey)
	}
	if c.DBSchema != "optout" {
		t.Errorf("storeConfig DBSchema = %q, want the default optout", c.DBSchema)
	}
	if c.Retention != 30*24*time.Hour {
		t.Errorf("storeConfig Retention = %v, want 720h", c.Retention)
	}
}

func TestStoreConfigNamesMissingSettings(t *testing.T) {
	_, err := storeConfig(func(string) string { return "" })
	if err == nil {
		t.Fatal("storeConfig(empty environment) = nil error, want the missing settings")
	}
	for _, name := range []string{"DATABASE_URL", "OPTOUT_DATA_KEY", "OPTOUT_INDEX_KEY"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("storeConfig(empty environment) error %q does not name %s", err, name)
		}
	}
}

// `optoutd purge` without --retention-days keeps what the daemon keeps.
func TestPurgeBefore(t *testing.T) {
	now := time.Date(2026, 5, 15, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		days      int
		retention time.Duration
		want      time.Time
		wantErr   bool
	}{
		{0, 180 * 24 * time.Hour, now.Add(-180 * 24 * time.Hour), false},
		{0, 30 * 24 * time.Hour, now.Add(-30 * 24 * time.Hour), false},
		{7, 180 * 24 * time.Hour, now.AddDate(0, 0, -7), false},
		{0, 0, time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := purgeBefore(now, tt.days, tt.retention)
		if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
			t.Errorf("purgeBefore(%d days, %v) = %v, %v; want %v (error %v)", tt.days, tt.retention, got, err, tt.want, tt.wantErr)
		}
	}
}
