package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-message/mail"

	"github.com/ncl-icb/optout-intake/enquiry"
	"github.com/ncl-icb/optout-intake/internal/resident"
	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// The walk tests of the messages that need a person (issue 9 with issue 14
// and issue 11): an enquiry of each reason, an opt back in, a message after
// completion and an encrypted reply, each raised by the daemon from real
// mail, worked on its page in Chromium, checked at the SMTP sink and in the
// audit log.

// enquiryWalk is one enquiry reason's message: what the resident writes
// (a first contact, or a reply to the instructions), the acknowledgement it
// must get, and the words of it the page must show.
type enquiryWalk struct {
	reason  vocab.Reason
	addr    string
	reply   bool // in the thread of the instructions, not a first contact
	subject string
	body    string
	shown   string     // words of the body the page shows
	ack     vocab.Kind // the acknowledgement the daemon sends
	minDays int        // the answer-by date is this many to maxDays calendar days after receipt
	maxDays int
}

// walkEnquiryDays is the OPTOUT_ENQUIRY_DAYS the enquiry walk runs with
// (not the default, so the page is seen to follow the setting).
const walkEnquiryDays = 7

// TestWalkEnquiries: for each enquiry reason (complaint, rights request,
// question, proxy, format or language, status chase) the resident's words
// raise an item and its acknowledgement; the page shows their words and the
// answer-by date the law sets for what they ask; staff write back (with a
// snippet) and the staff_reply email reaches the sink in the secure thread;
// one item is closed as answered by post, which sends nothing. Every action
// is audited.
func TestWalkEnquiries(t *testing.T) {
	t.Parallel()
	w := startWalk(t, func(env map[string]string) { env["OPTOUT_ENQUIRY_DAYS"] = fmt.Sprint(walkEnquiryDays) })
	ctx := context.Background()

	// A snippet an admin keeps for replies.
	admin, err := w.st.CreateStaff(ctx, "walk-admin@nhs.net", "$argon2id$unused", store.RoleAdmin, store.System)
	if err != nil {
		t.Fatal(err)
	}
	const snippetText = "You can read how the London Care Record uses your information in our leaflet."
	if _, err := w.st.SaveSnippet(ctx, 0, "How your information is used", snippetText, store.Actor(admin.ID)); err != nil {
		t.Fatal(err)
	}

	// Calendar days from receipt to the answer-by date: 3 working days for
	// a complaint (regulation 13(1)), a calendar month for a rights request
	// (UK GDPR Art. 12(3), moved off a weekend or bank holiday), else
	// OPTOUT_ENQUIRY_DAYS working days.
	cases := []enquiryWalk{
		{reason: vocab.ReasonComplaint, addr: "comp@example.org", subject: "Complaint",
			body:  "I opted out last year and my records were still shared with the hospital. I am not happy about this.",
			shown: "still shared with the hospital", ack: vocab.KindEnquiry, minDays: 3, maxDays: 9},
		{reason: vocab.ReasonRightsRequest, addr: "rights@example.org", subject: "Subject access request",
			body:  "Dear Data Protection Officer,\n\nI would like to make a subject access request for all the data the London Care Record holds about me.\n\nYours faithfully",
			shown: "subject access request", ack: vocab.KindEnquiry, minDays: 28, maxDays: 35},
		{reason: vocab.ReasonQuestion, addr: "quest@example.org", subject: "London Care Record",
			body:  "What information is actually shared? Can the hospital see my mental health notes? I have not decided whether to opt out yet.",
			shown: "mental health notes", ack: vocab.KindEnquiry, minDays: walkEnquiryDays, maxDays: walkEnquiryDays + 8},
		{reason: vocab.ReasonProxy, addr: "proxy@example.org", subject: "Opting out for my mother",
			body:  "My mother has dementia and I have lasting power of attorney. She cannot use email. How do I opt her out?",
			shown: "lasting power of attorney", ack: vocab.KindEnquiryInstructions, minDays: walkEnquiryDays, maxDays: walkEnquiryDays + 8},
		{reason: vocab.ReasonFormatOrLanguage, addr: "paper@example.org", reply: true,
			body:  "Could you post me a paper form please? I don't have a printer.",
			shown: "I don't have a printer", ack: vocab.KindEnquiryInstructions, minDays: walkEnquiryDays, maxDays: walkEnquiryDays + 8},
		{reason: vocab.ReasonStatusChase, addr: "chase@example.org", reply: true,
			body:  "Hello, did you get my form three weeks ago? I have had no reply.\n\nSent from my iPhone",
			shown: "did you get my form", ack: vocab.KindEnquiry, minDays: walkEnquiryDays, maxDays: walkEnquiryDays + 8},
	}

	// The residents write; each gets the acknowledgement and raises one item.
	items := map[vocab.Reason]store.TriageItem{}
	for _, c := range cases {
		if got := enquiry.Read(c.subject, c.body).Primary(); got != vocab.Reason(c.reason) {
			t.Fatalf("%s: the classifier files the words under %q: the walk would not test this reason", c.reason, got)
		}
		if c.reply {
			instr := w.firstContact(c.addr)
			w.deliver(replyTo(instr, c.body, nil).Bytes())
		} else {
			w.deliver(resident.Mail{From: c.addr, To: rigAddress, Subject: c.subject, Body: c.body}.Bytes())
		}
		ack := w.waitSent(c.addr, c.ack, 0)
		it := w.waitItem(c.reason, 0)
		if ack.ref == "" || ack.ref != it.Reference {
			t.Errorf("%s: the acknowledgement carries reference %q, the item %q", c.reason, ack.ref, it.Reference)
		}
		items[c.reason] = it
	}
	// Nothing else went to the residents: the instructions before a reply,
	// and the one acknowledgement.
	for _, c := range cases {
		want := 1
		if c.reply {
			want = 2
		}
		if n := w.sentTo(c.addr, ""); n != want {
			t.Errorf("%s: the resident got %d emails, want %d (acknowledgement %s)", c.reason, n, want, c.ack)
		}
	}

	for i, c := range cases {
		it := items[c.reason]
		m, err := w.st.Message(ctx, it.LedgerID)
		if err != nil {
			t.Fatal(err)
		}
		due := enquiry.DueBy(vocab.Reason(c.reason), m.ReceivedAt, walkEnquiryDays)
		if !it.DueBy.Equal(due) {
			t.Errorf("%s: item due by %v, want %v (enquiry.DueBy)", c.reason, it.DueBy, due)
		}
		if days := walkCalendarDays(londonTZ(t), m.ReceivedAt, due); days < c.minDays || days > c.maxDays {
			t.Errorf("%s: answer by %s is %d calendar days after receipt, want %d to %d", c.reason, due.Format(time.DateOnly), days, c.minDays, c.maxDays)
		}

		w.open(it.ID)
		w.axe("walk " + string(c.reason))
		w.screenshot("walk-" + string(c.reason))
		if h := w.text("h1"); !strings.Contains(h, c.reason.Text()) {
			t.Errorf("%s: the page is headed %q, want the reason %q", c.reason, h, c.reason.Text())
		}
		if s := w.text(`pre[aria-label="Email text"]`); !strings.Contains(s, c.shown) {
			t.Errorf("%s: the page shows the email text %q, want the resident's words %q", c.reason, s, c.shown)
		}
		if got, want := walkSummary(w, "Answer by"), due.In(londonTZ(t)).Format("2 Jan 2006"); !strings.HasPrefix(got, want) {
			t.Errorf("%s: the page says answer by %q, want %s", c.reason, got, want)
		}
		if w.has("#reject") {
			t.Errorf("%s: the page offers to reject a form, on a message that has none", c.reason)
		}
		if !w.has("details#keyin:not([open]) #accept") {
			t.Errorf("%s: the form to key in is not tucked behind \"Record an opt-out from this message\"", c.reason)
		}

		if c.reason == vocab.ReasonFormatOrLanguage {
			// Answered by post: the item closes and nothing is emailed.
			w.do("close as answered by post",
				chromedp.SendKeys(chromedp.CSS("#offline-note"), "Posted a paper form and a reply-paid envelope."),
				chromedp.Click(chromedp.CSS("#answered")),
				chromedp.WaitVisible(chromedp.CSS(".notice")),
			)
			if cl := w.closed(it.ID); cl.Outcome != vocab.OutcomeAnsweredOffline || cl.ClosedBy != w.staff.ID {
				t.Errorf("answered by post: closed item = %+v, want %s by staff %d", cl, vocab.OutcomeAnsweredOffline, w.staff.ID)
			}
			if a := w.waitAudit("triage."+string(vocab.OutcomeAnsweredOffline), it.ID); a.Reference != it.Reference || strings.Contains(a.Detail, "paper form") {
				t.Errorf("audit row of the close = %+v, want reference %s and not the note", a, it.Reference)
			}
			if s := w.text("main"); !strings.Contains(s, "answered by phone or post") || !strings.Contains(s, "Posted a paper form") {
				t.Errorf("the closed item's page does not say how it was answered:\n%s", s)
			}
			continue
		}

		// Write back: a few words of one's own, then the snippet.
		words := fmt.Sprintf("Thank you for writing to us (%d).", i)
		w.do("write the reply and insert the snippet",
			chromedp.SendKeys(chromedp.CSS("#reply"), words),
			chromedp.SetValue(chromedp.CSS("#snippet"), walkSnippet(w)),
			chromedp.Click(chromedp.CSS("#insert-snippet")),
		)
		// The page comes back with the snippet after the words.
		w.waitJS("the snippet in the reply", fmt.Sprintf("document.querySelector('#reply').value.includes(%q)", snippetText))
		if v := walkValue(w, "#reply"); !strings.Contains(v, words) || !strings.Contains(v, snippetText) {
			t.Fatalf("%s: after inserting the snippet the reply reads %q, want the words and the snippet", c.reason, v)
		}
		want := []string{words, snippetText}
		w.do("send the reply",
			chromedp.Click(chromedp.CSS("#send-reply")),
			chromedp.WaitVisible(chromedp.CSS("#waiting")),
		)
		got := w.waitSent(c.addr, vocab.KindStaffReply, 0)
		if got.ref != it.Reference || !strings.Contains(got.subject, "[secure]") || !strings.Contains(got.subject, it.Reference) {
			t.Errorf("%s: the staff reply has subject %q and reference %q, want [secure] and %s", c.reason, got.subject, got.ref, it.Reference)
		}
		text := walkMailText(t, got.raw)
		for _, s := range want {
			if !strings.Contains(strings.Join(strings.Fields(text), " "), s) {
				t.Errorf("%s: the staff reply does not carry %q:\n%s", c.reason, s, text)
			}
		}
		a := w.waitAudit("triage.staff_reply", it.ID)
		if a.Reference != it.Reference || strings.Contains(a.Detail, "Thank you") {
			t.Errorf("%s: audit row of the reply = %+v, want reference %s and not the text", c.reason, a, it.Reference)
		}
	}
	// Nothing else went to the residents: the instructions before a reply,
	// the acknowledgement, the staff reply, and nothing after the close as
	// answered by post (counted after later replies reached the sink).
	for _, c := range cases {
		want := 2
		if c.reply {
			want++
		}
		if c.reason == vocab.ReasonFormatOrLanguage {
			want--
		}
		if n := w.sentTo(c.addr, ""); n != want {
			t.Errorf("%s: the resident got %d emails in all, want %d", c.reason, n, want)
		}
	}
}

// TestWalkOptBackIn: a resident whose opt-out was recorded writes in the
// same thread asking to opt back in; the item shows them opted out; staff
// record the opt back in through its confirmation step; the register says
// opted back in, the resident gets the opted_in email, and it is audited.
func TestWalkOptBackIn(t *testing.T) {
	t.Parallel()
	w := startWalk(t, nil)
	ctx := context.Background()
	const addr, nhs = "grace@example.org", "951 819 0933"
	instr := w.firstContact(addr)
	w.deliver(replyTo(instr, "Please find my form attached.", walkForm("Grace", "Hopper", nhs)).Bytes())
	acc := w.waitSent(addr, vocab.KindAccepted, 0)
	if p, err := w.st.FindPerson(ctx, nhs, store.System); err != nil || p.State != store.OptedOut {
		t.Fatalf("after the accepted email the register holds %+v (%v), want opted out", p, err)
	}

	w.deliver(replyTo(acc, "Hello,\nI have changed my mind and would like to opt back in please.\nThanks", nil).Bytes())
	ack := w.waitSent(addr, vocab.KindEnquiry, 0)
	it := w.waitItem(vocab.ReasonOptBackIn, 0)
	if ack.ref != it.Reference || it.Reference != acc.ref {
		t.Errorf("acknowledgement reference %q, item %q, conversation %q: want one", ack.ref, it.Reference, acc.ref)
	}
	if it.RegisterState != store.OptedOut {
		t.Errorf("item register state %q, want opted_out", it.RegisterState)
	}

	w.open(it.ID)
	w.axe("walk opt back in")
	w.screenshot("walk-opt_back_in")
	if s := w.text("#register-state"); s != "Opted out" {
		t.Errorf("the page says the register holds %q, want Opted out", s)
	}
	if s := w.text(`pre[aria-label="Email text"]`); !strings.Contains(s, "opt back in") {
		t.Errorf("the page shows the email text %q, want the resident's words", s)
	}
	if w.has("#accept") || w.has("#reject") || !w.has("#no-keyin") {
		t.Error("the page offers to accept or reject an opt-out form on a request to opt back in")
	}
	w.do("start the opt back in",
		chromedp.Click(chromedp.CSS("#optbackin-start")),
		chromedp.WaitVisible(chromedp.CSS("#optback-confirm")),
	)
	w.axe("walk opt back in confirmation")
	if to := w.text("#optback-to"); to != addr {
		t.Errorf("the confirmation says the email goes to %q, want %s", to, addr)
	}
	// Nothing is recorded before the confirmation.
	if p, err := w.st.FindPerson(ctx, nhs, store.System); err != nil || p.State != store.OptedOut {
		t.Errorf("before the confirmation the register holds %+v (%v), want opted out still", p, err)
	}
	w.do("confirm the opt back in",
		chromedp.Click(chromedp.CSS("#optback-confirm")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	got := w.waitSent(addr, vocab.KindOptedIn, 0)
	if got.ref != it.Reference || !strings.Contains(got.subject, "[secure]") {
		t.Errorf("the opted_in email has subject %q and reference %q, want [secure] and %s", got.subject, got.ref, it.Reference)
	}
	p, err := w.st.FindPerson(ctx, nhs, store.System)
	if err != nil || p.State != store.OptedIn {
		t.Fatalf("after the confirmation the register holds %+v (%v), want opted back in", p, err)
	}
	if a := w.waitAudit("register.opt_in", p.RegisterID); a.Reference != it.Reference {
		t.Errorf("audit row of the opt back in = %+v, want reference %s", a, it.Reference)
	}
	if c := w.closed(it.ID); c.Outcome != "opted_in" || c.ClosedBy != w.staff.ID {
		t.Errorf("closed item = %+v, want opted_in by staff %d", c, w.staff.ID)
	}
	w.waitAudit("triage.opted_in", it.ID)
	// The register export the clinical system takes lists the opt-out, then
	// the opt back in.
	out, errOut, code := runBin(t, time.Minute, w.rig.env, "export", "--since", "2000-01-01")
	if i, j := strings.Index(out, "9518190933,opted_out,"), strings.Index(out, "9518190933,opted_in,"); code != 0 || i < 0 || j < i {
		t.Errorf("optoutd export = status %d, %q (%s); want the opt-out, then the opt back in", code, out, errOut)
	}
	// Instructions, accepted, acknowledgement, opted back in: nothing else.
	if n := w.sentTo(addr, ""); n != 4 {
		t.Errorf("the resident got %d emails, want 4", n)
	}
}

// TestWalkOptBackInFindPerson: a resident who opted out through one
// conversation writes later from another address, a first contact asking to
// opt back in; the item knows no one, so staff find the person by NHS
// number on the item (a mistyped number is refused first), see the
// register entry found and what will happen, confirm, and the item closes
// with the register changed; the opted_in email reaches the sink at the
// new conversation's address, and every step is audited.
func TestWalkOptBackInFindPerson(t *testing.T) {
	t.Parallel()
	w := startWalk(t, nil)
	ctx := context.Background()
	const oldAddr, newAddr, nhs = "grace@example.org", "grace.hopper@example.net", "401 023 2137"
	instr := w.firstContact(oldAddr)
	w.deliver(replyTo(instr, "Please find my form attached.", walkForm("Grace", "Hopper", nhs)).Bytes())
	acc := w.waitSent(oldAddr, vocab.KindAccepted, 0)
	if p, err := w.st.FindPerson(ctx, nhs, store.System); err != nil || p.State != store.OptedOut {
		t.Fatalf("after the accepted email the register holds %+v (%v), want opted out", p, err)
	}

	const subject, body = "Opting back in", "Hello,\nI opted out last year but I have changed my mind. Please opt me back in.\nThanks"
	if got := enquiry.Read(subject, body).Primary(); got != vocab.ReasonOptBackIn {
		t.Fatalf("the classifier files the words under %q: the walk would not test an opt back in", got)
	}
	w.deliver(resident.Mail{From: newAddr, To: rigAddress, Subject: subject, Body: body}.Bytes())
	ack := w.waitSent(newAddr, "", 0)
	it := w.waitItem(vocab.ReasonOptBackIn, 0)
	if ack.ref != it.Reference || it.Reference == acc.ref {
		t.Errorf("acknowledgement reference %q, item %q, the opt-out's conversation %q: want the item's own new conversation", ack.ref, it.Reference, acc.ref)
	}
	if it.RegisterState != "" {
		t.Errorf("item register state %q, want none (no form in this conversation)", it.RegisterState)
	}

	w.open(it.ID)
	w.axe("walk opt back in, person not known")
	if s := w.text("#register-state"); !strings.HasPrefix(s, "Not known") {
		t.Errorf("the page says the register holds %q, want Not known", s)
	}
	if w.has("#optbackin-start") {
		t.Error("the page offers to record the opt back in before the person is found")
	}
	// A mistyped number (the check digit fails) is refused on the item.
	w.do("find a mistyped number",
		chromedp.SendKeys(chromedp.CSS("#optin-nhs"), "401 023 2138"),
		chromedp.Click(chromedp.CSS("#optin-find")),
		chromedp.WaitVisible(chromedp.CSS("#optin-nhs-error")),
	)
	w.axe("walk opt back in, number refused")
	if s := w.text(".error-summary"); !strings.Contains(s, "valid check digit") {
		t.Errorf("the error summary says %q, want the check digit", s)
	}
	w.do("find the person",
		chromedp.SendKeys(chromedp.CSS("#optin-nhs"), nhs),
		chromedp.Click(chromedp.CSS("#optin-find")),
		chromedp.WaitVisible(chromedp.CSS("#optback-confirm")),
	)
	w.axe("walk opt back in, person found")
	w.screenshot("walk-opt_back_in-found")
	if s := w.text("#found-nhs"); s != "*** *** *137" {
		t.Errorf("the page shows the NHS number as %q, want it masked", s)
	}
	if s := w.text("#found-state"); s != "Opted out" {
		t.Errorf("the page says the person found is %q, want Opted out", s)
	}
	if to := w.text("#optback-to"); to != newAddr {
		t.Errorf("the confirmation says the email goes to %q, want %s", to, newAddr)
	}
	w.waitAudit("people.search", 0)
	if p, err := w.st.FindPerson(ctx, nhs, store.System); err != nil || p.State != store.OptedOut {
		t.Errorf("before the confirmation the register holds %+v (%v), want opted out still", p, err)
	}
	w.do("confirm the opt back in",
		chromedp.Click(chromedp.CSS("#optback-confirm")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	got := w.waitSent(newAddr, vocab.KindOptedIn, 0)
	if got.ref != it.Reference || !strings.Contains(got.subject, "[secure]") {
		t.Errorf("the opted_in email has subject %q and reference %q, want [secure] and %s", got.subject, got.ref, it.Reference)
	}
	p, err := w.st.FindPerson(ctx, nhs, store.System)
	if err != nil || p.State != store.OptedIn {
		t.Fatalf("after the confirmation the register holds %+v (%v), want opted back in", p, err)
	}
	w.waitAudit("register.view", p.RegisterID)
	w.waitAudit("register.opt_in", p.RegisterID)
	if c := w.closed(it.ID); c.Outcome != vocab.OutcomeOptedIn || c.ClosedBy != w.staff.ID {
		t.Errorf("closed item = %+v, want opted_in by staff %d", c, w.staff.ID)
	}
	if a := w.waitAudit("triage.opted_in", it.ID); a.Reference != it.Reference {
		t.Errorf("audit row of the close = %+v, want reference %s", a, it.Reference)
	}
	w.axe("walk opt back in, closed")
	// The old address got the instructions and the accepted email only.
	if n := w.sentTo(oldAddr, ""); n != 2 {
		t.Errorf("the opt-out's address got %d emails, want 2", n)
	}
	if n := w.sentTo(newAddr, ""); n != 2 {
		t.Errorf("the new address got %d emails, want 2 (acknowledgement, opted back in)", n)
	}
}

// TestWalkAfterCompletion: a thank-you after the opt-out was recorded is
// acknowledged and raises an item; its page shows the words and the
// conversation, and staff write back in the same secure thread.
func TestWalkAfterCompletion(t *testing.T) {
	t.Parallel()
	w := startWalk(t, nil)
	const addr = "alan@example.org"
	instr := w.firstContact(addr)
	w.deliver(replyTo(instr, "Please find my form attached.", walkForm("Alan", "Turing", "943 476 5870")).Bytes())
	acc := w.waitSent(addr, vocab.KindAccepted, 0)

	w.deliver(replyTo(acc, "Thank you so much. Will my GP be told?\n\nSent from my iPhone", nil).Bytes())
	ack := w.waitSent(addr, vocab.KindAfterCompletion, 0)
	it := w.waitItem(vocab.ReasonAfterCompletion, 0)
	if ack.ref != acc.ref || it.Reference != acc.ref {
		t.Errorf("acknowledgement reference %q, item %q, conversation %q: want one", ack.ref, it.Reference, acc.ref)
	}

	w.open(it.ID)
	w.axe("walk after completion")
	w.screenshot("walk-after_completion")
	if s := w.text(`pre[aria-label="Email text"]`); !strings.Contains(s, "Will my GP be told") {
		t.Errorf("the page shows the email text %q, want the resident's words", s)
	}
	if s := w.text("#conversation"); !strings.Contains(s, acc.subject) {
		t.Errorf("the conversation on the page does not show the recorded email %q:\n%s", acc.subject, s)
	}
	if w.has("#accept") || w.has("#reject") || !w.has("#no-keyin") {
		t.Error("the page offers to accept or reject a form after the opt-out was recorded")
	}
	const words = "Your GP practice is not told: the opt-out is recorded in the London Care Record only."
	w.do("write back",
		chromedp.SendKeys(chromedp.CSS("#reply"), words),
		chromedp.Click(chromedp.CSS("#send-reply")),
		chromedp.WaitVisible(chromedp.CSS("#waiting")),
	)
	got := w.waitSent(addr, vocab.KindStaffReply, 0)
	if got.ref != it.Reference || !strings.Contains(got.subject, "[secure]") {
		t.Errorf("the staff reply has subject %q and reference %q, want [secure] and %s", got.subject, got.ref, it.Reference)
	}
	if text := walkMailText(t, got.raw); !strings.Contains(strings.Join(strings.Fields(text), " "), words) {
		t.Errorf("the staff reply does not carry the staff member's words:\n%s", text)
	}
	if a := w.waitAudit("triage.staff_reply", it.ID); a.Reference != it.Reference {
		t.Errorf("audit row of the reply = %+v, want reference %s", a, it.Reference)
	}
	// Instructions, accepted, acknowledgement, staff reply.
	if n := w.sentTo(addr, ""); n != 4 {
		t.Errorf("the resident got %d emails, want 4", n)
	}
}

// TestWalkProtected: an S/MIME-encrypted reply gets the receipt and raises
// a protected item; staff upload the form saved from Outlook through the
// page, the form is read, they accept it, and the resident gets the
// recorded email. The upload and the accept are audited.
func TestWalkProtected(t *testing.T) {
	t.Parallel()
	w := startWalk(t, nil)
	const addr, nhs = "mary@example.org", "943 476 5919"
	instr := w.firstContact(addr)
	w.deliver(walkSMIMEReply(t, instr))
	w.waitSent(addr, vocab.KindReceipt, 0)
	it := w.waitItem(vocab.ReasonProtected, 0)
	if it.Reference != instr.ref {
		t.Errorf("item reference %q, want the conversation's %q", it.Reference, instr.ref)
	}

	w.open(it.ID)
	w.axe("walk protected")
	w.screenshot("walk-protected")
	if s := w.text("#protection-found"); !strings.Contains(strings.ToLower(s), "s/mime") {
		t.Errorf("the page says %q, want the S/MIME encryption named", s)
	}
	walkUploadAndAccept(w, it, addr, nhs, "Mary", "Seacole", "walk protected")
	// Instructions, receipt, recorded: never a "no form".
	if n := w.sentTo(addr, ""); n != 3 {
		t.Errorf("the resident got %d emails, want 3", n)
	}
}

// walkSMIMEReply is the resident's reply to our message to, encrypted with
// S/MIME by their mail client: the whole message is one
// application/pkcs7-mime part (the enveloped data of fixtures/mail's
// smime-encrypted.eml).
func walkSMIMEReply(t *testing.T, to sentMail) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "mail", "smime-encrypted.eml"))
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	_, body, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		t.Fatal("smime-encrypted.eml has no body")
	}
	m := replyTo(to, "", nil)
	var b strings.Builder
	b.WriteString("From: Resident <" + m.From + ">\r\nTo: " + m.To + "\r\n" + m.ThreadHeader())
	b.WriteString("MIME-Version: 1.0\r\nContent-Disposition: attachment; filename=\"smime.p7m\"\r\n" +
		"Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n")
	b.WriteString(strings.ReplaceAll(string(body), "\n", "\r\n"))
	return []byte(b.String())
}

// walkMailText returns the plain-text part of an email the daemon sent.
func walkMailText(t *testing.T, raw []byte) string {
	t.Helper()
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read a sent email: %v", err)
	}
	defer r.Close()
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			t.Fatal("a sent email has no plain-text part")
		}
		if err != nil {
			t.Fatalf("read a sent email: %v", err)
		}
		if h, ok := p.Header.(*mail.InlineHeader); ok {
			if ct, _, _ := h.ContentType(); ct == "text/plain" {
				b, err := io.ReadAll(p.Body)
				if err != nil {
					t.Fatalf("read a sent email: %v", err)
				}
				return string(b)
			}
		}
	}
}

// walkSummary returns the value of the item page's summary row headed key.
func walkSummary(w *walk, key string) string {
	w.t.Helper()
	v, err := chromedp.Run(w.b, chromedp.Evaluate[string](fmt.Sprintf(`(() => {
		for (const row of document.querySelectorAll('.summary-list__row')) {
			const dt = row.querySelector('dt');
			if (dt && dt.textContent.trim() === %q) return row.querySelector('dd').textContent.trim();
		}
		return '';
	})()`, key)))
	if err != nil {
		w.t.Fatalf("read the summary row %s: %v", key, err)
	}
	return v
}

// walkValue returns the value of the form control sel selects.
func walkValue(w *walk, sel string) string {
	w.t.Helper()
	v, err := chromedp.Run(w.b, chromedp.Evaluate[string](fmt.Sprintf("document.querySelector(%q).value", sel)))
	if err != nil {
		w.t.Fatalf("read the value of %s: %v", sel, err)
	}
	return v
}

// walkSnippet returns the value of the first snippet the page offers.
func walkSnippet(w *walk) string {
	w.t.Helper()
	if !w.has("#snippet option") {
		w.t.Fatal("the page offers no snippet")
	}
	return walkValue(w, "#snippet option")
}

// walkCalendarDays counts the London calendar days from a's date to b's.
func walkCalendarDays(loc *time.Location, a, b time.Time) int {
	ya, ma, da := a.In(loc).Date()
	yb, mb, db := b.In(loc).Date()
	return int(time.Date(yb, mb, db, 12, 0, 0, 0, time.UTC).Sub(time.Date(ya, ma, da, 12, 0, 0, 0, time.UTC)).Hours()+1) / 24
}

// londonTZ is the time zone the pages show dates in.
func londonTZ(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestWalkQuestionAnswered (issue 14, done when): a question arrives as a
// first contact through the real daemon; staff open it and write back; the
// reply reaches the SMTP sink in the same secure thread (In-Reply-To and
// References name the resident's message, our signed Message-ID carries the
// item's reference); the resident's answer to it reopens the item, whose
// page shows the answer and the whole thread.
func TestWalkQuestionAnswered(t *testing.T) {
	t.Parallel()
	w := startWalk(t, nil)
	ctx := context.Background()
	const addr = "ada@example.org"
	q := resident.Mail{From: addr, To: rigAddress, Subject: "London Care Record", MessageID: resident.NewMessageID(),
		Body: "What information is actually shared? Can the hospital see my mental health notes? I have not decided whether to opt out yet."}
	w.deliver(q.Bytes())
	w.waitSent(addr, vocab.KindEnquiry, 0)
	it := w.waitItem(vocab.ReasonQuestion, 0)

	w.open(it.ID)
	const words = "Your care team sees what it needs to care for you; mental health notes are shared only with your consent."
	w.do("write back",
		chromedp.SendKeys(chromedp.CSS("#reply"), words),
		chromedp.Click(chromedp.CSS("#send-reply")),
		chromedp.WaitVisible(chromedp.CSS("#waiting")),
	)
	got := w.waitSent(addr, vocab.KindStaffReply, 0)
	m, err := mail.CreateReader(bytes.NewReader(got.raw))
	if err != nil {
		t.Fatal(err)
	}
	inReplyTo, _ := m.Header.MsgIDList("In-Reply-To")
	refs, _ := m.Header.MsgIDList("References")
	if len(inReplyTo) != 1 || inReplyTo[0] != q.MessageID || !slices.Contains(refs, q.MessageID) {
		t.Errorf("the staff reply has In-Reply-To %v and References %v, want the question's Message-ID %s", inReplyTo, refs, q.MessageID)
	}
	if !strings.HasPrefix(got.subject, "[secure]") || !strings.Contains(got.subject, it.Reference) {
		t.Errorf("the staff reply's subject %q, want [secure] and %s", got.subject, it.Reference)
	}
	key, err := base64.StdEncoding.DecodeString(w.rig.env["OPTOUT_TOKEN_KEY"])
	if err != nil {
		t.Fatal(err)
	}
	if ref, ok := (notify.Signer{Key: key}).Verify(got.messageID); !ok || ref != it.Reference {
		t.Errorf("the staff reply's Message-ID %s verifies as %q, %v; want our signature on %s", got.messageID, ref, ok, it.Reference)
	}
	if waiting, err := w.st.WaitingOnResident(ctx, it.ConversationID); err != nil || !waiting {
		t.Errorf("after the reply the item waits for the resident = %v (%v), want true", waiting, err)
	}

	// The resident answers the staff reply: the item reopens.
	const answer = "Thank you. Could you also tell me whether my GP can see the hospital's notes?"
	w.deliver(replyTo(got, answer, nil).Bytes())
	w.wait("the answer reopens the item", func() bool {
		waiting, err := w.st.WaitingOnResident(ctx, it.ConversationID)
		return err == nil && !waiting
	})
	w.open(it.ID)
	if w.has("#waiting") {
		t.Error("the answered item still says it waits")
	}
	if s := w.text("#answer"); !strings.Contains(s, "whether my GP can see") {
		t.Errorf("the page shows the answer %q, want the resident's words", s)
	}
	thread := w.text("#conversation")
	for _, s := range []string{q.Subject, got.subject, "RE: " + got.subject} {
		if !strings.Contains(thread, s) {
			t.Errorf("the conversation on the page does not show %q:\n%s", s, thread)
		}
	}
	if items, err := w.st.ListTriage(ctx, store.TriageFilter{Limit: 100}); err != nil || len(items) != 1 || items[0].ID != it.ID {
		t.Errorf("open items after the answer: %d (%v), want only the reopened question", len(items), err)
	}
	// The acknowledgement and the staff reply: the answer gets no automatic reply.
	if n := w.sentTo(addr, ""); n != 2 {
		t.Errorf("the resident got %d emails, want 2", n)
	}
}

// TestWalkProtectedAnswer: the resident asks a question, staff write back,
// and the resident answers with the form in an S/MIME-encrypted email. The
// question item reopens with the encrypted-message block; staff upload the
// form saved from Outlook in Chromium and accept it; the resident gets one
// receipt and the recorded email.
func TestWalkProtectedAnswer(t *testing.T) {
	t.Parallel()
	w := startWalk(t, nil)
	ctx := context.Background()
	const addr, nhs = "lily@example.org", "943 476 5919"
	q := resident.Mail{From: addr, To: rigAddress, Subject: "London Care Record", MessageID: resident.NewMessageID(),
		Body: "Before I opt out, can you tell me whether my GP will still see my hospital letters?"}
	w.deliver(q.Bytes())
	w.waitSent(addr, vocab.KindEnquiry, 0)
	it := w.waitItem(vocab.ReasonQuestion, 0)

	w.open(it.ID)
	w.do("write back",
		chromedp.SendKeys(chromedp.CSS("#reply"), "Yes, your GP still sees them. Please send us the form."),
		chromedp.Click(chromedp.CSS("#send-reply")),
		chromedp.WaitVisible(chromedp.CSS("#waiting")),
	)
	staff := w.waitSent(addr, vocab.KindStaffReply, 0)
	w.waitAudit("triage.staff_reply", it.ID)

	// The resident answers with the form, encrypted: a receipt, and the
	// question item reopens (no second item).
	w.deliver(walkSMIMEReply(t, staff))
	w.waitSent(addr, vocab.KindReceipt, 0)
	w.wait("the encrypted answer reopens the item", func() bool {
		waiting, err := w.st.WaitingOnResident(ctx, it.ConversationID)
		return err == nil && !waiting
	})
	if items, err := w.st.ListTriage(ctx, store.TriageFilter{Limit: 100}); err != nil || len(items) != 1 || items[0].ID != it.ID {
		t.Errorf("open items after the answer: %d (%v), want only the reopened question", len(items), err)
	}

	w.open(it.ID)
	w.axe("walk protected answer")
	if w.has("#waiting") {
		t.Error("the answered item still says it waits")
	}
	if s := w.text("#protection-found"); !strings.Contains(strings.ToLower(s), "s/mime") {
		t.Errorf("the page says %q, want the S/MIME encryption of the answer named", s)
	}
	if sb := walkUploadAndAccept(w, it, addr, nhs, "Lily", "Ebert", "walk protected answer"); sb.Channel != vocab.ChannelSecureReply {
		t.Errorf("the uploaded form came in by %q, want a secure reply", sb.Channel)
	}
	// The acknowledgement, the staff reply, one receipt, the recorded email.
	if n, r := w.sentTo(addr, ""), w.sentTo(addr, vocab.KindReceipt); n != 4 || r != 1 {
		t.Errorf("the resident got %d emails (%d receipts), want 4 with one receipt", n, r)
	}
}

// walkUploadAndAccept uploads, on the open page of the encrypted item it,
// the form of first last (NHS number nhs) as staff save it from Outlook,
// checks the form is read and the upload audited without the file name,
// accepts it, and checks the recorded email to addr, the audit of the
// accept, the closed item and the register. It returns the form's
// submission.
func walkUploadAndAccept(w *walk, it store.TriageItem, addr, nhs, first, last, name string) store.Submission {
	w.t.Helper()
	t, ctx := w.t, context.Background()
	file := filepath.Join(t.TempDir(), "optout-form.txt")
	if err := os.WriteFile(file, walkForm(first, last, nhs).Data, 0o600); err != nil {
		t.Fatal(err)
	}
	w.do("upload the form saved from Outlook",
		chromedp.SetUploadFiles(chromedp.CSS("#upload"), []string{file}),
		chromedp.Click(chromedp.CSS("#upload-form")),
		chromedp.WaitVisible(chromedp.CSS("#upload-done")),
	)
	w.axe(name + " after upload")
	if v := walkValue(w, "#f-last_name"); v != last {
		t.Errorf("after the upload the form's last name reads %q, want the uploaded form's", v)
	}
	d, err := w.st.TriageItemDetail(ctx, it.ID, store.System)
	if err != nil {
		t.Fatal(err)
	}
	if d.Submission == nil {
		t.Fatal("after the upload the item has no submission")
	}
	if a := w.waitAudit("triage.upload", d.Submission.ID); a.Reference != it.Reference || strings.Contains(a.Detail, "optout-form") {
		t.Errorf("audit row of the upload = %+v, want reference %s and not the file name", a, it.Reference)
	}
	w.do("accept", chromedp.Click(chromedp.CSS("#accept")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	if got := w.waitSent(addr, vocab.KindAccepted, 0); got.ref != it.Reference {
		t.Errorf("the recorded email carries reference %q, want %s", got.ref, it.Reference)
	}
	if a := w.waitAudit("triage.accepted", it.ID); a.Reference != it.Reference {
		t.Errorf("audit row of the accept = %+v, want reference %s", a, it.Reference)
	}
	if c := w.closed(it.ID); c.Outcome != vocab.OutcomeAccepted || c.ClosedBy != w.staff.ID {
		t.Errorf("closed item = %+v, want accepted by staff %d", c, w.staff.ID)
	}
	if p, err := w.st.FindPerson(ctx, nhs, store.System); err != nil || p.State != store.OptedOut {
		t.Errorf("the register holds %+v (%v), want the opt-out", p, err)
	}
	return *d.Submission
}
