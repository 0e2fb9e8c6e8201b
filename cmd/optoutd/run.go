package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// usageError is a bad command line: exit status 2.
func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// parseFlags parses a subcommand's flags; -h prints its usage and a bad
// flag is a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &exitError{code: 0, err: errors.New("flags listed above")}
		}
		return &exitError{code: 2, err: err}
	}
	return nil
}

// parseFileArgs parses the flags of a command that reads the files named
// after them (extract, enquiry), as parseFlags does; naming no file prints
// the usage and is a usage error that says which files (kinds) to name.
func parseFileArgs(fs *flag.FlagSet, args []string, kinds string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageError("no file given: name one or more %s files", kinds)
	}
	return nil
}

// runRun is `optoutd run`: the daemon. It polls the mailbox (on the cron
// schedule and on IMAP IDLE), sends the outbox, purges on schedule and
// serves the triage page, /metrics, /healthz and /readyz, until SIGTERM or
// Ctrl-C. The first signal drains: the message in hand is finished and
// moved, the reply being sent is sent, the HTTP server stops accepting
// work; a second signal exits at once.
func runRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("run takes no arguments (configuration is in the environment; see README.md)")
	}
	cfg, err := loadDaemonConfig(os.Getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, os.Stderr)
	stopSecond := exitOnSecondSignal(ctx, log)
	defer stopSecond()

	a, err := build(ctx, cfg, log, buildOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	log.Info("optoutd starting", slog.String("http", cfg.HTTPAddr), slog.String("poll_schedule", cfg.PollSchedule))

	ln, err := listenHTTP(cfg.HTTPAddr)
	if err != nil {
		return err
	}
	log.Info("http listening", slog.String("addr", ln.Addr().String()))
	// The pipeline and the HTTP server stop together: when one fails, the
	// other is stopped too.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var httpErr, metricsErr error
	wg.Go(func() {
		defer cancel()
		httpErr = serveHTTP(ctx, ln, a.handler, log)
	})
	wg.Go(func() {
		if metricsErr = a.serveMetrics(ctx); metricsErr != nil {
			cancel()
		}
	})
	runErr := a.service.Run(ctx)
	cancel()
	wg.Wait()
	if err := errors.Join(runErr, httpErr, metricsErr); err != nil {
		return err
	}
	log.Info("optoutd stopped")
	return nil
}

// exitOnSecondSignal makes a second SIGINT/SIGTERM end the process at once
// (exit status 130) while the first one, which cancels ctx, is draining.
func exitOnSecondSignal(ctx context.Context, log *slog.Logger) (stop func()) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		log.Info("stopping: finishing the message in hand; send the signal again to exit at once")
		// The first signal is in ch as well (it is what cancelled ctx),
		// unless ctx ended another way.
		seen := 0
		for {
			select {
			case <-done:
				return
			case <-ch:
				seen++
				if seen >= 2 {
					log.Warn("second signal: exiting without draining")
					os.Exit(130)
				}
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

// runOnce is `optoutd once`: one poll of the mailbox and one pass over the
// outbox, then exit; the exit status is 1 when anything failed (for cron
// and Kubernetes CronJobs).
func runOnce(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("once", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	dryRun := fs.Bool("dry-run", false, "read the mailbox and print what each message would come to; send, move and write nothing")
	asJSON := fs.Bool("json", false, "with --dry-run: print JSON Lines")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("once takes no arguments")
	}
	if *asJSON && !*dryRun {
		return usageError("--json goes with --dry-run")
	}
	if *dryRun {
		cfg, err := loadDaemonConfig(os.Getenv)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		return dryRunOnce(ctx, cfg, newLogger(cfg, os.Stderr), os.Stdout, *asJSON)
	}
	return runWithin(ctx, *timeout, func(ctx context.Context, a *app) error {
		// A cron job runs again soon: try the mailbox three times (about
		// three seconds of backoff), not the daemon's five.
		a.session.Attempts = 3
		res, err := a.service.Once(ctx)
		a.log.Info("once done", slog.Int("fetched", res.Fetched), slog.Int("processed", res.Processed),
			slog.Int("already_done", res.AlreadyDone), slog.Int("failed", res.Failed), slog.Int("moved", res.Moved),
			slog.Int("held", res.Held), slog.Bool("skipped_locked", res.Skipped))
		fmt.Printf("fetched %d, processed %d, already done %d, failed %d, moved %d, held back %d\n",
			res.Fetched, res.Processed, res.AlreadyDone, res.Failed, res.Moved, res.Held)
		// Replies held back are not a failure, but whoever runs the job should know.
		if st, serr := a.store.SendingStatus(ctx, a.cfg.SMTPDaily); serr == nil && st.Paused {
			fmt.Println(st.Words(time.Local))
		}
		if err != nil {
			return fmt.Errorf("poll or outbox pass failed: %w", err)
		}
		if res.Failed > 0 {
			return fmt.Errorf("%d messages failed and are kept for a retry (see `optoutd reprocess --failed`)", res.Failed)
		}
		return nil
	})
}

// runWithin is how the commands that do one job and exit (once,
// reprocess) start: it loads the daemon's configuration, builds the
// service and runs job with it, all within timeout, then closes the
// service.
func runWithin(ctx context.Context, timeout time.Duration, job func(context.Context, *app) error) error {
	cfg, err := loadDaemonConfig(os.Getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, os.Stderr)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a, err := build(ctx, cfg, log, buildOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	return job(ctx, a)
}
