package web

import (
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/store"
)

// TestArrivedBy: a message in is placed after the reply it answers and
// before the replies it caused, though the mailbox keeps its time to the
// second and all three fall within one second; a message recorded long
// after it arrived (a backlog) is placed by its arrival.
func TestArrivedBy(t *testing.T) {
	sec := time.Date(2026, 12, 3, 13, 28, 5, 0, time.UTC)
	instructionsQueued := sec.Add(400 * time.Millisecond)
	reply := store.LedgerEntry{ReceivedAt: sec, RecordedAt: sec.Add(700 * time.Millisecond)} // arrived at .6, shown as :05
	askQueued := sec.Add(750 * time.Millisecond)
	if by := arrivedBy(reply); !by.After(instructionsQueued) || !by.Before(askQueued) {
		t.Errorf("arrivedBy = %s, want between %s and %s", by.Format(time.StampMicro), instructionsQueued.Format(time.StampMicro), askQueued.Format(time.StampMicro))
	}
	late := store.LedgerEntry{ReceivedAt: sec, RecordedAt: sec.Add(3 * time.Hour)}
	if by := arrivedBy(late); !by.Equal(sec.Add(time.Second)) {
		t.Errorf("arrivedBy of a backlog message = %s, want the end of its second", by)
	}
}
