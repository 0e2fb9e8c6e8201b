package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/extract/pdfworker"
)

// exitError is an error that ends optoutd with a status other than 1:
// 2 for a usage error. realMain honours any error with an ExitCode method.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// ExitCode is the process's exit status for this error.
func (e *exitError) ExitCode() int { return e.code }

// runExtract is `optoutd extract [--json] FILE...`: it reads emails (.eml)
// or bare form files and prints, per file in argument order, what was found.
// With --json it prints one object per line (the contract in docs/extract.md).
// It exits 0 when every file could be opened (a file it cannot parse still
// gets an object), 1 when one could not be opened (the others are still
// printed), 2 on a usage error.
func runExtract(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("extract", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per file, one per line")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit for reading one file")
	inProcess := fs.Bool("in-process", false, "read PDFs in this process instead of guarded child processes (for debugging)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: optoutd extract [--json] [--timeout 10s] FILE...\n\nreads emails (.eml) or form files (.pdf, .docx, .json, .csv, .txt)")
		fs.PrintDefaults()
	}
	if err := parseFileArgs(fs, args, ".eml, .pdf, .docx, .json, .csv or .txt"); err != nil {
		return err
	}
	if *timeout <= 0 {
		return &exitError{code: 2, err: errors.New("--timeout must be positive, for example 10s")}
	}
	lim := extract.DefaultLimits()
	lim.FileTimeout = *timeout
	x := extract.New(lim, time.Now)
	if !*inProcess {
		// As in the daemon: a hostile PDF can only kill a child process,
		// never this command and the results of the other files.
		pool := pdfworker.New(pdfworker.Config{Timeout: *timeout}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		defer pool.Close()
		x.WithPDFReader(pool.Read)
	}
	maxRead := lim.Message.MaxMessageBytes
	if lim.MaxFileBytes > maxRead {
		maxRead = lim.MaxFileBytes
	}

	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	// The PDF library prints fragments of malformed files with fmt.Printf;
	// keep them out of our output (the JSON lines are written to out).
	if devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		stdout := os.Stdout
		os.Stdout = devNull
		defer func() { os.Stdout = stdout; devNull.Close() }()
	}
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	var failed []error
	for i, name := range fs.Args() {
		data, err := readFile(name, maxRead)
		var res extract.Result
		switch {
		case errors.Is(err, errFileTooLarge):
			res = extract.Result{File: name, Kind: extract.KindUnreadable, Forms: []form.Form{},
				Notes: []string{fmt.Sprintf("the file is larger than %d bytes and was not read", maxRead)}}
		case err != nil:
			failed = append(failed, fmt.Errorf("open argument %d: %w", i+1, err))
			res = extract.Result{File: name, Kind: extract.KindUnreadable, Forms: []form.Form{},
				Notes: []string{"the file could not be opened"}}
		default:
			res = x.Read(ctx, name, data)
		}
		if *asJSON {
			if err := enc.Encode(res); err != nil {
				return fmt.Errorf("write result for argument %d: %w", i+1, err)
			}
		} else {
			report(out, res)
		}
		if err := out.Flush(); err != nil {
			return fmt.Errorf("write result for argument %d: %w", i+1, err)
		}
	}
	if len(failed) > 0 {
		return &exitError{code: 1, err: errors.Join(failed...)}
	}
	return nil
}

var errFileTooLarge = errors.New("file too large")

// readFile reads at most limit bytes of the file at name. Its errors name
// the failure, not the path (which may hold a resident's name).
func readFile(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, bareError(err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, errors.New("it is a directory, not a file")
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, bareError(err)
	}
	if int64(len(data)) > limit {
		return nil, errFileTooLarge
	}
	return data, nil
}

// bareError drops the path from an *os.PathError.
func bareError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// fieldOrder is the order the readable report prints fields in: the form's.
var fieldOrder = []string{"gender", "first_name", "last_name", "date_of_birth", "nhs_number", "gp_practice",
	"email", "postal_address", "postcode", "on_behalf", "relationship", "authority", "declaration",
	"full_name", "signature"}

// report prints one Result for staff at a terminal. It is a local tool on
// files the operator already holds, so it shows the fields read.
func report(w io.Writer, r extract.Result) {
	fmt.Fprintf(w, "%s: %s", r.File, r.Kind)
	if r.Kind == extract.KindProtected {
		fmt.Fprintf(w, " (%s)", r.Protection)
	}
	if n := len(r.Forms); n > 0 {
		fmt.Fprintf(w, ", %d form%s", n, plural(n))
	}
	fmt.Fprintln(w)
	for i, f := range r.Forms {
		state := "valid"
		if !f.Valid {
			state = "NOT valid"
		}
		fmt.Fprintf(w, "  form %d from %s (%s): %s\n", i+1, f.Source, f.Format, state)
		vals := fieldValues(f.Fields)
		for _, k := range fieldOrder {
			if v := vals[k]; v != "" {
				fmt.Fprintf(w, "    %-15s %s\n", k, v)
			}
		}
		for _, p := range f.Problems {
			field := p.Field
			if field == "" {
				field = "(form)"
			}
			fmt.Fprintf(w, "    %-7s %s %s: %s\n", p.Severity, field, p.Code, p.Message)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

// fieldValues maps JSON names to printable values; false booleans are "".
func fieldValues(f form.Fields) map[string]string {
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return ""
	}
	return map[string]string{
		"gender": f.Gender, "first_name": f.FirstName, "last_name": f.LastName,
		"date_of_birth": f.DateOfBirth, "nhs_number": f.NHSNumber, "gp_practice": f.GPPractice,
		"email": f.Email, "postal_address": strings.ReplaceAll(f.PostalAddress, "\n", ", "),
		"postcode": f.Postcode, "on_behalf": yes(f.OnBehalf), "relationship": f.Relationship,
		"authority": f.Authority, "declaration": yes(f.Declaration), "full_name": f.FullName,
		"signature": f.Signature,
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
