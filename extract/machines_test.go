package extract

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// machineCorpus returns the files of fixtures/machines (real bounces,
// reports and auto-replies), sorted.
func machineCorpus(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fixturesDir, "machines", "*", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 50 {
		t.Fatalf("fixtures/machines holds %d files, want the whole corpus", len(files))
	}
	slices.Sort(files)
	return files
}

// TestMachineCorpus reads every real bounce, report and auto-reply as
// `optoutd extract` does, from the file as saved (mbox line included), and
// requires at least 98 % of them to be auto. It lists the ones that are
// not, so a regression names its files.
func TestMachineCorpus(t *testing.T) {
	x := New(DefaultLimits(), nil)
	files := machineCorpus(t)
	var misses []string
	reasons := map[string]int{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, res := x.Email(context.Background(), raw)
		rel, _ := filepath.Rel(fixturesDir, f)
		if res.Kind != KindAuto {
			misses = append(misses, rel+" ("+string(res.Kind)+")")
			continue
		}
		if res.AutoReason == "" {
			t.Errorf("%s: kind auto without an auto_reason", rel)
		}
		reasons[res.AutoReason]++
	}
	auto := len(files) - len(misses)
	rate := float64(auto) / float64(len(files))
	t.Logf("%d of %d machine messages are auto (%.1f %%); reasons %v", auto, len(files), 100*rate, reasons)
	if len(misses) > 0 {
		t.Logf("not auto:\n  %s", strings.Join(misses, "\n  "))
	}
	if rate < 0.98 {
		t.Errorf("%.1f %% of the machine corpus is auto, want at least 98 %%; misses:\n  %s", 100*rate, strings.Join(misses, "\n  "))
	}
}

// TestHumanMailIsNotAuto: a person's mail from an ordinary address stays a
// contact or submission, even when it speaks of bounces or being away.
func TestHumanMailIsNotAuto(t *testing.T) {
	x := New(DefaultLimits(), nil)
	files, err := filepath.Glob(filepath.Join(fixturesDir, "mail", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		base := filepath.Base(f)
		if strings.HasPrefix(base, "auto-") || strings.HasPrefix(base, "bounce-") || strings.HasPrefix(base, "list-") {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, res := x.Email(context.Background(), raw)
		if res.Kind == KindAuto {
			t.Errorf("Email(%s) = auto (%s), want a contact or submission", base, res.AutoReason)
		}
	}
}
