package mailbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

// Connecting and logging in (TLS, STARTTLS, PLAIN, LOGIN, XOAUTH2), and
// closing.

// Dial connects, negotiates TLS, logs in and reads the capabilities. It
// returns an *Error: ErrAuth (permanent) when the credentials or token are
// refused, a temporary one for network failures.
func Dial(ctx context.Context, cfg Config, log *slog.Logger) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, &Error{Op: "dial", Err: fmt.Errorf("invalid mailbox configuration: %w", err)}
	}
	cfg = cfg.WithDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()

	cl := &Client{cfg: cfg, log: log, changes: make(chan struct{}, 1)}
	d := &net.Dialer{KeepAlive: 30 * time.Second}
	if cfg.Dialer != nil {
		d = cfg.Dialer
	}
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, wrap("dial", "", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	host, _, _ := net.SplitHostPort(cfg.Addr)
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		tlsConf = cfg.TLSConfig.Clone()
	}
	if tlsConf.ServerName == "" {
		tlsConf.ServerName = host
	}
	opts := &imapclient.Options{
		TLSConfig: tlsConf,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					select {
					case cl.changes <- struct{}{}:
					default:
					}
				}
			},
		},
	}
	switch cfg.TLS {
	case TLSImplicit:
		if tlsConf.NextProtos == nil {
			tlsConf.NextProtos = []string{"imap"}
		}
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, wrapDial(ctx, "tls", err)
		}
		cl.c = imapclient.New(tc, opts)
	case TLSStartTLS:
		c, err := imapclient.NewStartTLS(conn, opts)
		if err != nil {
			conn.Close()
			return nil, wrapDial(ctx, "starttls", err)
		}
		cl.c = c
	default:
		cl.c = imapclient.New(conn, opts)
	}
	cl.conn = conn
	if err := cl.c.WaitGreeting(); err != nil {
		cl.c.Close()
		return nil, wrapDial(ctx, "greeting", err)
	}
	if err := cl.login(ctx); err != nil {
		cl.c.Close()
		return nil, err
	}
	cl.caps = cl.c.Caps()
	if cl.caps == nil {
		cl.c.Close()
		return nil, wrapDial(ctx, "capability", errors.New("server sent no capabilities"))
	}
	if !stop() {
		cl.c.Close()
		return nil, wrapDial(ctx, "login", ctx.Err())
	}
	log.Debug("imap connected", "tls", cfg.TLS, "auth", cfg.Auth)
	return cl, nil
}

func wrapDial(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return wrap(op, "", err)
}

func (cl *Client) login(ctx context.Context) error {
	cfg := cl.cfg
	var err error
	switch cfg.Auth {
	case AuthLogin:
		err = cl.c.Authenticate(sasl.NewLoginClient(cfg.User, cfg.Password))
	case AuthXOAUTH2:
		tok, terr := cfg.TokenSource.Token()
		if terr != nil {
			var te *TokenError
			if !errors.As(terr, &te) {
				terr = &TokenError{Flow: "custom", Err: terr, temporary: true}
			}
			return wrap("token", "", terr)
		}
		xc := NewXOAUTH2Client(cfg.User, tok.AccessToken)
		err = cl.c.Authenticate(xc)
	default: // plain
		if cl.c.Caps().Has(imap.AuthCap(sasl.Plain)) {
			err = cl.c.Authenticate(sasl.NewPlainClient("", cfg.User, cfg.Password))
		} else {
			err = cl.c.Login(cfg.User, cfg.Password).Wait()
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return wrapDial(ctx, "login", err)
		}
		e := wrap("login", "", err).(*Error)
		if !e.temporary {
			e.kind = ErrAuth
		}
		return e
	}
	return nil
}

// Caps reports whether the server announced capability c (e.g. "MOVE").
func (cl *Client) Caps(c string) bool { return cl.caps.Has(imap.Cap(c)) }

// Broken reports whether a failure left the connection unusable.
func (cl *Client) Broken() bool {
	if cl.broken.Load() {
		return true
	}
	select {
	case <-cl.c.Closed():
		return true
	default:
		return false
	}
}

// Close logs out (briefly) and closes the connection.
func (cl *Client) Close() error {
	if !cl.broken.Load() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = cl.c.Logout().Wait()
		}()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
	}
	cl.broken.Store(true)
	if err := cl.c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return wrap("close", "", err)
	}
	return nil
}
