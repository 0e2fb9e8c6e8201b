package notify

// Observer receives the outbox worker's events, for metrics; the metrics
// package's *Metrics implements it. Methods must be safe for concurrent use
// and must not block. Nothing passed carries personal data.
type Observer interface {
	// OutboxSent: the SMTP server accepted one message.
	OutboxSent()
	// OutboxRetried: a send failed temporarily and the row is due again later.
	OutboxRetried()
	// OutboxFailed: a send failed permanently (or too often); the row is
	// failed and staff get a triage item.
	OutboxFailed()
	// SMTPError: one send failed; temporary says whether it may succeed later.
	SMTPError(temporary bool)
	// Panic: a panic was recovered in part ("outbox" here).
	Panic(part string)
}

// PartOutbox is the part the worker names when it recovers a panic.
const PartOutbox = "outbox"

// nopObserver discards every event.
type nopObserver struct{}

func (nopObserver) OutboxSent()    {}
func (nopObserver) OutboxRetried() {}
func (nopObserver) OutboxFailed()  {}
func (nopObserver) SMTPError(bool) {}
func (nopObserver) Panic(string)   {}
