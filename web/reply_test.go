package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/intake"
	"github.com/ncl-icb/optout-intake/internal/browser"
	"github.com/ncl-icb/optout-intake/internal/smtpsink"
	"github.com/ncl-icb/optout-intake/mailbox"
	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// mailRig is the daemon's two mail paths beside a web env: the outbox
// worker sending to an SMTP sink over TCP, and the intake processor that
// reads a resident's answer, both with the page's signing key.
type mailRig struct {
	t      *testing.T
	e      *env
	sink   *smtpsink.Server
	worker *notify.Worker
	proc   *intake.Processor
}

func newMailRig(t *testing.T, e *env, tune ...func(*intake.ProcessorConfig)) *mailRig {
	t.Helper()
	sink, err := smtpsink.Start(smtpsink.Config{})
	if err != nil {
		t.Fatalf("start the SMTP sink: %v", err)
	}
	t.Cleanup(func() { sink.Close() })
	sender, err := notify.NewSender(notify.SenderConfig{Addr: sink.Addr(), TLS: notify.TLSNone}, nil)
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	signer := notify.Signer{Key: bytes.Repeat([]byte("k3y!"), 8)} // the env's key
	comp, err := notify.NewComposer(notify.ComposerConfig{Address: "joined-up.care-record@nhs.net", Signer: signer})
	if err != nil {
		t.Fatalf("NewComposer: %v", err)
	}
	ob := &intake.Outbox{Store: e.st, From: comp.Address(), Metrics: intake.NopMetrics{}}
	var pcfg intake.ProcessorConfig
	for _, f := range tune {
		f(&pcfg)
	}
	proc, err := intake.NewProcessor(e.st, extract.New(extract.Limits{}, nil), comp, signer, pcfg,
		slog.New(slog.DiscardHandler), intake.NopMetrics{}, time.Now)
	if err != nil {
		t.Fatalf("NewProcessor: %v", err)
	}
	return &mailRig{t: t, e: e, sink: sink, worker: notify.NewWorker(ob, sender, notify.WorkerConfig{}, nil), proc: proc}
}

// send runs one outbox pass and returns the messages the sink holds.
func (r *mailRig) send(want int) []smtpsink.Message {
	r.t.Helper()
	if _, err := r.worker.RunOnce(context.Background()); err != nil {
		r.t.Fatalf("outbox pass: %v", err)
	}
	msgs, err := r.sink.WaitFor(want, 10*time.Second)
	if err != nil {
		r.t.Fatalf("the sink holds %d messages, want %d: %v", len(msgs), want, err)
	}
	return msgs
}

// receive processes one message from the resident as the daemon would.
func (r *mailRig) receive(raw string) intake.Outcome {
	r.t.Helper()
	n := uid.Add(1)
	b := []byte(strings.ReplaceAll(raw, "\n", "\r\n"))
	m, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		r.t.Fatal(err)
	}
	irt := strings.Trim(m.Header.Get("In-Reply-To"), "<>")
	from, err := mail.ParseAddress(m.Header.Get("From"))
	if err != nil {
		r.t.Fatal(err)
	}
	var refs []string
	if irt != "" {
		refs = []string{irt}
	}
	h := store.MessageHeader{From: from.Address, MessageID: strings.Trim(m.Header.Get("Message-ID"), "<>"), InReplyTo: irt,
		References: refs, Subject: m.Header.Get("Subject"), Date: time.Now()}
	out, err := r.proc.Process(context.Background(), mailbox.Msg{Mailbox: "INBOX", UIDValidity: 1, UID: mailbox.UID(n),
		Size: int64(len(b)), InternalDate: time.Now(), MessageID: h.MessageID, Raw: b}, h)
	if err != nil {
		r.t.Fatalf("process the resident's answer: %v", err)
	}
	return out
}

// audited reports whether the audit log has an entry action on object id.
func (e *env) audited(action string, id int64) bool {
	e.t.Helper()
	list, err := e.st.ListAudit(context.Background(), store.AuditFilter{Action: action, Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, a := range list {
		if a.ObjectID == id {
			return true
		}
	}
	return false
}

// TestBrowserStaffReply walks issue 14 item 3 and issue 9 item 4 in
// Chromium: a resident's question is an item; staff write back; the reply
// reaches the SMTP sink in the same secure thread; the item waits (out of
// the open queue); the resident's answer, read by the intake processor,
// reopens it with the answer shown. A bounce item shows the bounced email
// and the server's words, and sends again and to a corrected address, each
// reaching the sink and leaving an audit row. Another item is closed as
// answered by phone. axe-core checks each new page state.
func TestBrowserStaffReply(t *testing.T) {
	t.Parallel()
	axe, err := os.ReadFile("testdata/axe/axe.min.js")
	if err != nil {
		t.Fatalf("read axe-core: %v", err)
	}
	e := newEnv(t)
	rig := newMailRig(t, e)
	ctx := context.Background()
	question, ref := e.seed(item{NoForm: true, Reason: vocab.ReasonOther,
		Body: "What information is actually shared? Can the hospital see my mental health notes?"})
	phone, _ := e.seed(item{NoForm: true, Reason: vocab.ReasonOther, Body: "Please call me about my opt-out."})
	resMsgID := func() string {
		det, err := e.st.TriageItemDetail(ctx, question, store.System)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := e.st.RawMessage(ctx, det.Message.ID, store.System)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := mail.ReadMessage(bytes.NewReader(raw))
		return strings.Trim(m.Header.Get("Message-ID"), "<>")
	}()

	// An admin keeps a snippet; the triager inserts it into the reply.
	admin := e.signIn(e.admin)
	if resp, body := admin.post("/snippets", map[string][]string{"title": {"What is shared"},
		"body": {"The London Care Record shares what your care team needs."}}); resp.StatusCode != 303 {
		t.Fatalf("add a snippet = %d:\n%.2000s", resp.StatusCode, body)
	}
	if resp, _ := e.signIn(e.triager).post("/snippets", map[string][]string{"title": {"x"}, "body": {"y"}}); resp.StatusCode != 403 {
		t.Errorf("a triager adding a snippet = %d, want 403", resp.StatusCode)
	}

	b := browser.New(t, browser.Options{Timeout: 90 * time.Second})
	out := browser.OutputDir(t)
	do, text := steps(t, b).do, steps(t, b).text
	has := func(sel string) bool {
		t.Helper()
		ok, err := chromedp.Run(b, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q) !== null`, sel)))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	itemURL := func(id int64) string { return fmt.Sprintf("%s/items/%d", e.srv.URL, id) }
	do("sign in",
		chromedp.Navigate(e.srv.URL+"/queue"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), e.triager.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), testPassword),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("table.table")),
	)

	// Staff open the question and write back.
	do("open the question", chromedp.Navigate(itemURL(question)), chromedp.WaitVisible(chromedp.CSS("#reply")))
	checkAxe(t, b, string(axe), "item with the reply form")
	do("an empty reply is refused", chromedp.Click(chromedp.CSS("#send-reply")), chromedp.WaitVisible(chromedp.CSS(".error-summary")))
	checkAxe(t, b, string(axe), "item with a reply error")
	do("insert the snippet", chromedp.Click(chromedp.CSS("#insert-snippet")))
	reply := "The London Care Record shares what your care team needs."
	// The click submits the form: wait for the new page's field to hold the
	// snippet (the old page's field is visible until it loads).
	var got string
	for deadline := time.Now().Add(30 * time.Second); got != reply && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		got, _ = chromedp.Run(b, chromedp.Evaluate[string](`(document.getElementById('reply') || {value: ''}).value`))
	}
	if got != reply {
		t.Errorf("the reply after inserting the snippet = %q; want the snippet", got)
	}
	answer := reply + "\n\nThe hospital sees what is needed for your care; mental health notes are shared only with your consent."
	// Add a paragraph after the snippet (typing keys lands at the start of the field).
	if _, err := chromedp.Run(b, chromedp.Evaluate[chromedp.Void](`document.getElementById('reply').value += "\n\nThe hospital sees what is needed for your care; mental health notes are shared only with your consent."`)); err != nil {
		t.Fatal(err)
	}
	do("write back",
		chromedp.Click(chromedp.CSS("#send-reply")),
		chromedp.WaitVisible(chromedp.CSS("#waiting")),
	)
	checkAxe(t, b, string(axe), "item waiting for the resident")
	browser.Screenshot(t, b, out, "item-waiting")
	if !e.audited("triage.staff_reply", question) {
		t.Error("no triage.staff_reply audit row for the reply")
	}

	// The reply reaches the sink in the same secure thread.
	msgs := rig.send(1)
	sent, err := mail.ReadMessage(bytes.NewReader(msgs[0].Raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Trim(sent.Header.Get("In-Reply-To"), "<>"); got != resMsgID {
		t.Errorf("reply In-Reply-To = %q, want the resident's Message-ID %q", got, resMsgID)
	}
	if subj := sent.Header.Get("Subject"); !strings.HasPrefix(subj, "[secure]") || !strings.Contains(subj, ref) {
		t.Errorf("reply subject = %q, want [secure] and the reference %s", subj, ref)
	}
	if to := msgs[0].To; len(to) != 1 || to[0] != residentAddr {
		t.Errorf("reply sent to %v, want the resident", to)
	}
	if body, err := io.ReadAll(quotedprintable.NewReader(sent.Body)); err != nil ||
		!strings.Contains(strings.ReplaceAll(string(body), "\r\n", "\n"), answer) {
		t.Errorf("reply body = %q (%v), want the staff's words", body, err)
	}

	// Waiting: out of the open queue, in the "waiting" one.
	page, err := e.st.QueueTriage(ctx, store.QueueQuery{ReplyWait: store.DefaultReplyWait})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range page.Items {
		if it.ID == question {
			t.Error("the waiting item is still in the open queue")
		}
	}
	do("the waiting queue", chromedp.Navigate(e.srv.URL+"/queue?state=waiting"), chromedp.WaitVisible(chromedp.CSS("table.table")))
	if !has(fmt.Sprintf(`table.table a[href="/items/%d"]`, question)) {
		t.Error("the waiting queue does not list the item")
	}

	// The resident answers in the thread: the item reopens, no new item,
	// no automatic reply.
	before, _ := e.st.QueueTriage(ctx, store.QueueQuery{State: "all"})
	o := rig.receive(fmt.Sprintf("From: Resident <%s>\nTo: joined-up.care-record@nhs.net\nSubject: Re: %s\nMessage-ID: <answer-%d@example.org>\nIn-Reply-To: <%s>\nDate: Tue, 5 May 2026 10:00:00 +0100\nContent-Type: text/plain; charset=utf-8\n\nThank you. Could you also tell me whether my GP can see the hospital's notes?\n",
		residentAddr, sent.Header.Get("Subject"), time.Now().UnixNano(), strings.Trim(sent.Header.Get("Message-ID"), "<>")))
	if o.Action != store.LedgerAction(vocab.FolderTriage, vocab.ActionAnswer) {
		t.Errorf("the answer's outcome = %+v, want %s", o, vocab.ActionAnswer)
	}
	after, _ := e.st.QueueTriage(ctx, store.QueueQuery{State: "all"})
	if after.Total != before.Total {
		t.Errorf("the answer raised %d new items, want none (the waiting item reopens)", after.Total-before.Total)
	}
	if _, err := rig.worker.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(rig.sink.Messages()); n != 1 {
		t.Errorf("the sink holds %d messages after the answer, want 1 (the answer gets no automatic reply)", n)
	}
	do("the open queue lists it again", chromedp.Navigate(e.srv.URL+"/queue"), chromedp.WaitVisible(chromedp.CSS("table.table")))
	if !has(fmt.Sprintf(`table.table a[href="/items/%d"]`, question)) {
		t.Error("the answered item is not back in the open queue")
	}
	do("open the answered item", chromedp.Navigate(itemURL(question)), chromedp.WaitVisible(chromedp.CSS("#answer")))
	if s := text("#answer"); !strings.Contains(s, "whether my GP can see") {
		t.Errorf("the answer shown = %q, want the resident's words", s)
	}
	if has("#waiting") {
		t.Error("the answered item still says it waits")
	}
	if s := text("#staff-replies"); !strings.Contains(s, "Sent") {
		t.Errorf("staff replies = %q, want the sent reply", s)
	}
	checkAxe(t, b, string(axe), "item answered by the resident")
	browser.Screenshot(t, b, out, "item-answered")

	// Answered by phone: closes with the note, audited.
	do("answer by phone",
		chromedp.Navigate(itemURL(phone)), chromedp.WaitVisible(chromedp.CSS("#offline-note")),
		chromedp.SendKeys(chromedp.CSS("#offline-note"), "Called the resident on 5 May and explained the opt-out."),
		chromedp.Click(chromedp.CSS("#answered")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	if det, err := e.st.TriageItemDetail(ctx, phone, store.System); err != nil || det.Item.State != "closed" || det.Item.Outcome != vocab.OutcomeAnsweredOffline {
		t.Errorf("after answering by phone the item is %+v (%v), want closed as answered offline", det.Item, err)
	}
	if !e.audited("triage."+string(vocab.OutcomeAnsweredOffline), phone) {
		t.Error("no audit row for the item answered by phone")
	}

	// A bounce: the page shows the email and the server's words.
	outboxID := e.queueMail(vocab.KindRejected)
	mid := outboxRow(t, e.st, outboxID).MessageID
	if err := e.st.MarkUndeliverable(ctx, mid, "550 5.1.1 <resident@example.org>: user unknown"); err != nil {
		t.Fatal(err)
	}
	var bounce int64
	if err := e.st.Pool().QueryRow(ctx, `select id from triage where outbox_id = $1`, outboxID).Scan(&bounce); err != nil {
		t.Fatalf("the bounce raised no item: %v", err)
	}
	do("open the bounce", chromedp.Navigate(itemURL(bounce)), chromedp.WaitVisible(chromedp.CSS("#bounce")))
	if s := text("#bounce-error"); !strings.Contains(s, "550 5.1.1") {
		t.Errorf("bounce error shown = %q, want the 550 5.1.1 status", s)
	}
	if s := text("#bounce-to"); s != residentAddr {
		t.Errorf("bounced address shown = %q, want %q", s, residentAddr)
	}
	checkAxe(t, b, string(axe), "bounce item")
	browser.Screenshot(t, b, out, "item-bounce")
	resp, _ := e.signIn(e.triager).post(fmt.Sprintf("/items/%d/reject", bounce), map[string][]string{"reason": {"missing"}})
	if resp.StatusCode != 409 {
		t.Errorf("reject on a bounce item = %d, want 409 (it would mail the dead address)", resp.StatusCode)
	}
	do("send again", chromedp.Click(chromedp.CSS("#bounce-resend")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	if !e.audited("outbox.retry_now", outboxID) {
		t.Error("no audit row for send again")
	}
	msgs = rig.send(2)
	if to := msgs[1].To; len(to) != 1 || to[0] != residentAddr {
		t.Errorf("send again went to %v, want the same address", to)
	}
	// It bounces again: send to a corrected address.
	if err := e.st.MarkUndeliverable(ctx, mid, "550 5.1.1 user unknown"); err != nil {
		t.Fatal(err)
	}
	do("send to a corrected address",
		chromedp.Navigate(itemURL(bounce)), chromedp.WaitVisible(chromedp.CSS("#bounce-address")),
		chromedp.SendKeys(chromedp.CSS("#bounce-address"), "resident.corrected@example.org"),
		chromedp.Click(chromedp.CSS("#bounce-redirect")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	if !e.audited("outbox.correct_address", outboxID) {
		t.Error("no audit row for the corrected address")
	}
	msgs = rig.send(3)
	if to := msgs[2].To; len(to) != 1 || to[0] != "resident.corrected@example.org" {
		t.Errorf("the corrected email went to %v, want the corrected address", to)
	}
	if !bytes.Contains(msgs[2].Raw, []byte("To: <resident.corrected@example.org>")) {
		t.Error("the corrected email's To header is not the corrected address")
	}

	// The other reasons' blocks pass axe-core too.
	rig.receive(fmt.Sprintf("From: <carer@example.net>\nTo: joined-up.care-record@nhs.net\nSubject: Re: [secure] %s\nMessage-ID: <carer-%d@example.net>\n\nI write for my father.\n", ref, uid.Add(1)))
	var unverified int64
	if err := e.st.Pool().QueryRow(ctx, `select id from triage where reason = $1`, string(vocab.ReasonUnverifiedSender)).Scan(&unverified); err != nil {
		t.Fatal(err)
	}
	unreadable, _ := e.seed(item{NoForm: true, Reason: vocab.ReasonUnreadable})
	for _, p := range []struct {
		name string
		id   int64
		wait string
	}{{"reference from another address", unverified, "#senders"}, {"unreadable item", unreadable, "#raw"}} {
		do("open the "+p.name, chromedp.Navigate(itemURL(p.id)), chromedp.WaitVisible(chromedp.CSS(p.wait)))
		checkAxe(t, b, string(axe), p.name)
	}
}

// TestOtherSenderAndRawDownload: a reference quoted from another address
// (read by the intake processor) keeps its attachment and shows both
// addresses; "attach to the conversation" ties it to the resident's
// conversation and "treat as a new first contact" sends the instructions
// to the sender in a new conversation, each audited. An unreadable item's
// original downloads, audited.
func TestOtherSenderAndRawDownload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rig := newMailRig(t, e)
	ctx := context.Background()
	_, ref := e.seed(item{Fields: goodFields(validNHS[1])})
	conv, err := e.st.ConversationByReference(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	const other = "daughter@example.net"
	fromOther := func() int64 {
		t.Helper()
		o := rig.receive(fmt.Sprintf("From: Daughter <%s>\nTo: joined-up.care-record@nhs.net\nSubject: Re: [secure] opt-out %s\nMessage-ID: <other-%d@example.net>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nMy mother's form is attached.\n--b\nContent-Type: image/jpeg\nContent-Disposition: attachment; filename=\"form-photo.jpg\"\nContent-Transfer-Encoding: base64\n\n/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/\n--b--\n",
			other, ref, uid.Add(1)))
		if o.Action != store.LedgerAction(vocab.FolderTriage, vocab.ActionOtherSender) {
			t.Fatalf("the message from another address = %+v, want %s", o, vocab.ActionOtherSender)
		}
		var id int64
		if err := e.st.Pool().QueryRow(ctx, `select max(id) from triage where reason = $1`, string(vocab.ReasonUnverifiedSender)).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	c := e.signIn(e.triager)

	first := fromOther()
	resp, body := c.get(fmt.Sprintf("/items/%d", first))
	if resp.StatusCode != 200 {
		t.Fatalf("GET item = %d", resp.StatusCode)
	}
	for _, want := range []string{other, residentAddr, "form-photo.jpg", `id="sender-attach"`, `id="sender-new"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the item page lacks %q", want)
		}
	}
	resp, _ = c.post(fmt.Sprintf("/items/%d/sender/attach", first), nil)
	if resp.StatusCode != 303 {
		t.Fatalf("attach = %d, want 303", resp.StatusCode)
	}
	det, err := e.st.TriageItemDetail(ctx, first, store.System)
	if err != nil || det.Item.ConversationID != conv.ID || det.Item.State != "open" {
		t.Errorf("after attach the item is %+v (%v), want open in conversation %d", det.Item, err, conv.ID)
	}
	if !e.audited("triage.attach_conversation", first) {
		t.Error("no audit row for attach")
	}
	inThread := func(conv, ledgerID int64) bool {
		t.Helper()
		th, err := e.st.ConversationThread(ctx, conv, 0, store.System)
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(th.Incoming, func(m store.ThreadMessage) bool { return m.Entry.ID == ledgerID })
	}
	if !inThread(conv.ID, det.Item.LedgerID) {
		t.Errorf("after attach the message is not in the conversation's thread")
	}
	if resp, _ := c.post(fmt.Sprintf("/items/%d/sender/attach", first), nil); resp.StatusCode != 409 {
		t.Errorf("attach twice = %d, want 409", resp.StatusCode)
	}

	second := fromOther()
	resp, _ = c.post(fmt.Sprintf("/items/%d/sender/new", second), nil)
	if resp.StatusCode != 303 {
		t.Fatalf("new first contact = %d, want 303", resp.StatusCode)
	}
	msgs := rig.send(1)
	if to := msgs[0].To; len(to) != 1 || to[0] != other {
		t.Errorf("the instructions went to %v, want the sender %s", to, other)
	}
	sent, err := mail.ReadMessage(bytes.NewReader(msgs[0].Raw))
	if err != nil {
		t.Fatal(err)
	}
	subj := sent.Header.Get("Subject")
	newRef, ok := store.FindReference(subj)
	if !strings.HasPrefix(subj, "[secure]") || !ok || newRef == ref {
		t.Errorf("instructions subject = %q, want [secure] and a new reference", subj)
	}
	det, err = e.st.TriageItemDetail(ctx, second, store.System)
	if err != nil || det.Item.State != "closed" || det.Item.Outcome != vocab.OutcomeNewContact {
		t.Errorf("after new first contact the item is %+v (%v), want closed", det.Item, err)
	}
	if !e.audited("triage."+string(vocab.OutcomeNewContact), second) {
		t.Error("no audit row for new first contact")
	}
	if !inThread(det.Item.ConversationID, det.Item.LedgerID) {
		t.Errorf("the message treated as a new first contact is not in its new conversation's thread")
	}

	unreadable, _ := e.seed(item{NoForm: true, Reason: vocab.ReasonUnreadable, Body: "\x00\x01 garbled"})
	_, body = c.get(fmt.Sprintf("/items/%d", unreadable))
	if !strings.Contains(body, fmt.Sprintf(`href="/items/%d/raw"`, unreadable)) {
		t.Error("the unreadable item offers no download of the original")
	}
	resp, body = c.get(fmt.Sprintf("/items/%d/raw", unreadable))
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") || !strings.Contains(body, "garbled") {
		t.Errorf("raw download = %d %q", resp.StatusCode, resp.Header.Get("Content-Disposition"))
	}
	det, _ = e.st.TriageItemDetail(ctx, unreadable, store.System)
	if !e.audited("message.download", det.Message.ID) {
		t.Error("no audit row for the download")
	}
}

// TestRateLimitedHeldReplies: a sender past the reply limit (read by the
// intake processor) gets a rate_limited item showing the count and the
// held reply; sending it queues the instructions the pipeline would have
// sent, which reach the sink in the secure thread, and closes the item,
// audited.
func TestRateLimitedHeldReplies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rig := newMailRig(t, e, func(c *intake.ProcessorConfig) { c.ReplyLimit = 1 })
	ctx := context.Background()
	const sender = "busy@example.org"
	first := func(n int) intake.Outcome {
		return rig.receive(fmt.Sprintf("From: <%s>\nTo: joined-up.care-record@nhs.net\nSubject: opt out\nMessage-ID: <busy-%d-%d@example.org>\n\nPlease opt me out of the care record.\n",
			sender, n, uid.Add(1)))
	}
	first(1)
	o := first(2)
	if !strings.HasSuffix(o.Action, string(vocab.ActionRateLimited)) {
		t.Fatalf("the second first contact = %+v, want it rate limited", o)
	}
	var id int64
	if err := e.st.Pool().QueryRow(ctx, `select id from triage where reason = $1`, string(vocab.ReasonRateLimited)).Scan(&id); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(e.triager)
	_, body := c.get(fmt.Sprintf("/items/%d", id))
	for _, want := range []string{"1 email went to this sender's address in the last 3 hours", "Secure email instructions", `id="send-held"`} {
		if !strings.Contains(body, want) {
			i := strings.Index(body, `id="limited"`)
			t.Errorf("the rate limited item page lacks %q:\n%.800s", want, body[max(i, 0):])
		}
	}
	rig.send(1) // the first contact's instructions
	resp, _ := c.post(fmt.Sprintf("/items/%d/held", id), nil)
	if resp.StatusCode != 303 {
		t.Fatalf("send held = %d, want 303", resp.StatusCode)
	}
	msgs := rig.send(2)
	m, err := mail.ReadMessage(bytes.NewReader(msgs[1].Raw))
	if err != nil {
		t.Fatal(err)
	}
	if k := m.Header.Get(notify.MarkerHeader); !strings.Contains(k, "kind=instructions") || msgs[1].To[0] != sender ||
		!strings.HasPrefix(m.Header.Get("Subject"), "[secure]") || !strings.Contains(m.Header.Get("In-Reply-To"), "busy-2-") {
		t.Errorf("the held reply = %s to %v, subject %q, In-Reply-To %q", k, msgs[1].To, m.Header.Get("Subject"), m.Header.Get("In-Reply-To"))
	}
	if !e.audited("triage."+string(vocab.OutcomeRepliesSent), id) {
		t.Error("no audit row for sending the held replies")
	}
	if resp, _ := c.post(fmt.Sprintf("/items/%d/held", id), nil); resp.StatusCode != 409 {
		t.Errorf("sending the held replies twice = %d, want 409", resp.StatusCode)
	}
}
