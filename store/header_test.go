package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// TestMessageHeaderRecordedOnce checks that the header facts recorded with
// a message come back as given (sealed at rest, not in clear), that a
// redacted copy redacts the recorded subject too, and that the purge
// clears them with the raw message.
func TestMessageHeaderRecordedOnce(t *testing.T) {
	t.Parallel()
	s := newStore(t, 2)
	ctx := context.Background()
	h := store.MessageHeader{From: "Resident@Example.org", MessageID: "m1@example.org", InReplyTo: "ours@nhs.net",
		References: []string{"root@example.org", "ours@nhs.net"}, Subject: "Opt out, NHS number 943 476 5919",
		Date: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)}
	e, _, err := s.RecordMessage(ctx, store.IncomingMessage{Mailbox: "INBOX", UIDValidity: 9, UID: 1, MessageID: h.MessageID,
		ReceivedAt: time.Now(), Size: 10, Raw: []byte("Subject: x\r\n\r\nbody"), Header: h})
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.MessageHeader(ctx, e.ID)
	want := h
	want.From = "resident@example.org"
	sameDate := got.Date.Equal(h.Date)
	got.Date = want.Date
	if err != nil || !ok || !reflect.DeepEqual(got, want) || !sameDate {
		t.Fatalf("MessageHeader = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	var clear bool
	if err := s.Pool().QueryRow(ctx, `select position(convert_to('resident', 'UTF8') in sender) > 0
		or position(convert_to('5919', 'UTF8') in subject) > 0 from ledger where id = $1`, e.ID).Scan(&clear); err != nil || clear {
		t.Fatalf("sender or subject stored in clear (%v)", err)
	}

	if _, err := s.CompleteMessage(ctx, &store.Plan{LedgerID: e.ID, Folder: vocab.FolderProcessed, Action: vocab.ActionInstructions,
		ReplaceRaw: []byte("Subject: redacted\r\n\r\n"), RedactedSubject: "Opt out, NHS number [removed]"}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.MessageHeader(ctx, e.ID); err != nil || got.Subject != "Opt out, NHS number [removed]" || got.InReplyTo != h.InReplyTo {
		t.Fatalf("MessageHeader after redaction = %+v, %v", got, err)
	}

	if _, err := s.Pool().Exec(ctx, "update ledger set received_at = now() - interval '100 days' where id = $1", e.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Purge(ctx, time.Now().Add(-store.DefaultRetention), store.System); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.MessageHeader(ctx, e.ID); err != nil || ok || got.From != "" || got.Subject != "" {
		t.Fatalf("MessageHeader after purge = %+v, %v, %v; want none", got, ok, err)
	}
	if _, _, err := s.MessageHeader(ctx, 1<<40); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("MessageHeader(unknown row) = %v, want ErrNotFound", err)
	}
}
