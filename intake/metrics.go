package intake

import (
	"context"
	"errors"
	"time"

	"github.com/ncl-icb/optout-intake/notify"
	"github.com/ncl-icb/optout-intake/store"
	"github.com/ncl-icb/optout-intake/vocab"
)

// Metrics receives the pipeline's events. The metrics package implements it
// over Prometheus; NopMetrics discards them. Implementations must be safe
// for concurrent use and must not block. Every string argument comes from
// a fixed list of codes documented here, never from a message.
type Metrics interface {
	// Processed: one message completed (not counting messages found
	// already done). folder is a Folder value; action is one of the
	// Action* codes, possibly with ActionRateLimited appended.
	Processed(folder vocab.Folder, action string, elapsed time.Duration)
	// Failed: something failed at step, one of FailureSteps (a Step
	// value, a guarded part's "<part>_panic", or in tests only a
	// failure-injection step).
	Failed(step string)
	// Polled: one poll of the mailbox ended; fetched counts the messages
	// handed to the processor, err is nil on success.
	Polled(fetched int, elapsed time.Duration, err error)
	// Form: one form read from a message. format is a form.Format value,
	// or FormatNone for a likely photo of the form (a file not read);
	// result is FormValid, FormInvalid or FormUnreadable.
	Form(format, result string)
	// Extracted: reading one message's forms took elapsed.
	Extracted(elapsed time.Duration)
	// DatabaseError: a store call of the pipeline or the outbox failed
	// (expected outcomes such as not found or already done excluded).
	DatabaseError()
	// Panic: a panic was recovered in part, one of the Part* values or
	// notify.PartOutbox.
	Panic(part string)
	// Held: one message was held back, never to be answered on its own;
	// action is one of vocab.HeldActions.
	Held(action vocab.Action)
}

// Form results and the format of a file not read (Metrics.Form).
const (
	FormValid      = "valid"      // a form with no error
	FormInvalid    = "invalid"    // a form read, with errors: triage
	FormUnreadable = "unreadable" // a file that claims to be a form (or a photo of one) but gave no field
	FormatNone     = "none"       // a likely photo or scan of the form: not read
)

// Where a failure was counted (Metrics.Failed). A guarded part that
// panics counts "<part>_panic" (PartPoller, notify.PartOutbox, PartPurge).
const (
	StepProcess        = "process"         // a message kept for a retry
	StepExtractPanic   = "extract_panic"   // the form readers panicked
	StepExtractTimeout = "extract_timeout" // reading a message ran out of time
	StepProcessPanic   = "process_panic"   // processing a message panicked
	StepMove           = "move"            // a message could not be moved to its folder
	StepPoll           = "poll"            // a poll of the mailbox failed
)

// FailureSteps lists every step Metrics.Failed is given: the Step values,
// the guarded parts' panics, and the failure-injection steps of the crash
// tests. The metric's label set is built from it.
func FailureSteps() []string {
	return []string{StepProcess, StepExtractPanic, StepExtractTimeout, StepProcessPanic, StepMove, StepPoll,
		PartPoller + "_panic", notify.PartOutbox + "_panic", PartPurge + "_panic",
		stepAfterLedger, stepAfterExtract, stepAfterCommit}
}

// Where a panic was recovered (Metrics.Panic).
const (
	PartExtract  = "extract"  // inside the form readers or the MIME reader
	PartPipeline = "pipeline" // processing one message
	PartPoller   = "poller"   // the poll loop
	PartPurge    = "purge"    // the retention purge
)

// NopMetrics discards every event.
type NopMetrics struct{}

// Processed does nothing.
func (NopMetrics) Processed(vocab.Folder, string, time.Duration) {}

// Failed does nothing.
func (NopMetrics) Failed(string) {}

// Polled does nothing.
func (NopMetrics) Polled(int, time.Duration, error) {}

// Form does nothing.
func (NopMetrics) Form(string, string) {}

// Extracted does nothing.
func (NopMetrics) Extracted(time.Duration) {}

// DatabaseError does nothing.
func (NopMetrics) DatabaseError() {}

// Panic does nothing.
func (NopMetrics) Panic(string) {}

// Held does nothing.
func (NopMetrics) Held(vocab.Action) {}

// dbErr counts err in m as a database error unless it is nil or an
// expected outcome (not found, already done, a duplicate, a state
// conflict, the caller giving up), and returns it unchanged.
func dbErr(m Metrics, err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrAlreadyDone) ||
		errors.Is(err, store.ErrDuplicate) || errors.Is(err, store.ErrConflict) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	m.DatabaseError()
	return err
}
