// Package smtpsink is a small SMTP server that keeps every message it
// accepts in memory instead of delivering it. `optoutd demo` uses it as its
// outgoing mail server and the tests use it (through internal/smtptest) to
// check what the service sends. It listens on loopback only, can offer
// STARTTLS or implicit TLS with a self-signed certificate, can require AUTH
// PLAIN or XOAUTH2, can be told to refuse the next transactions with a
// given reply code to exercise retries, to refuse every greeting, MAIL,
// RCPT or DATA with a given reply and enhanced status code (Refuse), one
// recipient (RefuseRecipient), or every connection (SetDown: an outage),
// and can answer a second EHLO on a connection with "503 Duplicate
// HELO/EHLO" as some servers do.
//
// It owns no data beyond the messages held in memory while it runs.
package smtpsink

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/ncl-icb/optout-intake/internal/loopback"
)

// Message is one message the sink accepted.
type Message struct {
	From     string    // envelope sender (MAIL FROM)
	To       []string  // envelope recipients (RCPT TO)
	Raw      []byte    // the message as received, CRLF line endings
	User     string    // the authenticated user, "" without AUTH
	TLS      bool      // whether the session was encrypted
	Received time.Time // when DATA completed
}

// Config configures a sink. The zero value is a plain server on a free
// loopback port that accepts any mail without AUTH.
type Config struct {
	// Addr to listen on. Default "127.0.0.1:0"; must be a loopback address.
	Addr string
	// StartTLS offers STARTTLS with a self-signed certificate.
	StartTLS bool
	// ImplicitTLS speaks TLS from the first byte, with the same certificate.
	ImplicitTLS bool
	// RequireTLS refuses AUTH and MAIL before STARTTLS (needs StartTLS).
	RequireTLS bool
	// Users are AUTH PLAIN users and passwords. When Users or Tokens is
	// non-empty, AUTH is required before MAIL.
	Users map[string]string
	// Tokens are XOAUTH2 users and their valid access tokens.
	Tokens map[string]string
	// MaxMessageBytes caps a message. Default 25 MiB.
	MaxMessageBytes int64
	// RefuseSecondHello answers every EHLO or HELO after a connection's
	// first with "503 5.5.1 Duplicate HELO/EHLO", as some submission
	// servers do although RFC 5321 allows a client to greet again (go-smtp
	// does after RSET). Plain connections only: it cannot be combined with
	// StartTLS or ImplicitTLS.
	RefuseSecondHello bool
	// OnMessage, when set, is called with each accepted message.
	OnMessage func(Message)
	// Log receives the server's own error lines. Default: discarded.
	Log *slog.Logger
}

type failure struct {
	code  int
	count int
}

// Refusal is a reply the sink refuses with (see Refuse): Code and the
// enhanced status code Enhanced ("4.4.2"; empty for class.0.0), with Text,
// at Step: "greeting" (the connection is answered with it and closed, as a
// server refusing connections does), "mail", "rcpt" or "data" (after the
// message was read).
type Refusal struct {
	Step     string
	Code     int
	Enhanced string
	Text     string
}

// reply returns r as go-smtp's error.
func (r Refusal) reply() *smtp.SMTPError {
	ec := smtp.EnhancedCode{r.Code / 100, 0, 0}
	if r.Enhanced != "" {
		fmt.Sscanf(r.Enhanced, "%d.%d.%d", &ec[0], &ec[1], &ec[2])
	}
	text := r.Text
	if text == "" {
		text = "Requested action not taken"
	}
	return &smtp.SMTPError{Code: r.Code, EnhancedCode: ec, Message: text}
}

// line returns r as a reply line, for a greeting.
func (r Refusal) line() string {
	e := r.reply()
	return fmt.Sprintf("%d %d.%d.%d %s\r\n", e.Code, e.EnhancedCode[0], e.EnhancedCode[1], e.EnhancedCode[2], e.Message)
}

// Server is a running sink. Its methods are safe for concurrent use.
type Server struct {
	cfg  Config
	srv  *smtp.Server
	ln   net.Listener
	pool *x509.CertPool
	done chan struct{}

	mu       sync.Mutex
	msgs     []Message
	rejected int
	fails    []failure
	refusal  *Refusal           // Refuse's reply, until ClearRefusal
	refuseTo map[string]Refusal // RefuseRecipient's replies, by address
	down     bool               // SetDown: connections closed at once
	changed  chan struct{}      // closed and replaced whenever msgs changes
}

// Start listens and serves in the background until Close.
func Start(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("smtp sink: address %q is not host:port: %w", cfg.Addr, err)
	}
	if !loopback.Host(host) {
		return nil, fmt.Errorf("smtp sink: listen on a loopback address, not %q", host)
	}
	if cfg.RequireTLS && !cfg.StartTLS {
		return nil, errors.New("smtp sink: RequireTLS needs StartTLS")
	}
	if cfg.RefuseSecondHello && (cfg.StartTLS || cfg.ImplicitTLS) {
		return nil, errors.New("smtp sink: RefuseSecondHello works on plain connections only: turn off StartTLS and ImplicitTLS")
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 25 << 20
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, done: make(chan struct{}), changed: make(chan struct{})}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = 50
	srv.AllowInsecureAuth = !cfg.RequireTLS
	srv.ErrorLog = logAdapter{cfg.Log}
	var tlsConfig *tls.Config
	if cfg.StartTLS || cfg.ImplicitTLS {
		cert, pool, err := selfSigned()
		if err != nil {
			return nil, fmt.Errorf("smtp sink: make certificate: %w", err)
		}
		s.pool = pool
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if cfg.StartTLS {
			srv.TLSConfig = tlsConfig
		}
	}
	s.srv = srv
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("smtp sink: listen: %w", err)
	}
	if cfg.ImplicitTLS {
		ln = tls.NewListener(ln, tlsConfig)
	}
	ln = refusingListener{Listener: ln, s: s}
	if cfg.RefuseSecondHello {
		ln = helloOnceListener{ln}
	}
	s.ln = ln
	go func() {
		defer close(s.done)
		defer func() {
			if r := recover(); r != nil {
				cfg.Log.Error("smtp sink panicked", slog.String("panic", fmt.Sprint(r)))
			}
		}()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			cfg.Log.Error("smtp sink stopped", slog.String("error", err.Error()))
		}
	}()
	return s, nil
}

// Addr returns the host:port the sink listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// CertPool returns a pool holding the sink's self-signed certificate, for
// a client's RootCAs; nil without TLS.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// ClientTLSConfig returns a TLS configuration that trusts the sink.
func (s *Server) ClientTLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// Close stops the sink and waits for it to stop listening.
func (s *Server) Close() error {
	err := s.srv.Close()
	s.ln.Close() // in case Serve had not registered it yet
	<-s.done
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Messages returns a copy of the messages accepted so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.msgs))
	copy(out, s.msgs)
	return out
}

// Rejected returns how many transactions FailNext has refused.
func (s *Server) Rejected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rejected
}

// Refuse makes the sink refuse every transaction (or, at Step "greeting",
// every connection) with r until ClearRefusal, counting each in Rejected.
func (s *Server) Refuse(r Refusal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusal = &r
}

// ClearRefusal ends Refuse's refusals.
func (s *Server) ClearRefusal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusal = nil
}

// RefuseRecipient makes the sink refuse RCPT TO addr with r (its Step is
// ignored) until ClearRecipient or Reset.
func (s *Server) RefuseRecipient(addr string, r Refusal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuseTo == nil {
		s.refuseTo = map[string]Refusal{}
	}
	s.refuseTo[strings.ToLower(addr)] = r
}

// ClearRecipient ends RefuseRecipient's refusal of addr: its mail is
// taken again, as when a full mailbox was emptied.
func (s *Server) ClearRecipient(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.refuseTo, strings.ToLower(addr))
}

// SetDown makes the sink close every connection as soon as it is accepted
// (down) or serve again: an outage, as the client sees one.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// refused returns Refuse's reply when it applies to step, counting it.
func (s *Server) refused(step string) *Refusal {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refusal == nil || s.refusal.Step != step {
		return nil
	}
	s.rejected++
	r := *s.refusal
	return &r
}

// Reset forgets the messages held, any pending FailNext, Refuse and
// RefuseRecipient, and ends SetDown.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs, s.fails, s.rejected, s.refusal, s.refuseTo, s.down = nil, nil, 0, nil, nil, false
	close(s.changed)
	s.changed = make(chan struct{})
}

// FailNext makes the sink answer the next n transactions with code at the
// end of DATA (after reading the message, which is then not kept). Calls
// queue up: FailNext(421, 1); FailNext(550, 1) refuses one with 421, then
// one with 550, then accepts again.
func (s *Server) FailNext(code, n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails = append(s.fails, failure{code: code, count: n})
}

// WaitFor waits until at least n messages have been accepted and returns
// them, or fails after timeout saying how many arrived.
func (s *Server) WaitFor(n int, timeout time.Duration) ([]Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		s.mu.Lock()
		got, ch := len(s.msgs), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Messages(), nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return s.Messages(), fmt.Errorf("smtp sink: %d of %d messages arrived within %v", got, n, timeout)
		}
	}
}

// nextFailure returns the reply to refuse the current transaction with, or nil.
func (s *Server) nextFailure() *smtp.SMTPError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.fails) == 0 {
		return nil
	}
	f := &s.fails[0]
	f.count--
	code := f.code
	if f.count <= 0 {
		s.fails = s.fails[1:]
	}
	s.rejected++
	class := code / 100
	msg := "Requested action not taken: try again later"
	if class == 5 {
		msg = "Requested action not taken: mailbox unavailable"
	}
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{class, 0, 0}, Message: msg}
}

func (s *Server) keep(m Message) {
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if s.cfg.OnMessage != nil {
		s.cfg.OnMessage(m)
	}
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: b.s, conn: c}, nil
}

type session struct {
	s    *Server
	conn *smtp.Conn
	user string
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) authRequired() bool {
	return len(ss.s.cfg.Users) > 0 || len(ss.s.cfg.Tokens) > 0
}

func (ss *session) isTLS() bool {
	_, ok := ss.conn.TLSConnectionState()
	return ok
}

func (ss *session) AuthMechanisms() []string {
	var m []string
	if len(ss.s.cfg.Users) > 0 {
		m = append(m, sasl.Plain)
	}
	if len(ss.s.cfg.Tokens) > 0 {
		m = append(m, "XOAUTH2")
	}
	return m
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, password string) error {
			if want, ok := ss.s.cfg.Users[user]; !ok || want != password || (identity != "" && identity != user) {
				return smtp.ErrAuthFailed
			}
			ss.user = user
			return nil
		}), nil
	case "XOAUTH2":
		return &xoauth2Server{check: func(user, token string) error {
			if want, ok := ss.s.cfg.Tokens[user]; !ok || want != token {
				return smtp.ErrAuthFailed
			}
			ss.user = user
			return nil
		}}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.cfg.RequireTLS && !ss.isTLS() {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	}
	if ss.authRequired() && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	if r := ss.s.refused("mail"); r != nil {
		return r.reply()
	}
	ss.from, ss.to = from, nil
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if r := ss.s.refused("rcpt"); r != nil {
		return r.reply()
	}
	ss.s.mu.Lock()
	r, ok := ss.s.refuseTo[strings.ToLower(to)]
	if ok {
		ss.s.rejected++
	}
	ss.s.mu.Unlock()
	if ok {
		return r.reply()
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		return err
	}
	if r := ss.s.refused("data"); r != nil {
		return r.reply()
	}
	if f := ss.s.nextFailure(); f != nil {
		return f
	}
	ss.s.keep(Message{
		From: ss.from, To: append([]string(nil), ss.to...), Raw: buf.Bytes(),
		User: ss.user, TLS: ss.isTLS() || ss.s.cfg.ImplicitTLS, Received: time.Now(),
	})
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// xoauth2Server is the server side of SASL XOAUTH2: one message,
// "user=U\x01auth=Bearer T\x01\x01".
type xoauth2Server struct {
	check func(user, token string) error
	step  int
}

func (x *xoauth2Server) Next(response []byte) (challenge []byte, done bool, err error) {
	x.step++
	if x.step > 1 {
		return nil, true, smtp.ErrAuthFailed
	}
	if response == nil {
		return []byte{}, false, nil
	}
	var user, token string
	for _, part := range strings.Split(string(response), "\x01") {
		if v, ok := strings.CutPrefix(part, "user="); ok {
			user = v
		} else if v, ok := strings.CutPrefix(part, "auth=Bearer "); ok {
			token = v
		}
	}
	if err := x.check(user, token); err != nil {
		return nil, true, err
	}
	return nil, true, nil
}

type logAdapter struct{ log *slog.Logger }

func (l logAdapter) Printf(format string, v ...any) {
	l.log.Debug("smtp sink", slog.String("detail", fmt.Sprintf(format, v...)))
}

func (l logAdapter) Println(v ...any) {
	l.log.Debug("smtp sink", slog.String("detail", strings.TrimSpace(fmt.Sprintln(v...))))
}

// selfSigned makes a short-lived certificate for 127.0.0.1, ::1 and localhost.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "optout-intake smtp sink"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}

// refusingListener closes connections while the sink is down, and answers
// them with Refuse's reply at step "greeting" before closing them.
type refusingListener struct {
	net.Listener
	s *Server
}

func (l refusingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.s.mu.Lock()
		down := l.s.down
		l.s.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		if r := l.s.refused("greeting"); r != nil {
			c.SetWriteDeadline(time.Now().Add(time.Second))
			c.Write([]byte(r.line()))
			c.Close()
			continue
		}
		return c, nil
	}
}

// helloOnceListener hands out connections that answer every greeting after
// the first with 503 themselves, before go-smtp (which accepts a second
// EHLO, as RFC 5321 says it should) sees it.
type helloOnceListener struct{ net.Listener }

func (l helloOnceListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &helloOnceConn{Conn: c}, nil
}

// helloOnceConn reads the client's commands line by line, passes them on to
// the server and answers a second EHLO or HELO itself. It tracks DATA so
// that a message line starting with "EHLO" is left alone. The client waits
// for the answer to EHLO (it is not pipelined), so the 503 written here
// never interleaves with the server's own replies.
type helloOnceConn struct {
	net.Conn
	in      []byte // bytes read from the client, not yet a whole line
	out     []byte // whole lines to hand to the server
	greeted bool
	inData  bool
}

// Read hands the server the client's lines, without the refused greetings.
func (c *helloOnceConn) Read(p []byte) (int, error) {
	buf := make([]byte, 4096)
	for len(c.out) == 0 {
		n, err := c.Conn.Read(buf)
		c.in = append(c.in, buf[:n]...)
		for {
			i := bytes.IndexByte(c.in, '\n')
			if i < 0 {
				break
			}
			line := c.in[:i+1]
			c.in = c.in[i+1:]
			if c.refuse(line) {
				if _, werr := c.Conn.Write([]byte("503 5.5.1 Duplicate HELO/EHLO\r\n")); werr != nil {
					return 0, werr
				}
				continue
			}
			c.out = append(c.out, line...)
		}
		if err != nil {
			if len(c.out) == 0 {
				return 0, err
			}
			break
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// refuse follows the session through line and reports whether it is a
// greeting to answer with 503.
func (c *helloOnceConn) refuse(line []byte) bool {
	if c.inData {
		c.inData = string(line) != ".\r\n" && string(line) != ".\n"
		return false
	}
	cmd := strings.ToUpper(string(bytes.TrimRight(line, "\r\n")))
	verb, _, _ := strings.Cut(cmd, " ")
	switch verb {
	case "DATA":
		c.inData = true
	case "EHLO", "HELO":
		if c.greeted {
			return true
		}
		c.greeted = true
	}
	return false
}
