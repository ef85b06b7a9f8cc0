package proxy

import (
	"sync"
	"time"
)

// failureLimiter counts authentication failures per source address in a
// token bucket: burst failures at once, then one per every interval. A
// source over its budget is refused before its credentials are checked.
// The table is bounded; when full, the entry idle longest is dropped.
type failureLimiter struct {
	mu       sync.Mutex
	burst    float64
	interval time.Duration
	max      int
	now      func() time.Time
	sources  map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
	warned bool // the refusal of this source has been logged since it last had budget
}

const limiterTableSize = 4096

func newFailureLimiter(burst int, interval time.Duration) *failureLimiter {
	return &failureLimiter{
		burst:    float64(burst),
		interval: interval,
		max:      limiterTableSize,
		now:      time.Now,
		sources:  make(map[string]*bucket),
	}
}

// refill brings b up to date and returns it.
func (l *failureLimiter) refill(b *bucket, now time.Time) {
	if l.interval > 0 {
		b.tokens += float64(now.Sub(b.last)) / float64(l.interval)
	}
	if b.tokens >= l.burst {
		b.tokens = l.burst
	}
	b.last = now
}

// allowed reports whether src may try to authenticate now, and whether this
// is the first refusal since it last could (so it should be logged).
func (l *failureLimiter) allowed(src string) (ok, firstRefusal bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.sources[src]
	if b == nil {
		return true, false
	}
	l.refill(b, l.now())
	if b.tokens >= 1 {
		b.warned = false
		return true, false
	}
	first := !b.warned
	b.warned = true
	return false, first
}

// failed records a failure of src.
func (l *failureLimiter) failed(src string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.sources[src]
	if b == nil {
		if len(l.sources) >= l.max {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.sources[src] = b
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
	} else {
		b.tokens = 0
	}
}

// evict drops the sources whose budget is whole again, or else the one
// seen longest ago.
func (l *failureLimiter) evict(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for src, b := range l.sources {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.sources, src)
			continue
		}
		if oldest == "" || b.last.Before(oldestAt) {
			oldest, oldestAt = src, b.last
		}
	}
	if len(l.sources) >= l.max && oldest != "" {
		delete(l.sources, oldest)
	}
}
