package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/internal/pgtest"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

const (
	testDataKey  = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	testDataKey2 = "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
	testIndexKey = "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8="
)

func testKeys(t testing.TB, data string) *store.Keyring {
	t.Helper()
	k, err := store.ParseKeys(data, testIndexKey)
	if err != nil {
		t.Fatalf("ParseKeys: %v", err)
	}
	return k
}

// newStore returns a migrated store in a schema of its own.
func newStore(t testing.TB, maxConns int32) *store.Store {
	t.Helper()
	pool, schema := pgtest.Schema(t, maxConns)
	ctx := context.Background()
	if err := store.Migrate(ctx, pool, schema); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return store.New(pool, store.Options{Schema: schema, Keys: testKeys(t, testDataKey), RetryBase: time.Second, RetryMax: time.Minute})
}

var uidCounter atomic.Uint32

// record records a fresh message in the ledger and returns its id.
func record(t testing.TB, s *store.Store) int64 {
	t.Helper()
	uid := uidCounter.Add(1)
	e, created, err := s.RecordMessage(context.Background(), store.IncomingMessage{
		Mailbox: "INBOX", UIDValidity: 1, UID: uid, MessageID: fmt.Sprintf("<m%d@example.org>", uid),
		ReceivedAt: time.Now(), Size: 100, Raw: []byte("Subject: hi\r\n\r\nbody"),
	})
	if err != nil || !created {
		t.Fatalf("RecordMessage = %v, %v", created, err)
	}
	return e.ID
}

var msgCounter atomic.Int64

func email(kind vocab.Kind) *store.Email {
	return &store.Email{Kind: kind, Subject: "[secure] Your opt-out", Body: "Dear resident",
		MessageID: fmt.Sprintf("out%d.%d@optout.test", time.Now().UnixNano(), msgCounter.Add(1))}
}

func validForm(nhs string) form.Form {
	return form.Form{Source: "form.pdf", Format: form.FormatPDFFields, Valid: true, Problems: []form.Problem{},
		Fields: form.Fields{FirstName: "Ada", LastName: "Lovelace", DateOfBirth: "1990-12-10", NHSNumber: nhs,
			GPPractice: "Camden Health", PostalAddress: "1 High St", Postcode: "NW1 1AA", Declaration: true, FullName: "Ada Lovelace", Signature: "AL"}}
}

// formOutcome is what the pipeline commits for a valid secure reply.
func formOutcome(ledger, conv int64, nhs string) *store.Plan {
	att := &store.NewAttachment{Name: "form.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.7 ...")}
	receipt := email(vocab.KindReceipt)
	receipt.Key = fmt.Sprintf("receipt/msg/%d", ledger)
	return &store.Plan{
		LedgerID: ledger, Kind: "submission", Action: "form_recorded", ConversationID: conv,
		ConversationState: vocab.StateCompleted,
		Attachments:       []*store.NewAttachment{att},
		Submissions: []*store.NewSubmission{{Form: validForm(nhs), Attachment: att, Status: vocab.StatusAccepted,
			Accepted: email(vocab.KindAccepted), Duplicate: email(vocab.KindDuplicate)}},
		Emails: []*store.Email{receipt},
	}
}
