// Package stream is one SPDY stream as the application holds it: a
// net.Conn with half-close (CloseWrite), reset (Reset), the headers and
// trailers the peer sent, and the SYN_REPLY and HEADERS this side sends.
//
// A Stream is created by its session (package session), which drives it
// through a Handle: the session delivers the DATA and headers the peer
// sent, and takes the frames the application wrote, under flow control.
// The stream does not know the session; it only calls Sender.Notify when
// it has work, and the session's loop does the rest.
//
// # Receiving
//
// Received data waits in a buffer of pooled chunks that the session bounds
// by the window it advertised. Read returns it in order, then io.EOF after
// the peer's FIN. If the stream is reset before the FIN, buffered data is
// dropped and Read returns a *ResetError; data that arrived before a FIN
// stays readable even if the stream is reset afterwards, because it is
// complete.
//
// # Sending
//
// Write hands the caller's buffer to the session without copying it and
// returns once the session has taken all of it (copied into a batch of
// frames for the connection); flow control may make it wait. Whatever was
// taken before a deadline or a reset is sent whole, the rest never.
// CloseWrite sends FIN after the data written. Close finishes the stream:
// FIN if everything written was taken, RST_STREAM CANCEL if a Write was cut
// short, and a RST_STREAM CANCEL after the FIN when the peer has not
// finished sending, so that it stops.
//
// # Errors
//
// Deadlines give errors matching os.ErrDeadlineExceeded; calls after Close
// give errors matching net.ErrClosed; resets give *ResetError; the end of
// the session gives the session's error.
package stream
