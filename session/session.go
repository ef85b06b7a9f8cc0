package session

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/internal/pool"
	"github.com/spdygo/spdy/stream"
)

// Session is one SPDY connection: streams multiplexed over a net.Conn.
// All its methods are safe for concurrent use.
//
// A session runs three goroutines: a loop that owns all protocol state (the
// stream table, flow-control windows, the write scheduler, SETTINGS, PING
// and GOAWAY), a reader that parses frames and decodes header blocks, and
// a writer that performs the connection writes the loop prepares. No
// goroutine is started per stream. All three end when the session ends,
// before Done's channel is closed.
type Session struct {
	conn        net.Conn
	cfg         Config
	role        Role
	version     Version
	wireVersion framing.Version
	start       time.Time
	log         *slog.Logger
	trace       bool

	rfr *framing.Framer // read side, owned by the reader
	dec *hpackz.Decoder // owned by the reader
	wfr *framing.Framer // append side, owned by the loop
	enc *hpackz.Encoder // owned by the loop

	inbound chan inEvent
	reqs    chan func()
	wake    chan struct{}

	notifyMu sync.Mutex
	notified []*stream.Handle

	acceptMu  sync.Mutex
	acceptQ   []*stream.Stream
	acceptSig chan struct{}

	writeCh   chan []byte
	writeDone chan writeResult

	done     chan struct{}
	errMu    sync.Mutex
	err      error // why the session ended
	lastRead atomic.Int64
	// discard tells the reader that the session is ending: what the peer
	// still sends is read and dropped, not parsed, until it closes or the
	// close timer closes the connection (see shutWrite).
	discard atomic.Bool
	stats   counters

	// Everything below belongs to the loop goroutine.
	l loopState
}

type writeResult struct {
	buf []byte
	err error
}

// OpenOptions describe a stream to open.
type OpenOptions struct {
	// Headers are sent in the SYN_STREAM.
	Headers []hpackz.Field
	// Priority is 0 (highest) to 7 (lowest) in SPDY/3 and 3.1, 0 to 3 in
	// SPDY/2. The default 0 is the highest.
	Priority uint8
	// Fin sends the SYN_STREAM with FIN: the stream carries nothing from
	// this side (a GET).
	Fin bool
	// Unidirectional opens a stream the peer may not send on.
	Unidirectional bool
	// AssociatedTo names the stream this one belongs to (server push), or 0.
	AssociatedTo framing.StreamID
}

// New starts a session over conn in the given role and returns it. The
// session owns conn from then on and closes it when it ends. It sends its
// SETTINGS (and, in SPDY/3.1, a session WINDOW_UPDATE) at once.
func New(conn net.Conn, role Role, cfg *Config) (*Session, error) {
	if role != Client && role != Server {
		return nil, fmt.Errorf("session: invalid role %d", uint8(role))
	}
	c, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	s := &Session{
		conn:        conn,
		cfg:         c,
		role:        role,
		version:     c.Version,
		wireVersion: c.Version.wire(),
		start:       time.Now(),
		log:         c.Logger,
		trace:       c.Logger != nil && c.TraceFrames,
		inbound:     make(chan inEvent, 16),
		reqs:        make(chan func(), 16),
		wake:        make(chan struct{}, 1),
		acceptSig:   make(chan struct{}, 1),
		writeCh:     make(chan []byte, 1),
		writeDone:   make(chan writeResult, 1),
		done:        make(chan struct{}),
	}
	// A buffer smaller than a large DATA payload lets most of the payload
	// be read from the connection straight into its pool buffer.
	br := bufio.NewReaderSize(conn, 16<<10)
	s.rfr = framing.NewFramer(nil, br, s.wireVersion)
	s.rfr.MaxControlFrameSize = c.MaxControlFrameSize
	s.rfr.DataBuffer = pool.Get
	if c.UnlimitedPeerWindow || c.Version == V2 {
		s.rfr.MaxDataFrameSize = max(framing.DefaultMaxDataFrameSize, c.MaxBufferPerStream)
	}
	s.wfr = framing.NewFramer(nil, nil, s.wireVersion)
	s.initLoop()
	go s.readLoop(br)
	go s.writeLoop()
	go s.run()
	return s, nil
}

// NewClient starts a session in the client role; see New.
func NewClient(conn net.Conn, cfg *Config) (*Session, error) { return New(conn, Client, cfg) }

// NewServer starts a session in the server role; see New.
func NewServer(conn net.Conn, cfg *Config) (*Session, error) { return New(conn, Server, cfg) }

// Version returns the protocol the session speaks.
func (s *Session) Version() Version { return s.version }

// Role returns the session's role.
func (s *Session) Role() Role { return s.role }

// MaxConcurrentStreams returns the number of streams the peer may have
// open toward this side at once (Config.MaxConcurrentStreams, as sent in
// SETTINGS). It also bounds the streams waiting to be accepted: a server
// that runs one handler per accepted stream can bound its handlers by it.
func (s *Session) MaxConcurrentStreams() uint32 { return s.cfg.MaxConcurrentStreams }

// LocalAddr returns the local address of the connection.
func (s *Session) LocalAddr() net.Addr { return s.conn.LocalAddr() }

// RemoteAddr returns the remote address of the connection.
func (s *Session) RemoteAddr() net.Addr { return s.conn.RemoteAddr() }

// Done returns a channel that is closed when the session has ended and all
// its goroutines have exited.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns why the session ended: ErrClosed after Close or Shutdown, a
// *GoAwayError, *ProtocolError or *TransportError otherwise. It is nil
// while the session runs.
func (s *Session) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

func (s *Session) setErr(err error) {
	s.errMu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.errMu.Unlock()
}

// errOrClosed returns the session's error, or ErrClosed.
func (s *Session) errOrClosed() error {
	if err := s.Err(); err != nil {
		return err
	}
	return ErrClosed
}

// runOnLoop runs f on the loop goroutine. It fails if the session has
// ended or ctx ends first.
func (s *Session) runOnLoop(ctx context.Context, f func()) error {
	select {
	case s.reqs <- f:
		return nil
	case <-s.done:
		return s.errOrClosed()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sender is the session as its streams see it (stream.Sender), kept out
// of the Session's own method set.
type sender struct{ s *Session }

// Notify implements stream.Sender: h has work for the loop.
func (n sender) Notify(h *stream.Handle) { n.s.notify(h) }

// notify queues h for the loop's collect.
func (s *Session) notify(h *stream.Handle) {
	s.notifyMu.Lock()
	s.notified = append(s.notified, h)
	s.notifyMu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

type openResult struct {
	st  *stream.Stream
	err error
}

type openReq struct {
	opts     OpenOptions
	ch       chan openResult
	canceled bool
	push     bool
}

// Open opens a stream with a SYN_STREAM. It returns once the stream is
// queued for sending; data written to it follows the SYN_STREAM. When the
// peer's MAX_CONCURRENT_STREAMS streams are open it waits until one ends or
// ctx is done (or fails at once with Config.OpenFailsAtLimit). After a
// GOAWAY it fails with ErrGoingAway.
func (s *Session) Open(ctx context.Context, o *OpenOptions) (*stream.Stream, error) {
	var opts OpenOptions
	if o != nil {
		opts = *o
	}
	if err := s.checkOpen(&opts); err != nil {
		return nil, err
	}
	return s.open(ctx, &openReq{opts: opts, ch: make(chan openResult, 1)})
}

// Push opens a server push: a unidirectional stream associated to the
// client stream assoc, which must still be open for sending from this side.
// headers are those of the pushed resource (for HTTP, its URL and response
// headers). It fails with ErrPushNotAllowed on a client.
func (s *Session) Push(ctx context.Context, assoc framing.StreamID, headers []hpackz.Field, priority uint8) (*stream.Stream, error) {
	if s.role != Server || assoc == 0 || !assoc.ClientInitiated() {
		return nil, ErrPushNotAllowed
	}
	opts := OpenOptions{Headers: headers, Priority: priority, Unidirectional: true, AssociatedTo: assoc}
	if err := s.checkOpen(&opts); err != nil {
		return nil, err
	}
	return s.open(ctx, &openReq{opts: opts, ch: make(chan openResult, 1), push: true})
}

func (s *Session) checkOpen(o *OpenOptions) error {
	maxPrio := uint8(7)
	if s.version == V2 {
		maxPrio = 3
	}
	if o.Priority > maxPrio {
		return fmt.Errorf("session: priority %d out of range 0..%d", o.Priority, maxPrio)
	}
	if o.AssociatedTo > framing.MaxStreamID {
		return fmt.Errorf("session: associated stream id %d out of range", o.AssociatedTo)
	}
	if len(o.Headers) > 0 {
		if err := hpackz.CheckFields(s.version.headers(), o.Headers); err != nil {
			return err
		}
	}
	return nil
}

func (s *Session) open(ctx context.Context, req *openReq) (*stream.Stream, error) {
	if err := s.runOnLoop(ctx, func() { s.doOpen(req) }); err != nil {
		return nil, err
	}
	select {
	case r := <-req.ch:
		return r.st, r.err
	case <-ctx.Done():
		// The open may still wait in the loop's queue: mark it canceled and
		// wait until the loop has seen the mark, which it does after the
		// open (the queue is in order). By then the open either made a
		// stream, which is in req.ch and is reset here, or waits for the
		// peer's stream limit and will be dropped.
		marked := make(chan struct{})
		if s.runOnLoop(context.Background(), func() { req.canceled = true; close(marked) }) == nil {
			select {
			case <-marked:
			case <-s.done:
			}
		}
		select {
		case r := <-req.ch:
			if r.st != nil {
				r.st.Reset(framing.StatusCancel)
			}
		default:
		}
		return nil, ctx.Err()
	case <-s.done:
		select {
		case r := <-req.ch:
			return r.st, r.err
		default:
		}
		return nil, s.errOrClosed()
	}
}

// Accept waits for the next stream the peer opens (or pushes) and returns
// it. It fails when ctx is done or the session ends.
func (s *Session) Accept(ctx context.Context) (*stream.Stream, error) {
	for {
		s.acceptMu.Lock()
		if len(s.acceptQ) > 0 {
			st := s.acceptQ[0]
			s.acceptQ[0] = nil
			s.acceptQ = s.acceptQ[1:]
			if len(s.acceptQ) == 0 {
				s.acceptQ = nil
			}
			s.acceptMu.Unlock()
			return st, nil
		}
		s.acceptMu.Unlock()
		if err := s.Err(); err != nil {
			// The session is ending (its error is set before the queue is
			// emptied): no stream will be queued any more, though the
			// connection may stay up a little to flush and drain.
			return nil, err
		}
		select {
		case <-s.acceptSig:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.done:
			s.acceptMu.Lock()
			n := len(s.acceptQ)
			s.acceptMu.Unlock()
			if n == 0 {
				return nil, s.errOrClosed()
			}
		}
	}
}

// Ping sends a PING and waits for its reply, returning the round-trip time.
// Many pings may be outstanding (up to Config.MaxPendingPings).
func (s *Session) Ping(ctx context.Context) (time.Duration, error) {
	req := &pingReq{ch: make(chan pingResult, 1)}
	if err := s.runOnLoop(ctx, func() { s.doPing(req) }); err != nil {
		return 0, err
	}
	select {
	case r := <-req.ch:
		return r.rtt, r.err
	case <-ctx.Done():
		_ = s.runOnLoop(context.Background(), func() { s.cancelPing(req) })
		return 0, ctx.Err()
	case <-s.done:
		select {
		case r := <-req.ch:
			return r.rtt, r.err
		default:
		}
		return 0, s.errOrClosed()
	}
}

// Shutdown ends the session gracefully: it sends GOAWAY (OK), refuses new
// streams, lets the streams already accepted or opened finish, and then
// closes. If ctx ends first, it closes the session at once and returns
// ctx's error.
func (s *Session) Shutdown(ctx context.Context) error {
	if err := s.runOnLoop(ctx, func() { s.startDrain() }); err != nil {
		if errors.Is(err, ctx.Err()) && ctx.Err() != nil {
			s.Close()
			return err
		}
		return nil // already ended
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close ends the session: it sends GOAWAY (OK) unless one was sent, writes
// it and the frames queued before it, shuts the writing side of the
// connection when it has one (TCP, TLS) and reads on until the peer closes
// its side, all for at most a second, then closes the connection, fails
// every stream and pending call, and waits for the session's goroutines to
// exit. (Closing a TCP connection with unread bytes would reset it and
// make the peer lose the frames it had not read yet.)
func (s *Session) Close() error {
	// If the session already ended, runOnLoop fails and there is only the
	// end to wait for.
	_ = s.runOnLoop(context.Background(), func() { s.closeWith(ErrClosed, true, framing.GoAwayOK) })
	<-s.done
	return nil
}

// Listener returns a net.Listener whose Accept returns the streams the peer
// opens; closing it closes the session.
func (s *Session) Listener() net.Listener { return listener{s} }

type listener struct{ s *Session }

func (l listener) Accept() (net.Conn, error) {
	st, err := l.s.Accept(context.Background())
	if err != nil {
		return nil, err
	}
	return st, nil
}
func (l listener) Close() error   { return l.s.Close() }
func (l listener) Addr() net.Addr { return l.s.LocalAddr() }

// PeerSettings returns the last value the peer sent for each setting id
// the protocol defines (ids 1 to 8); unknown ids are ignored.
func (s *Session) PeerSettings() []framing.Setting {
	var out []framing.Setting
	ch := make(chan []framing.Setting, 1)
	if s.runOnLoop(context.Background(), func() {
		ch <- append([]framing.Setting(nil), s.l.peerSettings...)
	}) != nil {
		return nil
	}
	select {
	case out = <-ch:
	case <-s.done:
	}
	return out
}

// unlimitedStreams is the peer's stream limit until it sends one.
const unlimitedStreams = math.MaxUint32

var _ stream.Sender = sender{}
