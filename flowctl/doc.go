// Package flowctl does the window arithmetic of SPDY flow control: how much
// DATA may be sent, whether received DATA stays within the window we
// granted, and when to grant more with WINDOW_UPDATE.
//
// It is pure arithmetic for a session's single event loop: no locks, no
// goroutines, no I/O and no clock. [Outflow] is a send window (credit the
// peer granted us) and [Inflow] a receive window (credit we granted the
// peer). Both are plain values, kept in int64 internally and checked
// against [MaxWindow] (2^31-1), so nothing wraps. Peer input never panics;
// errors are the sentinels [ErrWindowOverflow], [ErrFlowControlViolation],
// [ErrInvalidDelta] and [ErrInvalidWindowSize], to be compared with
// errors.Is. Panics are reserved for caller bugs (taking more than is
// available, consuming more than was received, negative sizes).
//
// # Stream and session windows
//
// In SPDY/3.1 every stream has a window in each direction, and so does the
// session as a whole; both start at [DefaultWindow] (64 KiB). A session
// keeps one Outflow and one Inflow for itself and one of each per stream.
//
// Sending: a DATA frame of n payload bytes needs n <= [Sendable](stream,
// session), the smaller of the two windows; after writing it, Take(n) on
// both. An empty DATA frame with FIN may always be sent. A WINDOW_UPDATE
// for stream id s goes to that stream's Outflow.Add, for id 0 to the
// session's; an error from Add is ErrInvalidDelta (PROTOCOL_ERROR) or
// ErrWindowOverflow (RST_STREAM FLOW_CONTROL_ERROR for a stream, GOAWAY for
// the session). A new SETTINGS_INITIAL_WINDOW_SIZE from the peer, checked
// with [WindowSize], is applied to every open stream's Outflow with
// AdjustInitial(old, new) and used to Init new streams; it never touches the
// session window. A stream window may become negative that way, and then
// Sendable is 0 until WINDOW_UPDATEs raise it.
//
// Receiving DATA of n bytes:
//
//  1. session.Receive(n) always, even when the stream is unknown, reset or
//     otherwise in error, because the peer counted those bytes against its
//     session window. An error means GOAWAY.
//  2. If the stream exists, stream.Receive(n). An error means RST_STREAM
//     FLOW_CONTROL_ERROR for that stream only.
//  3. Bytes that will never reach the application (unknown or reset stream,
//     stream violation) are consumed at once: session.Consume(n).
//
// As the application reads n bytes, call Consume(n) (or ConsumeAt) on both
// the stream's and the session's Inflow and send a WINDOW_UPDATE for each
// non-zero result (stream id 0 for the session). When a stream is reset or
// closed with unread data, pass its Inflow's Buffered to the session's
// Consume so that credit is not lost; no further update is sent for the
// stream itself, nor after the peer's FIN.
//
// # Versions and peers without flow control
//
// SPDY/3 has stream windows only, and SPDY/2 has none. Rather than
// branching on the version, a session initializes the windows that do not
// exist with InitUnlimited: an unlimited Outflow always has MaxWindow
// available and ignores (valid) updates, and an unlimited Inflow accepts
// any amount and never asks for a WINDOW_UPDATE. So in SPDY/3 the session's
// Outflow and Inflow are unlimited (and a WINDOW_UPDATE for stream 0 is
// ignored), and in SPDY/2 every window is. Peers that never send
// WINDOW_UPDATE and ignore ours, such as moby/spdystream, would stall after
// 64 KiB; a session option can make every window toward them unlimited
// too, and must then bound its receive buffers some other way.
//
// # Batching
//
// Returning credit per DATA frame would double the frames on the wire, so
// an Inflow holds consumed credit back until it reaches half of its target
// window, then returns all of it in one WINDOW_UPDATE. With the default
// 64 KiB window that is one update per 32 KiB read. Half a window is what
// the SPDY/3.1 text suggests; it keeps the peer at least half a window of
// credit at all times while the reader keeps up, and it never produces tiny
// updates when the reader falls behind (x/net/http2's 4 KiB minimum sends
// an update for almost every frame instead). It cannot deadlock: the peer
// only runs out of credit when the unread and unreturned bytes fill the
// window, and once the reader catches up at least half of it is pending,
// which triggers the update.
//
// # Larger windows and auto-tuning
//
// 64 KiB per round trip limits throughput on long paths. A session can
// advertise a larger stream window in SETTINGS_INITIAL_WINDOW_SIZE (Init
// new streams with it, AdjustInitial the open ones) and, in SPDY/3.1, grow
// the session window with [Inflow.GrowTarget], whose result is the delta of
// a WINDOW_UPDATE for stream 0.
//
// Windows can also grow on their own up to the maximum given to
// [Inflow.Init]. [Inflow.ConsumeAt] takes the caller's clock reading and
// round-trip estimate: when an update is due, it compares how fast the
// application consumed since the previous update with the window. With
// updates at half a window, a window W sustains a reading rate R only if
// W >= 2*R*RTT; the window doubles when W < 4*R*RTT, that is as soon as the
// reader reaches half of what the window sustains, so the window grows
// before it becomes the bottleneck, and a slow reader never makes it grow.
//
// # Lowering our window
//
// When we lower our SETTINGS_INITIAL_WINDOW_SIZE, the peer may still send
// under the old, larger window until it processes our SETTINGS, and SPDY
// has no acknowledgement to tell when. [Inflow.AdjustInitial] therefore
// accepts data up to the larger window for the rest of the stream's life,
// instead of resetting streams for data sent in good faith, and both sides
// converge on the new size as credit is returned.
package flowctl
