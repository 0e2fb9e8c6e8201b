package smtpsink

import (
	"errors"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func send(t *testing.T, addr, to string) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.SendMail("from@example.org", []string{to}, strings.NewReader("Subject: hi\r\n\r\nbody\r\n"))
}

func TestFailNextQueue(t *testing.T) {
	s := start(t, Config{})
	s.FailNext(421, 1)
	s.FailNext(550, 2)
	s.FailNext(250, 0) // ignored
	var codes []int
	for i := range 5 {
		err := send(t, s.Addr(), "to"+string(rune('a'+i))+"@example.org")
		var se *smtp.SMTPError
		switch {
		case err == nil:
			codes = append(codes, 250)
		case errors.As(err, &se):
			codes = append(codes, se.Code)
		default:
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if got, want := codes, []int{421, 550, 550, 250, 250}; !equal(got, want) {
		t.Errorf("reply codes = %v, want %v", got, want)
	}
	if len(s.Messages()) != 2 || s.Rejected() != 3 {
		t.Errorf("kept %d, rejected %d; want 2 and 3", len(s.Messages()), s.Rejected())
	}
	if to := s.Messages()[0].To; len(to) != 1 || to[0] != "tod@example.org" {
		t.Errorf("first kept message is to %v, want tod@example.org", to)
	}
	s.Reset()
	if len(s.Messages()) != 0 || s.Rejected() != 0 {
		t.Error("Reset kept messages")
	}
}

func TestWaitFor(t *testing.T) {
	seen := make(chan Message, 10)
	s := start(t, Config{OnMessage: func(m Message) { seen <- m }})
	go func() {
		time.Sleep(50 * time.Millisecond)
		send(t, s.Addr(), "x@example.org")
	}()
	msgs, err := s.WaitFor(1, 5*time.Second)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("WaitFor(1) = %d messages, %v", len(msgs), err)
	}
	if _, err := s.WaitFor(2, 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "1 of 2") {
		t.Errorf("WaitFor(2) with one message = %v, want a timeout saying 1 of 2", err)
	}
	select {
	case <-seen:
	case <-time.After(5 * time.Second):
		t.Error("OnMessage was not called")
	}
}

func TestStartRejects(t *testing.T) {
	for _, cfg := range []Config{{Addr: "0.0.0.0:0"}, {Addr: "nonsense"}, {RequireTLS: true}} {
		if s, err := Start(cfg); err == nil {
			s.Close()
			t.Errorf("Start(%+v) = nil error, want one", cfg)
		}
	}
}

func TestAuthRequired(t *testing.T) {
	s := start(t, Config{Users: map[string]string{"u": "p"}})
	err := send(t, s.Addr(), "x@example.org")
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 502 {
		t.Errorf("send without AUTH = %v, want 502", err)
	}
}

func TestXOAUTH2Server(t *testing.T) {
	var user, token string
	x := &xoauth2Server{check: func(u, tk string) error { user, token = u, tk; return nil }}
	if _, done, err := x.Next([]byte("user=a@b\x01auth=Bearer tok\x01\x01")); !done || err != nil || user != "a@b" || token != "tok" {
		t.Errorf("Next = done %v err %v user %q token %q", done, err, user, token)
	}
	if _, _, err := x.Next([]byte("again")); err == nil {
		t.Error("second Next = nil error, want auth failure")
	}
}

func FuzzXOAUTH2Server(f *testing.F) {
	f.Add([]byte("user=a@b\x01auth=Bearer tok\x01\x01"))
	f.Add([]byte("user=\x01auth=Bearer \x01"))
	f.Add([]byte(strings.Repeat("\x01", 10000)))
	f.Fuzz(func(t *testing.T, resp []byte) {
		x := &xoauth2Server{check: func(u, tk string) error {
			if u != "good" || tk != "t" {
				return smtp.ErrAuthFailed
			}
			return nil
		}}
		_, done, err := x.Next(resp)
		if done && err == nil && !strings.Contains(string(resp), "user=good") {
			t.Errorf("Next(%q) accepted without the right user", resp)
		}
	})
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// With RefuseSecondHello a connection's first greeting is answered as usual
// and every later one with 503, over real TCP; a message line that looks
// like EHLO is message text, not a greeting.
func TestRefuseSecondHello(t *testing.T) {
	s := start(t, Config{RefuseSecondHello: true})
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewConn(conn)
	expect := func(cmd string, code int) {
		t.Helper()
		if cmd != "" {
			if err := tp.PrintfLine("%s", cmd); err != nil {
				t.Fatal(err)
			}
		}
		got, msg, err := tp.ReadResponse(0)
		if got != code {
			t.Fatalf("%q answered %d %q (%v), want %d", cmd, got, msg, err, code)
		}
	}
	expect("", 220)
	expect("EHLO client.test", 250)
	expect("RSET", 250)
	expect("EHLO client.test", 503)
	expect("HELO client.test", 503)
	expect("MAIL FROM:<from@example.org>", 250)
	expect("RCPT TO:<to@example.org>", 250)
	expect("DATA", 354)
	if err := tp.PrintfLine("Subject: hi\r\n\r\nEHLO is just a word here\r\n."); err != nil {
		t.Fatal(err)
	}
	expect("", 250)
	expect("QUIT", 221)
	msgs := s.Messages()
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Raw), "EHLO is just a word here") {
		t.Fatalf("messages = %d, want the one sent with its EHLO line", len(msgs))
	}
	// A new connection may greet once again.
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("from@example.org", nil); err != nil {
		t.Fatalf("MAIL on a new connection after one EHLO: %v", err)
	}
	if _, err := Start(Config{RefuseSecondHello: true, StartTLS: true}); err == nil {
		t.Error("Start(RefuseSecondHello with StartTLS) = nil error, want a refusal")
	}
}
