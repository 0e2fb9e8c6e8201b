package web

import (
	"sync"
	"time"
)

// limiter counts failed sign-in attempts per key (an account or a client
// address) in a fixed window and refuses further attempts once a key has
// reached its limit, until the window ends. Keys are hashes, never emails.
type limiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	now    func() time.Time
	seen   map[string]*window
}

type window struct {
	start    time.Time
	failures int
}

// maxLimiterKeys bounds memory under a flood of distinct keys: beyond it,
// expired windows are dropped and, if still full, the oldest half.
const maxLimiterKeys = 100_000

func newLimiter(limit int, win time.Duration, now func() time.Time) *limiter {
	return &limiter{limit: limit, window: win, now: now, seen: map[string]*window{}}
}

// allowed reports whether key may try again now, and if not, when it may.
func (l *limiter) allowed(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.seen[key]
	now := l.now()
	if w == nil || now.Sub(w.start) >= l.window {
		return true, 0
	}
	if w.failures >= l.limit {
		return false, l.window - now.Sub(w.start)
	}
	return true, 0
}

// fail counts one failed attempt for key.
func (l *limiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w := l.seen[key]
	if w == nil || now.Sub(w.start) >= l.window {
		if len(l.seen) >= maxLimiterKeys {
			l.prune(now)
		}
		w = &window{start: now}
		l.seen[key] = w
	}
	w.failures++
}

// reset forgets key (after a successful sign-in).
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.seen, key)
}

func (l *limiter) prune(now time.Time) {
	for k, w := range l.seen {
		if now.Sub(w.start) >= l.window {
			delete(l.seen, k)
		}
	}
	if len(l.seen) < maxLimiterKeys {
		return
	}
	n := 0
	for k := range l.seen {
		delete(l.seen, k)
		if n++; n >= maxLimiterKeys/2 {
			break
		}
	}
}
