package mailbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/oauth2/microsoft"
)

// OAuth 2.0 flows for TokenConfig.Flow.
const (
	// FlowClientCredentials: the app registration's own identity (client ID
	// and secret), granted IMAP access to the mailbox by an Exchange
	// administrator (New-ServicePrincipal, Add-MailboxPermission).
	FlowClientCredentials = "client_credentials"
	// FlowRefreshToken: a delegated refresh token obtained once by signing in
	// as the mailbox; every rotated refresh token is saved in RefreshStore.
	FlowRefreshToken = "refresh_token"
	// FlowCommand: run a command that prints a token.
	FlowCommand = "command"
	// FlowFile: read a token from a file that something else keeps fresh.
	FlowFile = "file"
)

// Scopes used with Microsoft Exchange Online.
const (
	ScopeExchangeDefault = "https://outlook.office365.com/.default"
	ScopeIMAPDelegated   = "https://outlook.office365.com/IMAP.AccessAsUser.All"
)

// RefreshTokenStore keeps the refresh token between runs. The pipeline backs
// it with the encrypted store. Save is called whenever the identity platform
// issues a new (rotated) refresh token; if it fails, the next restart may be
// left with a revoked token, so the failure is reported like a token failure.
type RefreshTokenStore interface {
	Load(ctx context.Context) (string, error)
	Save(ctx context.Context, refreshToken string) error
}

// TokenConfig says where XOAUTH2 bearer tokens come from.
type TokenConfig struct {
	// Flow is client_credentials, refresh_token, command or file.
	// Not configured directly: the daemon picks client_credentials when a
	// client secret is set, refresh_token when a refresh token is, else
	// command or file when those are set.
	Flow string
	// TenantID is the Microsoft Entra tenant (directory) ID.
	// Environment: OPTOUT_OAUTH_TENANT.
	TenantID string
	// ClientID is the app registration's application ID.
	// Environment: OPTOUT_OAUTH_CLIENT_ID.
	ClientID string
	// ClientSecret is the app registration's secret.
	// Environment: OPTOUT_OAUTH_CLIENT_SECRET(_FILE).
	ClientSecret string
	// Scopes default to https://outlook.office365.com/.default for client
	// credentials, and IMAP.AccessAsUser.All + offline_access for refresh.
	Scopes []string
	// TokenURL overrides the Microsoft endpoint derived from TenantID.
	TokenURL string
	// RefreshStore holds the refresh token (FlowRefreshToken).
	RefreshStore RefreshTokenStore
	// Command is run with /bin/sh -c; it prints a bare access token or JSON
	// {"access_token": "...", "expires_in": seconds}.
	// Environment: OPTOUT_IMAP_TOKEN_COMMAND.
	Command string
	// File holds a bare token or the same JSON; it is re-read every minute.
	// Environment: OPTOUT_IMAP_TOKEN_FILE.
	File string
	// Timeout bounds one token request or command (default 30 s).
	Timeout time.Duration
	// HTTPClient is used for the token endpoint (default: a client with
	// Timeout).
	HTTPClient *http.Client
}

// TokenError is a failure to get a token. Its text carries the flow, the
// OAuth error code and the HTTP status, never the token or the response
// body. Token endpoint outages and network errors are temporary;
// invalid_client, invalid_grant and the like are permanent.
type TokenError struct {
	Flow   string
	Code   string // OAuth "error", e.g. invalid_grant; "" when none
	Status int    // HTTP status, 0 when none
	Err    error

	temporary bool
}

// Error implements error.
func (e *TokenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "get imap oauth token (%s)", e.Flow)
	if e.Code != "" {
		fmt.Fprintf(&b, ": %s", e.Code)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " (http %d)", e.Status)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if !e.temporary {
		b.WriteString(": fix the OAuth configuration or renew the grant")
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *TokenError) Unwrap() error { return e.Err }

// Temporary reports whether asking again later may succeed.
func (e *TokenError) Temporary() bool { return e.temporary }

// TokenState is a snapshot for metrics and the readiness check.
type TokenState struct {
	LastSuccess time.Time // last token obtained
	Expiry      time.Time // expiry of the cached token
	LastError   error     // error of the last attempt, nil when it succeeded
	Failures    int       // consecutive failures
}

// Tokens is an oauth2.TokenSource that caches tokens, renews them a minute
// before they expire, persists rotated refresh tokens and remembers its last
// failure. Safe for concurrent use.
type Tokens struct {
	cfg   TokenConfig
	log   *slog.Logger
	fetch func(ctx context.Context) (*oauth2.Token, error)
	now   func() time.Time

	mu      sync.Mutex
	tok     *oauth2.Token
	refresh string // current refresh token (FlowRefreshToken)
	state   TokenState
}

// renewBefore is how long before expiry a token is replaced.
const renewBefore = time.Minute

// NewTokenSource checks cfg and returns a token source for it. It does not
// fetch a token yet (call Token to check the set-up at start-up).
func NewTokenSource(cfg TokenConfig, log *slog.Logger) (*Tokens, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Flow == "" {
		switch {
		case cfg.ClientID != "":
			cfg.Flow = FlowClientCredentials
		case cfg.Command != "":
			cfg.Flow = FlowCommand
		case cfg.File != "":
			cfg.Flow = FlowFile
		}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: cfg.Timeout}
	}
	tokenURL := cfg.TokenURL
	if tokenURL == "" && cfg.TenantID != "" {
		tokenURL = microsoft.AzureADEndpoint(cfg.TenantID).TokenURL
	}
	t := &Tokens{cfg: cfg, log: log, now: time.Now}
	switch cfg.Flow {
	case FlowClientCredentials:
		if cfg.ClientID == "" || cfg.ClientSecret == "" || tokenURL == "" {
			return nil, errors.New("oauth client_credentials needs OPTOUT_OAUTH_TENANT, OPTOUT_OAUTH_CLIENT_ID and OPTOUT_OAUTH_CLIENT_SECRET")
		}
		scopes := cfg.Scopes
		if len(scopes) == 0 {
			scopes = []string{ScopeExchangeDefault}
		}
		cc := &clientcredentials.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: tokenURL, Scopes: scopes}
		t.fetch = func(ctx context.Context) (*oauth2.Token, error) {
			return cc.Token(context.WithValue(ctx, oauth2.HTTPClient, cfg.HTTPClient))
		}
	case FlowRefreshToken:
		if cfg.ClientID == "" || tokenURL == "" || cfg.RefreshStore == nil {
			return nil, errors.New("oauth refresh_token needs OPTOUT_OAUTH_TENANT, OPTOUT_OAUTH_CLIENT_ID and a stored refresh token")
		}
		scopes := cfg.Scopes
		if len(scopes) == 0 {
			scopes = []string{ScopeIMAPDelegated, "offline_access"}
		}
		t.fetch = func(ctx context.Context) (*oauth2.Token, error) { return t.refreshFlow(ctx, tokenURL, scopes) }
	case FlowCommand:
		if cfg.Command == "" {
			return nil, errors.New("oauth token command is empty: set OPTOUT_IMAP_TOKEN_COMMAND")
		}
		t.fetch = t.commandFlow
	case FlowFile:
		if cfg.File == "" {
			return nil, errors.New("oauth token file is empty: set OPTOUT_IMAP_TOKEN_FILE")
		}
		t.fetch = t.fileFlow
	default:
		return nil, fmt.Errorf("oauth flow must be client_credentials, refresh_token, command or file, not %q (or set OPTOUT_OAUTH_CLIENT_ID, OPTOUT_IMAP_TOKEN_COMMAND or OPTOUT_IMAP_TOKEN_FILE)", cfg.Flow)
	}
	return t, nil
}

// Token returns a valid access token, fetching a new one when the cached one
// expires within a minute. Failures are *TokenError, logged, and kept for
// State and LastTokenError.
func (t *Tokens) Token() (*oauth2.Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if t.tok != nil && (t.tok.Expiry.IsZero() || now.Add(renewBefore).Before(t.tok.Expiry)) {
		return t.tok, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.cfg.Timeout)
	defer cancel()
	tok, err := t.fetch(ctx)
	if err == nil && (tok == nil || tok.AccessToken == "") {
		err = errors.New("the token source returned an empty access token")
	}
	if err != nil {
		te := t.classify(err)
		t.state.LastError = te
		t.state.Failures++
		t.log.Error("imap oauth token failed", "flow", t.cfg.Flow, "code", te.Code, "status", te.Status,
			"temporary", te.temporary, "failures", t.state.Failures)
		// A still-valid cached token keeps us going while the endpoint is down.
		if t.tok != nil && now.Before(t.tok.Expiry) {
			return t.tok, nil
		}
		return nil, te
	}
	t.tok = tok
	t.state.LastSuccess = now
	t.state.Expiry = tok.Expiry
	if t.state.Failures > 0 {
		t.log.Info("imap oauth token recovered", "flow", t.cfg.Flow, "after_failures", t.state.Failures)
	}
	t.state.Failures = 0
	t.state.LastError = nil
	return tok, nil
}

// classify turns a fetch error into a *TokenError.
func (t *Tokens) classify(err error) *TokenError {
	var te *TokenError
	if errors.As(err, &te) {
		return te
	}
	te = &TokenError{Flow: t.cfg.Flow, temporary: true}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		te.Code = re.ErrorCode
		if re.Response != nil {
			te.Status = re.Response.StatusCode
		}
		switch {
		case te.Status >= 500 || te.Status == http.StatusTooManyRequests || te.Code == "temporarily_unavailable":
			te.temporary = true
		case te.Code != "" || (te.Status >= 400 && te.Status < 500):
			te.temporary = false
		}
		te.Err = errors.New("the identity platform refused the request")
		if te.temporary {
			te.Err = errors.New("the identity platform is unavailable")
		}
		return te
	}
	te.Err = err
	return te
}

// State returns a snapshot for metrics and readiness.
func (t *Tokens) State() TokenState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state
}

// LastTokenError returns the error of the last attempt, nil if it succeeded.
// The readiness check fails while it is not nil.
func (t *Tokens) LastTokenError() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state.LastError
}

// refreshFlow redeems the current refresh token. It goes through
// clientcredentials with grant_type overridden, because oauth2.Config's
// refresher does not send the scope, which Microsoft's v2 endpoint expects.
func (t *Tokens) refreshFlow(ctx context.Context, tokenURL string, scopes []string) (*oauth2.Token, error) {
	if t.refresh == "" {
		rt, err := t.cfg.RefreshStore.Load(ctx)
		if err != nil {
			return nil, &TokenError{Flow: FlowRefreshToken, Err: fmt.Errorf("load refresh token: %w", err), temporary: true}
		}
		if rt == "" {
			return nil, &TokenError{Flow: FlowRefreshToken, Err: errors.New("no refresh token stored: sign in as the mailbox once to store one")}
		}
		t.refresh = rt
	}
	hctx := context.WithValue(ctx, oauth2.HTTPClient, t.cfg.HTTPClient)
	rc := &clientcredentials.Config{
		ClientID: t.cfg.ClientID, ClientSecret: t.cfg.ClientSecret, TokenURL: tokenURL, Scopes: scopes,
		EndpointParams: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {t.refresh}},
		AuthStyle:      oauth2.AuthStyleInParams,
	}
	tok, err := rc.Token(hctx)
	if err != nil {
		return nil, err
	}
	if tok.RefreshToken != "" && tok.RefreshToken != t.refresh {
		if err := t.cfg.RefreshStore.Save(ctx, tok.RefreshToken); err != nil {
			// Use the new refresh token in memory; the old one may be revoked.
			t.refresh = tok.RefreshToken
			return nil, &TokenError{Flow: FlowRefreshToken, Err: fmt.Errorf("save rotated refresh token: %w", err), temporary: true}
		}
		t.refresh = tok.RefreshToken
		t.log.Info("imap oauth refresh token rotated and saved")
	}
	return tok, nil
}

// maxTokenOutput caps what a token command or file may produce.
const maxTokenOutput = 64 << 10

func (t *Tokens) commandFlow(ctx context.Context) (*oauth2.Token, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", t.cfg.Command)
	var out bytes.Buffer
	cmd.Stdout = &limitWriter{w: &out, n: maxTokenOutput}
	cmd.Stderr = io.Discard // may hold secrets; never logged
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("token command timed out after %v", t.cfg.Timeout)
		} else {
			err = fmt.Errorf("token command failed: %w", err)
		}
		return nil, &TokenError{Flow: FlowCommand, Err: err, temporary: true}
	}
	return t.parseToken(FlowCommand, out.Bytes(), 5*time.Minute)
}

func (t *Tokens) fileFlow(context.Context) (*oauth2.Token, error) {
	f, err := os.Open(t.cfg.File)
	if err != nil {
		return nil, &TokenError{Flow: FlowFile, Err: fmt.Errorf("open token file: %w", err), temporary: true}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenOutput))
	if err != nil {
		return nil, &TokenError{Flow: FlowFile, Err: fmt.Errorf("read token file: %w", err), temporary: true}
	}
	return t.parseToken(FlowFile, b, time.Minute+renewBefore)
}

// parseToken reads a bare token or {"access_token", "expires_in"}.
// Bare tokens are cached for ttl (counted before renewBefore).
func (t *Tokens) parseToken(flow string, b []byte, ttl time.Duration) (*oauth2.Token, error) {
	b = bytes.TrimSpace(b)
	now := t.now()
	if len(b) > 0 && b[0] == '{' {
		var j struct {
			AccessToken string      `json:"access_token"`
			ExpiresIn   json.Number `json:"expires_in"`
		}
		if err := json.Unmarshal(b, &j); err != nil {
			return nil, &TokenError{Flow: flow, Err: errors.New("token output is JSON but not valid: expected {\"access_token\": ..., \"expires_in\": seconds}"), temporary: true}
		}
		tok := &oauth2.Token{AccessToken: j.AccessToken, TokenType: "Bearer", Expiry: now.Add(ttl)}
		if s, err := j.ExpiresIn.Int64(); err == nil && s > 0 {
			tok.Expiry = now.Add(time.Duration(s) * time.Second)
		}
		if tok.AccessToken == "" {
			return nil, &TokenError{Flow: flow, Err: errors.New("token output has no access_token"), temporary: true}
		}
		return tok, nil
	}
	if len(b) == 0 || bytes.ContainsAny(b, " \t\r\n") {
		return nil, &TokenError{Flow: flow, Err: errors.New("token output must be one token or JSON with access_token"), temporary: true}
	}
	return &oauth2.Token{AccessToken: string(b), TokenType: "Bearer", Expiry: now.Add(ttl)}, nil
}

type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, errors.New("token command printed too much")
	}
	l.n -= int64(len(p))
	return l.w.Write(p)
}

// XOAUTH2 is the SASL mechanism name Microsoft and Google use.
const XOAUTH2 = "XOAUTH2"

// XOAUTH2Client is a SASL client for XOAUTH2: the initial response is
// "user=" user "\x01auth=Bearer " token "\x01\x01". On failure the server
// sends a JSON challenge, kept in Failure, answered with an empty response.
type XOAUTH2Client struct {
	user, token string
	// Failure is the server's error challenge (JSON), if any.
	Failure []byte
}

// NewXOAUTH2Client returns a SASL XOAUTH2 client.
func NewXOAUTH2Client(user, token string) *XOAUTH2Client {
	return &XOAUTH2Client{user: user, token: token}
}

var _ sasl.Client = (*XOAUTH2Client)(nil)

// Start implements sasl.Client.
func (x *XOAUTH2Client) Start() (mech string, ir []byte, err error) {
	if strings.ContainsAny(x.user+x.token, "\x01") {
		return "", nil, errors.New("xoauth2: user or token contains a control character")
	}
	return XOAUTH2, []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

// Next implements sasl.Client: the only challenge is the error report.
func (x *XOAUTH2Client) Next(challenge []byte) ([]byte, error) {
	if x.Failure != nil {
		return nil, sasl.ErrUnexpectedServerChallenge
	}
	x.Failure = bytes.Clone(challenge)
	if x.Failure == nil {
		x.Failure = []byte{}
	}
	return []byte{}, nil
}
