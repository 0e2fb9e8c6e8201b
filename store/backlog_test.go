package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// TestHeldMessages: a held row is done, keeps no copy, is found again by
// UID or Message-ID without a write, is listed by arrival, and is released
// (once) back into the pipeline with the copy, audited.
func TestHeldMessages(t *testing.T) {
	s := newStore(t, 2)
	ctx := context.Background()
	old := time.Now().AddDate(-2, 0, 0).Truncate(time.Second)
	e, created, err := s.RecordMessage(ctx, store.IncomingMessage{Mailbox: "INBOX", UIDValidity: 7, UID: 1, MessageID: "<a@example.org>", ReceivedAt: old})
	if err != nil || !created {
		t.Fatalf("RecordMessage: %v, created %v", err, created)
	}
	if err := s.HoldMessage(ctx, e.ID, vocab.ActionInstructions, "contact"); err == nil {
		t.Error("HoldMessage with a non-held action succeeded")
	}
	if err := s.HoldMessage(ctx, e.ID, vocab.ActionHeldOld, "contact"); err != nil {
		t.Fatalf("HoldMessage: %v", err)
	}
	if err := s.HoldMessage(ctx, e.ID, vocab.ActionHeldOld, "contact"); !errors.Is(err, store.ErrAlreadyDone) {
		t.Errorf("second HoldMessage = %v, want ErrAlreadyDone", err)
	}
	for _, look := range []struct {
		uv, uid uint32
		id      string
	}{{7, 1, ""}, {9, 40, "<a@example.org>"}} { // by UID; by Message-ID after a UIDVALIDITY change
		got, err := s.LookupMessage(ctx, "INBOX", look.uv, look.uid, look.id)
		if err != nil || got.ID != e.ID || got.State != store.LedgerDone || got.Action != "inbox:held_old" || got.Kind != "contact" || got.HasRaw {
			t.Errorf("LookupMessage(%d, %d, %q) = %+v, %v; want the held row without a copy", look.uv, look.uid, look.id, got, err)
		}
	}
	if _, err := s.LookupMessage(ctx, "INBOX", 7, 2, "<b@example.org>"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LookupMessage of an unknown message = %v, want ErrNotFound", err)
	}
	if held, err := s.HeldMessages(ctx, time.Time{}); err != nil || len(held) != 1 || held[0].ID != e.ID {
		t.Errorf("HeldMessages = %+v, %v; want the one row", held, err)
	}
	if held, err := s.HeldMessages(ctx, old.Add(time.Hour)); err != nil || len(held) != 0 {
		t.Errorf("HeldMessages since after its arrival = %+v, %v; want none", held, err)
	}

	raw := []byte("From: a@example.org\r\n\r\nhello\r\n")
	hdr := store.MessageHeader{From: "a@example.org", MessageID: "a@example.org"}
	if h, ok, err := s.MessageHeader(ctx, e.ID); err != nil || ok {
		t.Errorf("MessageHeader of a held row = %+v, %v, %v; want none kept", h, ok, err)
	}
	if err := s.ReleaseHeld(ctx, e.ID, raw, hdr, store.System); err != nil {
		t.Fatalf("ReleaseHeld: %v", err)
	}
	if h, ok, err := s.MessageHeader(ctx, e.ID); err != nil || !ok || h.From != hdr.From || h.MessageID != hdr.MessageID {
		t.Errorf("MessageHeader after release = %+v, %v, %v; want the header given", h, ok, err)
	}
	if err := s.ReleaseHeld(ctx, e.ID, raw, hdr, store.System); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second ReleaseHeld = %v, want ErrNotFound", err)
	}
	got, err := s.Message(ctx, e.ID)
	if err != nil || got.State != store.LedgerNew || got.Action != "" || !got.HasRaw {
		t.Errorf("released row = %+v, %v; want new with its copy", got, err)
	}
	if b, err := s.RawMessage(ctx, e.ID, store.System); err != nil || !bytes.Equal(b, raw) {
		t.Errorf("RawMessage after release = %q, %v", b, err)
	}
	if audit, err := s.ListAudit(ctx, store.AuditFilter{Action: "message.release_held"}); err != nil || len(audit) != 1 || audit[0].ObjectID != e.ID {
		t.Errorf("audit %+v, %v; want one message.release_held entry", audit, err)
	}
	if held, err := s.HeldMessages(ctx, time.Time{}); err != nil || len(held) != 0 {
		t.Errorf("HeldMessages after release = %+v, %v; want none", held, err)
	}
}
