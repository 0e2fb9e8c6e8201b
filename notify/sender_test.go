package notify

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/internal/retry"
	"github.com/ncl-icb/optout-intake/internal/smtptest"
	"github.com/ncl-icb/optout-intake/vocab"
)

const testRcpt = "resident-secret@example.org"

func testMessage(t *testing.T) []byte {
	t.Helper()
	raw, _, _, err := newTestComposer(t).Compose(Reply{Kind: vocab.KindReceipt, To: testRcpt, Data: Data{Ref: "NCL-7K3Q-9XWD"}})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func newTestSender(t *testing.T, cfg SenderConfig) *Sender {
	t.Helper()
	s, err := NewSender(cfg, nil)
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSendModes(t *testing.T) {
	tests := []struct {
		name    string
		sink    smtptest.Config
		cfg     func(srv *smtptest.Server) SenderConfig
		wantTLS bool
		user    string
	}{
		{"plain, no auth", smtptest.Config{}, func(srv *smtptest.Server) SenderConfig {
			return SenderConfig{Addr: srv.Addr(), TLS: TLSNone}
		}, false, ""},
		{"starttls, auth plain", smtptest.Config{StartTLS: true, RequireTLS: true, Users: map[string]string{"team@nhs.net": "pw"}}, func(srv *smtptest.Server) SenderConfig {
			return SenderConfig{Addr: srv.Addr(), TLS: TLSStartTLS, TLSConfig: srv.ClientTLSConfig(), User: "team@nhs.net", Password: "pw", HeloName: "optoutd.test"}
		}, true, "team@nhs.net"},
		{"implicit tls, auth plain", smtptest.Config{ImplicitTLS: true, Users: map[string]string{"team@nhs.net": "pw"}}, func(srv *smtptest.Server) SenderConfig {
			return SenderConfig{Addr: srv.Addr(), TLS: TLSImplicit, TLSConfig: srv.ClientTLSConfig(), User: "team@nhs.net", Password: "pw"}
		}, true, "team@nhs.net"},
		{"starttls, xoauth2", smtptest.Config{StartTLS: true, Tokens: map[string]string{"team@nhs.net": "tok-123"}}, func(srv *smtptest.Server) SenderConfig {
			return SenderConfig{Addr: srv.Addr(), TLS: TLSStartTLS, TLSConfig: srv.ClientTLSConfig(), Auth: AuthXOAUTH2, User: "team@nhs.net",
				Token: func(context.Context) (string, error) { return "tok-123", nil }}
		}, true, "team@nhs.net"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.StartWith(t, tt.sink)
			s := newTestSender(t, tt.cfg(srv))
			raw := testMessage(t)
			for range 2 { // the second send reuses the connection
				if err := s.Send(t.Context(), "team@nhs.net", []string{testRcpt}, raw); err != nil {
					t.Fatalf("Send: %v", err)
				}
			}
			msgs, err := srv.WaitFor(2, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			m := msgs[0]
			if m.From != "team@nhs.net" || len(m.To) != 1 || m.To[0] != testRcpt {
				t.Errorf("envelope = %q -> %q, want team@nhs.net -> %s", m.From, m.To, testRcpt)
			}
			if !bytes.Equal(bytes.TrimSuffix(m.Raw, []byte("\r\n")), bytes.TrimSuffix(raw, []byte("\r\n"))) {
				t.Errorf("received bytes differ from the composed message")
			}
			if m.TLS != tt.wantTLS || m.User != tt.user {
				t.Errorf("session TLS=%v user=%q, want TLS=%v user=%q", m.TLS, m.User, tt.wantTLS, tt.user)
			}
		})
	}
}

func TestSendNewConnectionAfterIdle(t *testing.T) {
	srv := smtptest.Start(t)
	s := newTestSender(t, SenderConfig{Addr: srv.Addr(), TLS: TLSNone, IdleTimeout: -1})
	raw := testMessage(t)
	for range 3 {
		if err := s.Send(t.Context(), "team@nhs.net", []string{testRcpt}, raw); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	if _, err := srv.WaitFor(3, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		name     string
		sink     smtptest.Config
		fail     []int // codes for FailNext(code, 1), in order
		cfg      SenderConfig
		wantTemp bool
		step     string
		code     int
		setup    bool
	}{
		{"421 at data", smtptest.Config{}, []int{421}, SenderConfig{TLS: TLSNone}, true, "data", 421, false},
		{"451 at data", smtptest.Config{}, []int{451}, SenderConfig{TLS: TLSNone}, true, "data", 451, false},
		{"550 at data", smtptest.Config{}, []int{550}, SenderConfig{TLS: TLSNone}, false, "data", 550, false},
		{"554 at data", smtptest.Config{}, []int{554}, SenderConfig{TLS: TLSNone}, false, "data", 554, false},
		{"wrong password", smtptest.Config{Users: map[string]string{"u": "right"}}, nil, SenderConfig{TLS: TLSNone, User: "u", Password: "wrong"}, true, "auth", 535, true},
		{"no starttls offered", smtptest.Config{}, nil, SenderConfig{TLS: TLSStartTLS}, true, "tls", 0, true},
		{"auth required", smtptest.Config{Users: map[string]string{"u": "p"}}, nil, SenderConfig{TLS: TLSNone}, false, "mail", 502, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.StartWith(t, tt.sink)
			for _, c := range tt.fail {
				srv.FailNext(c, 1)
			}
			cfg := tt.cfg
			cfg.Addr = srv.Addr()
			s := newTestSender(t, cfg)
			err := s.Send(t.Context(), "team@nhs.net", []string{testRcpt}, testMessage(t))
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send error = %v, want a *SendError", err)
			}
			if se.Temporary() != tt.wantTemp || retry.Temporary(err) != tt.wantTemp || se.Step != tt.step || se.Code != tt.code || se.Setup != tt.setup {
				t.Errorf("Send error = %q (temporary %v, step %s, code %d, setup %v); want temporary %v, step %s, code %d, setup %v",
					err, se.Temporary(), se.Step, se.Code, se.Setup, tt.wantTemp, tt.step, tt.code, tt.setup)
			}
			if strings.Contains(err.Error(), "resident-secret") {
				t.Errorf("Send error %q contains the recipient address", err)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("sink kept %d messages after a failure, want 0", n)
			}
		})
	}
}

// TestSend421Then250 is the retry contract: a 421 is temporary, the same
// bytes sent again are accepted, and the sink holds the message once.
func TestSend421Then250(t *testing.T) {
	srv := smtptest.Start(t)
	srv.FailNext(421, 1)
	s := newTestSender(t, SenderConfig{Addr: srv.Addr(), TLS: TLSNone})
	raw := testMessage(t)
	err := s.Send(t.Context(), "team@nhs.net", []string{testRcpt}, raw)
	if err == nil || !retry.Temporary(err) {
		t.Fatalf("first Send = %v, want a temporary error", err)
	}
	if err := s.Send(t.Context(), "team@nhs.net", []string{testRcpt}, raw); err != nil {
		t.Fatalf("second Send = %v, want nil", err)
	}
	if got := len(srv.Messages()); got != 1 || srv.Rejected() != 1 {
		t.Errorf("sink has %d messages and %d rejections, want 1 and 1", got, srv.Rejected())
	}
}

func TestSendRedactsServerText(t *testing.T) {
	se := classify("rcpt", errors.New("550 5.1.1 <resident-secret@example.org>: user unknown"))
	if strings.Contains(se.Error(), "resident-secret") || !strings.Contains(se.Error(), "[address]") {
		t.Errorf("classify error = %q, want the address replaced", se.Error())
	}
}

// silentServer starts a server that accepts connections and never says
// anything, until the test ends, and returns its address.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	return ln.Addr().String()
}

func TestSendTimeout(t *testing.T) {
	addr := silentServer(t)
	s := newTestSender(t, SenderConfig{Addr: addr, TLS: TLSNone, Timeout: 200 * time.Millisecond})
	start := time.Now()
	err := s.Send(t.Context(), "team@nhs.net", []string{testRcpt}, testMessage(t))
	if err == nil || !retry.Temporary(err) {
		t.Errorf("Send to a silent server = %v, want a temporary error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send to a silent server took %v, want about the 200ms timeout", d)
	}

	ctx, cancel := context.WithCancel(t.Context())
	s2 := newTestSender(t, SenderConfig{Addr: addr, TLS: TLSNone, Timeout: time.Minute})
	time.AfterFunc(100*time.Millisecond, cancel)
	err = s2.Send(ctx, "team@nhs.net", []string{testRcpt}, testMessage(t))
	if err == nil || !retry.Temporary(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("Send with a cancelled context = %v, want a temporary error wrapping context.Canceled", err)
	}
}

func TestSendConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := newTestSender(t, SenderConfig{Addr: addr, TLS: TLSNone})
	err = s.Send(t.Context(), "team@nhs.net", []string{testRcpt}, testMessage(t))
	var se *SendError
	if !errors.As(err, &se) || !se.Temporary() || !se.Setup || se.Step != "connect" {
		t.Errorf("Send to a closed port = %v, want a temporary setup error at connect", err)
	}
}

func TestSenderConfigValidate(t *testing.T) {
	tok := func(context.Context) (string, error) { return "t", nil }
	tests := []struct {
		name string
		cfg  SenderConfig
		ok   bool
	}{
		{"starttls default", SenderConfig{Addr: "send.nhs.net:587", User: "u", Password: "p"}, true},
		{"no port", SenderConfig{Addr: "send.nhs.net"}, false},
		{"none on loopback", SenderConfig{Addr: "127.0.0.1:25", TLS: TLSNone}, true},
		{"none on localhost", SenderConfig{Addr: "localhost:25", TLS: TLSNone}, true},
		{"none on ::1", SenderConfig{Addr: "[::1]:25", TLS: TLSNone}, true},
		{"none on remote", SenderConfig{Addr: "send.nhs.net:25", TLS: TLSNone}, false},
		{"unknown tls", SenderConfig{Addr: "send.nhs.net:25", TLS: "ssl"}, false},
		{"plain without password", SenderConfig{Addr: "send.nhs.net:587", Auth: AuthPlain, User: "u"}, false},
		{"xoauth2 without token", SenderConfig{Addr: "send.nhs.net:587", Auth: AuthXOAUTH2, User: "u"}, false},
		{"xoauth2", SenderConfig{Addr: "send.nhs.net:587", Auth: AuthXOAUTH2, User: "u", Token: tok}, true},
		{"unknown auth", SenderConfig{Addr: "send.nhs.net:587", Auth: "login"}, false},
		{"bad helo", SenderConfig{Addr: "send.nhs.net:587", HeloName: "a b"}, false},
	}
	for _, tt := range tests {
		cfg := tt.cfg
		err := cfg.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("Validate(%s) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
	cfg := SenderConfig{Addr: "send.nhs.net:587"}
	if err := cfg.Validate(); err != nil || cfg.TLS != TLSStartTLS || cfg.Auth != AuthNone || cfg.Timeout != DefaultSendTimeout {
		t.Errorf("Validate defaults = %+v, %v", cfg, err)
	}
}

func TestIsTemporary(t *testing.T) {
	if !retry.Temporary(errors.New("unknown")) {
		t.Error("retry.Temporary(plain error) = false, want true (never give up by accident)")
	}
	if retry.Temporary(&SendError{Step: "data", Code: 550}) {
		t.Error("retry.Temporary(permanent SendError) = true")
	}
}

func TestXOAUTH2Token(t *testing.T) {
	srv := smtptest.StartWith(t, smtptest.Config{Tokens: map[string]string{"u": "good"}})
	s := newTestSender(t, SenderConfig{Addr: srv.Addr(), TLS: TLSNone, Auth: AuthXOAUTH2, User: "u",
		Token: func(context.Context) (string, error) { return "expired", nil }})
	err := s.Send(t.Context(), "team@nhs.net", []string{testRcpt}, testMessage(t))
	var se *SendError
	if !errors.As(err, &se) || se.Step != "auth" || !se.Temporary() || !se.Setup {
		t.Errorf("Send with a bad token = %v, want a temporary setup error at auth", err)
	}
	s2 := newTestSender(t, SenderConfig{Addr: srv.Addr(), TLS: TLSNone, Auth: AuthXOAUTH2, User: "u",
		Token: func(context.Context) (string, error) { return "", errors.New("token endpoint down") }})
	if err := s2.Send(t.Context(), "team@nhs.net", []string{testRcpt}, testMessage(t)); !errors.As(err, &se) || se.Step != "auth" || !se.Temporary() {
		t.Errorf("Send when the token source fails = %v, want a temporary auth error", err)
	}
}

// BenchmarkSend measures submitting one composed reply to the in-process
// sink over loopback, reusing the connection as the worker does.
func BenchmarkSend(b *testing.B) {
	srv := smtptest.Start(b)
	s, err := NewSender(SenderConfig{Addr: srv.Addr(), TLS: TLSNone}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	raw, _, _, err := newTestComposer(b).Compose(Reply{Kind: vocab.KindAccepted, To: testRcpt, Data: Data{Ref: "NCL-7K3Q-9XWD"}})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if err := s.Send(b.Context(), "team@nhs.net", []string{testRcpt}, raw); err != nil {
			b.Fatal(err)
		}
	}
}

// A server that answers a second EHLO on a kept connection with "503
// Duplicate HELO/EHLO" (go-smtp greets again after RSET, as RFC 5321
// allows) says nothing about the message: each send is tried once more on
// a fresh connection, and every message goes. Over real TCP.
func TestSendDuplicateHelloOnKeptConnection(t *testing.T) {
	srv := smtptest.StartWith(t, smtptest.Config{RefuseSecondHello: true})
	s := newTestSender(t, SenderConfig{Addr: srv.Addr(), TLS: TLSNone})
	raw := testMessage(t)
	const n = 6
	for i := range n {
		if err := s.Send(t.Context(), "team@nhs.net", []string{testRcpt}, raw); err != nil {
			t.Fatalf("Send %d of %d on a server refusing a second EHLO: %v (temporary %v)", i+1, n, err, retry.Temporary(err))
		}
	}
	if _, err := srv.WaitFor(n, 5*time.Second); err != nil {
		t.Fatal(err)
	}

	// A 503 to MAIL on a kept connection is the same: one more try on a
	// fresh connection. On a fresh connection it is the server's answer.
	plain := smtptest.Start(t)
	s2 := newTestSender(t, SenderConfig{Addr: plain.Addr(), TLS: TLSNone})
	if err := s2.Send(t.Context(), "team@nhs.net", []string{testRcpt}, raw); err != nil {
		t.Fatal(err)
	}
	plain.FailNext(503, 1)
	if err := s2.Send(t.Context(), "team@nhs.net", []string{testRcpt}, raw); err != nil {
		t.Fatalf("Send after a 503 to MAIL on the kept connection: %v", err)
	}
	if _, err := plain.WaitFor(2, 5*time.Second); err != nil || plain.Rejected() != 1 {
		t.Fatalf("sink rejected %d, err %v; want 1 refusal and both messages", plain.Rejected(), err)
	}
}
