package intake

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/ncl-icb/optout-intake/internal/dovecot"
	"github.com/ncl-icb/optout-intake/notify"
)

// benchMessages builds n client-shaped messages: 60% replies with the PDF
// form in threads we started (signed In-Reply-To), 30% first contacts, 10%
// automatic replies. It returns them and how many replies they should cause.
func benchMessages(b *testing.B, r *rig, n int) (raws [][]byte, replies int) {
	b.Helper()
	pdfs := formPDFs(b, n)
	signer := notify.Signer{Key: signKey}
	for i := range n {
		addr := fmt.Sprintf("resident%05d@example.org", i)
		switch {
		case i%10 < 6:
			ref := r.newConversation(b, uint32(i), addr)
			id, err := signer.NewMessageID(ref, "nhs.example", nil)
			if err != nil {
				b.Fatal(err)
			}
			e := email{from: addr, subject: "RE: [secure] Your London Care Record opt-out - reference " + ref,
				body: "Please find my form attached.\n\nKind regards", inReplyTo: id, references: []string{id},
				attName: "opt-out form.pdf", att: pdfs[i]}
			raws = append(raws, e.bytes())
			replies++ // accepted or duplicate, which confirms receipt too (issue 16 item 5)
		case i%10 < 9:
			raws = append(raws, contact(addr).bytes())
			replies++
		default:
			e := contact(addr)
			e.subject = "Automatic reply: Opting out"
			e.extra = []string{"Auto-Submitted: auto-replied", "X-Auto-Response-Suppress: All"}
			raws = append(raws, e.bytes())
		}
	}
	return raws, replies
}

// formPDFs returns the filled fixture PDF with a different valid NHS
// number for each i (so the register sees n people, not one person n
// times): the fixture is rewritten uncompressed with qpdf once, and the
// field value, a UTF-16 hex string of the same length, replaced.
func formPDFs(b *testing.B, n int) [][]byte {
	b.Helper()
	out := filepath.Join(b.TempDir(), "uncompressed.pdf")
	cmd := exec.Command("qpdf", "--qdf", "--object-streams=disable", filepath.Join("..", "fixtures", "forms", "fillable-filled.pdf"), out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("qpdf (apt-get install qpdf): %v: %s", err, msg)
	}
	base, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	old := []byte(utf16Hex("943 476 5919"))
	if !bytes.Contains(base, old) {
		b.Fatal("the fixture's NHS number field was not found")
	}
	pdfs := make([][]byte, n)
	next := 100000000
	for i := range pdfs {
		nhs := ""
		for nhs == "" {
			nhs = nhsWithCheck(next)
			next++
		}
		pdfs[i] = bytes.ReplaceAll(base, old, []byte(utf16Hex(nhs[:3]+" "+nhs[3:6]+" "+nhs[6:])))
	}
	return pdfs
}

// nhsWithCheck returns the NHS number with first nine digits d and its
// modulus 11 check digit, or "" when d has none.
func nhsWithCheck(d int) string {
	s := fmt.Sprintf("%09d", d)
	sum := 0
	for i := range 9 {
		sum += int(s[i]-'0') * (10 - i)
	}
	check := 11 - sum%11
	switch check {
	case 11:
		check = 0
	case 10:
		return ""
	}
	return s + strconv.Itoa(check)
}

func utf16Hex(s string) string {
	out := "feff"
	for _, r := range s {
		out += fmt.Sprintf("%04x", r)
	}
	return out
}

// rawFetch fetches every message of the inbox with a bare client, UID FETCH
// BODY.PEEK[] in batches of 50, and returns how long it took.
func rawFetch(b *testing.B, r *rig, want int) time.Duration {
	b.Helper()
	c, err := r.dv.Login(imapUser)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		b.Fatal(err)
	}
	sd, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		b.Fatal(err)
	}
	uids := sd.AllUIDs()
	got := 0
	for i := 0; i < len(uids); i += 50 {
		var set imap.UIDSet
		set.AddNum(uids[i:min(i+50, len(uids))]...)
		msgs, err := c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range msgs {
			for _, body := range m.BodySection {
				got += min(len(body.Bytes), 1)
			}
		}
	}
	d := time.Since(start)
	if got != want {
		b.Fatalf("raw fetch read %d messages, want %d", got, want)
	}
	return d
}

// The benchmark's concurrency: poller workers and SMTP connections.
var (
	benchWorkers = envInt("BENCH_WORKERS", DefaultWorkers)
	benchSenders = envInt("BENCH_SENDERS", 4)
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// sampleHeap records the largest HeapInuse seen every 20 ms until stopped.
func sampleHeap(peak *atomic.Uint64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

// BenchmarkPipeline2000 appends 2,000 client-shaped messages to Dovecot and
// measures the daemon processing them all, replies sent to the SMTP sink,
// against the raw rate of fetching the same messages with a bare client.
// BENCH_N changes the count. Run:
//
//	go test -run '^$' -bench Pipeline2000 -benchtime 1x ./intake/
func BenchmarkPipeline2000(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("BENCH_N")); err == nil && v > 0 {
		n = v
	}
	for b.Loop() {
		b.StopTimer()
		r := newRig(b)
		r.senders = benchSenders
		raws, replies := benchMessages(b, r, n)
		c, err := r.dv.Login(imapUser)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := dovecot.AppendAll(c, "INBOX", raws); err != nil {
			b.Fatal(err)
		}
		c.Close()
		raws = nil
		raw := rawFetch(b, r, n)
		svc := r.service(func(c *Config) { c.Poller.Workers = benchWorkers })
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)

		var peak atomic.Uint64
		stopSampling := sampleHeap(&peak)
		b.StartTimer()
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			svc.RunOutbox(ctx)
		}()
		res, err := svc.PollOnce(ctx)
		if err != nil {
			b.Fatalf("poll: %v", err)
		}
		processed := time.Since(start)
		svc.Wake()
		if _, err := r.sink.WaitFor(replies, 5*time.Minute); err != nil {
			b.Fatal(err)
		}
		total := time.Since(start)
		cancel()
		<-done
		b.StopTimer()
		stopSampling()

		r.sink.Reset() // the sink's copies of the replies are the test's memory, not the daemon's
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if res.Processed != n || res.Moved != n {
			b.Fatalf("poll = %+v, want %d processed and moved", res, n)
		}
		if got := r.count("INBOX"); got != 0 {
			b.Fatalf("inbox holds %d after the run", got)
		}
		b.ReportMetric(float64(n)/raw.Seconds(), "raw-fetch-msgs/s")
		b.ReportMetric(float64(n)/processed.Seconds(), "processed-msgs/s")
		b.ReportMetric(float64(n)/total.Seconds(), "end-to-end-msgs/s")
		b.ReportMetric(total.Seconds()/raw.Seconds(), "x-raw-fetch-time")
		b.ReportMetric(float64(after.HeapInuse)/(1<<20), "heap-inuse-after-MiB")
		b.ReportMetric(float64(peak.Load())/(1<<20), "heap-peak-MiB")
		b.ReportMetric(float64(replies), "replies")
		b.StartTimer()
	}
}
