package mailbox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ncl-icb/optout-intake/internal/dovecot"
	"github.com/ncl-icb/optout-intake/internal/retry"
)

func TestXOAUTH2Client(t *testing.T) {
	t.Parallel()
	c := NewXOAUTH2Client("optout@nhs.net", "tok123")
	mech, ir, err := c.Start()
	if err != nil || mech != "XOAUTH2" || string(ir) != "user=optout@nhs.net\x01auth=Bearer tok123\x01\x01" {
		t.Fatalf("Start() = %q, %q, %v", mech, ir, err)
	}
	fail := []byte(`{"status":"401","schemes":"bearer","scope":"https://outlook.office365.com/.default"}`)
	resp, err := c.Next(fail)
	if err != nil || resp == nil || len(resp) != 0 {
		t.Errorf("Next(error challenge) = %q, %v; want an empty response", resp, err)
	}
	if string(c.Failure) != string(fail) {
		t.Errorf("Failure = %q, want the challenge", c.Failure)
	}
	if _, err := c.Next(fail); err == nil {
		t.Errorf("second challenge accepted, want an error")
	}
	if _, _, err := NewXOAUTH2Client("a\x01b", "t").Start(); err == nil {
		t.Errorf("Start with a control character in the user succeeded")
	}
}

// tokenServer is a fake Microsoft identity platform token endpoint.
type tokenServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests int
	grants   []string
	refresh  int // refresh tokens issued
	fail     string
	status   int
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("token request: %v", err)
		}
		ts.mu.Lock()
		defer ts.mu.Unlock()
		ts.requests++
		ts.grants = append(ts.grants, r.PostForm.Get("grant_type")+":"+r.PostForm.Get("refresh_token")+":"+r.PostForm.Get("scope"))
		w.Header().Set("Content-Type", "application/json")
		if ts.fail != "" {
			w.WriteHeader(ts.status)
			fmt.Fprintf(w, `{"error":%q,"error_description":"AADSTS70000: secret details for user someone@nhs.net"}`, ts.fail)
			return
		}
		ts.refresh++
		fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-%d"}`, ts.requests, ts.refresh)
	}))
	t.Cleanup(ts.Close)
	return ts
}

type memStore struct {
	mu    sync.Mutex
	token string
	saves int
	err   error
}

func (m *memStore) Load(context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.token, nil
}

func (m *memStore) Save(_ context.Context, tok string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.token = tok
	m.saves++
	return nil
}

func TestClientCredentials(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t)
	toks, err := NewTokenSource(TokenConfig{ClientID: "app", ClientSecret: "s3cret", TokenURL: ts.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	toks.now = func() time.Time { return now }
	for range 3 {
		tok, err := toks.Token()
		if err != nil || tok.AccessToken != "at-1" {
			t.Fatalf("Token() = %v, %v; want at-1", tok, err)
		}
	}
	if ts.requests != 1 || !strings.HasPrefix(ts.grants[0], "client_credentials::https://outlook.office365.com/.default") {
		t.Errorf("requests = %d %v, want one client_credentials request for the Exchange scope", ts.requests, ts.grants)
	}
	// Renewed a minute before expiry.
	now = now.Add(3600*time.Second - 30*time.Second)
	if tok, err := toks.Token(); err != nil || tok.AccessToken != "at-2" {
		t.Errorf("Token() near expiry = %v, %v; want a new token", tok, err)
	}
	// The endpoint refuses: a permanent, visible failure without secrets.
	ts.mu.Lock()
	ts.fail, ts.status = "invalid_client", http.StatusUnauthorized
	ts.mu.Unlock()
	now = now.Add(2 * time.Hour)
	_, err = toks.Token()
	var te *TokenError
	if !errors.As(err, &te) || te.Temporary() || te.Code != "invalid_client" || te.Status != 401 {
		t.Fatalf("Token() refused = %v, want a permanent TokenError invalid_client/401", err)
	}
	for _, secret := range []string{"s3cret", "someone@nhs.net", "AADSTS70000"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("token error %q reveals %q", err, secret)
		}
	}
	if toks.LastTokenError() == nil || toks.State().Failures != 1 {
		t.Errorf("State() = %+v, want the failure recorded", toks.State())
	}
	// And through Dial it is a permanent ErrAuth.
	cfg := Config{Addr: "127.0.0.1:1", TLS: TLSNone, User: "x", TokenSource: toks}
	cl := &Client{cfg: cfg.WithDefaults()}
	if err := cl.login(context.Background()); !errors.Is(err, ErrAuth) || retry.Temporary(err) {
		t.Errorf("login with a refused token = %v, want permanent ErrAuth", err)
	}
	// A 503 is temporary.
	ts.mu.Lock()
	ts.fail, ts.status = "temporarily_unavailable", http.StatusServiceUnavailable
	ts.mu.Unlock()
	if _, err := toks.Token(); !retry.Temporary(err) {
		t.Errorf("Token() on 503 = %v, want temporary", err)
	}
	ts.mu.Lock()
	ts.fail = ""
	ts.mu.Unlock()
	if _, err := toks.Token(); err != nil || toks.LastTokenError() != nil || toks.State().Failures != 0 {
		t.Errorf("Token() after recovery = %v, state %+v", err, toks.State())
	}
}

func TestRefreshTokenRotation(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t)
	store := &memStore{token: "rt-initial"}
	toks, err := NewTokenSource(TokenConfig{Flow: FlowRefreshToken, ClientID: "app", TokenURL: ts.URL, RefreshStore: store}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	toks.now = func() time.Time { return now }
	if _, err := toks.Token(); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	if _, err := toks.Token(); err != nil {
		t.Fatal(err)
	}
	if store.token != "rt-2" || store.saves != 2 {
		t.Errorf("store = %q after %d saves, want rt-2 after 2", store.token, store.saves)
	}
	if !strings.HasPrefix(ts.grants[0], "refresh_token:rt-initial:") || !strings.HasPrefix(ts.grants[1], "refresh_token:rt-1:") ||
		!strings.Contains(ts.grants[0], "IMAP.AccessAsUser.All offline_access") {
		t.Errorf("grants = %v, want each rotated token used once, with the delegated IMAP scope", ts.grants)
	}
	// A failing Save is loud but the rotated token stays in use.
	store.err = errors.New("disk full")
	now = now.Add(2 * time.Hour)
	if _, err := toks.Token(); err == nil || !strings.Contains(err.Error(), "save rotated refresh token") {
		t.Errorf("Token() with a failing store = %v, want the save error", err)
	}
	store.err = nil
	if _, err := toks.Token(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ts.grants[3], "refresh_token:rt-3:") || store.token != "rt-4" {
		t.Errorf("after a failed save: grants %v, stored %q; want rt-3 used and rt-4 stored", ts.grants, store.token)
	}
	empty, _ := NewTokenSource(TokenConfig{Flow: FlowRefreshToken, ClientID: "app", TokenURL: ts.URL, RefreshStore: &memStore{}}, nil)
	if _, err := empty.Token(); err == nil || retry.Temporary(err) {
		t.Errorf("Token() with no stored refresh token = %v, want a permanent error", err)
	}
}

func TestTokenCommandAndFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	counter := filepath.Join(dir, "n")
	cmd := `echo x >> ` + counter + `; echo '{"access_token":"cmd-tok","expires_in":600}'`
	toks, err := NewTokenSource(TokenConfig{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		tok, err := toks.Token()
		if err != nil || tok.AccessToken != "cmd-tok" || time.Until(tok.Expiry) < 9*time.Minute {
			t.Fatalf("command Token() = %+v, %v", tok, err)
		}
	}
	if b, _ := os.ReadFile(counter); strings.Count(string(b), "x") != 1 {
		t.Errorf("token command ran %d times, want 1 (cached)", strings.Count(string(b), "x"))
	}
	bad, _ := NewTokenSource(TokenConfig{Command: "echo secret-stuff >&2; exit 3"}, nil)
	if _, err := bad.Token(); err == nil || !retry.Temporary(err) || strings.Contains(err.Error(), "secret-stuff") {
		t.Errorf("failing command Token() = %v, want a temporary error without its stderr", err)
	}
	slow, _ := NewTokenSource(TokenConfig{Command: "sleep 5", Timeout: 200 * time.Millisecond}, nil)
	start := time.Now()
	if _, err := slow.Token(); err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("slow command Token() = %v after %v, want a timeout", err, time.Since(start))
	}

	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("file-tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ft, err := NewTokenSource(TokenConfig{File: file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := ft.Token(); err != nil || tok.AccessToken != "file-tok" {
		t.Errorf("file Token() = %v, %v", tok, err)
	}
	missing, _ := NewTokenSource(TokenConfig{File: filepath.Join(dir, "nope")}, nil)
	if _, err := missing.Token(); err == nil || missing.LastTokenError() == nil {
		t.Errorf("missing file Token() = %v, want an error recorded", err)
	}
	if _, err := NewTokenSource(TokenConfig{}, nil); err == nil {
		t.Errorf("NewTokenSource with nothing configured succeeded")
	}
}

func TestParseToken(t *testing.T) {
	t.Parallel()
	toks := &Tokens{now: time.Now}
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"abc.def\n", "abc.def", false},
		{`{"access_token":"j","expires_in":"60"}`, "j", false},
		{`{"access_token":"j","expires_in":60}`, "j", false},
		{`{"expires_in":60}`, "", true},
		{`{"access_token":`, "", true},
		{"two words", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		tok, err := toks.parseToken(FlowFile, []byte(tt.in), time.Minute)
		if (err != nil) != tt.wantErr || (err == nil && tok.AccessToken != tt.want) {
			t.Errorf("parseToken(%q) = %v, %v; want %q (error %v)", tt.in, tok, err, tt.want, tt.wantErr)
		}
	}
}

// TestXOAUTH2Dovecot logs in to Dovecot with XOAUTH2: tokens come from a fake
// identity platform (client credentials) and Dovecot checks them against a
// fake introspection endpoint.
func TestXOAUTH2Dovecot(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t)
	var user atomic.Value
	user.Store("")
	var introspected atomic.Int32
	intro := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		introspected.Add(1)
		_ = r.ParseForm()
		tok := r.PostForm.Get("token")
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(tok, "at-") {
			fmt.Fprintf(w, `{"active":"true","username":%q}`, user.Load().(string))
			return
		}
		fmt.Fprint(w, `{"active":"false"}`)
	}))
	t.Cleanup(intro.Close)
	srv := dovecot.StartWith(t, dovecot.Options{OAuth2IntrospectionURL: intro.URL})
	cfg := newUser(t, srv)
	user.Store(cfg.User)
	toks, err := NewTokenSource(TokenConfig{ClientID: "app", ClientSecret: "s", TokenURL: ts.URL}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Password, cfg.TokenSource, cfg.Auth = "", toks, ""
	c := dial(t, cfg)
	if _, err := c.Select(ctxT(t), "INBOX"); err != nil {
		t.Errorf("Select after XOAUTH2 login: %v", err)
	}
	if introspected.Load() == 0 {
		t.Errorf("Dovecot never introspected the token: the login did not use XOAUTH2")
	}
	// A token the server rejects is a permanent auth failure.
	cfg.TokenSource = staticToken("bogus")
	ownIP(&cfg)
	if _, err := Dial(ctxT(t), cfg, nil); !errors.Is(err, ErrAuth) || retry.Temporary(err) {
		t.Errorf("Dial with a rejected token = %v, want permanent ErrAuth", err)
	}
}

type staticToken string

func (s staticToken) Token() (*oauth2.Token, error) {
	return &oauth2.Token{AccessToken: string(s), Expiry: time.Now().Add(time.Hour)}, nil
}
