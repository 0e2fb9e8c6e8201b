package intake

import "time"

// Metrics receives the pipeline's events. The metrics package implements it
// over Prometheus; NopMetrics discards them. Implementations must be safe
// for concurrent use and must not block.
type Metrics interface {
	// Processed: one message completed (not counting messages found
	// already done). folder is a Folder value; action is one of the
	// Action* codes, possibly with ActionRateLimitedShift appended.
	Processed(folder Folder, action string, elapsed time.Duration)
	// Failed: something failed at step: process (a message kept for a
	// retry), extract_panic, extract_timeout, process_panic, move, poll,
	// poller_panic, outbox_panic, purge_panic; and, in tests only, the
	// failure-injection steps (after-ledger, after-extract, after-commit).
	Failed(step string)
	// Polled: one poll of the mailbox ended; fetched counts the messages
	// handed to the processor, err is nil on success.
	Polled(fetched int, elapsed time.Duration, err error)
}

// NopMetrics discards every event.
type NopMetrics struct{}

// Processed does nothing.
func (NopMetrics) Processed(Folder, string, time.Duration) {}

// Failed does nothing.
func (NopMetrics) Failed(string) {}

// Polled does nothing.
func (NopMetrics) Polled(int, time.Duration, error) {}
