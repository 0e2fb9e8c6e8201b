package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// queueMail queues one email on the conversation of a seeded item and
// returns its outbox id.
func (e *env) queueMail(kind vocab.Kind) int64 {
	e.t.Helper()
	ctx := context.Background()
	_, ref := e.seed(item{Fields: goodFields("1")})
	conv, err := e.st.ConversationByReference(ctx, ref)
	if err != nil {
		e.t.Fatal(err)
	}
	n := uid.Add(1)
	raw := fmt.Sprintf("From: <joined-up.care-record@nhs.net>\r\nTo: <%s>\r\nSubject: [secure] Your opt-out %s\r\n\r\nHello\r\n", residentAddr, ref)
	led, _, err := e.st.RecordMessage(ctx, store.IncomingMessage{Mailbox: "setup", UIDValidity: 1, UID: n, ReceivedAt: time.Now()})
	if err != nil {
		e.t.Fatalf("RecordMessage: %v", err)
	}
	res, err := e.st.CompleteMessage(ctx, &store.Plan{LedgerID: led.ID, Folder: vocab.FolderProcessed, Action: vocab.ActionInstructions,
		ConversationID: conv.ID, Emails: []*store.Email{{Kind: kind, Subject: "s", Body: raw, MessageID: fmt.Sprintf("o%d@test", n)}}})
	if err != nil || len(res.Queued) != 1 {
		e.t.Fatalf("queue an email: %v (%d queued)", err, len(res.Queued))
	}
	return res.Queued[0]
}

func outboxRow(t *testing.T, st *store.Store, id int64) store.OutboxMessage {
	t.Helper()
	for _, state := range []store.OutboxState{store.OutboxPending, store.OutboxFailed, store.OutboxUndeliverable, store.OutboxCancelled, store.OutboxSent} {
		list, err := st.ListOutbox(context.Background(), store.OutboxFilter{State: state, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range list {
			if m.ID == id {
				return m
			}
		}
	}
	t.Fatalf("outbox row %d not found", id)
	return store.OutboxMessage{}
}

// TestOutgoingMailPage lists waiting and refused emails for viewers, and
// lets triagers send again, cancel, or correct the address, each audited.
func TestOutgoingMailPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	waiting := e.queueMail(vocab.KindAccepted)
	failed := e.queueMail(vocab.KindRejected)
	bounced := e.queueMail(vocab.KindReceipt)
	sent := e.queueMail(vocab.KindNoForm)
	if err := e.st.RetryOutbox(ctx, waiting, time.Now().Add(time.Hour), "451 4.3.0 try later"); err != nil {
		t.Fatal(err)
	}
	if err := e.st.FailOutbox(ctx, failed, "550 5.7.1 refused"); err != nil {
		t.Fatal(err)
	}
	if err := e.st.MarkUndeliverable(ctx, outboxRow(t, e.st, bounced).MessageID, "550 5.1.1 user unknown"); err != nil {
		t.Fatal(err)
	}
	if err := e.st.MarkSent(ctx, sent, outboxRow(t, e.st, sent).MessageID); err != nil {
		t.Fatal(err)
	}

	viewer := e.signIn(e.viewer)
	resp, body := viewer.get("/outbox")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /outbox as viewer = %d", resp.StatusCode)
	}
	for _, want := range []string{"3 emails waiting or refused, 2 refused or bounced", "Retrying", "451 4.3.0 try later",
		"550 5.7.1 refused", "Bounced", residentAddr, fmt.Sprintf(`id="mail-%d"`, waiting)} {
		if !strings.Contains(body, want) {
			t.Errorf("outgoing mail page lacks %q", want)
		}
	}
	if strings.Contains(body, fmt.Sprintf(`id="mail-%d"`, sent)) {
		t.Errorf("a sent email is listed")
	}
	if strings.Contains(body, "/retry") {
		t.Errorf("a viewer is offered actions")
	}
	if resp, _ := viewer.post(fmt.Sprintf("/outbox/%d/retry", failed), nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer retry = %d, want 403", resp.StatusCode)
	}

	c := e.signIn(e.triager)
	if resp, _ := c.post(fmt.Sprintf("/outbox/%d/retry", failed), url.Values{"csrf": {"wrong"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("retry without the CSRF token = %d, want 403", resp.StatusCode)
	}
	resp, _ = c.post(fmt.Sprintf("/outbox/%d/retry", failed), nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/outbox?done=retried" {
		t.Fatalf("retry = %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if m := outboxRow(t, e.st, failed); m.State != store.OutboxPending {
		t.Errorf("after retry the email is %s, want pending", m.State)
	}
	claimed, err := e.st.ClaimOutbox(ctx, 10, time.Minute)
	if err != nil || len(claimed) != 1 || claimed[0].ID != failed {
		t.Errorf("due after send now: %d emails (%v), want only email %d", len(claimed), err, failed)
	}
	if resp, _ := c.post(fmt.Sprintf("/outbox/%d/cancel", waiting), nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("cancel = %d", resp.StatusCode)
	}
	if m := outboxRow(t, e.st, waiting); m.State != store.OutboxCancelled {
		t.Errorf("after cancel the email is %s", m.State)
	}
	if resp, _ := c.post(fmt.Sprintf("/outbox/%d/cancel", sent), nil); resp.StatusCode != http.StatusConflict {
		t.Errorf("cancel a sent email = %d, want 409", resp.StatusCode)
	}
	for _, bad := range []string{"", "not an address", "Name <x@example.org>", "a@b.c, d@e.f", "x@localhost"} {
		if resp, _ := c.post(fmt.Sprintf("/outbox/%d/address", bounced), url.Values{"address": {bad}}); resp.StatusCode != 422 {
			t.Errorf("correct the address to %q = %d, want 422", bad, resp.StatusCode)
		}
	}
	if resp, _ := c.post(fmt.Sprintf("/outbox/%d/address", bounced), url.Values{"address": {"Resident.Fixed@Example.org"}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("correct the address = %d", resp.StatusCode)
	}
	m := outboxRow(t, e.st, bounced)
	if m.State != store.OutboxPending || m.To != "resident.fixed@example.org" || !strings.Contains(m.Body, "To: <resident.fixed@example.org>\r\n") ||
		strings.Contains(m.Body, residentAddr) {
		t.Errorf("after correcting: state %s, to %q, body header %q", m.State, m.To, strings.SplitN(m.Body, "\r\n\r\n", 2)[0])
	}
	// The sealed column holds no address in clear.
	var clear int
	if err := e.st.Pool().QueryRow(ctx, `select count(*) from outbox where position('fixed@'::bytea in recipient) > 0`).Scan(&clear); err != nil || clear != 0 {
		t.Errorf("corrected address in clear in the outbox: %d, %v", clear, err)
	}
	for action, n := range map[string]int{"outbox.retry_now": 1, "outbox.cancel": 1, "outbox.correct_address": 1} {
		a, _ := e.st.ListAudit(ctx, store.AuditFilter{Action: action})
		if len(a) != n || (n > 0 && a[0].Actor != store.Actor(e.triager.ID)) {
			t.Errorf("audit %s = %d entries, want %d by the triager", action, len(a), n)
		}
		for _, x := range a {
			if strings.Contains(x.Detail, "@") {
				t.Errorf("audit %s detail %q holds an address", action, x.Detail)
			}
		}
	}
	if a, _ := e.st.ListAudit(ctx, store.AuditFilter{Action: "outbox.view"}); len(a) == 0 {
		t.Errorf("viewing the outgoing mail page was not audited")
	}
}
