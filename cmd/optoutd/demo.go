package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/jackc/pgx/v5"

	"github.com/ncl-icb/optout-intake/config"
	"github.com/ncl-icb/optout-intake/fixtures"
	"github.com/ncl-icb/optout-intake/intake"
	"github.com/ncl-icb/optout-intake/internal/imapdemo"
	"github.com/ncl-icb/optout-intake/internal/pgcluster"
	"github.com/ncl-icb/optout-intake/internal/resident"
	"github.com/ncl-icb/optout-intake/internal/smtpsink"
	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
	"github.com/ncl-icb/optout-intake/web"
)

// The demo's cast. Everyone is fictional (see fixtures/README.md); the
// mailbox address is the ICB's published one, but nothing leaves the
// process: the SMTP server is in-process and keeps what is sent.
const (
	demoMailbox   = "joined-up.care-record@nhs.net"
	demoAmelia    = "amelia.hartwell@example.org" // sends a valid fillable PDF
	demoHarriet   = "h.bloom@example.org"         // sends a form with the declaration not ticked
	demoOOF       = "priya.raman@example.com"     // her mail server sends an out-of-office reply
	demoAdmin     = "demo.admin@example.nhs.uk"
	demoIMAPUser  = "optout-demo"
	demoSchemaPfx = "optout_demo_"
)

// runDemo is `optoutd demo [--no-serve]`: the whole service on embedded
// defaults, with a simulated resident walking through the leaflet's four
// steps, then the triage page until Ctrl-C.
func runDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	noServe := fs.Bool("no-serve", false, "end after the walk-through instead of serving the triage page")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("demo takes no arguments")
	}
	d := &demo{out: bufio.NewWriter(os.Stdout), getenv: os.Getenv}
	defer d.out.Flush()
	err := d.run(ctx, !*noServe)
	d.cleanup()
	return err
}

// demo holds the running demo's parts.
type demo struct {
	out    *bufio.Writer
	getenv func(string) string
	mu     sync.Mutex // guards out once the sink prints from its goroutine

	cleanups []func()
	imap     *imapdemo.Server
	sink     *smtpsink.Server
	app      *app
	seen     int         // sink messages already shown
	live     atomic.Bool // print sent mail as it arrives (serving)
}

func (d *demo) cleanup() {
	for _, f := range slices.Backward(d.cleanups) {
		f()
	}
	d.cleanups = nil
}

func (d *demo) run(ctx context.Context, serve bool) error {
	start := time.Now()
	d.printf("optout-intake demo: the whole service on this machine, with simulated residents.\n")
	d.printf("Nothing leaves this process: mail goes to an in-process IMAP server and an in-process SMTP server.\n\n")

	dbURL, schema, err := d.database(ctx)
	if err != nil {
		return err
	}
	cfg, err := d.config(dbURL, schema)
	if err != nil {
		return err
	}
	d.printf("Demo keys, data is thrown away: fresh encryption, index and signing keys were generated for this run.\n")

	logLevel := slog.LevelWarn
	if cfg.LogLevel == "debug" {
		logLevel = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}))
	a, err := build(ctx, cfg, log, buildOptions{tune: func(c *intake.Config) {
		c.Worker = notify.WorkerConfig{Interval: time.Second, BaseBackoff: time.Second, MaxBackoff: 10 * time.Second}
		c.Poller.ScanEvery = -1
	}})
	if err != nil {
		return err
	}
	d.app = a
	d.cleanups = append(d.cleanups, a.Close)

	if err := d.walkThrough(ctx); err != nil {
		return err
	}
	if err := d.printRegister(ctx); err != nil {
		return err
	}
	d.printf("\nWalk-through done in %s.\n", time.Since(start).Round(100*time.Millisecond))
	if !serve {
		return nil
	}
	return d.serve(ctx, cfg)
}

// database returns DATABASE_URL with a schema of its own (dropped at the
// end), or starts a throwaway cluster.
func (d *demo) database(ctx context.Context) (url, schema string, err error) {
	if url = d.getenv("DATABASE_URL"); url != "" {
		schema = demoSchemaPfx + randomHex(6)
		d.printf("PostgreSQL: DATABASE_URL, in a schema of its own (%s) that is dropped at the end.\n", schema)
		d.cleanups = append(d.cleanups, func() { dropSchema(url, schema) })
		return url, schema, nil
	}
	d.printf("PostgreSQL: starting a throwaway cluster (initdb, pg_ctl) in a temporary directory...\n")
	c, err := pgcluster.Start(ctx, pgcluster.Options{Database: "optout"})
	if err != nil {
		if errors.Is(err, pgcluster.ErrNotInstalled) {
			return "", "", fmt.Errorf("the demo needs PostgreSQL: %w (./scripts/demo installs it for you)", err)
		}
		return "", "", fmt.Errorf("start a throwaway PostgreSQL cluster: %w", err)
	}
	d.cleanups = append(d.cleanups, func() { _ = c.Stop() })
	d.printf("PostgreSQL: throwaway cluster on 127.0.0.1:%d (removed at the end).\n", c.Port())
	return c.URL(), store.DefaultSchema, nil
}

// dropSchema removes the demo's schema from a DATABASE_URL database.
func dropSchema(url, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: could not drop schema %s: %v\n", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "drop schema if exists "+pgx.Identifier{schema}.Sanitize()+" cascade"); err != nil {
		fmt.Fprintf(os.Stderr, "demo: could not drop schema %s: %v\n", schema, err)
	}
}

// config starts the in-process IMAP and SMTP servers and returns the
// daemon's configuration pointing at them, checked as `optoutd run` checks
// its own. Settings the demo does not fix (templates, secure marker, log
// level, HTTP address…) still come from the environment.
func (d *demo) config(dbURL, schema string) (*config.Config, error) {
	var err error
	if d.imap, err = imapdemo.Start(demoIMAPUser, randomHex(12)); err != nil {
		return nil, err
	}
	d.cleanups = append(d.cleanups, func() { d.imap.Close() })
	d.sink, err = smtpsink.Start(smtpsink.Config{OnMessage: func(m smtpsink.Message) {
		if d.live.Load() {
			d.printf("\n[sent while serving]\n")
			d.showMail(m.Raw)
		}
	}})
	if err != nil {
		return nil, fmt.Errorf("start the demo SMTP server: %w", err)
	}
	d.cleanups = append(d.cleanups, func() { d.sink.Close() })
	d.printf("IMAP: in-process server on %s; SMTP: in-process server on %s that keeps what is sent.\n", d.imap.Addr(), d.sink.Addr())

	dataKey, indexKey, err := store.GenerateKeys()
	if err != nil {
		return nil, err
	}
	tokenKey, err := generateTokenKey()
	if err != nil {
		return nil, err
	}
	fixed := map[string]string{
		"DATABASE_URL": dbURL, "OPTOUT_DB_SCHEMA": schema,
		"OPTOUT_DATA_KEY": dataKey, "OPTOUT_INDEX_KEY": indexKey, "OPTOUT_TOKEN_KEY": tokenKey,
		"OPTOUT_ADDRESS": demoMailbox, "OPTOUT_FORM_URL": notify.DefaultFormURL,
		"OPTOUT_IMAP_ADDR": d.imap.Addr(), "OPTOUT_IMAP_TLS": "none", "OPTOUT_IMAP_USER": d.imap.User(),
		"OPTOUT_IMAP_PASSWORD": d.imap.Password(), "OPTOUT_IMAP_AUTH": "plain",
		"OPTOUT_SMTP_ADDR": d.sink.Addr(), "OPTOUT_SMTP_TLS": "none", "OPTOUT_SMTP_USER": "",
		"OPTOUT_POLL_SCHEDULE": "@every 10s", "OPTOUT_UNSOLICITED_POLICY": "process",
		"OPTOUT_FOLDER_SENT": "", "OPTOUT_CONFIG_FILE": "", "OPTOUT_SMTP_RATE": "0",
	}
	getenv := func(name string) string {
		if strings.HasSuffix(name, "_FILE") {
			if _, ok := fixed[strings.TrimSuffix(name, "_FILE")]; ok {
				return ""
			}
		}
		if v, ok := fixed[name]; ok {
			return v
		}
		return d.getenv(name)
	}
	cfg, err := config.LoadDaemon(getenv)
	if err != nil {
		return nil, fmt.Errorf("demo configuration: %w", err)
	}
	return cfg, nil
}

// walkThrough plays the leaflet's four steps and checks each outcome, so a
// broken pipeline fails the demo instead of printing nonsense.
func (d *demo) walkThrough(ctx context.Context) error {
	d.printf("\n== Step 1: residents email the mailbox asking to opt out ==\n")
	contactA := resident.Mail{
		FromName: "Amelia Hartwell", From: demoAmelia, To: demoMailbox, Subject: "Opting out of the London Care Record",
		Body: "Hello,\n\nI would like to opt out of the London Care Record. Please tell me what I need to do.\n\nThanks,\nAmelia",
	}.Bytes()
	contactH, err := fixtures.Demo.ReadFile("mail/contact-gmail.eml")
	if err != nil {
		return fmt.Errorf("read embedded fixture: %w", err)
	}
	oof, err := fixtures.Demo.ReadFile("mail/auto-oof-exchange.eml")
	if err != nil {
		return fmt.Errorf("read embedded fixture: %w", err)
	}
	for _, m := range []struct {
		what string
		raw  []byte
	}{
		{"Amelia Hartwell <" + demoAmelia + ">: \"Opting out of the London Care Record\"", contactA},
		{"Harriet Bloom <" + demoHarriet + ">: \"Opting out of the London Care Record\" (a Gmail message)", contactH},
		{"Priya Raman's mail server <" + demoOOF + ">: \"Automatic reply: ...\" (an out-of-office)", oof},
	} {
		if _, err := d.imap.Append(imapdemo.Inbox, m.raw, time.Time{}); err != nil {
			return err
		}
		d.printf("  into the inbox: %s\n", m.what)
	}

	d.printf("\n== Step 2: the daemon polls the mailbox and answers with the secure-email instructions ==\n")
	if err := d.once(ctx); err != nil {
		return err
	}
	sent := d.newMail()
	instrA, ok := findMail(sent, demoAmelia, vocab.KindInstructions)
	if !ok {
		return fmt.Errorf("demo: no instructions were sent to the first resident (sent %d messages)", len(sent))
	}
	instrH, ok := findMail(sent, demoHarriet, vocab.KindInstructions)
	if !ok {
		return fmt.Errorf("demo: no instructions were sent to the second resident (sent %d messages)", len(sent))
	}
	d.printf("The reply to Amelia (the subject carries the secure marker, so NHSmail encrypts it, and her reference code):\n")
	d.showMail(instrA.raw)
	d.printf("Harriet got the same instructions: %q\n", instrH.subject)
	if _, ok := findMail(sent, demoOOF, ""); ok {
		return errors.New("demo: the out-of-office reply was answered; automatic mail must never be answered")
	}
	d.printf("The out-of-office reply was recorded and moved to the %q folder, and not answered (no mail loops).\n", d.app.cfg.FolderAuto)
	if n := d.imap.Count(d.app.cfg.FolderAuto); n != 1 {
		return fmt.Errorf("demo: the Auto folder holds %d messages, want the out-of-office reply", n)
	}

	d.printf("\n== Step 3: the residents reply inside the secure message with the completed form attached ==\n")
	replyA, err := amendReply(instrA)
	if err != nil {
		return err
	}
	badForm, err := fixtures.Demo.ReadFile("forms/bad-missing-declaration.txt")
	if err != nil {
		return fmt.Errorf("read embedded fixture: %w", err)
	}
	replyH := resident.Mail{
		FromName: "Harriet Bloom", From: demoHarriet, To: demoMailbox, Subject: "Re: " + instrH.subject, Body: "Here is my form.",
		InReplyTo: instrH.messageID, References: []string{instrH.messageID},
		Attachment: &resident.Attachment{Name: "optout-form.txt", ContentType: "text/plain; charset=utf-8", Data: badForm},
	}.Bytes()
	for _, m := range []struct {
		what string
		raw  []byte
	}{
		{fmt.Sprintf("Amelia: %q, In-Reply-To our Message-ID, with \"Opt out form.pdf\" (a filled fillable PDF)", "RE: "+instrA.subject), replyA},
		{fmt.Sprintf("Harriet: %q, In-Reply-To our Message-ID, with \"optout-form.txt\" (she forgot to tick the declaration)", "Re: "+instrH.subject), replyH},
	} {
		if _, err := d.imap.Append(imapdemo.Inbox, m.raw, time.Time{}); err != nil {
			return err
		}
		d.printf("  into the inbox: %s\n", m.what)
	}

	d.printf("\n== Step 4: the daemon reads and checks the forms, acknowledges receipt and confirms the outcome ==\n")
	if err := d.once(ctx); err != nil {
		return err
	}
	sent = d.newMail()
	for _, want := range []struct {
		to   string
		kind vocab.Kind
		note string
	}{
		{demoAmelia, vocab.KindAccepted, "One email to Amelia, at once: her form is valid, so it confirms receipt and the recorded opt-out together:"},
		{demoHarriet, vocab.KindReceipt, "Receipt to Harriet (her outcome email waits for a member of staff):"},
	} {
		m, ok := findMail(sent, want.to, want.kind)
		if !ok {
			return fmt.Errorf("demo: no %s email was sent (sent %d messages in step 4)", want.kind, len(sent))
		}
		d.printf("%s\n", want.note)
		d.showMail(m.raw)
	}
	if m, ok := findMail(sent, demoHarriet, vocab.KindAccepted); ok {
		return fmt.Errorf("demo: an invalid form was accepted (%s)", m.subject)
	}
	if m, ok := findMail(sent, demoAmelia, vocab.KindReceipt); ok {
		return fmt.Errorf("demo: a receipt went beside the outcome (%s)", m.subject)
	}
	items, err := d.app.store.ListTriage(ctx, store.TriageFilter{Limit: 100})
	if err != nil {
		return err
	}
	d.printf("Triage queue for ICB staff:\n")
	for _, it := range items {
		d.printf("  item %d  %-14s  reason %-16s  answer due by %s\n", it.ID, it.Reference, it.Reason, it.DueBy.Format("2 Jan 2006"))
	}
	if !slices.ContainsFunc(items, func(it store.TriageItem) bool { return it.Reason == vocab.ReasonInvalidForm }) {
		return fmt.Errorf("demo: the invalid form did not reach the triage queue (%d items)", len(items))
	}
	d.printf("Mailbox folders: %s %d, %s %d, %s %d, inbox %d.\n",
		d.app.cfg.FolderProcessed, d.imap.Count(d.app.cfg.FolderProcessed), d.app.cfg.FolderTriage, d.imap.Count(d.app.cfg.FolderTriage),
		d.app.cfg.FolderAuto, d.imap.Count(d.app.cfg.FolderAuto), d.imap.Count(imapdemo.Inbox))
	return nil
}

// once runs one poll and one outbox pass.
func (d *demo) once(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	res, err := d.app.service.Once(ctx)
	if err != nil {
		return fmt.Errorf("demo poll: %w", err)
	}
	if res.Failed > 0 {
		return fmt.Errorf("demo poll: %d messages failed (run with OPTOUT_LOG_LEVEL=debug to see why)", res.Failed)
	}
	d.printf("  (poll: %d messages read, %d processed, %d moved; outbox sent)\n", res.Fetched, res.Processed, res.Moved)
	return nil
}

// serve keeps the daemon and the triage page running until Ctrl-C.
func (d *demo) serve(ctx context.Context, cfg *config.Config) error {
	password := randomHex(8)
	hash, err := web.HashPassword(password)
	if err != nil {
		return err
	}
	if _, err := d.app.store.CreateStaff(ctx, demoAdmin, hash, store.RoleAdmin, store.System); err != nil {
		return fmt.Errorf("create the demo admin account: %w", err)
	}
	ln, err := listenHTTP(cfg.HTTPAddr)
	if err != nil {
		// The usual port is taken: any free loopback port will do.
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return fmt.Errorf("listen for the triage page: %w", err)
		}
	}
	d.printf("\n== The triage page ==\n")
	d.printf("Open http://%s/ and sign in as %s with password %s\n", ln.Addr(), demoAdmin, password)
	d.printf("Harriet's form waits in the queue: correct it and accept it, or reject it, and the outcome email is printed here.\n")
	d.printf("Press Ctrl-C to stop; everything is thrown away.\n")
	d.live.Store(true)
	var wg sync.WaitGroup
	var httpErr error
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() {
		defer cancel()
		httpErr = serveHTTP(sctx, ln, d.app.handler, d.app.log)
	})
	runErr := d.app.service.Run(sctx)
	cancel()
	wg.Wait()
	d.live.Store(false)
	d.printf("\nStopped; removing the demo's data.\n")
	return errors.Join(runErr, httpErr)
}

// sentMail is one message the SMTP sink kept, with what the demo needs.
type sentMail struct {
	to, subject, ref, messageID string
	kind                        vocab.Kind
	raw                         []byte
}

func (d *demo) allMail() []sentMail {
	var out []sentMail
	for _, m := range d.sink.Messages() {
		out = append(out, parseSent(m))
	}
	return out
}

// newMail returns the messages sent since the last call.
func (d *demo) newMail() []sentMail {
	all := d.allMail()
	out := all[min(d.seen, len(all)):]
	d.seen = len(all)
	return out
}

func parseSent(m smtpsink.Message) sentMail {
	s := sentMail{raw: m.Raw}
	if len(m.To) > 0 {
		s.to = strings.ToLower(m.To[0])
	}
	r, err := mail.CreateReader(bytes.NewReader(m.Raw))
	if err != nil {
		return s
	}
	defer r.Close()
	s.subject, _ = r.Header.Subject()
	s.messageID, _ = r.Header.MessageID()
	marker := r.Header.Get(notify.MarkerHeader)
	for part := range strings.SplitSeq(marker, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "ref":
			s.ref = v
		case "kind":
			s.kind = vocab.Kind(v)
		}
	}
	return s
}

// findMail finds the message sent to addr of kind ("" for any kind).
func findMail(ms []sentMail, addr string, kind vocab.Kind) (sentMail, bool) {
	for _, m := range ms {
		if m.to == addr && (kind == "" || m.kind == kind) {
			return m, true
		}
	}
	return sentMail{}, false
}

// threadHeaders are the headers the demo rewrites so a fixture reply
// answers the instructions actually sent in this run.
var threadHeaders = regexp.MustCompile(`(?im)^(Subject|Thread-Topic|Message-ID|In-Reply-To|References|Date):[^\r\n]*(\r?\n[ \t][^\r\n]*)*\r?\n`)

// amendReply takes the fixture reply with a filled PDF and threads it onto
// the instructions: In-Reply-To and References name our Message-ID, the
// subject is "RE: " ours, and it gets its own Message-ID and date.
func amendReply(instr sentMail) ([]byte, error) {
	raw, err := fixtures.Demo.ReadFile("mail/reply-outlook-pdf.eml")
	if err != nil {
		return nil, fmt.Errorf("read embedded fixture: %w", err)
	}
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, errors.New("demo: the fixture reply has no header end")
	}
	head := threadHeaders.ReplaceAll(raw[:end+2], nil)
	var b bytes.Buffer
	b.WriteString(resident.Mail{Subject: "RE: " + instr.subject, InReplyTo: instr.messageID, References: []string{instr.messageID}}.ThreadHeader())
	b.Write(head)
	b.Write(raw[end+2:])
	return b.Bytes(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails since Go 1.24 (it aborts the program instead)
	return hex.EncodeToString(b)
}
