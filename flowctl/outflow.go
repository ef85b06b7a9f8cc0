package flowctl

// Outflow is a send window: the credit the peer has granted us for one
// stream, or for the whole SPDY/3.1 session.
//
// The zero value is a window of 0 bytes; call Init or InitUnlimited before
// use. An Outflow is a plain value owned by the session's loop goroutine and
// is not safe for concurrent use.
type Outflow struct {
	n         int64 // bytes we may still send; negative after a SETTINGS decrease
	unlimited bool
}

// Init sets the window to size: the peer's current
// SETTINGS_INITIAL_WINDOW_SIZE for a new stream (DefaultWindow until the
// peer sends one), or DefaultWindow for the SPDY/3.1 session window. It
// panics if size is negative.
func (f *Outflow) Init(size int32) {
	if size < 0 {
		panic("flowctl: negative window size")
	}
	*f = Outflow{n: int64(size)}
}

// InitUnlimited makes the window unlimited: Available always reports
// MaxWindow, Take never runs out, and updates are validated but change
// nothing. Use it where the protocol has no such window (the session window
// in SPDY/3, every window in SPDY/2) and for peers that never send
// WINDOW_UPDATE, such as moby/spdystream, so that sending code is the same
// in every case.
func (f *Outflow) InitUnlimited() {
	*f = Outflow{n: MaxWindow, unlimited: true}
}

// Unlimited reports whether the window was set up with InitUnlimited.
func (f *Outflow) Unlimited() bool { return f.unlimited }

// Available returns the number of bytes that may be sent against this
// window. It is negative when a SETTINGS_INITIAL_WINDOW_SIZE decrease took
// away more than was left; nothing but an empty DATA frame may be sent then
// until WINDOW_UPDATEs raise it above zero.
func (f *Outflow) Available() int32 { return clamp32(f.n) }

// Take records that n bytes of DATA payload were sent against the window.
// Only the payload counts, not the frame header. Taking 0 bytes is always
// allowed, even on a window that is zero or negative (an empty DATA frame
// carrying FIN).
//
// Take panics if n is negative or larger than Available: the caller sizes
// every DATA frame from Sendable before writing it, so asking for more is a
// bug in the caller, and a frame already written cannot be taken back.
func (f *Outflow) Take(n int) {
	if n < 0 {
		panic("flowctl: negative take")
	}
	if f.unlimited || n == 0 {
		return
	}
	if int64(n) > f.n {
		panic("flowctl: take exceeds the send window")
	}
	f.n -= int64(n)
}

// Add applies the delta of a WINDOW_UPDATE frame received for this window.
// A delta of 0 or above MaxWindow returns ErrInvalidDelta; a result above
// MaxWindow returns ErrWindowOverflow. On error the window is unchanged.
// An unlimited window checks the delta and otherwise ignores it.
func (f *Outflow) Add(delta uint32) error {
	if delta == 0 || delta > MaxWindow {
		return ErrInvalidDelta
	}
	if f.unlimited {
		return nil
	}
	if f.n+int64(delta) > MaxWindow {
		return ErrWindowOverflow
	}
	f.n += int64(delta)
	return nil
}

// AdjustInitial applies a change of the peer's SETTINGS_INITIAL_WINDOW_SIZE
// from oldSize to newSize to the send window of an existing stream: the
// window moves by newSize - oldSize and may become negative. A result above
// MaxWindow returns ErrWindowOverflow, to be handled like an overflowing
// WINDOW_UPDATE on that stream; a negative size returns
// ErrInvalidWindowSize. On error the window is unchanged. SETTINGS never
// change the session window, so this is for stream windows only.
func (f *Outflow) AdjustInitial(oldSize, newSize int32) error {
	d, err := checkSizes(oldSize, newSize)
	if err != nil || f.unlimited {
		return err
	}
	if f.n+d > MaxWindow {
		return ErrWindowOverflow
	}
	f.n += d
	return nil
}

// Sendable returns how many payload bytes may be sent now on a stream: the
// smaller of the stream's and the session's Available, and 0 if either is
// zero or negative. After writing a DATA frame of n bytes (n <= Sendable),
// call Take(n) on both windows.
func Sendable(stream, session *Outflow) int {
	return int(max(min(stream.n, session.n), 0))
}
