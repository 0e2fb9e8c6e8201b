package mailbox

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestSessionOnError(t *testing.T) {
	t.Parallel()
	cfg := Config{Addr: closedAddr(t), TLS: TLSNone, User: "u", Password: "p", DialTimeout: time.Second}
	sess := NewSession(cfg, nil)
	sess.MinBackoff, sess.MaxBackoff, sess.Attempts = time.Millisecond, 2*time.Millisecond, 3
	var calls atomic.Int32
	sess.OnError = func(err error) {
		var me *Error
		if !errors.As(err, &me) {
			t.Errorf("OnError(%v): want an *Error", err)
		}
		calls.Add(1)
	}
	if err := sess.Do(t.Context(), func(*Client) error { return nil }); err == nil {
		t.Fatal("Do against a closed port = nil, want an error")
	}
	if got := calls.Load(); got != 3 {
		t.Errorf("OnError called %d times for 3 failed dials, want 3", got)
	}

	// The caller giving up is not the server's fault.
	calls.Store(0)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_ = sess.Do(ctx, func(*Client) error { return nil })
	if got := calls.Load(); got != 0 {
		t.Errorf("OnError called %d times after the context ended, want 0", got)
	}
}

func TestIsIMAPError(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&Error{Op: "fetch", Err: errors.New("bye")}, true},
		{errors.Join(errors.New("store down"), &Error{Op: "move"}), true},
		{errors.New("store down"), false},
		{&Error{Op: "fetch", Err: context.Canceled}, false},
	}
	for _, tt := range tests {
		if got := isIMAPError(tt.err); got != tt.want {
			t.Errorf("isIMAPError(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
