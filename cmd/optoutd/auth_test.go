package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ncl-icb/optout-intake/config"
	"github.com/ncl-icb/optout-intake/internal/pgtest"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/web"
)

// TestAuditVerifyAndRuntimeRole runs the built binary: `optoutd audit
// verify` passes on an untouched log and names the row the owner role
// changed behind the trigger's back; `optoutd migrate --print-grants ROLE`
// prints GRANTs under which the binary runs as that role.
func TestAuditVerifyAndRuntimeRole(t *testing.T) {
	t.Parallel()
	pool, schema := pgtest.Schema(t, 2)
	dataKey, indexKey, err := store.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": pgtest.URL(t), "OPTOUT_DB_SCHEMA": schema, "OPTOUT_DATA_KEY": dataKey, "OPTOUT_INDEX_KEY": indexKey}
	if out, errOut, code := runBin(t, time.Minute, env, "migrate"); code != 0 {
		t.Fatalf("optoutd migrate = %d\n%s%s", code, out, errOut)
	}
	ctx := context.Background()
	keys, _ := store.ParseKeys(dataKey, indexKey)
	s := store.New(pool, store.Options{Schema: schema, Keys: keys})
	for i := range 10 {
		if err := s.WriteAudit(ctx, store.AuditEntry{Actor: store.Actor(i + 1), Action: "test.write"}); err != nil {
			t.Fatal(err)
		}
	}
	if out, errOut, code := runBin(t, time.Minute, env, "audit", "verify"); code != 0 || !strings.Contains(out, "intact: 10 rows") {
		t.Fatalf("audit verify on an untouched log = %d %q %q", code, out, errOut)
	}

	// The runtime role: create it, apply the printed grants as the owner.
	var b [6]byte
	rand.Read(b[:])
	role := "optout_rt_" + hex.EncodeToString(b[:])
	grants, errOut, code := runBin(t, time.Minute, env, "migrate", "--print-grants", role)
	if code != 0 || !strings.Contains(grants, "grant usage on schema") {
		t.Fatalf("migrate --print-grants = %d %q %q", code, grants, errOut)
	}
	admin, err := pgx.Connect(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "create role "+role+" login"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), pgtest.URL(t))
		if err != nil {
			t.Errorf("drop role: %v", err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "drop owned by "+role+"; drop role "+role); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	if _, err := admin.Exec(ctx, grants); err != nil {
		t.Fatalf("apply the printed grants: %v\n%s", err, grants)
	}
	u, _ := url.Parse(pgtest.URL(t))
	u.User = url.User(role)
	rtEnv := map[string]string{}
	for k, v := range env {
		rtEnv[k] = v
	}
	rtEnv["DATABASE_URL"] = u.String()
	// Startup as the runtime role finds the schema current and leaves it be.
	if out, errOut, code := runBin(t, time.Minute, rtEnv, "migrate"); code != 0 || !strings.Contains(out, "at migration") {
		t.Fatalf("optoutd migrate as the runtime role on a current schema = %d %q %q", code, out, errOut)
	}
	rt, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	for _, q := range []string{"alter table " + schema + ".audit disable trigger audit_append_only", "update " + schema + ".audit set detail = 'x'", "delete from " + schema + ".audit"} {
		if _, err := rt.Exec(ctx, q); err == nil {
			t.Errorf("%s as the runtime role succeeded", q)
		}
	}

	// The owner can get round the trigger; verify names the row.
	var id, seq int64
	if err := pool.QueryRow(ctx, `select id, chain_seq from audit where actor = 'staff:4'`).Scan(&id, &seq); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `alter table audit disable trigger audit_append_only;
		update audit set action = 'test.nothing_to_see' where id = `+itoa(id)+`;
		alter table audit enable trigger audit_append_only`); err != nil {
		t.Fatal(err)
	}
	out, _, code := runBin(t, time.Minute, rtEnv, "audit", "verify")
	want := regexp.MustCompile(`BROKEN at chain row ` + itoa(seq) + ` \(id ` + itoa(id) + `\)`)
	if code != 1 || !want.MatchString(out) {
		t.Errorf("audit verify after the owner changed row %d = %d %q, want exit 1 naming it", id, code, out)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestWebDepsFromConfig(t *testing.T) {
	c, err := config.Load(func(k string) string {
		return map[string]string{"OPTOUT_METRICS_ADDR": "127.0.0.1:9090", "OPTOUT_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7",
			"OPTOUT_SESSION_MAX": "8h"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	d := webDeps(c, web.Deps{Gatherer: prometheus.NewRegistry()})
	if !d.MetricsElsewhere || d.Gatherer != nil || len(d.TrustedProxies) != 2 || d.SessionMax != 8*time.Hour || d.OIDC != nil || d.LocalSigninOff {
		t.Errorf("webDeps = %+v", d)
	}
	// NHSmail sign-in: the OIDC settings reach the page, and password
	// sign-in can be switched off.
	c, err = config.Load(func(k string) string {
		return map[string]string{"OPTOUT_OIDC_ISSUER": "https://login.microsoftonline.com/t/v2.0", "OPTOUT_OIDC_CLIENT_ID": "client-id",
			"OPTOUT_OIDC_CLIENT_SECRET": "client-secret", "OPTOUT_OIDC_REDIRECT_URL": "https://optout.example/signin/oidc/callback",
			"OPTOUT_LOCAL_SIGNIN": "off"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	d = webDeps(c, web.Deps{Gatherer: prometheus.NewRegistry()})
	want := web.OIDCConfig{Issuer: "https://login.microsoftonline.com/t/v2.0", ClientID: "client-id", ClientSecret: "client-secret",
		RedirectURL: "https://optout.example/signin/oidc/callback"}
	if d.OIDC == nil || *d.OIDC != want || !d.LocalSigninOff || d.MetricsElsewhere || d.Gatherer == nil {
		t.Errorf("webDeps with OIDC = %+v (OIDC %+v), want %+v and password sign-in off", d, d.OIDC, want)
	}
}

// TestRunMetricsAddr runs the built `optoutd run` with OPTOUT_METRICS_ADDR:
// /metrics answers on that address only, and the staff port (which still
// serves the page and health) answers 404 for it.
func TestRunMetricsAddr(t *testing.T) {
	r := newDaemonRig(t)
	metricsAddr := freeAddr(t)
	env := maps.Clone(r.env)
	env["OPTOUT_METRICS_ADDR"] = metricsAddr
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, optoutdBin, "run")
	cmd.Env = baseEnv(env)
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

	waitFor(t, 60*time.Second, func() bool { return httpStatus("http://"+r.http+"/healthz") == 200 })
	waitFor(t, 60*time.Second, func() bool { return httpStatus("http://"+metricsAddr+"/metrics") == 200 })
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "optout_mailbox_polls_total") {
		t.Errorf("/metrics on OPTOUT_METRICS_ADDR lacks the daemon's metrics:\n%.2000s", body)
	}
	if got := httpStatus("http://" + r.http + "/metrics"); got != http.StatusNotFound {
		t.Errorf("/metrics on OPTOUT_HTTP_ADDR with OPTOUT_METRICS_ADDR set = %d, want 404", got)
	}
	if got := httpStatus("http://" + metricsAddr + "/signin"); got != http.StatusNotFound {
		t.Errorf("the triage page on OPTOUT_METRICS_ADDR = %d, want 404 (metrics only)", got)
	}

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
}
