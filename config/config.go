// Package config reads optoutd's settings from environment variables (and an
// optional KEY=VALUE file), checks them, and documents them. Every setting is
// declared once, in Settings; the README's configuration table is generated
// from it (`optoutd config --markdown`) and a test keeps the two in step.
//
// Secrets (passwords, keys, tokens) may also be given as NAME_FILE, the path
// of a file holding the value, which is how container secrets are mounted.
package config

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/ncl-icb/optout-intake/internal/loopback"
	"github.com/ncl-icb/optout-intake/mailbox"
	"github.com/ncl-icb/optout-intake/notify"
)

// Config is every setting of optoutd, parsed. Fields are documented by the
// Settings table, which is where their names, defaults and meaning live.
type Config struct {
	DatabaseURL string
	DBSchema    string

	DataKey  string // raw OPTOUT_DATA_KEY; parsed by store.ParseKeys
	IndexKey string // raw OPTOUT_INDEX_KEY
	TokenKey string // raw OPTOUT_TOKEN_KEY (signs our Message-IDs)

	Address    string // the mailbox's own address
	FromName   string
	SecureMark string

	FormURL      string // where the opt-out form is, shown to residents
	EnquiryPhone string // optional number for residents who cannot use email

	IMAPAddr          string
	IMAPTLS           string
	IMAPUser          string
	IMAPPassword      string
	IMAPAuth          string
	IMAPTokenCommand  string
	IMAPTokenFile     string
	OAuthTenant       string
	OAuthClientID     string
	OAuthClientSecret string
	OAuthRefreshToken string
	Inbox             string
	FolderProcessed   string
	FolderTriage      string
	FolderAuto        string
	FolderSent        string

	SMTPAddr     string
	SMTPTLS      string
	SMTPUser     string
	SMTPPassword string
	SMTPAuth     string
	SMTPRate     int
	SMTPDaily    int

	HTTPAddr      string
	PollSchedule  string
	PurgeSchedule string
	ScanDays      int
	MaxAge        time.Duration // OPTOUT_MAX_AGE: older mail is held back, never answered on its own
	StartAfter    time.Time     // OPTOUT_START_AFTER: mail that arrived before is held back; zero when unset
	Retention     time.Duration
	Unsolicited   string
	ReplyLimit    int
	ReplyWindow   time.Duration
	EnquiryDays   int
	ReplyWaitDays int
	MaxMessage    int64
	MaxAttachment int64
	// ExtractTimeout bounds reading one message (OPTOUT_EXTRACT_TIMEOUT).
	ExtractTimeout time.Duration
	TemplateDir    string
	SessionIdle    time.Duration
	SessionMax     time.Duration
	LogFormat      string
	LogLevel       string

	TrustedProxies []netip.Prefix
	LocalSignin    string // "on" or "off"
	MetricsAddr    string

	OIDCIssuer       string
	OIDCClientID     string
	OIDCClientSecret string
	OIDCRedirectURL  string
}

// Setting describes one configuration variable.
type Setting struct {
	Name    string // environment variable
	Default string // "" when there is none
	Secret  bool   // may be given as Name_FILE; never printed
	Doc     string // one sentence for the README table
	set     func(c *Config, v string) error
}

func str(p func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

func oneOf(p func(c *Config) *string, allowed ...string) func(*Config, string) error {
	return func(c *Config, v string) error {
		for _, a := range allowed {
			if v == a {
				*p(c) = v
				return nil
			}
		}
		return fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
	}
}

func integer(p func(c *Config) *int, min int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			return fmt.Errorf("must be a whole number of at least %d", min)
		}
		*p(c) = n
		return nil
	}
}

func size(p func(c *Config) *int64) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := ParseSize(v)
		if err != nil {
			return err
		}
		*p(c) = n
		return nil
	}
}

func duration(p func(c *Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := ParseDuration(v)
		if err != nil {
			return err
		}
		*p(c) = d
		return nil
	}
}

// MaxExtractTimeout is the longest OPTOUT_EXTRACT_TIMEOUT: a message that
// takes longer holds a pipeline worker that long.
const MaxExtractTimeout = time.Hour

func extractTimeout(p func(c *Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := ParseDuration(v)
		if err != nil {
			return err
		}
		if d <= 0 || d > MaxExtractTimeout {
			return errors.New("must be more than 0s and at most 1h, such as 2m")
		}
		*p(c) = d
		return nil
	}
}

// MinMaxAge is the shortest OPTOUT_MAX_AGE: anything shorter would hold
// back fresh mail during a slow poll or a short outage.
const MinMaxAge = time.Hour

func maxAge(p func(c *Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := ParseDuration(v)
		if err != nil {
			return err
		}
		if d < MinMaxAge {
			return fmt.Errorf("is shorter than %s: fresh mail would be held back; use for example 7d", MinMaxAge)
		}
		*p(c) = d
		return nil
	}
}

func rfc3339(p func(c *Config) *time.Time) func(*Config, string) error {
	return func(c *Config, v string) error {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
		if err != nil {
			return errors.New("must be an RFC 3339 time with its offset, such as 2026-12-07T09:00:00Z or 2026-12-07T09:00:00+00:00")
		}
		*p(c) = t
		return nil
	}
}

func schedule(p func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if _, err := cron.ParseStandard(v); err != nil {
			return fmt.Errorf("is not a cron schedule (for example \"* * * * *\" or \"@every 30s\"): %w", err)
		}
		*p(c) = v
		return nil
	}
}

// httpsURL accepts an absolute https:// address without user information
// or spaces, as residents are told to open it.
func httpsURL(p func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		u, err := url.Parse(v)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || len(v) > 300 ||
			strings.IndexFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			return errors.New("must be an https:// web address such as https://nclhealthandcare.org.uk/digital/the-london-care-record/")
		}
		*p(c) = v
		return nil
	}
}

// phone accepts a telephone number as residents would dial it: digits,
// spaces, "+", "-" and brackets, with 6 to 15 digits.
func phone(p func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		digits := 0
		for _, r := range v {
			switch {
			case r >= '0' && r <= '9':
				digits++
			case r == ' ' || r == '+' || r == '-' || r == '(' || r == ')':
			default:
				digits = -1000
			}
		}
		if digits < 6 || digits > 15 || len(v) > 30 {
			return errors.New("must be a telephone number such as 020 3688 2900 (digits, spaces, +, - and brackets)")
		}
		*p(c) = v
		return nil
	}
}

// prefixes accepts comma-separated CIDRs or single addresses.
func prefixes(p func(c *Config) *[]netip.Prefix) func(*Config, string) error {
	return func(c *Config, v string) error {
		var out []netip.Prefix
		for _, f := range strings.Split(v, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			pr, err := netip.ParsePrefix(f)
			if err != nil {
				a, aerr := netip.ParseAddr(f)
				if aerr != nil {
					return fmt.Errorf("must be comma-separated CIDRs such as 10.0.0.0/8 or addresses: %q is neither", f)
				}
				pr = netip.PrefixFrom(a, a.BitLen())
			}
			out = append(out, pr.Masked())
		}
		*p(c) = out
		return nil
	}
}

// serviceURL accepts the address of a service the daemon talks to (the
// OpenID provider, our own redirect): https://, or http:// on loopback for tests.
func serviceURL(p func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && loopback.Host(u.Hostname()))) {
			return errors.New("must be an https:// URL (http:// only for loopback addresses)")
		}
		*p(c) = v
		return nil
	}
}

// Settings lists every configuration variable, in the README's order.
var Settings = []Setting{
	{"DATABASE_URL", "", true, "PostgreSQL connection URL (`postgres://user@host:5432/db?sslmode=verify-full`). Required.", str(func(c *Config) *string { return &c.DatabaseURL })},
	{"OPTOUT_DB_SCHEMA", "optout", false, "PostgreSQL schema holding the service's tables.", str(func(c *Config) *string { return &c.DBSchema })},
	{"OPTOUT_DATA_KEY", "", true, "Keys that encrypt personal fields at rest: `ID:BASE64` entries of 32 bytes, comma-separated; the first encrypts, all decrypt. Make one with `optoutd genkey`. Required.", str(func(c *Config) *string { return &c.DataKey })},
	{"OPTOUT_INDEX_KEY", "", true, "BASE64 32-byte key for the NHS-number blind index. Make one with `optoutd genkey`; never change it without `optoutd rekey`. Required.", str(func(c *Config) *string { return &c.IndexKey })},
	{"OPTOUT_TOKEN_KEY", "", true, "BASE64 32-byte key that signs the tokens in our Message-IDs, so replies cannot be spoofed into a conversation. Make one with `optoutd genkey`. Required.", str(func(c *Config) *string { return &c.TokenKey })},
	{"OPTOUT_ADDRESS", "", false, "The mailbox's own address: From and Reply-To of every reply; mail from it is never answered. Required.", str(func(c *Config) *string { return &c.Address })},
	{"OPTOUT_FROM_NAME", notify.DefaultDisplayName, false, "Display name on our replies.", str(func(c *Config) *string { return &c.FromName })},
	{"OPTOUT_SECURE_MARKER", notify.DefaultSecureMarker, false, "Marker put in every outgoing subject; NHSmail encrypts messages whose subject carries it.", str(func(c *Config) *string { return &c.SecureMark })},
	{"OPTOUT_FORM_URL", "", false, "Web page of the opt-out form, given in the instructions and acknowledgements (an `https://` address; NCL's is `https://nclhealthandcare.org.uk/digital/the-london-care-record/`). Required.", httpsURL(func(c *Config) *string { return &c.FormURL })},
	{"OPTOUT_ENQUIRY_PHONE", "", false, "Telephone number for residents who cannot use email or need another format or language; when set, the instructions and acknowledgements say they can call it. Empty: they are asked to reply, or have someone write for them.", phone(func(c *Config) *string { return &c.EnquiryPhone })},
	{"OPTOUT_IMAP_ADDR", "", false, "IMAP server `host:port` (NHSmail: `outlook.office365.com:993`). Required.", str(func(c *Config) *string { return &c.IMAPAddr })},
	{"OPTOUT_IMAP_TLS", "implicit", false, "`implicit` (port 993), `starttls`, or `none` (loopback addresses only).", oneOf(func(c *Config) *string { return &c.IMAPTLS }, "implicit", "starttls", "none")},
	{"OPTOUT_IMAP_USER", "", false, "IMAP user name (the mailbox address for NHSmail). Required.", str(func(c *Config) *string { return &c.IMAPUser })},
	{"OPTOUT_IMAP_AUTH", "plain", false, "`plain`, `login` or `xoauth2` (NHSmail needs `xoauth2`).", oneOf(func(c *Config) *string { return &c.IMAPAuth }, "plain", "login", "xoauth2")},
	{"OPTOUT_IMAP_PASSWORD", "", true, "IMAP password, for `plain` and `login`.", str(func(c *Config) *string { return &c.IMAPPassword })},
	{"OPTOUT_OAUTH_TENANT", "", false, "Microsoft Entra tenant id, for `xoauth2` with client credentials or a refresh token.", str(func(c *Config) *string { return &c.OAuthTenant })},
	{"OPTOUT_OAUTH_CLIENT_ID", "", false, "OAuth 2.0 application (client) id.", str(func(c *Config) *string { return &c.OAuthClientID })},
	{"OPTOUT_OAUTH_CLIENT_SECRET", "", true, "OAuth 2.0 client secret (client-credentials flow).", str(func(c *Config) *string { return &c.OAuthClientSecret })},
	{"OPTOUT_OAUTH_REFRESH_TOKEN", "", true, "Initial OAuth 2.0 refresh token (delegated flow); rotated tokens are stored encrypted in the database.", str(func(c *Config) *string { return &c.OAuthRefreshToken })},
	{"OPTOUT_IMAP_TOKEN_COMMAND", "", false, "Fallback: a command that prints an OAuth access token.", str(func(c *Config) *string { return &c.IMAPTokenCommand })},
	{"OPTOUT_IMAP_TOKEN_FILE", "", false, "Fallback: a file holding an OAuth access token, re-read on every login.", str(func(c *Config) *string { return &c.IMAPTokenFile })},
	{"OPTOUT_IMAP_INBOX", "INBOX", false, "Folder the daemon reads new mail from.", str(func(c *Config) *string { return &c.Inbox })},
	{"OPTOUT_FOLDER_PROCESSED", mailbox.DefaultFolders.Processed, false, "Folder for handled mail (created when missing).", str(func(c *Config) *string { return &c.FolderProcessed })},
	{"OPTOUT_FOLDER_TRIAGE", mailbox.DefaultFolders.Triage, false, "Folder for mail waiting for staff (created when missing).", str(func(c *Config) *string { return &c.FolderTriage })},
	{"OPTOUT_FOLDER_AUTO", mailbox.DefaultFolders.Auto, false, "Folder for automatic mail: out-of-office, bounces, lists (created when missing).", str(func(c *Config) *string { return &c.FolderAuto })},
	{"OPTOUT_FOLDER_SENT", "", false, "When set, a copy of every reply sent is appended to this IMAP folder (for example `Sent Items`), over an IMAP connection of its own so sending never waits for a poll; empty keeps no copy. Leave it empty on NHSmail (Exchange Online), which files its own copy of every SMTP submission in Sent Items.", str(func(c *Config) *string { return &c.FolderSent })},
	{"OPTOUT_SMTP_ADDR", "", false, "SMTP submission server `host:port` (NHSmail: `smtp.office365.com:587`). Required.", str(func(c *Config) *string { return &c.SMTPAddr })},
	{"OPTOUT_SMTP_TLS", "starttls", false, "`starttls`, `implicit` (port 465), or `none` (loopback addresses only).", oneOf(func(c *Config) *string { return &c.SMTPTLS }, "implicit", "starttls", "none")},
	{"OPTOUT_SMTP_USER", "", false, "SMTP user name; empty for no authentication.", str(func(c *Config) *string { return &c.SMTPUser })},
	{"OPTOUT_SMTP_AUTH", "plain", false, "`plain` or `xoauth2` (uses the IMAP OAuth settings).", oneOf(func(c *Config) *string { return &c.SMTPAuth }, "plain", "xoauth2")},
	{"OPTOUT_SMTP_PASSWORD", "", true, "SMTP password, for `plain`.", str(func(c *Config) *string { return &c.SMTPPassword })},
	{"OPTOUT_SMTP_RATE", "30", false, "Most replies sent a minute, for the mailbox as a whole (every replica together), spread evenly with bursts of at most 5; `0` for no pacing. Exchange Online allows 30 a minute per mailbox.", integer(func(c *Config) *int { return &c.SMTPRate }, 0)},
	{"OPTOUT_SMTP_DAILY_LIMIT", "10000", false, "Most recipients in any rolling 24 hours, counted from the replies the database records as sent; when reached, sending waits (nothing fails) and resumes as the window frees, instructions and outcomes before acknowledgements. `0` for none. Exchange Online allows 10,000 a day per mailbox.", integer(func(c *Config) *int { return &c.SMTPDaily }, 0)},
	{"OPTOUT_HTTP_ADDR", "127.0.0.1:8080", false, "Address of the triage page, `/metrics`, `/healthz` and `/readyz`.", str(func(c *Config) *string { return &c.HTTPAddr })},
	{"OPTOUT_POLL_SCHEDULE", "* * * * *", false, "Cron schedule of mailbox polls (IMAP IDLE picks mail up sooner where the server has it).", schedule(func(c *Config) *string { return &c.PollSchedule })},
	{"OPTOUT_PURGE_SCHEDULE", "17 3 * * *", false, "Cron schedule of the retention purge.", schedule(func(c *Config) *string { return &c.PurgeSchedule })},
	{"OPTOUT_SCAN_DAYS", "3", false, "Every 15 minutes, also scan mail of the last N days, to catch anything a UID jump or a client marking mail read would hide.", integer(func(c *Config) *int { return &c.ScanDays }, 1)},
	{"OPTOUT_MAX_AGE", "7d", false, "Mail that arrived (IMAP INTERNALDATE) longer ago than this is never answered on its own: it is recorded, left in the inbox and listed by `optoutd backlog`. At least `1h`; long enough to ride out an outage of the service.", maxAge(func(c *Config) *time.Duration { return &c.MaxAge })},
	{"OPTOUT_START_AFTER", "", false, "Optional go-live moment, RFC 3339 (`2026-12-07T09:00:00Z`): mail that arrived before it is held back like old mail. Mail flagged `\\Answered` (replied to by hand) is always held back.", rfc3339(func(c *Config) *time.Time { return &c.StartAfter })},
	{"OPTOUT_RETENTION", "90d", false, "How long raw messages and attachments are kept once processed (`90d`, `720h`); the register and audit stay.", duration(func(c *Config) *time.Duration { return &c.Retention })},
	{"OPTOUT_UNSOLICITED_POLICY", "process", false, "A form that arrives without the secure exchange: `process` (read it, answer through the secure marker) or `ask` (send the instructions, keep it for staff).", oneOf(func(c *Config) *string { return &c.Unsolicited }, "process", "ask")},
	{"OPTOUT_REPLY_LIMIT", "10", false, "At most this many replies per sender address per window (loop and abuse protection).", integer(func(c *Config) *int { return &c.ReplyLimit }, 1)},
	{"OPTOUT_REPLY_WINDOW", "3h", false, "The window of OPTOUT_REPLY_LIMIT.", duration(func(c *Config) *time.Duration { return &c.ReplyWindow })},
	{"OPTOUT_ENQUIRY_DAYS", "10", false, "Working days (England and Wales) within which a message that needs a person (a question, a request made for someone else, another format, an opt back in, a chase) is answered; complaints are acknowledged within 3 working days and rights requests answered within one calendar month, as the law sets.", integer(func(c *Config) *int { return &c.EnquiryDays }, 1)},
	{"OPTOUT_REPLY_WAIT_DAYS", "10", false, "Days an item waits for the resident's answer to a staff reply before it comes back to the triage queue unanswered (an answer brings it back at once).", integer(func(c *Config) *int { return &c.ReplyWaitDays }, 1)},
	{"OPTOUT_MAX_MESSAGE_SIZE", fmt.Sprintf("%dMB", mailbox.DefaultMaxMessageBytes>>20), false, "Messages larger than this go to triage without being downloaded whole.", size(func(c *Config) *int64 { return &c.MaxMessage })},
	{"OPTOUT_MAX_ATTACHMENT_SIZE", "35MB", false, "Largest attachment read (NHSmail's own maximum is 35 MB).", size(func(c *Config) *int64 { return &c.MaxAttachment })},
	{"OPTOUT_EXTRACT_TIMEOUT", "2m", false, "Longest time reading one message's forms may take (every attachment, the PDF readers included); past it the message goes to staff as \"could not be processed\", never lost or answered twice. More than `0s`, at most `1h`.", extractTimeout(func(c *Config) *time.Duration { return &c.ExtractTimeout })},
	{"OPTOUT_TEMPLATE_DIR", "", false, "Directory of reply templates that override the built-in ones (same file names).", str(func(c *Config) *string { return &c.TemplateDir })},
	{"OPTOUT_SESSION_IDLE", "30m", false, "Staff sessions end after this much idle time.", duration(func(c *Config) *time.Duration { return &c.SessionIdle })},
	{"OPTOUT_SESSION_MAX", "12h", false, "Staff sessions end this long after sign-in, however busy.", duration(func(c *Config) *time.Duration { return &c.SessionMax })},
	{"OPTOUT_TRUSTED_PROXIES", "", false, "Reverse proxies in front of the triage page (comma-separated CIDRs or addresses): only from these are `X-Forwarded-For` (the client address sign-in limits count) and `X-Forwarded-Proto` (HSTS, cookies) believed. Empty: none.", prefixes(func(c *Config) *[]netip.Prefix { return &c.TrustedProxies })},
	{"OPTOUT_LOCAL_SIGNIN", "on", false, "`on`: staff may sign in with a password set by `optoutd staff`; `off`: NHSmail (OpenID Connect) only.", oneOf(func(c *Config) *string { return &c.LocalSignin }, "on", "off")},
	{"OPTOUT_METRICS_ADDR", "", false, "When set, `/metrics` is served on this address only (for example `127.0.0.1:9090`), not on OPTOUT_HTTP_ADDR.", str(func(c *Config) *string { return &c.MetricsAddr })},
	{"OPTOUT_OIDC_ISSUER", "", false, "OpenID Connect issuer for \"Sign in with NHSmail\" (Entra ID: `https://login.microsoftonline.com/<tenant>/v2.0`). Empty: password sign-in only.", serviceURL(func(c *Config) *string { return &c.OIDCIssuer })},
	{"OPTOUT_OIDC_CLIENT_ID", "", false, "OpenID Connect client (application) id of the triage page.", str(func(c *Config) *string { return &c.OIDCClientID })},
	{"OPTOUT_OIDC_CLIENT_SECRET", "", true, "OpenID Connect client secret.", str(func(c *Config) *string { return &c.OIDCClientSecret })},
	{"OPTOUT_OIDC_REDIRECT_URL", "", false, "Where the provider sends staff back: the page's public address plus `/signin/oidc/callback`.", serviceURL(func(c *Config) *string { return &c.OIDCRedirectURL })},
	{"OPTOUT_LOG_FORMAT", "json", false, "`json` or `text`.", oneOf(func(c *Config) *string { return &c.LogFormat }, "json", "text")},
	{"OPTOUT_LOG_LEVEL", "info", false, "`debug`, `info`, `warn` or `error`.", oneOf(func(c *Config) *string { return &c.LogLevel }, "debug", "info", "warn", "error")},
}

// ConfigFileVar names the optional file of KEY=VALUE lines read before the
// environment (the environment wins).
const ConfigFileVar = "OPTOUT_CONFIG_FILE"

// Load reads every setting from getenv (os.Getenv in production) and the
// optional OPTOUT_CONFIG_FILE, applies defaults and parses values. It reports
// every bad value at once. It does not check that required settings are
// present: commands call the Require* methods for what they need, or use
// LoadDaemon. When only some values are bad, the returned Config holds the
// good ones (and defaults for the rest), so callers can report missing
// settings in the same run.
func Load(getenv func(string) string) (*Config, error) {
	file := map[string]string{}
	if path := getenv(ConfigFileVar); path != "" {
		var err error
		if file, err = readEnvFile(path); err != nil { // nothing else can be read

			return nil, err
		}
	}
	lookup := func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return file[name]
	}
	c := &Config{}
	var errs []error
	for _, s := range Settings {
		v := lookup(s.Name)
		if s.Secret {
			if path := lookup(s.Name + "_FILE"); path != "" {
				if v != "" {
					errs = append(errs, fmt.Errorf("%s and %s_FILE are both set: set only one", s.Name, s.Name))
					continue
				}
				b, err := os.ReadFile(path)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s_FILE: %w", s.Name, err))
					continue
				}
				v = strings.TrimSpace(string(b))
			}
		}
		if v == "" {
			v = s.Default
		}
		if v == "" {
			continue
		}
		if err := s.set(c, v); err != nil {
			shown := v
			if s.Secret {
				shown = "(secret)"
			}
			errs = append(errs, fmt.Errorf("%s=%q %w", s.Name, shown, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("configuration: %w", err)
	}
	return c, nil
}

// LoadDaemon is Load followed by RequireDaemon, reporting bad and missing
// settings together.
func LoadDaemon(getenv func(string) string) (*Config, error) {
	c, err := Load(getenv)
	if c == nil {
		return nil, err
	}
	return c, errors.Join(err, c.RequireDaemon())
}

// RequireDatabase checks the settings every database command needs.
func (c *Config) RequireDatabase() error {
	return missing(map[string]string{"DATABASE_URL": c.DatabaseURL, "OPTOUT_DATA_KEY": c.DataKey, "OPTOUT_INDEX_KEY": c.IndexKey})
}

// RequireDaemon checks the settings `optoutd run` and `optoutd once` need,
// including that plain-text connections go to loopback addresses only.
func (c *Config) RequireDaemon() error {
	var errs []error
	if err := c.RequireDatabase(); err != nil {
		errs = append(errs, err)
	}
	req := map[string]string{"OPTOUT_ADDRESS": c.Address, "OPTOUT_FORM_URL": c.FormURL, "OPTOUT_IMAP_ADDR": c.IMAPAddr, "OPTOUT_IMAP_USER": c.IMAPUser, "OPTOUT_SMTP_ADDR": c.SMTPAddr, "OPTOUT_TOKEN_KEY": c.TokenKey}
	if err := missing(req); err != nil {
		errs = append(errs, err)
	}
	if c.Address != "" && !strings.Contains(c.Address, "@") {
		errs = append(errs, errors.New("OPTOUT_ADDRESS must be an email address such as joined-up.care-record@nhs.net"))
	}
	for name, pair := range map[string][2]string{"OPTOUT_IMAP": {c.IMAPAddr, c.IMAPTLS}, "OPTOUT_SMTP": {c.SMTPAddr, c.SMTPTLS}} {
		if pair[0] == "" {
			continue
		}
		host, _, err := net.SplitHostPort(pair[0])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s_ADDR must be host:port: %w", name, err))
			continue
		}
		if pair[1] == "none" && !loopback.Host(host) {
			errs = append(errs, fmt.Errorf("%s_TLS=none is allowed only for loopback addresses; use implicit or starttls", name))
		}
	}
	if err := c.checkWebSignin(); err != nil {
		errs = append(errs, err)
	}
	switch c.IMAPAuth {
	case "plain", "login":
		if c.IMAPPassword == "" {
			errs = append(errs, fmt.Errorf("OPTOUT_IMAP_PASSWORD is required with OPTOUT_IMAP_AUTH=%s", c.IMAPAuth))
		}
	case "xoauth2":
		if c.IMAPTokenCommand == "" && c.IMAPTokenFile == "" && (c.OAuthTenant == "" || c.OAuthClientID == "" || (c.OAuthClientSecret == "" && c.OAuthRefreshToken == "")) {
			errs = append(errs, errors.New("OPTOUT_IMAP_AUTH=xoauth2 needs OPTOUT_OAUTH_TENANT, OPTOUT_OAUTH_CLIENT_ID and OPTOUT_OAUTH_CLIENT_SECRET (or OPTOUT_OAUTH_REFRESH_TOKEN), or OPTOUT_IMAP_TOKEN_COMMAND / OPTOUT_IMAP_TOKEN_FILE"))
		}
	}
	return errors.Join(errs...)
}

// checkWebSignin checks the sign-in settings together: OpenID Connect is
// all or nothing, and password sign-in may be off only when it is on.
func (c *Config) checkWebSignin() error {
	set := 0
	for _, v := range []string{c.OIDCIssuer, c.OIDCClientID, c.OIDCRedirectURL} {
		if v != "" {
			set++
		}
	}
	if set != 0 && set != 3 {
		return errors.New("OpenID Connect needs OPTOUT_OIDC_ISSUER, OPTOUT_OIDC_CLIENT_ID and OPTOUT_OIDC_REDIRECT_URL together")
	}
	if c.LocalSignin == "off" && set == 0 {
		return errors.New("OPTOUT_LOCAL_SIGNIN=off needs OpenID Connect (OPTOUT_OIDC_ISSUER and the rest), or nobody could sign in")
	}
	return nil
}

func missing(req map[string]string) error {
	var names []string
	for _, s := range Settings { // keep the table's order
		if v, ok := req[s.Name]; ok && v == "" {
			names = append(names, s.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	return fmt.Errorf("missing required settings: %s (see the configuration table in README.md)", strings.Join(names, ", "))
}

// ParseDuration accepts Go durations ("90m", "720h") and whole days ("90d").
func ParseDuration(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, errors.New("must be a duration such as 90d, 3h or 30m")
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, errors.New("must be a duration such as 90d, 3h or 30m")
	}
	return d, nil
}

// ParseSize accepts a byte count with an optional KB, MB or GB suffix (powers of 1024).
func ParseSize(v string) (int64, error) {
	mult := int64(1)
	s := strings.ToUpper(strings.TrimSpace(v))
	for suffix, m := range map[string]int64{"KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			s, mult = strings.TrimSpace(n), m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("must be a size such as 35MB or 1048576")
	}
	return n * mult, nil
}

func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ConfigFileVar, err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: line %d is not KEY=VALUE", ConfigFileVar, n)
		}
		out[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	return out, sc.Err()
}

// Markdown renders the settings as the README's configuration table.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| Variable | Default | Meaning |\n|---|---|---|\n")
	for _, s := range Settings {
		def := "—"
		if s.Default != "" {
			def = "`" + s.Default + "`"
		}
		name := "`" + s.Name + "`"
		if s.Secret {
			name += " (or `" + s.Name + "_FILE`)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", name, def, s.Doc)
	}
	return b.String()
}
