package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ncl-icb/optout-intake/config"
	"github.com/ncl-icb/optout-intake/intake"
)

// dryRunOnce is `optoutd once --dry-run [--json]`: it reads the mailbox as
// `once` would and prints, per message, its UID, arrival time, the action
// it would take, the folder it would go to, the replies it would send and
// the triage reasons it would raise, then a summary by action. It sends
// nothing, moves nothing and writes nothing to the database: the store is
// opened without migrations and only read (no transaction is opened, so no
// sequence is drawn and no reference code is taken), the IMAP fetch uses
// BODY.PEEK and creates no folder. Only codes are printed, never personal
// data.
func dryRunOnce(ctx context.Context, cfg *config.Config, log *slog.Logger, w io.Writer, asJSON bool) error {
	a, err := build(ctx, cfg, log, buildOptions{readOnly: true})
	if err != nil {
		return err
	}
	defer a.Close()
	a.session.Attempts = 3
	var sum previewSummary
	err = a.service.Poller().DryRun(ctx, func(pv intake.Preview) error {
		sum.add(pv)
		return printPreview(w, pv, asJSON)
	})
	if err != nil {
		return fmt.Errorf("dry run: %w", err)
	}
	return sum.print(w, asJSON, "dry run: nothing was sent, moved or recorded")
}

// previewLine is one message of a dry run, as printed.
type previewLine struct {
	UID     uint32   `json:"uid"`
	Arrived string   `json:"arrived"`
	Action  string   `json:"action"`
	Folder  string   `json:"folder"`
	Kind    string   `json:"kind,omitempty"`
	Replies []string `json:"replies"`
	Reasons []string `json:"reasons"`
}

func printPreview(w io.Writer, pv intake.Preview, asJSON bool) error {
	l := previewLine{UID: uint32(pv.UID), Arrived: pv.Arrived.UTC().Format(time.RFC3339), Action: string(pv.Action),
		Folder: string(pv.Folder), Kind: pv.Kind, Replies: nonNil(pv.Replies), Reasons: nonNil(pv.Reasons)}
	if asJSON {
		b, err := json.Marshal(l)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	kind := l.Kind
	if kind == "" {
		kind = "-"
	}
	_, err := fmt.Fprintf(w, "uid %-7d arrived %s  action %-20s folder %-9s reply %-24s reason %-22s kind %s\n",
		l.UID, l.Arrived, l.Action, l.Folder, dash(l.Replies), dash(l.Reasons), kind)
	return err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func dash(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

// previewSummary counts a dry run's messages by action and its replies by
// kind.
type previewSummary struct {
	Messages int            `json:"messages"`
	Actions  map[string]int `json:"actions"`
	Replies  map[string]int `json:"replies"`
}

func (s *previewSummary) add(pv intake.Preview) {
	if s.Actions == nil {
		s.Actions, s.Replies = map[string]int{}, map[string]int{}
	}
	s.Messages++
	s.Actions[string(pv.Action)]++
	for _, r := range pv.Replies {
		s.Replies[r]++
	}
}

// replies is the number of replies the previewed messages would send.
func (s *previewSummary) replies() int {
	n := 0
	for _, c := range s.Replies {
		n += c
	}
	return n
}

func (s *previewSummary) print(w io.Writer, asJSON bool, note string) error {
	if s.Actions == nil {
		s.Actions, s.Replies = map[string]int{}, map[string]int{}
	}
	if asJSON {
		b, err := json.Marshal(map[string]any{"summary": s})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	fmt.Fprintf(w, "\n%d messages; by action: %s\n", s.Messages, counts(s.Actions))
	fmt.Fprintf(w, "%d replies would be sent: %s\n%s\n", s.replies(), counts(s.Replies), note)
	return nil
}

// counts renders "a 3, b 1" in key order ("none" when empty).
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
