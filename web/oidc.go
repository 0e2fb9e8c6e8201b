package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ncl-icb/optout-intake/metrics"
	"github.com/ncl-icb/optout-intake/store"
)

// OIDCConfig is the OpenID Connect client of "Sign in with NHSmail"
// (Microsoft Entra ID, or any provider with discovery).
type OIDCConfig struct {
	Issuer       string // OPTOUT_OIDC_ISSUER, e.g. https://login.microsoftonline.com/<tenant>/v2.0
	ClientID     string // OPTOUT_OIDC_CLIENT_ID
	ClientSecret string // OPTOUT_OIDC_CLIENT_SECRET
	RedirectURL  string // OPTOUT_OIDC_REDIRECT_URL: https://<this page>/signin/oidc/callback
	// HTTPClient talks to the provider. Default: 15-second timeout.
	HTTPClient *http.Client
}

// oidcClient discovers the provider on first use (so a provider that is
// down at start-up does not stop the daemon) and keeps its keys.
type oidcClient struct {
	cfg      OIDCConfig
	mu       sync.Mutex
	provider *oidc.Provider
}

func newOIDCClient(c OIDCConfig) (*oidcClient, error) {
	if c.Issuer == "" || c.ClientID == "" || c.RedirectURL == "" {
		return nil, errors.New("web: OpenID Connect needs an issuer, a client id and a redirect URL")
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	return &oidcClient{cfg: c}, nil
}

func (o *oidcClient) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, o.cfg.HTTPClient)
}

// setup returns the provider (discovering it if needed) and the OAuth 2.0
// configuration.
func (o *oidcClient) setup(ctx context.Context) (*oidc.Provider, *oauth2.Config, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider == nil {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		p, err := oidc.NewProvider(o.ctx(ctx), o.cfg.Issuer)
		if err != nil {
			return nil, nil, fmt.Errorf("discover OpenID provider (check OPTOUT_OIDC_ISSUER): %w", err)
		}
		o.provider = p
	}
	return o.provider, &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, RedirectURL: o.cfg.RedirectURL,
		Endpoint: o.provider.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}, nil
}

// oidcStart is POST /signin/oidc: it checks the sign-in form's token,
// counts the start against the client address's limit, records state,
// nonce and PKCE verifier against the browser's pre-session, and sends the
// browser to the provider.
func (s *server) oidcStart(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	addr := s.clientAddress(r)
	if err := r.ParseForm(); err != nil {
		s.showSignin(w, r, http.StatusBadRequest, signinData{}, []pageError{{Message: "The form could not be read. Try again."}})
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	c, err := r.Cookie(s.cookieName(r, presessionCookie))
	if err != nil || !tokenEqual(r.PostForm.Get("csrf"), s.signinToken(c.Value)) {
		s.d.Metrics.SignIn(metrics.SignInBadRequest)
		s.auditSignin(r, 0, store.SigninBadForm, addr)
		s.showSignin(w, r, http.StatusForbidden, signinData{Next: next}, []pageError{{Message: "The sign-in form had expired. Try again."}})
		return
	}
	v, err := s.d.Store.CountSigninStart(r.Context(), addr, *s.d.SigninPolicy)
	if err != nil {
		s.signinDBFail(w, r, err)
		return
	}
	if !v.Allowed {
		s.d.Metrics.SignIn(metrics.SignInRateLimited)
		s.refuseSignin(w, r, http.StatusTooManyRequests, signinData{Next: next}, int(v.RetryAfter.Seconds())+1,
			"Too many sign-ins from this address. Wait 15 minutes and try again.")
		return
	}
	_, oc, err := s.oidc.setup(r.Context())
	if err != nil {
		s.log.Error("web: OpenID Connect", slog.String("error", err.Error()))
		s.showSignin(w, r, http.StatusBadGateway, signinData{Next: next}, []pageError{{Message: "NHSmail sign-in is not answering. Try again in a minute."}})
		return
	}
	req := store.SigninRequest{State: randomString(), Presession: c.Value, Nonce: randomString(), Verifier: oauth2.GenerateVerifier(), Next: next}
	if err := s.d.Store.PutSigninRequest(r.Context(), req); err != nil {
		s.signinDBFail(w, r, err)
		return
	}
	http.Redirect(w, r, oc.AuthCodeURL(req.State, oidc.Nonce(req.Nonce), oauth2.S256ChallengeOption(req.Verifier)), http.StatusSeeOther)
}

// oidcCallback is GET /signin/oidc/callback: the provider sends the browser
// back with a code. The state must be one this browser started and not yet
// used; the ID token must be signed by the provider, for us, unexpired, and
// carry our nonce; and an enabled account must match its subject or email.
// Every refusal is audited with its reason.
func (s *server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	addr := s.clientAddress(r)
	q := r.URL.Query()
	refuse := func(staff int64, reason, detail string) {
		s.d.Metrics.SignIn(metrics.SignInBadCredentials)
		if err := s.d.Store.WriteAudit(r.Context(), store.AuditEntry{Actor: store.System, Action: "staff.sign_in_failed", ObjectType: "staff",
			ObjectID: staff, Detail: fmt.Sprintf("reason=%s method=oidc cause=%s addr=%s", reason, detail, addr)}); err != nil {
			s.log.Error("web: audit sign-in", slog.String("error", err.Error()))
		}
		s.showSignin(w, r, http.StatusForbidden, signinData{}, []pageError{{Message: "You could not be signed in with NHSmail. " +
			"Start again from this page; if it keeps happening, ask an administrator whether your account is set up."}})
	}
	c, err := r.Cookie(s.cookieName(r, presessionCookie))
	if err != nil || q.Get("state") == "" {
		refuse(0, store.SigninOIDCRefused, "no_state")
		return
	}
	req, err := s.d.Store.TakeSigninRequest(r.Context(), q.Get("state"), c.Value)
	if errors.Is(err, store.ErrNotFound) {
		refuse(0, store.SigninOIDCRefused, "unknown_or_used_state")
		return
	}
	if err != nil {
		s.signinDBFail(w, r, err)
		return
	}
	if e := q.Get("error"); e != "" {
		refuse(0, store.SigninOIDCRefused, "provider_error")
		return
	}
	provider, oc, err := s.oidc.setup(r.Context())
	if err != nil {
		s.log.Error("web: OpenID Connect", slog.String("error", err.Error()))
		refuse(0, store.SigninOIDCRefused, "provider_unreachable")
		return
	}
	ctx, cancel := context.WithTimeout(s.oidc.ctx(r.Context()), 15*time.Second)
	defer cancel()
	tok, err := oc.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(req.Verifier))
	if err != nil {
		refuse(0, store.SigninOIDCRefused, "code_exchange")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		refuse(0, store.SigninOIDCRefused, "no_id_token")
		return
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: s.oidc.cfg.ClientID, Now: s.d.Now}).Verify(ctx, raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		cause := "bad_id_token"
		if errors.As(err, &expired) {
			cause = "expired_id_token"
		}
		s.log.Warn("web: ID token refused", slog.String("cause", cause), slog.String("error", err.Error()))
		refuse(0, store.SigninOIDCRefused, cause)
		return
	}
	if !tokenEqual(idt.Nonce, req.Nonce) {
		refuse(0, store.SigninOIDCRefused, "wrong_nonce")
		return
	}
	var claims struct {
		Email             string `json:"email"`
		PreferredUsername string `json:"preferred_username"`
	}
	if err := idt.Claims(&claims); err != nil {
		refuse(0, store.SigninOIDCRefused, "bad_claims")
		return
	}
	email := claims.Email
	if email == "" {
		email = claims.PreferredUsername // Entra ID: the NHSmail address
	}
	st, err := s.d.Store.StaffForIdentity(r.Context(), idt.Issuer+" "+idt.Subject, store.NormaliseAddress(email))
	if errors.Is(err, store.ErrNotFound) {
		refuse(0, store.SigninOIDCNoAccount, "no_account")
		return
	}
	if err != nil {
		s.signinDBFail(w, r, err)
		return
	}
	if st.Disabled {
		refuse(st.ID, store.SigninDisabled, "disabled")
		return
	}
	if err := s.d.Store.SigninStartDone(r.Context(), addr); err != nil {
		s.log.Error("web: settle sign-in start", slog.String("error", err.Error()))
	}
	s.startSession(w, r, st, "oidc", req.Next)
}
