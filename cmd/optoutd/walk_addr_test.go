package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ncl-icb/optout-intake/internal/resident"
	"github.com/ncl-icb/optout-intake/internal/smtpsink"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// The walk tests of the address and sending reasons (issue 9 item 4 and
// item 5): a reference quoted from another address (unverified_sender), a
// sender over the reply limit (rate_limited), a bounce of one of our emails
// (undeliverable) and an email the mail server refused for good
// (send_failed), with the outgoing mail page's retry, cancel and address
// correction. Each item is raised by the daemon from real mail.

// TestWalkSenderAddress walks the reasons about who wrote: a reference from
// another address (attached to the conversation, then accepted; or treated
// as a new first contact) and a sender over the reply limit (the held
// replies sent by staff). The reply limit is 2, so the residents of the
// first walk stay under it.
func TestWalkSenderAddress(t *testing.T) {
	t.Parallel()
	w := startWalk(t, func(env map[string]string) { env["OPTOUT_REPLY_LIMIT"] = "2" })
	w.walkUnverifiedSender()
	w.walkRateLimited()
}

// TestWalkOurMail walks the reasons about our own emails: a bounce (sent
// again; sent to a corrected address), a permanent refusal (corrected on
// the outgoing mail page), and a retrying email sent now or cancelled.
func TestWalkOurMail(t *testing.T) {
	t.Parallel()
	w := startWalk(t, nil)
	w.walkUndeliverable()
	w.walkSendFailed()
	w.walkOutboxRetry()
}

// walkUnverifiedSender: a reply quoting a conversation's reference from
// another address, with a form. Staff attach it to the conversation and
// accept the form (the email goes to the conversation's address); a second
// one is treated as a new first contact (instructions to the sender, in a
// new conversation).
func (w *walk) walkUnverifiedSender() {
	t := w.t
	const resident1, other1 = "grace@example.org", "g.hopper@example.net"
	instr := w.firstContact(resident1)
	w.deliver(resident.Mail{From: other1, To: rigAddress, Subject: "RE: " + instr.subject,
		Body: "Sending from my work address, form attached.", Attachment: walkForm("Grace", "Hopper", "943 476 5919")}.Bytes())
	it := w.waitItem(vocab.ReasonUnverifiedSender, 0)
	if it.ConversationID != 0 {
		t.Errorf("the item is tied to conversation %d before staff decided", it.ConversationID)
	}

	w.open(it.ID)
	w.axe("unverified sender")
	w.screenshot("walk-unverified_sender")
	if got := w.text("#sender-address"); got != other1 {
		t.Errorf("sent from = %q, want %s", got, other1)
	}
	if got := w.text("#conversation-address"); !strings.Contains(got, resident1) || !strings.Contains(got, instr.ref) {
		t.Errorf("the conversation's address = %q, want %s and %s", got, resident1, instr.ref)
	}
	// The form is read and shown, but not decided before the sender is.
	if form := w.text(`section[aria-labelledby="form-heading"]`); !strings.Contains(strings.ReplaceAll(form, " ", ""), "9434765919") ||
		!strings.Contains(form, "Hopper") || !strings.Contains(form, "Decide who sent this email first") {
		t.Errorf("the undecided item's form section does not show the form read from the attachment and what to do first:\n%s", form)
	}
	for _, sel := range []string{"#accept", "#reject"} {
		if w.has(sel) {
			t.Errorf("the undecided item offers %s before staff know who sent it", sel)
		}
	}
	w.submit("attach to the conversation", "#sender-attach")
	if got := walkValue(w, "#f-nhs_number"); strings.ReplaceAll(got, " ", "") != "9434765919" {
		t.Errorf("the form's NHS number on the page = %q, want the one read from the attachment", got)
	}
	if got := walkValue(w, "#f-last_name"); got != "Hopper" {
		t.Errorf("the form's last name on the page = %q, want Hopper", got)
	}
	a := w.waitAudit("triage.attach_conversation", it.ID)
	if a.Reference != instr.ref {
		t.Errorf("audit row of the attach = %+v, want reference %s", a, instr.ref)
	}
	if w.has("#sender-attach") || w.has("#sender-new") {
		t.Error("the attached item still offers to attach or to treat as a new contact")
	}
	w.submit("accept the form", "#accept")
	got := w.waitSent(resident1, vocab.KindAccepted, 0)
	if got.ref != instr.ref {
		t.Errorf("the recorded email carries reference %q, want the conversation's %q", got.ref, instr.ref)
	}
	a = w.waitAudit("triage.accepted", it.ID)
	if a.Reference != instr.ref {
		t.Errorf("audit row of the accept = %+v, want reference %s", a, instr.ref)
	}
	if c := w.closed(it.ID); c.Outcome != "accepted" || c.ClosedBy != w.staff.ID || c.ConversationID == 0 {
		t.Errorf("closed item = %+v, want accepted by staff %d in the conversation", c, w.staff.ID)
	}

	// A second one, treated as a new first contact.
	const resident2, other2 = "alan@example.org", "a.turing@example.net"
	instr2 := w.firstContact(resident2)
	w.deliver(resident.Mail{From: other2, To: rigAddress, Subject: "Fwd: " + instr2.subject,
		Body: "My friend forwarded me this. I want to opt out too.", Attachment: walkForm("Alan", "Turing", "951 819 0933")}.Bytes())
	it2 := w.waitItem(vocab.ReasonUnverifiedSender, 0)
	w.open(it2.ID)
	if got := w.text("#sender-address"); got != other2 {
		t.Errorf("second item: sent from = %q, want %s", got, other2)
	}
	w.submit("treat as a new first contact", "#sender-new")
	newInstr := w.waitSent(other2, vocab.KindInstructions, 0)
	if newInstr.ref == "" || newInstr.ref == instr2.ref || newInstr.ref == instr.ref {
		t.Errorf("the new contact's instructions carry reference %q, want a new one (not %s or %s)", newInstr.ref, instr.ref, instr2.ref)
	}
	if !strings.Contains(newInstr.subject, newInstr.ref) {
		t.Errorf("the new contact's instructions are headed %q, without their reference %s", newInstr.subject, newInstr.ref)
	}
	c := w.closed(it2.ID)
	if c.Outcome != vocab.OutcomeNewContact || c.ClosedBy != w.staff.ID || c.Reference != newInstr.ref {
		t.Errorf("closed item = %+v, want %s by staff %d in the new conversation %s", c, vocab.OutcomeNewContact, w.staff.ID, newInstr.ref)
	}
	a = w.waitAudit("triage."+string(vocab.OutcomeNewContact), it2.ID)
	if a.Reference != newInstr.ref {
		t.Errorf("audit row of the new contact = %+v, want reference %s", a, newInstr.ref)
	}
	// The form read from the email is not taken: the sender sends one in
	// the new conversation.
	var status string
	if err := w.st.Pool().QueryRow(context.Background(), `select status from submissions where id = $1`, it2.SubmissionID).Scan(&status); err != nil ||
		it2.SubmissionID == 0 || status != string(vocab.StatusSuperseded) {
		t.Errorf("the form of the new contact's email (submission %d) is %q (%v), want superseded", it2.SubmissionID, status, err)
	}

	// Nothing else: one instructions and one recorded email to the first
	// resident, none to the address that quoted their reference, one
	// instructions each to the second resident and the new contact.
	for _, c := range []struct {
		addr string
		want int
	}{{resident1, 2}, {other1, 0}, {resident2, 1}, {other2, 1}} {
		if n := w.sentTo(c.addr, ""); n != c.want {
			t.Errorf("%d emails went to %s, want %d", n, c.addr, c.want)
		}
	}
}

// walkRateLimited: with a reply limit of 2, a resident's answer without a
// form (the "no form found" email) after the instructions reaches it; their
// form then would make 3: the daemon records it, holds the "recorded"
// email and raises the item; staff send it.
func (w *walk) walkRateLimited() {
	t := w.t
	const addr = "mary@example.org"
	instr := w.firstContact(addr)
	w.deliver(replyTo(instr, "Thanks.", nil).Bytes())
	w.waitSent(addr, vocab.KindNoForm, 0)
	w.deliver(replyTo(instr, "Here is my form.", walkForm("Mary", "Somerville", "943 476 5870")).Bytes())
	it := w.waitItem(vocab.ReasonRateLimited, 0)

	w.open(it.ID)
	w.axe("rate limited")
	w.screenshot("walk-rate_limited")
	if got := w.text("#limited-count"); !strings.HasPrefix(got, "2 emails went to this sender's address in the last 3 hours") {
		t.Errorf("the count reads %q, want the two emails sent to the address", got)
	}
	if held := w.text("#held-replies"); held != "Opt-out recorded" {
		t.Errorf("held replies = %q, want the one email the form would have had", held)
	}
	for _, sel := range []string{"#reject", "#accept"} {
		if w.has(sel) {
			t.Errorf("the rate limited page offers %s: its form was recorded, only the emails were held", sel)
		}
	}
	if n := w.sentTo(addr, ""); n != 2 {
		t.Fatalf("%d emails went to %s before staff sent the held reply, want the instructions and no form", n, addr)
	}
	w.submit("send the held replies", "#send-held")
	if got := w.waitSent(addr, vocab.KindAccepted, 0); got.ref != instr.ref {
		t.Errorf("the held email carries reference %q, want %q", got.ref, instr.ref)
	}
	a := w.waitAudit("triage."+string(vocab.OutcomeRepliesSent), it.ID)
	if a.Reference != instr.ref || a.Detail != "emails=1" {
		t.Errorf("audit row of sending the held replies = %+v, want reference %s and emails=1", a, instr.ref)
	}
	if c := w.closed(it.ID); c.Outcome != vocab.OutcomeRepliesSent || c.ClosedBy != w.staff.ID {
		t.Errorf("closed item = %+v, want %s by staff %d", c, vocab.OutcomeRepliesSent, w.staff.ID)
	}
	if n := w.sentTo(addr, ""); n != 3 {
		t.Errorf("%d emails went to %s, want the instructions, no form and the held one", n, addr)
	}
}

// walkUndeliverable: the instructions bounce (a DSN from the receiving
// server); staff send them again, and for a second bounce to a corrected
// address.
func (w *walk) walkUndeliverable() {
	t := w.t
	const addr = "ada.b@example.org"
	instr := w.firstContact(addr)
	w.deliver(walkBounce(instr, "MAILER-DAEMON@mx.example.org", "5.1.1",
		"smtp; 550 5.1.1 <"+addr+">: Recipient address rejected: User unknown in virtual mailbox table"))
	it := w.waitItem(vocab.ReasonUndeliverable, 0)
	if it.OutboxID == 0 || it.Reference != instr.ref {
		t.Fatalf("the undeliverable item = %+v, want the bounced email and reference %s", it, instr.ref)
	}

	w.open(it.ID)
	w.axe("undeliverable")
	w.screenshot("walk-undeliverable")
	bounce := w.text("#bounce")
	for _, want := range []string{"The email that bounced", "Secure email instructions", instr.subject, addr, "Bounced"} {
		if !strings.Contains(bounce, want) {
			t.Errorf("the bounce section lacks %q:\n%s", want, bounce)
		}
	}
	if got, want := w.text("#bounce-when"), it.CreatedAt.In(londonTZ(t)).Format("2 Jan 2006 15:04"); got != want {
		t.Errorf("bounced at %q, want the time the report came, %s", got, want)
	}
	diag := w.text("#bounce-error")
	for _, want := range []string{"5.1.1", "550", "Recipient address rejected: User unknown"} {
		if !strings.Contains(diag, want) {
			t.Errorf("what the receiving server said = %q, want %q in it", diag, want)
		}
	}
	for _, sel := range []string{"#reject", "#accept", "#close"} {
		if w.has(sel) {
			t.Errorf("the bounce page offers %s: there is no form to decide", sel)
		}
	}
	w.submit("send again", "#bounce-resend")
	again := w.waitSent(addr, vocab.KindInstructions, 1)
	if again.ref != instr.ref || again.messageID != instr.messageID || sentBody(t, again) != sentBody(t, instr) {
		t.Errorf("sent again: ref %q id %q, want the same email (ref %q id %q)", again.ref, again.messageID, instr.ref, instr.messageID)
	}
	a := w.waitAudit("outbox.retry_now", it.OutboxID)
	if a.Reference != instr.ref || a.Detail != "was=undeliverable" {
		t.Errorf("audit row of send again = %+v, want reference %s, was=undeliverable", a, instr.ref)
	}
	// It reached the resident this time: staff close the item.
	w.open(it.ID)
	if got := w.text("#bounce"); !strings.Contains(got, "Sent after 2 attempts") {
		t.Errorf("after sending again the bounce section reads:\n%s", got)
	}
	w.submit("close the bounce item", "#bounce-close")
	if c := w.closed(it.ID); c.Outcome != vocab.CloseBounceHandled.Outcome() || c.ClosedBy != w.staff.ID {
		t.Errorf("closed item = %+v, want %s by staff %d", c, vocab.CloseBounceHandled.Outcome(), w.staff.ID)
	}
	if a := w.waitAudit("triage."+string(vocab.CloseBounceHandled.Outcome()), it.ID); a.Reference != instr.ref {
		t.Errorf("audit row of the close = %+v, want reference %s", a, instr.ref)
	}

	// A second bounce, from an Exchange postmaster: sent to a corrected address.
	const addr2, fixed = "charles.b@example.og", "charles.b@example.org"
	instr2 := w.firstContact(addr2)
	w.deliver(walkBounce(instr2, "postmaster@mail.example.og", "5.1.1",
		"smtp; 550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"))
	it2 := w.waitItem(vocab.ReasonUndeliverable, 0)
	if it2.ID == it.ID {
		t.Fatalf("the second bounce raised no item of its own")
	}
	w.open(it2.ID)
	if got := w.text("#bounce-to"); got != addr2 {
		t.Errorf("the second bounce was sent to %q, want %s", got, addr2)
	}
	w.do("send to the corrected address",
		chromedp.SendKeys(chromedp.CSS("#bounce-address"), fixed),
	)
	w.submit("send to the corrected address", "#bounce-redirect")
	moved := w.waitSent(fixed, vocab.KindInstructions, 0)
	if moved.ref != instr2.ref {
		t.Errorf("the corrected email carries reference %q, want %q", moved.ref, instr2.ref)
	}
	if !strings.Contains(string(moved.raw), "To: <"+fixed+">") {
		t.Errorf("the corrected email's To header does not name %s", fixed)
	}
	a = w.waitAudit("outbox.correct_address", it2.OutboxID)
	if a.Reference != instr2.ref || strings.Contains(a.Detail, "@") {
		t.Errorf("audit row of the correction = %+v, want reference %s and no address", a, instr2.ref)
	}
	if n, m := w.sentTo(addr, ""), w.sentTo(addr2, ""); n != 2 || m != 1 {
		t.Errorf("%d emails to the first address (want 2), %d to the mistyped one (want 1)", n, m)
	}
}

// walkSendFailed: the mail server refuses the resident's address for good
// (550 5.1.1 at RCPT): the instructions fail and an item is raised; staff
// see the refusal on the item and on the outgoing mail page and correct the
// address there.
func (w *walk) walkSendFailed() {
	t := w.t
	const addr, fixed = "ivy@exmaple.org", "ivy@example.org"
	w.rig.sink.RefuseRecipient(addr, smtpsink.Refusal{Code: 550, Enhanced: "5.1.1", Text: "Recipient address rejected: User unknown"})
	w.deliver(resident.Mail{From: addr, To: rigAddress, Subject: "Opting out", Body: "Hello, I would like to opt out."}.Bytes())
	it := w.waitItem(vocab.ReasonSendFailed, 0)

	w.open(it.ID)
	w.axe("send failed")
	w.screenshot("walk-send_failed")
	if got := w.text("#bounce-to"); got != addr {
		t.Errorf("the refused email was to %q, want %s", got, addr)
	}
	bounce := w.text("#bounce")
	for _, want := range []string{"The email the mail server refused", "Secure email instructions", "Refused by the mail server after 1 attempt", "550", "5.1.1", "User unknown"} {
		if !strings.Contains(bounce, want) {
			t.Errorf("the refusal section lacks %q:\n%s", want, bounce)
		}
	}
	for _, sel := range []string{"#reject", "#accept", "#close"} {
		if w.has(sel) {
			t.Errorf("the send_failed page offers %s: there is no form to decide", sel)
		}
	}

	w.openOutbox()
	w.axe("outgoing mail")
	w.screenshot("walk-outbox")
	row := fmt.Sprintf("#mail-%d", it.OutboxID)
	cells := w.text(row)
	for _, want := range []string{"Refused by the mail server", addr, "550", "User unknown", "None: needs a person"} {
		if !strings.Contains(cells, want) {
			t.Errorf("the outgoing mail row lacks %q:\n%s", want, cells)
		}
	}
	if got := w.text(row + ` td[data-label="Attempts"]`); got != "1" {
		t.Errorf("attempts on the outgoing mail page = %q, want 1", got)
	}
	w.do("correct the address on the outgoing mail page",
		chromedp.SendKeys(chromedp.CSS(fmt.Sprintf("#address-%d", it.OutboxID)), fixed),
	)
	w.submit("correct the address on the outgoing mail page", fmt.Sprintf("#correct-%d", it.OutboxID))
	got := w.waitSent(fixed, vocab.KindInstructions, 0)
	if got.ref != it.Reference || !strings.Contains(got.subject, it.Reference) {
		t.Errorf("the corrected instructions: ref %q subject %q, want reference %s", got.ref, got.subject, it.Reference)
	}
	a := w.waitAudit("outbox.correct_address", it.OutboxID)
	if a.Reference != it.Reference || a.Detail != "was=failed" {
		t.Errorf("audit row of the correction = %+v, want reference %s, was=failed", a, it.Reference)
	}
	if n := w.sentTo(addr, ""); n != 0 {
		t.Errorf("%d emails reached the refused address", n)
	}
}

// walkOutboxRetry: the mail server answers 450 4.2.1 for two addresses, so
// their instructions retry; staff send one now once the server takes it
// again, and cancel the other.
func (w *walk) walkOutboxRetry() {
	t := w.t
	busy := smtpsink.Refusal{Code: 450, Enhanced: "4.2.1", Text: "Mailbox busy, try again later"}
	const now, stop = "nell@example.org", "otto@example.org"
	w.rig.sink.RefuseRecipient(now, busy)
	w.rig.sink.RefuseRecipient(stop, busy)
	w.deliver(resident.Mail{From: now, To: rigAddress, Subject: "Opting out", Body: "Hello, how do I opt out?"}.Bytes())
	retrying := w.waitRetrying(now)

	w.openOutbox()
	row := fmt.Sprintf("#mail-%d", retrying.ID)
	cells := w.text(row)
	for _, want := range []string{"Retrying", now, "450", "Mailbox busy"} {
		if !strings.Contains(cells, want) {
			t.Errorf("the retrying row lacks %q:\n%s", want, cells)
		}
	}
	if got := w.text(row + ` td[data-label="Next attempt"]`); got == "" || strings.HasPrefix(got, "None") {
		t.Errorf("the retrying row's next attempt = %q, want a time", got)
	}

	w.rig.sink.ClearRecipient(now)
	clicked := time.Now()
	w.submit("send now", fmt.Sprintf("#retry-%d", retrying.ID))
	got := w.waitSent(now, vocab.KindInstructions, 0)
	if got.ref != retrying.Reference {
		t.Errorf("the instructions sent now carry reference %q, want %q", got.ref, retrying.Reference)
	}
	// The sender's own retry is 15 to 30 s after the failure: when the
	// click came well before it, the email must arrive before it too.
	switch at := w.sinkReceived(now); {
	case retrying.NextAttempt.Sub(clicked) < 5*time.Second:
		t.Logf("Send now was clicked %s before the scheduled attempt: too close to tell them apart", retrying.NextAttempt.Sub(clicked))
	case !at.Before(retrying.NextAttempt):
		t.Errorf("the email arrived at %s, not before its scheduled attempt at %s: Send now did not send it", at, retrying.NextAttempt)
	}
	a := w.waitAudit("outbox.retry_now", retrying.ID)
	if a.Reference != retrying.Reference || a.Detail != "was=pending" {
		t.Errorf("audit row of send now = %+v, want reference %s, was=pending", a, retrying.Reference)
	}

	w.deliver(resident.Mail{From: stop, To: rigAddress, Subject: "Opting out", Body: "Hello, how do I opt out?"}.Bytes())
	other := w.waitRetrying(stop)
	w.openOutbox()
	w.submit("cancel", fmt.Sprintf("#cancel-%d", other.ID))
	a = w.waitAudit("outbox.cancel", other.ID)
	if a.Reference != other.Reference || a.Detail != "was=pending" {
		t.Errorf("audit row of the cancel = %+v, want reference %s, was=pending", a, other.Reference)
	}
	if w.has(fmt.Sprintf("#mail-%d", other.ID)) {
		t.Error("the cancelled email is still listed on the outgoing mail page")
	}
	if n := w.sentTo(stop, ""); n != 0 {
		t.Errorf("%d emails reached the address whose email was cancelled", n)
	}
}

// submit clicks the button sel selects and waits for the page it leads
// to, which must confirm with a notice; otherwise it fails with what that
// page says (an error page or an error summary).
func (w *walk) submit(what, sel string) {
	w.t.Helper()
	before, err := chromedp.Run(w.b, chromedp.Evaluate[string]("location.href"))
	if err != nil {
		w.t.Fatalf("%s: %v", what, err)
	}
	w.do(what, chromedp.Click(chromedp.CSS(sel)))
	w.wait(what+": the next page", func() bool {
		now, err := chromedp.Run(w.b, chromedp.Evaluate[string]("document.readyState === 'complete' ? location.href : ''"))
		return err == nil && now != "" && now != before
	})
	if w.has(".notice") {
		return
	}
	said, _ := chromedp.Run(w.b, chromedp.Evaluate[string]("document.querySelector('main').innerText"))
	if len(said) > 600 {
		said = said[:600]
	}
	w.t.Fatalf("%s: no confirmation; the page says:\n%s", what, said)
}

// openOutbox opens the outgoing mail page.
func (w *walk) openOutbox() {
	w.t.Helper()
	w.do("open the outgoing mail page",
		chromedp.Navigate(w.base+"/outbox"),
		chromedp.WaitVisible(chromedp.CSS("h1")),
	)
	if h := w.text("h1"); h != "Outgoing mail" {
		w.t.Fatalf("the outgoing mail page is headed %q", h)
	}
}

// waitRetrying waits until the email to addr has failed once and waits
// for its next attempt, and returns it.
func (w *walk) waitRetrying(addr string) store.OutgoingMail {
	w.t.Helper()
	var found store.OutgoingMail
	w.wait("a retrying email to "+addr, func() bool {
		list, _, err := w.st.ListOutgoing(context.Background(), 100, store.System)
		if err != nil {
			return false
		}
		for _, m := range list {
			if m.To == addr && m.State == store.OutboxPending && m.Attempts > 0 {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// sinkReceived is when the sink took the last message to addr.
func (w *walk) sinkReceived(addr string) time.Time {
	var at time.Time
	for _, m := range w.rig.sink.Messages() {
		if parseSent(m).to == addr {
			at = m.Received
		}
	}
	return at
}

// walkBounce is the delivery status notification a receiving server sends
// back when sent (one of our emails) cannot be delivered: multipart/report
// with a human part, the message/delivery-status part with status and
// diagnostic, and the returned message's header (with our Message-ID).
func walkBounce(sent sentMail, from, status, diagnostic string) []byte {
	head, _, _ := bytes.Cut(sent.raw, []byte("\r\n\r\n"))
	host := from[strings.IndexByte(from, '@')+1:]
	const b = "dsn-boundary-1"
	var m strings.Builder
	fmt.Fprintf(&m, "From: Mail Delivery System <%s>\r\nTo: %s\r\nSubject: Undelivered Mail Returned to Sender\r\n", from, rigAddress)
	fmt.Fprintf(&m, "Date: %s\r\nMessage-ID: <%s>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n",
		time.Now().Format(time.RFC1123Z), resident.NewMessageID())
	fmt.Fprintf(&m, "Content-Type: multipart/report; report-type=delivery-status; boundary=\"%s\"\r\n\r\n", b)
	fmt.Fprintf(&m, "This is a MIME-encapsulated message.\r\n\r\n--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n", b)
	fmt.Fprintf(&m, "This is the mail system at host %s.\r\n\r\nI'm sorry to have to inform you that your message could not\r\n"+
		"be delivered to one or more recipients.\r\n\r\n<%s>: %s\r\n\r\n", host, sent.to, diagnostic)
	fmt.Fprintf(&m, "--%s\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; %s\r\nArrival-Date: %s\r\n\r\n",
		b, host, time.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&m, "Final-Recipient: rfc822; %s\r\nOriginal-Recipient: rfc822;%s\r\nAction: failed\r\nStatus: %s\r\n"+
		"Remote-MTA: dns; %s\r\nDiagnostic-Code: %s\r\n\r\n", sent.to, sent.to, status, host, diagnostic)
	fmt.Fprintf(&m, "--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n%s\r\n\r\n--%s--\r\n", b, head, b)
	return []byte(m.String())
}
