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

// A new operator follows the README: `optoutd genkey` prints every key the
// daemon requires, and those lines with the other required settings make a
// configuration `optoutd config` accepts. Without the genkey lines it is
// refused, naming each key.
func TestGenkeyPrintsEveryRequiredKey(t *testing.T) {
	out, errOut, code := runBin(t, 20*time.Second, nil, "genkey")
	if code != 0 {
		t.Fatalf("optoutd genkey exited %d\n%s", code, errOut)
	}
	keys := map[string]string{}
	for line := range strings.Lines(out) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || value == "" {
			t.Fatalf("optoutd genkey printed %q, want NAME=VALUE lines", line)
		}
		keys[name] = value
	}
	required := []string{"OPTOUT_DATA_KEY", "OPTOUT_INDEX_KEY", "OPTOUT_TOKEN_KEY"}
	for _, name := range required {
		if keys[name] == "" {
			t.Errorf("optoutd genkey printed no %s:\n%s", name, out)
		}
	}
	if strings.Contains(errOut, keys["OPTOUT_TOKEN_KEY"]) {
		t.Error("optoutd genkey wrote a key to standard error")
	}

	env := map[string]string{
		"DATABASE_URL": "postgres://db.example/optout", "OPTOUT_ADDRESS": "joined-up.care-record@nhs.net",
		"OPTOUT_IMAP_ADDR": "outlook.office365.com:993", "OPTOUT_IMAP_USER": "joined-up.care-record@nhs.net",
		"OPTOUT_IMAP_PASSWORD": "imap-secret", "OPTOUT_SMTP_ADDR": "send.nhs.net:587",
		"OPTOUT_SMTP_USER": "joined-up.care-record@nhs.net", "OPTOUT_SMTP_PASSWORD": "smtp-secret",
		"OPTOUT_FORM_URL": "https://nclhealthandcare.org.uk/digital/the-london-care-record/",
	}
	_, errOut, code = runBin(t, 20*time.Second, env, "config")
	if code == 0 {
		t.Fatal("optoutd config without keys succeeded, want the missing keys named")
	}
	for _, name := range required {
		if !strings.Contains(errOut, name) {
			t.Errorf("optoutd config without keys: error does not name %s:\n%s", name, errOut)
		}
	}
	for name, value := range keys {
		env[name] = value
	}
	if out, errOut, code := runBin(t, 20*time.Second, env, "config"); code != 0 || !strings.Contains(out, "valid") {
		t.Errorf("optoutd config with the genkey lines exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// Each run makes new keys.
	if again, _, _ := runBin(t, 20*time.Second, nil, "genkey"); again == out {
		t.Error("two runs of optoutd genkey printed the same keys")
	}
}
