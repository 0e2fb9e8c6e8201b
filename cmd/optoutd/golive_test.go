package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/jackc/pgx/v5"

	"github.com/ncl-icb/optout-intake/internal/pgtest"
)

// appendAt stores raw in the rig's INBOX with an INTERNALDATE and flags.
func (r *daemonRig) appendAt(t testing.TB, raw []byte, at time.Time, flags ...imap.Flag) {
	t.Helper()
	c, err := r.dv.Login(rigUser)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cmd := c.Append("INBOX", int64(len(raw)), &imap.AppendOptions{Flags: flags, Time: at})
	if _, err := cmd.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("append: %v", err)
	}
}

// count returns the messages of a folder (0 when it does not exist).
func (r *daemonRig) count(t *testing.T, folder string) (total, deleted int) {
	t.Helper()
	total, deleted, err := r.dv.Count(rigUser, folder)
	if err != nil && folder == "INBOX" {
		t.Fatal(err)
	}
	return total, deleted
}

// unseen counts the messages of INBOX without the \Seen flag.
func (r *daemonRig) unseen(t *testing.T) int {
	t.Helper()
	c, err := r.dv.Login(rigUser)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	sd, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return len(sd.AllUIDs())
}

// ledgerRows counts the rows of the rig's ledger and mailbox state (-1 when
// the table does not exist yet).
func (r *daemonRig) ledgerRows(t *testing.T) (ledger, state int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	schema := r.env["OPTOUT_DB_SCHEMA"]
	for _, q := range []struct {
		table string
		n     *int
	}{{"ledger", &ledger}, {"mailbox_state", &state}} {
		if err := conn.QueryRow(ctx, "select count(*) from "+pgx.Identifier{schema, q.table}.Sanitize()).Scan(q.n); err != nil {
			*q.n = -1
		}
	}
	return ledger, state
}

// lastUID returns the rig's stored last UID of INBOX.
func (r *daemonRig) lastUID(t *testing.T) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var uid int64
	q := "select last_uid from " + pgx.Identifier{r.env["OPTOUT_DB_SCHEMA"], "mailbox_state"}.Sanitize() + " where mailbox = 'INBOX'"
	if err := conn.QueryRow(ctx, q).Scan(&uid); err != nil {
		t.Fatalf("read the stored last UID: %v", err)
	}
	return uid
}

// TestGoLiveOldMailbox is issue 15's go-live on a mailbox worked by hand for
// years: 30 read messages from two years ago and 5 from today. The dry run
// sends, moves and records nothing and prints a line per message; the first
// real run answers exactly the 5 new ones and deletes nothing; later mail
// is answered as usual; `optoutd backlog` lists the 30.
func TestGoLiveOldMailbox(t *testing.T) {
	r := newDaemonRig(t)
	old := time.Now().AddDate(-2, 0, 0)
	for i := range 30 {
		r.appendAt(t, firstContactMail(fmt.Sprintf("old%d@example.org", i)), old.Add(time.Duration(i)*time.Hour), imap.FlagSeen)
	}
	for i := range 5 {
		r.appendAt(t, firstContactMail(fmt.Sprintf("new%d@example.org", i)), time.Now().Add(-time.Duration(i)*time.Minute))
	}
	if out, errOut, code := runBin(t, time.Minute, r.env, "migrate"); code != 0 {
		t.Fatalf("optoutd migrate exit status %d\n%s\n%s", code, out, errOut)
	}

	// The dry run, twice (text and JSON Lines).
	out, errOut, code := runBin(t, 2*time.Minute, r.env, "once", "--dry-run")
	if code != 0 {
		t.Fatalf("optoutd once --dry-run exit status %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	lines := regexp.MustCompile(`(?m)^uid `).FindAllString(out, -1)
	if len(lines) != 35 {
		t.Errorf("dry run printed %d message lines, want 35:\n%s", len(lines), out)
	}
	if n := strings.Count(out, "action held_old"); n != 30 {
		t.Errorf("dry run shows %d held_old lines, want 30:\n%s", n, out)
	}
	if n := strings.Count(out, "reply instructions"); n != 5 {
		t.Errorf("dry run shows %d lines replying with instructions, want 5:\n%s", n, out)
	}
	for _, want := range []string{"35 messages; by action: held_old 30, instructions 5", "5 replies would be sent: instructions 5"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run summary lacks %q:\n%s", want, out)
		}
	}
	jout, errOut, code := runBin(t, 2*time.Minute, r.env, "once", "--dry-run", "--json")
	if code != 0 {
		t.Fatalf("optoutd once --dry-run --json exit status %d\n%s\n%s", code, jout, errOut)
	}
	jlines := strings.Split(strings.TrimSpace(jout), "\n")
	if len(jlines) != 36 {
		t.Errorf("dry run --json printed %d lines, want 35 messages and a summary:\n%s", len(jlines), jout)
	}
	for i, l := range jlines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Errorf("dry run --json line %d is not JSON: %v: %s", i+1, err, l)
		}
	}
	if !strings.Contains(jlines[len(jlines)-1], `"summary":{"messages":35,"actions":{"held_old":30,"instructions":5}`) {
		t.Errorf("dry run --json summary = %s", jlines[len(jlines)-1])
	}
	for _, o := range []string{out, jout, errOut} {
		if strings.Contains(o, "@example.org") || strings.Contains(o, "opt out. What") {
			t.Errorf("dry run printed personal data:\n%s", o)
		}
	}
	if n := len(r.sink.Messages()); n != 0 {
		t.Errorf("the dry run sent %d messages", n)
	}
	if total, deleted := r.count(t, "INBOX"); total != 35 || deleted != 0 {
		t.Errorf("after the dry run INBOX holds %d (%d deleted), want 35 (0)", total, deleted)
	}
	if total, _ := r.count(t, "Processed"); total != 0 {
		t.Errorf("the dry run moved %d messages to Processed", total)
	}
	if n := r.unseen(t); n != 5 {
		t.Errorf("after the dry run %d messages are unread, want the 5 new ones (it reads with BODY.PEEK)", n)
	}
	if ledger, state := r.ledgerRows(t); ledger != 0 || state != 0 {
		t.Errorf("after the dry run the database holds %d ledger rows and %d mailbox states, want none", ledger, state)
	}

	// The real first run: exactly the 5 new ones are answered.
	out, errOut, code = runBin(t, 2*time.Minute, r.env, "once")
	if code != 0 {
		t.Fatalf("optoutd once exit status %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "processed 5") || !strings.Contains(out, "held back 30") {
		t.Errorf("optoutd once output %q, want 5 processed and 30 held back", out)
	}
	checkSentTo := func(want ...string) {
		t.Helper()
		msgs := r.sink.Messages()
		got := map[string]bool{}
		for _, m := range msgs {
			for _, to := range m.To {
				got[to] = true
			}
		}
		if len(msgs) != len(want) {
			t.Errorf("the sink holds %d messages, want %d (to %v)", len(msgs), len(want), want)
		}
		for _, w := range want {
			if !got[w] {
				t.Errorf("no reply to %s; replies went to %v", w, got)
			}
		}
	}
	news := []string{"new0@example.org", "new1@example.org", "new2@example.org", "new3@example.org", "new4@example.org"}
	checkSentTo(news...)
	if total, deleted := r.count(t, "INBOX"); total != 30 || deleted != 0 {
		t.Errorf("after once INBOX holds %d (%d deleted), want the 30 old ones (0)", total, deleted)
	}
	if total, _ := r.count(t, "Processed"); total != 5 {
		t.Errorf("after once Processed holds %d, want 5", total)
	}
	// The stored position moved past the held mail, so the next poll
	// fetches nothing old.
	if uid := r.lastUID(t); uid != 35 {
		t.Errorf("after once the stored last UID is %d, want 35 (past the held mail)", uid)
	}

	// Mail arriving afterwards is answered as usual; the old mail is never
	// picked up again (each run's first poll scans the inbox).
	r.appendAt(t, firstContactMail("later@example.org"), time.Now())
	for range 2 {
		if out, errOut, code := runBin(t, 2*time.Minute, r.env, "once"); code != 0 {
			t.Fatalf("optoutd once exit status %d\n%s\n%s", code, out, errOut)
		}
	}
	checkSentTo(append(news, "later@example.org")...)
	if total, deleted := r.count(t, "INBOX"); total != 30 || deleted != 0 {
		t.Errorf("INBOX holds %d (%d deleted), want the 30 old ones (0)", total, deleted)
	}

	// The backlog lists the 30.
	out, errOut, code = runBin(t, time.Minute, r.env, "backlog")
	if code != 0 {
		t.Fatalf("optoutd backlog exit status %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"30 messages held back", "by what it looks like: first contact 30", "by why: held_old 30", old.UTC().Format("2006-01")} {
		if !strings.Contains(out, want) {
			t.Errorf("optoutd backlog output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "@example.org") {
		t.Errorf("optoutd backlog printed addresses:\n%s", out)
	}

	// A restored (here: empty) database makes the old mail look new: it is
	// held all the same, on its INTERNALDATE.
	pool, schema := pgtest.Schema(t, 2)
	pool.Close()
	restored := maps.Clone(r.env)
	restored["OPTOUT_DB_SCHEMA"] = schema
	if out, errOut, code := runBin(t, 2*time.Minute, restored, "once"); code != 0 || !strings.Contains(out, "held back 30") {
		t.Fatalf("optoutd once on a restored database: exit status %d, output %q, want 30 held back\n%s", code, out, errOut)
	}
	checkSentTo(append(news, "later@example.org")...)

	// Mail someone answered by hand is held even when it is new, and the
	// periodic scans that see it again never answer it.
	r.appendAt(t, firstContactMail("byhand@example.org"), time.Now(), imap.FlagSeen, imap.FlagAnswered)
	for range 2 {
		if out, errOut, code := runBin(t, 2*time.Minute, r.env, "once"); code != 0 {
			t.Fatalf("optoutd once exit status %d\n%s\n%s", code, out, errOut)
		}
	}
	checkSentTo(append(news, "later@example.org")...)

	// The backlog on purpose: a confirmation is needed; then the 30 are
	// answered through the pipeline and moved, the answered one stays.
	since := old.Add(-24 * time.Hour).UTC().Format("2006-01-02")
	out, errOut, code = runBin(t, 2*time.Minute, r.env, "backlog", "--since", since, "--apply")
	if code == 0 || !strings.Contains(errOut, "add --yes") || !strings.Contains(out, "this will send 30 replies: instructions 30") {
		t.Errorf("backlog --apply without a terminal or --yes: exit status %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	checkSentTo(append(news, "later@example.org")...)
	out, errOut, code = runBin(t, 2*time.Minute, r.env, "backlog", "--since", since, "--apply", "--yes")
	if code != 0 || !strings.Contains(out, "processed 30") {
		t.Fatalf("backlog --apply --yes: exit status %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if n := len(r.sink.Messages()); n != 36 {
		t.Errorf("after backlog --apply the sink holds %d messages, want 6 + 30", n)
	}
	if total, deleted := r.count(t, "INBOX"); total != 1 || deleted != 0 {
		t.Errorf("after backlog --apply INBOX holds %d (%d deleted), want the one answered by hand", total, deleted)
	}
	out, _, _ = runBin(t, time.Minute, r.env, "backlog")
	if !strings.Contains(out, "1 messages held back") || !strings.Contains(out, "held_answered 1") {
		t.Errorf("optoutd backlog after --apply:\n%s", out)
	}
}

// BenchmarkGoLive measures the go-live on a mailbox of GOLIVE_OLD (default
// 1000) read messages from two years ago and 5 new ones: the dry run (per
// iteration) and, once, the first real `optoutd once` that holds the old
// mail (reported as first-once-s). The messages are short first contacts;
// a real mailbox's PDFs take longer to read when they are held.
//
//	go test -run '^$' -bench GoLive -benchtime 3x ./cmd/optoutd/
func BenchmarkGoLive(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("GOLIVE_OLD")); err == nil && v > 0 {
		n = v
	}
	r := newDaemonRig(b)
	c, err := r.dv.Login(rigUser)
	if err != nil {
		b.Fatal(err)
	}
	old := time.Now().AddDate(-2, 0, 0)
	for i := range n {
		raw := firstContactMail(fmt.Sprintf("old%d@example.org", i))
		cmd := c.Append("INBOX", int64(len(raw)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}, Time: old.Add(time.Duration(i) * time.Minute)})
		if _, err := cmd.Write(raw); err != nil {
			b.Fatal(err)
		}
		if err := cmd.Close(); err != nil {
			b.Fatal(err)
		}
		if _, err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	for i := range 5 {
		r.appendAt(b, firstContactMail(fmt.Sprintf("new%d@example.org", i)), time.Now())
	}
	if out, errOut, code := runBin(b, time.Minute, r.env, "migrate"); code != 0 {
		b.Fatalf("migrate: %d\n%s\n%s", code, out, errOut)
	}
	for b.Loop() {
		if out, errOut, code := runBin(b, 10*time.Minute, r.env, "once", "--dry-run", "--json"); code != 0 {
			b.Fatalf("dry run: %d\n%s\n%s", code, out, errOut)
		}
	}
	b.StopTimer()
	start := time.Now()
	out, errOut, code := runBin(b, 10*time.Minute, r.env, "once")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("held back %d", n)) {
		b.Fatalf("once: %d\n%s\n%s", code, out, errOut)
	}
	b.ReportMetric(time.Since(start).Seconds(), "first-once-s")
	b.ReportMetric(float64(n+5), "messages")
}
