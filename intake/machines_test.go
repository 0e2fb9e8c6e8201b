package intake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// TestMachineCorpusNeverAnswered appends the corpus of real bounces,
// delivery and feedback reports, read receipts and auto-replies
// (fixtures/machines) to Dovecot together with one resident's first
// contact, runs the pipeline as `optoutd once` does, and checks over real
// SMTP that the resident alone got a reply and every machine message went
// to the Auto folder.
func TestMachineCorpusNeverAnswered(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "fixtures", "machines", "*", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 50 {
		t.Fatalf("fixtures/machines holds %d files, want the whole corpus", len(files))
	}
	var raws [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}
	r := newRig(t)
	svc := r.service(nil)
	r.deliver(append(raws, contact(residentAddr).bytes())...)
	processed := 0
	for range 5 {
		res := once(t, svc)
		processed += res.Processed
		if res.Processed == 0 {
			break
		}
	}
	if processed != len(raws)+1 {
		t.Fatalf("processed %d messages, want %d", processed, len(raws)+1)
	}
	sent := r.sent()
	if len(sent) != 1 || !slices.Equal(sent[0].to, []string{residentAddr}) || sent[0].kind() != "instructions" {
		var to [][]string
		for _, m := range sent {
			to = append(to, m.to)
		}
		t.Errorf("sent %d replies to %v, want one instructions to the resident", len(sent), to)
	}
	if got := r.count("Auto"); got != len(raws) {
		t.Errorf("Auto folder holds %d, want all %d machine messages", got, len(raws))
	}
	if tri := r.openTriage(); len(tri) != 0 {
		t.Errorf("open triage %v, want none", tri)
	}
}

// TestOutboxRefusesMachineRecipients queues replies straight into the
// outbox, as a future code path or a stored conversation address might,
// to a machine and to our own address: the worker sends none of them,
// ends each row cancelled with the reason, and raises no triage item.
func TestOutboxRefusesMachineRecipients(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(nil)
	ctx := context.Background()
	targets := []string{"MAILER-DAEMON@mx.example.org", "no-reply@example.org", "owner-residents@lists.example.org", ourAddress, residentAddr}
	for i, to := range targets {
		raw, id, _, err := r.comp.Compose(notify.Reply{Kind: vocab.KindInstructions, To: to, Data: notify.Data{Ref: fmt.Sprintf("NCL-TEST-%04d", i)}})
		if err != nil {
			t.Fatal(err)
		}
		e, _, err := r.st.RecordMessage(ctx, store.IncomingMessage{Mailbox: "setup", UIDValidity: 1, UID: uint32(i + 1), ReceivedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.st.CompleteMessage(ctx, &store.Plan{LedgerID: e.ID, Folder: vocab.FolderProcessed, Action: vocab.ActionInstructions,
			Emails: []*store.Email{{Kind: vocab.KindInstructions, To: to, Subject: "x", Body: string(raw), MessageID: id, Key: "gate/" + to}}}); err != nil {
			t.Fatalf("queue a reply to a machine: %v", err)
		}
	}
	once(t, svc)
	sent := r.sent()
	if len(sent) != 1 || !slices.Equal(sent[0].to, []string{residentAddr}) {
		t.Errorf("sent %d messages, want one, to the resident", len(sent))
	}
	rows, err := r.st.ListOutbox(ctx, store.OutboxFilter{State: store.OutboxCancelled})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(targets)-1 {
		t.Errorf("%d outbox rows cancelled, want %d", len(rows), len(targets)-1)
	}
	for _, row := range rows {
		if !strings.HasPrefix(row.LastError, "not sent: the recipient is a machine (") || row.Attempts != 1 {
			t.Errorf("row %d: last error %q after %d attempts", row.ID, row.LastError, row.Attempts)
		}
	}
	if tri := r.openTriage(); len(tri) != 0 {
		t.Errorf("open triage %v, want none for refused machine recipients", tri)
	}
	// A second pass finds nothing to do: the rows are ended, not retried.
	time.Sleep(100 * time.Millisecond)
	once(t, svc)
	if n := len(r.sent()); n != 1 {
		t.Errorf("after a second pass %d messages were sent, want still 1", n)
	}
}
