package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ncl-icb/optout-intake/internal/dovecot"
	"github.com/ncl-icb/optout-intake/internal/pgtest"
	"github.com/ncl-icb/optout-intake/internal/smtptest"
	"github.com/ncl-icb/optout-intake/store"
)

// baseEnv is a clean environment for the binary: nothing from the test
// process's OPTOUT_* or DATABASE_URL leaks in.
func baseEnv(extra map[string]string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "LANG=C"}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// runBin runs the built optoutd with env and returns stdout, stderr and
// the exit status.
func runBin(t testing.TB, timeout time.Duration, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, optoutdBin, args...)
	cmd.Env = baseEnv(env)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("optoutd %s did not finish within %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), timeout, out.String(), errb.String())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("run optoutd: %v", err)
	}
	return out.String(), errb.String(), code
}

// checkDemoOutput checks what a reader of the demo must see.
func checkDemoOutput(t *testing.T, out string) {
	t.Helper()
	for _, want := range []string{
		"Demo keys, data is thrown away",
		"== Step 1:", "== Step 2:", "== Step 3:", "== Step 4:", "== The register ==",
		"Subject: [secure] ", // instructions carry the secure marker
		"recorded and moved to the \"Auto\" folder, and not answered", // the auto-reply is ignored
		"In-Reply-To our Message-ID",
		"We have received your opt-out form", // receipts
		"Your opt-out has been recorded",     // outcome
		"reason invalid_form",                // the bad form is in triage
		"NHS number *** *** *919  accepted",  // masked NHS numbers in the register
		"NHS number *** *** *933  triage",
		"1 opted out, 0 opted back in",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if !regexp.MustCompile(`Subject: \[secure\] .*reference NCL-[0-9A-Z]{4}-[0-9A-Z]{4}`).MatchString(out) {
		t.Error("demo output shows no instructions subject with [secure] and a reference code")
	}
	for _, nhs := range []string{"9434765919", "943 476 5919", "9518190933", "951 819 0933"} {
		if strings.Contains(out, nhs) {
			t.Errorf("demo output shows the NHS number %s in clear", nhs)
		}
	}
	if t.Failed() {
		t.Logf("demo output:\n%s", out)
	}
}

// TestDemo runs `optoutd demo --no-serve` on DATABASE_URL to completion and
// checks the steps it prints and that it leaves no schema behind.
func TestDemo(t *testing.T) {
	url := pgtest.URL(t)
	start := time.Now()
	out, errOut, code := runBin(t, 2*time.Minute, map[string]string{"DATABASE_URL": url}, "demo", "--no-serve")
	if code != 0 {
		t.Fatalf("optoutd demo --no-serve exit status %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	t.Logf("demo finished in %s", time.Since(start).Round(time.Millisecond))
	checkDemoOutput(t, out)
	schema := regexp.MustCompile(`schema of its own \((optout_demo_[0-9a-f]+)\)`).FindStringSubmatch(out)
	if schema == nil {
		t.Fatal("demo output does not name its schema")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `select count(*) from pg_namespace where nspname = $1`, schema[1]).Scan(&n); err != nil || n != 0 {
		t.Errorf("schema %s left behind after the demo (count %d, err %v)", schema[1], n, err)
	}
}

// TestDemoThrowawayCluster runs the demo without DATABASE_URL, as the
// README's first command does: it starts and removes its own PostgreSQL.
func TestDemoThrowawayCluster(t *testing.T) {
	out, errOut, code := runBin(t, 2*time.Minute, nil, "demo", "--no-serve")
	if code != 0 {
		t.Fatalf("optoutd demo --no-serve exit status %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "throwaway cluster on 127.0.0.1:") {
		t.Errorf("demo without DATABASE_URL did not start a throwaway cluster:\n%s", out)
	}
	checkDemoOutput(t, out)
}

// rigEnv is a complete daemon configuration against a private Dovecot, a
// PostgreSQL schema of its own and an SMTP sink.
type daemonRig struct {
	dv   *dovecot.Server
	sink *smtptest.Server
	env  map[string]string
	http string
}

const (
	rigUser    = "optout"
	rigPass    = "rig-password"
	rigAddress = "optout.team@nhs.example"
)

func newDaemonRig(t testing.TB) *daemonRig {
	t.Helper()
	dv := dovecot.Start(t)
	if err := dv.AddUser(rigUser, rigPass); err != nil {
		t.Fatal(err)
	}
	pool, schema := pgtest.Schema(t, 2)
	pool.Close() // the daemon opens its own
	sink := smtptest.Start(t)
	dataKey, indexKey, err := store.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	tok := make([]byte, 32)
	rand.Read(tok)
	httpAddr := freeAddr(t)
	return &daemonRig{dv: dv, sink: sink, http: httpAddr, env: map[string]string{
		"DATABASE_URL": pgtest.URL(t), "OPTOUT_DB_SCHEMA": schema,
		"OPTOUT_DATA_KEY": dataKey, "OPTOUT_INDEX_KEY": indexKey, "OPTOUT_TOKEN_KEY": base64.StdEncoding.EncodeToString(tok),
		"OPTOUT_ADDRESS": rigAddress, "OPTOUT_FORM_URL": "https://nclhealthandcare.org.uk/digital/the-london-care-record/",
		"OPTOUT_IMAP_ADDR": dv.Addr, "OPTOUT_IMAP_TLS": "none", "OPTOUT_IMAP_USER": rigUser, "OPTOUT_IMAP_PASSWORD": rigPass,
		"OPTOUT_SMTP_ADDR": sink.Addr(), "OPTOUT_SMTP_TLS": "none", "OPTOUT_SMTP_RATE": "0",
		"OPTOUT_HTTP_ADDR": httpAddr, "OPTOUT_POLL_SCHEDULE": "@every 1s",
		"OPTOUT_LOG_FORMAT": "text", "OPTOUT_LOG_LEVEL": "info",
	}}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func firstContactMail(from string) []byte {
	return fmt.Appendf(nil, "From: Test Resident <%s>\r\nTo: %s\r\nSubject: Opting out of the London Care Record\r\n"+
		"Date: %s\r\nMessage-ID: <%d@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
		"Hello, I would like to opt out. What do I need to do?\r\n", from, rigAddress, time.Now().Format(time.RFC1123Z), time.Now().UnixNano())
}

// TestRunBlackBox starts the built `optoutd run` against Dovecot, PostgreSQL
// and the SMTP sink, delivers a first contact, waits for the instructions,
// checks the health endpoints and the healthcheck command, then sends
// SIGTERM and expects a clean exit.
func TestRunBlackBox(t *testing.T) {
	r := newDaemonRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, optoutdBin, "run")
	cmd.Env = baseEnv(r.env)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("optoutd run output:\n%s", logs.String())
		}
	}()

	if _, err := r.dv.Append(rigUser, "INBOX", firstContactMail("resident@example.org")); err != nil {
		t.Fatal(err)
	}
	msgs, err := r.sink.WaitFor(1, 45*time.Second)
	if err != nil {
		t.Fatalf("no reply from the daemon: %v", err)
	}
	raw := string(msgs[0].Raw)
	reply := parseSent(msgs[0])
	if !regexp.MustCompile(`^\[secure\] .*NCL-[0-9A-Z]{4}-[0-9A-Z]{4}`).MatchString(reply.subject) || reply.kind != "instructions" {
		t.Errorf("the reply is %q (kind %q), want the instructions with [secure] and a reference", reply.subject, reply.kind)
	}
	if len(msgs[0].To) != 1 || msgs[0].To[0] != "resident@example.org" {
		t.Errorf("reply sent to %v, want the resident", msgs[0].To)
	}
	if !strings.Contains(raw, "Auto-Submitted: auto-replied") {
		t.Error("the reply lacks Auto-Submitted: auto-replied")
	}

	// Health: alive at once; ready once a poll has succeeded.
	base := "http://" + r.http
	waitFor(t, 20*time.Second, func() bool { return httpStatus(base+"/healthz") == 200 })
	waitFor(t, 20*time.Second, func() bool { return httpStatus(base+"/readyz") == 200 })
	if out, errOut, code := runBin(t, 20*time.Second, map[string]string{"OPTOUT_HTTP_ADDR": r.http}, "healthcheck"); code != 0 {
		t.Errorf("optoutd healthcheck exit status %d (%s%s), want 0", code, out, errOut)
	}
	if _, _, code := runBin(t, 20*time.Second, map[string]string{"OPTOUT_HTTP_ADDR": r.http}, "healthcheck", "--live"); code != 0 {
		t.Errorf("optoutd healthcheck --live exit status %d, want 0", code)
	}
	if got := httpStatus(base + "/metrics"); got != 200 {
		t.Errorf("GET /metrics = %d, want 200", got)
	}
	waitFor(t, 20*time.Second, func() bool {
		total, deleted, err := r.dv.Count(rigUser, "Processed")
		return err == nil && total-deleted == 1
	})

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("optoutd run after SIGTERM: %v, want a clean exit", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("optoutd run did not exit within 30 s of SIGTERM")
	}
	if n := len(r.sink.Messages()); n != 1 {
		t.Errorf("the sink holds %d messages, want exactly one reply", n)
	}
	if !strings.Contains(logs.String(), "optoutd stopped") {
		t.Error("optoutd run did not log a clean stop")
	}
	if strings.Contains(logs.String(), "resident@example.org") {
		t.Error("the logs contain the resident's email address")
	}
}

func httpStatus(url string) int {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func waitFor(t *testing.T, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestOnceExitCodes: `optoutd once` exits 0 after a good poll and outbox
// pass, and non-zero when the mailbox cannot be reached.
func TestOnceExitCodes(t *testing.T) {
	r := newDaemonRig(t)
	if _, err := r.dv.Append(rigUser, "INBOX", firstContactMail("once@example.org")); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runBin(t, time.Minute, r.env, "once")
	if code != 0 {
		t.Fatalf("optoutd once exit status %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "processed 1") {
		t.Errorf("optoutd once output %q, want it to report one message processed", out)
	}
	if n := len(r.sink.Messages()); n != 1 {
		t.Errorf("after once the sink holds %d messages, want the instructions", n)
	}
	// Run again: nothing new, nothing sent twice.
	if _, _, code := runBin(t, time.Minute, r.env, "once"); code != 0 {
		t.Errorf("second optoutd once exit status %d, want 0", code)
	}
	if n := len(r.sink.Messages()); n != 1 {
		t.Errorf("after a second once the sink holds %d messages, want still one", n)
	}

	// Nothing failed, so reprocess --failed has nothing to do and succeeds.
	out, errOut, code = runBin(t, time.Minute, r.env, "reprocess", "--failed")
	if code != 0 || !strings.Contains(out, "processed 0, failed again 0") {
		t.Errorf("optoutd reprocess --failed = status %d, %q (%s); want 0 and nothing done", code, out, errOut)
	}

	bad := map[string]string{}
	for k, v := range r.env {
		bad[k] = v
	}
	bad["OPTOUT_IMAP_ADDR"] = freeAddr(t) // nothing listens there
	out, errOut, code = runBin(t, time.Minute, bad, "once")
	if code == 0 {
		t.Errorf("optoutd once with the mailbox unreachable exit status 0, want non-zero\nstdout:\n%s\nstderr:\n%s", out, errOut)
	}
	if !strings.Contains(errOut, "optoutd once:") {
		t.Errorf("optoutd once failure printed no error:\n%s", errOut)
	}
}

// TestBadConfiguration: start-up with a bad configuration prints every
// problem, naming each variable, and exits non-zero without starting.
func TestBadConfiguration(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"missing required settings", nil,
			[]string{"DATABASE_URL", "OPTOUT_DATA_KEY", "OPTOUT_INDEX_KEY", "OPTOUT_TOKEN_KEY", "OPTOUT_ADDRESS", "OPTOUT_FORM_URL", "OPTOUT_IMAP_ADDR", "OPTOUT_IMAP_USER", "OPTOUT_SMTP_ADDR"}},
		{"bad values", map[string]string{"OPTOUT_IMAP_TLS": "sometimes", "OPTOUT_POLL_SCHEDULE": "every minute", "OPTOUT_REPLY_LIMIT": "-3", "OPTOUT_RETENTION": "forever"},
			[]string{"OPTOUT_IMAP_TLS", "OPTOUT_POLL_SCHEDULE", "OPTOUT_REPLY_LIMIT", "OPTOUT_RETENTION"}},
		{"plain text to a remote server and a short token key", map[string]string{
			"DATABASE_URL": "postgres://x@127.0.0.1:1/x", "OPTOUT_DATA_KEY": "k", "OPTOUT_INDEX_KEY": "i",
			"OPTOUT_TOKEN_KEY": base64.StdEncoding.EncodeToString([]byte("short")), "OPTOUT_ADDRESS": "team@nhs.example",
			"OPTOUT_IMAP_ADDR": "imap.example.com:143", "OPTOUT_IMAP_TLS": "none", "OPTOUT_IMAP_USER": "u",
			"OPTOUT_SMTP_ADDR": "smtp.example.com:25", "OPTOUT_SMTP_TLS": "none"},
			[]string{"OPTOUT_IMAP_TLS=none", "OPTOUT_SMTP_TLS=none", "OPTOUT_IMAP_PASSWORD", "OPTOUT_TOKEN_KEY", "OPTOUT_DATA_KEY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, cmd := range []string{"run", "once"} {
				out, errOut, code := runBin(t, 20*time.Second, tt.env, cmd)
				if code == 0 {
					t.Fatalf("optoutd %s with a bad configuration exit status 0\n%s", cmd, out)
				}
				for _, w := range tt.want {
					if !strings.Contains(errOut, w) {
						t.Errorf("optoutd %s: error output lacks %q:\n%s", cmd, w, errOut)
					}
				}
			}
		})
	}
}

// TestHealthcheck drives the healthcheck command against fake servers.
func TestHealthcheck(t *testing.T) {
	var paths []string
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		fmt.Fprintln(w, "ok")
	}))
	defer ok.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not ready: database unreachable", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	addr := func(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }
	ctx := context.Background()

	if err := runHealthcheck(ctx, []string{"--addr", addr(ok)}); err != nil {
		t.Errorf("healthcheck against a ready server: %v", err)
	}
	if err := runHealthcheck(ctx, []string{"--addr", addr(ok), "--live"}); err != nil {
		t.Errorf("healthcheck --live: %v", err)
	}
	if strings.Join(paths, ",") != "/readyz,/healthz" {
		t.Errorf("healthcheck asked for %v, want /readyz then /healthz", paths)
	}
	err := runHealthcheck(ctx, []string{"--addr", addr(down)})
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "database unreachable") {
		t.Errorf("healthcheck against a 503 = %v, want an error with the status and the reason", err)
	}
	if err := runHealthcheck(ctx, []string{"--addr", freeAddr(t), "--timeout", "2s"}); err == nil {
		t.Error("healthcheck with nothing listening = nil error")
	}
	var ee *exitError
	if err := runHealthcheck(ctx, []string{"extra"}); !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("healthcheck with an argument = %v, want a usage error", err)
	}
	// The binary's exit statuses.
	if _, _, code := runBin(t, 20*time.Second, map[string]string{"OPTOUT_HTTP_ADDR": addr(ok)}, "healthcheck"); code != 0 {
		t.Errorf("optoutd healthcheck (ready) exit status %d, want 0", code)
	}
	if _, _, code := runBin(t, 20*time.Second, map[string]string{"OPTOUT_HTTP_ADDR": addr(down)}, "healthcheck"); code != 1 {
		t.Errorf("optoutd healthcheck (not ready) exit status %d, want 1", code)
	}
}

func TestHealthURL(t *testing.T) {
	tests := []struct {
		addr, want string
		wantErr    bool
	}{
		{"127.0.0.1:8080", "http://127.0.0.1:8080/readyz", false},
		{"0.0.0.0:8080", "http://127.0.0.1:8080/readyz", false},
		{":9000", "http://127.0.0.1:9000/readyz", false},
		{"[::]:8080", "http://[::1]:8080/readyz", false},
		{"optoutd.internal:80", "http://optoutd.internal:80/readyz", false},
		{"8080", "", true},
		{"host:", "", true},
	}
	for _, tt := range tests {
		got, err := healthURL(tt.addr, "/readyz")
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("healthURL(%q) = %q, %v; want %q (error %v)", tt.addr, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestHTTPAddrSetting(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		env  map[string]string
		want string
	}{
		{nil, "127.0.0.1:8080"},
		{map[string]string{"OPTOUT_HTTP_ADDR": "0.0.0.0:9090"}, "0.0.0.0:9090"},
		// Another bad setting does not hide the address.
		{map[string]string{"OPTOUT_HTTP_ADDR": "0.0.0.0:9091", "OPTOUT_IMAP_TLS": "bogus"}, "0.0.0.0:9091"},
	}
	for _, tt := range tests {
		if got := httpAddrSetting(env(tt.env)); got != tt.want {
			t.Errorf("httpAddrSetting(%v) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

func TestParseTokenKey(t *testing.T) {
	key32 := bytes.Repeat([]byte{7}, 32)
	tests := []struct {
		in      string
		wantLen int
		wantErr bool
	}{
		{base64.StdEncoding.EncodeToString(key32), 32, false},
		{base64.RawURLEncoding.EncodeToString(key32), 32, false},
		{" " + base64.StdEncoding.EncodeToString(key32) + "\n", 32, false},
		{base64.StdEncoding.EncodeToString(key32[:16]), 0, true},
		{"not base64 at all!", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := parseTokenKey(tt.in)
		if len(got) != tt.wantLen || (err != nil) != tt.wantErr {
			t.Errorf("parseTokenKey(%q) = %d bytes, %v; want %d bytes (error %v)", tt.in, len(got), err, tt.wantLen, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), tt.in) && tt.in != "" {
			t.Errorf("parseTokenKey error %q quotes the secret", err)
		}
	}
}

func TestReadyMaxAge(t *testing.T) {
	now := time.Date(2026, 5, 14, 9, 0, 30, 0, time.UTC)
	tests := []struct {
		schedule string
		want     time.Duration
	}{
		{"* * * * *", 5 * time.Minute},
		{"*/5 * * * *", 17 * time.Minute},
		{"@every 10s", 2*time.Minute + 30*time.Second},
		{"not a schedule", 10 * time.Minute},
	}
	for _, tt := range tests {
		if got := readyMaxAge(tt.schedule, now); got != tt.want {
			t.Errorf("readyMaxAge(%q) = %s, want %s", tt.schedule, got, tt.want)
		}
	}
}

func TestMaskNHS(t *testing.T) {
	tests := []struct{ in, want string }{
		{"9434765919", "*** *** *919"},
		{"943 476 5919", "*** *** *919"},
		{"12", "*** *** ****"},
		{"", "*** *** ****"},
	}
	for _, tt := range tests {
		if got := store.MaskNHS(tt.in); got != tt.want {
			t.Errorf("store.MaskNHS(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReprocessUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"--failed", "NCL-2345-6789"}, {"not-a-reference"}, {"NCL-2345-6789", "NCL-2345-6788"}} {
		var ee *exitError
		if err := runReprocess(context.Background(), args); !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("reprocess %q = %v, want a usage error (status 2)", args, err)
		}
	}
}
