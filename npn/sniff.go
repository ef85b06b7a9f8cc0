package npn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/session"
)

// Defaults of the SniffConfig fields.
const (
	DefaultSniffTimeout     = 10 * time.Second
	DefaultMaxPending       = 256
	DefaultWindowUpdateWait = 100 * time.Millisecond
)

// sniffBufSize is the most a sniffer reads before deciding: enough for the
// first SETTINGS and WINDOW_UPDATE frames of any SPDY client.
const sniffBufSize = 4096

// Wire facts of the first control frame.
const (
	controlBit        = 0x80
	typeSettings      = 4
	typePing          = 6
	typeWindowUpdate  = 9
	windowUpdateLen   = 8
	controlHeaderSize = 8
)

// ErrUnsupportedVersion is the error of a connection whose first control
// frame names a SPDY version other than 2 and 3. The SniffListener closes
// such connections (and logs the error, if it has a Logger).
var ErrUnsupportedVersion = errors.New("npn: unsupported spdy version")

// SniffConfig configures a SniffListener. The zero value (or a nil
// *SniffConfig) works: every field documents its default.
type SniffConfig struct {
	// Timeout bounds the wait for a connection's first bytes: a connection
	// that sends nothing for that long is closed. Default
	// DefaultSniffTimeout (10 s).
	Timeout time.Duration
	// MaxPending bounds the connections being sniffed, or sniffed and
	// waiting to be accepted, at once. Beyond it the listener stops
	// accepting until one is done, so that silent connections cost a
	// bounded amount of memory. Sniffing runs in a goroutine per
	// connection: a silent connection never holds up the others. Default
	// DefaultMaxPending (256).
	MaxPending int
	// V3 is the version given to a SPDY/3 connection (version 3 on the
	// wire) whose first frames show no session WINDOW_UPDATE: session.V3
	// (the default) or session.V31. Set it to session.V31 when every
	// version-3 client is known to speak SPDY/3.1, for instance clients
	// that keep the 64 KiB session window and so send no WINDOW_UPDATE.
	V3 session.Version
	// WindowUpdateWait is how long, after a version-3 connection's first
	// SETTINGS frame, the sniffer waits for the frame that follows it,
	// which a SPDY/3.1 client makes its session WINDOW_UPDATE (node's
	// spdy-transport and this module's sessions send SETTINGS, then
	// WINDOW_UPDATE on stream 0). Any other frame ends the wait at once.
	// Negative means no wait: only bytes already received are examined.
	// Default DefaultWindowUpdateWait (100 ms).
	WindowUpdateWait time.Duration
	// Logger receives the errors of connections that were closed while
	// sniffing; nil means none.
	Logger *slog.Logger
}

func (c *SniffConfig) withDefaults() SniffConfig {
	var o SniffConfig
	if c != nil {
		o = *c
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultSniffTimeout
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.V3 != session.V31 {
		o.V3 = session.V3
	}
	if o.WindowUpdateWait == 0 {
		o.WindowUpdateWait = DefaultWindowUpdateWait
	}
	return o
}

// SPDYConn is a connection a SniffListener found to speak SPDY. Its first
// Reads return the bytes the sniffer read, then the rest of the
// connection; its other methods are those of the underlying connection.
type SPDYConn struct {
	bufConn
	version session.Version
}

// Version returns the SPDY version the connection's first frames showed.
func (c *SPDYConn) Version() session.Version { return c.version }

// SniffListener tells SPDY connections from HTTP/1.1 ones on a plain TCP
// listener by their first byte (0x80 starts every SPDY control frame, and
// no HTTP/1.1 request) and hands them to two listeners: SPDY, whose
// connections are *SPDYConn values carrying the version, and HTTP, for
// everything else (HTTP/1.x, and HTTP/2 with prior knowledge, whose preface
// starts with "PRI"). No byte is lost: what the sniffer read is read again
// from the connection it hands over.
//
// Sniffing reads with a deadline (SniffConfig.Timeout) in a goroutine per
// connection, at most SniffConfig.MaxPending at once. Both sides must be
// accepted from or closed: a connection waiting to be accepted holds its
// place among the pending ones. Closing one side closes the connections
// that arrive for it; closing both, or the SniffListener, closes the
// underlying listener and every connection not yet accepted.
type SniffListener struct {
	inner net.Listener
	cfg   SniffConfig
	spdy  *SPDYListener
	http  *httpListener
	sem   chan struct{}

	done      chan struct{} // closed by Close
	closeOnce sync.Once
	acceptEnd chan struct{} // closed when the accept loop ended
	acceptErr error         // why it ended, read after acceptEnd

	mu      sync.Mutex
	sniffed map[net.Conn]struct{} // connections being sniffed
	wg      sync.WaitGroup
}

// NewSniffListener starts accepting connections on inner and sniffing
// them. The SniffListener owns inner from then on; cfg may be nil.
func NewSniffListener(inner net.Listener, cfg *SniffConfig) *SniffListener {
	l := &SniffListener{
		inner:     inner,
		cfg:       cfg.withDefaults(),
		done:      make(chan struct{}),
		acceptEnd: make(chan struct{}),
		sniffed:   make(map[net.Conn]struct{}),
	}
	l.sem = make(chan struct{}, l.cfg.MaxPending)
	l.spdy = &SPDYListener{side: side{l: l, ch: make(chan net.Conn), closed: make(chan struct{})}}
	l.http = &httpListener{side: side{l: l, ch: make(chan net.Conn), closed: make(chan struct{})}}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

// SPDY returns the listener of the connections that speak SPDY.
func (l *SniffListener) SPDY() *SPDYListener { return l.spdy }

// HTTP returns the listener of the other connections (HTTP/1.x), for an
// http.Server.
func (l *SniffListener) HTTP() net.Listener { return l.http }

// Addr returns the underlying listener's address.
func (l *SniffListener) Addr() net.Addr { return l.inner.Addr() }

// Close closes the underlying listener and the connections that were not
// accepted yet, and waits for the goroutines of the SniffListener to
// exit. Connections already accepted are not affected.
func (l *SniffListener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.done)
		err = l.inner.Close()
		l.mu.Lock()
		for c := range l.sniffed {
			c.Close()
		}
		l.mu.Unlock()
	})
	l.wg.Wait()
	return err
}

func (l *SniffListener) logf(msg string, args ...any) {
	if l.cfg.Logger != nil {
		l.cfg.Logger.Debug(msg, args...)
	}
}

func (l *SniffListener) acceptLoop() {
	defer l.wg.Done()
	defer close(l.acceptEnd)
	var delay time.Duration
	for {
		select {
		case l.sem <- struct{}{}:
		case <-l.done:
			l.acceptErr = net.ErrClosed
			return
		}
		c, err := l.inner.Accept()
		if err != nil {
			<-l.sem
			select {
			case <-l.done:
				l.acceptErr = net.ErrClosed
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Out of file descriptors and the like: back off.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-l.done:
					t.Stop()
				}
				continue
			}
			l.acceptErr = err
			return
		}
		delay = 0
		l.mu.Lock()
		select {
		case <-l.done:
			l.mu.Unlock()
			c.Close()
			<-l.sem
			continue
		default:
		}
		l.sniffed[c] = struct{}{}
		l.mu.Unlock()
		l.wg.Add(1)
		go l.handle(c)
	}
}

// handle sniffs c and hands it to its side.
func (l *SniffListener) handle(c net.Conn) {
	defer l.wg.Done()
	defer func() { <-l.sem }()
	res, err := sniff(c, &l.cfg)
	l.mu.Lock()
	delete(l.sniffed, c)
	l.mu.Unlock()
	if err != nil {
		l.logf("npn: closing a connection while sniffing", "remote", c.RemoteAddr(), "err", err)
		c.Close()
		return
	}
	var out net.Conn
	var s *side
	if res.version != 0 {
		out = &SPDYConn{bufConn: bufConn{Conn: c, buf: res.buf}, version: res.version}
		s = &l.spdy.side
	} else {
		out = &bufConn{Conn: c, buf: res.buf}
		s = &l.http.side
	}
	select {
	case s.ch <- out:
	case <-s.closed:
		c.Close()
	case <-l.done:
		c.Close()
	}
}

// sniffResult is what the first bytes of a connection showed.
type sniffResult struct {
	version session.Version // 0 for HTTP
	buf     []byte          // the bytes read
}

// sniff reads the first bytes of c and decides what it speaks. It returns
// with c's read deadline cleared.
func sniff(c net.Conn, cfg *SniffConfig) (sniffResult, error) {
	deadline := time.Now().Add(cfg.Timeout)
	if err := c.SetReadDeadline(deadline); err != nil {
		return sniffResult{}, err
	}
	r := &sniffReader{c: c, buf: make([]byte, 0, sniffBufSize)}
	res, err := r.decide(cfg, deadline)
	if err != nil {
		return sniffResult{}, err
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return sniffResult{}, err
	}
	res.buf = r.buf
	return res, nil
}

// sniffReader accumulates the first bytes of a connection.
type sniffReader struct {
	c   net.Conn
	buf []byte
}

// fill reads until at least n bytes are buffered (n ≤ cap(buf)).
func (r *sniffReader) fill(n int) error {
	for len(r.buf) < n {
		m, err := r.c.Read(r.buf[len(r.buf):cap(r.buf)])
		r.buf = r.buf[:len(r.buf)+m]
		if err != nil {
			if len(r.buf) >= n {
				return nil
			}
			return err
		}
	}
	return nil
}

func (r *sniffReader) decide(cfg *SniffConfig, deadline time.Time) (sniffResult, error) {
	if err := r.fill(1); err != nil {
		return sniffResult{}, fmt.Errorf("npn: reading the first byte: %w", err)
	}
	if r.buf[0] != controlBit {
		return sniffResult{}, nil // HTTP
	}
	if err := r.fill(controlHeaderSize); err != nil {
		return sniffResult{}, fmt.Errorf("npn: reading the first spdy frame: %w", err)
	}
	switch v := int(r.buf[0]&0x7f)<<8 | int(r.buf[1]); v {
	case 2:
		return sniffResult{version: session.V2}, nil
	case 3:
		return sniffResult{version: r.v3(cfg, deadline)}, nil
	default:
		return sniffResult{}, fmt.Errorf("%w %d", ErrUnsupportedVersion, v)
	}
}

// v3 looks for the SPDY/3.1 session WINDOW_UPDATE among the first control
// frames of a version-3 connection: it skips SETTINGS and PING frames,
// waiting at most cfg.WindowUpdateWait for frames that have not arrived,
// and returns V31 if a WINDOW_UPDATE of stream 0 comes before any other
// frame, cfg.V3 otherwise.
func (r *sniffReader) v3(cfg *SniffConfig, deadline time.Time) session.Version {
	waitSet := false
	need := func(n int) bool {
		if n > cap(r.buf) {
			return false
		}
		if len(r.buf) >= n {
			return true
		}
		if !waitSet {
			waitSet = true
			d := deadline
			if cfg.WindowUpdateWait < 0 {
				d = time.Now()
			} else if w := time.Now().Add(cfg.WindowUpdateWait); w.Before(d) {
				d = w
			}
			if r.c.SetReadDeadline(d) != nil {
				return false
			}
		}
		return r.fill(n) == nil
	}
	off := 0
	for range 8 { // a few leading frames
		if !need(off + controlHeaderSize) {
			break
		}
		h := r.buf[off : off+controlHeaderSize]
		if h[0]&controlBit == 0 {
			break // DATA
		}
		typ := int(h[2])<<8 | int(h[3])
		length := int(h[5])<<16 | int(h[6])<<8 | int(h[7])
		if typ == typeWindowUpdate {
			if length != windowUpdateLen || !need(off+controlHeaderSize+windowUpdateLen) {
				break
			}
			p := r.buf[off+controlHeaderSize:]
			if int(p[0]&0x7f)<<24|int(p[1])<<16|int(p[2])<<8|int(p[3]) == 0 {
				return session.V31
			}
			break
		}
		if typ != typeSettings && typ != typePing {
			break
		}
		off += controlHeaderSize + length
	}
	return cfg.V3
}

// side is one of the two listeners of a SniffListener.
type side struct {
	l         *SniffListener
	ch        chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func (s *side) accept() (net.Conn, error) {
	select {
	case c := <-s.ch:
		return c, nil
	case <-s.closed:
		return nil, net.ErrClosed
	case <-s.l.done:
		return nil, net.ErrClosed
	case <-s.l.acceptEnd:
		// Hand over connections sniffed before the end, if any.
		select {
		case c := <-s.ch:
			return c, nil
		default:
		}
		return nil, s.l.acceptErr
	}
}

func (s *side) close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	l := s.l
	if isClosed(l.spdy.closed) && isClosed(l.http.closed) {
		return l.Close()
	}
	return nil
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// SPDYListener is the SPDY side of a SniffListener.
type SPDYListener struct {
	side
}

// AcceptSPDY waits for the next SPDY connection.
func (s *SPDYListener) AcceptSPDY() (*SPDYConn, error) {
	c, err := s.accept()
	if err != nil {
		return nil, err
	}
	return c.(*SPDYConn), nil
}

// Accept waits for the next SPDY connection; it is a *SPDYConn.
func (s *SPDYListener) Accept() (net.Conn, error) { return s.accept() }

// Close stops the SPDY side: SPDY connections that arrive from then on are
// closed. Closing both sides closes the SniffListener.
func (s *SPDYListener) Close() error { return s.close() }

// Addr returns the underlying listener's address.
func (s *SPDYListener) Addr() net.Addr { return s.l.Addr() }

type httpListener struct {
	side
}

func (s *httpListener) Accept() (net.Conn, error) { return s.accept() }
func (s *httpListener) Close() error              { return s.close() }
func (s *httpListener) Addr() net.Addr            { return s.l.Addr() }

// ServeSniffed serves SPDY and HTTP/1.1 on one plain TCP listener: it
// sniffs every connection of ln (see SniffListener), serves the SPDY ones
// with spdy at the version their first frames showed, and the others with
// http1. A nil spdy serves SPDY with http1's Handler.
//
// http1.Shutdown also shuts spdy down (through http1.RegisterOnShutdown,
// as net/http does for HTTP/2); http1.Close does not: call spdy.Close as
// well. ServeSniffed returns when http1's Serve returns (ErrServerClosed
// after Shutdown or Close) or when ln fails, and closes ln.
func ServeSniffed(ln net.Listener, spdy *httpadapter.Server, http1 *http.Server, cfg *SniffConfig) error {
	if http1 == nil {
		return errors.New("npn: ServeSniffed needs an http.Server")
	}
	if spdy == nil {
		spdy = &httpadapter.Server{Handler: handlerOf(http1)}
	}
	http1.RegisterOnShutdown(func() { spdy.Shutdown(context.Background()) })
	sl := NewSniffListener(ln, cfg)
	httpErr := make(chan error, 1)
	go func() {
		err := http1.Serve(sl.HTTP())
		sl.Close()
		httpErr <- err
	}()
	for {
		c, err := sl.SPDY().AcceptSPDY()
		if err != nil {
			break
		}
		go func() {
			err := spdy.ServeConn(c, &httpadapter.ServeConnOpts{Version: c.Version()})
			if err != nil && spdy.Logger != nil {
				spdy.Logger.Debug("session ended", "remote", c.RemoteAddr(), "err", err)
			}
		}()
	}
	sl.Close()
	return <-httpErr
}

// handlerOf returns a handler that serves with hs.Handler (looked up at
// each request, so that it may be set later), or http.DefaultServeMux.
func handlerOf(hs *http.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := hs.Handler
		if h == nil {
			h = http.DefaultServeMux
		}
		h.ServeHTTP(w, r)
	})
}
