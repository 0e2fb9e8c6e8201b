package extract

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// optoutdBin is the optoutd binary built once for the package's tests.
var optoutdBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if optoutdBin.dir != "" {
		os.RemoveAll(optoutdBin.dir)
	}
	os.Exit(code)
}

// buildOptoutd builds cmd/optoutd into a temporary folder, once.
func buildOptoutd(t *testing.T) string {
	t.Helper()
	optoutdBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "optoutd-test-")
		if err != nil {
			optoutdBin.err = err
			return
		}
		optoutdBin.dir = dir
		optoutdBin.path = filepath.Join(dir, "optoutd")
		out, err := exec.Command("go", "build", "-o", optoutdBin.path, "../cmd/optoutd").CombinedOutput()
		if err != nil {
			optoutdBin.err = fmt.Errorf("go build ./cmd/optoutd: %w\n%s", err, out)
		}
	})
	if optoutdBin.err != nil {
		t.Fatal(optoutdBin.err)
	}
	return optoutdBin.path
}

// runOptoutd runs bin in fixtures/ and returns stdout and the exit status.
func runOptoutd(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = fixturesDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), 0
	case errors.As(err, &ee):
		return stdout.String(), ee.ExitCode()
	}
	t.Fatalf("run optoutd %v: %v\n%s", args, err, stderr.String())
	return "", -1
}

// TestCommandExtractJSON runs the built `optoutd extract --json` over every
// fixture, as outside checks do: one valid JSON line per file, in argument
// order, with the golden's kind and forms, exit status 0.
func TestCommandExtractJSON(t *testing.T) {
	bin := buildOptoutd(t)
	files := fixtureFiles(t)
	// Argument order is not sorted order: reverse it to prove order is kept.
	args := []string{"extract", "--json"}
	for i := len(files) - 1; i >= 0; i-- {
		args = append(args, files[i])
	}
	out, code := runOptoutd(t, bin, args...)
	if code != 0 {
		t.Fatalf("optoutd extract --json: exit %d, want 0", code)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(files) {
		t.Fatalf("optoutd extract --json printed %d lines for %d files", len(lines), len(files))
	}
	for i, line := range lines {
		rel := args[2+i]
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatalf("line %d (%s) is not JSON: %v", i+1, rel, err)
		}
		for _, k := range []string{"file", "kind", "forms", "notes"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("line %d (%s) has no %q", i+1, rel, k)
			}
		}
		if string(raw["forms"]) == "null" || string(raw["notes"]) == "null" {
			t.Errorf("line %d (%s): forms or notes is null, want an array", i+1, rel)
		}
		var got Result
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d (%s): %v", i+1, rel, err)
		}
		if got.File != rel {
			t.Errorf("line %d: file = %q, want %q (argument order)", i+1, got.File, rel)
		}
		wantJSON, err := os.ReadFile(goldenPath(rel))
		if err != nil {
			t.Fatalf("read golden: %v", err)
		}
		var want Result
		if err := json.Unmarshal(wantJSON, &want); err != nil {
			t.Fatalf("golden %s: %v", rel, err)
		}
		if got.Kind != want.Kind || len(got.Forms) != len(want.Forms) {
			t.Errorf("%s: kind %q with %d forms, golden says %q with %d", rel, got.Kind, len(got.Forms), want.Kind, len(want.Forms))
			continue
		}
		for j := range got.Forms {
			if got.Forms[j].Fields != want.Forms[j].Fields || got.Forms[j].Valid != want.Forms[j].Valid {
				t.Errorf("%s form %d: %+v, golden %+v", rel, j, got.Forms[j], want.Forms[j])
			}
		}
	}
}

func TestCommandExtractExitCodes(t *testing.T) {
	bin := buildOptoutd(t)
	tests := []struct {
		name      string
		args      []string
		wantCode  int
		wantLines int
	}{
		{"no files", []string{"extract", "--json"}, 2, 0},
		{"unknown flag", []string{"extract", "--jsn", "forms/form.json"}, 2, 0},
		{"missing file still prints the others", []string{"extract", "--json", "forms/form.json", "forms/no-such-file.pdf", "mail/reply-json.eml"}, 1, 3},
		{"a directory is not a file", []string{"extract", "--json", "forms"}, 1, 1},
		{"unparseable file is exit 0", []string{"extract", "--json", "forms/not-a-pdf.pdf"}, 0, 1},
		{"readable report", []string{"extract", "forms/form.json", "mail/contact-gmail.eml"}, 0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := runOptoutd(t, bin, tt.args...)
			if code != tt.wantCode {
				t.Errorf("optoutd %v: exit %d, want %d", tt.args, code, tt.wantCode)
			}
			if tt.wantLines < 0 {
				if !strings.Contains(out, "form.json: submission, 1 form") || !strings.Contains(out, "contact-gmail.eml: contact") {
					t.Errorf("optoutd %v printed %q, want a line per file with its kind", tt.args, out)
				}
				return
			}
			n := 0
			sc := bufio.NewScanner(strings.NewReader(out))
			for sc.Scan() {
				if !json.Valid(sc.Bytes()) {
					t.Errorf("line %q is not JSON", sc.Text())
				}
				n++
			}
			if n != tt.wantLines {
				t.Errorf("optoutd %v printed %d lines, want %d", tt.args, n, tt.wantLines)
			}
		})
	}
}

// TestCommandExtractProtected checks the contract's promise for an
// encrypted reply: `optoutd extract --json` on the Purview/IRM wrapper
// prints "kind": "protected", no forms, and the protected_rpmsg note; the
// readable report names the protection.
func TestCommandExtractProtected(t *testing.T) {
	bin := buildOptoutd(t)
	out, code := runOptoutd(t, bin, "extract", "--json", "mail/protected-rpmsg.eml", "forms/encrypted.zip")
	if code != 0 {
		t.Fatalf("optoutd extract --json: exit %d, want 0", code)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("optoutd extract --json printed %d lines, want 2:\n%s", len(lines), out)
	}
	for i, code := range []string{ProtectedRPMsg, ProtectedZip} {
		if !strings.Contains(lines[i], `"kind":"protected"`) || !strings.Contains(lines[i], `"forms":[]`) ||
			!strings.Contains(lines[i], `"`+code+`: `) {
			t.Errorf("line %d = %s, want kind protected, no forms and a note starting %q", i+1, lines[i], code+": ")
		}
	}
	out, _ = runOptoutd(t, bin, "extract", "mail/protected-rpmsg.eml")
	if !strings.HasPrefix(out, "mail/protected-rpmsg.eml: protected (protected_rpmsg)") {
		t.Errorf("optoutd extract (readable) = %q, want it to name the protection", out)
	}
}
