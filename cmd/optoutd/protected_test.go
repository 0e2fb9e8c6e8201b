package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/intake"
	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// TestProtectedReplyBlackBox (issue 11): through the built `optoutd once` on
// Dovecot, PostgreSQL and the SMTP sink, an encrypted (rpmsg-wrapped) reply
// inside a conversation gets exactly one email, the receipt, and lands in
// the Triage folder; after staff upload the form saved from Outlook on its
// item (here through intake.UploadForm, which the page calls; the page's
// upload in Chromium is TestWalkProtected) and accept it, the resident gets
// the recorded email and `optoutd export` lists the opt-out.
func TestProtectedReplyBlackBox(t *testing.T) {
	r := newDaemonRig(t)
	once := func() {
		t.Helper()
		if out, errOut, code := runBin(t, time.Minute, r.env, "once"); code != 0 {
			t.Fatalf("optoutd once exit status %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
	}
	const addr = "amelia@example.org"
	if _, err := r.dv.Append(rigUser, "INBOX", firstContactMail(addr)); err != nil {
		t.Fatal(err)
	}
	once()
	msgs := r.sink.Messages()
	if len(msgs) != 1 || parseSent(msgs[0]).kind != vocab.KindInstructions {
		t.Fatalf("first contact got %d emails, want the instructions", len(msgs))
	}
	ins := parseSent(msgs[0])

	raw, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "mail", "protected-rpmsg.eml"))
	if err != nil {
		t.Fatal(err)
	}
	// The fixture's header, its From and threading lines replaced (the
	// quoted text in its body keeps its own).
	end := strings.Index(string(raw), "\n\n")
	if i := strings.Index(string(raw), "\r\n\r\n"); i >= 0 && (end < 0 || i < end) {
		end = i
	}
	head := regexp.MustCompile(`(?m)^(From|Message-ID|References|In-Reply-To): .*\r?\n`).ReplaceAllString(string(raw[:end]), "")
	reply := fmt.Sprintf("From: <%s>\r\nMessage-ID: <rpmsg-%d@example.org>\r\nIn-Reply-To: <%s>\r\nReferences: <%s>\r\n%s%s",
		addr, time.Now().UnixNano(), ins.messageID, ins.messageID, head, raw[end:])
	if _, err := r.dv.Append(rigUser, "INBOX", []byte(reply)); err != nil {
		t.Fatal(err)
	}
	once()
	msgs = r.sink.Messages()
	if len(msgs) != 2 || parseSent(msgs[1]).kind != vocab.KindReceipt {
		var ks []vocab.Kind
		for _, m := range msgs {
			ks = append(ks, parseSent(m).kind)
		}
		t.Fatalf("after the encrypted reply the sink holds %v, want the instructions and one receipt", ks)
	}
	if total, deleted, err := r.dv.Count(rigUser, "Triage"); err != nil || total-deleted != 1 {
		t.Errorf("Triage folder holds %d (%v), want the encrypted reply", total-deleted, err)
	}

	// Staff: open the item, upload the form saved from Outlook, accept it.
	ctx := context.Background()
	keys, err := store.ParseKeys(r.env["OPTOUT_DATA_KEY"], r.env["OPTOUT_INDEX_KEY"])
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, store.Options{DatabaseURL: r.env["DATABASE_URL"], Schema: r.env["OPTOUT_DB_SCHEMA"], Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	items, err := st.ListTriage(ctx, store.TriageFilter{Reason: vocab.ReasonProtected})
	if err != nil || len(items) != 1 {
		t.Fatalf("open protected items = %d (%v), want 1", len(items), err)
	}
	staff, err := st.CreateStaff(ctx, "triager@nhs.example", "$argon2id$x", store.RoleTriager, store.System)
	if err != nil {
		t.Fatal(err)
	}
	actor := store.Actor(staff.ID)
	form, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "forms", "fillable-filled.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	if _, f, err := intake.UploadForm(ctx, st, extract.New(extract.Limits{}, nil), items[0].ID, actor, "Opt out form.pdf", form); err != nil || !f.Valid {
		t.Fatalf("UploadForm = valid %v, %v; want a valid form", f.Valid, err)
	}
	tok, _ := base64.StdEncoding.DecodeString(r.env["OPTOUT_TOKEN_KEY"])
	comp, err := notify.NewComposer(notify.ComposerConfig{Address: rigAddress, Signer: notify.Signer{Key: tok}})
	if err != nil {
		t.Fatal(err)
	}
	email := func(k vocab.Kind) *store.Email {
		b, id, subject, err := comp.Compose(notify.Reply{Kind: k, To: addr, Data: notify.Data{Ref: items[0].Reference}})
		if err != nil {
			t.Fatal(err)
		}
		return &store.Email{Kind: k, Subject: subject, Body: string(b), MessageID: id}
	}
	if s, err := st.AcceptTriage(ctx, store.Decision{TriageID: items[0].ID, Actor: actor,
		Accepted: email(vocab.KindAccepted), Duplicate: email(vocab.KindDuplicate)}); err != nil || s != vocab.StatusAccepted {
		t.Fatalf("AcceptTriage = %s, %v; want accepted", s, err)
	}
	once()
	msgs = r.sink.Messages()
	if len(msgs) != 3 || parseSent(msgs[2]).kind != vocab.KindAccepted || parseSent(msgs[2]).to != addr {
		t.Fatalf("after acceptance the sink holds %d emails, want the recorded email third", len(msgs))
	}
	out, errOut, code := runBin(t, time.Minute, r.env, "export", "--since", "2000-01-01")
	if code != 0 || !strings.Contains(out, "9434765919,opted_out,") {
		t.Errorf("optoutd export = status %d, %q (%s); want the opt-out listed", code, out, errOut)
	}
}
