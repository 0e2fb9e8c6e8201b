package mailbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/ncl-icb/optout-intake/internal/retry"
)

// The Client and what every command shares: one operation at a time under
// a watchdog, and errors that mark the connection broken. Each command has
// its file, as in go-imap's imapclient: dial.go (connect, TLS, login),
// folders.go (SELECT, LIST, CREATE), fetch.go (SEARCH, FETCH), move.go,
// append.go and idle.go.

// UID is an IMAP unique identifier, valid with its mailbox's UIDVALIDITY.
type UID = imap.UID

// Status describes the selected mailbox and the server's abilities.
type Status struct {
	Mailbox     string
	UIDValidity uint32
	UIDNext     UID    // 0 when the server did not say
	Messages    uint32 // messages in the mailbox
	HasMove     bool   // server has MOVE (RFC 6851)
	HasUIDPlus  bool   // server has UIDPLUS (UID EXPUNGE)
	HasIdle     bool   // server has IDLE
}

// Client is one logged-in IMAP connection. Its methods are safe to call from
// several goroutines but run one at a time. A Client whose operation failed
// with a temporary error is broken: close it and dial again (Session does).
type Client struct {
	cfg  Config
	log  *slog.Logger
	conn net.Conn
	c    *imapclient.Client

	mu       sync.Mutex // one operation at a time
	caps     imap.CapSet
	selected string
	status   Status
	broken   atomic.Bool
	changes  chan struct{} // new mail announced (EXISTS)
	moveVia  string        // "move" or "copy": how the last Move went (tests)
}

// begin starts one operation: it takes the lock and arms a watchdog that
// closes the connection when ctx ends or CommandTimeout passes. end releases
// both and turns the error into an *Error, marking the client broken when the
// watchdog fired or the failure is temporary.
func (cl *Client) begin(ctx context.Context) (context.Context, func(op, mailbox string, err error) error) {
	cl.mu.Lock()
	octx, cancel := context.WithTimeout(ctx, cl.cfg.CommandTimeout)
	stop := context.AfterFunc(octx, func() {
		cl.broken.Store(true)
		cl.conn.Close()
	})
	return octx, func(op, mailbox string, err error) error {
		fired := !stop()
		cancel()
		defer cl.mu.Unlock()
		if err == nil && !fired {
			return nil
		}
		if fired {
			cause := ctx.Err()
			if cause == nil {
				cause = fmt.Errorf("no answer within %v: %w", cl.cfg.CommandTimeout, context.DeadlineExceeded)
			}
			if err != nil {
				err = fmt.Errorf("%w (%w)", cause, err)
			} else {
				err = cause
			}
		}
		return cl.fail(op, mailbox, err)
	}
}

// checkUsable refuses to work on a broken client.
func (cl *Client) checkUsable() error {
	if cl.Broken() {
		return ErrClosed
	}
	return nil
}

// fail wraps err and marks the client broken when it is temporary. An error
// on a connection that is gone is ErrClosed, whatever go-imap called it.
func (cl *Client) fail(op, mailbox string, err error) error {
	e := wrap(op, mailbox, err)
	var me *Error
	if errors.As(e, &me) && !errors.Is(err, context.Canceled) {
		select {
		case <-cl.c.Closed():
			me.kind, me.temporary = ErrClosed, true
		default:
		}
	}
	if retry.Temporary(e) {
		cl.broken.Store(true)
	}
	return e
}
