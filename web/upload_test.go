package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
	"github.com/ncl-icb/optout-intake/web"
)

// upload posts file as the upload form of item id, with the client's CSRF
// token.
func (c *client) upload(id int64, name string, data []byte) (*http.Response, string) {
	c.e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("csrf", c.csrf)
	fw, err := mw.CreateFormFile("upload", name)
	if err != nil {
		c.e.t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	resp, err := c.http.Post(fmt.Sprintf("%s/items/%d/upload", c.e.srv.URL, id), mw.FormDataContentType(), &buf)
	if err != nil {
		c.e.t.Fatalf("upload: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// outgoingKinds are the kinds of the emails waiting to go to residentAddr.
func (e *env) outgoingKinds() []vocab.Kind {
	e.t.Helper()
	list, _, err := e.st.ListOutgoing(context.Background(), 100, store.System)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []vocab.Kind
	for _, m := range list {
		if m.To == residentAddr || m.To == "" {
			out = append(out, m.Kind)
		}
	}
	return out
}

// TestUploadOnProtectedItem: on a protected item staff upload the form
// saved from Outlook; it is read by the daemon's extractor and shown for
// the usual check; accepting it records the opt-out and queues the
// accepted email, which reaches the SMTP sink. Viewers see no upload form,
// a file without a form is refused, the upload is audited without the
// file's name, and a file over the per-file limit is refused.
func TestUploadOnProtectedItem(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *web.Deps) { d.Extractor = extract.New(extract.Limits{}, nil); d.MaxUploadBytes = 256 << 10 })
	rig := newMailRig(t, e)
	ctx := context.Background()
	id, _ := e.seed(item{Reason: vocab.ReasonProtected, NoForm: true, Body: "Resident has sent you a protected message."})
	data, err := os.ReadFile("../fixtures/forms/form.txt")
	if err != nil {
		t.Fatal(err)
	}

	_, body := e.signIn(e.viewer).get(fmt.Sprintf("/items/%d", id))
	if !strings.Contains(body, "Open it in Outlook, save the attachment, upload it here") {
		t.Errorf("the protected item does not say to open it in Outlook and upload the form:\n%.3000s", body)
	}
	if strings.Contains(body, `id="upload"`) {
		t.Error("a viewer is offered the upload form")
	}

	c := e.signIn(e.triager)
	_, body = c.get(fmt.Sprintf("/items/%d", id))
	if !strings.Contains(body, `enctype="multipart/form-data"`) || !strings.Contains(body, `id="upload"`) {
		t.Fatal("a triager is not offered the upload form")
	}
	if resp, body := c.upload(id, "note.txt", []byte("hello, nothing here")); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "No form could be read") {
		t.Errorf("upload of a file without a form = %d, want 422 with the reason", resp.StatusCode)
	}
	for _, size := range []int{300 << 10, 2 << 20} { // over the file limit; over the body limit too
		if resp, _ := c.upload(id, "big.txt", bytes.Repeat([]byte("x"), size)); resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("upload of %d bytes over the limit = %d, want 413", size, resp.StatusCode)
		}
	}
	resp, _ := c.upload(id, "form-from-outlook.txt", data)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload = %d, want 303", resp.StatusCode)
	}
	_, body = c.get(resp.Header.Get("Location"))
	if !strings.Contains(body, "Yusuf") || !strings.Contains(body, "The uploaded form is read") {
		t.Error("the item does not show the uploaded form's fields")
	}
	det, err := e.st.TriageItemDetail(ctx, id, store.System)
	if err != nil {
		t.Fatal(err)
	}
	if det.Submission == nil || det.Submission.Fields.NHSNumber != "9786579755" {
		t.Fatalf("the uploaded form is not the item's submission: %+v", det.Submission)
	}
	if !e.audited("triage.upload", det.Submission.ID) {
		t.Error("no triage.upload audit entry")
	}
	entries, err := e.st.ListAudit(ctx, store.AuditFilter{Action: "triage.upload", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range entries {
		if strings.Contains(fmt.Sprint(a), "form-from-outlook") {
			t.Error("the audit entry names the uploaded file")
		}
	}

	if resp, _ := c.post(fmt.Sprintf("/items/%d/accept", id), formValues(det.Submission.Fields)); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("accept = %d, want 303", resp.StatusCode)
	}
	p, err := e.st.FindPerson(ctx, "9786579755", store.System)
	if err != nil || p.State != store.OptedOut {
		t.Fatalf("the register has %+v (%v), want the person opted out", p, err)
	}
	if kinds := e.outgoingKinds(); len(kinds) != 1 || kinds[0] != vocab.KindAccepted {
		t.Fatalf("emails waiting: %v, want one accepted", kinds)
	}
	msgs := rig.send(1)
	if to := msgs[0].To; len(to) != 1 || to[0] != residentAddr {
		t.Errorf("the accepted email went to %v", to)
	}
}

// TestConfirmOptBackInOnItem: a resident whose opt-out is recorded asks
// to opt back in; the item shows they are opted out; "Record the opt back
// in" shows a confirmation page naming the email and address, and only
// confirmed=yes records it: the register shows the opt back in, the item
// closes and the opted-back-in email reaches the SMTP sink.
func TestConfirmOptBackInOnItem(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rig := newMailRig(t, e)
	ctx := context.Background()
	nhs := validNHS[2]
	first, ref := e.seed(item{Fields: goodFields(nhs)})
	c := e.signIn(e.triager)
	if resp, _ := c.post(fmt.Sprintf("/items/%d/accept", first), formValues(goodFields(nhs))); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("accept = %d, want 303", resp.StatusCode)
	}
	rig.send(1)
	rig.receive(fmt.Sprintf("From: Resident <%s>\nTo: joined-up.care-record@nhs.net\nSubject: Re: [secure] %s\nMessage-ID: <back-%d@example.org>\nDate: Tue, 5 May 2026 10:00:00 +0100\nContent-Type: text/plain; charset=utf-8\n\nI have changed my mind. Please opt me back in.\n",
		residentAddr, ref, uid.Add(1)))
	items, err := e.st.QueueTriage(ctx, store.QueueQuery{State: "open", Reason: string(vocab.ReasonOptBackIn)})
	if err != nil {
		t.Fatal(err)
	}
	if len(items.Items) != 1 {
		t.Fatalf("%d opt back in items, want 1", len(items.Items))
	}
	id := items.Items[0].ID
	_, body := c.get(fmt.Sprintf("/items/%d", id))
	if !mustRE(`id="register-state">Opted out<`).MatchString(body) {
		t.Error("the item does not show the person as opted out")
	}
	sentBefore := len(rig.sink.Messages())

	resp, body := c.post(fmt.Sprintf("/items/%d/optin", id), nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, residentAddr) || !strings.Contains(body, `You have opted back in`) {
		t.Fatalf("the first POST = %d, want the confirmation page naming the email and address:\n%.1500s", resp.StatusCode, body)
	}
	if p, _ := e.st.FindPerson(ctx, nhs, store.System); p.State != store.OptedOut {
		t.Fatal("the opt back in was recorded before it was confirmed")
	}
	resp, _ = c.post(fmt.Sprintf("/items/%d/optin", id), url.Values{"confirmed": {"yes"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirmed POST = %d, want 303", resp.StatusCode)
	}
	if p, err := e.st.FindPerson(ctx, nhs, store.System); err != nil || p.State != store.OptedIn {
		t.Fatalf("the register has %+v (%v), want opted back in", p, err)
	}
	det, err := e.st.TriageItemDetail(ctx, id, store.System)
	if err != nil || det.Item.State == "open" {
		t.Errorf("the item is still open (%v)", err)
	}
	if kinds := e.outgoingKinds(); !containsKind(kinds, vocab.KindOptedIn) {
		t.Errorf("emails waiting: %v, want the opted-back-in email", kinds)
	}
	msgs := rig.send(sentBefore + 1)
	if !strings.Contains(string(msgs[len(msgs)-1].Raw), ref) {
		t.Error("the opted-back-in email does not carry the conversation's reference")
	}
	if resp, _ := c.post(fmt.Sprintf("/items/%d/optin", id), url.Values{"confirmed": {"yes"}}); resp.StatusCode == http.StatusSeeOther {
		t.Error("a second confirm on the closed item was accepted")
	}
}

func containsKind(ks []vocab.Kind, k vocab.Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// TestOutgoingPausedBanner: the outgoing-mail page says in words when
// sending is paused and why, and says nothing while mail flows.
func TestOutgoingPausedBanner(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *web.Deps) { d.DailyLimit = 10000 })
	c := e.signIn(e.viewer)
	if _, body := c.get("/outbox"); strings.Contains(body, `id="sending-paused"`) {
		t.Error("the banner shows while sending is not paused")
	}
	until, err := e.st.PauseSending(context.Background(), vocab.PauseOutage, func(int) time.Duration { return time.Hour }, 10000)
	if err != nil {
		t.Fatal(err)
	}
	london, _ := time.LoadLocation("Europe/London")
	_, body := c.get("/outbox")
	want := "Sending paused until " + until.In(london).Format("15:04") + ": the mail server cannot be reached"
	if !strings.Contains(body, `id="sending-paused"`) || !strings.Contains(body, want) {
		t.Errorf("the outgoing-mail page does not say %q", want)
	}
}

// TestUploadInvalidFormThenReject: a form uploaded on a protected item that
// fails the usual check (a wrong NHS number) is shown with its problem and
// is rejected as any form is: the item closes and the rejected email waits
// for the resident; nothing is recorded in the register.
func TestUploadInvalidFormThenReject(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *web.Deps) { d.Extractor = extract.New(extract.Limits{}, nil) })
	ctx := context.Background()
	id, _ := e.seed(item{Reason: vocab.ReasonProtected, NoForm: true, Body: "Resident has sent you a protected message."})
	data, err := os.ReadFile("../fixtures/forms/bad-nhs-checksum.json")
	if err != nil {
		t.Fatal(err)
	}
	c := e.signIn(e.triager)
	resp, _ := c.upload(id, "form.json", data)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload of an invalid form = %d, want 303 (it is read, and staff decide)", resp.StatusCode)
	}
	det, err := e.st.TriageItemDetail(ctx, id, store.System)
	if err != nil {
		t.Fatal(err)
	}
	if det.Submission == nil || !slices.ContainsFunc(det.Submission.Problems, func(p form.Problem) bool { return p.Severity == form.SeverityError }) {
		t.Fatalf("the uploaded form is %+v, want a submission with an error on the item", det.Submission)
	}
	if resp, _ := c.post(fmt.Sprintf("/items/%d/reject", id), url.Values{"reason": {"nhs_number"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reject = %d, want 303", resp.StatusCode)
	}
	if det, err = e.st.TriageItemDetail(ctx, id, store.System); err != nil || det.Item.State != "closed" || det.Item.Outcome != vocab.OutcomeRejected {
		t.Errorf("after the reject the item is %+v (%v), want closed as rejected", det.Item, err)
	}
	if kinds := e.outgoingKinds(); len(kinds) != 1 || kinds[0] != vocab.KindRejected {
		t.Errorf("emails waiting: %v, want one rejected", kinds)
	}
	if _, err := e.st.FindPerson(ctx, det.Submission.Fields.NHSNumber, store.System); err == nil {
		t.Error("a rejected form put someone in the register")
	}
}
