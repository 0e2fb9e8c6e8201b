package pdfworker

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/extract/pdfform"
)

// pids returns the process ids of the pool's live children.
func pids(p *Pool) []int {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	var out []int
	for w := range p.live {
		out = append(out, w.pid)
	}
	return out
}

// waitGone fails t unless every pid has been reaped within a second.
func waitGone(t *testing.T, ids []int) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for _, pid := range ids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Errorf("child %d still exists (not killed or not reaped)", pid)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestReadMatchesInProcess: the pool gives what pdfform.Read gives in-process.
func TestReadMatchesInProcess(t *testing.T) {
	p := testPool(t, "worker", Config{Workers: 1})
	ctx := context.Background()
	for _, name := range []string{"fillable-filled.pdf", "fillable-onbehalf.pdf", "printed.pdf", "flattened.pdf",
		"scanned.pdf", "not-a-pdf.pdf", "encrypted-aes256.pdf", "pdf20.pdf", "fillable-blank.pdf"} {
		data := fixture(t, name)
		want, wantErr := pdfform.Read(ctx, data, pdfform.DefaultLimits())
		got, err := p.Read(ctx, data, pdfform.DefaultLimits())
		if codeOf(err) != codeOf(wantErr) {
			t.Errorf("Read(%s) error = %v, want %v", name, err, wantErr)
			continue
		}
		if wantErr != nil && err.Error() != wantErr.Error() {
			t.Errorf("Read(%s) error = %q, want %q", name, err, wantErr)
		}
		if len(want) == 0 && len(got) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Read(%s) = %+v, want %+v", name, got, want)
		}
	}
	if s := p.Stats(); s.Started != 1 || s.Reads != 9 || s.Crashed != 0 {
		t.Errorf("Stats() = %+v, want one child serving 9 reads", s)
	}
}

// TestHostileFiles: a file that hangs, freezes, kills or exhausts the child
// gives the right UnreadableError within the time limit; the child is
// reaped, and the pool reads the next good file with a fresh child.
func TestHostileFiles(t *testing.T) {
	good := fixture(t, "fillable-filled.pdf")
	tests := []struct {
		hook    string
		code    string
		timeout time.Duration // the pool's; a crash must come well before it
	}{
		{hookHang, pdfform.CodeTimeout, 1500 * time.Millisecond},
		{hookFreeze, pdfform.CodeTimeout, 1500 * time.Millisecond},
		{hookExit, pdfform.CodeDamaged, 10 * time.Second},
		// Growing to the limit takes ~1 s (~2 s under -race): the Go
		// memory limit makes the garbage collector work hard first.
		{hookGrow, pdfform.CodeDamaged, 10 * time.Second},
		{hookHuge, pdfform.CodeDamaged, 10 * time.Second},
		{hookPanicGo, pdfform.CodeDamaged, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.hook, func(t *testing.T) {
			t.Parallel()
			timeout := tt.timeout
			p := testPool(t, "worker", Config{Workers: 1, Timeout: timeout, MemoryLimit: 128 << 20})
			ctx := context.Background()
			if _, err := p.Read(ctx, good, pdfform.DefaultLimits()); err != nil {
				t.Fatalf("Read(good) = %v", err)
			}
			before := pids(p)
			start := time.Now()
			forms, err := p.Read(ctx, []byte(tt.hook), pdfform.DefaultLimits())
			took := time.Since(start)
			if codeOf(err) != tt.code || forms != nil {
				t.Errorf("Read(%s) = %v, %v; want code %s", tt.hook, forms, err, tt.code)
			}
			if tt.code == pdfform.CodeDamaged && err != nil && err.Error() != pdfform.CodeDamaged+": "+msgCrashed {
				t.Errorf("Read(%s) message = %q, want the crash sentence", tt.hook, err)
			}
			if limit := timeout + slack; took > limit { // a hang would never end
				t.Errorf("Read(%s) took %v, want under %v", tt.hook, took, limit)
			}
			waitGone(t, before)
			if len(pids(p)) != 0 {
				t.Errorf("after Read(%s) the pool still holds a child", tt.hook)
			}
			forms, err = p.Read(ctx, good, pdfform.DefaultLimits())
			if err != nil || len(forms) != 1 || forms[0].Fields.FirstName != "Amelia" {
				t.Fatalf("Read(good) after %s = %v, %v; want Amelia's form", tt.hook, forms, err)
			}
			if s := p.Stats(); s.Started != 2 {
				t.Errorf("Stats().Started = %d, want 2 (a fresh child after %s)", s.Started, tt.hook)
			}
		})
	}
}

// slack bounds how long a step that must not wait for a timeout may take on
// a loaded CI machine under -race: far below the timeouts the tests set, so
// a hang still fails, but far above a normal run.
const slack = 20 * time.Second

// TestStdoutIsolated: what a library prints to stdout neither breaks the
// protocol nor reaches the parent.
func TestStdoutIsolated(t *testing.T) {
	p := testPool(t, "worker", Config{Workers: 1})
	data := append([]byte(hookPrint), fixture(t, "fillable-filled.pdf")...)
	forms, err := p.Read(context.Background(), data, pdfform.DefaultLimits())
	if err != nil || len(forms) != 1 || forms[0].Fields.LastName != "Hartwell" {
		t.Fatalf("Read(printing file) = %v, %v; want Hartwell's form", forms, err)
	}
	if s := p.Stats(); s.Crashed != 0 {
		t.Errorf("Stats() = %+v, want no crash", s)
	}
}

// TestBrokenChild: a child that breaks the protocol is a crash (after the
// hello) or a start error (before it), never a hang.
func TestBrokenChild(t *testing.T) {
	good := fixture(t, "fillable-filled.pdf")
	tests := []struct {
		mode     string
		code     string // "" when Read fails with a start error
		startErr bool
	}{
		{"garbage", pdfform.CodeDamaged, false},
		{"oversize", pdfform.CodeDamaged, false},
		{"badhello", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			p := testPool(t, tt.mode, Config{Workers: 1, Timeout: time.Minute})
			start := time.Now()
			_, err := p.Read(context.Background(), good, pdfform.DefaultLimits())
			if tt.startErr {
				if err == nil || !strings.HasPrefix(codeOf(err), "other") || errors.Is(err, ErrClosed) {
					t.Errorf("Read with a %s child = %v, want a start error", tt.mode, err)
				}
			} else if codeOf(err) != tt.code {
				t.Errorf("Read with a %s child = %v, want code %s", tt.mode, err, tt.code)
			}
			if took := time.Since(start); took > slack {
				t.Errorf("Read with a %s child took %v, want well under the one-minute timeout", tt.mode, took)
			}
			if len(pids(p)) != 0 {
				t.Errorf("the pool kept a %s child", tt.mode)
			}
		})
	}
}

// TestSilentChild: a child that never answers the hello is given up at the
// context's deadline.
func TestSilentChild(t *testing.T) {
	p := testPool(t, "silent", Config{Workers: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Read(ctx, fixture(t, "printed.pdf"), pdfform.DefaultLimits())
	if codeOf(err) != pdfform.CodeTimeout {
		t.Errorf("Read with a silent child = %v, want %s", err, pdfform.CodeTimeout)
	}
	if took := time.Since(start); took > 8*time.Second { // the pool's own timeout is 10 s
		t.Errorf("Read with a silent child took %v, want about 500ms (the context's deadline)", took)
	}
}

// TestContextCancel: cancelling the caller's context ends a read at once and
// kills the child.
func TestContextCancel(t *testing.T) {
	p := testPool(t, "worker", Config{Workers: 1, Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := p.Read(ctx, fixture(t, "printed.pdf"), pdfform.DefaultLimits()); err != nil {
		t.Fatalf("Read(printed.pdf) = %v", err)
	}
	before := pids(p)
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err := p.Read(ctx, []byte(hookFreeze), pdfform.DefaultLimits())
	if codeOf(err) != pdfform.CodeTimeout {
		t.Errorf("Read(cancelled) = %v, want %s", err, pdfform.CodeTimeout)
	}
	if took := time.Since(start); took > slack {
		t.Errorf("Read(cancelled) took %v, want about 200ms", took)
	}
	waitGone(t, before)
	if _, err := p.Read(ctx, []byte("%PDF-1.4"), pdfform.DefaultLimits()); codeOf(err) != pdfform.CodeTimeout {
		t.Errorf("Read(done context) = %v, want %s", err, pdfform.CodeTimeout)
	}
}

// TestConcurrent: many goroutines share a 2-child pool, good and hostile
// files mixed; every answer is right and never more than 2 children live.
func TestConcurrent(t *testing.T) {
	p := testPool(t, "worker", Config{Workers: 2, Timeout: 2 * time.Second})
	files := []struct {
		data []byte
		code string
		name string
	}{
		{fixture(t, "fillable-filled.pdf"), "", "Amelia"},
		{fixture(t, "printed.pdf"), "", "Amelia"},
		{fixture(t, "scanned.pdf"), pdfform.CodeScanned, ""},
		{fixture(t, "flattened.pdf"), "", "Amelia"},
		{fixture(t, "not-a-pdf.pdf"), pdfform.CodeNotPDF, ""},
		{[]byte(hookExit), pdfform.CodeDamaged, ""},
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	maxLive := 0
	const goroutines, reads = 8, 6
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range reads {
				f := files[(g+i)%len(files)]
				forms, err := p.Read(context.Background(), f.data, pdfform.DefaultLimits())
				if codeOf(err) != f.code {
					t.Errorf("goroutine %d read %d: error %v, want code %q", g, i, err, f.code)
				}
				if f.name != "" && (len(forms) != 1 || forms[0].Fields.FirstName != f.name) {
					t.Errorf("goroutine %d read %d: forms %+v, want %s's", g, i, forms, f.name)
				}
				mu.Lock()
				maxLive = max(maxLive, len(pids(p)))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if maxLive > 2 {
		t.Errorf("%d children were live at once, want at most 2", maxLive)
	}
	if s := p.Stats(); s.Reads != goroutines*reads-s.Crashed || s.Crashed != int64(goroutines*reads/len(files)) {
		t.Errorf("Stats() = %+v, want %d crashes and the rest read", s, goroutines*reads/len(files))
	}
}

// TestCloseInFlight: Close with reads in flight returns promptly, those
// reads return ErrClosed, every child is reaped, and later reads fail.
func TestCloseInFlight(t *testing.T) {
	p := testPool(t, "worker", Config{Workers: 2, Timeout: time.Minute})
	good := fixture(t, "fillable-filled.pdf")
	if _, err := p.Read(context.Background(), good, pdfform.DefaultLimits()); err != nil {
		t.Fatalf("Read(good) = %v", err)
	}
	errs := make(chan error, 4)
	for range 4 { // two in children, two waiting for a slot
		go func() {
			_, err := p.Read(context.Background(), []byte(hookFreeze), pdfform.DefaultLimits())
			errs <- err
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(pids(p)) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let both children receive their file
	live := pids(p)
	if len(live) != 2 {
		t.Fatalf("%d children live, want 2", len(live))
	}
	start := time.Now()
	if err := p.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if took := time.Since(start); took > slack {
		t.Errorf("Close() took %v with reads in flight", took)
	}
	for range 4 {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("Read in flight at Close = %v, want ErrClosed", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("a Read in flight did not return after Close")
		}
	}
	for _, pid := range live {
		if alive(pid) {
			t.Errorf("child %d survived Close", pid)
		}
	}
	if _, err := p.Read(context.Background(), good, pdfform.DefaultLimits()); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close = %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
}

// TestTooLarge: a file over the limit is refused without a child.
func TestTooLarge(t *testing.T) {
	p := testPool(t, "worker", Config{Workers: 1})
	lim := pdfform.DefaultLimits()
	lim.MaxBytes = 100
	_, err := p.Read(context.Background(), fixture(t, "printed.pdf"), lim)
	if codeOf(err) != pdfform.CodeTooLarge {
		t.Errorf("Read(over the limit) = %v, want %s", err, pdfform.CodeTooLarge)
	}
	if s := p.Stats(); s.Started != 0 {
		t.Errorf("Stats().Started = %d, want 0", s.Started)
	}
}

// TestBadCommand: a command that cannot start is a plain error that says so.
func TestBadCommand(t *testing.T) {
	p := New(Config{Command: []string{"/nonexistent/optoutd", "pdf-worker"}}, nil)
	defer p.Close()
	_, err := p.Read(context.Background(), fixture(t, "printed.pdf"), pdfform.DefaultLimits())
	if err == nil || !strings.HasPrefix(codeOf(err), "other") {
		t.Errorf("Read with a missing command = %v, want a start error", err)
	}
}
