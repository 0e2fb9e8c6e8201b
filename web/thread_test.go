package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// TestConversationView: an item of a message with three forms shows the
// other two as items to decide together, and the thread in order, with a
// message that raised nothing (an automatic reply) in its place.
func TestConversationView(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	first, ref := e.seed(item{Fields: goodFields(validNHS[0])})
	det, err := e.st.TriageItemDetail(ctx, first, store.System)
	if err != nil {
		t.Fatal(err)
	}
	// An automatic reply in the thread raises nothing, yet is in the thread.
	oof, _, err := e.st.RecordMessage(ctx, store.IncomingMessage{Mailbox: "INBOX", UIDValidity: 1, UID: 800000 + uint32(first),
		MessageID: "away@example.org", ReceivedAt: time.Now(), Size: 10, Raw: []byte("Subject: Away\r\n\r\nAway.\r\n"),
		Header: store.MessageHeader{From: residentAddr, MessageID: "away@example.org", Subject: "Automatic reply: away"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.CompleteMessage(ctx, &store.Plan{LedgerID: oof.ID, Folder: vocab.FolderAuto, Action: vocab.ActionAuto,
		ConversationID: det.Item.ConversationID}); err != nil {
		t.Fatal(err)
	}
	raw := "From: Resident <" + residentAddr + ">\r\nSubject: Three forms\r\nMessage-ID: <three@example.org>\r\nDate: Tue, 5 May 2026 09:00:00 +0100\r\n\r\nForms attached.\r\n"
	led, _, err := e.st.RecordMessage(ctx, store.IncomingMessage{Mailbox: "INBOX", UIDValidity: 1, UID: 900000 + uint32(first),
		MessageID: "three@example.org", ReceivedAt: time.Now(), Size: int64(len(raw)), Raw: []byte(raw),
		Header: store.MessageHeader{From: residentAddr, MessageID: "three@example.org", Subject: "Three forms"}})
	if err != nil {
		t.Fatal(err)
	}
	p := &store.Plan{LedgerID: led.ID, Kind: "form", Folder: vocab.FolderTriage, Action: vocab.ActionForms, ConversationID: det.Item.ConversationID,
		Emails: []*store.Email{{Kind: vocab.KindReceipt, To: residentAddr, Subject: "Your forms arrived", Body: "Subject: Your forms arrived\r\n\r\nThanks\r\n",
			MessageID: fmt.Sprintf("receipt-%d@optout.test", first), Key: fmt.Sprintf("receipt-%d", first)}}}
	for i, name := range []string{"Grace", "Alan", "Mary"} {
		f := form.Form{Source: "body", Format: form.FormatText, Fields: goodFields(validNHS[i])}
		f.Fields.FirstName = name
		form.Finish(&f, time.Now())
		sub := &store.NewSubmission{Form: f, Status: vocab.StatusTriage}
		p.Submissions = append(p.Submissions, sub)
		p.Triage = append(p.Triage, &store.NewTriage{Reason: vocab.ReasonInvalidForm, Submission: sub})
	}
	res, err := e.st.CompleteMessage(ctx, p)
	if err != nil || len(res.Triage) != 3 {
		t.Fatalf("CompleteMessage: %v, %d items", err, len(res.Triage))
	}
	c := e.signIn(e.viewer)
	_, body := c.get(fmt.Sprintf("/items/%d", res.Triage[0]))
	for _, id := range []int64{first, res.Triage[1], res.Triage[2]} {
		if !strings.Contains(body, fmt.Sprintf(`<a href="/items/%d">`, id)) {
			t.Errorf("item page does not link the other open item %d", id)
		}
	}
	if n := strings.Count(body, "(same email)"); n != 2 {
		t.Errorf("%d items marked as from the same email, want 2", n)
	}
	if !strings.Contains(body, ref) {
		t.Errorf("conversation reference not shown")
	}
	// The thread: the first message, the automatic reply, then the three
	// forms, then our receipt, each with what became of it.
	i1 := strings.Index(body, "(no subject)") // recorded without its header facts
	iAuto := strings.Index(body, "Automatic reply: away</td>")
	i2 := strings.Index(body, "Three forms</td>")
	i3 := strings.Index(body, "Your forms arrived")
	if i1 < 0 || iAuto < i1 || i2 < iAuto || i3 < i2 || !strings.Contains(body, "Forms read") || !strings.Contains(body, "Form received: Waiting to be sent") ||
		!strings.Contains(body, "Automatic email: recorded, not answered") {
		t.Errorf("thread out of order or incomplete: %d %d %d %d", i1, iAuto, i2, i3)
	}
	if !strings.Contains(body, "This service (joined-up.care-record@nhs.net)") {
		t.Errorf("the thread does not show the service's own address")
	}
	if rows, _ := e.st.ListAudit(ctx, store.AuditFilter{Action: "conversation.view"}); len(rows) == 0 {
		t.Error("the view of the conversation is not audited")
	}

	// Accepting the second form: the outcome email says which form it is
	// about, never with its NHS number or date of birth.
	tr := e.signIn(e.triager)
	fields := goodFields(validNHS[1])
	fields.FirstName = "Alan"
	if resp, _ := tr.post(fmt.Sprintf("/items/%d/accept", res.Triage[1]), formValues(fields)); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("accept = %d", resp.StatusCode)
	}
	sent, err := e.st.ListOutbox(ctx, store.OutboxFilter{ConversationID: det.Item.ConversationID, Kind: vocab.KindAccepted})
	if err != nil || len(sent) != 1 {
		t.Fatalf("accepted emails = %d, %v", len(sent), err)
	}
	text := strings.Join(strings.Fields(strings.ReplaceAll(sent[0].Body, "=\r\n", "")), " ")
	if !strings.Contains(text, "This email is about the form for Alan L. (form 2 of 3 in your email).") ||
		strings.Contains(text, validNHS[1]) || strings.Contains(text, "1980") {
		t.Errorf("outcome email does not name the form, or names it by NHS number or birth date:\n%s", text)
	}
}
