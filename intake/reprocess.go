package intake

import (
	"context"
	"fmt"

	"github.com/ncl-icb/optout-intake/store"
)

// ReprocessResult says what Reprocess did.
type ReprocessResult struct {
	Processed int // messages completed
	Failed    int // messages that failed again (kept for a retry)
	Skipped   int // messages already done (a reference's done messages are not run twice)
}

// Reprocess runs messages again from the raw copy kept in the ledger, after
// a fix (`optoutd reprocess REF|--failed`): with ref "", every failed
// message at once, whatever its backoff; otherwise the messages of that
// conversation that are not done. Done messages are never run twice. The
// messages are moved to their folders by the daemon's next inbox scan.
func (p *Poller) Reprocess(ctx context.Context, ref string) (ReprocessResult, error) {
	var res ReprocessResult
	var entries []store.LedgerEntry
	if ref == "" {
		seen := map[int64]bool{}
		for {
			batch, err := p.st.ClaimFailedMessages(ctx, 100, true)
			if err != nil {
				return res, err
			}
			again := false
			for _, e := range batch {
				again = again || seen[e.ID]
				seen[e.ID] = true
			}
			// Rows claimed are processed even when seen before, so none is
			// left marked processing; a row failing again ends the loop.
			if err := p.rerun(ctx, batch, &res); err != nil || len(batch) == 0 || again {
				return res, err
			}
		}
	}
	entries, err := p.st.MessagesForReference(ctx, ref)
	if err != nil {
		return res, err
	}
	var todo []store.LedgerEntry
	for _, e := range entries {
		if e.State == store.LedgerDone {
			res.Skipped++
			continue
		}
		if err := p.st.ReopenMessage(ctx, e.ID, store.System); err != nil {
			return res, err
		}
		todo = append(todo, e)
	}
	return res, p.rerun(ctx, todo, &res)
}

func (p *Poller) rerun(ctx context.Context, entries []store.LedgerEntry, res *ReprocessResult) error {
	for _, e := range entries {
		j, err := p.msgFromLedger(ctx, e)
		if err != nil {
			return err
		}
		out, err := p.proc.Process(ctx, j.msg, j.hdr)
		if err != nil {
			return fmt.Errorf("reprocess ledger row %d: %w", e.ID, err)
		}
		switch {
		case out.Failed:
			res.Failed++
		case out.AlreadyDone:
			res.Skipped++
		default:
			res.Processed++
		}
	}
	return nil
}
