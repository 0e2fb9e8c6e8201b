package mailbox_test

import (
	"context"
	"log/slog"
	"time"

	"github.com/ncl-icb/optout-intake/mailbox"
)

// A poll loop: fetch new messages from the stored cursor, commit each, move
// the handled ones in one batch, then wait for new mail (IDLE) or a minute.
func Example() {
	ctx := context.Background()
	log := slog.Default()
	tokens, err := mailbox.NewTokenSource(mailbox.TokenConfig{
		TenantID: "00000000-0000-0000-0000-000000000000", ClientID: "app-id", ClientSecret: "from OPTOUT_OAUTH_CLIENT_SECRET_FILE",
	}, log)
	if err != nil {
		log.Error("oauth configuration", "err", err)
		return
	}
	cfg := mailbox.Config{Addr: "outlook.office365.com:993", User: "optout.ncl@nhs.net", TokenSource: tokens}.WithDefaults()
	sess := mailbox.NewSession(cfg, log)
	defer sess.Close()

	var cursor mailbox.Cursor // load it from the store
	for ctx.Err() == nil {
		err := sess.Do(ctx, func(c *mailbox.Client) error {
			var done []mailbox.UID
			res, err := c.FetchNew(ctx, cursor, func(m mailbox.Msg) error {
				// Record m in the ledger and commit; return an error only
				// when nothing could be recorded.
				done = append(done, m.UID)
				return nil
			})
			cursor = res.Next // save it in the store
			if err != nil {
				return err
			}
			if err := c.Move(ctx, done, cfg.Folders.Processed); err != nil {
				return err
			}
			_, err = c.WaitForChange(ctx, time.Minute)
			return err
		})
		if err != nil {
			log.Error("imap poll failed", "err", err) // readiness goes red
			time.Sleep(time.Minute)
		}
	}
}
