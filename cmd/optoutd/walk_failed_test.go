package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ncl-icb/optout-intake/vocab"
)

// TestWalkProcessingFailed: a reply whose reading runs out of time
// (OPTOUT_EXTRACT_TIMEOUT, set as an operator would after a restart) is
// raised processing_failed, never answered automatically. Its page shows
// what is known of the message and offers the original as a download
// (audited as a download); staff write back to the resident in the secure
// thread, and close a second such item by keying in the form they read in
// the original and accepting it.
func TestWalkProcessingFailed(t *testing.T) {
	t.Parallel()
	w := startWalk(t, nil)
	const ann, ben = "ann.slow@example.org", "ben.slow@example.org"
	instrAnn, instrBen := w.firstContact(ann), w.firstContact(ben)

	// The operator restarts the service with a timeout no reading meets.
	w.stopDaemon()
	w.rig.env["OPTOUT_EXTRACT_TIMEOUT"] = "1ns" // expired before reading starts: deterministic
	w.startDaemon()
	w.deliver(replyTo(instrAnn, "My form is attached.", walkForm("Ann", "Slow", "943 476 5919")).Bytes())
	w.deliver(replyTo(instrBen, "Here is my form.", walkForm("Ben", "Slow", "951 819 0933")).Bytes())
	failed := w.waitItemRef(vocab.ReasonProcessingFailed, instrAnn.ref)
	failedBen := w.waitItemRef(vocab.ReasonProcessingFailed, instrBen.ref)
	if n := w.sentTo(ann, ""); n != 1 {
		t.Errorf("Ann got %d emails after the failed reading, want only the instructions", n)
	}

	w.open(failed.ID)
	w.axe("processing failed")
	w.screenshot("walk-processing_failed")
	w.checkRaw(failed, ann)
	for _, sel := range []string{"#raw-download", "#send-reply", "#answered", "#accept"} {
		if !w.has(sel) {
			t.Errorf("processing_failed page lacks %s", sel)
		}
	}
	for _, sel := range []string{"#bounce", "#senders", "#limited", "#protected", "#optbackin"} {
		if w.has(sel) {
			t.Errorf("processing_failed page shows %s, which is for another reason", sel)
		}
	}

	// The original downloads as an attachment, in the browser's session,
	// and the download (not the page view) leaves a message.download row.
	href, err := chromedp.Run(w.b, chromedp.Evaluate[string](`document.querySelector('#raw-download').getAttribute('href')`))
	if err != nil {
		t.Fatal(err)
	}
	body, status, disp := w.fetchInBrowser(href)
	if status != http.StatusOK || !strings.HasPrefix(disp, "attachment") || !strings.Contains(body, "My form is attached") {
		t.Errorf("download of the original = %d, %q, %d bytes; want the message as an attachment", status, disp, len(body))
	}
	w.waitAudit("message.download", failed.LedgerID)

	w.do("write back",
		chromedp.SendKeys(chromedp.CSS("#reply"), "We could not read your form automatically. A member of the team will look at it within 10 working days."),
		chromedp.Click(chromedp.CSS("#send-reply")),
		chromedp.WaitVisible(chromedp.CSS("#waiting")),
	)
	reply := w.waitSent(ann, vocab.KindStaffReply, 0)
	checkSent(t, reply, failed.Reference, "could not read your form automatically")
	if !strings.HasPrefix(reply.subject, "[secure] ") {
		t.Errorf("the staff reply's subject %q lacks the secure marker", reply.subject)
	}
	checkAudit(t, w.waitAudit("triage.staff_reply", failed.ID), failed.Reference)

	// Ben's: staff read the form in the original and key it in.
	w.open(failedBen.ID)
	w.do("key in the form and accept", miscKeyIn("Ben", "Slow", "951 819 0933")...)
	w.waitJS("back on the queue, accepted", `location.pathname === '/queue' && location.search === '?done=accepted'`)
	checkSent(t, w.waitSent(ben, vocab.KindAccepted, 0), failedBen.Reference)
	checkAudit(t, w.waitAudit("triage.accepted", failedBen.ID), failedBen.Reference)
	if it := w.closed(failedBen.ID); it.Outcome != vocab.OutcomeAccepted || it.ClosedBy != w.staff.ID {
		t.Errorf("closed item = %+v, want accepted by staff %d", it, w.staff.ID)
	}
	if n := w.sentTo(ben, ""); n != 2 {
		t.Errorf("Ben got %d emails, want 2 (instructions, recorded)", n)
	}
}

// fetchInBrowser fetches path with the browser's session and returns the
// body, status and Content-Disposition.
func (w *walk) fetchInBrowser(path string) (body string, status int, disposition string) {
	w.t.Helper()
	type result struct {
		Body        string `json:"body"`
		Status      int    `json:"status"`
		Disposition string `json:"disposition"`
	}
	r, err := chromedp.Run(w.b, chromedp.Evaluate[result](fmt.Sprintf(`fetch(%q).then(async r => ({
		status: r.status, disposition: r.headers.get('Content-Disposition') || '', body: await r.text()}))`, path), chromedp.EvalAwaitPromise))
	if err != nil {
		w.t.Fatalf("fetch %s in the browser: %v", path, err)
	}
	return r.Body, r.Status, r.Disposition
}
