package stream

import (
	"sync"
	"time"
)

// deadline is a settable point in time with a channel that is closed when
// it passes. The zero value has no deadline.
type deadline struct {
	mu    sync.Mutex
	timer *time.Timer
	ch    chan struct{} // closed when the deadline has passed
	fired bool
	// ended: the stream is over, so no timer is started any more. A timer
	// holds the stream (and through it its session) until it fires.
	ended bool
}

// set changes the deadline; the zero time removes it. A deadline in the
// past takes effect at once, waking every waiter.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	// A callback already running sees d.timer changed.
	d.stopLocked()
	if d.fired { // the old channel is closed: start over with an open one
		d.ch = nil
		d.fired = false
	}
	if t.IsZero() {
		return
	}
	if d.ch == nil {
		d.ch = make(chan struct{})
	}
	dur := time.Until(t)
	if dur <= 0 {
		close(d.ch)
		d.fired = true
		return
	}
	if d.ended {
		return // nothing waits on an ended stream
	}
	ch := d.ch
	var tm *time.Timer
	tm = time.AfterFunc(dur, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.timer == tm && !d.fired {
			close(ch)
			d.fired = true
		}
	})
	d.timer = tm
}

// wait returns a channel that is closed once the deadline passes, or nil
// (which blocks forever) when there is none.
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ch == nil {
		d.ch = make(chan struct{})
	}
	return d.ch
}

// expired reports whether the deadline has passed.
func (d *deadline) expired() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fired
}

// end releases the timer for good: the stream is over.
func (d *deadline) end() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ended = true
	d.stopLocked()
}

// stop releases the timer.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopLocked()
}

func (d *deadline) stopLocked() {
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}
