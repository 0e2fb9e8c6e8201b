// Package mailbox is the IMAP side of optout-intake: it logs in to the
// service mailbox (NHSmail / Exchange Online in production, Dovecot in tests),
// lists and downloads new messages in batches, moves handled messages to the
// Processed, Triage and Auto folders, copies sent replies to Sent (over a
// connection of their own, SentFolder), and waits for new mail with IDLE.
// A message whose handling fails stays in the inbox and is retried.
//
// The package owns no data: it never deletes mail (messages only move, and
// the COPY fallback expunges exactly the UIDs it copied, with UID EXPUNGE), and
// the caller keeps the cursor (UIDVALIDITY and last UID) in its store. Logs and
// errors name mailboxes and UIDs only, never subjects, addresses or bodies.
//
// Typical use, from the pipeline:
//
//	sess := mailbox.NewSession(cfg, logger)
//	defer sess.Close()
//	err := sess.Do(ctx, func(c *mailbox.Client) error {
//		res, err := c.FetchNew(ctx, cursor, func(m mailbox.Msg) error {
//			return handle(m) // commit the outcome per message
//		})
//		cursor = res.Next // persist it
//		if err != nil {
//			return err
//		}
//		return c.Move(ctx, done, cfg.Folders.Processed) // batched, after commits
//	})
package mailbox

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/ncl-icb/optout-intake/internal/loopback"
)

// TLS modes for Config.TLS.
const (
	TLSImplicit = "implicit" // TLS from the first byte (port 993)
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS (port 143)
	TLSNone     = "none"     // no encryption: loopback addresses only
)

// Authentication mechanisms for Config.Auth.
const (
	AuthPlain   = "plain"   // SASL PLAIN with User and Password
	AuthLogin   = "login"   // SASL LOGIN with User and Password
	AuthXOAUTH2 = "xoauth2" // SASL XOAUTH2 with User and a bearer token from TokenSource
)

// Folders names the mailboxes messages are moved to once their outcome is
// committed. Each is created when missing (EnsureFolders).
type Folders struct {
	Processed string // handled messages (default "Processed")
	Triage    string // messages waiting for staff (default "Triage")
	Auto      string // auto-replies, bounces, lists (default "Auto")
	Sent      string // copies of our replies; "" keeps none (no default)
}

// DefaultFolders are the folder names used when Folders leaves one empty
// (and the defaults of OPTOUT_FOLDER_PROCESSED, _TRIAGE and _AUTO).
var DefaultFolders = Folders{Processed: "Processed", Triage: "Triage", Auto: "Auto"}

// All lists the configured folder names, without empty ones.
func (f Folders) All() []string {
	var out []string
	for _, n := range []string{f.Processed, f.Triage, f.Auto, f.Sent} {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// Config says how to reach and use the mailbox. Zero fields take the defaults
// documented on each; call Validate (Dial does) before use.
type Config struct {
	// Addr is host:port of the IMAP server, e.g. "outlook.office365.com:993".
	// Environment: OPTOUT_IMAP_ADDR.
	Addr string
	// TLS is "implicit" (default), "starttls" or "none" (loopback only).
	// Environment: OPTOUT_IMAP_TLS.
	TLS string
	// TLSConfig overrides the TLS client configuration (tests use it to trust
	// a private CA). Nil means the system roots and the host name from Addr.
	TLSConfig *tls.Config
	// User is the login name, usually the mailbox address.
	// Environment: OPTOUT_IMAP_USER.
	User string
	// Auth is "plain", "login" or "xoauth2". Default: "xoauth2" when
	// TokenSource is set, else "plain".
	Auth string
	// Password for plain and login. Environment: OPTOUT_IMAP_PASSWORD(_FILE).
	Password string
	// TokenSource gives bearer tokens for xoauth2 (see NewTokenSource).
	TokenSource oauth2.TokenSource
	// Inbox is the mailbox that receives residents' mail (default "INBOX").
	Inbox string
	// Folders are where handled messages go.
	Folders Folders
	// MaxMessageBytes is the largest message downloaded whole (default
	// DefaultMaxMessageBytes, 50 MiB).
	// Larger ones are delivered with TooLarge set and their header only.
	MaxMessageBytes int64
	// BatchSize is how many UIDs one FETCH or MOVE names (default 50).
	BatchSize int
	// BatchBytes caps the bytes of message bodies held in memory for one
	// fetch (default 64 MiB, at least MaxMessageBytes).
	BatchBytes int64
	// DialTimeout bounds connecting, TLS and login (default 30 s).
	DialTimeout time.Duration
	// CommandTimeout bounds one operation (a batch fetch, a move, an append;
	// default 2 min). The connection is closed when it runs out.
	CommandTimeout time.Duration
	// Dialer overrides the network dialer (local address, keep-alive). Its
	// Timeout is ignored: DialTimeout applies.
	Dialer *net.Dialer
	// DisableMove makes Move use COPY + \Deleted + UID EXPUNGE even when the
	// server offers MOVE (for tests of the fallback, and broken servers).
	DisableMove bool
}

// Defaults.
const (
	DefaultMaxMessageBytes = 50 << 20 // the default of OPTOUT_MAX_MESSAGE_SIZE and of message.DefaultLimits
	DefaultBatchSize       = 50
	DefaultBatchBytes      = 64 << 20
	DefaultDialTimeout     = 30 * time.Second
	DefaultCommandTimeout  = 2 * time.Minute
)

// WithDefaults returns a copy of cfg with the zero fields filled in (folder
// names included): callers use it to learn the effective folder names.
func (cfg Config) WithDefaults() Config {
	if cfg.TLS == "" {
		cfg.TLS = TLSImplicit
	}
	if cfg.Auth == "" {
		if cfg.TokenSource != nil {
			cfg.Auth = AuthXOAUTH2
		} else {
			cfg.Auth = AuthPlain
		}
	}
	cfg.TLS = strings.ToLower(cfg.TLS)
	cfg.Auth = strings.ToLower(cfg.Auth)
	if cfg.Inbox == "" {
		cfg.Inbox = "INBOX"
	}
	f := &cfg.Folders
	if f.Processed == "" {
		f.Processed = DefaultFolders.Processed
	}
	if f.Triage == "" {
		f.Triage = DefaultFolders.Triage
	}
	if f.Auto == "" {
		f.Auto = DefaultFolders.Auto
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.BatchBytes == 0 {
		cfg.BatchBytes = DefaultBatchBytes
	}
	if cfg.BatchBytes < cfg.MaxMessageBytes {
		cfg.BatchBytes = cfg.MaxMessageBytes
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.CommandTimeout == 0 {
		cfg.CommandTimeout = DefaultCommandTimeout
	}
	return cfg
}

// Validate reports every problem with the configuration (after defaults),
// each saying what to fix.
func (cfg Config) Validate() error {
	cfg = cfg.WithDefaults()
	var errs []error
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		errs = append(errs, fmt.Errorf("OPTOUT_IMAP_ADDR must be host:port, e.g. outlook.office365.com:993: %w", err))
	}
	switch cfg.TLS {
	case TLSImplicit, TLSStartTLS:
	case TLSNone:
		if err == nil && !loopback.Host(host) {
			errs = append(errs, errors.New("OPTOUT_IMAP_TLS=none is only allowed for loopback addresses (127.0.0.1, ::1, localhost): use implicit or starttls"))
		}
	default:
		errs = append(errs, fmt.Errorf("OPTOUT_IMAP_TLS must be implicit, starttls or none, not %q", cfg.TLS))
	}
	if cfg.User == "" {
		errs = append(errs, errors.New("OPTOUT_IMAP_USER is empty: set it to the mailbox login"))
	}
	switch cfg.Auth {
	case AuthPlain, AuthLogin:
		if cfg.Password == "" {
			errs = append(errs, fmt.Errorf("IMAP auth %s needs a password: set OPTOUT_IMAP_PASSWORD or OPTOUT_IMAP_PASSWORD_FILE, or use OAuth 2.0", cfg.Auth))
		}
	case AuthXOAUTH2:
		if cfg.TokenSource == nil {
			errs = append(errs, errors.New("IMAP auth xoauth2 needs a token source: configure OAuth 2.0 (client credentials, refresh token, token command or token file)"))
		}
	default:
		errs = append(errs, fmt.Errorf("IMAP auth must be plain, login or xoauth2, not %q", cfg.Auth))
	}
	if cfg.MaxMessageBytes < 1024 {
		errs = append(errs, fmt.Errorf("IMAP max message size %d is too small: use at least 1024 bytes", cfg.MaxMessageBytes))
	}
	if cfg.BatchSize < 1 || cfg.BatchSize > 1000 {
		errs = append(errs, fmt.Errorf("IMAP batch size %d is out of range: use 1 to 1000", cfg.BatchSize))
	}
	if cfg.DialTimeout < 0 || cfg.CommandTimeout < 0 {
		errs = append(errs, errors.New("IMAP timeouts must not be negative"))
	}
	seen := map[string]bool{folderKey(cfg.Inbox): true}
	for _, f := range cfg.Folders.All() {
		key := folderKey(f)
		if seen[key] {
			errs = append(errs, fmt.Errorf("IMAP folder %q is used twice (or is the inbox): give each folder its own name", f))
		}
		seen[key] = true
	}
	return errors.Join(errs...)
}

// folderKey compares mailbox names: INBOX is case-insensitive, others not.
func folderKey(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	return name
}
