package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/intake"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// runBacklog is `optoutd backlog [--since DATE] [--apply [--yes]]`: list
// the mail held back (old, from before OPTOUT_START_AFTER, answered by
// hand), counted by month of arrival, by what it looks like and by why it
// was held; with --apply, process the held mail that arrived since DATE
// through the pipeline and the outbox's normal sending, after a
// confirmation that says how many replies it will send.
func runBacklog(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("backlog", flag.ContinueOnError)
	sinceFlag := fs.String("since", "", "only mail that arrived at or after this date (YYYY-MM-DD, UTC) or RFC 3339 time; required with --apply")
	apply := fs.Bool("apply", false, "process the held mail since --since and send the replies (asks first)")
	yes := fs.Bool("yes", false, "with --apply: do not ask for confirmation")
	timeout := fs.Duration("timeout", 2*time.Hour, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: optoutd backlog [--since DATE] | optoutd backlog --since DATE --apply [--yes]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("backlog takes no arguments; run `optoutd backlog -h`")
	}
	var since time.Time
	if *sinceFlag != "" {
		t, err := parseSince(*sinceFlag)
		if err != nil {
			return usageError("--since %q: give a date as YYYY-MM-DD or an RFC 3339 time", *sinceFlag)
		}
		since = t
	}
	if *apply && since.IsZero() {
		return usageError("--apply needs --since DATE: say from when the held mail is to be answered")
	}
	if *yes && !*apply {
		return usageError("--yes goes with --apply")
	}
	cfg, err := loadDaemonConfig(os.Getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, os.Stderr)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	a, err := build(ctx, cfg, log, buildOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	if !*apply {
		held, err := a.store.HeldMessages(ctx, since)
		if err != nil {
			return err
		}
		printBacklog(os.Stdout, held)
		return nil
	}
	return applyBacklog(ctx, a, since, *yes, os.Stdin, os.Stdout)
}

// kindLabels says what held mail looks like, by extract.Kind.
var kindLabels = map[string]string{
	string(extract.KindContact):    "first contact",
	intake.HeldKindQuestion:        "question",
	string(extract.KindSubmission): "form",
	string(extract.KindAuto):       "automatic",
	string(extract.KindUnreadable): "unreadable",
}

// printBacklog prints the held mail: a total, then counts by month of
// arrival (UTC), by what it looks like and by why it was held. Codes and
// counts only.
func printBacklog(w io.Writer, held []store.LedgerEntry) {
	if len(held) == 0 {
		fmt.Fprintln(w, "no mail is held back")
		return
	}
	months, kinds, why := map[string]int{}, map[string]int{}, map[string]int{}
	for _, e := range held {
		months[e.ReceivedAt.UTC().Format("2006-01")]++
		k := kindLabels[e.Kind]
		if k == "" {
			k = "not read"
		}
		kinds[k]++
		a, _ := store.HeldAction(e.Action)
		why[string(a)]++
	}
	fmt.Fprintf(w, "%d messages held back, left in the inbox, not answered (%s to %s)\n", len(held),
		held[0].ReceivedAt.UTC().Format("2006-01-02"), held[len(held)-1].ReceivedAt.UTC().Format("2006-01-02"))
	fmt.Fprintf(w, "by month: %s\n", counts(months))
	fmt.Fprintf(w, "by what it looks like: %s\n", counts(kinds))
	fmt.Fprintf(w, "by why: %s\n", counts(why))
	fmt.Fprintf(w, "answer them on purpose with `optoutd backlog --since DATE --apply`; mail answered by hand (%s) is never answered\n", vocab.ActionHeldAnswered)
}

// applyBacklog previews the held mail since since, asks for confirmation
// (unless yes) with the number of replies it will send, then processes it
// and sends the outbox.
func applyBacklog(ctx context.Context, a *app, since time.Time, yes bool, stdin io.Reader, stdout io.Writer) error {
	pl := a.service.Poller()
	var sum previewSummary
	if err := pl.PreviewBacklog(ctx, since, func(pv intake.Preview) error {
		sum.add(pv)
		return nil
	}); err != nil {
		return fmt.Errorf("read the held mail: %w", err)
	}
	if sum.Messages == 0 {
		fmt.Fprintf(stdout, "no held mail since %s to answer\n", since.UTC().Format(time.RFC3339))
		return nil
	}
	fmt.Fprintf(stdout, "%d held messages since %s; by action: %s\nthis will send %d replies: %s\n",
		sum.Messages, since.UTC().Format(time.RFC3339), counts(sum.Actions), sum.replies(), counts(sum.Replies))
	if !yes {
		f, ok := stdin.(*os.File)
		if !ok || !isTerminal(f) {
			return errors.New("not on a terminal: add --yes to confirm")
		}
		fmt.Fprintf(stdout, "send %d replies? type yes: ", sum.replies())
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		if strings.TrimSpace(line) != "yes" {
			return errors.New("not confirmed: nothing was done")
		}
	}
	res, err := pl.ApplyBacklog(ctx, since)
	fmt.Fprintf(stdout, "processed %d, failed %d, moved %d\n", res.Processed, res.Failed, res.Moved)
	if err != nil {
		return fmt.Errorf("apply the backlog: %w", err)
	}
	sent, err := a.service.SendOnce(ctx)
	fmt.Fprintf(stdout, "sent %d replies (the rest, if any, are sent by the daemon's outbox)\n", sent)
	if err != nil {
		return fmt.Errorf("send the outbox: %w", err)
	}
	if res.Failed > 0 {
		return fmt.Errorf("%d messages failed and are kept for a retry (see `optoutd reprocess --failed`)", res.Failed)
	}
	return nil
}
