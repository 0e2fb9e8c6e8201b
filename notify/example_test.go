package notify_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/vocab"
)

func ExampleComposer_Compose() {
	signer := notify.Signer{Key: []byte("a secret key of at least 32 bytes!")}
	composer, err := notify.NewComposer(notify.ComposerConfig{
		Address: "joined-up.care-record@nhs.net",
		Signer:  signer,
	})
	if err != nil {
		panic(err)
	}
	// Compose when the reply is queued: store raw and messageID in the
	// outbox row, and the worker sends exactly these bytes.
	raw, messageID, _, err := composer.Compose(notify.Reply{
		Kind:      vocab.KindReceipt,
		To:        "resident@example.org",
		Data:      notify.Data{Ref: "NCL-7K3Q-9XWD", FirstName: "Sam"},
		InReplyTo: "<their-message@example.org>",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(raw) > 0)
	// Later, the resident's reply names messageID in In-Reply-To:
	ref, ok := signer.Verify("<" + messageID + ">")
	fmt.Println(ref, ok)
	// Output:
	// true
	// NCL-7K3Q-9XWD true
}

func ExampleWorker() {
	sender, err := notify.NewSender(notify.SenderConfig{
		Addr:     "send.nhs.net:587",
		TLS:      notify.TLSStartTLS,
		User:     "joined-up.care-record@nhs.net",
		Password: "from OPTOUT_SMTP_PASSWORD",
	}, slog.Default())
	if err != nil {
		panic(err)
	}
	defer sender.Close()
	var outbox notify.Outbox // the store's outbox, adapted to this interface
	w := notify.NewWorker(outbox, sender, notify.WorkerConfig{BaseBackoff: 30 * time.Second, MaxBackoff: time.Hour}, slog.Default())
	ctx := context.Background() // in the daemon: the signal context
	go w.Run(ctx)
	// After queueing a reply in the outbox, nudge the worker:
	w.Wake()
}
