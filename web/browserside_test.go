package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/web"
)

// postFrom posts a form with an Origin header (and the Sec-Fetch-Site a
// browser would send with it).
func (c *client) postFrom(origin, site, path string, v url.Values) *http.Response {
	c.e.t.Helper()
	req, err := http.NewRequest("POST", c.e.srv.URL+path, strings.NewReader(v.Encode()))
	if err != nil {
		c.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin)
	if site != "" {
		req.Header.Set("Sec-Fetch-Site", site)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestCrossOriginPostRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, _ := e.seed(item{Fields: goodFields(validNHS[0])})
	c := e.signIn(e.triager)
	path := fmt.Sprintf("/items/%d/assign", id)
	v := url.Values{"csrf": {c.csrf}, "assignee": {fmt.Sprint(e.triager.ID)}}
	for _, tc := range []struct{ origin, site string }{
		{"https://evil.example", ""},
		{"https://evil.example", "cross-site"},
		{"null", ""},
	} {
		if resp := c.postFrom(tc.origin, tc.site, path, v); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s with a valid token from Origin %q (Sec-Fetch-Site %q) = %d, want 403", path, tc.origin, tc.site, resp.StatusCode)
		}
	}
	// Sign-in too.
	anon := e.anon()
	_, body := anon.get("/signin")
	sv := url.Values{"csrf": {csrfOf(t, body)}, "email": {e.viewer.Email}, "password": {testPassword}}
	if resp := anon.postFrom("https://evil.example", "cross-site", "/signin", sv); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site sign-in = %d, want 403", resp.StatusCode)
	}
	// The same request from our own origin goes through.
	if resp := c.postFrom(e.srv.URL, "same-origin", path, v); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("same-origin assign = %d, want 303", resp.StatusCode)
	}
	n := auditCount(t, e, "access.refused", "reason=cross_origin")
	if n != 3 {
		t.Errorf("audited cross-origin refusals = %d, want 3", n)
	}
}

// auditCount counts audit entries with action whose detail contains detail.
func auditCount(t *testing.T, e *env, action, detail string) int {
	t.Helper()
	var n int
	if err := e.st.Pool().QueryRow(context.Background(), `select count(*) from audit where action = $1 and detail like '%' || $2 || '%'`,
		action, detail).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSigninTokenTiedToPresession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A token from one browser does not work with another browser's cookie.
	a, b := e.anon(), e.anon()
	_, body := a.get("/signin")
	tokA := csrfOf(t, body)
	b.get("/signin")
	if resp, _ := b.postRaw("/signin", url.Values{"csrf": {tokA}, "email": {e.viewer.Email}, "password": {testPassword}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in with another browser's token = %d, want 403", resp.StatusCode)
	}
	// Nor does a cookie the attacker chose with a token they made up.
	u, _ := url.Parse(e.srv.URL)
	b.http.Jar.SetCookies(u, []*http.Cookie{{Name: "optout_presession", Value: strings.Repeat("A", 32)}})
	if resp, _ := b.postRaw("/signin", url.Values{"csrf": {"AAAA"}, "email": {e.viewer.Email}, "password": {testPassword}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in with a chosen cookie and token = %d, want 403", resp.StatusCode)
	}
	if n := auditCount(t, e, "staff.sign_in_failed", "reason=bad_form"); n != 2 {
		t.Errorf("audited bad sign-in forms = %d, want 2", n)
	}
}

func TestSessionRotationAndLifetime(t *testing.T) {
	t.Parallel()
	const sessionMax = 2 * time.Second
	e := newEnv(t, func(d *web.Deps) { d.SessionMax = sessionMax })
	c := e.signIn(e.viewer)
	u, _ := url.Parse(e.srv.URL)
	old := ""
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == "optout_session" {
			old = ck.Value
		}
	}
	// Signing in again in the same browser ends the old session.
	_, body := c.get("/signin")
	resp, _ := c.postRaw("/signin", url.Values{"csrf": {csrfOf(t, body)}, "email": {e.viewer.Email}, "password": {testPassword}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("second sign-in = %d", resp.StatusCode)
	}
	stale := e.anon()
	stale.http.Jar.SetCookies(u, []*http.Cookie{{Name: "optout_session", Value: old}})
	if resp, _ := stale.get("/queue"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the session id from before sign-in still works: %d", resp.StatusCode)
	}
	// A role change ends the account's sessions.
	role := store.RoleTriager
	if err := e.st.UpdateStaff(context.Background(), e.viewer.ID, store.StaffUpdate{Role: &role}, store.System); err != nil {
		t.Fatal(err)
	}
	if resp, _ := c.get("/queue"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("session after a role change = %d, want 303 to sign in", resp.StatusCode)
	}
	// The absolute lifetime ends a busy session. The session began after
	// began and before signedIn; a page answered within sessionMax of began
	// was surely asked for inside the lifetime, whatever the machine's load
	// (a slower answer proves nothing either way, so it is not judged).
	began := time.Now()
	c = e.signIn(e.viewer)
	signedIn := time.Now()
	for time.Since(began) < sessionMax-700*time.Millisecond {
		resp, _ := c.get("/queue")
		if resp.StatusCode != http.StatusOK && time.Since(began) < sessionMax {
			t.Fatalf("busy session ended early: %d", resp.StatusCode)
		}
		time.Sleep(300 * time.Millisecond)
	}
	time.Sleep(time.Until(signedIn.Add(sessionMax + 500*time.Millisecond)))
	if resp, _ := c.get("/queue"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("session past OPTOUT_SESSION_MAX = %d, want 303 to sign in", resp.StatusCode)
	}
}

func TestHTTPSCookiesAndHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tlsSrv := httptest.NewTLSServer(e.srv.Config.Handler)
	t.Cleanup(tlsSrv.Close)
	jar, _ := cookiejar.New(nil)
	hc := tlsSrv.Client()
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(tlsSrv.URL + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var names []string
	for _, c := range resp.Cookies() {
		names = append(names, c.Name)
		if !strings.HasPrefix(c.Name, "__Host-") || !c.Secure || c.Path != "/" || c.Domain != "" {
			t.Errorf("cookie over HTTPS = %+v, want __Host- prefix, Secure, Path=/ and no Domain", c)
		}
	}
	if len(names) == 0 {
		t.Error("no pre-session cookie over HTTPS")
	}
	h := resp.Header
	for k, want := range map[string]string{
		"Strict-Transport-Security": "max-age=31536000",
		"Referrer-Policy":           "no-referrer",
		"Content-Security-Policy":   "frame-ancestors 'none'",
		"Permissions-Policy":        "camera=()",
	} {
		if !strings.Contains(h.Get(k), want) {
			t.Errorf("%s = %q, want %q in it", k, h.Get(k), want)
		}
	}
	// Plain HTTP on loopback: no HSTS (a browser would ignore it anyway).
	plain, _ := e.anon().get("/signin")
	if plain.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over plain HTTP")
	}
}

func TestMetricsElsewhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *web.Deps) { d.MetricsElsewhere = true })
	if resp, _ := e.anon().get("/metrics"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on the page's address with OPTOUT_METRICS_ADDR set = %d, want 404", resp.StatusCode)
	}
	srv := httptest.NewServer(web.MetricsHandler(e.reg))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the metrics handler = %d", resp.StatusCode)
	}
}

// TestLocalSigninOff: with OPTOUT_LOCAL_SIGNIN=off the password form is not
// offered, and a password posted anyway (right password, valid token) is
// refused and audited: hiding the form is not enough.
func TestLocalSigninOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *web.Deps) {
		// Never contacted: the provider is discovered on first use.
		d.OIDC = &web.OIDCConfig{Issuer: "https://login.microsoftonline.com/tenant/v2.0", ClientID: "c",
			RedirectURL: "https://optout.example/signin/oidc/callback"}
		d.LocalSigninOff = true
	})
	c := e.anon()
	_, body := c.get("/signin")
	if strings.Contains(body, `name="password"`) {
		t.Error("the sign-in page offers a password with OPTOUT_LOCAL_SIGNIN=off")
	}
	resp, _ := c.postRaw("/signin", url.Values{"csrf": {csrfOf(t, body)}, "email": {e.admin.Email}, "password": {testPassword}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("password sign-in with OPTOUT_LOCAL_SIGNIN=off = %d, want 403", resp.StatusCode)
	}
	if resp, _ := c.get("/queue"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET /queue after the refused sign-in = %d, want 303 to sign in", resp.StatusCode)
	}
	if n := auditCount(t, e, "staff.sign_in_failed", "reason=local_off"); n != 1 {
		t.Errorf("audited password sign-ins while off = %d, want 1", n)
	}
}
