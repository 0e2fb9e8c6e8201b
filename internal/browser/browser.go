// Package browser runs Debian's Chromium headless through chromedp for
// tests of the triage page. It finds the browser ($CHROMIUM, then
// /usr/bin/chromium and the usual names on $PATH), starts it with a fresh
// profile and no background networking, and fails the test with
// instructions when there is none: browser tests never skip silently.
package browser

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Find returns the path of a Chromium or Chrome binary.
func Find() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", errors.New("CHROMIUM is set but does not name a file: " + p)
		}
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium found: install it (`apt-get install -y chromium`, which the README's test command does) or set CHROMIUM to its path")
}

// Options tune New.
type Options struct {
	// Timeout bounds the whole browser session (default 60 s).
	Timeout time.Duration
	// Width and Height are the window size (default 1280×900).
	Width, Height int
}

// New starts a headless Chromium for t and returns the context of its first
// tab. The browser and its profile are removed when t ends. It fails t when
// Chromium is missing or does not start.
func New(t testing.TB, o Options) context.Context {
	t.Helper()
	path, err := Find()
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.Width <= 0 || o.Height <= 0 {
		o.Width, o.Height = 1280, 900
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(o.Width, o.Height),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("hide-scrollbars", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, o.Timeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browser: start %s: %v (is it installed and runnable as this user?)", path, err)
	}
	return ctx
}

// OutputDir is where tests leave screenshots: $OPTOUT_TEST_OUTPUT when
// set (created if needed), otherwise a temporary folder of t.
func OutputDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("OPTOUT_TEST_OUTPUT"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("browser: make OPTOUT_TEST_OUTPUT folder: %v", err)
		}
		return d
	}
	return t.TempDir()
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// Screenshot saves a full-page PNG of the current tab as name (".png" is
// added) in OutputDir and returns its path.
func Screenshot(t testing.TB, ctx context.Context, dir, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100 makes a PNG; less, a JPEG
	if err != nil {
		t.Fatalf("browser: screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, unsafeName.ReplaceAllString(name, "_")+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("browser: save screenshot: %v", err)
	}
	t.Logf("screenshot: %s", path)
	return path
}
