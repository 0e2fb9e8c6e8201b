package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/ncl-icb/optout-intake/store"
)

// signinCookie holds the CSRF token of the sign-in form (double submit:
// there is no session yet to hold it).
const signinCookie = "optout_signin"

type signinData struct {
	Email string
	Next  string
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

func (s *server) showSignin(w http.ResponseWriter, r *http.Request, status int, d signinData, errs []pageError) {
	w.Header().Set("Cache-Control", "no-store")
	token := randomString()
	s.setCookie(w, r, signinCookie, token, 3600)
	s.render(w, r, status, "signin", page{Title: "Sign in", CSRF: token, Errors: errs, Data: d})
}

func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func limiterKey(kind, v string) string {
	h := sha256.Sum256([]byte(kind + "\x00" + v))
	return hex.EncodeToString(h[:12])
}

func (s *server) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.d.Metrics.SignIn("bad_request")
		s.showSignin(w, r, http.StatusBadRequest, signinData{}, []pageError{{Message: "The form could not be read. Try again."}})
		return
	}
	c, err := r.Cookie(signinCookie)
	if err != nil || !tokenEqual(r.PostForm.Get("csrf"), c.Value) {
		s.d.Metrics.SignIn("bad_request")
		s.showSignin(w, r, http.StatusForbidden, signinData{Next: safeNext(r.PostForm.Get("next"))},
			[]pageError{{Message: "The sign-in form had expired. Try again."}})
		return
	}
	email := store.NormaliseAddress(r.PostForm.Get("email"))
	password := r.PostForm.Get("password")
	d := signinData{Email: email, Next: safeNext(r.PostForm.Get("next"))}
	var errs []pageError
	if email == "" {
		errs = append(errs, pageError{Field: "email", Message: "Enter your email address"})
	}
	if password == "" {
		errs = append(errs, pageError{Field: "password", Message: "Enter your password"})
	}
	if errs != nil {
		s.d.Metrics.SignIn("bad_request")
		s.showSignin(w, r, http.StatusUnprocessableEntity, d, errs)
		return
	}
	accKey, addrKey := limiterKey("account", email), limiterKey("address", clientAddress(r))
	okAcc, _ := s.byAccount.allowed(accKey)
	okAddr, _ := s.byAddress.allowed(addrKey)
	if !okAcc || !okAddr {
		s.d.Metrics.SignIn("rate_limited")
		s.log.Warn("web: sign-in rate limited", slog.Bool("account_limit", !okAcc), slog.Bool("address_limit", !okAddr))
		s.showSignin(w, r, http.StatusTooManyRequests, d,
			[]pageError{{Field: "email", Message: "Too many failed attempts. Wait 15 minutes and try again, or ask an administrator."}})
		return
	}
	st, err := s.d.Store.StaffByEmail(r.Context(), email)
	hash := st.PasswordHash
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.d.Metrics.DatabaseError()
			s.log.Error("web: sign-in", slog.String("error", err.Error()))
			s.fail(w, r, nil, http.StatusServiceUnavailable, "The service cannot reach its database. Try again in a minute.")
			return
		}
		hash = s.dummyHash
	}
	match, herr := VerifyPassword(hash, password)
	if herr != nil {
		s.log.Error("web: stored password hash unusable", slog.Int64("staff", st.ID))
	}
	if err != nil || !match || st.Disabled {
		s.byAccount.fail(accKey)
		s.byAddress.fail(addrKey)
		s.d.Metrics.SignIn("bad_credentials")
		s.showSignin(w, r, http.StatusUnauthorized, d,
			[]pageError{{Field: "email", Message: "The email address or password is not right, or the account is disabled"}})
		return
	}
	token, _, err := s.d.Store.CreateSession(r.Context(), st.ID, s.d.SessionIdle)
	if err != nil {
		s.d.Metrics.DatabaseError()
		s.log.Error("web: start session", slog.Int64("staff", st.ID), slog.String("error", err.Error()))
		s.fail(w, r, nil, http.StatusServiceUnavailable, "You could not be signed in. Try again in a minute.")
		return
	}
	s.byAccount.reset(accKey)
	s.d.Metrics.SignIn("ok")
	s.setCookie(w, r, signinCookie, "", -1)
	// The cookie lives as long as the browser; the server ends it when idle.
	s.setCookie(w, r, sessionCookie, token, 0)
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

func (s *server) signout(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.d.Store.DeleteSession(r.Context(), c.Value); err != nil {
			s.log.Error("web: end session", slog.Int64("staff", sess.Staff.ID), slog.String("error", err.Error()))
		}
	}
	s.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}
