package notify

import (
	"bytes"
	"testing"
	"time"
)

// testKey is a fixed signing key for tests.
var testKey = bytes.Repeat([]byte("k3y!"), 8)

// fixedTime is the clock used by golden tests.
var fixedTime = time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC)

// countingRand is a deterministic io.Reader: 0, 1, 2, ... 255, 0, ...
type countingRand struct{ n byte }

func (r *countingRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

// newTestComposer returns a composer with a fixed clock and random source.
func newTestComposer(t testing.TB) *Composer {
	t.Helper()
	c, err := NewComposer(ComposerConfig{
		Address: "joined-up.care-record@nhs.net",
		Signer:  Signer{Key: testKey},
		Now:     func() time.Time { return fixedTime },
		Rand:    &countingRand{},
		Version: "optout-intake/test",
	})
	if err != nil {
		t.Fatalf("NewComposer: %v", err)
	}
	return c
}
