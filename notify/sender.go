package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/ncl-icb/optout-intake/internal/loopback"
)

// TLSMode says how the SMTP connection is secured.
type TLSMode string

// The TLS modes (OPTOUT_SMTP_TLS).
const (
	TLSImplicit TLSMode = "implicit" // TLS from the first byte (port 465)
	TLSStartTLS TLSMode = "starttls" // plain connection upgraded with STARTTLS (port 587); required
	TLSNone     TLSMode = "none"     // no TLS: allowed only to a loopback address (tests, demo)
)

// AuthMode says how the sender logs in.
type AuthMode string

// The authentication modes.
const (
	AuthNone    AuthMode = "none"    // no AUTH (a trusted relay, tests)
	AuthPlain   AuthMode = "plain"   // AUTH PLAIN with User and Password
	AuthXOAUTH2 AuthMode = "xoauth2" // AUTH XOAUTH2 with User and a token from Token
)

// Defaults for SenderConfig.
const (
	DefaultSendTimeout = time.Minute
	DefaultIdleTimeout = 30 * time.Second
)

// SenderConfig configures a Sender.
type SenderConfig struct {
	Addr string  // host:port of the submission server (OPTOUT_SMTP_ADDR)
	TLS  TLSMode // default TLSStartTLS
	// TLSConfig is used for the TLS handshake; nil means system roots and
	// the host of Addr as server name.
	TLSConfig *tls.Config
	Auth      AuthMode // default AuthPlain when User is set, else AuthNone
	User      string   // login name (OPTOUT_SMTP_USER)
	Password  string   // AuthPlain only (OPTOUT_SMTP_PASSWORD)
	// Token returns a current OAuth 2.0 access token; AuthXOAUTH2 only.
	Token func(ctx context.Context) (string, error)
	// HeloName is the name given in EHLO after TLS is up. Default "localhost".
	HeloName string
	// Timeout bounds one whole Send (connect, TLS, auth, transaction).
	// Default DefaultSendTimeout.
	Timeout time.Duration
	// IdleTimeout is how long an idle connection is kept for the next Send.
	// Default DefaultIdleTimeout; negative disables reuse.
	IdleTimeout time.Duration
	// Slot, when set, is called before each new connection and must return
	// once the connection may be opened; the Sender calls release when the
	// connection closes. The daemon passes store.AcquireSMTPSlot, so the
	// deployment never holds more than 3 connections (Exchange Online's
	// limit per mailbox).
	Slot func(ctx context.Context) (release func(), err error)
}

// Validate checks c and fills in its defaults.
func (c *SenderConfig) Validate() error {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil || host == "" || port == "" {
		return errors.New("smtp sender: OPTOUT_SMTP_ADDR must be host:port, e.g. send.nhs.net:587")
	}
	if c.TLS == "" {
		c.TLS = TLSStartTLS
	}
	switch c.TLS {
	case TLSImplicit, TLSStartTLS:
	case TLSNone:
		if !loopback.Host(host) {
			return errors.New("smtp sender: OPTOUT_SMTP_TLS=none is allowed only for a loopback address: use starttls or implicit")
		}
	default:
		return fmt.Errorf("smtp sender: OPTOUT_SMTP_TLS is %q: use implicit, starttls or none", c.TLS)
	}
	if c.Auth == "" {
		c.Auth = AuthNone
		if c.User != "" {
			c.Auth = AuthPlain
		}
	}
	switch c.Auth {
	case AuthNone:
	case AuthPlain:
		if c.User == "" || c.Password == "" {
			return errors.New("smtp sender: AUTH PLAIN needs OPTOUT_SMTP_USER and OPTOUT_SMTP_PASSWORD")
		}
	case AuthXOAUTH2:
		if c.User == "" || c.Token == nil {
			return errors.New("smtp sender: XOAUTH2 needs OPTOUT_SMTP_USER and an OAuth 2.0 token source")
		}
	default:
		return fmt.Errorf("smtp sender: auth mode %q: use plain, xoauth2 or none", c.Auth)
	}
	if c.HeloName == "" {
		c.HeloName = "localhost"
	}
	if strings.ContainsAny(c.HeloName, " \r\n") {
		return errors.New("smtp sender: the HELO name must be a host name")
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultSendTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	return nil
}

// Sender submits messages over SMTP. It keeps at most one connection open
// between sends and is safe for concurrent use (sends are serialised).
type Sender struct {
	cfg SenderConfig
	log *slog.Logger

	mu       sync.Mutex
	client   *smtp.Client
	conn     net.Conn
	lastUsed time.Time
	release  func() // frees the connection's Slot, nil when none is held
}

// NewSender validates cfg and returns a Sender. It does not connect.
func NewSender(cfg SenderConfig, log *slog.Logger) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{cfg: cfg, log: log}, nil
}

// SendError is the error Send returns. It says which step failed and the
// server's status code, never the recipient's address.
type SendError struct {
	Step     string // connect, tls, hello, auth, mail, rcpt, data
	Code     int    // SMTP reply code, 0 when the server did not answer
	Enhanced string // enhanced status code such as "5.1.1", "" when none
	// Setup is true when the failure is about the connection or our own
	// configuration (connect, TLS, EHLO, AUTH) rather than this message:
	// the next message would fail the same way.
	Setup bool
	temp  bool
	err   error
}

func (e *SendError) Error() string {
	var b strings.Builder
	b.WriteString("smtp ")
	b.WriteString(e.Step)
	if e.Code != 0 {
		fmt.Fprintf(&b, ": server answered %d", e.Code)
		if e.Enhanced != "" {
			b.WriteString(" " + e.Enhanced)
		}
	}
	if e.err != nil {
		b.WriteString(": ")
		b.WriteString(e.err.Error())
	}
	if e.temp {
		b.WriteString(" (temporary: will retry)")
	} else {
		b.WriteString(" (permanent)")
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *SendError) Unwrap() error { return e.err }

// Temporary reports whether sending again later may succeed: SMTP 4xx
// replies, network errors, timeouts and setup failures (bad credentials,
// expired token, TLS) are temporary; 5xx replies to MAIL, RCPT or DATA are
// permanent. Errors that are not a *SendError follow retry.Temporary's
// rule: one that says nothing is temporary, so mail is never given up on
// by accident.
func (e *SendError) Temporary() bool { return e.temp }

// redactedSMTPError carries the server's reply text with anything that looks
// like an address removed.
type redactedSMTPError struct{ msg string }

func (e redactedSMTPError) Error() string { return e.msg }

// classify wraps err from step into a *SendError.
func classify(step string, err error) *SendError {
	setup := step == "connect" || step == "tls" || step == "hello" || step == "auth"
	se := &SendError{Step: step, Setup: setup, temp: true}
	var smtpErr *smtp.SMTPError
	if errors.As(err, &smtpErr) {
		se.Code = smtpErr.Code
		if ec := smtpErr.EnhancedCode; ec != smtp.EnhancedCodeNotSet && ec != smtp.NoEnhancedCode && ec[0] > 0 {
			se.Enhanced = fmt.Sprintf("%d.%d.%d", ec[0], ec[1], ec[2])
		}
		se.err = redactedSMTPError{msg: RedactAddresses(smtpErr.Message)}
		se.temp = setup || smtpErr.Code/100 != 5
		return se
	}
	// Network errors, timeouts, closed connections, protocol confusion:
	// nothing says the message itself is bad, so try again later.
	se.err = redactErr(err)
	return se
}

// redactErr keeps errors that cannot hold an address and replaces the
// text of others.
func redactErr(err error) error {
	if err == nil {
		return nil
	}
	if strings.Contains(err.Error(), "@") {
		return fmt.Errorf("%s", RedactAddresses(err.Error()))
	}
	return err
}

// RedactAddresses removes every word containing '@' (an email address)
// and caps the length at 200 bytes, for text a mail server wrote (an SMTP
// reply, a bounce's diagnostic) that is logged or kept as an error.
func RedactAddresses(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		if strings.Contains(w, "@") {
			words[i] = "[address]"
		}
	}
	s = strings.Join(words, " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.ToValidUTF8(s, "")
}

// Send submits raw from the envelope sender from to the recipients in to.
// The error, when not nil, is a *SendError: check Temporary (or
// retry.Temporary) to decide between retrying and giving up. Send gives up
// after cfg.Timeout or when ctx ends.
func (s *Sender) Send(ctx context.Context, from string, to []string, raw []byte) error {
	if len(to) == 0 {
		return &SendError{Step: "rcpt", err: errors.New("no recipients")}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()

	s.mu.Lock()
	defer s.mu.Unlock()

	c, conn, reused, err := s.connection(ctx)
	if err != nil {
		return withContext(ctx, err)
	}
	// go-smtp has no context: closing the connection aborts whatever it waits on.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	err = s.transaction(c, from, to, raw)
	aborted := !stop()
	if err != nil && reused && !aborted && staleSession(err) {
		// The kept connection died while idle, or the server lost track
		// of it: try once on a fresh one before giving anything up.
		s.drop()
		c, conn, _, err2 := s.connection(ctx)
		if err2 != nil {
			return withContext(ctx, err2)
		}
		stop = context.AfterFunc(ctx, func() { conn.Close() })
		err = s.transaction(c, from, to, raw)
		aborted = !stop()
	}
	if err != nil {
		s.drop()
		if aborted {
			return withContext(ctx, err)
		}
		return err
	}
	s.lastUsed = time.Now()
	if s.cfg.IdleTimeout < 0 {
		s.quit()
	}
	return nil
}

// staleSession reports a failure on a kept connection that is about the
// connection, not the message: no answer to MAIL (it died while idle), or
// 503 "bad sequence of commands" at any step (the server lost track of the
// session, e.g. one that refuses the EHLO go-smtp sends again after RSET).
func staleSession(err *SendError) bool {
	return err.Step == "mail" && err.Code == 0 || err.Code == 503
}

// withContext marks err as caused by ctx ending, when it has ended: the
// failure says nothing about the message, so it is temporary.
func withContext(ctx context.Context, err *SendError) *SendError {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err.err = fmt.Errorf("%w (%w)", err.err, ctx.Err())
		err.temp = true
	}
	return err
}

// transaction runs MAIL, RCPT and DATA on c.
func (s *Sender) transaction(c *smtp.Client, from string, to []string, raw []byte) *SendError {
	if err := c.Mail(from, &smtp.MailOptions{Size: int64(len(raw))}); err != nil {
		return classify("mail", err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt, nil); err != nil {
			return classify("rcpt", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return classify("data", err)
	}
	if _, err := w.Write(raw); err != nil {
		w.Close()
		return classify("data", err)
	}
	if !bytes.HasSuffix(raw, []byte("\r\n")) {
		if _, err := w.Write([]byte("\r\n")); err != nil {
			w.Close()
			return classify("data", err)
		}
	}
	if err := w.Close(); err != nil {
		return classify("data", err)
	}
	return nil
}

// connection returns the kept connection after a successful RSET and a new
// greeting, or a new one, connected, secured, greeted and logged in. The
// caller holds s.mu.
//
// go-smtp greets again after RSET (RFC 5321 allows EHLO at any time); some
// servers refuse that with "503 Duplicate HELO/EHLO". Greeting here, rather
// than inside MAIL, makes such a refusal a reason to dial afresh instead of
// a failure of the message.
func (s *Sender) connection(ctx context.Context) (c *smtp.Client, conn net.Conn, reused bool, _ *SendError) {
	if s.client != nil {
		if time.Since(s.lastUsed) < s.cfg.IdleTimeout {
			conn := s.conn
			stop := context.AfterFunc(ctx, func() { conn.Close() })
			err := s.client.Reset()
			if err == nil {
				err = s.client.Hello(s.cfg.HeloName)
			}
			if stop() && err == nil {
				return s.client, s.conn, true, nil
			}
			if err != nil {
				s.log.Debug("smtp kept connection refused; dialling a new one", slog.String("error", redactErr(err).Error()))
			}
		}
		s.drop()
	}
	if s.cfg.Slot != nil {
		release, err := s.cfg.Slot(ctx)
		if err != nil {
			return nil, nil, false, &SendError{Step: "connect", Setup: true, temp: true, err: err}
		}
		s.release = release
	}
	c, conn, err := s.dial(ctx)
	if err != nil {
		s.freeSlot()
		return nil, nil, false, err
	}
	s.client, s.conn = c, conn
	return c, conn, false, nil
}

func (s *Sender) dial(ctx context.Context) (*smtp.Client, net.Conn, *SendError) {
	host, _, _ := net.SplitHostPort(s.cfg.Addr)
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.cfg.TLSConfig != nil {
		tlsConfig = s.cfg.TLSConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = host
	}
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return nil, nil, classify("connect", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		// Bounds the TLS handshake; go-smtp sets its own per-command deadlines.
		conn.SetDeadline(dl)
	}

	var c *smtp.Client
	switch s.cfg.TLS {
	case TLSImplicit:
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, nil, classify("tls", err)
		}
		c = smtp.NewClient(tc) // conn stays the raw connection: closing it aborts at once

	case TLSStartTLS:
		// go-smtp greets with EHLO localhost before STARTTLS; our HeloName
		// is given after, on the secured connection.
		c, err = smtp.NewClientStartTLS(conn, tlsConfig)
		if err != nil {
			conn.Close()
			return nil, nil, classify("tls", err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	c.CommandTimeout = s.cfg.Timeout
	c.SubmissionTimeout = s.cfg.Timeout
	if err := c.Hello(s.cfg.HeloName); err != nil {
		c.Close()
		return nil, nil, classify("hello", err)
	}
	if s.cfg.TLS == TLSStartTLS {
		if _, ok := c.TLSConnectionState(); !ok {
			c.Close()
			return nil, nil, classify("tls", errors.New("connection is not encrypted after STARTTLS"))
		}
	}
	if err := s.auth(ctx, c); err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, conn, nil
}

func (s *Sender) auth(ctx context.Context, c *smtp.Client) *SendError {
	var a sasl.Client
	switch s.cfg.Auth {
	case AuthNone:
		return nil
	case AuthPlain:
		a = sasl.NewPlainClient("", s.cfg.User, s.cfg.Password)
	case AuthXOAUTH2:
		token, err := s.cfg.Token(ctx)
		if err != nil {
			return &SendError{Step: "auth", Setup: true, temp: true, err: fmt.Errorf("get oauth token: %w", redactErr(err))}
		}
		a = &xoauth2Client{user: s.cfg.User, token: token}
	}
	if err := c.Auth(a); err != nil {
		return classify("auth", err)
	}
	return nil
}

// drop closes the kept connection without QUIT. The caller holds s.mu.
func (s *Sender) drop() {
	if s.client != nil {
		s.client.Close()
	}
	s.client, s.conn = nil, nil
	s.freeSlot()
}

// freeSlot gives back the connection's Slot, if one is held. The caller
// holds s.mu.
func (s *Sender) freeSlot() {
	if s.release != nil {
		s.release()
		s.release = nil
	}
}

// quit ends the kept connection politely. The caller holds s.mu.
func (s *Sender) quit() {
	if s.client != nil {
		s.conn.SetDeadline(time.Now().Add(5 * time.Second))
		s.client.Quit()
		s.client.Close()
	}
	s.client, s.conn = nil, nil
	s.freeSlot()
}

// Close ends the kept connection, if any.
func (s *Sender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quit()
	return nil
}

// xoauth2Client is the SASL XOAUTH2 mechanism used by Exchange Online and Gmail.
type xoauth2Client struct {
	user, token string
}

func (a *xoauth2Client) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + a.user + "\x01auth=Bearer " + a.token + "\x01\x01"), nil
}

// Next answers the server's error challenge (a JSON status) with an empty
// response, after which the server sends its final failure reply.
func (a *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	return []byte{}, nil
}
