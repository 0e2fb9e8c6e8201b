package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"
	"golang.org/x/oauth2"

	"github.com/ncl-icb/optout-intake/config"
	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/extract/pdfworker"
	"github.com/ncl-icb/optout-intake/intake"
	"github.com/ncl-icb/optout-intake/mailbox"
	"github.com/ncl-icb/optout-intake/metrics"
	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/web"
)

// The wiring: configuration → checks → the parts, built in order and joined
// → the daemon. Every command that runs the pipeline (run, once, reprocess,
// demo) builds it here, so they cannot drift apart. No globals: everything
// hangs off an app.

// refreshTokenSecret names the store secret that keeps the rotated OAuth
// refresh token between runs.
const refreshTokenSecret = "imap_oauth_refresh_token"

// loadDaemonConfig reads the configuration and checks everything `run` and
// `once` need, reporting every problem at once.
func loadDaemonConfig(getenv func(string) string) (*config.Config, error) {
	cfg, err := config.LoadDaemon(getenv)
	if cfg == nil {
		return nil, err
	}
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if cfg.TokenKey != "" {
		if _, err := parseTokenKey(cfg.TokenKey); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.DataKey != "" && cfg.IndexKey != "" {
		if _, err := store.ParseKeys(cfg.DataKey, cfg.IndexKey); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return cfg, nil
}

// parseTokenKey decodes OPTOUT_TOKEN_KEY: base64 of at least 32 bytes.
func parseTokenKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) < 32 {
				return nil, fmt.Errorf("OPTOUT_TOKEN_KEY decodes to %d bytes; it must be at least 32 random bytes in base64 (make one with `head -c 32 /dev/urandom | base64`)", len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("OPTOUT_TOKEN_KEY is not base64; make one with `head -c 32 /dev/urandom | base64`")
}

// newLogger returns the process logger: JSON lines (production) or text,
// at the configured level, on w.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	switch cfg.LogLevel {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// app is the assembled service. Close releases what build opened.
type app struct {
	cfg      *config.Config
	log      *slog.Logger
	store    *store.Store
	composer *notify.Composer
	sender   *notify.Sender
	session  *mailbox.Session
	sent     *mailbox.Session // the Sent copies' own connection; nil without OPTOUT_FOLDER_SENT
	tokens   *mailbox.Tokens  // nil unless IMAP uses OAuth
	service  *intake.Service
	metrics  *metrics.Metrics
	registry *prometheus.Registry
	handler  http.Handler
	maxAge   time.Duration // a poll older than this makes /readyz fail
	pdfPool  *pdfworker.Pool
}

// buildOptions adjust build for the demo and tests; the zero value is
// production.
type buildOptions struct {
	// senderTLS overrides the SMTP client's TLS configuration.
	smtpTLS func(*notify.SenderConfig)
	// tune adjusts the pipeline's configuration before it is built.
	tune func(*intake.Config)
	// now is the clock (default time.Now).
	now func() time.Time
	// readOnly opens the store without applying migrations and fails
	// unless the schema is current (the dry run writes nothing).
	readOnly bool
}

// build makes every part from cfg, in order: store (with migrations under
// the store's advisory lock) and keys, extractor, reply composer and
// signer, SMTP sender, mailbox session, pipeline, metrics, web handler. On
// error, whatever was opened is closed again.
func build(ctx context.Context, cfg *config.Config, log *slog.Logger, opts buildOptions) (_ *app, err error) {
	if opts.now == nil {
		opts.now = time.Now
	}
	a := &app{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()

	keys, err := store.ParseKeys(cfg.DataKey, cfg.IndexKey)
	if err != nil {
		return nil, err
	}
	signKey, err := parseTokenKey(cfg.TokenKey)
	if err != nil {
		return nil, err
	}
	a.store, err = store.Open(ctx, store.Options{
		DatabaseURL: cfg.DatabaseURL, Schema: cfg.DBSchema, Keys: keys, Migrate: !opts.readOnly,
		Logger: log.With(slog.String("part", "store")),
	})
	if err != nil {
		return nil, err
	}
	if opts.readOnly {
		applied, available, err := store.SchemaVersion(ctx, a.store.Pool(), cfg.DBSchema)
		if err != nil {
			return nil, err
		}
		if applied < available {
			return nil, fmt.Errorf("the database schema is at version %d of %d: run `optoutd migrate` first (a dry run writes nothing, not even the schema)", applied, available)
		}
	}

	a.registry = prometheus.NewRegistry()
	if a.metrics, err = metrics.New(a.registry); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	if err := a.metrics.CollectSending(a.store, cfg.SMTPDaily, 0, log); err != nil {
		return nil, fmt.Errorf("register sending metrics: %w", err)
	}
	if err := a.metrics.CollectFrom(a.store, 0, log); err != nil {
		return nil, fmt.Errorf("register store metrics: %w", err)
	}

	lim := extract.DefaultLimits()
	if cfg.MaxAttachment > 0 {
		lim.MaxFileBytes = cfg.MaxAttachment
		lim.Message.MaxAttachmentBytes = cfg.MaxAttachment
	}
	if cfg.MaxMessage > 0 {
		lim.Message.MaxMessageBytes = cfg.MaxMessage
	}
	// PDFs are read in child processes (`optoutd pdf-worker`) with memory,
	// CPU and time limits: a hostile file can only kill a child, and what
	// the PDF library prints about a file never reaches our logs.
	a.pdfPool = pdfworker.New(pdfworker.Config{}, log.With(slog.String("part", "pdfworker")))
	extractor := extract.New(lim, opts.now).WithPDFReader(a.pdfPool.Read)
	if err := a.metrics.CollectPDFWorkers(a.pdfPool.Stats); err != nil {
		return nil, err
	}

	templates, err := notify.LoadTemplates(cfg.TemplateDir)
	if err != nil {
		return nil, fmt.Errorf("load reply templates (OPTOUT_TEMPLATE_DIR): %w", err)
	}
	signer := notify.Signer{Key: signKey}
	a.composer, err = notify.NewComposer(notify.ComposerConfig{
		Address: cfg.Address, DisplayName: cfg.FromName, SecureMarker: cfg.SecureMark,
		FormURL: cfg.FormURL, EnquiryPhone: cfg.EnquiryPhone,
		Templates: templates, Signer: signer, Now: opts.now,
	})
	if err != nil {
		return nil, err
	}

	if cfg.IMAPAuth == mailbox.AuthXOAUTH2 {
		if a.tokens, err = a.tokenSource(); err != nil {
			return nil, err
		}
	}
	scfg := notify.SenderConfig{
		Addr: cfg.SMTPAddr, TLS: notify.TLSMode(cfg.SMTPTLS), User: cfg.SMTPUser, Password: cfg.SMTPPassword,
		Slot: a.store.AcquireSMTPSlot, // at most 3 SMTP connections for all replicas together
	}
	if cfg.SMTPUser != "" {
		scfg.Auth = notify.AuthMode(cfg.SMTPAuth)
	}
	if scfg.Auth == notify.AuthXOAUTH2 {
		if a.tokens == nil {
			if a.tokens, err = a.tokenSource(); err != nil {
				return nil, err
			}
		}
		tokens := countingTokens{a.tokens, a.metrics}
		scfg.Token = func(context.Context) (string, error) {
			t, err := tokens.Token()
			if err != nil {
				return "", err
			}
			return t.AccessToken, nil
		}
	}
	if opts.smtpTLS != nil {
		opts.smtpTLS(&scfg)
	}
	if a.sender, err = notify.NewSender(scfg, log.With(slog.String("part", "smtp"))); err != nil {
		return nil, err
	}

	mcfg := mailbox.Config{
		Addr: cfg.IMAPAddr, TLS: cfg.IMAPTLS, User: cfg.IMAPUser, Auth: cfg.IMAPAuth, Password: cfg.IMAPPassword,
		Inbox: cfg.Inbox, MaxMessageBytes: cfg.MaxMessage,
		Folders: mailbox.Folders{Processed: cfg.FolderProcessed, Triage: cfg.FolderTriage, Auto: cfg.FolderAuto},
	}
	if a.tokens != nil {
		mcfg.TokenSource = countingTokens{a.tokens, a.metrics}
	}
	saveSent := cfg.FolderSent != ""
	if saveSent {
		mcfg.Folders.Sent = cfg.FolderSent
	}
	if err := mcfg.Validate(); err != nil {
		return nil, fmt.Errorf("mailbox configuration: %w", err)
	}
	a.session = mailbox.NewSession(mcfg, log.With(slog.String("part", "imap")))
	a.session.OnError = func(error) { a.metrics.IMAPError() }

	icfg := intake.Config{
		Processor: intake.ProcessorConfig{
			Address: cfg.Address, Policy: intake.Policy(cfg.Unsolicited),
			ReplyLimit: cfg.ReplyLimit, ReplyWindow: cfg.ReplyWindow,
			EnquiryDays: cfg.EnquiryDays,
		},
		Poller: intake.PollerConfig{Mailbox: mcfg, ScanDays: cfg.ScanDays,
			Hold: intake.HoldRule{MaxAge: cfg.MaxAge, StartAfter: cfg.StartAfter}},
		PollSchedule:  cfg.PollSchedule,
		PurgeSchedule: cfg.PurgeSchedule,
		Retention:     cfg.Retention,
		Send:          store.SendLimits{Rate: cfg.SMTPRate, Daily: cfg.SMTPDaily},
	}
	if opts.tune != nil {
		opts.tune(&icfg)
	}
	deps := intake.Deps{
		Store: a.store, Session: a.session, Extractor: extractor, Composer: a.composer, Signer: signer,
		Mailer: a.sender, Logger: log, Metrics: a.metrics, Now: opts.now,
	}
	if saveSent {
		// Its own connection: the poller's session is held by polls and
		// IDLE, and sending must never wait for them.
		a.sent = mailbox.NewSession(mcfg, log.With(slog.String("part", "imap"), slog.String("session", "sent")))
		a.sent.OnError = func(error) { a.metrics.IMAPError() }
		deps.SentCopier = mailbox.SentFolder{Session: a.sent, Folder: cfg.FolderSent}
	}
	if a.service, err = intake.New(deps, icfg); err != nil {
		return nil, err
	}
	a.maxAge = readyMaxAge(icfg.PollSchedule, opts.now())

	a.handler, err = web.New(webDeps(cfg, web.Deps{
		Store: a.store, Composer: a.composer, Logger: log.With(slog.String("part", "web")),
		Metrics: a.metrics, Gatherer: a.registry, Now: opts.now, Ready: a.ready,
		Extractor: extractor, MaxUploadBytes: lim.MaxFileBytes, Queued: a.service.Wake,
	}))
	if err != nil {
		return nil, err
	}
	return a, nil
}

// webDeps adds the triage page's settings (sessions, proxies, sign-in,
// metrics address) to d.
func webDeps(cfg *config.Config, d web.Deps) web.Deps {
	d.SessionIdle, d.SessionMax = cfg.SessionIdle, cfg.SessionMax
	d.TrustedProxies = cfg.TrustedProxies
	d.ReplyWait = time.Duration(cfg.ReplyWaitDays) * 24 * time.Hour
	d.ReplyWindow = cfg.ReplyWindow
	d.DailyLimit = cfg.SMTPDaily
	d.LocalSigninOff = cfg.LocalSignin == "off"
	if cfg.MetricsAddr != "" {
		d.MetricsElsewhere, d.Gatherer = true, nil
	}
	if cfg.OIDCIssuer != "" {
		d.OIDC = &web.OIDCConfig{Issuer: cfg.OIDCIssuer, ClientID: cfg.OIDCClientID, ClientSecret: cfg.OIDCClientSecret, RedirectURL: cfg.OIDCRedirectURL}
	}
	return d
}

// serveMetrics serves /metrics on OPTOUT_METRICS_ADDR, when set, until ctx
// ends; without it, it returns at once (/metrics is on the page's address).
func (a *app) serveMetrics(ctx context.Context) error {
	if a.cfg.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", a.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("listen on OPTOUT_METRICS_ADDR %s: %w", a.cfg.MetricsAddr, err)
	}
	a.log.Info("metrics listening", slog.String("addr", ln.Addr().String()))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", web.MetricsHandler(a.registry))
	return serveHTTP(ctx, ln, mux, a.log)
}

// tokenSource builds the OAuth 2.0 token source for IMAP (and SMTP
// XOAUTH2): client credentials when a secret is set, else a refresh token
// (the stored rotated one, or the configured initial one), else the token
// command or file.
func (a *app) tokenSource() (*mailbox.Tokens, error) {
	cfg := a.cfg
	tc := mailbox.TokenConfig{
		TenantID: cfg.OAuthTenant, ClientID: cfg.OAuthClientID, ClientSecret: cfg.OAuthClientSecret,
		Command: cfg.IMAPTokenCommand, File: cfg.IMAPTokenFile,
	}
	switch {
	case cfg.OAuthClientID != "" && cfg.OAuthClientSecret != "":
		tc.Flow = mailbox.FlowClientCredentials
	case cfg.OAuthClientID != "":
		tc.Flow = mailbox.FlowRefreshToken
		tc.RefreshStore = refreshStore{a.store, cfg.OAuthRefreshToken}
	case cfg.IMAPTokenCommand != "":
		tc.Flow = mailbox.FlowCommand
	case cfg.IMAPTokenFile != "":
		tc.Flow = mailbox.FlowFile
	}
	t, err := mailbox.NewTokenSource(tc, a.log.With(slog.String("part", "oauth")))
	if err != nil {
		return nil, fmt.Errorf("oauth configuration: %w", err)
	}
	return t, nil
}

// ready is /readyz's pipeline check: the mailbox was polled recently and
// the OAuth token (when used) is being renewed.
func (a *app) ready(context.Context) error {
	if a.tokens != nil {
		if err := a.tokens.LastTokenError(); err != nil {
			return fmt.Errorf("oauth token: %w", err)
		}
	}
	return a.service.Ready(a.maxAge)
}

// readyMaxAge is how old the last successful poll may be before /readyz
// fails: three poll intervals plus two minutes (five minutes for the
// default every-minute schedule).
func readyMaxAge(schedule string, now time.Time) time.Duration {
	sched, err := cron.ParseStandard(schedule)
	if err != nil {
		return 10 * time.Minute
	}
	first := sched.Next(now)
	return 3*sched.Next(first).Sub(first) + 2*time.Minute
}

// Close releases the parts (safe on a partly built app).
func (a *app) Close() {
	if a.pdfPool != nil {
		a.pdfPool.Close()
	}
	if a.session != nil {
		_ = a.session.Close()
	}
	if a.sent != nil {
		_ = a.sent.Close()
	}
	if a.sender != nil {
		_ = a.sender.Close()
	}
	if a.store != nil {
		a.store.Close()
	}
}

// listenHTTP opens the HTTP listener on addr (OPTOUT_HTTP_ADDR).
func listenHTTP(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on OPTOUT_HTTP_ADDR %s (is another optoutd running?): %w", addr, err)
	}
	return ln, nil
}

// serveHTTP serves the web handler on ln until ctx ends, then shuts down
// gracefully (in-flight requests get ten seconds).
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http server shutdown: %w", err)
	}
	return nil
}

// refreshStore keeps the rotated OAuth refresh token sealed in the store;
// before the first rotation it returns the configured initial token.
type refreshStore struct {
	st      *store.Store
	initial string
}

func (r refreshStore) Load(ctx context.Context) (string, error) {
	b, err := r.st.Secret(ctx, refreshTokenSecret)
	if errors.Is(err, store.ErrNotFound) {
		if r.initial == "" {
			return "", errors.New("no OAuth refresh token: set OPTOUT_OAUTH_REFRESH_TOKEN once; rotated tokens are then kept in the database")
		}
		return r.initial, nil
	}
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func (r refreshStore) Save(ctx context.Context, token string) error {
	return r.st.PutSecret(ctx, refreshTokenSecret, []byte(token))
}

// countingTokens counts failed token fetches in the metrics, so an expired
// grant shows on the dashboard and in the alerts.
type countingTokens struct {
	src oauth2.TokenSource
	m   *metrics.Metrics
}

func (c countingTokens) Token() (*oauth2.Token, error) {
	t, err := c.src.Token()
	if err != nil {
		c.m.OAuthRefreshFailed()
	}
	return t, err
}
