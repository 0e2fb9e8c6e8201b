package intake

import "testing"

// TestRig lets the external test package (intake_test, which may import
// the metrics package; that package imports this one) drive the scenario
// rig.
type TestRig struct{ r *rig }

// TestMail is one message the SMTP sink received.
type TestMail struct{ m sentMail }

// NewTestRig starts Dovecot, a PostgreSQL schema and an SMTP sink.
func NewTestRig(t testing.TB) TestRig { return TestRig{newRig(t)} }

// Service builds a service reporting to m.
func (tr TestRig) Service(m Metrics) *Service {
	tr.r.metrics = m
	return tr.r.service(nil)
}

// FirstContact delivers a resident's first email, runs one pass and
// returns the instructions sent.
func (tr TestRig) FirstContact(t *testing.T, svc *Service, from string) TestMail {
	return TestMail{firstContact(t, tr.r, svc, from)}
}

// Reply delivers from's reply to m carrying one attachment, and runs one pass.
func (tr TestRig) Reply(t *testing.T, svc *Service, m TestMail, from, attName string, att []byte) {
	e := replyTo(m.m, from, "")
	e.attName, e.att = attName, att
	tr.r.deliver(e.bytes())
	once(t, svc)
}

// Sent counts the messages the sink received.
func (tr TestRig) Sent() int { return len(tr.r.sent()) }

// Fixture reads fixtures/forms/name.
func Fixture(name string) []byte { return fixture(name) }

// PhotoJPEG is a JPEG large enough to pass for a photo of the form.

// Resident addresses used by the rig.
const (
	ResidentAddr = residentAddr
	OtherAddr    = otherAddr
	FilledNHS    = filledNHS
)

// senderKey is the sharding key of a raw message, as the poller computes it
// when the message is fetched.
func senderKey(raw []byte) string {
	_, key := readHeader(raw)
	return key
}

// setFailAt installs a crash-injection hook everywhere: between the steps
// of a message, before and after the moves, after a send (crash_test.go).
// Production code never sets one.
func (s *Service) setFailAt(f func(string) error) {
	s.failAt = f
	s.proc.failAt = f
	s.poller.failAt = f
}
