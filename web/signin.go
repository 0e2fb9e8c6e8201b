package web

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/ncl-icb/optout-intake/metrics"
	"github.com/ncl-icb/optout-intake/store"
)

// presessionCookie ties the sign-in form's CSRF token (and an OpenID
// Connect sign-in's state) to one browser before there is a session: the
// token is a keyed hash of the cookie's random value, so a token is good
// only with the cookie it was made for.
const presessionCookie = "optout_presession"

type signinData struct {
	Email string
	Next  string
	Local bool // password sign-in is on
	OIDC  bool // "Sign in with NHSmail" is on
}

func randomString() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // the runtime aborts before this on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// safeNext keeps a post-sign-in destination only when it is a local path.
// Control characters are refused outright: browsers drop tabs and newlines
// inside a URL, so "/<TAB>/evil.example" would lead to another site.
func safeNext(next string) string {
	if next == "" || len(next) > 2048 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsFunc(next, func(r rune) bool { return r == '\\' || r < 0x20 || r == 0x7f }) ||
		strings.HasPrefix(next, "/signin") {
		return "/queue"
	}
	return next
}

func (s *server) signinPage(w http.ResponseWriter, r *http.Request) {
	s.showSignin(w, r, http.StatusOK, signinData{Next: safeNext(r.URL.Query().Get("next"))}, nil)
}

// presession returns the browser's pre-session value, making (and setting)
// a fresh one when it has none.
func (s *server) presession(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(s.cookieName(r, presessionCookie)); err == nil && len(c.Value) == 32 {
		return c.Value
	}
	v := randomString()
	s.setCookie(w, r, presessionCookie, v, 3600)
	return v
}

// signinToken is the sign-in form's CSRF token for a pre-session.
func (s *server) signinToken(pre string) string {
	return base64.RawURLEncoding.EncodeToString(s.d.Store.KeyedHash("web.signin-csrf", pre))
}

func (s *server) showSignin(w http.ResponseWriter, r *http.Request, status int, d signinData, errs []pageError) {
	w.Header().Set("Cache-Control", "no-store")
	d.Local, d.OIDC = !s.d.LocalSigninOff, s.oidc != nil
	s.render(w, r, status, "signin", page{Title: "Sign in", CSRF: s.signinToken(s.presession(w, r)), Errors: errs, Data: d})
}

// refuseSignin answers a refused sign-in with a status, the form again, and
// (for 429) Retry-After.
func (s *server) refuseSignin(w http.ResponseWriter, r *http.Request, status int, d signinData, retry int, msg string) {
	if retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retry))
	}
	s.showSignin(w, r, status, d, []pageError{{Field: "email", Message: msg}})
}

func (s *server) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	addr := s.clientAddress(r)
	if err := r.ParseForm(); err != nil {
		s.d.Metrics.SignIn(metrics.SignInBadRequest)
		s.showSignin(w, r, http.StatusBadRequest, signinData{}, []pageError{{Message: "The form could not be read. Try again."}})
		return
	}
	c, err := r.Cookie(s.cookieName(r, presessionCookie))
	if err != nil || !tokenEqual(r.PostForm.Get("csrf"), s.signinToken(c.Value)) {
		s.d.Metrics.SignIn(metrics.SignInBadRequest)
		s.auditSignin(r, 0, store.SigninBadForm, addr)
		s.showSignin(w, r, http.StatusForbidden, signinData{Next: safeNext(r.PostForm.Get("next"))},
			[]pageError{{Message: "The sign-in form had expired. Try again."}})
		return
	}
	email := store.NormaliseAddress(r.PostForm.Get("email"))
	password := r.PostForm.Get("password")
	d := signinData{Email: email, Next: safeNext(r.PostForm.Get("next"))}
	if s.d.LocalSigninOff {
		s.d.Metrics.SignIn(metrics.SignInBadRequest)
		s.auditSignin(r, 0, store.SigninLocalOff, addr)
		s.showSignin(w, r, http.StatusForbidden, d, []pageError{{Message: "Sign in with your NHSmail account."}})
		return
	}
	var errs []pageError
	if email == "" {
		errs = append(errs, pageError{Field: "email", Message: "Enter your email address"})
	}
	if password == "" {
		errs = append(errs, pageError{Field: "password", Message: "Enter your password"})
	}
	if errs != nil {
		s.d.Metrics.SignIn(metrics.SignInBadRequest)
		s.showSignin(w, r, http.StatusUnprocessableEntity, d, errs)
		return
	}
	// Counted before the password is checked: concurrent attempts cannot
	// all slip under the limit.
	v, err := s.d.Store.BeginSignin(r.Context(), email, addr, *s.d.SigninPolicy)
	if err != nil {
		s.signinDBFail(w, r, err)
		return
	}
	if !v.Allowed {
		s.d.Metrics.SignIn(metrics.SignInRateLimited)
		s.log.Warn("web: sign-in refused", slog.String("reason", v.Reason))
		wait := int(v.RetryAfter.Seconds()) + 1
		msg := "Too many failed attempts. Wait 15 minutes and try again, or ask an administrator to unlock your account."
		if v.Reason == store.SigninSlowed {
			msg = fmt.Sprintf("There have been many failed attempts to sign in to this account. Wait %d seconds and try again.", wait)
		}
		s.refuseSignin(w, r, http.StatusTooManyRequests, d, wait, msg)
		return
	}
	if !s.slots.take() {
		s.d.Metrics.SignIn(metrics.SignInRateLimited)
		if err := s.d.Store.EndSignin(r.Context(), email, addr, store.SigninNotChecked, store.SigninBusy, *s.d.SigninPolicy); err != nil {
			s.log.Error("web: settle sign-in attempt", slog.String("error", err.Error()))
		}
		s.refuseSignin(w, r, http.StatusTooManyRequests, d, 2, "The service is busy. Try again in a few seconds.")
		return
	}
	st, match, reason, err := s.checkPassword(r, email, password)
	s.slots.release()
	if err != nil {
		s.signinDBFail(w, r, err)
		return
	}
	if !match {
		if err := s.d.Store.EndSignin(r.Context(), email, addr, store.SigninFailed, reason, *s.d.SigninPolicy); err != nil {
			s.log.Error("web: settle sign-in attempt", slog.String("error", err.Error()))
		}
		s.d.Metrics.SignIn(metrics.SignInBadCredentials)
		s.refuseSignin(w, r, http.StatusUnauthorized, d, 0, "The email address or password is not right, or the account is disabled")
		return
	}
	if err := s.d.Store.EndSignin(r.Context(), email, addr, store.SigninSucceeded, "", *s.d.SigninPolicy); err != nil {
		s.signinDBFail(w, r, err)
		return
	}
	s.startSession(w, r, st, "password", d.Next)
}

// checkPassword looks the account up and checks the password (one hash
// even for unknown accounts, so timing does not tell which emails have
// one). reason is the failure's code.
func (s *server) checkPassword(r *http.Request, email, password string) (st store.Staff, match bool, reason string, err error) {
	st, err = s.d.Store.StaffByEmail(r.Context(), email)
	hash := st.PasswordHash
	reason = store.SigninBadPassword
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return st, false, "", err
		}
		hash, reason = s.dummyHash, store.SigninUnknown
	}
	match, herr := VerifyPassword(hash, password)
	if herr != nil && err == nil {
		s.log.Error("web: stored password hash unusable", slog.Int64("staff", st.ID))
	}
	if err == nil && match && st.Disabled {
		return st, false, store.SigninDisabled, nil
	}
	return st, match && err == nil, reason, nil
}

func (s *server) signinDBFail(w http.ResponseWriter, r *http.Request, err error) {
	s.d.Metrics.DatabaseError()
	s.log.Error("web: sign-in", slog.String("error", err.Error()))
	s.fail(w, r, nil, http.StatusServiceUnavailable, "The service cannot reach its database. Try again in a minute.")
}

// auditSignin records a failed sign-in that never reached the counters.
func (s *server) auditSignin(r *http.Request, staff int64, reason, addr string) {
	if err := s.d.Store.WriteAudit(r.Context(), store.AuditEntry{Actor: store.System, Action: "staff.sign_in_failed",
		ObjectType: "staff", ObjectID: staff, Detail: "reason=" + reason + " addr=" + addr}); err != nil {
		s.log.Error("web: audit sign-in", slog.String("error", err.Error()))
	}
}

// startSession signs st in: any session the browser already had is ended
// (the id is never reused across a sign-in), a new one starts, and the
// pre-session is dropped.
func (s *server) startSession(w http.ResponseWriter, r *http.Request, st store.Staff, method, next string) {
	if c, err := r.Cookie(s.cookieName(r, sessionCookie)); err == nil && c.Value != "" && len(c.Value) < 100 {
		if err := s.d.Store.DeleteSession(r.Context(), c.Value); err != nil {
			s.log.Error("web: end previous session", slog.String("error", err.Error()))
		}
	}
	token, _, err := s.d.Store.CreateSession(r.Context(), st.ID, s.d.SessionIdle, "method="+method+" addr="+s.clientAddress(r))
	if err != nil {
		s.d.Metrics.DatabaseError()
		s.log.Error("web: start session", slog.Int64("staff", st.ID), slog.String("error", err.Error()))
		s.fail(w, r, nil, http.StatusServiceUnavailable, "You could not be signed in. Try again in a minute.")
		return
	}
	s.d.Metrics.SignIn(metrics.SignInOK)
	s.setCookie(w, r, presessionCookie, "", -1)
	// The cookie lives as long as the browser; the server ends it when idle
	// or at OPTOUT_SESSION_MAX.
	s.setCookie(w, r, sessionCookie, token, 0)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *server) signout(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	if c, err := r.Cookie(s.cookieName(r, sessionCookie)); err == nil {
		if err := s.d.Store.DeleteSession(r.Context(), c.Value); err != nil {
			s.log.Error("web: end session", slog.Int64("staff", sess.Staff.ID), slog.String("error", err.Error()))
		}
	}
	s.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}
