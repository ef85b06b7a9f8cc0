package session

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/spdygo/spdy/flowctl"
	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
)

// Version is the protocol a session speaks.
type Version int

// The protocol versions. SPDY/3 and SPDY/3.1 carry version 3 on the wire;
// SPDY/3.1 adds the session flow-control window.
const (
	V2  Version = 2
	V3  Version = 3
	V31 Version = 31
)

// String returns the protocol id used in ALPN: "spdy/2", "spdy/3" or
// "spdy/3.1".
func (v Version) String() string {
	switch v {
	case V2:
		return "spdy/2"
	case V3:
		return "spdy/3"
	case V31:
		return "spdy/3.1"
	}
	return fmt.Sprintf("spdy/version-%d", int(v))
}

// wire returns the version in control frame headers.
func (v Version) wire() framing.Version {
	if v == V2 {
		return framing.Version2
	}
	return framing.Version3
}

// headers returns the header block format.
func (v Version) headers() hpackz.Version {
	if v == V2 {
		return hpackz.V2
	}
	return hpackz.V3
}

// ParseVersion returns the Version for an ALPN protocol id ("spdy/3.1",
// "spdy/3", "spdy/2").
func ParseVersion(s string) (Version, error) {
	switch s {
	case "spdy/2":
		return V2, nil
	case "spdy/3":
		return V3, nil
	case "spdy/3.1":
		return V31, nil
	}
	return 0, fmt.Errorf("session: unknown protocol %q", s)
}

// Role is the part a session plays, which decides stream id parity: a
// client opens odd streams and pings with odd ids, a server even ones. The
// role is the caller's choice and need not follow who dialed: a server
// behind NAT may dial out and still act as the SPDY server.
type Role uint8

// The two roles.
const (
	Client Role = 1
	Server Role = 2
)

// String returns "client" or "server".
func (r Role) String() string {
	switch r {
	case Client:
		return "client"
	case Server:
		return "server"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// Defaults of the Config fields.
const (
	DefaultMaxConcurrentStreams = 1000
	DefaultInitialWindowSize    = flowctl.DefaultWindow // 64 KiB, the protocol's
	DefaultMaxWindowSize        = 16 << 20
	DefaultSessionWindowSize    = 1 << 20
	DefaultMaxSessionWindowSize = 64 << 20
	DefaultMaxFrameSize         = 64 << 10
	DefaultMaxBufferPerStream   = 16 << 20
	DefaultMaxPendingPings      = 64
	DefaultMaxQueuedControl     = 10000
	DefaultFloodLimit           = 1000
	DefaultFloodRate            = 100
	DefaultWriteTimeout         = 30 * time.Second
	DefaultKeepAliveTimeout     = 30 * time.Second
	DefaultHeaderCompression    = hpackz.DefaultCompression
	// closeFlushTimeout bounds how long Close waits for the GOAWAY and the
	// frames before it to be written.
	closeFlushTimeout = time.Second
)

// Config configures a session. The zero value (or a nil *Config) works:
// every field documents its default. New copies the Config; changing it
// afterwards has no effect.
type Config struct {
	// Version is the protocol: V2, V3 or V31. Default V31.
	Version Version

	// MaxConcurrentStreams is the number of streams the peer may have open
	// toward us at once, sent in SETTINGS. Streams beyond it are refused
	// with REFUSED_STREAM. Default DefaultMaxConcurrentStreams (1000).
	MaxConcurrentStreams uint32
	// OpenFailsAtLimit makes Open fail with ErrStreamLimit when the peer's
	// MAX_CONCURRENT_STREAMS is reached, instead of waiting for a stream to
	// end (the default).
	OpenFailsAtLimit bool

	// InitialWindowSize is the receive window of each stream, sent as
	// SETTINGS_INITIAL_WINDOW_SIZE when it is not the protocol's 64 KiB.
	// It is also what a stream may buffer unread. Default 64 KiB.
	InitialWindowSize int32
	// MaxWindowSize caps the growth of a stream's receive window: when the
	// application reads as fast as data arrives, the window doubles (see
	// package flowctl) so that one stream can fill a fast link. Set it to
	// InitialWindowSize to turn growth off. Default 16 MiB.
	MaxWindowSize int32
	// SessionWindowSize is the SPDY/3.1 session receive window, raised from
	// the protocol's 64 KiB with a WINDOW_UPDATE at the start. Default 1 MiB.
	SessionWindowSize int32
	// MaxSessionWindowSize caps the growth of the session window. Default
	// 64 MiB.
	MaxSessionWindowSize int32

	// UnlimitedPeerWindow treats the peer as having no flow control, as
	// moby/spdystream does: our sending ignores windows, and received data
	// is not checked against windows we advertise (the peer ignores them)
	// but against MaxBufferPerStream.
	UnlimitedPeerWindow bool
	// V2Compat makes a SPDY/2 session speak SPDY/2 as node's spdy-transport
	// does, which departs from the SPDY/2 draft in two ways that break a
	// session with it: node writes and reads GOAWAY only in the 8-byte
	// SPDY/3 layout (last-good id and status), failing the connection on
	// the draft's 4-byte one, and it flow-controls SPDY/2 streams like
	// SPDY/3 ones, stopping after 64 KiB until it gets a WINDOW_UPDATE,
	// which SPDY/2 does not define. With V2Compat the session writes the
	// 8-byte GOAWAY and uses SPDY/3's stream flow control in SPDY/2:
	// SETTINGS_INITIAL_WINDOW_SIZE, and WINDOW_UPDATE frames (type 9 in
	// SPDY/2 control frames, SPDY/3's layout) sent and honored. It has no
	// effect in SPDY/3 and SPDY/3.1. Default off: SPDY/2 as its draft
	// defines it, without flow control.
	V2Compat bool
	// MaxBufferPerStream bounds the unread data a stream may hold where no
	// window bounds it (SPDY/2, UnlimitedPeerWindow); a stream that
	// exceeds it is reset with FLOW_CONTROL_ERROR. It is also the largest
	// DATA frame read then. Default 16 MiB.
	MaxBufferPerStream int

	// MaxFrameSize is the largest DATA payload written in one frame. The
	// scheduler takes turns between streams frame by frame, so smaller
	// frames share the link more finely, larger ones cost less per byte.
	// Default 64 KiB (about 30 µs of a 2 GB/s link).
	MaxFrameSize int
	// MaxHeaderBlockSize limits the inflated size of a received header
	// block. Default hpackz.DefaultMaxBlockSize (256 KiB).
	MaxHeaderBlockSize int
	// MaxHeaderFields limits the name/value pairs of a received header
	// block; a stream whose block has more is reset with FRAME_TOO_LARGE.
	// Negative means no limit. Default hpackz.DefaultMaxFields (1000).
	MaxHeaderFields int
	// MaxControlFrameSize limits the size of a received control frame.
	// Default framing.DefaultMaxControlFrameSize (64 KiB).
	MaxControlFrameSize int
	// HeaderCompression is the hpackz compression level of the header
	// blocks we send. The zero value means DefaultHeaderCompression; use
	// NoHeaderCompression for stored blocks.
	HeaderCompression int
	// SensitiveHeader names headers whose values are kept out of the
	// compression context (CRIME). Default hpackz.DefaultSensitive.
	SensitiveHeader func(name string) bool

	// ManualReply makes the application send the SYN_REPLY of each accepted
	// stream itself (Stream.Reply, or implicitly with the first Write,
	// CloseWrite or Close). By default Accept sends an empty SYN_REPLY at
	// once, as custom protocols over streams expect.
	ManualReply bool
	// RejectPush makes a client refuse every pushed stream with
	// RST_STREAM CANCEL instead of returning it from Accept.
	RejectPush bool
	// ImplicitUnidirectionalPush makes a client take every SYN_STREAM that
	// names an associated stream as a server push, unidirectional, even
	// without FLAG_UNIDIRECTIONAL: node's spdy-transport pushes without the
	// flag, and resets a push that the client answers with a SYN_REPLY, as
	// it would answer a bidirectional stream. Leave it off for protocols
	// where a server opens bidirectional streams naming a parent stream
	// (moby/spdystream allows that). Default off.
	ImplicitUnidirectionalPush bool

	// MaxPendingPings bounds the pings of ours awaiting a reply. Ping fails
	// with ErrTooManyPings beyond it. Default 64.
	MaxPendingPings int
	// MaxQueuedControl bounds the control frames queued for a peer that
	// does not read (replies to its pings, resets, window updates). Beyond
	// it the session ends with ErrControlQueueFull. Default 10000.
	MaxQueuedControl int

	// FloodLimit and FloodRate bound the costly frames a peer may send: a
	// token bucket that holds FloodLimit tokens and refills at FloodRate
	// tokens per second. Each costly frame takes one token; when none is
	// left the session ends with GOAWAY PROTOCOL_ERROR and ErrFlood. A
	// costly frame is one that makes the session work, or answer, without
	// moving the exchange forward, the pattern of the HTTP/2 flood attacks
	// (CVE-2019-9512 to 9518, CVE-2023-44487):
	//
	//   - a PING from the peer, and a PING reply to a ping we did not send;
	//   - a SETTINGS frame;
	//   - a DATA frame without data and without FLAG_FIN;
	//   - a HEADERS frame without headers and without FLAG_FIN;
	//   - a RST_STREAM (rapid reset), and a SYN_STREAM refused with
	//     REFUSED_STREAM (stream exhaustion);
	//   - a WINDOW_UPDATE whose delta is below 1024 (a reader that opens
	//     the window a byte at a time makes us send tiny frames), or below
	//     an eighth of the peer's stream window when that is smaller (but
	//     never below 64);
	//   - a frame ignored as unknown (NOOP, CREDENTIAL, unknown types and
	//     versions);
	//   - each full 16 KiB of a received header block, counting each
	//     name/value pair as its length plus 32 bytes, as HTTP/2 does
	//     (decompression bombs, and blocks of many tiny headers).
	//
	// A well-behaved peer spends a few tokens per minute; the defaults
	// allow bursts of FloodLimit such frames (a browser cancelling a page's
	// requests) and FloodRate per second sustained. FloodLimit negative
	// turns the bound off. Defaults DefaultFloodLimit (1000) and
	// DefaultFloodRate (100).
	FloodLimit int
	// FloodRate is the refill rate of the FloodLimit bucket, in tokens per
	// second. Default DefaultFloodRate (100).
	FloodRate int

	// KeepAlive, when positive, sends a PING after that much time without
	// a frame from the peer. Default 0: no keepalive.
	KeepAlive time.Duration
	// KeepAliveTimeout ends the session with ErrKeepAliveTimeout when a
	// keepalive PING gets no reply in that time. Default 30 s.
	KeepAliveTimeout time.Duration
	// IdleTimeout, when positive, shuts the session down (GOAWAY OK) after
	// that much time without open streams. Default 0: never.
	IdleTimeout time.Duration
	// WriteTimeout ends the session when one write to the connection makes
	// no progress for that long, so that a peer that stops reading cannot
	// hang it. Negative means none. Default 30 s.
	WriteTimeout time.Duration

	// PersistedSettings are settings a server asked this client to persist
	// in an earlier session; a client sends them back, flagged PERSISTED,
	// in its first SETTINGS frame.
	PersistedSettings []framing.Setting
	// PersistSettings, when set on a client, is called with the settings a
	// server asks it to persist (flag PERSIST_VALUE), and with clear set
	// when the server asks it to drop those it kept. It runs on the
	// session's loop and must not block.
	PersistSettings func(settings []framing.Setting, clear bool)

	// Logger receives the session's log records; nil means none.
	Logger *slog.Logger
	// TraceFrames logs every frame read and written at debug level.
	TraceFrames bool
}

// NoHeaderCompression is the Config.HeaderCompression value for header
// blocks sent as stored (uncompressed) deflate blocks.
const NoHeaderCompression = -100

// normalize returns a copy of c with defaults filled in, or an error for
// values that cannot work.
func (c *Config) normalize() (Config, error) {
	var n Config
	if c != nil {
		n = *c
	}
	if n.Version == 0 {
		n.Version = V31
	}
	switch n.Version {
	case V2, V3, V31:
	default:
		return n, fmt.Errorf("session: unsupported version %d", int(n.Version))
	}
	if n.MaxConcurrentStreams == 0 {
		n.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	if n.InitialWindowSize == 0 {
		n.InitialWindowSize = DefaultInitialWindowSize
	}
	if n.InitialWindowSize < 0 {
		return n, fmt.Errorf("session: negative InitialWindowSize %d", n.InitialWindowSize)
	}
	if n.MaxWindowSize == 0 {
		n.MaxWindowSize = DefaultMaxWindowSize
	}
	if n.MaxWindowSize < n.InitialWindowSize {
		n.MaxWindowSize = n.InitialWindowSize
	}
	if n.SessionWindowSize == 0 {
		n.SessionWindowSize = DefaultSessionWindowSize
	}
	if n.SessionWindowSize < flowctl.DefaultWindow {
		return n, fmt.Errorf("session: SessionWindowSize %d below the protocol's 65536", n.SessionWindowSize)
	}
	if n.MaxSessionWindowSize == 0 {
		n.MaxSessionWindowSize = DefaultMaxSessionWindowSize
	}
	if n.MaxSessionWindowSize < n.SessionWindowSize {
		n.MaxSessionWindowSize = n.SessionWindowSize
	}
	if n.MaxBufferPerStream <= 0 {
		n.MaxBufferPerStream = DefaultMaxBufferPerStream
	}
	if n.MaxFrameSize <= 0 {
		n.MaxFrameSize = DefaultMaxFrameSize
	}
	if n.MaxFrameSize > framing.MaxPayloadLen {
		n.MaxFrameSize = framing.MaxPayloadLen
	}
	if n.MaxPendingPings <= 0 {
		n.MaxPendingPings = DefaultMaxPendingPings
	}
	if n.MaxQueuedControl <= 0 {
		n.MaxQueuedControl = DefaultMaxQueuedControl
	}
	if n.FloodLimit == 0 {
		n.FloodLimit = DefaultFloodLimit
	}
	if n.FloodRate <= 0 {
		n.FloodRate = DefaultFloodRate
	}
	if n.KeepAliveTimeout <= 0 {
		n.KeepAliveTimeout = DefaultKeepAliveTimeout
	}
	if n.WriteTimeout == 0 {
		n.WriteTimeout = DefaultWriteTimeout
	}
	switch {
	case n.HeaderCompression == 0:
		n.HeaderCompression = DefaultHeaderCompression
	case n.HeaderCompression == NoHeaderCompression:
		n.HeaderCompression = hpackz.NoCompression
	case n.HeaderCompression < hpackz.DefaultCompression || n.HeaderCompression > hpackz.BestCompression:
		return n, fmt.Errorf("session: invalid HeaderCompression %d", n.HeaderCompression)
	}
	if n.SensitiveHeader == nil {
		n.SensitiveHeader = hpackz.DefaultSensitive
	}
	n.PersistedSettings = append([]framing.Setting(nil), n.PersistedSettings...)
	return n, nil
}
