package mailbox

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/ncl-icb/optout-intake/internal/retry"
)

// Session keeps one Client connected for a long-running daemon: it dials on
// demand, drops the connection after a temporary failure and dials again with
// exponential backoff and jitter (the project's one policy, internal/retry). Safe for concurrent use; operations run one
// at a time.
type Session struct {
	cfg Config
	log *slog.Logger

	// MinBackoff and MaxBackoff bound the wait between attempts (defaults 1 s
	// and 5 min). Attempts is how many times Do tries before giving up on a
	// temporary failure (default 5).
	MinBackoff, MaxBackoff time.Duration
	Attempts               int
	// OnError, when set, is called once for every failed attempt that is
	// the server's or the connection's fault (an *Error: dialling, login,
	// a command, the network), not for fn's own errors nor when ctx ended.
	// It is for metrics: it must not block. Set it before the first Do.
	OnError func(err error)

	mu       sync.Mutex // held for a whole Do
	c        *Client
	health   sync.Mutex
	lastOK   time.Time
	lastErr  error
	failures int
}

// NewSession returns a Session that dials lazily.
func NewSession(cfg Config, log *slog.Logger) *Session {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Session{cfg: cfg, log: log, MinBackoff: time.Second, MaxBackoff: 5 * time.Minute, Attempts: 5}
}

// Do runs fn with a connected Client. When dialling or the mailbox (an
// *Error from a Client method) fails with a temporary error, the connection
// is dropped, Do waits (backoff with jitter) and runs fn again on a new
// connection, up to Attempts times. Permanent errors (ErrAuth, ErrNoMailbox)
// and fn's own errors (those of the work fn did, such as a database that is
// down) return at once: the session mends its connection, the caller
// decides about its own work. fn must be safe to repeat: FetchNew from a
// stored cursor is.
func (s *Session) Do(ctx context.Context, fn func(*Client) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for attempt := 0; ; attempt++ {
		err = s.try(ctx, fn)
		s.record(err)
		if s.OnError != nil && err != nil && ctx.Err() == nil && isIMAPError(err) {
			s.OnError(err)
		}
		if err == nil || !reconnect(err) || ctx.Err() != nil || attempt+1 >= s.Attempts {
			return err
		}
		d := retry.Policy{Base: s.MinBackoff, Max: s.MaxBackoff}.Delay(attempt + 1)
		s.log.Warn("imap temporary failure: reconnecting", "attempt", attempt+1, "wait", d, "err", err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

func (s *Session) try(ctx context.Context, fn func(*Client) error) error {
	if s.c != nil && s.c.Broken() {
		_ = s.c.Close()
		s.c = nil
	}
	if s.c == nil {
		c, err := Dial(ctx, s.cfg, s.log)
		if err != nil {
			return err
		}
		s.c = c
	}
	err := fn(s.c)
	if err != nil && (reconnect(err) || s.c.Broken()) {
		_ = s.c.Close()
		s.c = nil
	}
	return err
}

// isIMAPError reports an error of the mailbox itself (an *Error), rather
// than of the work fn did with it, that is not the caller giving up.
func isIMAPError(err error) bool {
	var me *Error
	return errors.As(err, &me) && !errors.Is(err, context.Canceled)
}

// reconnect reports a temporary failure of the mailbox itself, which a new
// connection may mend.
func reconnect(err error) bool {
	return isIMAPError(err) && retry.Temporary(err)
}

func (s *Session) record(err error) {
	s.health.Lock()
	defer s.health.Unlock()
	if err == nil {
		s.lastOK, s.lastErr, s.failures = time.Now(), nil, 0
		return
	}
	s.lastErr = err
	s.failures++
}

// Health reports when Do last succeeded, the consecutive failures and the
// error of the last attempt (nil if it succeeded): for /readyz and metrics.
func (s *Session) Health() (lastOK time.Time, failures int, lastErr error) {
	s.health.Lock()
	defer s.health.Unlock()
	return s.lastOK, s.failures, s.lastErr
}

// Close closes the connection, if any. The Session can be used again.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return nil
	}
	err := s.c.Close()
	s.c = nil
	return err
}
