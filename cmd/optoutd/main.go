// Command optoutd is the optout-intake service: it turns a mailbox of
// residents' emails into a register of London Care Record opt-outs.
//
// Usage:
//
//	optoutd <command> [flags] [args]
//
// Run `optoutd help` for the list of commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand of optoutd.
type command struct {
	name  string
	usage string // one line: what it does; "" hides the command from help
	run   func(ctx context.Context, args []string) error
}

// commands lists every subcommand, in the order `optoutd help` shows them.
func commands() []command {
	return []command{
		{"demo", "run the whole service on embedded defaults with simulated residents, then serve the triage page (--no-serve: stop after)", runDemo},
		{"run", "run the daemon: poll the mailbox, answer, record, send, purge, and serve the triage page, /metrics, /healthz, /readyz", runRun},
		{"once", "one mailbox poll and one outbox pass, then exit (non-zero if anything failed; for cron jobs); --dry-run [--json]: print what it would do, do nothing", runOnce},
		{"backlog", "list the mail held back (old, before OPTOUT_START_AFTER, answered by hand); --since DATE --apply [--yes]: answer it on purpose", runBacklog},
		{"reprocess", "run again, from the stored copy, the messages of a reference (REF) or every failed one (--failed)", runReprocess},
		{"healthcheck", "GET /readyz (or /healthz with --live) on OPTOUT_HTTP_ADDR; exit 0 when healthy (container HEALTHCHECK)", runHealthcheck},
		{"extract", "read emails or form files and print the forms found and their problems", runExtract},
		{"enquiry", "read emails or text files and say whether each is a plain opt-out request or what in it needs a person", runEnquiry},
		{"migrate", "apply pending database migrations (DATABASE_URL) and print the schema version (--print-grants ROLE: print the runtime role's GRANTs)", runMigrate},
		{"audit", "audit verify: check the audit log's hash chain and report the first broken link", runAudit},
		{"purge", "delete raw messages and attachments past retention (--retention-days, default OPTOUT_RETENTION)", runPurge},
		{"export", "write register changes for the care record: --since DATE --format csv [--out FILE]", runExport},
		{"rekey", "re-encrypt stored values under the first OPTOUT_DATA_KEY key (resumable)", runRekey},
		{"genkey", "print fresh OPTOUT_DATA_KEY, OPTOUT_INDEX_KEY and OPTOUT_TOKEN_KEY values", runGenkey},
		{"staff", "manage triage page accounts: add --email E --role viewer|triager|admin (password on stdin), list, disable, enable, password, unlock", runStaff},
		{"config", "check the configuration in the environment (--markdown: print the settings table)", runConfig},
		{"pdf-worker", "", runPDFWorker}, // hidden (no usage): the child process of extract/pdfworker.Pool
	}
}

func main() {
	os.Exit(realMain(os.Args[1:]))
}

func realMain(args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := c.run(ctx, args[1:]); err != nil {
			fmt.Fprintf(os.Stderr, "optoutd %s: %v\n", c.name, err)
			// A command may choose its exit status (2 for a usage error).
			var ec interface{ ExitCode() int }
			if errors.As(err, &ec) {
				return ec.ExitCode()
			}
			return 1
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "optoutd: unknown command %q; run `optoutd help` for the list\n", args[0])
	return 2
}

func printUsage() {
	fmt.Fprintln(os.Stderr, "usage: optoutd <command> [flags] [args]\n\ncommands:")
	for _, c := range commands() {
		if c.usage == "" {
			continue // a hidden command, started by optoutd itself
		}
		fmt.Fprintf(os.Stderr, "  %-12s %s\n", c.name, c.usage)
	}
}
