package main

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ncl-icb/optout-intake/extract/message"
	"github.com/ncl-icb/optout-intake/internal/resident"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
	"github.com/ncl-icb/optout-intake/web"
)

// The walk tests of messages the service could not read (too large,
// unreadable) and of the tools every item has (assign, notes, bulk close,
// search and filters), on items the daemon raised from real mail.
//
// processing_failed is not walked: the daemon raises it only when reading a
// message panics past extract's own recovery or runs past the extract
// timeout (intake.DefaultExtractTimeout, 2 minutes, not an OPTOUT_*
// setting), and no real mail does either within a test's time.

// miscMaxMessage is the OPTOUT_MAX_MESSAGE_SIZE of the unread-messages
// walk: the instructions and text forms are far below it, a scanned form
// far above.
const miscMaxMessage = "64KB"

// miscScan is a scanned form too large to download under miscMaxMessage.
func miscScan() *resident.Attachment {
	return &resident.Attachment{Name: "scanned-form.pdf", ContentType: "application/pdf",
		Data: bytes.Repeat([]byte("%PDF-1.4 scanned page, 600 dpi, colour\n"), 5000)}
}

// miscBrokenMIME is mail the service cannot read at all: no sender, no
// Message-ID, and a multipart body without a boundary (so no text and no
// attachment), as damaged or hostile mail arrives.
func miscBrokenMIME(subject string) []byte {
	return []byte("Subject: " + subject + "\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\n" +
		"--x\r\nContent-Type: text/plain\r\n\r\nThe text cannot be reached without a boundary.\r\n--x--\r\n")
}

// miscKeyIn keys a form in on an item page (as staff do from an original
// they opened elsewhere) and accepts it.
func miscKeyIn(first, last, nhs string) []chromedp.Action[chromedp.Void] {
	var steps []chromedp.Action[chromedp.Void]
	for _, f := range [][2]string{{"first_name", first}, {"last_name", last}, {"date_of_birth", "14/03/1978"}, {"nhs_number", nhs},
		{"gp_practice", "Example Road Surgery"}, {"postal_address", "1 Example Road, London"}, {"postcode", "N1 9GU"},
		{"full_name", first + " " + last}, {"signature", first + " " + last}} {
		steps = append(steps, chromedp.SendKeys(chromedp.CSS("#f-"+f[0]), f[1]))
	}
	return append(steps, chromedp.Click(chromedp.CSS("#f-declaration")), chromedp.Click(chromedp.CSS("#accept")))
}

// waitItemRef waits for an open item of reason under the conversation ref
// ("" for an item without a conversation, ledger ids in skip excluded).
func (w *walk) waitItemRef(reason vocab.Reason, ref string, skip ...int64) store.TriageItem {
	w.t.Helper()
	var it store.TriageItem
	w.wait(fmt.Sprintf("an open item of reason %s under %q", reason, ref), func() bool {
		items, err := w.st.ListTriage(context.Background(), store.TriageFilter{Reason: reason, Limit: 100})
		if err != nil {
			return false
		}
		for _, i := range items {
			if i.Reference == ref && !containsID(skip, i.ID) {
				it = i
				return true
			}
		}
		return false
	})
	return it
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// auditRows lists the audit rows of action by the walk's staff member on
// the object id, oldest first.
func (w *walk) auditRows(action string, objectID int64) []store.AuditEntry {
	w.t.Helper()
	actor := store.Actor(w.staff.ID)
	rows, err := w.st.ListAudit(context.Background(), store.AuditFilter{Action: action, Actor: &actor, Limit: 1000})
	if err != nil {
		w.t.Fatalf("list audit %s: %v", action, err)
	}
	var out []store.AuditEntry
	for i := len(rows) - 1; i >= 0; i-- {
		if rows[i].ObjectID == objectID {
			out = append(out, rows[i])
		}
	}
	return out
}

// sentBody is the text of a sent email, read as the service reads mail.
func sentBody(t *testing.T, s sentMail) string {
	t.Helper()
	msg, err := message.Parse(bytes.NewReader(s.raw), message.Limits{})
	if err != nil {
		t.Fatalf("read the email to %s: %v", s.to, err)
	}
	return msg.Body
}

// checkSent checks a sent email's reference and that its text holds words.
func checkSent(t *testing.T, s sentMail, ref string, words ...string) {
	t.Helper()
	if s.ref != ref {
		t.Errorf("the %s email to %s carries reference %q, want %q", s.kind, s.to, s.ref, ref)
	}
	body := strings.Join(strings.Fields(sentBody(t, s)), " ")
	for _, word := range words {
		if !strings.Contains(body, word) {
			t.Errorf("the %s email to %s does not say %q:\n%s", s.kind, s.to, word, body)
		}
	}
}

// checkAudit checks an audit row's reference and that its detail holds
// each of details.
func checkAudit(t *testing.T, a store.AuditEntry, ref string, details ...string) {
	t.Helper()
	if a.Reference != ref {
		t.Errorf("audit row %s on %d has reference %q, want %q", a.Action, a.ObjectID, a.Reference, ref)
	}
	for _, d := range details {
		if !strings.Contains(a.Detail, d) {
			t.Errorf("audit row %s on %d has detail %q, want %q in it", a.Action, a.ObjectID, a.Detail, d)
		}
	}
}

// checkRaw checks the "what is known of the message" block of the open
// page against the item's ledger row.
func (w *walk) checkRaw(it store.TriageItem, sender string) store.LedgerEntry {
	w.t.Helper()
	t := w.t
	e, err := w.st.Message(context.Background(), it.LedgerID)
	if err != nil {
		t.Fatal(err)
	}
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	size := fmt.Sprintf("%d bytes", e.Size) // the messages here are under 1 MB
	if e.Size >= 1024 {
		size = fmt.Sprintf("%d KB", (e.Size+512)/1024)
	}
	raw := strings.Join(strings.Fields(w.text("#raw")), " ")
	for _, want := range []string{
		"Size " + size,
		"Received " + e.ReceivedAt.In(london).Format("2 Jan 2006 15:04"),
		"Sender " + sender,
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("item %d: what is known of the message = %q, want %q in it", it.ID, raw, want)
		}
	}
	return e
}

// TestWalkUnreadMessages: messages the daemon could not read. Replies with
// a scan over OPTOUT_MAX_MESSAGE_SIZE are raised too_large: the page shows
// the size, when it came and who sent it, says the original is not kept and
// where it is, and offers no download of it; staff write back and then
// close with the "not an opt-out" reply, reject, key the form in from
// Outlook and accept, and close as answered by phone, one item each. A
// message with damaged MIME and no sender is raised unreadable: the page
// shows what is known, the original downloads as an attachment (audited as
// such), no email is offered, and staff close it.
func TestWalkUnreadMessages(t *testing.T) {
	t.Parallel()
	w := startWalk(t, func(env map[string]string) { env["OPTOUT_MAX_MESSAGE_SIZE"] = miscMaxMessage })
	const ada, bob, cy, dee = "ada.large@example.org", "bob.large@example.org", "cy.large@example.org", "dee.large@example.org"
	instr := map[string]sentMail{}
	for _, addr := range []string{ada, bob, cy, dee} {
		instr[addr] = w.firstContact(addr)
		w.deliver(replyTo(instr[addr], "My form is attached, I scanned it.", miscScan()).Bytes())
	}
	broken := miscBrokenMIME("Opt out form")
	w.deliver(broken)
	w.deliver(miscBrokenMIME("My opt-out"))

	// too_large: the page, then write back and close with the standard reply.
	big := w.waitItemRef(vocab.ReasonTooLarge, instr[ada].ref)
	w.open(big.ID)
	w.axe("too large")
	w.screenshot("walk-too_large")
	w.checkRaw(big, ada)
	if raw := w.text("#raw"); !strings.Contains(raw, "The original is not kept") || !strings.Contains(raw, "Triage folder") {
		t.Errorf("too_large page does not say the original is not kept and where it is: %q", raw)
	}
	if w.has("#raw-download") || w.has(`a[href$="/raw"]`) {
		t.Error("too_large page offers to download an original it does not keep")
	}
	for _, sel := range []string{"#send-reply", "#answered", "#accept", "#reject", "#close", "#close-reply"} {
		if !w.has(sel) {
			t.Errorf("too_large page lacks %s", sel)
		}
	}
	for _, sel := range []string{"#bounce", "#senders", "#limited", "#protected"} {
		if w.has(sel) {
			t.Errorf("too_large page shows %s, which is for another reason", sel)
		}
	}
	w.do("write back",
		chromedp.SendKeys(chromedp.CSS("#reply"), "Your email was too large for us to receive. Please send the form again as a smaller file."),
		chromedp.Click(chromedp.CSS("#send-reply")),
		chromedp.WaitVisible(chromedp.CSS("#waiting")),
	)
	w.do("close with the standard reply",
		chromedp.Click(chromedp.CSS("#close-reply")),
		chromedp.Click(chromedp.CSS("#close")),
	)
	w.waitJS("back on the queue, closed", `location.pathname === '/queue' && location.search === '?done=closed'`)

	// too_large: reject, asking for the form again.
	bigBob := w.waitItemRef(vocab.ReasonTooLarge, instr[bob].ref)
	w.open(bigBob.ID)
	w.checkRaw(bigBob, bob)
	w.do("reject as unreadable",
		chromedp.Click(chromedp.CSS("#reject-unreadable")),
		chromedp.SendKeys(chromedp.CSS("#reject-detail"), "Your email was over the size we can receive."),
		chromedp.Click(chromedp.CSS("#reject")),
	)
	w.waitJS("back on the queue, rejected", `location.pathname === '/queue' && location.search === '?done=rejected'`)

	// too_large: staff open it in Outlook, key the form in and accept.
	bigCy := w.waitItemRef(vocab.ReasonTooLarge, instr[cy].ref)
	w.open(bigCy.ID)
	w.do("key in the form and accept", miscKeyIn("Cy", "Large", "943 476 5870")...)
	w.waitJS("back on the queue, accepted", `location.pathname === '/queue' && location.search === '?done=accepted'`)

	// too_large: answered by phone.
	bigDee := w.waitItemRef(vocab.ReasonTooLarge, instr[dee].ref)
	w.open(bigDee.ID)
	w.do("close as answered by phone",
		chromedp.SendKeys(chromedp.CSS("#offline-note"), "Rang the resident on 3 December: the form comes by post."),
		chromedp.Click(chromedp.CSS("#answered")),
	)
	w.waitJS("the item closed as answered", `location.search === '?done=answered'`)

	// unreadable: what is known, download the original (audited), close.
	un := w.waitItemRef(vocab.ReasonUnreadable, "")
	w.open(un.ID)
	w.axe("unreadable")
	w.screenshot("walk-unreadable")
	e := w.checkRaw(un, "Not known")
	if e.Size != int64(len(broken)) {
		t.Errorf("ledger size %d, want the %d bytes delivered", e.Size, len(broken))
	}
	if !w.has("#raw-download") {
		t.Fatal("unreadable page offers no download of the original")
	}
	if w.has("#reply-section") || w.has("#reject") || w.has("#close-reply") {
		t.Error("unreadable page offers to email a sender it does not know")
	}
	if len(w.auditRows("message.download", un.LedgerID)) != 0 {
		t.Error("opening the page is audited as a download")
	}
	type download struct {
		Status                  int
		Type, Disposition, Body string
	}
	href, err := chromedp.Run(w.b, chromedp.Evaluate[string](`document.querySelector('#raw-download').getAttribute('href')`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(w.b, chromedp.Evaluate[download](fmt.Sprintf(`fetch(%q).then(async r => ({status: r.status,
		type: r.headers.get('Content-Type') || '', disposition: r.headers.get('Content-Disposition') || '', body: await r.text()}))`, href),
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("download the original: %v", err)
	}
	wantDisp := fmt.Sprintf("attachment; filename=item-%d.eml", un.ID)
	if got.Status != 200 || got.Type != "application/octet-stream" || got.Disposition != wantDisp || got.Body != string(broken) {
		t.Errorf("download = status %d, type %q, disposition %q, %d bytes; want 200, application/octet-stream, %q, the %d bytes delivered",
			got.Status, got.Type, got.Disposition, len(got.Body), wantDisp, len(broken))
	}
	if a := w.waitAudit("message.download", un.LedgerID); a.ObjectType != "ledger" {
		t.Errorf("audit row of the download = %+v, want object ledger %d", a, un.LedgerID)
	}
	w.do("close as not an opt-out request", chromedp.Click(chromedp.CSS("#close")))
	w.waitJS("back on the queue, closed", `location.pathname === '/queue' && location.search === '?done=closed'`)

	// unreadable: staff read the download, key the form in and accept;
	// there is no address to send the outcome to.
	un2 := w.waitItemRef(vocab.ReasonUnreadable, "", un.ID)
	w.open(un2.ID)
	if s := w.text(".button-group + .hint"); !strings.Contains(s, "no email will be sent") {
		t.Errorf("unreadable page does not say accepting sends no email: %q", s)
	}
	w.do("key in the form and accept", miscKeyIn("Una", "Read", "943 476 5919")...)
	w.waitJS("back on the queue, recorded without email", `location.pathname === '/queue' && location.search === '?done=noemail'`)

	// What reached the sink, the audit and the items (the outbox sends
	// what the web queues on its next pass, so all of it is waited on here).
	checkSent(t, w.waitSent(ada, vocab.KindStaffReply, 0), big.Reference, "too large for us to receive")
	checkSent(t, w.waitSent(ada, vocab.KindNotOptOut, 0), big.Reference)
	checkSent(t, w.waitSent(bob, vocab.KindRejected, 0), bigBob.Reference, "We could not open or read the file you sent", "over the size we can receive")
	checkSent(t, w.waitSent(cy, vocab.KindAccepted, 0), bigCy.Reference)
	checkAudit(t, w.waitAudit("triage.staff_reply", big.ID), big.Reference)
	checkAudit(t, w.waitAudit("triage.closed.not_optout", big.ID), big.Reference, "reply=yes")
	checkAudit(t, w.waitAudit("triage.rejected", bigBob.ID), bigBob.Reference, "reason=unreadable+other")
	checkAudit(t, w.waitAudit("triage.accepted", bigCy.ID), bigCy.Reference)
	checkAudit(t, w.waitAudit("triage."+string(vocab.OutcomeAnsweredOffline), bigDee.ID), bigDee.Reference)
	checkAudit(t, w.waitAudit("triage.closed.not_optout", un.ID), "", "reply=no")
	checkAudit(t, w.waitAudit("triage.accepted", un2.ID), "")
	for _, c := range []struct {
		id      int64
		outcome vocab.Outcome
	}{{big.ID, "closed.not_optout"}, {bigBob.ID, "rejected"}, {bigCy.ID, "accepted"}, {bigDee.ID, vocab.OutcomeAnsweredOffline}, {un.ID, "closed.not_optout"}, {un2.ID, "accepted"}} {
		if it := w.closed(c.id); it.Outcome != c.outcome || it.ClosedBy != w.staff.ID {
			t.Errorf("closed item %d = outcome %q by %d, want %q by staff %d", c.id, it.Outcome, it.ClosedBy, c.outcome, w.staff.ID)
		}
	}
	// Nothing else: four instructions, then the reply, the close, the
	// rejection and the recorded email; nothing for a message not read, for
	// the phone answer or for the unreadable messages.
	if n := len(w.rig.sink.Messages()); n != 8 {
		for _, m := range w.rig.sink.Messages() {
			s := parseSent(m)
			t.Logf("sent %s to %s", s.kind, s.to)
		}
		t.Errorf("the sink holds %d emails, want 8", n)
	}
	if n := w.sentTo(dee, ""); n != 1 {
		t.Errorf("%d emails to %s, want only the instructions", n, dee)
	}
}

// TestWalkItemTools: the tools every item has, on items the daemon raised.
// Staff assign an item to a colleague and unassign it, keep two notes
// (shown in order, never emailed), find it by reference, NHS number and
// sender address, filter the queue by reason, and close items in bulk as
// spam and as a duplicate with a reason; each closed item shows who closed
// it, when, the decision and the reason, and each action is audited.
func TestWalkItemTools(t *testing.T) {
	t.Parallel()
	w := startWalk(t, nil)
	ctx := context.Background()
	hash, err := web.HashPassword(walkPassword)
	if err != nil {
		t.Fatal(err)
	}
	colleague, err := w.st.CreateStaff(ctx, "colleague@nhs.net", hash, store.RoleTriager, store.System)
	if err != nil {
		t.Fatal(err)
	}

	// A form with a valid NHS number but the declaration not ticked, sent
	// twice; and two damaged messages.
	const ada = "ada.tools@example.org"
	const nhs = "951 819 0933"
	instr := w.firstContact(ada)
	form := walkForm("Ada", "Lovelace", nhs)
	form.Data = bytes.Replace(form.Data, []byte("Declaration: Yes"), []byte("Declaration: No"), 1)
	w.deliver(replyTo(instr, "Please find my form attached.", form).Bytes())
	item := w.waitItemRef(vocab.ReasonInvalidForm, instr.ref)
	w.waitSent(ada, vocab.KindReceipt, 0)
	w.deliver(replyTo(instr, "Sending my form again in case it did not arrive.", form).Bytes())
	dup := w.waitItemRef(vocab.ReasonInvalidForm, instr.ref, item.ID)
	w.waitSent(ada, vocab.KindReceipt, 1)
	w.deliver(miscBrokenMIME("You have won"))
	spam1 := w.waitItemRef(vocab.ReasonUnreadable, "")
	w.deliver(miscBrokenMIME("Claim your prize"))
	spam2 := w.waitItemRef(vocab.ReasonUnreadable, "", spam1.ID)
	sent := len(w.rig.sink.Messages())

	// Assign to a colleague, then unassign.
	w.open(item.ID)
	w.axe("item tools")
	w.screenshot("walk-item-tools")
	w.do("assign to the colleague",
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector('#assign-to').value = %q`, strconv.FormatInt(colleague.ID, 10))),
		chromedp.Click(chromedp.CSS(".assign-form button[type=submit]")),
	)
	w.waitJS("the item assigned", `location.search === '?done=assigned-other'`)
	if s := w.assignee(); !strings.HasPrefix(s, colleague.Email) {
		t.Errorf("after assigning, the item is assigned to %q, want %s", s, colleague.Email)
	}
	w.waitAudit("triage.assign", item.ID)
	if it := w.item(item.ID); it.AssignedTo != colleague.ID {
		t.Errorf("item assigned to staff %d, want the colleague %d", it.AssignedTo, colleague.ID)
	}
	w.do("unassign", chromedp.Click(chromedp.CSS(`form.inline-form input[name=unassign] ~ button`)))
	w.waitJS("the item unassigned", `location.search === '?done=' && document.readyState === 'complete'`)
	if s := w.assignee(); !strings.HasPrefix(s, "Nobody") {
		t.Errorf("after unassigning, the item is assigned to %q, want Nobody", s)
	}
	w.wait("two assign audit rows", func() bool { return len(w.auditRows("triage.assign", item.ID)) == 2 })
	rows := w.auditRows("triage.assign", item.ID)
	for _, a := range rows {
		checkAudit(t, a, item.Reference)
	}
	if want := fmt.Sprintf("assignee=%d from=0", colleague.ID); rows[0].Detail != want {
		t.Errorf("audit of the assign: detail %q, want %q", rows[0].Detail, want)
	}
	if want := fmt.Sprintf("assignee=0 from=%d", colleague.ID); rows[1].Detail != want {
		t.Errorf("audit of the unassign: detail %q, want %q", rows[1].Detail, want)
	}
	if it := w.item(item.ID); it.AssignedTo != 0 {
		t.Errorf("unassigned item is assigned to staff %d", it.AssignedTo)
	}

	// Two notes, kept in order, never emailed.
	notes := []string{"Rang the resident: she will send a ticked form.", "Second call: the new form is in the post."}
	for i, n := range notes {
		w.do("keep a note",
			chromedp.SendKeys(chromedp.CSS("#note"), n),
			chromedp.Click(chromedp.CSS("#add-note")),
		)
		w.waitJS("the note kept", fmt.Sprintf(`document.readyState === 'complete' && document.querySelectorAll('#notes .note-text').length === %d`, i+1))
	}
	got, err := chromedp.Run(w.b, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#notes .note-text')].map(n => n.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "|") != strings.Join(notes, "|") {
		t.Errorf("notes on the page = %q, want %q in that order", got, notes)
	}
	if s := w.text("#notes .note-list li .hint"); !strings.HasPrefix(s, "You,") {
		t.Errorf("a note is signed %q, want You and the time", s)
	}
	w.wait("two note audit rows", func() bool { return len(w.auditRows("triage.note", item.ID)) == 2 })
	for _, a := range w.auditRows("triage.note", item.ID) {
		checkAudit(t, a, item.Reference)
	}

	// Search by reference, NHS number and sender address; filter by reason.
	for _, q := range []struct{ by, text string }{{"reference", item.Reference}, {"NHS number", nhs}, {"sender address", ada}} {
		w.do("search by "+q.by,
			chromedp.Navigate(w.base+"/queue"),
			chromedp.WaitVisible(chromedp.CSS("#q")),
			chromedp.SendKeys(chromedp.CSS("#q"), q.text),
			chromedp.Click(chromedp.CSS("form.search button[type=submit]")),
		)
		w.waitJS("the search by "+q.by, fmt.Sprintf(`document.readyState === 'complete' && (document.querySelector('.count') || {textContent: ''}).textContent.includes(%q)`, "found by "+q.by))
		if ids := w.queueIDs(); !containsID(ids, item.ID) || containsID(ids, spam1.ID) {
			t.Errorf("search by %s lists items %v, want %d and not %d", q.by, ids, item.ID, spam1.ID)
		}
		if q.by == "reference" {
			w.axe("queue search")
		}
	}
	w.wait("three search audit rows", func() bool {
		return len(w.auditRows("triage.search", 0)) == 3
	})
	for i, a := range w.auditRows("triage.search", 0) {
		if want := "by=" + []string{"reference", "NHS_number", "sender_address"}[i]; a.Detail != want {
			t.Errorf("audit of search %d: detail %q, want %q", i+1, a.Detail, want)
		}
	}
	w.do("filter by reason",
		chromedp.Navigate(w.base+"/queue"),
		chromedp.WaitVisible(chromedp.CSS("#reason")),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#reason').value = 'unreadable'`),
		chromedp.Click(chromedp.CSS("form.filters button[type=submit]")),
	)
	w.waitJS("the queue filtered", `document.readyState === 'complete' && location.search.includes('reason=unreadable')`)
	if ids := w.queueIDs(); len(ids) != 2 || !containsID(ids, spam1.ID) || !containsID(ids, spam2.ID) {
		t.Errorf("the queue filtered by reason unreadable lists %v, want %d and %d", ids, spam1.ID, spam2.ID)
	}

	// Bulk close: two as spam, one as a duplicate.
	w.bulkClose("spam", "Garbled mail, not from a resident", spam1.ID, spam2.ID)
	if s := w.text(".notice"); !strings.Contains(s, "2 items closed. No email was sent.") {
		t.Errorf("after the bulk close the page says %q", s)
	}
	w.bulkClose("duplicate", "The same form as the item kept open", dup.ID)
	for _, c := range []struct {
		it               store.TriageItem
		decision, reason string
	}{
		{spam1, "Closed as spam", "Garbled mail, not from a resident"},
		{spam2, "Closed as spam", "Garbled mail, not from a resident"},
		{dup, "Closed as a duplicate", "The same form as the item kept open"},
	} {
		closed := w.closed(c.it.ID)
		if closed.ClosedBy != w.staff.ID || closed.ClosedAt == nil {
			t.Errorf("item %d closed by %d at %v, want staff %d", c.it.ID, closed.ClosedBy, closed.ClosedAt, w.staff.ID)
			continue
		}
		w.open(c.it.ID)
		london, _ := time.LoadLocation("Europe/London")
		state := w.state()
		for _, want := range []string{c.decision + ", by You on " + closed.ClosedAt.In(london).Format("2 Jan 2006 15:04"), "Reason given: " + c.reason} {
			if !strings.Contains(state, want) {
				t.Errorf("closed item %d: state %q, want %q in it", c.it.ID, state, want)
			}
		}
		action := "triage.closed.spam"
		if c.decision == "Closed as a duplicate" {
			action = "triage.closed.duplicate"
		}
		checkAudit(t, w.waitAudit(action, c.it.ID), c.it.Reference)
	}
	w.open(spam1.ID)
	w.axe("closed item")
	w.screenshot("walk-closed-spam")

	// No email went out for the notes, the assigning, the searches or the
	// bulk closes: a first contact now is answered, and is the only new mail.
	w.firstContact("barrier@example.org")
	if n := len(w.rig.sink.Messages()); n != sent+1 {
		for _, m := range w.rig.sink.Messages()[sent:] {
			s := parseSent(m)
			t.Logf("sent %s to %s", s.kind, s.to)
		}
		t.Errorf("%d emails went out after the items were raised, want only the barrier's instructions", n-sent)
	}
	if it := w.item(item.ID); it.State != "open" {
		t.Errorf("the item kept open is %s", it.State)
	}
}

// assignee is the "Assigned to" value of the open item page.
func (w *walk) assignee() string {
	w.t.Helper()
	v, err := chromedp.Run(w.b, chromedp.Evaluate[string](`[...document.querySelectorAll('.summary-list__row')]
		.find(r => r.querySelector('dt').textContent.trim() === 'Assigned to').querySelector('dd').innerText.trim()`))
	if err != nil {
		w.t.Fatalf("read Assigned to: %v", err)
	}
	return v
}

// state is the "State" value of the open item page, spaces folded.
func (w *walk) state() string {
	w.t.Helper()
	v, err := chromedp.Run(w.b, chromedp.Evaluate[string](`[...document.querySelectorAll('.summary-list__row')]
		.find(r => r.querySelector('dt').textContent.trim() === 'State').querySelector('dd').innerText`))
	if err != nil {
		w.t.Fatalf("read State: %v", err)
	}
	return strings.Join(strings.Fields(v), " ")
}

// queueIDs lists the item ids of the queue page shown.
func (w *walk) queueIDs() []int64 {
	w.t.Helper()
	v, err := chromedp.Run(w.b, chromedp.Evaluate[[]string](`[...document.querySelectorAll('table a[href^="/items/"]')].map(a => a.getAttribute('href').slice(7))`))
	if err != nil {
		w.t.Fatalf("read the queue: %v", err)
	}
	var ids []int64
	for _, s := range v {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			w.t.Fatalf("queue link /items/%s", s)
		}
		ids = append(ids, id)
	}
	return ids
}

// item reads one item (open or closed) from the store.
func (w *walk) item(id int64) store.TriageItem {
	w.t.Helper()
	for _, state := range []string{"open", "closed"} {
		items, err := w.st.ListTriage(context.Background(), store.TriageFilter{State: state, Limit: 1000})
		if err != nil {
			w.t.Fatal(err)
		}
		for _, it := range items {
			if it.ID == id {
				return it
			}
		}
	}
	w.t.Fatalf("no item %d", id)
	return store.TriageItem{}
}

// bulkClose ticks ids on the queue page and closes them with decision and
// reason.
func (w *walk) bulkClose(decision, reason string, ids ...int64) {
	w.t.Helper()
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(w.base + "/queue"),
		chromedp.WaitVisible(chromedp.CSS("#bulk-close")),
	}
	for _, id := range ids {
		steps = append(steps, chromedp.Click(chromedp.CSS(fmt.Sprintf("#sel-%d", id))))
	}
	steps = append(steps,
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector('#decision').value = %q`, decision)),
		chromedp.SendKeys(chromedp.CSS("#bulk-reason"), reason),
		chromedp.Click(chromedp.CSS("#bulk-close")),
	)
	w.do("bulk close as "+decision, steps...)
	w.waitJS("the bulk close done", fmt.Sprintf(`document.readyState === 'complete' && location.search === '?done=bulk%d'`, len(ids)))
}
