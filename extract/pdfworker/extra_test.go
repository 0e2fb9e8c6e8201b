package pdfworker

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ncl-icb/optout-intake/extract/pdfform"
)

// TestLogsNoContent: a child that prints a file's content to stderr as it
// dies is logged by fixed words only.
func TestLogsNoContent(t *testing.T) {
	var logs bytes.Buffer
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := New(Config{Workers: 1, Command: []string{exe, "-test.run=^$"}, Env: []string{childEnv + "=worker"}},
		slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer p.Close()
	const secret = "NHS number 943 476 5919"
	_, err = p.Read(context.Background(), []byte(hookLeak+" "+secret), pdfform.DefaultLimits())
	if codeOf(err) != pdfform.CodeDamaged {
		t.Errorf("Read(leaking file) = %v, want %s", err, pdfform.CodeDamaged)
	}
	// "476 5919" with its space: a pid or a timestamp can hold "943" by
	// chance, never the number's middle group and its space.
	const leak = "476 5919"
	if strings.Contains(err.Error(), leak) {
		t.Errorf("Read's error %q quotes the file", err)
	}
	got := logs.String()
	if !strings.Contains(got, "pdf worker crashed") || !strings.Contains(got, "reason=\"unrecovered panic\"") {
		t.Errorf("logs = %q, want the crash and its reason", got)
	}
	if strings.Contains(got, leak) {
		t.Errorf("logs quote the file: %q", got)
	}
}

// TestChildEnvironment: a child gets only Config.Env, none of the daemon's.
func TestChildEnvironment(t *testing.T) {
	t.Setenv("OPTOUT_DATA_KEY", "secret-key")
	p := testPool(t, "worker", Config{Workers: 1})
	if _, err := p.Read(context.Background(), fixture(t, "printed.pdf"), pdfform.DefaultLimits()); err != nil {
		t.Fatalf("Read(printed.pdf) = %v", err)
	}
	pid := pids(p)[0]
	env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		t.Fatalf("read the child's environment: %v", err)
	}
	if bytes.Contains(env, []byte("OPTOUT_DATA_KEY")) || !bytes.Contains(env, []byte(childEnv+"=worker")) {
		t.Errorf("child environment = %q, want only %s", env, childEnv)
	}
}

// TestRealBinary: the optoutd binary's hidden pdf-worker command is a
// working child.
func TestRealBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "optoutd")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/optoutd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build optoutd: %v\n%s", err, out)
	}
	p := New(Config{Workers: 1, Command: []string{bin, "pdf-worker"}}, nil)
	defer p.Close()
	forms, err := p.Read(context.Background(), fixture(t, "fillable-filled.pdf"), pdfform.DefaultLimits())
	if err != nil || len(forms) != 1 || forms[0].Fields.FirstName != "Amelia" {
		t.Fatalf("Read through optoutd pdf-worker = %v, %v; want Amelia's form", forms, err)
	}
}
