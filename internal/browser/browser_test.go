package browser

import (
	"strings"
	"testing"
)

func TestFindHonoursCHROMIUM(t *testing.T) {
	t.Setenv("CHROMIUM", "/nonexistent/chromium")
	if _, err := Find(); err == nil || !strings.Contains(err.Error(), "CHROMIUM") {
		t.Errorf("Find with a wrong CHROMIUM = %v, want an error naming CHROMIUM", err)
	}
	t.Setenv("CHROMIUM", "")
	p, err := Find()
	if err != nil {
		t.Fatalf("Find: %v (the test command installs chromium)", err)
	}
	if p == "" {
		t.Error("Find returned an empty path")
	}
}
