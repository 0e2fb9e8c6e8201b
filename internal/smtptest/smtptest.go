// Package smtptest starts an in-memory SMTP server (internal/smtpsink) for
// tests, stopped automatically when the test ends.
//
//	srv := smtptest.Start(t)
//	// ... send mail to srv.Addr() ...
//	msgs, err := srv.WaitFor(1, 5*time.Second)
package smtptest

import (
	"testing"

	"github.com/ncl-icb/optout-intake/internal/smtpsink"
)

// Server is a running sink: see smtpsink.Server for its methods
// (Messages, WaitFor, FailNext, Addr, ClientTLSConfig).
type Server = smtpsink.Server

// Config configures the sink: see smtpsink.Config.
type Config = smtpsink.Config

// Message is one accepted message: see smtpsink.Message.
type Message = smtpsink.Message

// Start starts a plain sink on a free loopback port that accepts any mail
// without AUTH, and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Config{})
}

// StartWith starts a sink configured by cfg (STARTTLS, AUTH users, ...)
// and stops it when t ends. It fails the test if the sink cannot start.
func StartWith(t testing.TB, cfg Config) *Server {
	t.Helper()
	srv, err := smtpsink.Start(cfg)
	if err != nil {
		t.Fatalf("start smtp sink: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("stop smtp sink: %v", err)
		}
	})
	return srv
}
