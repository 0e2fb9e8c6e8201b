// Package web serves the triage page for ICB staff and the operators'
// endpoints: sign-in, the queue of triage items, an item with its form and
// original, staff decisions (accept, reject, not an opt-out, assign), finding
// a person and recording an opt back in, the audit log, and /metrics,
// /healthz and /readyz.
//
// Pages are server-rendered with html/template from an embed.FS parsed once
// at start-up; they work without JavaScript and load one stylesheet from
// /static. Staff sign in with a password (limits kept in the store, counted
// before hashing) or with OpenID Connect (NHSmail). Every page but sign-in
// and health needs a session (store sessions, idle and absolute expiry);
// every form carries a CSRF token and cross-origin POSTs are refused; every
// view of personal data, every search, refusal and action is audited. Outcome emails
// are composed with the daemon's notify.Composer and queued in the same
// store transaction as the decision.
//
// The package owns no data: accounts, sessions, items and the audit log
// live in the store. It logs request paths without query strings, staff ids
// and item ids, never personal data.
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strings"
	"time"
	_ "time/tzdata" // due dates are shown in Europe/London whatever the host has

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/internal/loopback"
	"github.com/ncl-icb/optout-intake/metrics"
	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

//go:embed templates/*.html static/*
var assets embed.FS

// DefaultSessionIdle is how long a session lasts without a request (OPTOUT_SESSION_IDLE).
const DefaultSessionIdle = 30 * time.Minute

// DefaultSessionMax is how long a session lasts at most, however busy (OPTOUT_SESSION_MAX).
const DefaultSessionMax = 12 * time.Hour

// maxFormBytes bounds a posted form.
const maxFormBytes = 64 << 10

// Deps are what the web page needs. Store and Composer are required.
type Deps struct {
	// Store holds accounts, sessions, the queue, the register and the audit log.
	Store *store.Store
	// Composer renders outcome emails exactly as the daemon does; they are
	// queued in the outbox with the decision.
	Composer *notify.Composer
	// Logger gets request failures (no personal data). Default: discard.
	Logger *slog.Logger
	// Metrics counts sign-ins, actions and recovered panics; nil counts nothing.
	Metrics *metrics.Metrics
	// Gatherer is served at /metrics. Default: Metrics.Registry(); with
	// neither, /metrics answers 404.
	Gatherer prometheus.Gatherer
	// Now is the clock (due-date highlighting, form checks). Default time.Now.
	Now func() time.Time
	// Ready is called by /readyz after the database ping: it should fail
	// when the mailbox has not been polled recently. nil: database only.
	Ready func(ctx context.Context) error
	// Queued, when set, is called after every staff member's form (a POST)
	// was handled: an email the action queued in the outbox then goes at
	// once (the daemon passes intake.Service.Wake). It must not block.
	Queued func()
	// SessionIdle ends sessions idle this long (OPTOUT_SESSION_IDLE). Default DefaultSessionIdle.
	SessionIdle time.Duration
	// SessionMax ends sessions this long after sign-in, however busy
	// (OPTOUT_SESSION_MAX). Default DefaultSessionMax.
	SessionMax time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// X-Forwarded-Proto are believed (OPTOUT_TRUSTED_PROXIES). Empty: none.
	TrustedProxies []netip.Prefix
	// HashSlots bounds concurrent password hashes. Default DefaultHashSlots.
	HashSlots int
	// SigninPolicy bounds password sign-in attempts. Default store.DefaultSigninPolicy.
	SigninPolicy *store.SigninPolicy
	// LocalSigninOff switches password sign-in off (OPTOUT_LOCAL_SIGNIN=off):
	// staff sign in with OpenID Connect only.
	LocalSigninOff bool
	// MetricsElsewhere leaves /metrics off this handler: it is served on its
	// own address (OPTOUT_METRICS_ADDR) with MetricsHandler.
	MetricsElsewhere bool
	// OIDC, when set, offers "Sign in with NHSmail" (OpenID Connect).
	OIDC *OIDCConfig
	// ReplyWait is how long an item waits for the resident's answer to a
	// staff reply before it comes back to the queue
	// (OPTOUT_REPLY_WAIT_DAYS). Default store.DefaultReplyWait.
	ReplyWait time.Duration
	// ReplyWindow is the window of the per-sender reply limit
	// (OPTOUT_REPLY_WINDOW), for the count a rate_limited item shows.
	// Default 3 hours (the pipeline's default).
	ReplyWindow time.Duration
	// DailyLimit is the sending budget, recipients in any rolling 24 hours
	// (OPTOUT_SMTP_DAILY_LIMIT; 0 for none), for the outgoing-mail page's
	// "sending paused" banner.
	DailyLimit int
	// Extractor reads the forms staff upload on a protected item, as the
	// daemon reads attachments (intake.UploadForm). nil: no upload.
	Extractor *extract.Extractor
	// MaxUploadBytes bounds an uploaded form file: the daemon's per-file
	// limit (OPTOUT_MAX_ATTACHMENT_SIZE). Default 35 MB.
	MaxUploadBytes int64
}

type server struct {
	d         Deps
	log       *slog.Logger
	pages     map[string]*template.Template
	cssPath   string
	css       []byte
	icon      []byte
	london    *time.Location
	slots     hashSlots
	dummyHash string
	oidc      *oidcClient
	csp       string            // cspPage, with the identity provider allowed as a form target
	js        map[string][]byte // scripts by path under static/
	jsPrefix  string            // where the scripts are served, named by their content
}

// New checks d, parses the templates and returns the handler of every route:
//
//	GET  /healthz, /readyz, /metrics, /static/app.<hash>.css, /favicon.ico, /favicon.svg
//	GET  /signin          POST /signin, /signout
//	GET  /queue           ?reason=&state=open|closed|all&assignee=me|none|ID&due=overdue|week&sort=&page=
//	                      POST /queue (search by reference, NHS number or sender)
//	GET  /items/{id}      POST /items/{id}/check, accept, reject, close, assign, note
//	                      POST /queue/close (bulk close as spam or duplicate)
//	                      POST /items/{id}/upload (multipart: a protected item's form), /items/{id}/optin
//	GET  /attachments/{id}
//	GET  /people          POST /people (find), /people/optin, /people/optout
//	GET  /audit           (admins)
//	GET  /outbox          POST /outbox/{id}/retry, cancel, address
//	GET  /dashboard       weekly counts for 26 weeks (SVG chart and table)
//	GET  /staff           POST /staff (add), /staff/{id}/role, disable, enable, password, unlock (admins)
func New(d Deps) (http.Handler, error) {
	if d.Store == nil {
		return nil, errors.New("web: a store is required")
	}
	if d.Composer == nil {
		return nil, errors.New("web: a notify.Composer is required to queue outcome emails")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.ReplyWindow <= 0 {
		d.ReplyWindow = 3 * time.Hour
	}
	if d.ReplyWait <= 0 {
		d.ReplyWait = store.DefaultReplyWait
	}
	if d.SessionIdle <= 0 {
		d.SessionIdle = DefaultSessionIdle
	}
	if d.SessionMax <= 0 {
		d.SessionMax = DefaultSessionMax
	}
	if d.HashSlots <= 0 {
		d.HashSlots = DefaultHashSlots
	}
	if d.MaxUploadBytes <= 0 {
		d.MaxUploadBytes = defaultMaxUpload
	}
	if d.SigninPolicy == nil {
		d.SigninPolicy = &store.DefaultSigninPolicy
	}
	if d.Gatherer == nil && d.Metrics != nil && !d.MetricsElsewhere {
		d.Gatherer = d.Metrics.Registry()
	}
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		return nil, fmt.Errorf("web: load Europe/London time zone: %w", err)
	}
	s := &server{d: d, log: d.Logger, london: london, slots: make(hashSlots, d.HashSlots), csp: cspPage}
	if d.OIDC != nil {
		if s.oidc, err = newOIDCClient(*d.OIDC); err != nil {
			return nil, err
		}
		// "Sign in with NHSmail" posts to us and is redirected to the
		// provider: browsers hold that redirect to form-action too.
		u, err := url.Parse(d.OIDC.Issuer)
		if err != nil || u.Host == "" || strings.ContainsAny(u.Host, " ;'") {
			return nil, fmt.Errorf("web: OpenID Connect issuer %q is not a URL", d.OIDC.Issuer)
		}
		s.csp = strings.Replace(cspPage, "form-action 'self'", "form-action 'self' "+u.Scheme+"://"+u.Host, 1)
	} else if d.LocalSigninOff {
		return nil, errors.New("web: password sign-in is off and OpenID Connect is not configured: nobody could sign in")
	}
	if s.css, err = assets.ReadFile("static/app.css"); err != nil {
		return nil, fmt.Errorf("web: read stylesheet: %w", err)
	}
	if s.icon, err = assets.ReadFile("static/favicon.svg"); err != nil {
		return nil, fmt.Errorf("web: read favicon: %w", err)
	}
	sum := sha256.Sum256(s.css)
	s.cssPath = "/static/app." + hex.EncodeToString(sum[:6]) + ".css"
	if err := s.loadScripts(); err != nil {
		return nil, err
	}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	// Unknown accounts still cost one hash, so timing does not tell which
	// emails have accounts.
	if s.dummyHash, err = hashWith("not-a-real-password-x", DefaultPasswordParams); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	return s.routes(), nil
}

func (s *server) parseTemplates() error {
	funcs := template.FuncMap{
		"date":     func(t time.Time) string { return t.In(s.london).Format("2 Jan 2006") },
		"datetime": func(t time.Time) string { return t.In(s.london).Format("2 Jan 2006 15:04") },
		"seconds":  func(t time.Time) string { return t.In(s.london).Format("2 Jan 2006 15:04:05 MST") },
		"reason":   vocab.Reason.Text,
		"role":     func(r store.Role) string { return string(r) },
		// rankTriager reports whether the session's role may act on items.
		"rankTriager": func(sess *store.Session) bool { return sess != nil && rank(sess.Staff.Role) >= rank(store.RoleTriager) },
		"optOutStart": newOptOutStart,
	}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return fmt.Errorf("web: list templates: %w", err)
	}
	s.pages = map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || strings.Contains(base, "_") {
			continue // partials: page_part.html is parsed with page.html
		}
		files := []string{"templates/layout.html", n}
		if parts, _ := fs.Glob(assets, "templates/"+base+"_*.html"); len(parts) > 0 {
			files = append(files, parts...)
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(assets, files...)
		if err != nil {
			return fmt.Errorf("web: parse template %s: %w", n, err)
		}
		s.pages[base] = t
	}
	return nil
}

// rank orders roles: a route open to a role is open to every higher one.
func rank(r store.Role) int {
	switch r {
	case store.RoleViewer:
		return 1
	case store.RoleTriager:
		return 2
	case store.RoleAdmin:
		return 3
	}
	return 0
}

// handler is a page handler that runs with a session.
type handler func(w http.ResponseWriter, r *http.Request, sess *store.Session)

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.d.Gatherer != nil {
		mux.Handle("GET /metrics", MetricsHandler(s.d.Gatherer))
	}
	mux.HandleFunc("GET "+s.cssPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Write(s.css) //nolint:errcheck // the client went away
	})
	mux.HandleFunc("GET "+s.jsPrefix+"{file...}", s.script)
	mux.HandleFunc("GET /favicon.ico", s.favicon)
	mux.HandleFunc("GET /favicon.svg", s.favicon)
	mux.HandleFunc("GET /signin", s.signinPage)
	mux.HandleFunc("POST /signin", s.signin)
	if s.oidc != nil {
		mux.HandleFunc("POST /signin/oidc", s.oidcStart)
		mux.HandleFunc("GET /signin/oidc/callback", s.oidcCallback)
	}
	mux.Handle("POST /signout", s.auth(store.RoleViewer, s.signout))
	mux.Handle("GET /{$}", s.auth(store.RoleViewer, func(w http.ResponseWriter, r *http.Request, _ *store.Session) {
		http.Redirect(w, r, "/queue", http.StatusSeeOther)
	}))
	mux.Handle("GET /queue", s.auth(store.RoleViewer, s.queue))
	mux.Handle("POST /queue", s.auth(store.RoleViewer, s.searchQueue))
	mux.Handle("POST /queue/close", s.auth(store.RoleTriager, s.bulkClose))
	mux.Handle("GET /items/{id}", s.auth(store.RoleViewer, s.item))
	mux.Handle("POST /items/{id}/check", s.auth(store.RoleTriager, s.check))
	mux.Handle("POST /items/{id}/accept", s.auth(store.RoleTriager, s.accept))
	mux.Handle("POST /items/{id}/reject", s.auth(store.RoleTriager, s.reject))
	mux.Handle("POST /items/{id}/close", s.auth(store.RoleTriager, s.closeItem))
	mux.Handle("POST /items/{id}/assign", s.auth(store.RoleTriager, s.assign))
	mux.Handle("POST /items/{id}/note", s.auth(store.RoleTriager, s.addNote))
	mux.Handle("POST /items/{id}/reply", s.auth(store.RoleTriager, s.staffReply))
	mux.Handle("POST /items/{id}/answered", s.auth(store.RoleTriager, s.answeredOffline))
	mux.Handle("POST /items/{id}/bounce/{action}", s.auth(store.RoleTriager, s.bounceAction))
	mux.Handle("GET /items/{id}/raw", s.auth(store.RoleViewer, s.rawDownload))
	mux.Handle("POST /items/{id}/sender/{action}", s.auth(store.RoleTriager, s.senderAction))
	mux.Handle("POST /items/{id}/reply/snippet", s.auth(store.RoleTriager, s.insertSnippet))
	mux.Handle("POST /items/{id}/held", s.auth(store.RoleTriager, s.sendHeld))
	mux.Handle(uploadPattern, s.auth(store.RoleTriager, s.uploadForm))
	mux.Handle("POST /items/{id}/optin", s.auth(store.RoleTriager, s.confirmOptBackIn))
	mux.Handle("GET /snippets", s.auth(store.RoleAdmin, s.snippetsPage))
	mux.Handle("POST /snippets", s.auth(store.RoleAdmin, s.snippetAction))
	mux.Handle("POST /snippets/{id}/{action}", s.auth(store.RoleAdmin, s.snippetAction))
	mux.Handle("GET /attachments/{id}", s.auth(store.RoleViewer, s.attachment))
	mux.Handle("GET /attachments/{id}/download", s.auth(store.RoleViewer, s.downloadAttachment))
	mux.Handle("GET /people", s.auth(store.RoleViewer, s.peoplePage))
	mux.Handle("POST /people", s.auth(store.RoleViewer, s.findPerson))
	mux.Handle("POST /people/optin", s.auth(store.RoleTriager, s.optIn))
	mux.Handle("POST /people/optout", s.auth(store.RoleTriager, s.optOut))
	mux.Handle("GET /audit", s.auth(store.RoleAdmin, s.audit))
	mux.Handle("GET /staff", s.auth(store.RoleAdmin, s.staffPage))
	mux.Handle("POST /staff", s.auth(store.RoleAdmin, s.addStaff))
	mux.Handle("POST /staff/{id}/{action}", s.auth(store.RoleAdmin, s.staffAction))
	mux.Handle("GET /outbox", s.auth(store.RoleViewer, s.outgoing))
	mux.Handle("GET /dashboard", s.auth(store.RoleViewer, s.dashboard))
	mux.Handle("POST /outbox/{id}/{action}", s.auth(store.RoleTriager, s.outboxAction))
	mux.Handle("GET /audit.csv", s.auth(store.RoleAdmin, s.auditCSV))
	// Every state-changing request must come from our own pages: a POST
	// whose Sec-Fetch-Site or Origin names another site gets 403, whatever
	// token it carries.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(s.crossOrigin))
	return s.recoverer(s.headers(cop.Handler(mux)))
}

// MetricsHandler serves the Prometheus metrics of g (on the page's own
// address, or on OPTOUT_METRICS_ADDR).
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{Timeout: 10 * time.Second})
}

// favicon serves the service's icon (an SVG from the binary) for both the
// icon link in each page and browsers' default /favicon.ico request.
func (s *server) favicon(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Write(s.icon) //nolint:errcheck // the client went away
}

// cspPage is the Content-Security-Policy of every page: our stylesheet,
// nothing else; no scripts at all.
const cspPage = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (s *server) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", s.csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
		if s.overHTTPS(r) {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.d.Metrics.Panic(metrics.PartWeb)
				s.log.Error("web: panic recovered", slog.String("path", r.URL.Path), slog.String("panic", fmt.Sprintf("%T", v)),
					slog.String("stack", lastLines(debug.Stack(), 12)))
				http.Error(w, "Something went wrong. Try again; if it keeps happening, tell the service team.", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.d.Store.Ping(ctx); err != nil {
		s.d.Metrics.DatabaseError()
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready: database unreachable")
		return
	}
	if s.d.Ready != nil {
		if err := s.d.Ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
	}
	fmt.Fprintln(w, "ok")
}

const sessionCookie = "optout_session"

// secureCookies reports whether cookies must carry the Secure flag. They do
// unless the browser is plainly talking to us over loopback: the request
// arrived on a loopback address, names a loopback host, and did not come
// through a proxy (no Forwarded or X-Forwarded-* header). The request's Host
// alone is not trusted: a TLS proxy in front of the daemon may rewrite it to
// localhost, and its users must still get Secure cookies.
func secureCookies(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if r.Header.Get("Forwarded") != "" || r.Header.Get("X-Forwarded-Proto") != "" || r.Header.Get("X-Forwarded-For") != "" {
		return true
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || !loopback.HostPort(local.String()) {
		return true
	}
	return !loopback.HostPort(r.Host)
}

// cookieName is a cookie's name for this request: with the __Host- prefix
// whenever cookies are Secure, so the browser keeps them to this host and
// path / and no sibling subdomain can set or shadow them.
func (s *server) cookieName(r *http.Request, base string) string {
	if secureCookies(r) {
		return "__Host-" + base
	}
	return base
}

func (s *server) setCookie(w http.ResponseWriter, r *http.Request, base, value string, maxAge int) {
	// SameSite=Lax for the pre-session: the identity provider's redirect
	// back to us is a cross-site top-level GET that must carry it.
	same := http.SameSiteStrictMode
	if base == presessionCookie {
		same = http.SameSiteLaxMode
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(r, base), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: secureCookies(r), SameSite: same})
}

// auth wraps h: it requires a live session with at least role, and a
// correct CSRF token on every POST. Without a session it redirects to
// sign-in; with too low a role or a bad token it answers 403.
func (s *server) auth(role store.Role, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		c, err := r.Cookie(s.cookieName(r, sessionCookie))
		var sess store.Session
		if err == nil && c.Value != "" && len(c.Value) < 100 {
			sess, err = s.d.Store.Session(r.Context(), c.Value, s.d.SessionIdle, s.d.SessionMax)
		} else {
			err = store.ErrNotFound
		}
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				s.d.Metrics.DatabaseError()
				s.log.Error("web: read session", slog.String("error", err.Error()))
				s.fail(w, r, nil, http.StatusServiceUnavailable, "The service cannot reach its database. Try again in a minute.")
				return
			}
			next := "/queue"
			if r.Method == http.MethodGet {
				next = r.URL.Path
			}
			http.Redirect(w, r, "/signin?next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		if rank(sess.Staff.Role) < rank(role) {
			s.refuse(r, &sess, http.StatusForbidden, "role")
			s.fail(w, r, &sess, http.StatusForbidden, "Your account cannot do this. Ask an administrator if you need it.")
			return
		}
		if r.Method == http.MethodPost {
			if r.Pattern == uploadPattern {
				// The form file and the CSRF token: parsed into
				// r.MultipartForm (memory up to maxFormBytes, the rest on
				// disk), the token copied to PostForm.
				r.Body = http.MaxBytesReader(w, r.Body, s.d.MaxUploadBytes+maxFormBytes)
				if err := r.ParseMultipartForm(maxFormBytes); err != nil {
					s.uploadTooLarge(w, r, &sess, err)
					return
				}
				r.PostForm = r.MultipartForm.Value
			} else {
				r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			}
			if err := r.ParseForm(); err != nil {
				s.fail(w, r, &sess, http.StatusBadRequest, "The form could not be read. Go back and try again.")
				return
			}
			if !tokenEqual(r.PostForm.Get("csrf"), sess.CSRFToken) {
				s.refuse(r, &sess, http.StatusForbidden, "csrf")
				s.fail(w, r, &sess, http.StatusForbidden, "The form had expired or did not come from this site. Go back, reload the page and try again.")
				return
			}
		}
		h(w, r, &sess)
		if r.Method == http.MethodPost && s.d.Queued != nil {
			s.d.Queued()
		}
	})
}

func tokenEqual(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// page is what every template gets.
type page struct {
	Title   string
	Nav     string // which navigation entry is current
	Session *store.Session
	CSRF    string
	CSS     string
	Notice  string // a confirmation shown at the top
	Errors  []pageError
	Data    any
	// TitleError prefixes the title with "Error:": only when the staff
	// member's own submission of this page's form had errors (GOV.UK
	// pattern), never for problems found in a resident's form.
	TitleError bool
	// Next and Prev are the URLs of the next and previous page of a list,
	// linked from the head as rel="next" and rel="prev".
	Next, Prev string
	// Script is the URL of our own module script the page runs (the item
	// page's viewer); the page's policy then allows scripts from our origin.
	Script string
}

// pageError is one entry of the error summary; Field is the id of the input it is about ("" for none).
type pageError struct {
	Field   string
	Message string
}

func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t := s.pages[name]
	if t == nil {
		s.log.Error("web: no template", slog.String("template", name))
		http.Error(w, "page template missing", http.StatusInternalServerError)
		return
	}
	p.CSS = s.cssPath
	p.TitleError = len(p.Errors) > 0 && r.Method == http.MethodPost
	if p.Session != nil {
		p.CSRF = p.Session.CSRFToken
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		s.log.Error("web: render page", slog.String("template", name), slog.String("error", err.Error()))
		http.Error(w, "the page could not be shown", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if p.Script != "" {
		w.Header().Set("Content-Security-Policy", scriptCSP(s.csp))
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes()) //nolint:errcheck // the client went away
}

// fail shows an error page with status and a sentence for staff.
func (s *server) fail(w http.ResponseWriter, r *http.Request, sess *store.Session, status int, msg string) {
	s.render(w, r, status, "error", page{Title: http.StatusText(status), Session: sess, Data: msg})
}

// storeFail maps a store error to a page: not found, conflict, or a logged 500.
func (s *server) storeFail(w http.ResponseWriter, r *http.Request, sess *store.Session, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.fail(w, r, sess, http.StatusNotFound, "That record does not exist, or was purged after the retention period.")
	case errors.Is(err, store.ErrConflict):
		s.fail(w, r, sess, http.StatusConflict, "Someone has already dealt with this, or it is not in a state that allows this. Go back to the queue and reload it.")
	default:
		s.d.Metrics.DatabaseError()
		s.log.Error("web: request failed", slog.String("path", r.URL.Path), slog.Int64("staff", sess.Staff.ID), slog.String("error", err.Error()))
		s.fail(w, r, sess, http.StatusInternalServerError, "Something went wrong and nothing was changed. Try again; if it keeps happening, tell the service team.")
	}
}
