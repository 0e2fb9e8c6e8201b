package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/enquiry"
	"github.com/ncl-icb/optout-intake/extract/message"
	"github.com/ncl-icb/optout-intake/intake"
	"github.com/ncl-icb/optout-intake/mailbox"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/web"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load(empty) error: %v", err)
	}
	if c.IMAPTLS != "implicit" || c.SecureMark != "[secure]" || c.PollSchedule != "* * * * *" {
		t.Errorf("defaults not applied: %+v", c)
	}
	if c.Retention != 90*24*time.Hour || c.ReplyLimit != 10 || c.ReplyWindow != 3*time.Hour {
		t.Errorf("Retention, ReplyLimit, ReplyWindow = %v, %d, %v", c.Retention, c.ReplyLimit, c.ReplyWindow)
	}
	if c.ExtractTimeout != 2*time.Minute {
		t.Errorf("ExtractTimeout = %v, want 2m", c.ExtractTimeout)
	}
	if c.MaxAttachment != 35<<20 {
		t.Errorf("MaxAttachment = %d, want 35 MiB", c.MaxAttachment)
	}
}

func TestLoadRejectsBadValues(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"OPTOUT_IMAP_TLS", "ssl", "must be one of implicit, starttls, none"},
		{"OPTOUT_POLL_SCHEDULE", "every minute", "is not a cron schedule"},
		{"OPTOUT_RETENTION", "ninety days", "must be a duration"},
		{"OPTOUT_REPLY_LIMIT", "0", "at least 1"},
		{"OPTOUT_MAX_MESSAGE_SIZE", "big", "must be a size"},
		{"OPTOUT_UNSOLICITED_POLICY", "drop", "process, ask"},
		{"OPTOUT_FORM_URL", "http://nclhealthandcare.org.uk/digital/the-london-care-record/", "https://"},
		{"OPTOUT_FORM_URL", "nclhealthandcare.org.uk/digital/the-london-care-record/", "https://"},
		{"OPTOUT_FORM_URL", "https://user:pw@example.org/form", "https://"},
		{"OPTOUT_FORM_URL", "https://example.org/a form", "https://"},
		{"OPTOUT_ENQUIRY_PHONE", "call us", "telephone number"},
		{"OPTOUT_ENQUIRY_PHONE", "123", "telephone number"},
		{"OPTOUT_ENQUIRY_DAYS", "0", "at least 1"},
		{"OPTOUT_EXTRACT_TIMEOUT", "0s", "more than 0s"},
		{"OPTOUT_EXTRACT_TIMEOUT", "2h", "at most 1h"},
		{"OPTOUT_EXTRACT_TIMEOUT", "soon", "must be a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			_, err := Load(env(map[string]string{tt.name: tt.value}))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.name) {
				t.Fatalf("Load(%s=%q) error = %v, want it to name the variable and say %q", tt.name, tt.value, err, tt.want)
			}
		})
	}
}

func TestLoadReportsAllErrorsAndHidesSecrets(t *testing.T) {
	_, err := Load(env(map[string]string{"OPTOUT_IMAP_TLS": "x", "OPTOUT_LOG_LEVEL": "loud"}))
	if err == nil || !strings.Contains(err.Error(), "OPTOUT_IMAP_TLS") || !strings.Contains(err.Error(), "OPTOUT_LOG_LEVEL") {
		t.Fatalf("error = %v, want both variables named", err)
	}
}

func TestSecretFromFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pw")
	if err := os.WriteFile(p, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(env(map[string]string{"OPTOUT_IMAP_PASSWORD_FILE": p}))
	if err != nil {
		t.Fatal(err)
	}
	if c.IMAPPassword != "s3cret" {
		t.Errorf("IMAPPassword = %q, want the file's content trimmed", c.IMAPPassword)
	}
	_, err = Load(env(map[string]string{"OPTOUT_IMAP_PASSWORD_FILE": p, "OPTOUT_IMAP_PASSWORD": "x"}))
	if err == nil || !strings.Contains(err.Error(), "set only one") {
		t.Errorf("both set: error = %v, want 'set only one'", err)
	}
	if _, err := Load(env(map[string]string{"OPTOUT_IMAP_PASSWORD_FILE": filepath.Join(dir, "missing")})); err == nil {
		t.Error("missing secret file: no error")
	}
}

func TestConfigFileEnvironmentWins(t *testing.T) {
	p := filepath.Join(t.TempDir(), "optoutd.env")
	content := "# comment\nOPTOUT_ADDRESS=file@example.nhs.net\nOPTOUT_HTTP_ADDR=\"127.0.0.1:9999\"\n"
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(env(map[string]string{ConfigFileVar: p, "OPTOUT_HTTP_ADDR": "127.0.0.1:7000"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Address != "file@example.nhs.net" || c.HTTPAddr != "127.0.0.1:7000" {
		t.Errorf("Address, HTTPAddr = %q, %q", c.Address, c.HTTPAddr)
	}
}

func TestRequireDaemon(t *testing.T) {
	c, _ := Load(env(nil))
	err := c.RequireDaemon()
	for _, name := range []string{"DATABASE_URL", "OPTOUT_DATA_KEY", "OPTOUT_ADDRESS", "OPTOUT_FORM_URL", "OPTOUT_IMAP_ADDR", "OPTOUT_SMTP_ADDR"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("RequireDaemon() = %v, want it to name %s", err, name)
		}
	}
	good := map[string]string{
		"DATABASE_URL": "postgres://x", "OPTOUT_DATA_KEY": "k", "OPTOUT_INDEX_KEY": "i", "OPTOUT_TOKEN_KEY": "t",
		"OPTOUT_ADDRESS": "a@nhs.net", "OPTOUT_IMAP_ADDR": "imap.example:993", "OPTOUT_IMAP_USER": "u",
		"OPTOUT_IMAP_PASSWORD": "p", "OPTOUT_SMTP_ADDR": "smtp.example:587",
		"OPTOUT_FORM_URL": "https://nclhealthandcare.org.uk/digital/the-london-care-record/",
	}
	c, _ = Load(env(good))
	if err := c.RequireDaemon(); err != nil {
		t.Fatalf("RequireDaemon(good) = %v", err)
	}
	plain := map[string]string{}
	for k, v := range good {
		plain[k] = v
	}
	plain["OPTOUT_IMAP_TLS"] = "none"
	c, _ = Load(env(plain))
	if err := c.RequireDaemon(); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("plain IMAP to a remote host: error = %v, want a loopback-only error", err)
	}
	plain["OPTOUT_IMAP_ADDR"] = "127.0.0.1:143"
	c, _ = Load(env(plain))
	if err := c.RequireDaemon(); err != nil {
		t.Errorf("plain IMAP to loopback: error = %v", err)
	}
}

// TestWhatResidentsAreTold: the form's address, the telephone number and
// the enquiry days are read as given; the number is optional.
func TestWhatResidentsAreTold(t *testing.T) {
	c, err := Load(env(map[string]string{"OPTOUT_FORM_URL": "https://nclhealthandcare.org.uk/digital/the-london-care-record/",
		"OPTOUT_ENQUIRY_PHONE": "+44 (0)20 3688 2900", "OPTOUT_ENQUIRY_DAYS": "5"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.FormURL != "https://nclhealthandcare.org.uk/digital/the-london-care-record/" || c.EnquiryPhone != "+44 (0)20 3688 2900" || c.EnquiryDays != 5 {
		t.Errorf("FormURL, EnquiryPhone, EnquiryDays = %q, %q, %d", c.FormURL, c.EnquiryPhone, c.EnquiryDays)
	}
	if c, _ = Load(env(nil)); c.EnquiryPhone != "" || c.EnquiryDays != 10 || c.FormURL != "" {
		t.Errorf("defaults: FormURL, EnquiryPhone, EnquiryDays = %q, %q, %d; want none, none, 10", c.FormURL, c.EnquiryPhone, c.EnquiryDays)
	}
}

func TestParseDurationAndSize(t *testing.T) {
	if d, err := ParseDuration("90d"); err != nil || d != 90*24*time.Hour {
		t.Errorf("ParseDuration(90d) = %v, %v", d, err)
	}
	if n, err := ParseSize("35MB"); err != nil || n != 35<<20 {
		t.Errorf("ParseSize(35MB) = %d, %v", n, err)
	}
	if _, err := ParseSize("-1"); err == nil {
		t.Error("ParseSize(-1): no error")
	}
}

// TestReadmeTableIsCurrent keeps the README's configuration table in step
// with Settings. Regenerate it with `go run ./cmd/optoutd config --markdown`.
func TestReadmeTableIsCurrent(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), Markdown()) {
		t.Errorf("README.md's configuration table differs from config.Settings; paste the output of `go run ./cmd/optoutd config --markdown` into it")
	}
}

// TestDefaultsAgreeWithPackages: a setting's default is the default of the
// package that uses it, so a library user (a test, the demo) and the
// daemon read the same limits and folders.
func TestDefaultsAgreeWithPackages(t *testing.T) {
	c, err := Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxMessage != mailbox.DefaultMaxMessageBytes || c.MaxMessage != message.DefaultLimits().MaxMessageBytes {
		t.Errorf("OPTOUT_MAX_MESSAGE_SIZE default %d; mailbox's default %d, the message reader's %d: want one value",
			c.MaxMessage, mailbox.DefaultMaxMessageBytes, message.DefaultLimits().MaxMessageBytes)
	}
	for _, d := range []struct {
		name      string
		got, want any
	}{
		{"OPTOUT_POLL_SCHEDULE", c.PollSchedule, intake.DefaultPollSchedule},
		{"OPTOUT_PURGE_SCHEDULE", c.PurgeSchedule, intake.DefaultPurgeSchedule},
		{"OPTOUT_SCAN_DAYS", c.ScanDays, intake.DefaultScanDays},
		{"OPTOUT_MAX_AGE", c.MaxAge, intake.DefaultMaxAge},
		{"OPTOUT_RETENTION", c.Retention, store.DefaultRetention},
		{"OPTOUT_REPLY_LIMIT", c.ReplyLimit, intake.DefaultReplyLimit},
		{"OPTOUT_REPLY_WINDOW", c.ReplyWindow, intake.DefaultReplyWindowHours * time.Hour},
		{"OPTOUT_ENQUIRY_DAYS", c.EnquiryDays, enquiry.DefaultEnquiryDays},
		{"OPTOUT_REPLY_WAIT_DAYS", time.Duration(c.ReplyWaitDays) * 24 * time.Hour, store.DefaultReplyWait},
		{"OPTOUT_MAX_ATTACHMENT_SIZE", c.MaxAttachment, message.DefaultLimits().MaxAttachmentBytes},
		{"OPTOUT_EXTRACT_TIMEOUT", c.ExtractTimeout, intake.DefaultExtractTimeout},
		{"OPTOUT_SESSION_IDLE", c.SessionIdle, web.DefaultSessionIdle},
		{"OPTOUT_SESSION_MAX", c.SessionMax, web.DefaultSessionMax},
	} {
		if d.got != d.want {
			t.Errorf("%s default %v, the package's default %v", d.name, d.got, d.want)
		}
	}
	if c.FolderProcessed != mailbox.DefaultFolders.Processed || c.FolderTriage != mailbox.DefaultFolders.Triage || c.FolderAuto != mailbox.DefaultFolders.Auto {
		t.Errorf("folder defaults %q %q %q differ from mailbox.DefaultFolders %+v", c.FolderProcessed, c.FolderTriage, c.FolderAuto, mailbox.DefaultFolders)
	}
}
