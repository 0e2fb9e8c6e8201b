package intake

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ncl-icb/optout-intake/internal/resident"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// firstContact runs a contact through svc and returns the instructions sent.
func firstContact(t *testing.T, r *rig, svc *Service, from string) sentMail {
	t.Helper()
	before := len(r.sent())
	r.deliver(contact(from).bytes())
	once(t, svc)
	sent := r.sent()
	if len(sent) != before+1 || sent[before].kind() != "instructions" {
		t.Fatalf("first contact sent %v, want one more instructions", kinds(sent[before:]))
	}
	return sent[before]
}

func TestInvalidFormGoesToTriageWithReceipt(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(nil)
	ins := firstContact(t, r, svc, residentAddr)
	r.deliver(replyTo(ins, residentAddr, "bad-nhs-checksum.json").bytes())
	once(t, svc)
	if k := kinds(r.sent()); k["receipt"] != 1 || k["accepted"] != 0 || k["duplicate"] != 0 {
		t.Errorf("sent %v, want a receipt and no outcome", k)
	}
	if tri := r.openTriage(); !slices.Equal(tri, []vocab.Reason{vocab.ReasonInvalidForm}) {
		t.Errorf("open triage %v, want one invalid_form", tri)
	}
	if got := r.count("Triage"); got != 1 {
		t.Errorf("Triage folder holds %d, want 1", got)
	}
	if n := r.registerChanges(); n != 0 {
		t.Errorf("register changed %d times, want 0", n)
	}
}

func TestAutoMailIsNeverAnswered(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(nil)
	oof := contact(residentAddr)
	oof.subject = "Automatic reply: Opting out"
	oof.extra = []string{"Auto-Submitted: auto-replied", "X-Auto-Response-Suppress: All"}
	ours := contact(ourAddress) // a copy of our own mail
	marked := contact(otherAddr)
	marked.extra = []string{"X-Optout-Intake: optout-intake; ref=NCL-AAAA-BBBB; kind=receipt"}
	r.deliver(oof.bytes(), ours.bytes(), marked.bytes())
	res := once(t, svc)
	if res.Processed != 3 {
		t.Fatalf("poll = %+v, want 3 processed", res)
	}
	if n := len(r.sent()); n != 0 {
		t.Errorf("sent %d replies to auto and own mail, want 0", n)
	}
	if got := r.count("Auto"); got != 3 {
		t.Errorf("Auto folder holds %d, want 3", got)
	}
}

func TestDuplicateFormGetsDuplicateReply(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(nil)
	ins := firstContact(t, r, svc, residentAddr)
	r.deliver(replyTo(ins, residentAddr, "fillable-filled.pdf").bytes())
	once(t, svc)
	ins2 := firstContact(t, r, svc, otherAddr)
	r.deliver(replyTo(ins2, otherAddr, "fillable-filled.pdf").bytes())
	once(t, svc)
	var got []string
	for _, m := range r.sent() {
		got = append(got, m.kind())
	}
	// No receipts: each form is settled in the pass that reads it, so its
	// outcome email is the receipt too (issue 16 item 5).
	want := []string{"instructions", "accepted", "instructions", "duplicate"}
	if !slices.Equal(got, want) {
		t.Errorf("sent %v, want %v", got, want)
	}
	if n := r.registerChanges(); n != 1 {
		t.Errorf("register changed %d times, want 1", n)
	}
}

func TestSpoofedReferenceGoesToTriage(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(nil)
	ins := firstContact(t, r, svc, residentAddr)
	// Another sender quotes the reference in the subject, without our thread ids.
	spoof := email{from: otherAddr, subject: "Form for " + ins.ref(), body: "here", attName: "form.pdf", att: fixture("fillable-filled.pdf")}
	// The resident themself may quote it too: that is trusted.
	own := email{from: residentAddr, subject: "My form, ref " + strings.ToLower(ins.ref()), body: "here", attName: "form.pdf", att: fixture("fillable-filled.pdf")}
	r.deliver(spoof.bytes())
	once(t, svc)
	if n := len(r.sent()); n != 1 {
		t.Errorf("spoofed reference was answered: %v", kinds(r.sent()))
	}
	if tri := r.openTriage(); !slices.Equal(tri, []vocab.Reason{vocab.ReasonUnverifiedSender}) {
		t.Errorf("open triage %v, want unverified_sender", tri)
	}
	if n := r.registerChanges(); n != 0 {
		t.Errorf("spoofed form changed the register")
	}
	r.deliver(own.bytes())
	once(t, svc)
	if k := kinds(r.sent()); k["accepted"] != 1 {
		t.Errorf("the resident's own reference reply: sent %v, want accepted", k)
	}
}

func TestSameMessageTwiceIsAnsweredOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(nil)
	m := contact(residentAddr)
	m.messageID = resident.NewMessageID()
	raw := m.bytes()
	r.deliver(raw, raw) // the same Message-ID under two UIDs
	once(t, svc)
	r.deliver(raw) // and again later
	once(t, svc)
	if n := r.ledgerRows(); n != 1 {
		t.Errorf("ledger rows = %d, want 1", n)
	}
	if k := kinds(r.sent()); k["instructions"] != 1 || len(r.sent()) != 1 {
		t.Errorf("sent %v, want one instructions", k)
	}
	if got := r.count("INBOX"); got != 0 {
		t.Errorf("inbox holds %d, want 0: copies of a done message are moved too", got)
	}
}

func TestNoFormOnceThenTriage(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(nil)
	ins := firstContact(t, r, svc, residentAddr)
	r.deliver(replyTo(ins, residentAddr, "").bytes())
	once(t, svc)
	r.deliver(replyTo(ins, residentAddr, "").bytes())
	once(t, svc)
	if k := kinds(r.sent()); k["no_form"] != 1 {
		t.Errorf("sent %v, want exactly one no_form", k)
	}
	if tri := r.openTriage(); !slices.Equal(tri, []vocab.Reason{vocab.ReasonNoFormAgain}) {
		t.Errorf("open triage %v, want no_form_again", tri)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(func(c *Config) { c.Processor.ReplyLimit = 2 })
	for range 3 {
		r.deliver(contact(residentAddr).bytes())
	}
	once(t, svc)
	if n := len(r.sent()); n != 2 {
		t.Errorf("sent %d replies with a limit of 2, want 2", n)
	}
	if tri := r.openTriage(); !slices.Equal(tri, []vocab.Reason{vocab.ReasonRateLimited}) {
		t.Errorf("open triage %v, want rate_limited", tri)
	}
}

func TestBounceOfOurReply(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(nil)
	ins := firstContact(t, r, svc, residentAddr)
	const boundary = "bounce-boundary"
	dsn := "From: Mail Delivery System <MAILER-DAEMON@mail.example.org>\r\nTo: " + ourAddress + "\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <" + resident.NewMessageID() + ">\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"" + boundary + "\"\r\n\r\n" +
		"--" + boundary + "\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n" +
		"--" + boundary + "\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail.example.org\r\n\r\n" +
		"Final-Recipient: rfc822; " + residentAddr + "\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
		"Diagnostic-Code: smtp; 550 5.1.1 <" + residentAddr + ">: Recipient address rejected: User unknown\r\n\r\n" +
		"--" + boundary + "\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <" + ins.messageID() + ">\r\nSubject: x\r\n\r\n" +
		"--" + boundary + "--\r\n"
	r.deliver([]byte(dsn))
	once(t, svc)
	if n := len(r.sent()); n != 1 {
		t.Errorf("the bounce was answered: %v", kinds(r.sent()))
	}
	rows, err := r.st.ListOutbox(context.Background(), store.OutboxFilter{State: store.OutboxUndeliverable})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].MessageID != ins.messageID() {
		t.Fatalf("undeliverable outbox rows = %d, want the instructions", len(rows))
	}
	// Staff see what the receiving server said, without the address.
	if e := rows[0].LastError; !strings.Contains(e, "5.1.1 smtp; 550 5.1.1 [address] Recipient address rejected: User unknown") || strings.Contains(e, "@") {
		t.Errorf("the bounced email's last error = %q, want the status and diagnostic without the address", e)
	}
	if tri := r.openTriage(); !slices.Equal(tri, []vocab.Reason{vocab.ReasonUndeliverable}) {
		t.Errorf("open triage %v, want undeliverable", tri)
	}
	if got := r.count("Auto"); got != 1 {
		t.Errorf("Auto folder holds %d, want the bounce", got)
	}
}

func TestPersonalDataInFirstContactIsRedacted(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(nil)
	m := contact(residentAddr)
	m.body = "Hello, please opt me out. My NHS number is 943 476 5919 and I was born on 14/03/1978."
	r.deliver(m.bytes())
	once(t, svc)
	if k := kinds(r.sent()); k["instructions"] != 1 {
		t.Errorf("sent %v, want instructions", k)
	}
	var id int64
	if err := r.st.Pool().QueryRow(context.Background(), `select id from ledger`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	raw, err := r.st.RawMessage(context.Background(), id, store.System)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(raw); strings.Contains(s, "5919") || strings.Contains(s, "1978") || !strings.Contains(s, Redacted) {
		t.Errorf("stored copy is not redacted:\n%s", s)
	}
}

func TestUnsolicitedPolicy(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		policy   Policy
		want     []string
		triage   []vocab.Reason
		register int
		kept     int // attachments kept apart for the triage page
	}{
		{PolicyProcess, []string{"accepted"}, nil, 1, 0}, // one email: the outcome confirms receipt (issue 16 item 5)
		// Under "ask" the form is not read, but staff key it in from the file.
		{PolicyAsk, []string{"instructions", "unsolicited"}, []vocab.Reason{vocab.ReasonUnsolicitedForm}, 0, 1},
	} {
		t.Run(string(tt.policy), func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			svc := r.service(func(c *Config) { c.Processor.Policy = tt.policy })
			m := email{from: residentAddr, subject: "opt out", body: "form attached", attName: "f.pdf", att: fixture("fillable-filled.pdf")}
			r.deliver(m.bytes())
			once(t, svc)
			var got []string
			for _, s := range r.sent() {
				got = append(got, s.kind())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("sent %v, want %v", got, tt.want)
			}
			if tri := r.openTriage(); !slices.Equal(tri, tt.triage) {
				t.Errorf("open triage %v, want %v", tri, tt.triage)
			}
			if n := r.registerChanges(); n != tt.register {
				t.Errorf("register changes %d, want %d", n, tt.register)
			}
			if n := r.attachments(); n != tt.kept {
				t.Errorf("attachments kept %d, want %d", n, tt.kept)
			}
		})
	}
}

func TestTwoPollersDoNotAnswerTwice(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	a, b := r.service(nil), r.service(nil)
	var raws [][]byte
	for i := range 20 {
		raws = append(raws, contact(fmt.Sprintf("resident%d@example.org", i)).bytes())
	}
	r.deliver(raws...)
	var wg sync.WaitGroup
	for _, svc := range []*Service{a, b, a, b} {
		wg.Go(func() {
			if _, err := svc.Once(context.Background()); err != nil {
				t.Errorf("Once: %v", err)
			}
		})
	}
	wg.Wait()
	once(t, a)
	once(t, b)
	if n := len(r.sent()); n != 20 {
		t.Errorf("sent %d replies for 20 contacts from two pollers, want 20", n)
	}
	if n := r.ledgerRows(); n != 20 {
		t.Errorf("ledger rows = %d, want 20", n)
	}
	if got := r.count("Processed"); got != 20 {
		t.Errorf("Processed holds %d, want 20", got)
	}
}
