package session

import (
	"errors"
	"fmt"
	"net"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/stream"
)

var (
	// ErrClosed is the error of a session closed by Close or Shutdown, and
	// of calls made after. It matches net.ErrClosed.
	ErrClosed = fmt.Errorf("session closed: %w", net.ErrClosed)
	// ErrGoingAway is returned by Open once a GOAWAY was sent or received:
	// open the stream on a new session.
	ErrGoingAway = errors.New("session: going away; open streams on a new session")
	// ErrStreamIDsExhausted is returned by Open when no stream id is left
	// (ids go up to 2^31-1 and are never reused). The session sends GOAWAY
	// and drains; open the stream on a new session.
	ErrStreamIDsExhausted = errors.New("session: stream ids exhausted; open streams on a new session")
	// ErrStreamLimit is returned by Open, with Config.OpenFailsAtLimit, when
	// the peer's MAX_CONCURRENT_STREAMS streams are open.
	ErrStreamLimit = errors.New("session: peer's concurrent stream limit reached")
	// ErrTooManyPings is returned by Ping when Config.MaxPendingPings pings
	// await replies.
	ErrTooManyPings = errors.New("session: too many pings awaiting replies")
	// ErrKeepAliveTimeout ends a session whose keepalive PING got no reply
	// in Config.KeepAliveTimeout.
	ErrKeepAliveTimeout = errors.New("session: keepalive ping timed out")
	// ErrWriteTimeout ends a session whose connection accepted no bytes for
	// Config.WriteTimeout.
	ErrWriteTimeout = errors.New("session: write timed out")
	// ErrControlQueueFull ends a session whose peer does not read the
	// control frames queued for it (Config.MaxQueuedControl).
	ErrControlQueueFull = errors.New("session: too many control frames queued for a peer that does not read")
	// ErrPeerSpeaksHTTP ends a session whose peer's first bytes are
	// "HTTP/": an HTTP/1.x server answered a connection that was taken to
	// speak SPDY by prior knowledge. Without this check its status line
	// would be read as the header of a DATA frame of megabytes, and the
	// session would wait for bytes that never come. It comes wrapped in a
	// *TransportError.
	ErrPeerSpeaksHTTP = errors.New("session: the peer answered in HTTP/1.x, not SPDY")
	// ErrFlood ends a session whose peer sent more costly frames than
	// Config.FloodLimit and Config.FloodRate allow: frames that make the
	// session work or answer without moving the exchange forward (see
	// Config.FloodLimit). The session sends GOAWAY PROTOCOL_ERROR; the
	// error is a *ProtocolError that wraps ErrFlood.
	ErrFlood = errors.New("session: peer flooded the session with costly frames")
	// ErrPushNotAllowed is returned by Push on a client, or for an
	// associated stream that is not an open client stream.
	ErrPushNotAllowed = errors.New("session: push not allowed")
	// ErrNotProcessed matches (with errors.Is) the error of a stream the
	// peer did not process: above the last-good id of its GOAWAY, or
	// refused with REFUSED_STREAM. It is stream.ErrUnprocessed.
	ErrNotProcessed = stream.ErrUnprocessed
)

// GoAwayError is the error of a session ended by a GOAWAY from the peer,
// and, with Unprocessed set, of the streams it did not process (which match
// ErrNotProcessed and may be retried on a new session).
type GoAwayError struct {
	LastGoodStreamID framing.StreamID
	Status           framing.GoAwayStatus
	// StreamID is the stream this error was given to, if any.
	StreamID framing.StreamID
	// Unprocessed is true for a stream above LastGoodStreamID.
	Unprocessed bool
}

func (e *GoAwayError) Error() string {
	if e.Unprocessed {
		return fmt.Sprintf("session: stream %d not processed: peer sent GOAWAY (last good stream %d, %v); safe to retry on a new session",
			e.StreamID, e.LastGoodStreamID, e.Status)
	}
	return fmt.Sprintf("session: peer sent GOAWAY (last good stream %d, %v)", e.LastGoodStreamID, e.Status)
}

// Is makes errors.Is(err, ErrGoingAway) true for every GoAwayError (the
// session cannot take new streams: open them on a new session), and
// errors.Is(err, ErrNotProcessed) true for unprocessed streams.
func (e *GoAwayError) Is(target error) bool {
	return target == ErrGoingAway || (target == stream.ErrUnprocessed && e.Unprocessed)
}

// ProtocolError is the error of a session ended because the peer broke the
// protocol: we sent GOAWAY with Status and closed. It wraps the error the
// framing or header layer reported, if any.
type ProtocolError struct {
	Status framing.GoAwayStatus
	Reason string
	Err    error
}

func (e *ProtocolError) Error() string {
	s := "session: protocol error from peer (" + e.Status.String() + "): " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns e.Err.
func (e *ProtocolError) Unwrap() error { return e.Err }

// TransportError is the error of a session whose connection failed: a read
// or write error, or the peer closing the connection.
type TransportError struct {
	Op  string // "read" or "write"
	Err error
}

func (e *TransportError) Error() string {
	return "session: connection " + e.Op + " failed: " + e.Err.Error()
}

// Unwrap returns e.Err.
func (e *TransportError) Unwrap() error { return e.Err }
