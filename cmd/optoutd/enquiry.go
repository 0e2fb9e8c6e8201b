package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ncl-icb/optout-intake/config"
	"github.com/ncl-icb/optout-intake/enquiry"
	"github.com/ncl-icb/optout-intake/extract/message"
	"github.com/ncl-icb/optout-intake/vocab"
)

// enquiryResult is what `optoutd enquiry --json` prints for one file.
type enquiryResult struct {
	File       string         `json:"file"`
	Plain      bool           `json:"plain"`
	Intents    []vocab.Reason `json:"intents"`
	AlsoOptOut bool           `json:"also_opt_out"`
	DueBy      *time.Time     `json:"due_by,omitempty"`
	Words      int            `json:"words"`
	OwnWords   string         `json:"own_words,omitempty"`
}

// runEnquiry is `optoutd enquiry [--json] [--words] FILE...`: it reads
// emails (.eml) or plain text files as the pipeline reads a message without
// a form, and prints whether each is a plain request or what in it needs a
// person, with the due date (from the email's Date, or now, and
// OPTOUT_ENQUIRY_DAYS). With --words it also prints the resident's own
// words as read (quotes, signatures, footers and leaflet text left out),
// which is how a misread message is checked before a phrase is added.
// Exit status 1 when a file could not be opened, 2 on a usage error.
func runEnquiry(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("enquiry", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per file, one per line")
	words := fs.Bool("words", false, "also print the resident's own words as read")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: optoutd enquiry [--json] [--words] FILE...\n\nreads emails (.eml) or text files and says what each asks for")
		fs.PrintDefaults()
	}
	if err := parseFileArgs(fs, args, ".eml or .txt"); err != nil {
		return err
	}
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return err
	}
	lim := message.DefaultLimits()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	var failed []error
	for i, name := range fs.Args() {
		data, err := readFile(name, lim.MaxMessageBytes)
		if err != nil {
			failed = append(failed, fmt.Errorf("open argument %d: %w", i+1, err))
			continue
		}
		subject, body, received := "", string(data), time.Now()
		if strings.EqualFold(filepath.Ext(name), ".eml") {
			msg, _ := message.Parse(bytes.NewReader(data), lim) // partial messages are still read
			subject, body = msg.Subject, msg.Body
			if !msg.Date.IsZero() {
				received = msg.Date
			}
		}
		r := enquiry.Read(subject, body)
		res := enquiryResult{File: name, Plain: r.Plain, Intents: r.Intents, AlsoOptOut: r.AlsoOptOut, Words: r.Words}
		if res.Intents == nil {
			res.Intents = []vocab.Reason{}
		}
		if due := r.DueBy(received, cfg.EnquiryDays); !due.IsZero() {
			res.DueBy = &due
		}
		if *words {
			res.OwnWords = enquiry.OwnWords(body)
		}
		if *asJSON {
			if err := enc.Encode(res); err != nil {
				return fmt.Errorf("write result for argument %d: %w", i+1, err)
			}
			continue
		}
		switch {
		case res.Plain:
			fmt.Fprintf(out, "%s: plain request (the instructions answer it)\n", name)
		default:
			fmt.Fprintf(out, "%s: needs a person, filed under %s: %s", name, r.Primary(), strings.Join(intentStrings(res.Intents), ", "))
			if res.AlsoOptOut {
				fmt.Fprint(out, "; also asks to opt out")
			}
			fmt.Fprintf(out, "; due by %s\n", res.DueBy.Format("Mon 2 Jan 2006"))
		}
		if *words {
			fmt.Fprintf(out, "  own words (%d):\n    %s\n", res.Words, strings.ReplaceAll(res.OwnWords, "\n", "\n    "))
		}
	}
	if len(failed) > 0 {
		return &exitError{code: 1, err: errors.Join(failed...)}
	}
	return nil
}

func intentStrings(is []vocab.Reason) []string {
	out := make([]string, len(is))
	for i, x := range is {
		out[i] = string(x)
	}
	return out
}
