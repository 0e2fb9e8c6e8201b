package web_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/ncl-icb/optout-intake/internal/browser"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/web"
)

// tweakedUser is a mockoidc user whose ID token the provider still signs
// with its real key, but for another audience or already expired.
type tweakedUser struct {
	*mockoidc.MockUser
	audience string // replaces the token's audience when set
	expired  bool   // the token expired an hour ago
}

func (u tweakedUser) Claims(scope []string, c *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	if u.audience != "" {
		c.Audience = jwt.ClaimStrings{u.audience}
	}
	if u.expired {
		c.IssuedAt = jwt.NewNumericDate(time.Now().Add(-2 * time.Hour))
		c.NotBefore = c.IssuedAt
		c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
	}
	return u.MockUser.Claims(scope, c)
}

// TestBrowserSignsInWithOIDC drives Chromium through "Sign in with
// NHSmail" against an OpenID provider on loopback (mockoidc, which signs
// real RS256 tokens and checks PKCE), then through each bad case: a token
// for another audience, an expired token, a replayed state, a disabled
// account, an unknown identity, and a known email with another subject.
// Each is refused and audited with its cause.
func TestBrowserSignsInWithOIDC(t *testing.T) {
	t.Parallel()
	idp, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Shutdown() }) //nolint:errcheck // test teardown
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	e := newEnv(t, func(d *web.Deps) {
		d.OIDC = &web.OIDCConfig{Issuer: idp.Issuer(), ClientID: idp.ClientID, ClientSecret: idp.ClientSecret,
			RedirectURL: base + "/signin/oidc/callback"}
		d.LocalSigninOff = true
	})
	e.seed(item{Fields: goodFields(validNHS[0])}) // so the queue shows its table
	// Serve the same page on the address the redirect URL names, keeping
	// the last callback URL the browser brought back.
	var mu sync.Mutex
	var lastCallback string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/signin/oidc/callback" {
			mu.Lock()
			lastCallback = base + r.URL.RequestURI()
			mu.Unlock()
		}
		e.srv.Config.Handler.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // closed below
	t.Cleanup(func() { srv.Close() })

	b := browser.New(t, browser.Options{Timeout: 60 * time.Second})
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(b, 15*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, steps...); err != nil {
			page, _ := chromedp.Run(b, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
			t.Fatalf("%s: %v; the browser shows:\n%.1500s", what, err, page)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(b, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	signInWith := func(what string, u mockoidc.User, want string) {
		t.Helper()
		idp.QueueUser(u)
		do(what,
			chromedp.Navigate(base+"/signin"),
			chromedp.WaitVisible(chromedp.CSS("#signin-oidc")),
			chromedp.Click(chromedp.CSS("#signin-oidc")),
			chromedp.WaitVisible(chromedp.CSS(want)),
		)
	}
	refused := func(what, cause string) {
		t.Helper()
		if s := text(".error-summary"); !strings.Contains(s, "could not be signed in with NHSmail") {
			t.Errorf("%s: the page says %q, want the refusal", what, s)
		}
		if n := auditCount(t, e, "staff.sign_in_failed", "cause="+cause); n != 1 {
			t.Errorf("%s: %d audit entries with cause=%s, want 1", what, n, cause)
		}
	}

	// Password sign-in is off: no password form.
	do("open the sign-in page", chromedp.Navigate(base+"/queue"), chromedp.WaitVisible(chromedp.CSS("#signin-oidc")))
	if ok, _ := chromedp.Run(b, chromedp.Evaluate[bool](`document.querySelector("#password") === null`)); !ok {
		t.Error("the password form is shown with OPTOUT_LOCAL_SIGNIN=off")
	}

	triager := &mockoidc.MockUser{Subject: "entra-sub-triager", Email: e.triager.Email, EmailVerified: true}
	signInWith("sign in as the triager", triager, "table.table")
	if h := text("h1"); h != "Triage queue" {
		t.Fatalf("after NHSmail sign-in the page is %q, want the queue", h)
	}
	if n := auditCount(t, e, "staff.sign_in", "method=oidc"); n != 1 {
		t.Errorf("audited OIDC sign-ins = %d, want 1", n)
	}
	mu.Lock()
	used := lastCallback
	mu.Unlock()

	// The same state again (a replayed callback, from a fresh page).
	do("replay the callback",
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(chromedp.CSS("#signin-oidc")),
		chromedp.Navigate(used),
		chromedp.WaitVisible(chromedp.CSS(".error-summary")),
	)
	refused("replayed state", "unknown_or_used_state")

	signInWith("a token for another audience", tweakedUser{MockUser: triager, audience: "another-app"}, ".error-summary")
	refused("wrong audience", "bad_id_token")

	signInWith("an expired token", tweakedUser{MockUser: triager, expired: true}, ".error-summary")
	refused("expired token", "expired_id_token")

	disabled := true
	if err := e.st.UpdateStaff(context.Background(), e.viewer.ID, store.StaffUpdate{Disabled: &disabled}, store.System); err != nil {
		t.Fatal(err)
	}
	signInWith("a disabled account", &mockoidc.MockUser{Subject: "entra-sub-viewer", Email: e.viewer.Email}, ".error-summary")
	refused("disabled account", "disabled")

	signInWith("an unknown identity", &mockoidc.MockUser{Subject: "entra-sub-stranger", Email: "stranger@nhs.net"}, ".error-summary")
	refused("unknown identity", "no_account")

	// The triager's account is now bound to its subject: the same email
	// with another subject does not open it.
	signInWith("the triager's email with another subject", &mockoidc.MockUser{Subject: "entra-sub-impostor", Email: e.triager.Email}, ".error-summary")
	if n := auditCount(t, e, "staff.sign_in_failed", "cause=no_account"); n != 2 {
		t.Errorf("audit entries for unknown identities = %d, want 2", n)
	}

	// The bound subject still signs in, whatever the email claim says.
	signInWith("the triager again", &mockoidc.MockUser{Subject: "entra-sub-triager", Email: "renamed@nhs.net"}, "table.table")
	if n := auditCount(t, e, "staff.sign_in", "method=oidc"); n != 2 {
		t.Errorf("audited OIDC sign-ins = %d, want 2", n)
	}
}
