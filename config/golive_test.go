package config

import (
	"strings"
	"testing"
	"time"
)

// TestHoldSettings: OPTOUT_MAX_AGE and OPTOUT_START_AFTER, good and bad.
func TestHoldSettings(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxAge != 7*24*time.Hour || !c.StartAfter.IsZero() {
		t.Errorf("defaults: MaxAge %v, StartAfter %v; want 7 days and none", c.MaxAge, c.StartAfter)
	}
	tests := []struct {
		name, value string
		wantErr     string        // "" when the value is good
		maxAge      time.Duration // checked when set
		start       string        // RFC 3339, checked when set
	}{
		{name: "OPTOUT_MAX_AGE", value: "7d", maxAge: 7 * 24 * time.Hour},
		{name: "OPTOUT_MAX_AGE", value: "30d", maxAge: 30 * 24 * time.Hour},
		{name: "OPTOUT_MAX_AGE", value: "1h", maxAge: time.Hour}, // the shortest allowed
		{name: "OPTOUT_MAX_AGE", value: "36h", maxAge: 36 * time.Hour},
		{name: "OPTOUT_MAX_AGE", value: "59m", wantErr: "shorter than 1h0m0s"},
		{name: "OPTOUT_MAX_AGE", value: "0d", wantErr: "shorter than"},
		{name: "OPTOUT_MAX_AGE", value: "-7d", wantErr: "must be a duration"},
		{name: "OPTOUT_MAX_AGE", value: "a week", wantErr: "must be a duration"},
		{name: "OPTOUT_START_AFTER", value: "2026-12-07T09:00:00Z", start: "2026-12-07T09:00:00Z"},
		{name: "OPTOUT_START_AFTER", value: "2026-12-07T09:00:00+01:00", start: "2026-12-07T08:00:00Z"},
		{name: "OPTOUT_START_AFTER", value: " 2026-12-07T09:00:00Z ", start: "2026-12-07T09:00:00Z"},
		{name: "OPTOUT_START_AFTER", value: "2026-12-07", wantErr: "RFC 3339"},
		{name: "OPTOUT_START_AFTER", value: "2026-12-07T09:00:00", wantErr: "with its offset"},
		{name: "OPTOUT_START_AFTER", value: "07/12/2026 09:00", wantErr: "RFC 3339"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			c, err := Load(env(map[string]string{tt.name: tt.value}))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.name) {
					t.Fatalf("Load(%s=%q) error = %v, want it to name the variable and say %q", tt.name, tt.value, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load(%s=%q) error: %v", tt.name, tt.value, err)
			}
			if tt.maxAge != 0 && c.MaxAge != tt.maxAge {
				t.Errorf("MaxAge = %v, want %v", c.MaxAge, tt.maxAge)
			}
			if tt.start != "" {
				want, _ := time.Parse(time.RFC3339, tt.start)
				if !c.StartAfter.Equal(want) {
					t.Errorf("StartAfter = %v, want %v", c.StartAfter, want)
				}
			}
		})
	}
}
