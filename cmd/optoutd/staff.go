package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/web"
)

// staffUsage is printed for `optoutd staff` without a valid subcommand.
const staffUsage = `usage:
  optoutd staff add --email ADDRESS --role viewer|triager|admin   (password from stdin, or a prompt)
  optoutd staff list
  optoutd staff disable --email ADDRESS | --id N
  optoutd staff enable --email ADDRESS | --id N
  optoutd staff password --email ADDRESS                          (new password from stdin, or a prompt)
  optoutd staff unlock ADDRESS | --email ADDRESS | --id N        (clear sign-in locks and slow-down)`

func staffUsageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format+"\n"+staffUsage, args...)}
}

// runStaff is `optoutd staff add|list|disable|enable|password|unlock`: it manages
// the triage page's staff accounts. Passwords are read from standard input
// (one line) or, on a terminal, from a prompt without echo; never from a flag.
func runStaff(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return staffUsageError("staff: say what to do")
	}
	return staffCommand(ctx, args[0], args[1:], os.Stdin, os.Stdout, os.Stderr, func() (staffStore, func(), error) {
		s, _, err := openStore(ctx, false)
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	})
}

// staffStore is the part of the store the staff commands use.
type staffStore interface {
	CreateStaff(ctx context.Context, email, passwordHash string, role store.Role, actor store.Actor) (store.Staff, error)
	StaffByEmail(ctx context.Context, email string) (store.Staff, error)
	StaffByID(ctx context.Context, id int64) (store.Staff, error)
	ListStaff(ctx context.Context) ([]store.Staff, error)
	UpdateStaff(ctx context.Context, id int64, u store.StaffUpdate, actor store.Actor) error
	UnlockStaff(ctx context.Context, id int64, actor store.Actor) (int64, error)
}

func staffCommand(ctx context.Context, sub string, args []string, stdin io.Reader, stdout, stderr io.Writer,
	open func() (staffStore, func(), error)) error {
	fs := flag.NewFlagSet("staff "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "the staff member's email address")
	role := fs.String("role", "", "viewer, triager or admin (add only)")
	id := fs.Int64("id", 0, "the account id (disable/enable; see `staff list`)")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2, err: err}
	}
	if sub == "unlock" && fs.NArg() == 1 && *email == "" && strings.Contains(fs.Arg(0), "@") {
		*email = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return staffUsageError("staff %s: unexpected argument %q (passwords are never given as arguments)", sub, fs.Arg(0))
	}
	switch sub {
	case "add":
		if *email == "" || !strings.Contains(*email, "@") {
			return staffUsageError("staff add: --email must be an email address")
		}
		r := store.Role(*role)
		if !r.Valid() {
			return staffUsageError("staff add: --role must be viewer, triager or admin")
		}
		hash, err := readNewPassword(stdin, stderr)
		if err != nil {
			return err
		}
		s, closeFn, err := open()
		if err != nil {
			return err
		}
		defer closeFn()
		st, err := s.CreateStaff(ctx, *email, hash, r, store.System)
		if errors.Is(err, store.ErrDuplicate) {
			return fmt.Errorf("staff add: an account with that email already exists (see `optoutd staff list`): %w", err)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created staff account %d with role %s\n", st.ID, st.Role)
		return nil
	case "list":
		s, closeFn, err := open()
		if err != nil {
			return err
		}
		defer closeFn()
		list, err := s.ListStaff(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tROLE\tSTATE\tCREATED")
		for _, st := range list {
			state := "active"
			if st.Disabled {
				state = "disabled"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", st.ID, st.Email, st.Role, state, st.CreatedAt.Format("2006-01-02"))
		}
		return tw.Flush()
	case "unlock":
		if *email == "" && *id == 0 {
			return staffUsageError("staff unlock: give the account's email address or --id")
		}
		s, st, closeFn, err := openStaffAccount(ctx, open, sub, *id, *email)
		if err != nil {
			return err
		}
		defer closeFn()
		n, err := s.UnlockStaff(ctx, st.ID, store.System)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "staff account %d: unlocked (%d sign-in counters cleared)\n", st.ID, n)
		return nil
	case "disable", "enable", "password":
		if *email == "" && *id == 0 {
			return staffUsageError("staff %s: give --email or --id", sub)
		}
		var u store.StaffUpdate
		if sub == "password" {
			hash, err := readNewPassword(stdin, stderr)
			if err != nil {
				return err
			}
			u.PasswordHash = &hash
		} else {
			disabled := sub == "disable"
			u.Disabled = &disabled
		}
		s, st, closeFn, err := openStaffAccount(ctx, open, sub, *id, *email)
		if err != nil {
			return err
		}
		defer closeFn()
		if err := s.UpdateStaff(ctx, st.ID, u, store.System); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "staff account %s: %s done; its sessions are ended\n", strconv.FormatInt(st.ID, 10), sub)
		return nil
	}
	return staffUsageError("staff: unknown subcommand %q", sub)
}

// openStaffAccount opens the store and finds the account a staff
// subcommand names: by id when one is given, else by email. Call closeFn
// when done with the store.
func openStaffAccount(ctx context.Context, open func() (staffStore, func(), error), sub string, id int64, email string) (s staffStore, st store.Staff, closeFn func(), err error) {
	s, closeFn, err = open()
	if err != nil {
		return nil, store.Staff{}, nil, err
	}
	if id != 0 {
		st, err = s.StaffByID(ctx, id)
	} else {
		st, err = s.StaffByEmail(ctx, email)
	}
	if err != nil {
		closeFn()
		return nil, store.Staff{}, nil, fmt.Errorf("staff %s: %w (see `optoutd staff list`)", sub, err)
	}
	return s, st, closeFn, nil
}

// readNewPassword reads a password: on a terminal, twice at a prompt
// without echo; otherwise the first line of stdin. It returns its hash.
func readNewPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	var pw string
	if f, ok := stdin.(*os.File); ok && isTerminal(f) {
		fmt.Fprint(stderr, "Password (at least 12 characters): ")
		p1, err := readNoEcho(f)
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(stderr, "Password again: ")
		p2, err := readNoEcho(f)
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if p1 != p2 {
			return "", errors.New("the two passwords differ; run the command again")
		}
		pw = p1
	} else {
		line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	if pw == "" {
		return "", errors.New("no password given: pipe it on stdin (for example from a password manager) or run on a terminal to be prompted")
	}
	return web.HashPassword(pw)
}
