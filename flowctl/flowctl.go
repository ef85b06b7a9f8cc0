package flowctl

import (
	"errors"
	"math"
)

const (
	// DefaultWindow is the size every stream window and the SPDY/3.1 session
	// window start with, in both directions, before any SETTINGS or
	// WINDOW_UPDATE frame changes them: 64 KiB.
	DefaultWindow = 64 << 10

	// MaxWindow is the largest value a window may reach, 2^31-1. It is also
	// the largest legal WINDOW_UPDATE delta and SETTINGS_INITIAL_WINDOW_SIZE.
	MaxWindow = 1<<31 - 1
)

var (
	// ErrWindowOverflow reports that a WINDOW_UPDATE delta or a change of
	// SETTINGS_INITIAL_WINDOW_SIZE would raise a window above MaxWindow.
	// For a stream window the session answers RST_STREAM FLOW_CONTROL_ERROR;
	// for the session window, GOAWAY and close. The window is left unchanged.
	ErrWindowOverflow = errors.New("flowctl: window would exceed 2^31-1")

	// ErrFlowControlViolation reports a DATA frame larger than the receive
	// window the peer was given. For a stream window the session answers
	// RST_STREAM FLOW_CONTROL_ERROR; for the session window, GOAWAY. The
	// window is left unchanged.
	ErrFlowControlViolation = errors.New("flowctl: data exceeds the receive window")

	// ErrInvalidDelta reports a WINDOW_UPDATE delta of 0 or above MaxWindow.
	// The session answers PROTOCOL_ERROR: RST_STREAM for a stream, GOAWAY
	// for the session window. The window is left unchanged.
	ErrInvalidDelta = errors.New("flowctl: window update delta outside 1..2^31-1")

	// ErrInvalidWindowSize reports a window size (a SETTINGS_INITIAL_WINDOW_SIZE
	// value) above MaxWindow, or a negative one. The window is left unchanged.
	ErrInvalidWindowSize = errors.New("flowctl: window size outside 0..2^31-1")
)

// WindowSize converts the value of a received SETTINGS_INITIAL_WINDOW_SIZE
// entry to a window size. Values above MaxWindow cannot be honoured and
// return ErrInvalidWindowSize; the session decides whether that ends the
// session (PROTOCOL_ERROR) or the entry is ignored.
func WindowSize(v uint32) (int32, error) {
	if v > MaxWindow {
		return 0, ErrInvalidWindowSize
	}
	return int32(v), nil
}

// checkSizes validates the two sizes of an INITIAL_WINDOW_SIZE change and
// returns new - old.
func checkSizes(oldSize, newSize int32) (int64, error) {
	if oldSize < 0 || newSize < 0 {
		return 0, ErrInvalidWindowSize
	}
	return int64(newSize) - int64(oldSize), nil
}

// clamp32 narrows a window kept in int64 to int32. Windows stay within
// [-MaxWindow, MaxWindow] when callers pass consistent values; the clamp
// only keeps a misuse from wrapping around.
func clamp32(v int64) int32 {
	return int32(min(max(v, math.MinInt32), MaxWindow))
}
