package flowctl

import (
	"math/bits"
	"time"
)

// Inflow is a receive window: the credit we have granted the peer for one
// stream, or for the whole SPDY/3.1 session, together with the policy that
// decides when to return consumed credit with a WINDOW_UPDATE and how large
// the window should grow.
//
// Four quantities are kept, with Available + Buffered + Pending = Target at
// all times:
//
//   - Available: what the peer may still send, as we account it (the peer's
//     own window once every update we sent has reached it).
//   - Buffered: bytes received and not yet consumed by the application.
//   - Pending: bytes consumed but not yet returned in a WINDOW_UPDATE.
//   - Target: the window we want the peer to have once everything is
//     returned. It starts at the initial window and grows by GrowTarget
//     and auto-tuning, and moves with our SETTINGS_INITIAL_WINDOW_SIZE.
//
// The zero value is a window of 0 bytes; call Init or InitUnlimited before
// use. An Inflow is a plain value owned by the session's loop goroutine and
// is not safe for concurrent use.
type Inflow struct {
	avail    int64 // what the peer may still send, as we account it
	buffered int64 // received, not yet consumed
	unsent   int64 // consumed, not yet returned (never negative)
	target   int64 // avail + buffered + unsent
	max      int64 // auto-tuning cap on target
	// slack is how much more than avail the peer may send because it may
	// not yet have seen a decrease of our SETTINGS_INITIAL_WINDOW_SIZE.
	slack int64

	// Auto-tuning epoch: bytes consumed since the last WINDOW_UPDATE
	// ConsumeAt returned, and when that was.
	epochBytes int64
	epochStart time.Duration
	epochSet   bool

	unlimited bool
}

// Init sets the window to size, the window the peer starts with: our
// SETTINGS_INITIAL_WINDOW_SIZE for a stream (DefaultWindow if we never sent
// one), or DefaultWindow for the SPDY/3.1 session window. maxSize caps
// auto-tuning (see ConsumeAt); a maxSize not above size turns it off. Init
// panics if size is negative.
func (f *Inflow) Init(size, maxSize int32) {
	if size < 0 {
		panic("flowctl: negative window size")
	}
	*f = Inflow{avail: int64(size), target: int64(size), max: int64(max(size, maxSize))}
}

// InitUnlimited turns enforcement off: Receive accepts any amount and no
// WINDOW_UPDATE is ever produced, while Buffered is still tracked. Use it
// where the protocol has no such window (the session window in SPDY/3,
// every window in SPDY/2) and for peers that ignore flow control, such as
// moby/spdystream; the session must then bound its buffers by other means.
func (f *Inflow) InitUnlimited() {
	*f = Inflow{avail: MaxWindow, target: MaxWindow, max: MaxWindow, unlimited: true}
}

// Unlimited reports whether the window was set up with InitUnlimited.
func (f *Inflow) Unlimited() bool { return f.unlimited }

// Available returns what the peer may still send against this window, as
// we account it. It can be negative after we lowered our
// SETTINGS_INITIAL_WINDOW_SIZE.
func (f *Inflow) Available() int32 { return clamp32(f.avail) }

// Buffered returns the bytes received and not yet consumed. When a stream
// ends with data the application will never read, pass this to the
// session window's Consume so the session gets the credit back.
func (f *Inflow) Buffered() int { return int(f.buffered) }

// Pending returns the credit consumed but not yet returned to the peer.
func (f *Inflow) Pending() int32 { return clamp32(f.unsent) }

// Target returns the window size we aim to give the peer.
func (f *Inflow) Target() int32 { return clamp32(f.target) }

// Receive accounts for a DATA frame carrying n payload bytes. If n exceeds
// what the peer may send, it returns ErrFlowControlViolation and leaves the
// window unchanged. A frame of 0 bytes is always accepted. It panics if n is
// negative.
//
// The peer is allowed n up to Available plus the slack left by a decrease of
// our SETTINGS_INITIAL_WINDOW_SIZE that the peer may not have seen yet (see
// AdjustInitial).
func (f *Inflow) Receive(n int) error {
	if n < 0 {
		panic("flowctl: negative receive")
	}
	if !f.unlimited {
		if n > 0 && int64(n) > f.avail+f.slack {
			return ErrFlowControlViolation
		}
		f.avail -= int64(n)
	}
	f.buffered += int64(n)
	return nil
}

// Consume returns the credit of n received bytes that the application has
// read or discarded. It returns the delta of the WINDOW_UPDATE to send now,
// or 0 while the batching threshold is not reached: credit accumulates
// until it is at least half of Target, and then all of it goes out in one
// update. Consume does no auto-tuning; see ConsumeAt. It panics if n is
// negative or more than Buffered.
func (f *Inflow) Consume(n int) (update uint32) {
	if !f.consume(n) {
		return 0
	}
	return f.flush()
}

// ConsumeAt is Consume with auto-tuning. now is the caller's monotonic clock
// reading (any fixed origin, e.g. time.Since(sessionStart)) and rtt its
// current estimate of the round-trip time; the package reads no clock
// itself. An rtt of 0 or less turns tuning off for this call.
//
// Each time an update is due, the bytes consumed since the previous update
// and the time that took give the reader's rate. If at that rate a whole
// Target window would be consumed in less than four round trips, Target
// doubles, up to the maximum given to Init, and the growth is added to the
// update. The first update only starts the measurement.
func (f *Inflow) ConsumeAt(n int, now, rtt time.Duration) (update uint32) {
	due := f.consume(n)
	if f.unlimited {
		return 0
	}
	f.epochBytes += int64(n)
	if !due {
		return 0
	}
	f.tune(now, rtt)
	return f.flush()
}

// consume moves n bytes from buffered to unsent and reports whether the
// unsent credit has reached the batching threshold.
func (f *Inflow) consume(n int) bool {
	if n < 0 || int64(n) > f.buffered {
		panic("flowctl: consume exceeds the buffered data")
	}
	f.buffered -= int64(n)
	if f.unlimited {
		return false
	}
	f.unsent += int64(n)
	return f.unsent > 0 && f.unsent >= f.threshold()
}

// threshold is the unsent credit that triggers a WINDOW_UPDATE: half the
// target window, and at least one byte.
func (f *Inflow) threshold() int64 { return max(f.target/2, 1) }

// tune doubles the target window, up to f.max, when the application consumed
// this epoch's bytes fast enough to drain a whole target window within four
// round trips, that is when elapsed*target < 4*rtt*epochBytes. It then
// starts a new epoch at now. The products are compared in 128 bits, so no
// clock value can make them wrap.
func (f *Inflow) tune(now, rtt time.Duration) {
	if f.epochSet && rtt > 0 && f.target < f.max {
		elapsed := uint64(max(now-f.epochStart, 0))
		lhsHi, lhsLo := bits.Mul64(elapsed, uint64(f.target))
		rhsHi, rhsLo := bits.Mul64(uint64(rtt), 4*uint64(f.epochBytes))
		if lhsHi < rhsHi || lhsHi == rhsHi && lhsLo < rhsLo {
			grown := min(2*f.target, f.max)
			f.unsent += grown - f.target
			f.target = grown
		}
	}
	f.epochStart, f.epochSet, f.epochBytes = now, true, 0
}

// flush returns the unsent credit as one WINDOW_UPDATE delta. A delta is at
// most MaxWindow; any rest stays pending for the next update.
func (f *Inflow) flush() uint32 {
	d := min(f.unsent, MaxWindow)
	f.unsent -= d
	f.avail += d
	return uint32(d)
}

// GrowTarget raises Target to size and returns the delta of the
// WINDOW_UPDATE to send now, which carries the growth and any pending
// credit. It also raises the auto-tuning cap to size if needed. A size not
// above Target changes nothing and returns 0, as does an unlimited window.
//
// A SPDY/3.1 session uses it for the session window, which starts at
// DefaultWindow and can only be enlarged by WINDOW_UPDATE(0): after
// Init(DefaultWindow, max), GrowTarget(1<<20) returns 983040.
func (f *Inflow) GrowTarget(size int32) (update uint32) {
	if f.unlimited || int64(size) <= f.target {
		return 0
	}
	f.unsent += int64(size) - f.target
	f.target = int64(size)
	f.max = max(f.max, f.target)
	return f.flush()
}

// AdjustInitial applies a change of our own SETTINGS_INITIAL_WINDOW_SIZE,
// from oldSize to newSize, to the receive window of a stream that exists
// when we send the SETTINGS frame: Available and Target move by
// newSize - oldSize, as the peer's send window will when it processes the
// frame. A Target above MaxWindow returns ErrWindowOverflow and a negative
// size ErrInvalidWindowSize; on error the window is unchanged.
//
// A decrease cannot take back credit the peer already holds: until it
// processes our SETTINGS the peer may still send under the old, larger
// window. SETTINGS frames are not acknowledged in SPDY, so the Inflow keeps
// accepting data up to the largest window the peer may still be using
// (Receive allows Available plus the decrease, reduced again by later
// increases) for the rest of the stream's life, and returns credit as usual;
// once all received data is consumed and returned, the peer's window and
// ours are both the new Target. Streams created after the change start at
// newSize with no slack. That is right for streams we open after sending
// the SETTINGS frame, since the peer reads it before our SYN_STREAM; a stream
// the peer opens may predate its reading of the frame, and gets the same
// allowance with Init(largest, ...) followed by AdjustInitial(largest,
// newSize), where largest is the largest size we advertised that the peer
// may still be using.
func (f *Inflow) AdjustInitial(oldSize, newSize int32) error {
	d, err := checkSizes(oldSize, newSize)
	if err != nil || f.unlimited {
		return err
	}
	if f.target+d > MaxWindow {
		return ErrWindowOverflow
	}
	f.target += d
	f.avail += d
	f.slack = max(f.slack-d, 0)
	return nil
}
