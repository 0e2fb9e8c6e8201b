// Package imapdemo is a small in-process IMAP server for `optoutd demo`: the
// in-memory backend of go-imap/v2 (imapserver/imapmemserver) listening on a
// free loopback port, with one user and an inbox that can be seeded with raw
// messages while it runs.
//
// It speaks IMAP4rev1 and IMAP4rev2 (so MOVE, UIDPLUS and IDLE) without TLS,
// which the daemon accepts only on loopback addresses. It owns no data beyond
// the messages it holds in memory, which are gone when it closes. It is not a
// mail server for real mail: no TLS, no limits, one user.
package imapdemo

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// Inbox is the name of the mailbox Append seeds.
const Inbox = "INBOX"

// Server is a running in-memory IMAP server. Its methods are safe for
// concurrent use.
type Server struct {
	user     string
	password string
	mem      *imapmemserver.User
	srv      *imapserver.Server
	ln       net.Listener
	done     chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// discardLogger drops the server's own error lines (a client hanging up
// mid-command is normal and not worth printing in the demo).
type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

// Start listens on a free port of 127.0.0.1 and serves user, with password,
// until Close. The user has an empty INBOX; the daemon creates its folders.
func Start(user, password string) (*Server, error) {
	if user == "" || password == "" {
		return nil, errors.New("imapdemo: a user name and a password are required")
	}
	mem := imapmemserver.NewUser(user, password)
	if err := mem.Create(Inbox, nil); err != nil {
		return nil, fmt.Errorf("imapdemo: create inbox: %w", err)
	}
	backend := imapmemserver.New()
	backend.AddUser(mem)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return backend.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		Logger:       discardLogger{},
		InsecureAuth: true, // loopback only, see Start
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("imapdemo: listen on a loopback port: %w", err)
	}
	s := &Server{user: user, password: password, mem: mem, srv: srv, ln: ln, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = srv.Serve(ln) // returns when Close closes the listener
	}()
	return s, nil
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// User is the one user's login name.
func (s *Server) User() string { return s.user }

// Password is the one user's password.
func (s *Server) Password() string { return s.password }

// literal is an imap.LiteralReader over a byte slice.
type literal struct {
	*bytes.Reader
	n int64
}

func (l literal) Size() int64 { return l.n }

// Append adds a raw message (CRLF line endings preferred) to mailbox, as
// received at t (the zero time means now), and returns its UID. Connected
// clients see it as new mail (IDLE wakes up).
func (s *Server) Append(mailbox string, raw []byte, t time.Time) (imap.UID, error) {
	if t.IsZero() {
		t = time.Now()
	}
	data, err := s.mem.Append(mailbox, literal{bytes.NewReader(raw), int64(len(raw))}, &imap.AppendOptions{Time: t})
	if err != nil {
		return 0, fmt.Errorf("imapdemo: append to %s: %w", mailbox, err)
	}
	return data.UID, nil
}

// Count returns how many messages mailbox holds (0 when it does not exist).
func (s *Server) Count(mailbox string) int {
	st, err := s.mem.Status(mailbox, &imap.StatusOptions{NumMessages: true})
	if err != nil || st.NumMessages == nil {
		return 0
	}
	return int(*st.NumMessages)
}

// Close stops the server and drops every connection and message.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.srv.Close()
		_ = s.ln.Close() // in case Close ran before Serve took the listener
		<-s.done
	})
	return s.closeErr
}
