// Package pdfworker reads PDFs in child processes, so that no file can kill
// or hang the daemon. extract/pdfform guards, recovers and times out inside
// the process, but a goroutine cannot be killed (a file that makes the PDF
// library loop forever keeps burning a CPU after its timeout) and the Go
// runtime's fatal out-of-memory error cannot be recovered. A Pool runs
// pdfform.Read in N re-executions of the current binary (`optoutd
// pdf-worker`), each with an address-space limit (RLIMIT_AS), a Go memory
// limit, a heap watchdog and a CPU-time backstop (RLIMIT_CPU), and kills the
// child's process group when a file takes too long or the child dies. The
// caller gets the same answer as from pdfform.Read: forms, or a
// *form.UnreadableError.
//
// The package owns the child processes and nothing else; it never logs,
// stores or forwards a file's content (the child's stderr, where the PDF
// library prints fragments of files, is only classified, never logged).
package pdfworker

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/extract/pdfform"
)

// ReadFunc is the shape of pdfform.Read and (*Pool).Read, so a caller can
// take either.
type ReadFunc func(ctx context.Context, data []byte, lim pdfform.Limits) ([]form.Form, error)

// ErrClosed is returned by Read after Close, and by a Read that Close
// interrupted. It is not a problem with the file: read it again later.
var ErrClosed = errors.New("pdf worker pool is closed")

// Config configures a Pool. A zero field takes its default.
type Config struct {
	// Workers is how many child processes read PDFs at once (default 2).
	Workers int
	// MemoryLimit is the heap one child may use, in bytes (default 1 GiB).
	// The child sets it as its Go memory limit, exits when its live heap
	// passes it, and sets RLIMIT_AS to its start-up size plus 1.5 times it.
	MemoryLimit int64
	// Timeout is the longest one file may take (default 10 s); a shorter
	// deadline on Read's context wins. Past it the child is killed.
	Timeout time.Duration
	// CPUSeconds is the CPU time one child may use over its life (RLIMIT_CPU,
	// default 300). A child retires itself once half is spent, so the limit
	// only fires on a runaway.
	CPUSeconds int64
	// Command starts a child; default: this executable with the argument
	// pdf-worker (os.Executable(), "pdf-worker").
	Command []string
	// Env is the child's whole environment (default: empty). The child
	// parses hostile files, so it gets none of the daemon's secrets.
	Env []string
}

// Defaults for Config's zero fields.
const (
	DefaultWorkers     = 2
	DefaultMemoryLimit = 1 << 30
	DefaultTimeout     = 10 * time.Second
	DefaultCPUSeconds  = 300
)

// startTimeout bounds starting a child and its hello/ready exchange.
const startTimeout = 10 * time.Second

// Messages for staff when the pool, not the child, decides the outcome.
// They match pdfform's codes and never quote the file.
var (
	msgTimeout  = "The PDF took too long to read and was given up; open it by hand and key the form in."
	msgCrashed  = "The PDF made the PDF reader crash, so it could not be read; open it by hand, or ask the resident to send the form again."
	msgTooLarge = "The PDF is larger than the service reads automatically; open it by hand and key the form in."
)

// knownCodes are the codes a child may answer with.
var knownCodes = map[string]bool{
	pdfform.CodeNotPDF: true, pdfform.CodeTooLarge: true, pdfform.CodeDamaged: true,
	pdfform.CodeEncrypted: true, pdfform.CodeScanned: true, pdfform.CodeTimeout: true,
	pdfform.CodeNoForm: true,
}

// Stats are counts since the pool was made, for metrics.
type Stats struct {
	Reads    int64 // files answered by a child (forms or a code)
	Started  int64 // children started
	Crashed  int64 // children that died, or answered nonsense, while reading a file
	TimedOut int64 // files given up at the time limit (the child killed or retired)
}

// Pool reads PDFs in child processes. It is safe for concurrent use. Make
// it with New and stop it with Close.
type Pool struct {
	cfg     Config
	log     *slog.Logger
	cmdErr  error         // os.Executable failed: every Read returns it
	slots   chan *worker  // one per worker; nil is a slot with no child yet
	done    chan struct{} // closed by Close
	closeMu sync.Mutex
	closed  bool
	live    map[*worker]struct{} // every started child not yet reaped
	warned  atomic.Bool          // the no-RLIMIT_AS warning was logged

	reads, started, crashed, timedOut atomic.Int64
}

// New returns a Pool configured by cfg that logs to log (nil discards).
// Children start lazily, on the first Read that needs one.
func New(cfg Config, log *slog.Logger) *Pool {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.MemoryLimit <= 0 {
		cfg.MemoryLimit = DefaultMemoryLimit
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.CPUSeconds <= 0 {
		cfg.CPUSeconds = DefaultCPUSeconds
	}
	p := &Pool{
		log:   log,
		slots: make(chan *worker, cfg.Workers),
		done:  make(chan struct{}),
		live:  make(map[*worker]struct{}),
	}
	if len(cfg.Command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			p.cmdErr = fmt.Errorf("find this program to start pdf workers: %w; set Config.Command", err)
		}
		cfg.Command = []string{exe, "pdf-worker"}
	}
	cfg.Command = append([]string(nil), cfg.Command...)
	cfg.Env = append([]string{}, cfg.Env...) // never nil: nil would pass the daemon's environment
	p.cfg = cfg
	for range cfg.Workers {
		p.slots <- nil
	}
	return p
}

// Stats returns the pool's counts so far.
func (p *Pool) Stats() Stats {
	return Stats{Reads: p.reads.Load(), Started: p.started.Load(), Crashed: p.crashed.Load(), TimedOut: p.timedOut.Load()}
}

// Read reads the forms in one PDF in a child process: the same answer as
// pdfform.Read(ctx, data, lim), forms or a *form.UnreadableError, but a file
// that hangs or kills the reader costs only the child. A file that takes
// longer than Config.Timeout or ctx's deadline gives pdfform.CodeTimeout, one
// that crashes the child pdfform.CodeDamaged; either way the child is killed
// and a fresh one starts on the next Read.
//
// Read returns ErrClosed after Close, and a plain error (not an
// UnreadableError) when no child can be started: that is the service's
// fault, not the file's.
func (p *Pool) Read(ctx context.Context, data []byte, lim pdfform.Limits) ([]form.Form, error) {
	if p.cmdErr != nil {
		return nil, p.cmdErr
	}
	if ctx.Err() != nil {
		return nil, &form.UnreadableError{Code: pdfform.CodeTimeout, Message: msgTimeout}
	}
	limit := int64(maxDataBytes)
	if lim.MaxBytes > 0 && lim.MaxBytes < limit {
		limit = lim.MaxBytes
	}
	if int64(len(data)) > limit {
		return nil, &form.UnreadableError{Code: pdfform.CodeTooLarge, Message: msgTooLarge}
	}

	var w *worker
	select {
	case w = <-p.slots:
	case <-p.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, &form.UnreadableError{Code: pdfform.CodeTimeout, Message: msgTimeout}
	}
	if w == nil {
		var err error
		if w, err = p.start(ctx); err != nil {
			p.slots <- nil
			if errors.Is(err, ErrClosed) {
				return nil, err
			}
			if expired(ctx) {
				return nil, &form.UnreadableError{Code: pdfform.CodeTimeout, Message: msgTimeout}
			}
			p.log.Error("pdf worker did not start", slog.String("err", err.Error()))
			return nil, err
		}
	}

	budget := p.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(dl))
	}
	if budget <= 0 {
		p.slots <- w // the child is fine; the caller's time is up
		return nil, &form.UnreadableError{Code: pdfform.CodeTimeout, Message: msgTimeout}
	}
	resp, err := w.do(ctx, data, lim, budget)
	if err != nil {
		w.stop()
		p.forget(w)
		p.slots <- nil
		return nil, p.failure(ctx, w, err)
	}
	p.reads.Add(1)
	if resp.Retire || resp.Code == pdfform.CodeTimeout {
		// The child exits by itself; reap it now so nothing lingers.
		w.stop()
		p.forget(w)
		w = nil
	}
	p.slots <- w
	if resp.Code != "" {
		if resp.Code == pdfform.CodeTimeout {
			p.timedOut.Add(1)
		}
		msg := resp.Message
		if msg == "" {
			msg = msgCrashed
		}
		return nil, &form.UnreadableError{Code: resp.Code, Message: msg}
	}
	return resp.Forms, nil
}

// expired reports whether ctx is done or its deadline has passed (a pipe
// deadline set from it can fire a moment before ctx says so).
func expired(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ctx.Err() != nil || ok && !time.Now().Before(dl)
}

// failure turns a failed exchange with a child (already stopped) into
// Read's error, and logs it without anything from the file.
func (p *Pool) failure(ctx context.Context, w *worker, err error) error {
	if p.isClosed() {
		return ErrClosed
	}
	if expired(ctx) || errors.Is(err, os.ErrDeadlineExceeded) {
		p.timedOut.Add(1)
		p.log.Warn("pdf worker killed at the time limit", slog.Int("pid", w.pid))
		return &form.UnreadableError{Code: pdfform.CodeTimeout, Message: msgTimeout}
	}
	p.crashed.Add(1)
	p.log.Warn("pdf worker crashed reading a file", slog.Int("pid", w.pid),
		slog.String("exit", w.exitStatus()), slog.String("reason", w.stderr.reason()))
	return &form.UnreadableError{Code: pdfform.CodeDamaged, Message: msgCrashed}
}

// Close stops every child, waiting for Reads in flight (which return
// ErrClosed) and reaping every process. Read after Close returns ErrClosed.
// Close is idempotent and always returns nil.
func (p *Pool) Close() error {
	p.closeMu.Lock()
	if p.closed {
		p.closeMu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	for w := range p.live {
		w.kill() // in-flight reads fail at once and give their slot back
	}
	p.closeMu.Unlock()
	for range p.cfg.Workers {
		if w := <-p.slots; w != nil {
			w.stop()
			p.forget(w)
		}
	}
	return nil
}

func (p *Pool) isClosed() bool {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	return p.closed
}

// forget drops a reaped child from the live set.
func (p *Pool) forget(w *worker) {
	p.closeMu.Lock()
	delete(p.live, w)
	p.closeMu.Unlock()
}

// worker is one child process and the parent's ends of its pipes.
type worker struct {
	cmd      *exec.Cmd
	pid      int
	in       *os.File // the child's stdin
	out      *os.File // the child's stdout
	stderr   *headWriter
	killOnce sync.Once
	stopOnce sync.Once
}

// start starts a child, exchanges hello and ready, and registers it.
func (p *Pool) start(ctx context.Context) (*worker, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start pdf worker: make stdin pipe: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("start pdf worker: make stdout pipe: %w", err)
	}
	cmd := exec.Command(p.cfg.Command[0], p.cfg.Command[1:]...)
	cmd.Env = p.cfg.Env
	cmd.Stdin = inR
	cmd.Stdout = outW
	w := &worker{cmd: cmd, in: inW, out: outR, stderr: &headWriter{}}
	cmd.Stderr = w.stderr
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = time.Second

	p.closeMu.Lock()
	if p.closed {
		p.closeMu.Unlock()
		for _, f := range []*os.File{inR, inW, outR, outW} {
			f.Close()
		}
		return nil, ErrClosed
	}
	err = cmd.Start()
	if err == nil {
		w.pid = cmd.Process.Pid
		p.live[w] = struct{}{}
	}
	p.closeMu.Unlock()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("start pdf worker %q: %w; check Config.Command", p.cfg.Command[0], err)
	}
	p.started.Add(1)

	deadline := time.Now().Add(startTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	rd, err := w.handshake(ctx, deadline, hello{Version: protocolVersion, MemoryLimit: p.cfg.MemoryLimit, CPUSeconds: p.cfg.CPUSeconds})
	if err != nil {
		w.stop()
		p.forget(w)
		if p.isClosed() {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("start pdf worker: %w (exit %s, %s); check that %q runs `optoutd pdf-worker`",
			err, w.exitStatus(), w.stderr.reason(), strings.Join(p.cfg.Command, " "))
	}
	if !rd.ASLimit && !p.warned.Swap(true) {
		p.log.Warn("pdf workers run without an address-space limit (race detector build); the heap watchdog still applies")
	}
	p.log.Debug("pdf worker started", slog.Int("pid", w.pid))
	return w, nil
}

// handshake sends hello and reads ready by deadline.
func (w *worker) handshake(ctx context.Context, deadline time.Time, h hello) (ready, error) {
	w.in.SetWriteDeadline(deadline)
	w.out.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, w.interrupt)
	defer stop()
	if err := writeJSON(w.in, h); err != nil {
		return ready{}, fmt.Errorf("send hello: %w", err)
	}
	var rd ready
	if err := readJSON(w.out, maxHelloBytes, &rd); err != nil {
		return ready{}, fmt.Errorf("read ready: %w", err)
	}
	if rd.Version != protocolVersion {
		return ready{}, fmt.Errorf("read ready: protocol version %d, want %d (a stale binary?)", rd.Version, protocolVersion)
	}
	return rd, nil
}

// do sends one file and reads the answer, all within budget and ctx.
func (w *worker) do(ctx context.Context, data []byte, lim pdfform.Limits, budget time.Duration) (response, error) {
	// The child gives up a little before the parent does, so it normally
	// answers pdf_timeout itself; the parent's deadline catches a child
	// that cannot answer at all.
	child := budget - min(budget/10, 200*time.Millisecond)
	deadline := time.Now().Add(budget)
	w.in.SetWriteDeadline(deadline)
	w.out.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, w.interrupt)
	defer stop()
	req := request{TimeoutMS: max(child.Milliseconds(), 1), MaxBytes: lim.MaxBytes, MaxObjects: lim.MaxObjects, MaxPages: lim.MaxPages}
	hdr, err := json.Marshal(req)
	if err != nil {
		return response{}, fmt.Errorf("encode request: %w", err)
	}
	// One write for the header frame and the data frame's length, one for
	// the data: the fewer wake-ups, the cheaper the guard.
	head := binary.BigEndian.AppendUint32(make([]byte, 0, 8+len(hdr)), uint32(len(hdr)))
	head = append(head, hdr...)
	head = binary.BigEndian.AppendUint32(head, uint32(len(data)))
	if _, err := w.in.Write(head); err != nil {
		return response{}, fmt.Errorf("send request: %w", err)
	}
	if _, err := w.in.Write(data); err != nil {
		return response{}, fmt.Errorf("send file: %w", err)
	}
	resp, err := readResponse(w.out)
	if err != nil {
		return response{}, fmt.Errorf("read response: %w", err)
	}
	return resp, nil
}

// interrupt makes the pipes' pending reads and writes fail at once.
func (w *worker) interrupt() {
	now := time.Now()
	w.in.SetDeadline(now)
	w.out.SetDeadline(now)
}

// kill sends SIGKILL to the child's process group.
func (w *worker) kill() {
	w.killOnce.Do(func() { killGroup(w.cmd.Process) })
}

// stop kills the child, closes the pipes and reaps it.
func (w *worker) stop() {
	w.stopOnce.Do(func() {
		w.kill()
		w.in.Close()
		w.out.Close()
		w.cmd.Wait() // the exit status is read by exitStatus; the error says only that it was killed
	})
}

// exitStatus describes how a reaped child ended ("" before it is reaped).
func (w *worker) exitStatus() string {
	ps := w.cmd.ProcessState
	if ps == nil {
		return "running"
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return fmt.Sprintf("code %d", ps.ExitCode())
}

// headWriter keeps the first bytes a child writes to stderr, to classify a
// crash. They may hold fragments of the file (the PDF library prints
// them), so they are never logged: only reason's fixed words are.
type headWriter struct {
	mu   sync.Mutex
	head []byte
}

const maxStderrHead = 8 << 10

func (h *headWriter) Write(b []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if room := maxStderrHead - len(h.head); room > 0 {
		h.head = append(h.head, b[:min(room, len(b))]...)
	}
	return len(b), nil
}

// reason names, in fixed words, why a child's stderr says it died.
func (h *headWriter) reason() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := string(h.head)
	switch {
	case strings.Contains(s, watchdogMessage):
		return "heap over the memory limit"
	case strings.Contains(s, "out of memory"), strings.Contains(s, "cannot allocate memory"):
		return "out of memory"
	case strings.Contains(s, "fatal error:"):
		return "go runtime fatal error"
	case strings.Contains(s, "panic:"):
		return "unrecovered panic"
	case strings.Contains(s, "SIGXCPU"), strings.Contains(s, "cpu limit"):
		return "cpu limit"
	}
	return "no message"
}
