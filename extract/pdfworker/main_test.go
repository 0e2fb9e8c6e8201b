package pdfworker

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/extract/pdfform"
)

// childEnv switches the test binary into a child: the usual re-exec pattern.
// Its values: "worker" (Main with testRead), "garbage" (answers a request
// with bytes that are not JSON), "oversize" (answers with a frame past the
// limit), "badhello" (answers the hello with another protocol version),
// "silent" (never answers the hello).
const childEnv = "PDFWORKER_TEST_CHILD"

func TestMain(m *testing.M) {
	switch mode := os.Getenv(childEnv); mode {
	case "":
		os.Exit(m.Run())
	case "worker":
		if err := Main(context.Background(), testRead); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	default:
		os.Exit(fakeChild(mode))
	}
}

// Test hooks: a file starting with one of these makes the child misbehave
// the way a hostile PDF could make the PDF library misbehave.
const (
	hookHang    = "HANG"    // a read that never returns and ignores its context
	hookFreeze  = "FREEZE"  // the whole child stops (SIGSTOP): it cannot even answer
	hookExit    = "EXIT"    // the child exits mid-read
	hookGrow    = "GROW"    // allocates until a memory limit kills the child
	hookHuge    = "HUGE"    // asks for a terabyte at once: Go's fatal out-of-memory
	hookPanicGo = "PANICGO" // a panic in a goroutine nobody recovers
	hookPrint   = "PRINT"   // prints to stdout, as ledongthuc/pdf does, then reads a good file
	hookLeak    = "LEAK"    // prints the file's content to stderr, then dies
)

// grown keeps hookGrow's allocations reachable.
var grown [][]byte

// testRead is pdfform.Read with the hooks.
func testRead(ctx context.Context, data []byte, lim pdfform.Limits) ([]form.Form, error) {
	switch {
	case bytes.HasPrefix(data, []byte(hookHang)):
		select {}
	case bytes.HasPrefix(data, []byte(hookFreeze)):
		syscall.Kill(os.Getpid(), syscall.SIGSTOP)
		select {}
	case bytes.HasPrefix(data, []byte(hookExit)):
		os.Exit(2)
	case bytes.HasPrefix(data, []byte(hookGrow)):
		for {
			b := make([]byte, 16<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			grown = append(grown, b)
		}
	case bytes.HasPrefix(data, []byte(hookHuge)):
		b := make([]byte, 1<<40)
		b[len(b)-1] = 1
		return nil, fmt.Errorf("allocated %d bytes", len(b))
	case bytes.HasPrefix(data, []byte(hookPanicGo)):
		go func() { panic("a library bug") }()
		select {}
	case bytes.HasPrefix(data, []byte(hookLeak)):
		fmt.Fprintf(os.Stderr, "panic: %s\n", data)
		os.Exit(2)
	case bytes.HasPrefix(data, []byte(hookPrint)):
		for range 1000 {
			fmt.Println("DEBUG: stray output from a library")
		}
		return pdfform.Read(ctx, data[len(hookPrint):], lim)
	}
	return pdfform.Read(ctx, data, lim)
}

// fakeChild is a child that breaks the protocol in the way mode names.
func fakeChild(mode string) int {
	var h hello
	if err := readJSON(os.Stdin, maxHelloBytes, &h); err != nil {
		return 1
	}
	switch mode {
	case "silent":
		time.Sleep(time.Hour)
		return 1
	case "badhello":
		writeJSON(os.Stdout, ready{Version: protocolVersion + 1})
		return 0
	}
	writeJSON(os.Stdout, ready{Version: protocolVersion, PID: os.Getpid()})
	var req request
	if err := readJSON(os.Stdin, maxRequestBytes, &req); err != nil {
		return 1
	}
	if _, err := readFrame(os.Stdin, maxDataBytes); err != nil {
		return 1
	}
	switch mode {
	case "garbage":
		writeFrame(os.Stdout, []byte("{\"forms\": [{\"source\": tr"))
	case "oversize":
		writeFrame(os.Stdout, bytes.Repeat([]byte(" "), MaxResponseBytes+1))
	}
	time.Sleep(time.Hour) // the parent must not wait for more
	return 0
}

// testPool returns a pool of test-binary children in mode, closed at the
// end of the test.
func testPool(t testing.TB, mode string, cfg Config) *Pool {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Command = []string{exe, "-test.run=^$"}
	cfg.Env = []string{childEnv + "=" + mode}
	p := New(cfg, nil)
	t.Cleanup(func() { p.Close() })
	return p
}

// fixture reads fixtures/forms/name.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "forms", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return data
}

// codeOf is the UnreadableError code in err, "" for nil, or "other: ...".
func codeOf(err error) string {
	if err == nil {
		return ""
	}
	if ue, ok := err.(*form.UnreadableError); ok {
		return ue.Code
	}
	return "other: " + err.Error()
}

// alive reports whether process pid exists (a zombie counts).
func alive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}
