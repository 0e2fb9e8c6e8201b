package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/ncl-icb/optout-intake/store"
)

// runReprocess is `optoutd reprocess REF|--failed`: after a fix, run again
// the messages of one conversation that are not done, or every failed
// message, from the raw copy kept in the ledger. Done messages are never
// run twice; the running daemon's next inbox scan moves them to their
// folders. The exit status is 1 when a message fails again.
func runReprocess(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("reprocess", flag.ContinueOnError)
	failed := fs.Bool("failed", false, "run every failed message again, whatever its retry time")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: optoutd reprocess REF | --failed")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var ref string
	switch {
	case *failed && fs.NArg() == 0:
	case !*failed && fs.NArg() == 1:
		r, ok := store.FindReference(fs.Arg(0))
		if !ok {
			return usageError("%q is not a reference code like NCL-7K3Q-9XWD", fs.Arg(0))
		}
		ref = r
	default:
		return usageError("give one reference code or --failed (not both); run `optoutd reprocess -h`")
	}
	return runWithin(ctx, *timeout, func(ctx context.Context, a *app) error {
		res, err := a.service.Poller().Reprocess(ctx, ref)
		what := "failed messages"
		if ref != "" {
			what = "messages of " + ref
		}
		fmt.Printf("%s: processed %d, failed again %d, skipped (already done) %d\n", what, res.Processed, res.Failed, res.Skipped)
		if err != nil {
			return err
		}
		if res.Failed > 0 {
			return fmt.Errorf("%d messages failed again; their errors are in the ledger and the logs", res.Failed)
		}
		return nil
	})
}
