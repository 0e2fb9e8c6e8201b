// Package retry is the one retry policy of optout-intake and its one rule
// for temporary and permanent failures. It exists so that the IMAP session
// (mailbox), the outbox (notify) and the store's ledger wait the same way
// between attempts, and so that an IMAP, an SMTP and a database failure are
// sorted by the same rule: before it, each package had its own backoff and
// two of them answered the opposite for the same unknown error.
//
// The policy: after the n-th failure wait Base·2^(n-1), capped at Max, with
// "equal jitter" (half of it fixed, the other half random), so replicas and
// messages that failed together do not all come back together. The caller
// computes the next attempt time once and stores it (the outbox row's
// next_attempt_at, the ledger row's): the time the policy chose is the time
// used.
//
// The rule (the same as maddy's exterrors and go-smtp's
// SMTPError.Temporary): an error that says whether it is temporary (it has
// a Temporary() bool method, anywhere in its chain) is what it says; an
// error that says nothing is temporary, because a failure that says nothing
// about the message is not a reason to give the message up. Only the caller
// giving up (context.Canceled) is neither: there is nothing to retry.
package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Policy is an exponential backoff with jitter. The zero value waits 1 s
// after the first failure and at most 5 min.
type Policy struct {
	// Base is the wait after the first failure (before jitter). Default 1 s.
	Base time.Duration
	// Max caps the wait (before jitter). Default 5 min, and at least Base.
	Max time.Duration
	// Jitter returns a number in [0, 1); default math/rand/v2's Float64.
	// Tests set it to make waits exact.
	Jitter func() float64
}

// Delay returns the wait after the attempt-th failure (1 for the first):
// Base doubled per attempt, capped at Max, half of it fixed and half
// scaled by Jitter. So the wait is between half and all of the capped
// exponential value.
func (p Policy) Delay(attempt int) time.Duration {
	j := rand.Float64
	if p.Jitter != nil {
		j = p.Jitter
	}
	return Backoff(attempt, p.base(), p.max(), j())
}

// Next returns the time of the next attempt after the attempt-th failure
// at now: now + Delay(attempt). Store it with the work.
func (p Policy) Next(now time.Time, attempt int) time.Time {
	return now.Add(p.Delay(attempt))
}

func (p Policy) base() time.Duration {
	if p.Base <= 0 {
		return time.Second
	}
	return p.Base
}

func (p Policy) max() time.Duration {
	if p.Max <= 0 {
		return max(5*time.Minute, p.base())
	}
	return max(p.Max, p.base())
}

// Backoff is Policy.Delay with the jitter given: the wait after the
// attempt-th failure (1 for the first; lower counts as 1), base doubled per
// attempt and capped at max, then half fixed and half scaled by jitter in
// [0,1) (a value outside counts as 0).
func Backoff(attempt int, base, max time.Duration, jitter float64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max || d <= 0 {
		d = max
	}
	if jitter < 0 || jitter >= 1 {
		jitter = 0
	}
	half := d / 2
	return half + time.Duration(float64(d-half)*jitter)
}

// Temporary reports whether trying again later may succeed, by the rule in
// the package doc: nil is not a failure; an error that says (Temporary()
// bool) is what it says; context.Canceled (the caller gave up) is not
// temporary; any other error is.
func Temporary(err error) bool {
	if err == nil {
		return false
	}
	var t interface{ Temporary() bool }
	if errors.As(err, &t) {
		return t.Temporary()
	}
	return !errors.Is(err, context.Canceled)
}
