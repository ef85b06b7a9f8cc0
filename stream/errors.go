package stream

import (
	"errors"
	"fmt"
	"net"

	"github.com/spdygo/spdy/framing"
)

// ErrUnprocessed is matched (with errors.Is) by the errors of streams that
// the peer never processed: streams above the last-good id of a GOAWAY it
// sent, and streams it reset with REFUSED_STREAM. Such a stream can be
// retried, on a new session for the GOAWAY case.
var ErrUnprocessed = errors.New("stream was not processed by the peer; it is safe to retry")

// ErrClosed is returned by methods of a Stream after Close, and by writes
// after CloseWrite. It matches net.ErrClosed.
var ErrClosed = fmt.Errorf("stream closed: %w", net.ErrClosed)

// ErrWriteClosed is returned by Write after the stream's sending side was
// finished with CloseWrite, a FIN, or because the stream is receive-only
// (a unidirectional stream the peer opened). It matches net.ErrClosed.
var ErrWriteClosed = fmt.Errorf("stream write side closed: %w", net.ErrClosed)

// ErrReplyNotAllowed is returned by Reply on a stream that cannot take a
// SYN_REPLY: one this side opened, a unidirectional stream, or one already
// replied to.
var ErrReplyNotAllowed = errors.New("stream: reply not allowed on this stream")

// ResetError reports a stream that ended with RST_STREAM. Remote tells
// whether the peer sent it; otherwise this side did (Reset, or a stream
// error the session detected in the peer's frames).
type ResetError struct {
	StreamID framing.StreamID
	Status   framing.StatusCode
	Remote   bool
}

func (e *ResetError) Error() string {
	who := "locally"
	if e.Remote {
		who = "by peer"
	}
	return fmt.Sprintf("stream %d reset %s: %v", e.StreamID, who, e.Status)
}

// Is makes errors.Is(err, ErrUnprocessed) true for a REFUSED_STREAM reset
// sent by the peer: the peer refused the stream before processing it.
func (e *ResetError) Is(target error) bool {
	return target == ErrUnprocessed && e.Remote && e.Status == framing.StatusRefusedStream
}
