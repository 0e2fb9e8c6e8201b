package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/emersion/go-message/mail"

	"github.com/ncl-icb/optout-intake/store"
)

// What the demo prints: the mail it shows, the register, and every line in
// between goes through printf. The walk-through itself is in demo.go.

func (d *demo) printf(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.out, format, args...)
	d.out.Flush()
}

// printRegister prints the conversations and the register, NHS numbers
// masked but for their last three digits.
func (d *demo) printRegister(ctx context.Context) error {
	d.printf("\n== The register ==\n")
	var refs []string
	for _, m := range d.allMail() {
		if m.ref != "" && !slices.Contains(refs, m.ref) {
			refs = append(refs, m.ref)
		}
	}
	for _, ref := range refs {
		conv, subs, err := d.app.store.SubmissionsByReference(ctx, ref, store.System)
		if err != nil {
			return fmt.Errorf("read conversation %s: %w", ref, err)
		}
		d.printf("%s  conversation %s\n", ref, conv.State)
		for _, s := range subs {
			state := "not in the register"
			if p, err := d.app.store.FindPerson(ctx, s.Fields.NHSNumber, store.System); err == nil {
				state = fmt.Sprintf("register: %s since %s", p.State, p.Since.Format("2 Jan 2006 15:04"))
			}
			d.printf("  form %-10s NHS number %s  %-9s  %s\n", s.Format, store.MaskNHS(s.Fields.NHSNumber), s.Status, state)
			for _, p := range s.Problems {
				d.printf("    problem (%s): %s\n", p.Severity, p.Message)
			}
		}
	}
	counts, err := d.app.store.RegisterCounts(ctx)
	if err != nil {
		return err
	}
	d.printf("Register totals: %d opted out, %d opted back in.\n", counts[store.OptedOut], counts[store.OptedIn])
	return nil
}

// showMail prints a message's envelope lines and its plain-text body.
func (d *demo) showMail(raw []byte) {
	var b strings.Builder
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		fmt.Fprintf(&b, "  (unreadable message: %v)\n", err)
		d.printf("%s", b.String())
		return
	}
	defer r.Close()
	subject, _ := r.Header.Subject()
	from, _ := r.Header.AddressList("From")
	to, _ := r.Header.AddressList("To")
	b.WriteString("  +--------------------------------------------------------------------------\n")
	if len(from) > 0 {
		fmt.Fprintf(&b, "  | From:    %s\n", from[0].String())
	}
	if len(to) > 0 {
		fmt.Fprintf(&b, "  | To:      %s\n", to[0].Address)
	}
	fmt.Fprintf(&b, "  | Subject: %s\n  |\n", subject)
	for {
		p, err := r.NextPart()
		if err != nil {
			break
		}
		if h, ok := p.Header.(*mail.InlineHeader); ok {
			if ct, _, _ := h.ContentType(); ct != "" && ct != "text/plain" {
				continue
			}
			body, _ := io.ReadAll(io.LimitReader(p.Body, 64<<10))
			text := strings.TrimRight(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n")
			for line := range strings.Lines(text + "\n") {
				fmt.Fprintf(&b, "  | %s", line)
			}
			break
		}
	}
	b.WriteString("  +--------------------------------------------------------------------------\n")
	d.printf("%s", b.String())
}
