// Package framing reads and writes the frames of SPDY/2, SPDY/3 and
// SPDY/3.1: the wire format and nothing above it.
//
// A [Framer] reads frames from an io.Reader and writes them to an
// io.Writer. Every frame type of every version is supported in both
// directions: SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, NOOP (SPDY/2),
// PING, GOAWAY (the 4-byte SPDY/2 and 8-byte SPDY/3 layouts), HEADERS,
// WINDOW_UPDATE (stream 0 is the SPDY/3.1 session window), CREDENTIAL
// (SPDY/3) and DATA. Control frames of unknown types or versions are
// returned as [*UnknownFrame], which the protocol says to ignore.
//
// Header blocks stay opaque compressed bytes; package hpackz encodes and
// decodes them. Flow control, stream states and every other session rule
// belong to the layers above.
//
// # Validation and errors
//
// ReadFrame checks every rule that can be checked on one frame: payload
// lengths (exact for fixed-size frames, minimums for the others, 4+8·n for
// SETTINGS), flags that must be zero, stream id 0 where it is illegal,
// RST_STREAM status 0, WINDOW_UPDATE delta 0. Reserved bits are ignored. A
// broken rule is reported as the error the protocol prescribes: a
// [*StreamError] (reset that stream, carry on) or a [*ConnectionError]
// (send GOAWAY, close). Both carry the status code to send. Write methods
// refuse frames that break the rules with an error wrapping
// [ErrInvalidWrite], unless [Framer.AllowIllegalWrites] is set.
//
// # Memory
//
// A payload is read into a buffer the Framer reuses, which grows only as
// the payload's bytes actually arrive: a length field alone never makes the
// Framer allocate. Payloads are limited by [Framer.MaxControlFrameSize]
// (default 64 KiB) and [Framer.MaxDataFrameSize] (default 1 MiB). Frames
// returned by ReadFrame are reused too, so reading and writing DATA and
// fixed-size control frames allocates nothing in steady state; a frame is
// valid until the next ReadFrame ([CopyFrame] keeps one).
package framing
