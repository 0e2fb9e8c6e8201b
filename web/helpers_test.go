package web_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/internal/pgtest"
	"github.com/ncl-icb/optout-intake/metrics"
	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
	"github.com/ncl-icb/optout-intake/web"
)

const (
	testDataKey  = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	testIndexKey = "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8="
	testPassword = "correct horse battery staple"
	residentAddr = "resident@example.org"
)

// validNHS are NHS numbers with valid check digits (made up, not real people).
var validNHS = []string{"9434765919", "9434765870", "4010232137", "9876543210"}

// env is a web handler on its own schema with three accounts.
type env struct {
	t                      testing.TB
	st                     *store.Store
	srv                    *httptest.Server
	reg                    *prometheus.Registry
	now                    time.Time
	ready                  atomic.Value // error or nil, returned by Deps.Ready
	viewer, triager, admin store.Staff
}

// newEnv starts the page; tune, when given, changes its Deps first.
func newEnv(t testing.TB, tune ...func(*web.Deps)) *env {
	t.Helper()
	pool, schema := pgtest.Schema(t, 6)
	ctx := context.Background()
	if err := store.Migrate(ctx, pool, schema); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	keys, err := store.ParseKeys(testDataKey, testIndexKey)
	if err != nil {
		t.Fatalf("ParseKeys: %v", err)
	}
	e := &env{t: t, st: store.New(pool, store.Options{Schema: schema, Keys: keys}), reg: prometheus.NewRegistry(), now: time.Now()}
	m, err := metrics.New(e.reg)
	if err != nil {
		t.Fatalf("metrics.New: %v", err)
	}
	if err := m.CollectFrom(e.st, time.Second, nil); err != nil {
		t.Fatalf("CollectFrom: %v", err)
	}
	comp, err := notify.NewComposer(notify.ComposerConfig{Address: "joined-up.care-record@nhs.net", Signer: notify.Signer{Key: bytes.Repeat([]byte("k3y!"), 8)}})
	if err != nil {
		t.Fatalf("NewComposer: %v", err)
	}
	d := web.Deps{Store: e.st, Composer: comp, Metrics: m, Logger: slog.New(slog.DiscardHandler),
		Ready: func(context.Context) error {
			if err, _ := e.ready.Load().(error); err != nil {
				return err
			}
			return nil
		}}
	for _, f := range tune {
		f(&d)
	}
	h, err := web.New(d)
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	hash, err := web.HashPassword(testPassword)
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	for _, a := range []struct {
		to   *store.Staff
		role store.Role
	}{{&e.viewer, store.RoleViewer}, {&e.triager, store.RoleTriager}, {&e.admin, store.RoleAdmin}} {
		if *a.to, err = e.st.CreateStaff(ctx, string(a.role)+"@nhs.net", hash, a.role, store.System); err != nil {
			t.Fatalf("CreateStaff: %v", err)
		}
	}
	return e
}

var uid atomic.Uint32

// item is what seed puts in the queue.
type item struct {
	Fields      form.Fields
	Body        string
	Reason      vocab.Reason
	Attachments []*store.NewAttachment
	NoForm      bool
}

// goodFields returns a form that passes every check.
func goodFields(nhs string) form.Fields {
	return form.Fields{FirstName: "Ada", LastName: "Lovelace", DateOfBirth: "1980-01-31", NHSNumber: nhs,
		GPPractice: "Islington Central Medical Centre", PostalAddress: "1 Example Street, London", Postcode: "N1 9GU",
		Declaration: true, FullName: "Ada Lovelace", Signature: "A Lovelace", Email: residentAddr}
}

// seed records one message with its conversation and raises a triage item;
// it returns the item's id and the conversation's reference.
func (e *env) seed(it item) (int64, string) {
	e.t.Helper()
	ctx := context.Background()
	n := uid.Add(1)
	body := it.Body
	if body == "" {
		body = "Please find my form attached."
	}
	raw := fmt.Sprintf("From: Resident <%s>\r\nTo: joined-up.care-record@nhs.net\r\nSubject: Re: [secure] opt-out\r\nMessage-ID: <m%d-%d@example.org>\r\nDate: Mon, 4 May 2026 09:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
		residentAddr, n, time.Now().UnixNano(), body)
	led, _, err := e.st.RecordMessage(ctx, store.IncomingMessage{Mailbox: "INBOX", UIDValidity: 1, UID: n,
		MessageID: fmt.Sprintf("m%d-%d@example.org", n, time.Now().UnixNano()), ReceivedAt: time.Now(), Size: int64(len(raw)), Raw: []byte(raw)})
	if err != nil {
		e.t.Fatalf("RecordMessage: %v", err)
	}
	ref, err := store.NewReference()
	if err != nil {
		e.t.Fatal(err)
	}
	reason := it.Reason
	if reason == "" {
		reason = vocab.ReasonInvalidForm
	}
	o := &store.Plan{LedgerID: led.ID, Kind: "form", Action: "triage:forms",
		NewConversation: &store.NewConversation{Address: residentAddr, Reference: ref}, Attachments: it.Attachments}
	if it.NoForm {
		o.Triage = []*store.NewTriage{{Reason: reason}}
	} else {
		f := form.Form{Source: "body", Format: form.FormatText, Fields: it.Fields}
		if len(it.Attachments) > 0 {
			f.Source = it.Attachments[0].Name
		}
		form.Finish(&f, time.Now())
		sub := &store.NewSubmission{Form: f, Status: vocab.StatusTriage}
		if len(it.Attachments) > 0 {
			sub.Attachment = it.Attachments[0]
		}
		o.Submissions = []*store.NewSubmission{sub}
		o.Triage = []*store.NewTriage{{Reason: reason, Submission: sub}}
	}
	res, err := e.st.CompleteMessage(ctx, o)
	if err != nil {
		e.t.Fatalf("CompleteMessage: %v", err)
	}
	if len(res.Triage) != 1 {
		e.t.Fatalf("CompleteMessage raised %d triage items, want 1", len(res.Triage))
	}
	return res.Triage[0], ref
}

// client is a browser-like client with its own cookies that does not
// follow redirects.
type client struct {
	e    *env
	http *http.Client
	csrf string
}

func (e *env) anon() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, http: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn returns a client signed in as st.
func (e *env) signIn(st store.Staff) *client {
	e.t.Helper()
	c := e.anon()
	resp, body := c.get("/signin")
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /signin = %d", resp.StatusCode)
	}
	resp, _ = c.postRaw("/signin", url.Values{"csrf": {csrfOf(e.t, body)}, "email": {st.Email}, "password": {testPassword}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/queue" {
		e.t.Fatalf("sign in as %s = %d %q, want 303 to /queue", st.Role, resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body = c.get("/queue")
	c.csrf = csrfOf(e.t, body)
	return c
}

func csrfOf(t testing.TB, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf token in page:\n%.2000s", body)
	}
	return html.UnescapeString(m[1])
}

func (c *client) get(path string) (*http.Response, string) {
	c.e.t.Helper()
	resp, err := c.http.Get(c.e.srv.URL + path)
	if err != nil {
		c.e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// post posts a form with the client's CSRF token.
func (c *client) post(path string, v url.Values) (*http.Response, string) {
	c.e.t.Helper()
	if v == nil {
		v = url.Values{}
	}
	if _, ok := v["csrf"]; !ok {
		v.Set("csrf", c.csrf)
	}
	return c.postRaw(path, v)
}

func (c *client) postRaw(path string, v url.Values) (*http.Response, string) {
	c.e.t.Helper()
	resp, err := c.http.Post(c.e.srv.URL+path, "application/x-www-form-urlencoded", strings.NewReader(v.Encode()))
	if err != nil {
		c.e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// formValues turns fields into the correction form's values.
func formValues(f form.Fields) url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("gender", f.Gender)
	set("first_name", f.FirstName)
	set("last_name", f.LastName)
	set("date_of_birth", f.DateOfBirth)
	set("nhs_number", f.NHSNumber)
	set("gp_practice", f.GPPractice)
	set("email", f.Email)
	set("postal_address", f.PostalAddress)
	set("postcode", f.Postcode)
	set("relationship", f.Relationship)
	set("authority", f.Authority)
	set("full_name", f.FullName)
	set("signature", f.Signature)
	if f.OnBehalf {
		v.Set("on_behalf", "yes")
	}
	if f.Declaration {
		v.Set("declaration", "yes")
	}
	return v
}

func mustRE(s string) *regexp.Regexp { return regexp.MustCompile(s) }

// browserSteps are the browser tests' short-hands over a chromedp context:
// each fails the test with what it was doing.
type browserSteps struct {
	t testing.TB
	b context.Context
}

func steps(t testing.TB, b context.Context) browserSteps { return browserSteps{t, b} }

// do runs steps, failing the test with what on error.
func (s browserSteps) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	if err := chromedp.Do(s.b, steps...); err != nil {
		s.t.Fatalf("%s: %v", what, err)
	}
}

// eval returns the string a script evaluates to.
func (s browserSteps) eval(js string) string {
	s.t.Helper()
	v, err := chromedp.Run(s.b, chromedp.Evaluate[string](js))
	if err != nil {
		s.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// text returns the text of the element sel selects.
func (s browserSteps) text(sel string) string {
	s.t.Helper()
	v, err := chromedp.Run(s.b, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		s.t.Fatalf("read %s: %v", sel, err)
	}
	return v
}
