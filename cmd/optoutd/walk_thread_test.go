package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// threadCell is one row of the conversation table as the browser shows it.
type threadCell struct {
	Direction string `json:"direction"`
	From      string `json:"from"`
	To        string `json:"to"`
	Subject   string `json:"subject"`
	Outcome   string `json:"outcome"`
	When      string `json:"when"`
}

// TestWalkConversationThread (issue 9 item 2): the real daemon answers a
// first contact with the instructions, a reply without a form with the
// "no form" ask, and sends a second reply without a form to staff. The
// item's page shows the whole thread in time order: the three messages in
// (the two answered automatically too, which raised no item) and the two
// replies out, each with its direction, addresses, subject and what
// became of it.
func TestWalkConversationThread(t *testing.T) {
	t.Parallel()
	w := startWalk(t, nil)
	const addr = "grace@example.org"
	instr := w.firstContact(addr)
	w.deliver(replyTo(instr, "Please find my form attached.", nil).Bytes())
	ask := w.waitSent(addr, vocab.KindNoForm, 0)
	second := replyTo(ask, "Please find my form attached.", nil)
	w.deliver(second.Bytes())
	it := w.waitItem(vocab.ReasonNoFormAgain, 0)
	w.wait("both replies marked sent", func() bool {
		out, err := w.st.ListOutbox(context.Background(), store.OutboxFilter{ConversationID: it.ConversationID})
		return err == nil && len(out) == 2 && out[0].State == store.OutboxSent && out[1].State == store.OutboxSent
	})

	if n := w.sentTo(addr, vocab.KindNoForm); n != 1 {
		t.Errorf("the resident was asked %d times for the form, want once", n)
	}

	w.open(it.ID)
	if w.has("#related") {
		t.Errorf("the page offers other items to decide together, but the conversation has no other")
	}
	rows, err := chromedp.Run(w.b, chromedp.Evaluate[[]threadCell](`[...document.querySelectorAll('#conversation tbody tr')].map(tr => {
		const c = l => tr.querySelector('td[data-label="' + l + '"]').innerText.trim();
		return {when: c('When'), direction: c('Direction'), from: c('From'), to: c('To'), subject: c('Subject'), outcome: c('What happened')};
	})`))
	if err != nil {
		t.Fatalf("read the conversation table: %v", err)
	}
	us := "This service (" + rigAddress + ")"
	want := []threadCell{
		{Direction: "In", From: addr, To: us, Subject: "Opting out", Outcome: vocab.ActionInstructions.Text()},
		{Direction: "Out", From: us, To: addr, Subject: instr.subject, Outcome: "Secure email instructions: Sent"},
		{Direction: "In", From: addr, To: us, Subject: "RE: " + instr.subject, Outcome: vocab.ActionNoForm.Text()},
		{Direction: "Out", From: us, To: addr, Subject: ask.subject, Outcome: "No form found: Sent"},
		{Direction: "In This item", From: addr, To: us, Subject: second.Subject, Outcome: vocab.ActionNoFormAgain.Text()},
	}
	if len(rows) != len(want) {
		t.Fatalf("the conversation shows %d rows, want %d:\n%s", len(rows), len(want), showRows(rows))
	}
	for i, wr := range want {
		g := rows[i]
		if g.Direction != wr.Direction || g.From != wr.From || g.To != wr.To || g.Subject != wr.Subject || !strings.HasPrefix(g.Outcome, wr.Outcome) || g.When == "" {
			t.Errorf("row %d = %+v\nwant %+v", i+1, g, wr)
		}
	}
	if t.Failed() {
		t.Logf("the conversation as shown:\n%s", showRows(rows))
	}
	w.axe("conversation thread")
	w.screenshot("conversation-thread")
}

// showRows lists the rows of the conversation table, one a line.
func showRows(rows []threadCell) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s | %s | %s -> %s | %s | %s\n", r.When, r.Direction, r.From, r.To, r.Subject, r.Outcome)
	}
	return b.String()
}
