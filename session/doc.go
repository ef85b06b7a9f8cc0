// Package session runs SPDY/2, SPDY/3 and SPDY/3.1 sessions over any
// net.Conn: streams opened and accepted as net.Conns (package stream),
// flow control, priorities, SETTINGS, PING, GOAWAY, server push, keepalive
// and limits.
//
// A session is created with New in a role (Client or Server) that decides
// stream id parity and need not match who dialed. Open starts a stream,
// Accept waits for one the peer starts, Ping measures the round trip,
// Shutdown drains gracefully and Close ends the session at once.
//
// # Goroutines and ownership
//
// One loop goroutine owns every piece of protocol state: the stream table,
// both directions' flow-control windows, the write scheduler and the
// SETTINGS, PING and GOAWAY state. A reader goroutine parses frames and
// decodes header blocks (which must be decoded in order), and hands them to
// the loop; a writer goroutine writes the batches of frames the loop
// prepares. Streams talk to the loop through stream.Sender: a stream only
// signals that it has work and the loop takes it. No lock is held across a
// connection Read or Write, and no goroutine is started per stream.
//
// # Writing
//
// Control frames go first, in the order they were queued; then stream
// frames by priority (8 levels in SPDY/3, 4 in SPDY/2), taking turns
// within a level one frame at a time, with DATA cut at
// Config.MaxFrameSize. Frames ready together are written with one Write
// call.
//
// # Flow control
//
// Each stream's receive buffer is bounded by the window we advertise: a
// peer that overruns it gets RST_STREAM FLOW_CONTROL_ERROR on that stream
// only. Windows grow automatically when the application reads as fast as
// data arrives (up to Config.MaxWindowSize). Credit of the SPDY/3.1 session
// window is returned as soon as data is placed in a stream's buffer,
// because that buffer is already bounded by the stream's window: so a
// stream whose reader stalls stops only itself, never the session.
// Config.UnlimitedPeerWindow serves peers without flow control.
//
// # Hostile peers
//
// Everything a peer can make a session hold is bounded by a Config field
// with a default: streams (MaxConcurrentStreams, counting those waiting
// for Accept), buffered data (the windows), header blocks (size and
// count), queued control frames, and frames that cost work without moving
// an exchange forward (the flood bucket of FloodLimit and FloodRate). A
// session that ends on a protocol error sends GOAWAY, shuts its side of
// the connection and reads on, dropping, until the peer closes or a
// second has passed, so that the GOAWAY is not lost to a reset of the
// connection. docs/security.md lists every limit.
//
// # Errors
//
// Errors are typed by blast radius: a stream ends with a
// *stream.ResetError (RST_STREAM, sent or received), a session with
// ErrClosed, a *GoAwayError, a *ProtocolError (the peer broke the
// protocol; we sent GOAWAY) or a *TransportError. Streams the peer did not
// process match ErrNotProcessed and may be retried.
package session
