package main

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/intake"
)

// optoutdBin is the binary the black-box tests run, built once by TestMain
// exactly as the Dockerfile builds it (TestDockerBuild checks the result).
var optoutdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "optoutd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "make a directory for the test binary:", err)
		os.Exit(1)
	}
	optoutdBin = filepath.Join(dir, "optoutd")
	if err := dockerfileBuild(optoutdBin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// dockerBuildLine finds the Dockerfile's `go build` command and returns its
// environment assignments and arguments (shell words, single quotes removed).
func dockerBuildLine(dockerfile string) (env, args []string, err error) {
	text := strings.ReplaceAll(dockerfile, "\\\n", " ")
	for line := range strings.Lines(text) {
		before, after, ok := strings.Cut(line, "go build")
		if !ok || !strings.HasPrefix(strings.TrimSpace(line), "RUN") {
			continue
		}
		after, _, _ = strings.Cut(after, "&&")
		for _, w := range strings.Fields(strings.TrimPrefix(strings.TrimSpace(before), "RUN")) {
			if strings.Contains(w, "=") {
				env = append(env, w)
			}
		}
		args, err = shellWords(after)
		return env, args, err
	}
	return nil, nil, errors.New("the Dockerfile has no `RUN ... go build` line")
}

// shellWords splits s into words, honouring single quotes (all the
// Dockerfile's build line uses).
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	in, quoted := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, in = !quoted, true
		case !quoted && (r == ' ' || r == '\t' || r == '\n'):
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quoted {
		return nil, errors.New("unbalanced quote in the Dockerfile's build line")
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// dockerfileBuild builds ./cmd/optoutd to out with the Dockerfile's own
// environment and flags (its -o is replaced by out).
func dockerfileBuild(out string) error {
	root, err := filepath.Abs("../..")
	if err != nil {
		return err
	}
	df, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		return fmt.Errorf("read Dockerfile: %w", err)
	}
	env, args, err := dockerBuildLine(string(df))
	if err != nil {
		return err
	}
	for i := 0; i < len(args); i++ {
		if args[i] == "-o" && i+1 < len(args) {
			args[i+1] = out
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append([]string{"build"}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s (as the Dockerfile does): %w\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

// TestDockerBuild checks the binary built exactly as the Dockerfile builds
// it is static (no interpreter, no dynamic section: it runs on distroless
// static), and that the image is pinned and runs as a non-root user.
func TestDockerBuild(t *testing.T) {
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	env, args, err := dockerBuildLine(string(df))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(env, " "), "CGO_ENABLED=0") || !strings.Contains(strings.Join(args, " "), "-trimpath") {
		t.Errorf("Dockerfile build line: env %q args %q; want CGO_ENABLED=0 and -trimpath", env, args)
	}

	f, err := elf.Open(optoutdBin)
	if err != nil {
		t.Fatalf("open the built binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("binary has a %v program header: it is dynamically linked", p.Type)
		}
	}
	if s := f.Section(".dynamic"); s != nil {
		t.Error("binary has a .dynamic section: it is dynamically linked")
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary imports shared libraries %v", libs)
	}

	// Stages: every FROM is pinned (a version tag or a digest, never latest);
	// the final stage sets a non-root USER.
	from := regexp.MustCompile(`(?im)^FROM\s+(\S+)`)
	var images []string
	for _, m := range from.FindAllStringSubmatch(string(df), -1) {
		images = append(images, m[1])
	}
	if len(images) == 0 {
		t.Fatal("Dockerfile has no FROM line")
	}
	for _, img := range images {
		name, tag, hasTag := strings.Cut(img[strings.LastIndex(img, "/")+1:], ":")
		if strings.Contains(img, "@sha256:") {
			continue
		}
		// A version in the tag (golang:1.26.8-bookworm) or in the image name
		// (static-debian12:nonroot); a digest is better still.
		if !hasTag || tag == "" || tag == "latest" || !regexp.MustCompile(`\d`).MatchString(name+tag) {
			t.Errorf("FROM %s is not pinned to a version (image %s, tag %q)", img, name, tag)
		}
	}
	last := string(df)[strings.LastIndex(strings.ToUpper(string(df)), "\nFROM "):]
	user := regexp.MustCompile(`(?im)^USER\s+(\S+)`).FindStringSubmatch(last)
	if user == nil {
		t.Fatal("the Dockerfile's final stage sets no USER: the container would run as root")
	}
	if u, _, _ := strings.Cut(user[1], ":"); u == "root" || u == "0" {
		t.Errorf("the final stage runs as USER %s, want a non-root user", user[1])
	}
	joined := strings.ReplaceAll(string(df), "\\\n", " ")
	if !regexp.MustCompile(`(?m)^HEALTHCHECK .*CMD \[.*"healthcheck"`).MatchString(joined) {
		t.Error("the Dockerfile's HEALTHCHECK does not call `optoutd healthcheck`")
	}
	// The binary runs and lists the command the HEALTHCHECK calls.
	out, _ := exec.Command(optoutdBin, "help").CombinedOutput()
	if !bytes.Contains(out, []byte("healthcheck")) {
		t.Errorf("optoutd help does not list healthcheck:\n%s", out)
	}
}

func TestShellWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"-trimpath -ldflags='-s -w' -o /out/x ./cmd/optoutd", []string{"-trimpath", "-ldflags=-s -w", "-o", "/out/x", "./cmd/optoutd"}},
		{"  a  'b c'  ''", []string{"a", "b c", ""}},
	}
	for _, tt := range tests {
		got, err := shellWords(tt.in)
		if err != nil || strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("shellWords(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := shellWords("'open"); err == nil {
		t.Error("shellWords with an unbalanced quote = nil error")
	}
}

// TestPoolSize: the daemon sizes its pool unless the operator did in
// DATABASE_URL.
func TestPoolSize(t *testing.T) {
	if got := poolSize("postgres://u@db:5432/optout?sslmode=verify-full"); got < intake.DefaultWorkers+3 {
		t.Errorf("poolSize without pool_max_conns = %d, want room for %d workers and the held connections", got, intake.DefaultWorkers)
	}
	if got := poolSize("postgres://u@db:5432/optout?pool_max_conns=30"); got != 0 {
		t.Errorf("poolSize with pool_max_conns = %d, want 0 (keep the operator's)", got)
	}
}
