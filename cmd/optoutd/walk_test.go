package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ncl-icb/optout-intake/internal/browser"
	"github.com/ncl-icb/optout-intake/internal/resident"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
	"github.com/ncl-icb/optout-intake/web"
)

// The walk tests (issue 9) work each triage reason's page the way a member
// of staff does: the real `optoutd run` binary reads real mail from a
// private Dovecot, raises the item, serves the page; Chromium opens it, takes
// an action; the test checks the email that reaches the SMTP sink and the
// audit row the action left. Nothing is seeded into the database.

// walkPassword is the password of the walk's staff accounts.
const walkPassword = "walk-password-long-enough"

// walk is one running daemon with a signed-in browser.
type walk struct {
	t     *testing.T
	rig   *daemonRig
	st    *store.Store // the daemon's schema, for reading what it did
	base  string       // http://host:port of the triage page
	b     context.Context
	staff store.Staff // the signed-in triager
	logs  *bytes.Buffer
	// stopDaemon stops the running daemon (SIGTERM, a clean exit); a test
	// may change w.rig.env and startDaemon again, as an operator restarts
	// the service with new settings.
	stopDaemon func()
}

// startWalk starts `optoutd run` on a fresh rig (env changed by tune),
// creates a triager and signs them in in Chromium.
func startWalk(t *testing.T, tune func(env map[string]string)) *walk {
	t.Helper()
	r := newDaemonRig(t)
	if tune != nil {
		tune(r.env)
	}
	ctx := context.Background()
	keys, err := store.ParseKeys(r.env["OPTOUT_DATA_KEY"], r.env["OPTOUT_INDEX_KEY"])
	if err != nil {
		t.Fatal(err)
	}
	// The daemon migrates on start; open without migrating after it is up.
	w := &walk{t: t, rig: r, base: "http://" + r.http, logs: &bytes.Buffer{}}
	w.startDaemon()
	waitFor(t, 30*time.Second, func() bool { return httpStatus(w.base+"/healthz") == 200 })
	w.st, err = store.Open(ctx, store.Options{DatabaseURL: r.env["DATABASE_URL"], Schema: r.env["OPTOUT_DB_SCHEMA"], Keys: keys, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.st.Close)
	hash, err := web.HashPassword(walkPassword)
	if err != nil {
		t.Fatal(err)
	}
	w.staff, err = w.st.CreateStaff(ctx, "walker@nhs.net", hash, store.RoleTriager, store.System)
	if err != nil {
		t.Fatal(err)
	}
	w.b = browser.New(t, browser.Options{Timeout: 150 * time.Second})
	w.do("sign in",
		chromedp.Navigate(w.base+"/signin"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), w.staff.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), walkPassword),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		// The queue's search box: the sign-in page's own h1 would match
		// before the browser leaves it.
		chromedp.WaitVisible(chromedp.CSS("#q")),
	)
	if h := w.text("h1"); h != "Triage queue" {
		t.Fatalf("after sign-in the page is %q, want the queue", h)
	}
	return w
}

// startDaemon runs `optoutd run` until the test ends or stopDaemon (SIGTERM,
// then a clean exit is expected).
func (w *walk) startDaemon() {
	t := w.t
	cmd := exec.Command(optoutdBin, "run")
	cmd.Env = baseEnv(w.rig.env)
	cmd.Stdout, cmd.Stderr = w.logs, w.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	w.stopDaemon = func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("optoutd run after SIGTERM: %v", err)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Error("optoutd run did not stop within 30 s of SIGTERM")
		}
	}
	t.Cleanup(func() {
		w.stopDaemon()
		if t.Failed() {
			t.Logf("optoutd run output:\n%s", w.logs.String())
		}
	})
}

// deliver puts raw mail in the daemon's INBOX, as a mail server does.
func (w *walk) deliver(raw []byte) {
	w.t.Helper()
	if _, err := w.rig.dv.Append(rigUser, "INBOX", raw); err != nil {
		w.t.Fatalf("deliver: %v", err)
	}
}

// waitSent waits for a message to addr of kind ("" any) beyond the first
// skip such messages, and returns it.
func (w *walk) waitSent(addr string, kind vocab.Kind, skip int) sentMail {
	w.t.Helper()
	var found sentMail
	w.wait(fmt.Sprintf("email %d of kind %q to %s", skip+1, kind, addr), func() bool {
		n := 0
		for _, m := range w.rig.sink.Messages() {
			s := parseSent(m)
			if s.to == strings.ToLower(addr) && (kind == "" || s.kind == kind) {
				if n == skip {
					found = s
					return true
				}
				n++
			}
		}
		return false
	})
	return found
}

// sentTo counts the messages to addr of kind ("" any) the sink holds.
func (w *walk) sentTo(addr string, kind vocab.Kind) int {
	n := 0
	for _, m := range w.rig.sink.Messages() {
		s := parseSent(m)
		if s.to == strings.ToLower(addr) && (kind == "" || s.kind == kind) {
			n++
		}
	}
	return n
}

// firstContact sends a first contact from addr and returns the
// instructions it got back.
func (w *walk) firstContact(addr string) sentMail {
	w.t.Helper()
	w.deliver(resident.Mail{From: addr, To: rigAddress, Subject: "Opting out", Body: "Hello, I would like to opt out. What do I need to do?"}.Bytes())
	return w.waitSent(addr, vocab.KindInstructions, 0)
}

// replyTo is the resident's reply in the thread of our message to (from
// the address it went to), with att attached when not nil.
func replyTo(to sentMail, body string, att *resident.Attachment) resident.Mail {
	return resident.Mail{
		From: to.to, To: rigAddress, Subject: "RE: " + to.subject, Body: body,
		InReplyTo: strings.Trim(to.messageID, "<>"), References: []string{strings.Trim(to.messageID, "<>")},
		Attachment: att,
	}
}

// waitItem waits for an open triage item of reason, skipping the first skip
// such items, and returns it.
func (w *walk) waitItem(reason vocab.Reason, skip int) store.TriageItem {
	w.t.Helper()
	var it store.TriageItem
	w.wait("an open item of reason "+string(reason), func() bool {
		items, err := w.st.ListTriage(context.Background(), store.TriageFilter{Reason: reason, Limit: skip + 1})
		if err != nil || len(items) <= skip {
			return false
		}
		it = items[skip]
		return true
	})
	return it
}

// waitAudit waits for an audit row of action by the walk's staff member on
// the triage item id (0: any object) and returns it.
func (w *walk) waitAudit(action string, objectID int64) store.AuditEntry {
	w.t.Helper()
	var e store.AuditEntry
	actor := store.Actor(w.staff.ID)
	w.wait("an audit row "+action, func() bool {
		rows, err := w.st.ListAudit(context.Background(), store.AuditFilter{Action: action, Actor: &actor})
		if err != nil {
			return false
		}
		for _, r := range rows {
			if objectID == 0 || r.ObjectID == objectID {
				e = r
				return true
			}
		}
		return false
	})
	return e
}

// closed waits until the item is closed and returns it.
func (w *walk) closed(id int64) store.TriageItem {
	w.t.Helper()
	var it store.TriageItem
	w.wait(fmt.Sprintf("item %d closed", id), func() bool {
		items, err := w.st.ListTriage(context.Background(), store.TriageFilter{State: "closed", Limit: 1000})
		if err != nil {
			return false
		}
		for _, i := range items {
			if i.ID == id {
				it = i
				return true
			}
		}
		return false
	})
	return it
}

// wait polls ok for up to 60 s (the daemon polls every second).
func (w *walk) wait(what string, ok func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			w.t.Fatalf("waited 60 s for %s", what)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// waitJS waits until the JavaScript predicate js is true on the page,
// across the navigation a form's submit starts (an error while the next
// page loads counts as not yet).
func (w *walk) waitJS(what, js string) {
	w.t.Helper()
	w.wait(what, func() bool {
		ok, err := chromedp.Run(w.b, chromedp.Evaluate[bool](js))
		return err == nil && ok
	})
}

// open opens the item's page in the browser and checks it is the right one.
func (w *walk) open(id int64) {
	w.t.Helper()
	w.do(fmt.Sprintf("open item %d", id),
		chromedp.Navigate(fmt.Sprintf("%s/items/%d", w.base, id)),
		chromedp.WaitVisible(chromedp.CSS("h1")),
	)
	if h := w.text("h1"); !strings.Contains(h, fmt.Sprintf("Item %d", id)) {
		w.t.Fatalf("the page of item %d is headed %q", id, h)
	}
}

// do runs browser steps, failing the test with what on error.
func (w *walk) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	w.t.Helper()
	if err := chromedp.Do(w.b, steps...); err != nil {
		w.t.Fatalf("%s: %v", what, err)
	}
}

// text returns the text of the element sel selects.
func (w *walk) text(sel string) string {
	w.t.Helper()
	v, err := chromedp.Run(w.b, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		w.t.Fatalf("read %s: %v", sel, err)
	}
	return v
}

// has reports whether sel selects anything on the page now.
func (w *walk) has(sel string) bool {
	w.t.Helper()
	v, err := chromedp.Run(w.b, chromedp.Evaluate[bool](fmt.Sprintf("document.querySelector(%q) !== null", sel)))
	if err != nil {
		w.t.Fatalf("query %s: %v", sel, err)
	}
	return v
}

// axe runs axe-core on the page and fails the test on any violation.
func (w *walk) axe(name string) {
	w.t.Helper()
	src, err := os.ReadFile("../../web/testdata/axe/axe.min.js")
	if err != nil {
		w.t.Fatalf("read axe-core: %v", err)
	}
	if _, err := chromedp.Run(w.b, chromedp.Evaluate[chromedp.Void](string(src))); err != nil {
		w.t.Fatalf("%s: inject axe-core: %v", name, err)
	}
	type violation struct {
		ID     string   `json:"id"`
		Impact string   `json:"impact"`
		Nodes  []string `json:"nodes"`
	}
	vs, err := chromedp.Run(w.b, chromedp.Evaluate[[]violation](`axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({
		id: v.id, impact: v.impact || '', nodes: v.nodes.map(n => n.target.join(' '))})))`, chromedp.EvalAwaitPromise))
	if err != nil {
		w.t.Fatalf("%s: run axe-core: %v", name, err)
	}
	for _, v := range vs {
		w.t.Errorf("%s: axe %s (%s) on %s", name, v.ID, v.Impact, strings.Join(v.Nodes, ", "))
	}
}

// screenshot keeps a picture of the page in the test output directory.
func (w *walk) screenshot(name string) {
	browser.Screenshot(w.t, w.b, browser.OutputDir(w.t), name)
}

// TestWalkInvalidForm: a form with a wrong NHS number, replied in the
// secure thread, is raised by the daemon; staff correct it and accept; the
// resident gets the "recorded" email and the accept is audited.
func TestWalkInvalidForm(t *testing.T) {
	t.Parallel()
	w := startWalk(t, nil)
	const addr = "ada@example.org"
	instr := w.firstContact(addr)
	bad := walkForm("Ada", "Lovelace", "943 476 5918") // fails Modulus 11
	w.deliver(replyTo(instr, "Please find my form attached.", bad).Bytes())
	it := w.waitItem(vocab.ReasonInvalidForm, 0)
	w.waitSent(addr, vocab.KindReceipt, 0)

	w.open(it.ID)
	w.axe("invalid form")
	w.screenshot("walk-invalid-form")
	if s := w.text(".error-summary"); !strings.Contains(s, "NHS number") {
		t.Errorf("error summary = %q, want the NHS number problem", s)
	}
	if !w.has("#reject") || w.has("#bounce-resend") {
		t.Error("an invalid form's page must offer Reject and no bounce actions")
	}
	w.do("correct the NHS number and accept",
		chromedp.Clear(chromedp.CSS("#f-nhs_number")),
		chromedp.SendKeys(chromedp.CSS("#f-nhs_number"), "943 476 5919"),
		chromedp.Click(chromedp.CSS("#accept")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	got := w.waitSent(addr, vocab.KindAccepted, 0)
	if got.ref != it.Reference {
		t.Errorf("the recorded email carries reference %q, want the item's %q", got.ref, it.Reference)
	}
	if n := w.sentTo(addr, ""); n != 3 {
		t.Errorf("the resident got %d emails, want 3 (instructions, receipt, recorded)", n)
	}
	a := w.waitAudit("triage.accepted", it.ID)
	if a.Reference != it.Reference {
		t.Errorf("audit row of the accept = %+v, want reference %s", a, it.Reference)
	}
	if c := w.closed(it.ID); c.Outcome != "accepted" || c.ClosedBy != w.staff.ID {
		t.Errorf("closed item = %+v, want accepted by staff %d", c, w.staff.ID)
	}
}

// walkForm is a text form a resident might attach, for the walk tests.
func walkForm(first, last, nhs string) *resident.Attachment {
	body := fmt.Sprintf("First name: %s\nLast name: %s\nDate of birth: 14/03/1978\nNHS number: %s\n"+
		"GP practice: Example Road Surgery\nAddress: 1 Example Road, London\nPostcode: N1 9GU\n"+
		"Email: %s@example.org\nOn behalf of someone else: No\nDeclaration: Yes\nSigned: %s %s\nDate: 01/12/2026\n",
		first, last, nhs, strings.ToLower(first), first, last)
	return &resident.Attachment{Name: "optout-form.txt", ContentType: "text/plain", Data: []byte(body)}
}
