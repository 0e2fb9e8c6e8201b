package mailbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/ncl-icb/optout-intake/internal/dovecot"
	"github.com/ncl-icb/optout-intake/internal/retry"
)

// shared is one Dovecot for the package's tests; each test has its own user.
var shared *dovecot.Server

func TestMain(m *testing.M) {
	s, err := dovecot.New(dovecot.Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "mailbox tests need Dovecot: %v\n", err)
		os.Exit(1)
	}
	shared = s
	code := m.Run()
	_ = s.Stop()
	s.Remove()
	os.Exit(code)
}

var userSeq atomic.Int64

// newUser adds a fresh user to srv and returns a Config for it.
func newUser(t testing.TB, srv *dovecot.Server) Config {
	t.Helper()
	name := fmt.Sprintf("u%d_%d", userSeq.Add(1), time.Now().UnixNano()%1e6)
	if err := srv.AddUser(name, "pw-"+name); err != nil {
		t.Fatal(err)
	}
	return Config{Addr: srv.Addr, TLS: TLSNone, User: name, Password: "pw-" + name, CommandTimeout: 30 * time.Second, DialTimeout: 10 * time.Second}
}

var ipSeq atomic.Int64

// ownIP makes cfg connect from its own loopback address: Dovecot slows down
// every login from an address that recently failed one (auth penalty).
func ownIP(cfg *Config) {
	n := ipSeq.Add(1)
	cfg.Dialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+n/250), byte(2+n%250))}}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(&tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tlogWriter struct{ t testing.TB }

func (w *tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func dial(t testing.TB, cfg Config) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func appendAll(t testing.TB, srv *dovecot.Server, user, mailbox string, raws [][]byte) []UID {
	t.Helper()
	c, err := srv.Login(user)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	uids, err := dovecot.AppendAll(c, mailbox, raws)
	if err != nil {
		t.Fatal(err)
	}
	return uids
}

func count(t testing.TB, srv *dovecot.Server, user, mailbox string) (total, deleted int) {
	t.Helper()
	total, deleted, err := srv.Count(user, mailbox)
	if err != nil {
		t.Fatalf("Count(%s): %v", mailbox, err)
	}
	return total, deleted
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := Config{Addr: "outlook.office365.com:993", User: "box@nhs.net", Password: "x"}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"starttls", func(c *Config) { c.TLS = "STARTTLS" }, ""},
		{"plain on loopback", func(c *Config) { c.Addr, c.TLS = "127.0.0.1:143", TLSNone }, ""},
		{"plain on localhost", func(c *Config) { c.Addr, c.TLS = "localhost:143", TLSNone }, ""},
		{"plain on ipv6 loopback", func(c *Config) { c.Addr, c.TLS = "[::1]:143", TLSNone }, ""},
		{"plain remote", func(c *Config) { c.TLS = TLSNone }, "only allowed for loopback"},
		{"bad tls", func(c *Config) { c.TLS = "ssl" }, "must be implicit, starttls or none"},
		{"no port", func(c *Config) { c.Addr = "outlook.office365.com" }, "host:port"},
		{"no user", func(c *Config) { c.User = "" }, "OPTOUT_IMAP_USER"},
		{"no password", func(c *Config) { c.Password = "" }, "needs a password"},
		{"xoauth2 without tokens", func(c *Config) { c.Auth = AuthXOAUTH2 }, "needs a token source"},
		{"bad auth", func(c *Config) { c.Auth = "cram-md5" }, "must be plain, login or xoauth2"},
		{"tiny max", func(c *Config) { c.MaxMessageBytes = 10 }, "too small"},
		{"huge batch", func(c *Config) { c.BatchSize = 5000 }, "out of range"},
		{"folder twice", func(c *Config) { c.Folders.Triage = "Processed" }, "used twice"},
		{"folder is inbox", func(c *Config) { c.Folders.Auto = "inbox" }, "used twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mod(&cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSelectAndUIDValidity(t *testing.T) {
	t.Parallel()
	cfg := newUser(t, shared)
	uids := appendAll(t, shared, cfg.User, "INBOX", genMix(3))
	c := dial(t, cfg)
	ctx := ctxT(t)
	st, err := c.Select(ctx, "INBOX")
	if err != nil {
		t.Fatalf("Select: %v", err)
	}
	if st.UIDValidity == 0 || st.Messages != 3 || st.UIDNext != uids[2]+1 || !st.HasMove || !st.HasIdle || !st.HasUIDPlus {
		t.Errorf("Select = %+v, want 3 messages, UIDNEXT %d, MOVE, IDLE, UIDPLUS", st, uids[2]+1)
	}
	// A cursor from another UIDVALIDITY is void: everything comes again.
	var got []UID
	res, err := c.FetchNew(ctx, Cursor{UIDValidity: st.UIDValidity + 1, LastUID: uids[2]}, func(m Msg) error {
		got = append(got, m.UID)
		return nil
	})
	if err != nil {
		t.Fatalf("FetchNew: %v", err)
	}
	if !res.ValidityChanged || !slices.Equal(got, uids) || res.Next != (Cursor{st.UIDValidity, uids[2]}) {
		t.Errorf("FetchNew with a stale UIDVALIDITY = %+v, uids %v; want ValidityChanged, uids %v", res, got, uids)
	}
	// A zero cursor is a first run, not a change.
	res, err = c.FetchNew(ctx, Cursor{}, func(Msg) error { return nil })
	if err != nil || res.ValidityChanged || res.Delivered != 3 {
		t.Errorf("FetchNew from zero = %+v, %v; want 3 delivered, no change", res, err)
	}
	if _, err := c.Select(ctx, "NoSuchFolder"); !errors.Is(err, ErrNoMailbox) || retry.Temporary(err) {
		t.Errorf("Select(missing) = %v, want permanent ErrNoMailbox", err)
	}
}

func TestFetchNewBatches(t *testing.T) {
	t.Parallel()
	cfg := newUser(t, shared)
	cfg.BatchSize = 7
	raws := make([][]byte, 40)
	for i := range raws {
		raws[i] = genMessage(1+i%2, i)
	}
	uids := appendAll(t, shared, cfg.User, "INBOX", raws)
	c := dial(t, cfg)
	ctx := ctxT(t)

	var got []Msg
	res, err := c.FetchNew(ctx, Cursor{}, func(m Msg) error {
		got = append(got, m)
		return nil
	})
	if err != nil {
		t.Fatalf("FetchNew: %v", err)
	}
	if len(got) != len(raws) || res.Delivered != len(raws) || res.Next.LastUID != uids[len(uids)-1] {
		t.Fatalf("FetchNew delivered %d (%+v), want %d up to uid %d", len(got), res, len(raws), uids[len(uids)-1])
	}
	for i, m := range got {
		if m.UID != uids[i] || !bytes.Equal(m.Raw, raws[i]) || m.TooLarge || m.Size != int64(len(raws[i])) ||
			m.MessageID == "" || m.Mailbox != "INBOX" || m.UIDValidity != res.Next.UIDValidity || m.InternalDate.IsZero() {
			t.Fatalf("message %d = uid %d size %d id %q toolarge %v, want uid %d and the appended bytes", i, m.UID, m.Size, m.MessageID, m.TooLarge, uids[i])
		}
	}
	// BODY.PEEK leaves \Seen alone.
	if got[0].Seen {
		t.Errorf("message was \\Seen before the fetch")
	}
	again := 0
	res2, err := c.FetchNew(ctx, res.Next, func(Msg) error { again++; return nil })
	if err != nil || again != 0 || res2.Next != res.Next {
		t.Errorf("second FetchNew = %+v, %d messages, %v; want nothing new", res2, again, err)
	}
	more := appendAll(t, shared, cfg.User, "INBOX", genMix(3))
	var moreGot []UID
	res3, err := c.FetchNew(ctx, res.Next, func(m Msg) error { moreGot = append(moreGot, m.UID); return nil })
	if err != nil || !slices.Equal(moreGot, more) || res3.Next.LastUID != more[2] {
		t.Errorf("FetchNew after 3 appends = %v, %v; want %v", moreGot, err, more)
	}
	// A callback error stops the fetch; the cursor stays on the last accepted.
	boom := errors.New("database down")
	n := 0
	res4, err := c.FetchNew(ctx, Cursor{}, func(m Msg) error {
		if n == 10 {
			return boom
		}
		n++
		return nil
	})
	if !errors.Is(err, boom) || res4.Next.LastUID != uids[9] || res4.Delivered != 10 {
		t.Errorf("FetchNew with failing callback = %+v, %v; want cursor at uid %d and the callback's error", res4, err, uids[9])
	}
	// The client is still usable after a callback error.
	if _, err := c.Select(ctx, "INBOX"); err != nil {
		t.Errorf("Select after a callback error: %v", err)
	}
}

func TestOversizeHeaderOnly(t *testing.T) {
	t.Parallel()
	cfg := newUser(t, shared)
	cfg.MaxMessageBytes = 8 << 10
	big := genMessage(0, 1) // ~130-270 KB
	small := genMessage(1, 2)
	uids := appendAll(t, shared, cfg.User, "INBOX", [][]byte{small, big, small})
	c := dial(t, cfg)
	var got []Msg
	if _, err := c.FetchNew(ctxT(t), Cursor{}, func(m Msg) error { got = append(got, m); return nil }); err != nil {
		t.Fatalf("FetchNew: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("FetchNew delivered %d messages, want 3", len(got))
	}
	m := got[1]
	hdr := headerOf(big)
	if m.UID != uids[1] || !m.TooLarge || m.Size != int64(len(big)) || !bytes.Equal(m.Raw, hdr) {
		t.Errorf("over-size message = uid %d toolarge %v size %d raw %d bytes; want uid %d, TooLarge, size %d, header only (%d bytes)",
			m.UID, m.TooLarge, m.Size, len(m.Raw), uids[1], len(big), len(hdr))
	}
	if got[0].TooLarge || !bytes.Equal(got[2].Raw, small) {
		t.Errorf("small messages beside the big one were not delivered whole")
	}
}

func TestMove(t *testing.T) {
	t.Parallel()
	for _, disable := range []bool{false, true} {
		t.Run(fmt.Sprintf("disableMove=%v", disable), func(t *testing.T) {
			t.Parallel()
			cfg := newUser(t, shared)
			cfg.DisableMove = disable
			uids := appendAll(t, shared, cfg.User, "INBOX", genMix(10))
			c := dial(t, cfg)
			ctx := ctxT(t)
			// A message someone else flagged \Deleted must survive our expunge.
			other, err := shared.Login(cfg.User)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := other.Select("INBOX", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			if err := other.Store(imap.UIDSetNum(uids[9]), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
				t.Fatal(err)
			}
			other.Close()

			if err := c.Move(ctx, []UID{uids[3], uids[0], uids[1], uids[2], uids[4], uids[5], uids[6], uids[0]}, "Processed"); err != nil {
				t.Fatalf("Move: %v", err)
			}
			if want := map[bool]string{false: "move", true: "copy"}[disable]; c.moveVia != want {
				t.Errorf("Move went by %q, want %q", c.moveVia, want)
			}
			if total, deleted := count(t, shared, cfg.User, "Processed"); total != 7 || deleted != 0 {
				t.Errorf("Processed holds %d (%d deleted), want 7 (0)", total, deleted)
			}
			if total, deleted := count(t, shared, cfg.User, "INBOX"); total != 3 || deleted != 1 {
				t.Errorf("INBOX holds %d (%d deleted), want 3 (1, the one flagged by someone else)", total, deleted)
			}
			// Moving again is harmless; the UIDs are gone.
			if err := c.Move(ctx, uids[:7], "Processed"); err != nil {
				t.Errorf("second Move: %v", err)
			}
			if total, _ := count(t, shared, cfg.User, "Processed"); total != 7 {
				t.Errorf("Processed holds %d after a repeated move, want 7", total)
			}
			// FetchNew skips the \Deleted one.
			var left []UID
			if _, err := c.FetchNew(ctx, Cursor{}, func(m Msg) error { left = append(left, m.UID); return nil }); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(left, uids[7:9]) {
				t.Errorf("FetchNew after move = %v, want %v", left, uids[7:9])
			}
		})
	}
}

func TestEnsureFoldersAndAppend(t *testing.T) {
	t.Parallel()
	cfg := newUser(t, shared)
	cfg.Folders = Folders{Processed: "Done", Triage: "Staff/Triage", Sent: "Sent"}
	c := dial(t, cfg)
	ctx := ctxT(t)
	for range 2 {
		if err := c.EnsureFolders(ctx); err != nil {
			t.Fatalf("EnsureFolders: %v", err)
		}
	}
	for _, f := range []string{"Done", "Staff/Triage", "Auto", "Sent"} {
		if _, err := c.Select(ctx, f); err != nil {
			t.Errorf("folder %s missing after EnsureFolders: %v", f, err)
		}
	}
	// No folder nothing is moved to: a message whose handling fails stays
	// in the inbox and is retried, and one that keeps failing goes to
	// Triage (see intake).
	if _, err := c.Select(ctx, "Failed"); err == nil {
		t.Error("EnsureFolders created a Failed folder, which nothing uses")
	}
	raw := genMessage(1, 7)
	uid, err := c.Append(ctx, "Sent", raw)
	if err != nil || uid == 0 {
		t.Fatalf("Append = %d, %v", uid, err)
	}
	if total, _ := count(t, shared, cfg.User, "Sent"); total != 1 {
		t.Errorf("Sent holds %d, want 1", total)
	}
	// Append creates a missing folder.
	if _, err := c.Append(ctx, "Elsewhere", raw); err != nil {
		t.Errorf("Append to a missing folder: %v", err)
	}
	// Appended copies are \Seen: check through a second connection.
	o, err := shared.Login(cfg.User)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, err := o.Select("Sent", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	bufs, err := o.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{Flags: true}).Collect()
	if err != nil || len(bufs) != 1 {
		t.Fatalf("fetch flags: %v", err)
	}
	if !slices.Contains(bufs[0].Flags, imap.FlagSeen) {
		t.Errorf("appended copy flags = %v, want \\Seen", bufs[0].Flags)
	}
}

func TestScanSince(t *testing.T) {
	t.Parallel()
	cfg := newUser(t, shared)
	uids := appendAll(t, shared, cfg.User, "INBOX", genMix(5))
	c := dial(t, cfg)
	ctx := ctxT(t)
	var got []UID
	n, err := c.ScanSince(ctx, time.Now().Add(-72*time.Hour), func(m Msg) error { got = append(got, m.UID); return nil })
	if err != nil || n != 5 || !slices.Equal(got, uids) {
		t.Errorf("ScanSince(3 days ago) = %d, %v, %v; want all of %v", n, got, err, uids)
	}
	n, err = c.ScanSince(ctx, time.Now().Add(48*time.Hour), func(Msg) error { return nil })
	if err != nil || n != 0 {
		t.Errorf("ScanSince(future) = %d, %v; want 0", n, err)
	}
}

func TestWaitForChange(t *testing.T) {
	t.Parallel()
	cfg := newUser(t, shared)
	c := dial(t, cfg)
	ctx := ctxT(t)

	start := time.Now()
	changed, err := c.WaitForChange(ctx, 200*time.Millisecond)
	if err != nil || changed {
		t.Fatalf("WaitForChange on a quiet mailbox = %v, %v; want false after the timeout", changed, err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("WaitForChange returned after %v, before its 200ms timeout", d)
	}

	go func() {
		time.Sleep(300 * time.Millisecond)
		if _, err := shared.Append(cfg.User, "INBOX", genMessage(1, 1)); err != nil {
			t.Errorf("append: %v", err)
		}
	}()
	start = time.Now()
	changed, err = c.WaitForChange(ctx, 20*time.Second)
	if err != nil || !changed {
		t.Fatalf("WaitForChange with new mail = %v, %v; want true", changed, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("IDLE took %v to notice new mail", d)
	}
	// The connection is usable after IDLE.
	n := 0
	if _, err := c.FetchNew(ctx, Cursor{}, func(Msg) error { n++; return nil }); err != nil || n != 1 {
		t.Errorf("FetchNew after IDLE = %d, %v; want 1", n, err)
	}
	// A cancelled context ends the wait promptly, without error.
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	if changed, err := c.WaitForChange(cctx, 20*time.Second); err != nil || changed || time.Since(start) > 5*time.Second {
		t.Errorf("WaitForChange with cancelled ctx = %v, %v after %v", changed, err, time.Since(start))
	}
}

func TestReconnectAfterRestart(t *testing.T) {
	t.Parallel()
	srv := dovecot.Start(t)
	cfg := newUser(t, srv)
	cfg.BatchSize = 10
	uids := appendAll(t, srv, cfg.User, "INBOX", genMix(30))
	sess := NewSession(cfg, testLogger(t))
	sess.MinBackoff, sess.MaxBackoff = 50*time.Millisecond, 500*time.Millisecond
	sess.Attempts = 20
	defer sess.Close()

	var cur Cursor
	var got []UID
	restarted := false
	calls := 0
	err := sess.Do(ctxT(t), func(c *Client) error {
		calls++
		res, err := c.FetchNew(ctxT(t), cur, func(m Msg) error {
			got = append(got, m.UID)
			if len(got) == 5 && !restarted {
				restarted = true
				if err := srv.Restart(); err != nil {
					t.Errorf("Restart: %v", err)
				}
			}
			return nil
		})
		cur = res.Next
		return err
	})
	if err != nil {
		t.Fatalf("Session.Do across a restart: %v", err)
	}
	if !slices.Equal(got, uids) {
		t.Errorf("delivered %v, want each of %v once", got, uids)
	}
	if calls < 2 {
		t.Errorf("fn ran %d times, want a retry after the restart", calls)
	}
	if _, failures, lastErr := sess.Health(); lastErr != nil || failures != 0 {
		t.Errorf("Health after recovery = %v, %d failures", lastErr, failures)
	}
	// A restart during IDLE ends the wait with a temporary error; Do then
	// reconnects and waits again.
	waits := 0
	start := time.Now()
	err = sess.Do(ctxT(t), func(c *Client) error {
		waits++
		if waits == 1 {
			time.AfterFunc(200*time.Millisecond, func() {
				if err := srv.Restart(); err != nil {
					t.Errorf("Restart: %v", err)
				}
			})
			_, err := c.WaitForChange(ctxT(t), 30*time.Second)
			if err == nil || !retry.Temporary(err) {
				t.Errorf("WaitForChange across a restart = %v, want a temporary error", err)
			}
			return err
		}
		_, err := c.WaitForChange(ctxT(t), 100*time.Millisecond)
		return err
	})
	if err != nil || waits != 2 || time.Since(start) > 20*time.Second {
		t.Errorf("Do(WaitForChange) across a restart = %v after %d runs and %v", err, waits, time.Since(start))
	}
	// With the server down, Do fails with a temporary error after its attempts.
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	sess.Attempts = 2
	err = sess.Do(ctxT(t), func(c *Client) error { _, err := c.Select(ctxT(t), "INBOX"); return err })
	if err == nil || !retry.Temporary(err) || !errors.Is(err, ErrClosed) {
		t.Errorf("Do with the server down = %v, want a temporary ErrClosed", err)
	}
}

func TestAuthFailureIsPermanent(t *testing.T) {
	t.Parallel()
	cfg := newUser(t, shared)
	for _, auth := range []string{AuthPlain, AuthLogin} {
		cfg.Auth, cfg.Password = auth, "wrong"
		ownIP(&cfg)
		_, err := Dial(ctxT(t), cfg, nil)
		if !errors.Is(err, ErrAuth) || retry.Temporary(err) {
			t.Errorf("Dial(%s, wrong password) = %v, want permanent ErrAuth", auth, err)
		}
		if err != nil && strings.Contains(err.Error(), "wrong") {
			t.Errorf("error %q reveals the password", err)
		}
	}
	ownIP(&cfg)
	sess := NewSession(cfg, nil)
	sess.MinBackoff = 10 * time.Second
	start := time.Now()
	err := sess.Do(ctxT(t), func(*Client) error { return nil })
	if !errors.Is(err, ErrAuth) || time.Since(start) > 5*time.Second {
		t.Errorf("Session.Do with a bad password = %v after %v, want ErrAuth at once", err, time.Since(start))
	}
	// The right password with LOGIN works.
	cfg.Password = "pw-" + cfg.User
	ownIP(&cfg)
	dial(t, cfg)
}

func TestTLSModes(t *testing.T) {
	t.Parallel()
	cfg := newUser(t, shared)
	base := cfg
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr bool
	}{
		{"implicit", func(c *Config) { c.Addr, c.TLS, c.TLSConfig = shared.TLSAddr, TLSImplicit, shared.TLSConfig() }, false},
		{"starttls", func(c *Config) { c.TLS, c.TLSConfig = TLSStartTLS, shared.TLSConfig() }, false},
		{"implicit untrusted", func(c *Config) { c.Addr, c.TLS = shared.TLSAddr, TLSImplicit }, true},
		{"starttls untrusted", func(c *Config) { c.TLS = TLSStartTLS }, true},
		{"none", func(*Config) {}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.mod(&cfg)
			c, err := Dial(ctxT(t), cfg, nil)
			if tt.wantErr {
				if err == nil {
					c.Close()
					t.Fatalf("Dial(%s) succeeded with an untrusted certificate", tt.name)
				}
				if retry.Temporary(err) {
					t.Errorf("Dial(%s) = %v, want a permanent error", tt.name, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Dial(%s): %v", tt.name, err)
			}
			defer c.Close()
			if _, err := c.Select(ctxT(t), "INBOX"); err != nil {
				t.Errorf("Select over %s: %v", tt.name, err)
			}
		})
	}
}

func TestCommandTimeoutBreaksClient(t *testing.T) {
	t.Parallel()
	cfg := newUser(t, shared)
	c := dial(t, cfg)
	ctx, cancel := context.WithCancel(ctxT(t))
	cancel()
	_, err := c.Select(ctx, "INBOX")
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Select with a cancelled context = %v, want context.Canceled", err)
	}
	if !c.Broken() {
		t.Errorf("client not marked broken after its connection was cut")
	}
}
