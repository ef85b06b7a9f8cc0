package framing

import (
	"errors"
	"fmt"
)

// ErrFrameTooLarge is the cause of the error [Framer.ReadFrame] returns for a
// frame whose payload exceeds the Framer's limit for its kind.
var ErrFrameTooLarge = errors.New("framing: frame too large")

// ErrInvalidWrite is wrapped by every error the Framer returns for a frame
// it refuses to write because it breaks a rule of the protocol (a bad stream
// id, flag, priority, status or length). Set [Framer.AllowIllegalWrites] to
// write such frames anyway, for tests.
var ErrInvalidWrite = errors.New("framing: invalid frame")

// ConnectionError is a session error: the peer broke a rule that leaves the
// session unusable. The caller must send GOAWAY with Status and close the
// connection.
//
// If the error wraps a [*StreamError] (find it with errors.As), that stream
// should be reset with the stream error's status before the GOAWAY is sent:
// this is how a header-bearing frame too large to be read is reported, since
// its header block could not be inflated.
type ConnectionError struct {
	Status GoAwayStatus // the GOAWAY status to send (SPDY/3 and later)
	Reason string       // what was wrong, for logs; never holds header data
	Err    error        // the underlying cause, if any
}

func (e *ConnectionError) Error() string {
	return fmt.Sprintf("framing: session error %v: %s", e.Status, e.Reason)
}

// Unwrap returns e.Err.
func (e *ConnectionError) Unwrap() error { return e.Err }

// StreamError is an error confined to one stream: the caller must reset
// StreamID with RST_STREAM Status, and the session goes on.
type StreamError struct {
	StreamID StreamID
	Status   StatusCode
	Reason   string // what was wrong, for logs; never holds header data
	Err      error  // the underlying cause, if any
}

func (e *StreamError) Error() string {
	return fmt.Sprintf("framing: stream error on stream %d %v: %s", e.StreamID, e.Status, e.Reason)
}

// Unwrap returns e.Err.
func (e *StreamError) Unwrap() error { return e.Err }

func connError(format string, args ...any) *ConnectionError {
	return &ConnectionError{Status: GoAwayProtocolError, Reason: fmt.Sprintf(format, args...)}
}

func streamError(id StreamID, status StatusCode, format string, args ...any) *StreamError {
	return &StreamError{StreamID: id, Status: status, Reason: fmt.Sprintf(format, args...)}
}

func invalidWrite(t FrameType, format string, args ...any) error {
	return fmt.Errorf("%w: %v: %s", ErrInvalidWrite, t, fmt.Sprintf(format, args...))
}
