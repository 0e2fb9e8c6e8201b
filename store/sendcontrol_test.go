package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/store"
)

// TestSMTPSlots: the deployment holds at most 3 SMTP connection slots; a
// fourth sender waits until one is released.
func TestSMTPSlots(t *testing.T) {
	s := newStore(t, 8)
	ctx := context.Background()
	var held []func()
	for range store.SMTPConnections {
		release, err := s.AcquireSMTPSlot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, release)
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := s.AcquireSMTPSlot(short); err == nil {
		t.Fatal("a fourth slot was given while three are held")
	}
	held[1]()
	held[1]() // twice is harmless
	release, err := s.AcquireSMTPSlot(ctx)
	if err != nil {
		t.Fatalf("no slot after one was released: %v", err)
	}
	release()
	held[0]()
	held[2]()
}
