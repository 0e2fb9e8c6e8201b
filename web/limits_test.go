package web_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ncl-icb/optout-intake/internal/pgtest"
	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/web"
)

// childEnv names the schema a re-executed test binary serves the page on.
const childEnv = "OPTOUT_WEB_TEST_CHILD_SCHEMA"

// TestServeChild is not a test of its own: when the test binary is started
// again by TestSigninFloodMemory with childEnv set, it serves the page on a
// loopback port (printing the address), with the production password
// parameters, until its standard input closes.
func TestServeChild(t *testing.T) {
	schema := os.Getenv(childEnv)
	if schema == "" {
		t.Skip("started only as the child process of TestSigninFloodMemory")
	}
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	store.ConfigurePool(cfg, schema)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	keys, err := store.ParseKeys(testDataKey, testIndexKey)
	if err != nil {
		t.Fatal(err)
	}
	comp, err := notify.NewComposer(notify.ComposerConfig{Address: "joined-up.care-record@nhs.net", Signer: notify.Signer{Key: bytes.Repeat([]byte("k3y!"), 8)}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := web.New(web.Deps{Store: store.New(pool, store.Options{Schema: schema, Keys: keys}), Composer: comp,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // closed below
	fmt.Printf("ADDR %s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin) //nolint:errcheck // returns when the parent closes it
	srv.Close()
}

// vmHWM reads the peak resident set size of a process, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// loopbackClient is a client whose connections come from a given loopback
// source address (Linux answers on all of 127.0.0.0/8).
func loopbackClient(src string) *http.Client {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	return &http.Client{Jar: jar, Timeout: 60 * time.Second,
		Transport:     &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 400},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// signinToken loads the sign-in page with c and returns its token.
func signinToken(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	resp, err := c.Get(base + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return csrfOf(t, string(b))
}

// TestSigninFloodMemory fires 300 concurrent bad sign-ins at one account
// against the page in a child process, then signs in as another member of
// staff from another address: the child's peak memory stays under 250 MB
// and the second sign-in goes through at once.
func TestSigninFloodMemory(t *testing.T) {
	pool, schema := pgtest.Schema(t, 2)
	ctx := context.Background()
	if err := store.Migrate(ctx, pool, schema); err != nil {
		t.Fatal(err)
	}
	keys, _ := store.ParseKeys(testDataKey, testIndexKey)
	st := store.New(pool, store.Options{Schema: schema, Keys: keys})
	hash, err := web.HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"target@nhs.net", "colleague@nhs.net"} {
		if _, err := st.CreateStaff(ctx, email, hash, store.RoleTriager, store.System); err != nil {
			t.Fatal(err)
		}
	}

	// The race detector multiplies memory: measure a plain build.
	bin := os.Args[0]
	if raceEnabled {
		bin = filepath.Join(t.TempDir(), "web.test")
		if out, err := exec.Command("go", "test", "-c", "-o", bin, ".").CombinedOutput(); err != nil {
			t.Fatalf("build the test binary without -race: %v\n%s", err, out)
		}
	}
	cmd := exec.Command(bin, "-test.run=^TestServeChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+schema)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }() //nolint:errcheck // the child's status is not the point
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("child's log:\n%s", stderr.String())
		}
	})
	sc := bufio.NewScanner(stdout)
	var addr string
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		t.Fatalf("the child did not start:\n%s", stderr.String())
	}
	go io.Copy(io.Discard, stdout) //nolint:errcheck // drain the rest
	base := "http://" + addr
	before := vmHWM(t, cmd.Process.Pid)

	attacker := loopbackClient("127.0.0.1")
	tok := signinToken(t, attacker, base)
	form := url.Values{"csrf": {tok}, "email": {"target@nhs.net"}, "password": {"wrong password, try again"}}.Encode()
	codes := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 300 {
		wg.Go(func() {
			<-start
			resp, err := attacker.Post(base+"/signin", "application/x-www-form-urlencoded", strings.NewReader(form))
			code := 0
			if err == nil {
				io.Copy(io.Discard, resp.Body) //nolint:errcheck
				resp.Body.Close()
				code = resp.StatusCode
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	if codes[http.StatusUnauthorized] > store.DefaultSigninPolicy.PairLimit || codes[http.StatusUnauthorized]+codes[http.StatusTooManyRequests] != 300 {
		t.Errorf("answers to 300 bad sign-ins = %v, want at most %d password checks (401) and the rest 429", codes, store.DefaultSigninPolicy.PairLimit)
	}

	colleague := loopbackClient("127.0.0.2")
	tok = signinToken(t, colleague, base)
	began := time.Now()
	resp, err := colleague.Post(base+"/signin", "application/x-www-form-urlencoded",
		strings.NewReader(url.Values{"csrf": {tok}, "email": {"colleague@nhs.net"}, "password": {testPassword}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	took := time.Since(began)
	if resp.StatusCode != http.StatusSeeOther || took > 3*time.Second {
		t.Errorf("the colleague's sign-in after the flood = %d in %v, want 303 at once", resp.StatusCode, took)
	}
	peak := vmHWM(t, cmd.Process.Pid)
	t.Logf("child peak RSS: %.1f MB before the flood, %.1f MB after; answers %v; colleague signed in in %v",
		float64(before)/1e6, float64(peak)/1e6, codes, took.Round(time.Millisecond))
	if peak > 250e6 {
		t.Errorf("the child's peak RSS is %.1f MB, want under 250 MB", float64(peak)/1e6)
	}
	// Every attempt is in the audit; none holds the password.
	var failed int
	if err := pool.QueryRow(ctx, `select count(*) from audit where action = 'staff.sign_in_failed'`).Scan(&failed); err != nil {
		t.Fatal(err)
	}
	var leaked bool
	if err := pool.QueryRow(ctx, `select exists (select 1 from audit where detail like '%wrong password%')`).Scan(&leaked); err != nil {
		t.Fatal(err)
	}
	if failed != 300 || leaked {
		t.Errorf("audit holds %d failed sign-ins (want 300), password leaked: %v", failed, leaked)
	}
}

// TestTrustedProxyKeepsStaffApart: behind a trusted reverse proxy every
// request comes from the proxy's address; 50 failures for one email from
// one client must not stop a second member of staff, on the same proxy,
// from signing in, and a client cannot pick its own address by writing
// X-Forwarded-For when it is not a trusted proxy.
func TestTrustedProxyKeepsStaffApart(t *testing.T) {
	t.Parallel()
	policy := store.DefaultSigninPolicy
	policy.Delay = time.Minute // the slow-down's first wait, long enough to see
	e := newEnv(t, func(d *web.Deps) {
		d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		d.SigninPolicy = &policy
	})
	viaProxy := func(c *client, clientAddr string) {
		c.http.Transport = headerTransport{"X-Forwarded-For": clientAddr, "X-Forwarded-Proto": "https"}
		c.http.Jar = &plainJar{}
	}
	attacker := e.anon()
	viaProxy(attacker, "203.0.113.7")
	_, body := attacker.get("/signin")
	tok := csrfOf(t, body)
	codes := map[int]int{}
	for range 50 {
		resp, _ := attacker.postRaw("/signin", url.Values{"csrf": {tok}, "email": {e.admin.Email}, "password": {"wrong password, try again"}})
		codes[resp.StatusCode]++
	}
	if codes[http.StatusUnauthorized] != 5 || codes[http.StatusTooManyRequests] != 45 {
		t.Errorf("50 bad sign-ins through the proxy = %v, want 5 checked and 45 refused", codes)
	}
	other := e.anon()
	viaProxy(other, "203.0.113.8")
	_, body = other.get("/signin")
	resp, _ := other.postRaw("/signin", url.Values{"csrf": {csrfOf(t, body)}, "email": {e.viewer.Email}, "password": {testPassword}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("second member of staff on the same proxy = %d, want 303", resp.StatusCode)
	}
	if !strings.Contains(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Error("no HSTS on a request the trusted proxy received over HTTPS")
	}
	// The admin, from an address that has not signed in to the account
	// before, is slowed (a stranger has been guessing) but not locked.
	admin := e.anon()
	viaProxy(admin, "203.0.113.9")
	_, body = admin.get("/signin")
	resp, _ = admin.postRaw("/signin", url.Values{"csrf": {csrfOf(t, body)}, "email": {e.admin.Email}, "password": {testPassword}})
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("admin from a new address while being guessed at = %d (Retry-After %q), want 429 with a wait", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// An admin unlock (store function behind `optoutd staff unlock`) ends it.
	if _, err := e.st.UnlockStaff(context.Background(), e.admin.ID, store.System); err != nil {
		t.Fatal(err)
	}
	_, body = admin.get("/signin")
	resp, _ = admin.postRaw("/signin", url.Values{"csrf": {csrfOf(t, body)}, "email": {e.admin.Email}, "password": {testPassword}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("admin after unlock = %d, want 303", resp.StatusCode)
	}

	// Without trust, X-Forwarded-For is ignored: every such request counts
	// against the real peer address.
	e2 := newEnv(t)
	spoof := e2.anon()
	spoof.http.Transport = headerTransport{"X-Forwarded-For": "198.51.100.200"}
	_, body = spoof.get("/signin")
	tok = csrfOf(t, body)
	last := 0
	for i := range 25 {
		spoof.http.Transport = headerTransport{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i)}
		resp, _ := spoof.postRaw("/signin", url.Values{"csrf": {tok}, "email": {fmt.Sprintf("nobody%d@nhs.net", i)}, "password": {"wrong password, try again"}})
		last = resp.StatusCode
	}
	if last != http.StatusTooManyRequests {
		t.Errorf("25th attempt with a forged X-Forwarded-For from an untrusted peer = %d, want 429 (address limit)", last)
	}
}

// headerTransport adds headers to every request, as a reverse proxy would.
type headerTransport map[string]string

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h {
		r.Header.Set(k, v)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// plainJar keeps cookies by name and sends them all, Secure or not: the
// test talks plain HTTP to the page as a TLS-terminating proxy would.
type plainJar struct {
	mu sync.Mutex
	m  map[string]string
}

func (j *plainJar) SetCookies(_ *url.URL, cs []*http.Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.m == nil {
		j.m = map[string]string{}
	}
	for _, c := range cs {
		if c.MaxAge < 0 {
			delete(j.m, c.Name)
		} else {
			j.m[c.Name] = c.Value
		}
	}
}

func (j *plainJar) Cookies(*url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*http.Cookie
	for k, v := range j.m {
		out = append(out, &http.Cookie{Name: k, Value: v})
	}
	return out
}

// TestSigninHashSlotsBusy: with one password-hash slot, a burst of
// concurrent sign-ins (each for another email from another client address,
// so no attempt limit applies) finds the slot taken: the excess is answered
// 429 at once, without hashing, and audited as busy. Bursts repeat until
// two attempts overlap (each hash takes tens of milliseconds, so the first
// burst almost always does).
func TestSigninHashSlotsBusy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *web.Deps) {
		d.HashSlots = 1
		d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	// Every request comes through the proxy (so the cookies are the
	// Secure __Host- ones, which plainJar sends over plain HTTP).
	c := e.anon()
	c.http.Jar = &plainJar{}
	c.http.Transport = headerTransport{"X-Forwarded-For": "198.51.100.250"}
	_, body := c.get("/signin")
	tok := csrfOf(t, body)
	c.http.Transport = nil
	busy, checked, n := 0, 0, 0
	for burst := 0; burst < 10 && busy == 0; burst++ {
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 8 {
			n++
			i := n
			wg.Go(func() {
				form := url.Values{"csrf": {tok}, "email": {fmt.Sprintf("nobody%d@nhs.net", i)}, "password": {"wrong password, try again"}}
				req, _ := http.NewRequest("POST", e.srv.URL+"/signin", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
				<-start
				resp, err := c.http.Do(req)
				if err != nil {
					t.Errorf("sign-in %d: %v", i, err)
					return
				}
				io.Copy(io.Discard, resp.Body) //nolint:errcheck
				resp.Body.Close()
				mu.Lock()
				defer mu.Unlock()
				switch {
				case resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "2":
					busy++
				case resp.StatusCode == http.StatusUnauthorized:
					checked++
				default:
					t.Errorf("sign-in %d = %d (Retry-After %q), want 401 or 429 busy", i, resp.StatusCode, resp.Header.Get("Retry-After"))
				}
			})
		}
		close(start)
		wg.Wait()
	}
	if busy == 0 || checked == 0 {
		t.Fatalf("%d concurrent sign-ins with one hash slot: %d checked, %d refused as busy; want some of each", n, checked, busy)
	}
	if got := auditCount(t, e, "staff.sign_in_failed", "reason=busy"); got != busy {
		t.Errorf("audited busy refusals = %d, want %d", got, busy)
	}
	t.Logf("%d sign-ins: %d checked, %d refused as busy", n, checked, busy)
}
