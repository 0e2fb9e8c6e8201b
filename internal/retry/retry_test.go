package retry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	base, max := 30*time.Second, time.Hour
	tests := []struct {
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{1, 0, 15 * time.Second},
		{1, 0.999999, 30 * time.Second},
		{2, 0.5, 45 * time.Second},
		{3, 0, 60 * time.Second},
		{7, 0, 16 * time.Minute},
		{8, 0, 30 * time.Minute},
		{9, 0, 30 * time.Minute}, // capped at 1 h, half of it fixed
		{9, 0.5, 45 * time.Minute},
		{1000, 0.5, 45 * time.Minute},
		{0, 0, 15 * time.Second},
		{-5, 0, 15 * time.Second},
		{1, 7, 15 * time.Second}, // bad jitter ignored
	}
	for _, tt := range tests {
		got := Backoff(tt.attempt, base, max, tt.jitter)
		if tt.jitter == 0.999999 {
			if got < 29*time.Second || got > 30*time.Second {
				t.Errorf("Backoff(%d, %v) = %v, want just under 30s", tt.attempt, tt.jitter, got)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("Backoff(%d, %v) = %v, want %v", tt.attempt, tt.jitter, got, tt.want)
		}
	}
}

// The policy with random jitter stays within half and all of the capped
// exponential wait (the mailbox session's table: 1 s to 1 min or 5 min).
func TestPolicyDelayBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		attempt  int // 1 for the first failure
		min, max time.Duration
		lo, hi   time.Duration
	}{
		{1, time.Second, time.Minute, 500 * time.Millisecond, time.Second},
		{2, time.Second, time.Minute, time.Second, 2 * time.Second},
		{4, time.Second, time.Minute, 4 * time.Second, 8 * time.Second},
		{21, time.Second, time.Minute, 30 * time.Second, time.Minute},
		{1001, time.Second, 5 * time.Minute, 150 * time.Second, 5 * time.Minute},
		{1, 0, 0, 500 * time.Millisecond, time.Second},
	}
	for _, tt := range tests {
		p := Policy{Base: tt.min, Max: tt.max}
		for range 50 {
			if d := p.Delay(tt.attempt); d < tt.lo || d > tt.hi {
				t.Fatalf("Policy{%v, %v}.Delay(%d) = %v, want within [%v, %v]", tt.min, tt.max, tt.attempt, d, tt.lo, tt.hi)
			}
		}
	}
}

func TestPolicyNext(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	p := Policy{Base: 30 * time.Second, Max: time.Hour, Jitter: func() float64 { return 0.5 }}
	if got, want := p.Next(now, 2), now.Add(45*time.Second); !got.Equal(want) {
		t.Errorf("Next(now, 2) = %v, want %v", got, want)
	}
}

// tempErr says whether it is temporary, as *mailbox.Error, *notify.SendError
// and go-smtp's *SMTPError do.
type tempErr bool

func (e tempErr) Error() string   { return fmt.Sprintf("temporary %v", bool(e)) }
func (e tempErr) Temporary() bool { return bool(e) }

func TestTemporary(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"says temporary", tempErr(true), true},
		{"says permanent", tempErr(false), false},
		{"wrapped permanent", fmt.Errorf("send: %w", tempErr(false)), false},
		{"says nothing", errors.New("unknown"), true}, // never give up by accident
		{"deadline", context.DeadlineExceeded, true},
		{"caller gave up", fmt.Errorf("poll: %w", context.Canceled), false},
	}
	for _, tt := range tests {
		if got := Temporary(tt.err); got != tt.want {
			t.Errorf("Temporary(%s: %v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
