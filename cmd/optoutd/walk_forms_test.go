package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-message/mail"

	"github.com/ncl-icb/optout-intake/internal/resident"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// The walk tests of the form reasons (issue 9): invalid_form rejected,
// unsolicited_form under policy "ask", photo_of_form keyed in, no_form_again
// answered in the secure thread, and an email carrying two forms. Each item
// is raised by the daemon from mail delivered to Dovecot; Chromium works its
// page; the sink and the audit show what the action did.

// TestWalkFormsRejectUnsolicitedTwoForms: an invalid form rejected with
// staff's own words; a form sent outside the secure exchange under policy
// "ask", keyed in and accepted, and another closed as not an opt-out; and an
// email with three forms, one valid and two invalid, each invalid one
// decided on its own page, whose outcome emails say which form they are
// about.
func TestWalkFormsRejectUnsolicitedTwoForms(t *testing.T) {
	t.Parallel()
	w := startWalk(t, func(env map[string]string) { env["OPTOUT_UNSOLICITED_POLICY"] = "ask" })
	w.walkInvalidReject()
	w.walkUnsolicited()
	w.walkTwoForms()
}

// TestWalkFormsPhotoNoFormAgain: a photo of the form keyed in and accepted,
// another rejected; and a second reply without a form answered by staff in
// the secure thread, reopened by the resident's answer and closed as
// answered by phone.
func TestWalkFormsPhotoNoFormAgain(t *testing.T) {
	t.Parallel()
	w := startWalk(t, nil)
	w.walkPhoto()
	w.walkNoFormAgain()
}

// walkInvalidReject: invalid_form, the reject path.
func (w *walk) walkInvalidReject() {
	t := w.t
	const addr = "rosalind@example.org"
	instr := w.firstContact(addr)
	w.deliver(replyTo(instr, "Please find my form attached.", walkForm("Rosalind", "Franklin", "943 476 5918")).Bytes())
	it := w.waitItem(vocab.ReasonInvalidForm, 0)
	w.waitSent(addr, vocab.KindReceipt, 0)

	w.open(it.ID)
	w.axe("invalid form, reject")
	w.screenshot("walk-invalid_form-reject")
	if !w.has("#reject") || !w.has("#reject-nhs_number") {
		t.Fatal("the invalid form's page offers no rejection with reasons")
	}
	const words = "Please copy the number from the letter your GP practice sent you."
	w.do("reject with a reason and our own words",
		chromedp.Click(chromedp.CSS("#reject-nhs_number")),
		chromedp.SendKeys(chromedp.CSS("#reject-detail"), words),
	)
	w.formsSubmit("#reject", formsQueue)
	got := w.waitSent(addr, vocab.KindRejected, 0)
	body := formsMailText(got.raw)
	if got.ref != it.Reference || !strings.Contains(got.subject, it.Reference) || !strings.Contains(body, it.Reference) {
		t.Errorf("rejected email: ref %q, subject %q, want the item's %s in both and in the text", got.ref, got.subject, it.Reference)
	}
	for _, want := range []string{words, "The NHS number is missing or is not a valid NHS number", "Dear Rosalind,"} {
		if !strings.Contains(formsOneLine(body), want) {
			t.Errorf("rejected email lacks %q:\n%s", want, body)
		}
	}
	a := w.waitAudit("triage.rejected", it.ID)
	if a.Reference != it.Reference || !strings.Contains(a.Detail, "reason=nhs_number+other") || strings.Contains(a.Detail, "GP practice") {
		t.Errorf("audit of the reject = %+v, want reference %s and the reason codes, not the words", a, it.Reference)
	}
	if c := w.closed(it.ID); c.Outcome != "rejected" || c.ClosedBy != w.staff.ID {
		t.Errorf("closed item = %+v, want rejected by staff %d", c, w.staff.ID)
	}
	w.formsOnly(addr, vocab.KindInstructions, vocab.KindReceipt, vocab.KindRejected)
}

// walkUnsolicited: unsolicited_form with OPTOUT_UNSOLICITED_POLICY=ask.
func (w *walk) walkUnsolicited() {
	t := w.t
	const addr = "chien-shiung@example.org"
	fresh := func(first, last string) store.TriageItem {
		w.deliver(resident.Mail{From: addr, To: rigAddress, Subject: "My opt-out form", Body: "Here is my opt-out form.",
			Attachment: walkForm(first, last, "951 819 0933")}.Bytes())
		n := w.sentTo(addr, vocab.KindInstructions)
		w.waitSent(addr, vocab.KindInstructions, n)
		w.waitSent(addr, vocab.KindUnsolicited, n)
		return w.formsWaitNewItem(vocab.ReasonUnsolicitedForm)
	}
	it := fresh("Chien-Shiung", "Wu")
	if it.Reference == "" {
		t.Fatalf("the unsolicited item %d has no conversation reference", it.ID)
	}
	instr := w.waitSent(addr, vocab.KindInstructions, 0)
	if instr.ref != it.Reference || !strings.Contains(instr.subject, "[secure]") {
		t.Errorf("instructions: ref %q subject %q, want the item's %s and [secure]", instr.ref, instr.subject, it.Reference)
	}

	w.open(it.ID)
	w.axe("unsolicited form")
	w.screenshot("walk-unsolicited_form")
	if s := w.text("section[aria-labelledby=form-heading]"); !strings.Contains(s, "No form was read") {
		t.Errorf("the form column says %q, want that no form was read (policy ask does not read it)", s)
	}
	// The form is not read under "ask", but staff key it in from the file.
	if !w.has(".original-text") || !strings.Contains(w.text(".original-text"), "NHS number: 951 819 0933") {
		t.Error("the unsolicited item's page does not show the attached form to key in from")
	}
	if !w.has("#accept") || !w.has("#reject") || !w.has("#close") {
		t.Error("the unsolicited item's page lacks accept, reject or close")
	}
	w.formsKeyIn("Chien-Shiung", "Wu", "951 819 0933")
	w.formsCheckAccept()
	got := w.waitSent(addr, vocab.KindAccepted, 0)
	if got.ref != it.Reference || !strings.Contains(formsMailText(got.raw), "Dear Chien-Shiung,") {
		t.Errorf("recorded email: ref %q, want %s, greeting the resident by the keyed-in name", got.ref, it.Reference)
	}
	a := w.waitAudit("triage.accepted", it.ID)
	if a.Reference != it.Reference {
		t.Errorf("audit of the accept = %+v, want reference %s", a, it.Reference)
	}
	if c := w.closed(it.ID); c.Outcome != "accepted" || c.ClosedBy != w.staff.ID {
		t.Errorf("closed item = %+v, want accepted by staff %d", c, w.staff.ID)
	}

	// A second one, which staff judge is not an opt-out request: closed
	// with the standard reply.
	it2 := fresh("Lise", "Meitner")
	w.open(it2.ID)
	w.do("close as not an opt-out, with the reply",
		chromedp.Click(chromedp.CSS("#close-reply")),
	)
	w.formsSubmit("#close", formsQueue)
	got = w.waitSent(addr, vocab.KindNotOptOut, 0)
	if got.ref != it2.Reference {
		t.Errorf("not-an-opt-out email carries ref %q, want %s", got.ref, it2.Reference)
	}
	a = w.waitAudit("triage.closed.not_optout", it2.ID)
	if a.Reference != it2.Reference || !strings.Contains(a.Detail, "reply=yes") {
		t.Errorf("audit of the close = %+v, want reference %s and reply=yes", a, it2.Reference)
	}
	w.formsOnly(addr, vocab.KindInstructions, vocab.KindUnsolicited, vocab.KindAccepted,
		vocab.KindInstructions, vocab.KindUnsolicited, vocab.KindNotOptOut)
}

// walkTwoForms: one email with several forms, two of them invalid.
func (w *walk) walkTwoForms() {
	t := w.t
	const addr = "grace@example.org"
	instr := w.firstContact(addr)
	// Three forms: a valid one, recorded by the daemon at once, and two
	// that fail Modulus 11, one item each.
	m := replyTo(instr, "Forms for our family attached.", walkForm("Barbara", "Hopper", "943 476 5870"))
	m.Attachment.Name = "optout-form-barbara.txt"
	grace, vincent := walkForm("Grace", "Hopper", "943 476 5918"), walkForm("Vincent", "Hopper", "951 819 0934")
	grace.Name, vincent.Name = "optout-form.txt", "optout-form.txt" // one name for two files, as phones save scans
	m.More = []resident.Attachment{*grace, *vincent}
	w.deliver(m.Bytes())
	first := w.formsWaitNewItem(vocab.ReasonInvalidForm)
	second := w.formsWaitNewItem(vocab.ReasonInvalidForm)
	w.waitSent(addr, vocab.KindReceipt, 0)
	auto := w.waitSent(addr, vocab.KindAccepted, 0)
	if first.Reference != instr.ref || second.Reference != instr.ref {
		t.Fatalf("items %d and %d have references %q and %q, want the conversation's %s", first.ID, second.ID, first.Reference, second.Reference, instr.ref)
	}

	w.open(first.ID)
	w.axe("two forms")
	w.screenshot("walk-invalid_form-two-forms")
	related := w.text("#related")
	if !strings.Contains(related, fmt.Sprintf("Item %d", second.ID)) || !strings.Contains(related, "same email") {
		t.Errorf("the first form's page lists %q, want item %d of the same email", related, second.ID)
	}
	if v := w.formsValue("#f-first_name"); v != "Grace" {
		t.Errorf("item %d shows the form of %q, want Grace's", first.ID, v)
	}
	// Of the three files, this item's own comes first, marked.
	w.formsThisFile("Grace")
	w.do("correct Grace's NHS number",
		chromedp.Clear(chromedp.CSS("#f-nhs_number")),
		chromedp.SendKeys(chromedp.CSS("#f-nhs_number"), "943 476 5919"),
	)
	w.formsCheckAccept()
	acc := w.waitSent(addr, vocab.KindAccepted, 1)
	w.waitAudit("triage.accepted", first.ID)

	w.open(second.ID)
	if v := w.formsValue("#f-first_name"); v != "Vincent" {
		t.Errorf("item %d shows the form of %q, want Vincent's", second.ID, v)
	}
	w.formsThisFile("Vincent")
	if w.has("#related") {
		t.Errorf("item %d still lists other open items after item %d was accepted: %q", second.ID, first.ID, w.text("#related"))
	}
	w.do("reject Vincent's form",
		chromedp.Click(chromedp.CSS("#reject-nhs_number")),
	)
	w.formsSubmit("#reject", formsQueue)
	rej := w.waitSent(addr, vocab.KindRejected, 0)
	w.waitAudit("triage.rejected", second.ID)

	for _, c := range []struct {
		m    sentMail
		want string
	}{
		{auto, "This email is about the form for Barbara H. (form 1 of 3 in your email)."},
		{acc, "This email is about the form for Grace H. (form 2 of 3 in your email)."},
		{rej, "This email is about the form for Vincent H. (form 3 of 3 in your email)."},
	} {
		body := formsOneLine(formsMailText(c.m.raw))
		if c.m.ref != instr.ref || !strings.Contains(body, c.want) {
			t.Errorf("%s email (ref %q) does not say %q:\n%s", c.m.kind, c.m.ref, c.want, body)
		}
		for _, pd := range []string{"943 476 5", "943476", "951 819 0", "951819", "14/03/1978", "1978-03-14", "Hopper"} {
			if strings.Contains(string(c.m.raw), pd) || strings.Contains(body, pd) {
				t.Errorf("%s email names the form by %q", c.m.kind, pd)
			}
		}
	}
	w.formsOnly(addr, vocab.KindInstructions, vocab.KindReceipt, vocab.KindAccepted, vocab.KindAccepted, vocab.KindRejected)
}

// walkPhoto: photo_of_form, keyed in and accepted; a second one rejected.
func (w *walk) walkPhoto() {
	t := w.t
	const addr = "mary@example.org"
	instr := w.firstContact(addr)
	jpg, err := os.ReadFile("../../fixtures/forms/phone-photo.jpg")
	if err != nil {
		t.Fatal(err)
	}
	photo := &resident.Attachment{Name: "IMG_2041.JPG", ContentType: "image/jpeg", Data: jpg}
	w.deliver(replyTo(instr, "I have taken a photo of the form.", photo).Bytes())
	it := w.formsWaitNewItem(vocab.ReasonPhotoOfForm)
	w.waitSent(addr, vocab.KindReceipt, 0)

	w.open(it.ID)
	w.axe("photo of the form")
	w.screenshot("walk-photo_of_form")
	shown, err := chromedp.Run(w.b, chromedp.Evaluate[bool](`(() => {
		const img = document.querySelector('.original-image img');
		return !!img && img.complete && img.naturalWidth === 240 && img.naturalHeight === 320;
	})()`))
	if err != nil || !shown {
		t.Errorf("the page does not show the photo (240x320) the resident sent (%v)", err)
	}
	for _, f := range []string{"#f-first_name", "#f-last_name", "#f-nhs_number", "#f-date_of_birth", "#f-postcode"} {
		if v := w.formsValue(f); v != "" {
			t.Errorf("%s holds %q before staff key anything in, want an empty form", f, v)
		}
	}
	w.formsKeyIn("Mary", "Somerville", "943 476 5870")
	w.formsCheckAccept()
	got := w.waitSent(addr, vocab.KindAccepted, 0)
	if got.ref != it.Reference || !strings.Contains(formsMailText(got.raw), "Dear Mary,") {
		t.Errorf("recorded email: ref %q, want %s, greeting the keyed-in name", got.ref, it.Reference)
	}
	a := w.waitAudit("triage.accepted", it.ID)
	if a.Reference != it.Reference || !strings.Contains(a.Detail, "corrected=all") {
		t.Errorf("audit of the accept = %+v, want reference %s and the whole form keyed in", a, it.Reference)
	}
	if c := w.closed(it.ID); c.Outcome != "accepted" || c.ClosedBy != w.staff.ID {
		t.Errorf("closed item = %+v, want accepted by staff %d", c, w.staff.ID)
	}
	w.formsOnly(addr, vocab.KindInstructions, vocab.KindReceipt, vocab.KindAccepted)

	// A second photo, too blurred to read: rejected.
	const addr2 = "ada.b@example.org"
	instr2 := w.firstContact(addr2)
	w.deliver(replyTo(instr2, "Photo attached.", photo).Bytes())
	it2 := w.formsWaitNewItem(vocab.ReasonPhotoOfForm)
	w.waitSent(addr2, vocab.KindReceipt, 0)
	w.open(it2.ID)
	w.do("reject the unreadable photo",
		chromedp.Click(chromedp.CSS("#reject-unreadable")),
	)
	w.formsSubmit("#reject", formsQueue)
	rej := w.waitSent(addr2, vocab.KindRejected, 0)
	if rej.ref != it2.Reference || !strings.Contains(formsOneLine(formsMailText(rej.raw)), "We could not open or read the file you sent.") {
		t.Errorf("rejected email: ref %q, want %s and the unreadable reason", rej.ref, it2.Reference)
	}
	a = w.waitAudit("triage.rejected", it2.ID)
	if a.Reference != it2.Reference || !strings.Contains(a.Detail, "reason=unreadable") {
		t.Errorf("audit of the reject = %+v, want reference %s, reason unreadable", a, it2.Reference)
	}
	w.formsOnly(addr2, vocab.KindInstructions, vocab.KindReceipt, vocab.KindRejected)
}

// walkNoFormAgain: two replies without a form, staff write back, the
// resident answers, staff close the item as answered by phone.
func (w *walk) walkNoFormAgain() {
	t := w.t
	ctx := context.Background()
	const addr = "dorothy@example.org"
	instr := w.firstContact(addr)
	w.deliver(replyTo(instr, "Please opt me out.", nil).Bytes())
	noForm := w.waitSent(addr, vocab.KindNoForm, 0)
	w.deliver(replyTo(noForm, "Please opt me out.", nil).Bytes())
	it := w.formsWaitNewItem(vocab.ReasonNoFormAgain)
	if it.Reference != instr.ref {
		t.Fatalf("item %d has reference %q, want the conversation's %s", it.ID, it.Reference, instr.ref)
	}
	// A snippet an administrator wrote on the snippets page (a setting,
	// not an item).
	const snippetBody = "You can also ask your GP practice for a paper copy of the form."
	admin, err := w.st.CreateStaff(ctx, "admin@nhs.net", "unused", store.RoleAdmin, store.System)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.SaveSnippet(ctx, 0, "Paper form", snippetBody, store.Actor(admin.ID)); err != nil {
		t.Fatal(err)
	}

	w.open(it.ID)
	w.axe("no form again")
	w.screenshot("walk-no_form_again")
	if !w.has("#reply") || !w.has("#answered") {
		t.Fatal("the no_form_again page offers no reply to the resident or no close as answered by phone or post")
	}
	if w.has("#reject") {
		t.Error("the no_form_again page offers to reject a form the resident never sent")
	}
	const words = "We have not had your form yet. Please reply to this email with it attached."
	w.do("write the reply and insert the snippet",
		chromedp.SendKeys(chromedp.CSS("#reply"), words),
	)
	w.formsSubmit("#insert-snippet", fmt.Sprintf(`(document.querySelector('#reply') || {}).value?.includes(%q)`, snippetBody))
	if v := w.formsValue("#reply"); !strings.HasPrefix(v, words) {
		t.Errorf("after inserting the snippet the reply reads %q, want our words first", v)
	}
	w.formsSubmit("#send-reply", `!!document.querySelector('#waiting')`)
	sr := w.waitSent(addr, vocab.KindStaffReply, 0)
	body := formsOneLine(formsMailText(sr.raw))
	if sr.ref != it.Reference || !strings.Contains(sr.subject, "[secure]") || !strings.Contains(sr.subject, it.Reference) {
		t.Errorf("staff reply: ref %q subject %q, want [secure] and %s", sr.ref, sr.subject, it.Reference)
	}
	for _, want := range []string{words, snippetBody, it.Reference} {
		if !strings.Contains(body, want) {
			t.Errorf("staff reply lacks %q:\n%s", want, body)
		}
	}
	a := w.waitAudit("triage.staff_reply", it.ID)
	if a.Reference != it.Reference || strings.Contains(a.Detail, "form") {
		t.Errorf("audit of the reply = %+v, want reference %s and no words of the reply", a, it.Reference)
	}
	if wt, err := w.st.ReplyWaitOf(ctx, it.ID); err != nil || wt.Since == nil {
		t.Errorf("after the reply the item's wait = %+v (%v), want it waiting", wt, err)
	}

	const answer = "Thank you, I will post the paper form to you this week."
	w.deliver(replyTo(sr, answer, nil).Bytes())
	w.wait("the item reopened by the answer", func() bool {
		wt, err := w.st.ReplyWaitOf(ctx, it.ID)
		return err == nil && wt.Since == nil && wt.AnswerLedgerID != 0
	})
	w.open(it.ID)
	if s := w.text("#answer"); !strings.Contains(formsOneLine(s), answer) {
		t.Errorf("the reopened item shows the answer %q, want %q", s, answer)
	}
	if w.has("#waiting") {
		t.Error("the reopened item still says it waits for the resident")
	}
	if n := w.formsQueued(addr); n != 3 {
		t.Errorf("%d emails queued to the resident after their answer, want 3 (instructions, no form, our reply): the answer is not answered by the daemon", n)
	}
	w.do("close as answered by phone",
		chromedp.SendKeys(chromedp.CSS("#offline-note"), "Rang the resident on 2 December; the form comes by post."),
	)
	w.formsSubmit("#answered", `!!document.querySelector('.notice') && !document.querySelector('#answered')`)
	a = w.waitAudit("triage.closed.answered_offline", it.ID)
	if a.Reference != it.Reference || strings.Contains(a.Detail, "Rang") {
		t.Errorf("audit of the close = %+v, want reference %s and not the note", a, it.Reference)
	}
	if c := w.closed(it.ID); c.Outcome != vocab.OutcomeAnsweredOffline || c.ClosedBy != w.staff.ID {
		t.Errorf("closed item = %+v, want %s by staff %d", c, vocab.OutcomeAnsweredOffline, w.staff.ID)
	}
	if n := w.formsQueued(addr); n != 3 {
		t.Errorf("%d emails queued to the resident after the close, want still 3: nothing is emailed", n)
	}
	w.formsOnly(addr, vocab.KindInstructions, vocab.KindNoForm, vocab.KindStaffReply)
}

// formsThisFile checks the item page shows first, marked as this item's,
// the file of first's form, among the files of its email.
func (w *walk) formsThisFile(first string) {
	w.t.Helper()
	if h := w.text(".original h3"); !strings.Contains(h, "This item's form") || !strings.Contains(w.text(".original .original-text"), "First name: "+first+"\n") {
		w.t.Errorf("the first file shown on %s's item is %q, want their form, marked as this item's", first, h)
	}
}

// formsKeyIn types a valid form's fields into the item page, as staff key
// in a form from its photo or its original.
func (w *walk) formsKeyIn(first, last, nhs string) {
	w.t.Helper()
	// Empty the fields first (chromedp's Clear fails on an empty textarea).
	steps := []chromedp.Action[chromedp.Void]{chromedp.Evaluate[chromedp.Void](
		`document.querySelectorAll('section[aria-labelledby=form-heading] input.input, section[aria-labelledby=form-heading] textarea').forEach(e => { e.value = ''; })`)}
	for _, f := range [][2]string{
		{"first_name", first}, {"last_name", last}, {"date_of_birth", "14/03/1978"}, {"nhs_number", nhs},
		{"gp_practice", "Example Road Surgery"}, {"postal_address", "1 Example Road, London"}, {"postcode", "N1 9GU"},
	} {
		steps = append(steps, chromedp.SendKeys(chromedp.CSS("#f-"+f[0]), f[1]))
	}
	w.do("key in the form", steps...)
	checked, err := chromedp.Run(w.b, chromedp.Evaluate[bool](`document.querySelector('#f-declaration').checked`))
	if err != nil {
		w.t.Fatal(err)
	}
	if !checked {
		w.do("tick the declaration", chromedp.Click(chromedp.CSS("#f-declaration")))
	}
}

// formsCheckAccept checks the form on the page, expects it to pass, then
// accepts it and waits for the queue.
func (w *walk) formsCheckAccept() {
	w.t.Helper()
	w.formsSubmit(`button[formaction$="/check"]`, `!!document.querySelector('section[aria-labelledby=form-heading] .notice, .error-summary')`)
	if w.has(".error-summary") {
		w.t.Fatalf("the keyed-in form fails its check: %s", w.text(".error-summary"))
	}
	if s := w.text("section[aria-labelledby=form-heading] .notice"); !strings.Contains(s, "passes every check") {
		w.t.Errorf("after the check the page says %q", s)
	}
	w.formsSubmit("#accept", formsQueue)
}

// formsQueue is true on the queue page a decision redirects to, with its
// notice.
const formsQueue = `location.pathname === '/queue' && !!document.querySelector('.notice')`

// formsSubmit clicks the button sel and waits up to 60 s for the page it
// leads to (not the page it was clicked on) to make js true.
func (w *walk) formsSubmit(sel, js string) {
	w.t.Helper()
	w.do("click "+sel,
		chromedp.Evaluate[chromedp.Void](`window.walkFormsOld = true`),
		chromedp.Click(chromedp.CSS(sel)),
	)
	w.wait("the page after "+sel, func() bool {
		ok, err := chromedp.Run(w.b, chromedp.Evaluate[bool](`!window.walkFormsOld && document.readyState === 'complete' && (`+js+`)`))
		return err == nil && ok
	})
}

// formsValue is the value of the form field sel.
func (w *walk) formsValue(sel string) string {
	w.t.Helper()
	v, err := chromedp.Run(w.b, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		w.t.Fatalf("read %s: %v", sel, err)
	}
	return v
}

// formsWaitNewItem waits for an open item of reason raised after every
// item this function returned before (the oldest such), and returns it.
func (w *walk) formsWaitNewItem(reason vocab.Reason) store.TriageItem {
	w.t.Helper()
	seen := formsSeen(w)
	var it store.TriageItem
	w.wait("a new open item of reason "+string(reason), func() bool {
		items, err := w.st.ListTriage(context.Background(), store.TriageFilter{Reason: reason, Limit: 100})
		if err != nil {
			return false
		}
		for _, i := range items {
			if i.ID > seen && (it.ID == 0 || i.ID < it.ID) {
				it = i
			}
		}
		return it.ID != 0
	})
	formsSeenIDs.Store(w, it.ID)
	return it
}

// formsSeenIDs holds, per walk, the id of the item formsWaitNewItem
// returned last, so a new item is told from older ones still open.
var formsSeenIDs sync.Map

func formsSeen(w *walk) int64 {
	v, _ := formsSeenIDs.Load(w)
	id, _ := v.(int64)
	return id
}

// formsQueued counts the emails ever queued to addr (the outbox, whether
// sent or not): a decision that queues nothing leaves it unchanged.
func (w *walk) formsQueued(addr string) int {
	w.t.Helper()
	n, err := w.st.CountRepliesTo(context.Background(), addr, time.Time{})
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

// formsOnly checks the sink holds exactly kinds (in any order) to addr.
func (w *walk) formsOnly(addr string, kinds ...vocab.Kind) {
	w.t.Helper()
	var got, want []string
	for _, m := range w.rig.sink.Messages() {
		if s := parseSent(m); s.to == addr {
			got = append(got, string(s.kind))
		}
	}
	for _, k := range kinds {
		want = append(want, string(k))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		w.t.Errorf("emails to %s: %v, want %v", addr, got, want)
	}
}

// formsMailText is the plain text of one of our emails, decoded.
func formsMailText(raw []byte) string {
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	defer r.Close()
	for {
		p, err := r.NextPart()
		if err != nil {
			return ""
		}
		if h, ok := p.Header.(*mail.InlineHeader); ok {
			if ct, _, _ := h.ContentType(); ct == "" || ct == "text/plain" {
				b, _ := io.ReadAll(p.Body)
				return strings.ReplaceAll(string(b), "\r\n", "\n")
			}
		}
	}
}

// formsOneLine joins wrapped lines, so words can be looked for across them.
func formsOneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
