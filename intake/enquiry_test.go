package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/extract/message"
	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// staffActor creates a triager and returns them as an actor.
func (r *rig) staffActor(t *testing.T) store.Actor {
	t.Helper()
	s, err := r.st.CreateStaff(context.Background(), "triager@nhs.example", "$argon2id$x", store.RoleTriager, store.System)
	if err != nil {
		t.Fatal(err)
	}
	return store.Actor(s.ID)
}

// openItem returns the one open triage item with reason, failing otherwise.
func (r *rig) openItem(t *testing.T, reason vocab.Reason) store.TriageItem {
	t.Helper()
	items, err := r.st.ListTriage(context.Background(), store.TriageFilter{Reason: reason})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 {
		t.Fatalf("open %s items = %d, want 1 (open: %v)", reason, len(items), r.openTriage())
	}
	return items[0]
}

// compose composes a staff decision's email to the conversation ref, as the
// triage page does.
func (r *rig) compose(t *testing.T, k vocab.Kind, ref string) *store.Email {
	t.Helper()
	b, id, subject, err := r.comp.Compose(notify.Reply{Kind: k, To: residentAddr, Data: notify.Data{Ref: ref}})
	if err != nil {
		t.Fatal(err)
	}
	return &store.Email{Kind: k, Subject: subject, Body: string(b), MessageID: id}
}

// export returns the register export's lines after the header.
func (r *rig) export(t *testing.T) []string {
	t.Helper()
	var b bytes.Buffer
	if _, err := r.st.ExportChanges(context.Background(), &b, time.Time{}, store.System); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	return lines[1:]
}

var headerLine = regexp.MustCompile(`(?m)^(From|Message-ID|References|In-Reply-To): .*\r?\n`)

// withHeaders replaces the From, Message-ID, References and In-Reply-To
// lines of raw's header (not its body: a quoted Outlook block has a From
// line too) with hdr.
func withHeaders(raw []byte, hdr string) []byte {
	end := bytes.Index(raw, []byte("\n\n"))
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 && (end < 0 || i < end) {
		end = i
	}
	if end < 0 {
		end = len(raw)
	}
	head := headerLine.ReplaceAll(raw[:end], nil)
	return slices.Concat([]byte(hdr), head, raw[end:])
}

// asReply turns a fixture email into a reply from residentAddr inside the
// thread of our message to.
func asReply(t *testing.T, name string, to sentMail) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "fixtures", "mail", name))
	if err != nil {
		t.Fatal(err)
	}
	return withHeaders(raw, fmt.Sprintf("From: <%s>\r\nMessage-ID: <%d.%s@example.org>\r\nIn-Reply-To: <%s>\r\nReferences: <%s>\r\n",
		residentAddr, time.Now().UnixNano(), strings.TrimSuffix(name, ".eml"), to.messageID(), to.messageID()))
}

// Issue 11 item 1: an encrypted reply inside a conversation gets exactly one
// email (the receipt), never "no form", and lands in Triage; the form staff
// upload from Outlook is read, accepted, answered and exported.
func TestProtectedReplyThenUploadedForm(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(nil)
	ins := firstContact(t, r, svc, residentAddr)
	r.deliver(asReply(t, "protected-rpmsg.eml", ins))
	once(t, svc)
	sent := r.sent()[1:]
	if k := kinds(sent); len(sent) != 1 || k["receipt"] != 1 {
		t.Fatalf("the encrypted reply got %v, want exactly one receipt", k)
	}
	if got := r.count("Triage"); got != 1 {
		t.Errorf("Triage folder holds %d, want the encrypted reply", got)
	}
	item := r.openItem(t, vocab.ReasonProtected)
	if item.Reference != ins.ref() {
		t.Errorf("item reference %q, want %q", item.Reference, ins.ref())
	}

	// A second encrypted reply: another receipt, never no_form or no_form_again.
	r.deliver(asReply(t, "protected-rpmsg-no-class.eml", ins))
	once(t, svc)
	if k := kinds(r.sent()); k["no_form"] != 0 || k["instructions"] != 1 {
		t.Errorf("sent %v: an encrypted reply was answered as no form", k)
	}
	if tri := r.openTriage(); slices.Contains(tri, vocab.ReasonNoFormAgain) {
		t.Errorf("open triage %v: an encrypted reply was filed as no form again", tri)
	}

	// Staff open it in Outlook, save the form and upload it.
	actor := r.staffActor(t)
	x := extract.New(extract.Limits{}, nil)
	if _, _, err := UploadForm(context.Background(), r.st, x, item.ID, actor, "notes.txt", []byte("nothing here")); err == nil {
		t.Error("UploadForm accepted a file without a form")
	}
	subID, f, err := UploadForm(context.Background(), r.st, x, item.ID, actor, "form.pdf", fixture("fillable-filled.pdf"))
	if err != nil {
		t.Fatalf("UploadForm: %v", err)
	}
	if !f.Valid || subID == 0 {
		t.Fatalf("UploadForm read %+v (submission %d), want a valid form", f.Problems, subID)
	}
	d, err := r.st.TriageItemDetail(context.Background(), item.ID, actor)
	if err != nil {
		t.Fatal(err)
	}
	if d.Submission == nil || d.Submission.ID != subID || len(d.Attachments) != 1 {
		t.Fatalf("item after upload: submission %v, %d attachments; want the upload", d.Submission, len(d.Attachments))
	}
	if a, err := r.st.AttachmentByID(context.Background(), d.Attachments[0].ID, actor); err != nil || !bytes.Equal(a.Data, fixture("fillable-filled.pdf")) {
		t.Errorf("the uploaded file is not kept as uploaded (err %v)", err)
	}
	st, err := r.st.AcceptTriage(context.Background(), store.Decision{TriageID: item.ID, Actor: actor,
		Accepted: r.compose(t, vocab.KindAccepted, item.Reference), Duplicate: r.compose(t, vocab.KindDuplicate, item.Reference)})
	if err != nil || st != vocab.StatusAccepted {
		t.Fatalf("AcceptTriage = %s, %v; want accepted", st, err)
	}
	once(t, svc)
	if k := kinds(r.sent()); k["accepted"] != 1 {
		t.Errorf("sent %v, want the recorded email after acceptance", k)
	}
	if ex := r.export(t); len(ex) != 1 || !strings.HasPrefix(ex[0], filledNHS+",opted_out,") {
		t.Errorf("export %q, want the opt-out", ex)
	}
}

// Issue 11 item 2: an opt-back-in request after an accepted form gets one
// email, lands in Triage with the person's state, and staff confirm it.
func TestOptBackInAfterAcceptedForm(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(nil)
	ins := firstContact(t, r, svc, residentAddr)
	r.deliver(replyTo(ins, residentAddr, "fillable-filled.pdf").bytes())
	once(t, svc)
	sent := r.sent()
	accepted := sent[len(sent)-1]
	if accepted.kind() != "accepted" {
		t.Fatalf("the form got %v, want accepted", kinds(sent))
	}
	before := len(sent)
	m := replyTo(accepted, residentAddr, "")
	m.body = "Hello,\nI have changed my mind and would like to opt back in please.\nThanks"
	r.deliver(m.bytes())
	once(t, svc)
	sent = r.sent()[before:]
	if len(sent) != 1 || sent[0].kind() != "enquiry" {
		t.Fatalf("the opt-back-in request got %v, want exactly one acknowledgement", kinds(sent))
	}
	if got := r.count("Triage"); got != 1 {
		t.Errorf("Triage folder holds %d, want the request", got)
	}
	item := r.openItem(t, vocab.ReasonOptBackIn)
	if item.RegisterState != store.OptedOut {
		t.Errorf("item shows register state %q, want opted_out", item.RegisterState)
	}
	if tri := r.openTriage(); len(tri) != 1 {
		t.Errorf("open triage %v, want only the opt back in", tri)
	}
	actor := r.staffActor(t)
	// The item's person is known: a number found by staff is not taken.
	if _, err := r.st.ConfirmOptBackIn(context.Background(), item.ID, store.OptIn{NHSNumber: filledNHS, Actor: actor}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("ConfirmOptBackIn with an NHS number on an item whose person is known = %v, want ErrConflict", err)
	}
	if _, err := r.st.ConfirmOptBackIn(context.Background(), item.ID, store.OptIn{Actor: actor, Reason: "email",
		Email: r.compose(t, vocab.KindOptedIn, item.Reference)}); err != nil {
		t.Fatalf("ConfirmOptBackIn: %v", err)
	}
	once(t, svc)
	if k := kinds(r.sent()); k["opted_in"] != 1 {
		t.Errorf("sent %v, want the opted_in email", k)
	}
	ex := r.export(t)
	if len(ex) != 2 || !strings.HasPrefix(ex[1], filledNHS+",opted_in,") {
		t.Errorf("export %q, want the opt-out then the opt back in", ex)
	}
	if _, err := r.st.ConfirmOptBackIn(context.Background(), item.ID, store.OptIn{Actor: actor}); err == nil {
		t.Error("ConfirmOptBackIn twice on one item succeeded")
	}
}

// Issue 11 item 3: thank-yous after completion get at most one
// acknowledgement a week, never "no form", and each reaches staff.
func TestThankYouAfterCompletion(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(nil)
	ins := firstContact(t, r, svc, residentAddr)
	r.deliver(replyTo(ins, residentAddr, "fillable-filled.pdf").bytes())
	once(t, svc)
	accepted := r.sent()[len(r.sent())-1]
	before := len(r.sent())
	for i := range 3 {
		m := replyTo(accepted, residentAddr, "")
		m.body = "Thank you so much.\n\nSent from my iPhone"
		m.messageID = fmt.Sprintf("thanks-%d@example.org", i)
		r.deliver(m.bytes())
		once(t, svc)
	}
	sent := r.sent()[before:]
	if k := kinds(sent); len(sent) != 1 || k["after_completion"] != 1 {
		t.Errorf("three thank-yous got %v, want one after_completion acknowledgement", k)
	}
	if tri := r.openTriage(); len(tri) != 3 || slices.ContainsFunc(tri, func(x vocab.Reason) bool { return x != vocab.ReasonAfterCompletion }) {
		t.Errorf("open triage %v, want three after_completion items", tri)
	}
	if got := r.count("Triage"); got != 3 {
		t.Errorf("Triage folder holds %d, want 3", got)
	}
	// A week on, the next one is acknowledged again.
	if _, err := r.st.Pool().Exec(context.Background(), `update outbox set created_at = created_at - interval '8 days' where kind = $1`,
		string(vocab.KindAfterCompletion)); err != nil {
		t.Fatal(err)
	}
	m := replyTo(accepted, residentAddr, "")
	m.body = "Thanks again"
	r.deliver(m.bytes())
	once(t, svc)
	if k := kinds(r.sent()[before:]); k["after_completion"] != 2 || k["no_form"] != 0 {
		t.Errorf("after a week sent %v, want a second acknowledgement", k)
	}
}

// Issue 14: the corpus of first contacts written as residents write them,
// through the whole pipeline. Every one that needs a person is a triage item
// in the Triage folder, at most 1 in 8 plain requests is, and each message
// gets one or two replies.
func TestFirstContactsCorpus(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "enquiry", "testdata", "corpus", "*.eml"))
	if err != nil || len(files) < 30 {
		t.Fatalf("corpus: %d files, %v; want at least 30", len(files), err)
	}
	r := newRig(t)
	svc := r.service(func(c *Config) { c.Processor.ReplyLimit = 1000 })
	type want struct {
		file   string
		person bool
	}
	var raws [][]byte
	var wants []want
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := message.Parse(bytes.NewReader(b), message.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		// Each resident writes from an address of their own.
		b = withHeaders(b, fmt.Sprintf("From: <resident%d@example.org>\r\nMessage-ID: <corpus-%d@example.org>\r\n", i, i))
		raws = append(raws, b)
		wants = append(wants, want{filepath.Base(f), msg.Header.Get("X-Expect") != "plain"})
	}
	r.deliver(raws...)
	once(t, svc)
	once(t, svc)

	ctx := context.Background()
	items, err := r.st.ListTriage(ctx, store.TriageFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	itemRefs := map[string]bool{}
	for _, it := range items {
		itemRefs[it.Reference] = true
	}
	byTo := map[string][]sentMail{}
	for _, m := range r.sent() {
		for _, to := range m.to {
			byTo[to] = append(byTo[to], m)
		}
	}
	var persons, found, plains, toPerson int
	for i, w := range wants {
		replies := byTo[fmt.Sprintf("resident%d@example.org", i)]
		if len(replies) < 1 || len(replies) > 2 {
			t.Errorf("%s: %d replies, want one or two", w.file, len(replies))
			continue
		}
		item := itemRefs[replies[0].ref()]
		if w.person {
			persons++
			if item {
				found++
			} else {
				t.Errorf("%s needs a person but raised no triage item (got %s)", w.file, replies[0].kind())
			}
		} else {
			plains++
			if item {
				toPerson++
				t.Logf("%s: a plain request went to a person", w.file)
			}
		}
	}
	t.Logf("first contacts: %d need a person, %d became triage items; %d plain requests, %d went to a person", persons, found, plains, toPerson)
	if toPerson*8 > plains {
		t.Errorf("%d of %d plain requests went to a person, limit 1 in 8", toPerson, plains)
	}
	if got := r.count("Triage"); got != found+toPerson {
		t.Errorf("Triage folder holds %d, want %d", got, found+toPerson)
	}
}

// An encrypted answer to a staff reply (the resident sends the form with
// NHSmail encryption) reopens the waiting item, which notes the protection
// (store.ProtectedAnswer) and takes the upload as a protected item does;
// the resident gets exactly one receipt and no second item is raised.
func TestProtectedAnswerToStaffReply(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(nil)
	ctx := context.Background()
	ins := firstContact(t, r, svc, residentAddr)
	q := replyTo(ins, residentAddr, "")
	q.body = "Hello,\nBefore I send the form, can you tell me whether my GP will still see my record?\nThanks"
	r.deliver(q.bytes())
	once(t, svc)
	item := r.openItem(t, vocab.ReasonQuestion)

	actor := r.staffActor(t)
	b, id, subject, err := r.comp.Compose(notify.Reply{Kind: vocab.KindStaffReply, To: residentAddr,
		Data: notify.Data{Ref: item.Reference, Text: "Yes, your GP still sees it. Please send the form."}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.st.StaffReply(ctx, item.ID, &store.Email{To: residentAddr, Subject: subject, Body: string(b), MessageID: id}, actor); err != nil {
		t.Fatalf("StaffReply: %v", err)
	}
	once(t, svc)
	sent := r.sent()
	staff := sent[len(sent)-1]
	if staff.kind() != string(vocab.KindStaffReply) {
		t.Fatalf("sent %v, want the staff reply last", kinds(sent))
	}

	before := len(sent)
	r.deliver(asReply(t, "protected-rpmsg.eml", staff))
	once(t, svc)
	once(t, svc) // a second pass sends nothing more
	if after := r.sent()[before:]; len(after) != 1 || after[0].kind() != string(vocab.KindReceipt) {
		t.Fatalf("the encrypted answer got %v, want exactly one receipt", kinds(after))
	}
	if tri := r.openTriage(); len(tri) != 1 || tri[0] != vocab.ReasonQuestion {
		t.Fatalf("open triage %v, want only the question item, reopened", tri)
	}
	w, err := r.st.ReplyWaitOf(ctx, item.ID)
	if err != nil {
		t.Fatal(err)
	}
	if w.Since != nil || w.AnswerLedgerID == 0 {
		t.Fatalf("the item's wait = %+v, want reopened with the answer", w)
	}
	answer, err := r.st.ProtectedAnswer(ctx, item.ID)
	if err != nil || answer != w.AnswerLedgerID {
		t.Fatalf("ProtectedAnswer = %d, %v; want the answer %d", answer, err, w.AnswerLedgerID)
	}
	m, err := r.st.Message(ctx, answer)
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != string(extract.KindProtected) || m.Action != store.LedgerAction(vocab.FolderTriage, vocab.ActionProtected) {
		t.Errorf("the answer's ledger row: kind %q action %q, want protected (the alert counts it)", m.Kind, m.Action)
	}
	if got := r.count("Triage"); got != 2 {
		t.Errorf("Triage folder holds %d, want the question and the encrypted answer", got)
	}

	// Staff upload the form saved from Outlook on the reopened item: it is
	// kept with the answer, as a secure reply, and accepted as usual.
	x := extract.New(extract.Limits{}, nil)
	subID, f, err := UploadForm(ctx, r.st, x, item.ID, actor, "form.pdf", fixture("fillable-filled.pdf"))
	if err != nil || !f.Valid {
		t.Fatalf("UploadForm = %d, %+v, %v; want a valid form", subID, f.Problems, err)
	}
	d, err := r.st.TriageItemDetail(ctx, item.ID, actor)
	if err != nil {
		t.Fatal(err)
	}
	if d.Submission == nil || d.Submission.ID != subID || d.Submission.LedgerID != answer || d.Submission.Channel != vocab.ChannelSecureReply {
		t.Fatalf("item after upload: submission %+v; want the upload, kept with the answer %d, channel secure_reply", d.Submission, answer)
	}
	if len(d.Attachments) != 1 {
		t.Errorf("item after upload lists %d attachments, want the uploaded form", len(d.Attachments))
	}
	st, err := r.st.AcceptTriage(ctx, store.Decision{TriageID: item.ID, Actor: actor,
		Accepted: r.compose(t, vocab.KindAccepted, item.Reference), Duplicate: r.compose(t, vocab.KindDuplicate, item.Reference)})
	if err != nil || st != vocab.StatusAccepted {
		t.Fatalf("AcceptTriage = %s, %v; want accepted", st, err)
	}
	once(t, svc)
	if k := kinds(r.sent()[before:]); k["accepted"] != 1 || k["receipt"] != 1 {
		t.Errorf("sent %v after the answer, want one receipt and the recorded email", k)
	}
}
