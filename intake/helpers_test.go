package intake

import (
	"bytes"
	"context"
	"log/slog"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/internal/dovecot"
	"github.com/ncl-icb/optout-intake/internal/pgtest"
	"github.com/ncl-icb/optout-intake/internal/resident"
	"github.com/ncl-icb/optout-intake/internal/smtptest"
	"github.com/ncl-icb/optout-intake/mailbox"
	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

const (
	ourAddress   = "optout.team@nhs.example"
	residentAddr = "resident@example.org"
	otherAddr    = "someone.else@example.net"
	imapUser     = "optout"
	imapPass     = "secret-pw"
	testDataKey  = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	testIndexKey = "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8="
	filledNHS    = "9434765919" // the NHS number in fixtures/forms/fillable-filled.pdf
)

var signKey = []byte("0123456789abcdef0123456789abcdef")

// rig is a whole pipeline on real parts: a private Dovecot, a PostgreSQL
// schema of its own and an SMTP sink.
type rig struct {
	t    testing.TB
	dv   *dovecot.Server
	st   *store.Store
	sink *smtptest.Server
	mcfg mailbox.Config
	comp *notify.Composer
	log  *slog.Logger
	// senders is how many SMTP connections (outbox workers) a service
	// gets; 0 means 1.
	senders int
	// metrics, when set, receives the services' events.
	metrics Metrics
	// sentFolder, when set, makes a service copy each reply sent to this
	// folder, over an IMAP session of its own (as the daemon does).
	sentFolder string
}

func newRig(t testing.TB) *rig {
	t.Helper()
	dv := dovecot.Start(t)
	if err := dv.AddUser(imapUser, imapPass); err != nil {
		t.Fatal(err)
	}
	// Poller workers + SMTP workers (the benchmark's 4) + the mailbox lock + 1.
	pool, schema := pgtest.Schema(t, int32(DefaultWorkers+4+2))
	ctx := context.Background()
	if err := store.Migrate(ctx, pool, schema); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	keys, err := store.ParseKeys(testDataKey, testIndexKey)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(pool, store.Options{Schema: schema, Keys: keys, RetryBase: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond})
	sink := smtptest.Start(t)
	comp, err := notify.NewComposer(notify.ComposerConfig{Address: ourAddress, Signer: notify.Signer{Key: signKey}})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() && os.Getenv("INTAKE_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// Seed the inbox so it exists with a UIDVALIDITY, then empty it below.
	return &rig{t: t, dv: dv, st: st, sink: sink, comp: comp, log: log, mcfg: mailbox.Config{
		Addr: dv.Addr, TLS: mailbox.TLSNone, User: imapUser, Password: imapPass,
		DialTimeout: 10 * time.Second, CommandTimeout: 30 * time.Second,
	}}
}

// service builds a Service over the rig's parts with its own IMAP session
// (a second call is a second daemon).
func (r *rig) service(mod func(*Config)) *Service {
	r.t.Helper()
	var mailers []notify.Mailer
	for range max(r.senders, 1) {
		sender, err := notify.NewSender(notify.SenderConfig{Addr: r.sink.Addr(), TLS: notify.TLSNone, Timeout: 10 * time.Second}, r.log)
		if err != nil {
			r.t.Fatal(err)
		}
		r.t.Cleanup(func() { sender.Close() })
		mailers = append(mailers, sender)
	}
	sess := mailbox.NewSession(r.mcfg, r.log)
	sess.MinBackoff, sess.MaxBackoff = 50*time.Millisecond, 500*time.Millisecond
	r.t.Cleanup(func() { sess.Close() })
	cfg := Config{
		Processor: ProcessorConfig{ExtractTimeout: 30 * time.Second},
		Poller:    PollerConfig{Mailbox: r.mcfg},
		// The first retry of a send comes 150 to 300 ms later (the time the
		// worker computes is the time stored): not in the same outbox pass,
		// even under the race detector on a busy machine.
		Worker:   notify.WorkerConfig{BaseBackoff: 300 * time.Millisecond, MaxBackoff: 600 * time.Millisecond},
		IdleWait: -1,
	}
	if mod != nil {
		mod(&cfg)
	}
	deps := Deps{
		Store: r.st, Session: sess, Extractor: extract.New(extract.Limits{}, nil), Composer: r.comp,
		Signer: notify.Signer{Key: signKey}, Mailers: mailers, Logger: r.log, Metrics: r.metrics,
	}
	if r.sentFolder != "" {
		own := mailbox.NewSession(r.mcfg, r.log)
		r.t.Cleanup(func() { own.Close() })
		deps.SentCopier = mailbox.SentFolder{Session: own, Folder: r.sentFolder}
	}
	svc, err := New(deps, cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	return svc
}

// deliver appends raw messages to the inbox.
func (r *rig) deliver(raws ...[]byte) []imap.UID {
	r.t.Helper()
	c, err := r.dv.Login(imapUser)
	if err != nil {
		r.t.Fatal(err)
	}
	defer c.Close()
	uids, err := dovecot.AppendAll(c, "INBOX", raws)
	if err != nil {
		r.t.Fatal(err)
	}
	return uids
}

// count returns how many messages a folder holds, not counting ones flagged
// \Deleted (0 for a folder that does not exist yet).
func (r *rig) count(folder string) int {
	r.t.Helper()
	total, deleted, err := r.dv.Count(imapUser, folder)
	if err != nil {
		if strings.Contains(err.Error(), "exist") {
			return 0
		}
		r.t.Fatalf("count %s: %v", folder, err)
	}
	return total - deleted
}

// sent returns the messages the sink accepted, parsed.
func (r *rig) sent() []sentMail {
	var out []sentMail
	for _, m := range r.sink.Messages() {
		msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
		if err != nil {
			r.t.Fatalf("sink holds an unreadable message: %v", err)
		}
		out = append(out, sentMail{to: m.To, header: msg.Header, raw: m.Raw})
	}
	return out
}

type sentMail struct {
	to     []string
	header mail.Header
	raw    []byte
}

// kind is the reply kind in our marker header.
func (m sentMail) kind() string {
	v := m.header.Get(notify.MarkerHeader)
	_, k, _ := strings.Cut(v, "kind=")
	return strings.TrimSpace(k)
}

func (m sentMail) ref() string {
	v := m.header.Get(notify.MarkerHeader)
	_, rest, _ := strings.Cut(v, "ref=")
	ref, _, _ := strings.Cut(rest, ";")
	return strings.TrimSpace(ref)
}

func (m sentMail) messageID() string {
	return strings.Trim(m.header.Get("Message-Id"), "<> ")
}

// kinds counts the sent replies by kind.
func kinds(ms []sentMail) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		out[m.kind()]++
	}
	return out
}

// ledgerRows counts the ledger's rows.
func (r *rig) ledgerRows() int {
	r.t.Helper()
	var n int
	if err := r.st.Pool().QueryRow(context.Background(), `select count(*) from ledger`).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// registerChanges counts the register's history rows.
func (r *rig) registerChanges() int {
	r.t.Helper()
	var n int
	if err := r.st.Pool().QueryRow(context.Background(), `select count(*) from register_history`).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// openTriage returns the reasons of the open triage items.
func (r *rig) openTriage() []vocab.Reason {
	r.t.Helper()
	items, err := r.st.ListTriage(context.Background(), store.TriageFilter{Limit: 1000})
	if err != nil {
		r.t.Fatal(err)
	}
	var out []vocab.Reason
	for _, it := range items {
		out = append(out, it.Reason)
	}
	return out
}

// once runs one poll and outbox pass and fails the test on error.
func once(t testing.TB, svc *Service) PollResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := svc.Once(ctx)
	if err != nil {
		t.Fatalf("Once: %v", err)
	}
	return res
}

// email is a resident's message under construction (see internal/resident).
type email struct {
	from, subject, body string
	messageID           string
	inReplyTo           string
	references          []string
	extra               []string // extra header lines
	attName             string
	att                 []byte
}

func (e email) bytes() []byte {
	m := resident.Mail{
		From: e.from, To: ourAddress, Subject: e.subject, Body: e.body, MessageID: e.messageID,
		InReplyTo: e.inReplyTo, References: e.references, Extra: e.extra,
	}
	if e.att != nil {
		m.Attachment = &resident.Attachment{Name: e.attName, Data: e.att}
	}
	return m.Bytes()
}

func contact(from string) email {
	return email{from: from, subject: "Opting out of the care record", body: "Hello,\nI would like to opt out please.\nThanks"}
}

// replyTo is the resident's reply inside the thread of one of our messages.
func replyTo(to sentMail, from string, att string) email {
	e := email{from: from, subject: "RE: " + to.header.Get("Subject"), body: "Please find my form attached.",
		inReplyTo: to.messageID(), references: []string{to.messageID()}}
	if att != "" {
		e.attName = filepath.Base(att)
		e.att = fixture(att)
	}
	return e
}

func fixture(name string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "fixtures", "forms", name))
	if err != nil {
		panic("read fixture: " + err.Error())
	}
	return b
}

// attachments counts the attachments kept apart for the triage page.
func (r *rig) attachments() int {
	r.t.Helper()
	var n int
	if err := r.st.Pool().QueryRow(context.Background(), `select count(*) from attachments`).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// newConversation opens a conversation with addr as the pipeline does (a
// first contact's plan, committed on a ledger row of a setup mailbox) and
// returns its reference.
func (r *rig) newConversation(tb testing.TB, uid uint32, addr string) string {
	tb.Helper()
	ctx := context.Background()
	e, _, err := r.st.RecordMessage(ctx, store.IncomingMessage{Mailbox: "setup", UIDValidity: 1, UID: uid + 1, ReceivedAt: time.Now()})
	if err != nil {
		tb.Fatal(err)
	}
	res, err := r.st.CompleteMessage(ctx, &store.Plan{LedgerID: e.ID, Folder: vocab.FolderProcessed, Action: vocab.ActionInstructions,
		NewConversation: &store.NewConversation{Address: addr}, ConversationState: vocab.StateInstructionsSent})
	if err != nil {
		tb.Fatal(err)
	}
	return res.Reference
}
