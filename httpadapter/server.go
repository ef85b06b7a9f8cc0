package httpadapter

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/session"
	"github.com/spdygo/spdy/stream"
)

// Server serves HTTP requests that arrive over SPDY sessions with an
// http.Handler. The zero value serves http.DefaultServeMux over SPDY/3.1.
// A Server may serve many sessions at once.
type Server struct {
	// Addr is the TCP address ListenAndServe listens on; "" means ":http".
	Addr string
	// Handler handles requests; nil means http.DefaultServeMux.
	Handler http.Handler
	// Session configures every session the server runs. nil means the
	// defaults, with ManualReply always set (the reply carries the
	// response headers). Its Version is the protocol of connections whose
	// protocol was not negotiated (ServeConn without a version, Serve).
	//
	// A server faces clients it does not know, so two of its defaults
	// differ from session.Config's: a zero KeepAlive is
	// DefaultServerKeepAlive, so that a client that sends nothing, or
	// stops in the middle of a frame (slowloris), is cut off after
	// KeepAlive+KeepAliveTimeout; and a zero IdleTimeout is
	// DefaultServerIdleTimeout, so that sessions without streams do not
	// pile up. Set them negative for none.
	Session *session.Config
	// BaseContext, if set, returns the base context of requests on a
	// session; nil means context.Background().
	BaseContext func(*session.Session) context.Context
	// Logger receives errors of handlers and sessions; nil means none.
	Logger *slog.Logger
	// WriteBufferSize is the size of the buffer between a handler's
	// Writes and the stream, so that small writes make full DATA frames.
	// Flush empties it. A response that fits in it and is complete when
	// the handler returns gets a Content-Length. Default 16 KiB.
	WriteBufferSize int
	// StallTimeout fails a response Write that makes no progress for that
	// long because the client's flow-control window stays shut (a client
	// that stopped reading, or opens its window too slowly to matter):
	// the Write returns an error matching os.ErrDeadlineExceeded, and the
	// stream is reset when the handler returns. It also fails a request
	// body Read that gets no byte for that long (a client that stops
	// sending its body, "slow POST"). Without it such a client would hold
	// the handler, its goroutine and its buffers for as long as it keeps
	// the session alive. A handler that sets its own deadline
	// (http.ResponseController) is left to it. Zero means
	// DefaultServerStallTimeout, negative none.
	StallTimeout time.Duration

	mu         sync.Mutex
	listeners  map[net.Listener]struct{}
	sessions   map[*session.Session]struct{}
	shutdown   bool
	life       context.Context // cancelled by Shutdown and Close
	cancelLife context.CancelFunc
	wg         sync.WaitGroup // sessions, connections and handlers in flight
	bufs       sync.Pool      // *bufio.Writer of bufferSize, reused between responses
}

// The server's defaults for sessions (see Server.Session).
const (
	DefaultServerKeepAlive   = time.Minute
	DefaultServerIdleTimeout = 5 * time.Minute
	// DefaultServerStallTimeout is the default of Server.StallTimeout, the
	// send_timeout of common HTTP servers.
	DefaultServerStallTimeout = time.Minute
)

// stallChunk is the most a response Write hands the stream under one
// stall deadline: a client must take this much per StallTimeout.
const stallChunk = 64 << 10

// stallDeadline is the deadline a stall watch last set on a stream
// (Server.StallTimeout).
type stallDeadline struct{ at time.Time }

// move returns the deadline d from now, and true, when the one last set is
// less than most of d away: a steady exchange moves it every d/16, not at
// every call.
func (s *stallDeadline) move(d time.Duration) (time.Time, bool) {
	now := time.Now()
	if s.at.Sub(now) > d-d/16 {
		return time.Time{}, false
	}
	s.at = now.Add(d)
	return s.at, true
}

func (s *Server) stallTimeout() time.Duration {
	if s.StallTimeout == 0 {
		return DefaultServerStallTimeout
	}
	return s.StallTimeout
}

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown
// or Close. It is http.ErrServerClosed.
var ErrServerClosed = http.ErrServerClosed

// ServeConnOpts are the options of Server.ServeConn.
type ServeConnOpts struct {
	// Version is the protocol of the connection, as negotiated; 0 means
	// the Server's configured version.
	Version session.Version
	// TLS is the connection's TLS state, given to requests as r.TLS; for a
	// *tls.Conn it is filled in automatically, after the handshake.
	TLS *tls.ConnectionState
	// Context is the base context of the session's requests (and of the
	// TLS handshake).
	Context context.Context
}

func (s *Server) sessionConfig(v session.Version) *session.Config {
	var c session.Config
	if s.Session != nil {
		c = *s.Session
	}
	c.ManualReply = true
	if c.KeepAlive == 0 {
		c.KeepAlive = DefaultServerKeepAlive
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultServerIdleTimeout
	}
	if v != 0 {
		c.Version = v
	}
	return &c
}

func (s *Server) bufferSize() int {
	if s.WriteBufferSize > 0 {
		return s.WriteBufferSize
	}
	return 16 << 10
}

// lifetime returns a context that ends with Shutdown or Close.
func (s *Server) lifetime() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLifeLocked()
	return s.life
}

func (s *Server) initLifeLocked() {
	if s.life == nil {
		s.life, s.cancelLife = context.WithCancel(context.Background())
	}
}

// ServeConn runs a server session on conn and serves its requests until
// the session ends. For a *tls.Conn it completes the handshake first. It
// returns the session's error, nil for a session closed by Shutdown or by
// the peer's GOAWAY, and ErrServerClosed after Shutdown or Close.
func (s *Server) ServeConn(conn net.Conn, opts *ServeConnOpts) error {
	var o ServeConnOpts
	if opts != nil {
		o = *opts
	}
	if tc, ok := conn.(*tls.Conn); ok && o.TLS == nil {
		if err := s.handshake(tc, o.Context); err != nil {
			conn.Close()
			return err
		}
		st := tc.ConnectionState()
		o.TLS = &st
	}
	sess, err := session.New(conn, session.Server, s.sessionConfig(o.Version))
	if err != nil {
		conn.Close()
		return err
	}
	return s.serveSession(sess, &o)
}

// handshake completes a TLS handshake, giving up when ctx ends or the
// server shuts down.
func (s *Server) handshake(tc *tls.Conn, base context.Context) error {
	if base == nil {
		base = context.Background()
	}
	ctx, cancel := context.WithCancel(base)
	defer cancel()
	stop := context.AfterFunc(s.lifetime(), cancel)
	defer stop()
	return tc.HandshakeContext(ctx)
}

// ServeSession serves the requests of a server session created by the
// caller (for example after an HTTP/1.1 Upgrade). The session should have
// Config.ManualReply set, so that replies carry the response headers;
// without it the response headers follow the automatic empty SYN_REPLY in
// a HEADERS frame.
func (s *Server) ServeSession(sess *session.Session) error {
	return s.serveSession(sess, &ServeConnOpts{})
}

func (s *Server) serveSession(sess *session.Session, o *ServeConnOpts) error {
	if !s.track(sess) {
		sess.Close()
		return ErrServerClosed
	}
	defer s.untrack(sess)
	ctx := o.Context
	if ctx == nil && s.BaseContext != nil {
		ctx = s.BaseContext(sess)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx = context.WithValue(ctx, http.LocalAddrContextKey, sess.LocalAddr()) // once, not per request
	sc := &serverConn{srv: s, sess: sess, tls: o.TLS, base: ctx, names: namesFor(sess.Version()), remote: sess.RemoteAddr().String()}
	// At most MaxConcurrentStreams handlers run at once: a stream is
	// accepted only when a handler can start. A peer that resets streams
	// as fast as it opens them (rapid reset) frees its stream slots at
	// once, but not the handlers; their streams wait in the session's
	// accept queue, which is bounded the same way, and beyond it the
	// session refuses new streams. A stream reset before its handler
	// starts gets none.
	slots := make(chan struct{}, max(sess.MaxConcurrentStreams(), 1))
	for {
		acquired := false
		select {
		case slots <- struct{}{}:
			acquired = true
		case <-sess.Done():
		}
		if !acquired {
			break
		}
		st, err := sess.Accept(context.Background())
		if err != nil {
			<-slots
			break
		}
		s.wg.Add(1) // the session's own count keeps the group above zero
		go func() {
			defer func() {
				<-slots
				s.wg.Done()
			}()
			sc.serveStream(st)
		}()
	}
	<-sess.Done()
	err := sess.Err()
	if errors.Is(err, session.ErrClosed) || errors.Is(err, session.ErrGoingAway) {
		return nil
	}
	var te *session.TransportError
	if errors.As(err, &te) && errors.Is(te.Err, io.EOF) {
		return nil
	}
	return err
}

// track registers a session being served; it fails after Shutdown.
func (s *Server) track(sess *session.Session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return false
	}
	if s.sessions == nil {
		s.sessions = make(map[*session.Session]struct{})
	}
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(sess *session.Session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
	s.wg.Done()
}

// spawn runs f in a goroutine that Shutdown waits for, unless the server
// is shutting down.
func (s *Server) spawn(f func()) bool {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		return false
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

// Serve accepts connections on ln and serves each as a SPDY session of
// the configured version (prior knowledge: no negotiation). It returns
// ErrServerClosed after Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.shutdown
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		ok := s.spawn(func() {
			if err := s.ServeConn(c, nil); err != nil && s.Logger != nil {
				s.Logger.Debug("session ended", "remote", c.RemoteAddr(), "err", err)
			}
		})
		if !ok {
			c.Close()
			return ErrServerClosed
		}
	}
}

// ListenAndServe listens on s.Addr and calls Serve.
func (s *Server) ListenAndServe() error {
	addr := s.Addr
	if addr == "" {
		addr = ":http"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// ListenAndServe serves handler over SPDY/3.1 on plain TCP at addr (prior
// knowledge). It is the short form of Server.ListenAndServe.
func ListenAndServe(addr string, handler http.Handler) error {
	return (&Server{Addr: addr, Handler: handler}).ListenAndServe()
}

// stop marks the server shut down, closes its listeners and returns the
// sessions it serves.
func (s *Server) stop() []*session.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown = true
	s.initLifeLocked()
	s.cancelLife()
	for ln := range s.listeners {
		ln.Close()
	}
	sessions := make([]*session.Session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	return sessions
}

// Shutdown stops the server gracefully: it closes the listeners, sends
// GOAWAY on every session, and waits until their streams have finished
// and the handlers returned, or ctx ends (then it closes what is left and
// returns ctx's error).
func (s *Server) Shutdown(ctx context.Context) error {
	sessions := s.stop()
	var wg sync.WaitGroup
	errc := make(chan error, len(sessions))
	for _, sess := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- sess.Shutdown(ctx)
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			return err
		}
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close closes the listeners and every session at once. Handlers still
// running see their requests' contexts cancelled.
func (s *Server) Close() error {
	for _, sess := range s.stop() {
		sess.Close()
	}
	return nil
}

// serverConn is one session being served.
type serverConn struct {
	srv         *Server
	sess        *session.Session
	tls         *tls.ConnectionState
	base        context.Context
	names       *names
	remote      string      // the peer's address, for r.RemoteAddr
	pushRefused atomic.Bool // the client reset a push: push no more
}

func (sc *serverConn) handler() http.Handler {
	if sc.srv.Handler != nil {
		return sc.srv.Handler
	}
	return http.DefaultServeMux
}

// pushDisabled reports whether the client takes no pushes: it refused one
// already, or it allows no streams toward it (MAX_CONCURRENT_STREAMS 0).
func (sc *serverConn) pushDisabled() bool {
	if sc.pushRefused.Load() {
		return true
	}
	disabled := false
	for _, s := range sc.sess.PeerSettings() {
		if s.ID == framing.SettingMaxConcurrentStreams {
			disabled = s.Value == 0
		}
	}
	return disabled
}

// serveStream runs the handler for one stream.
func (sc *serverConn) serveStream(st *stream.Stream) {
	select {
	case <-st.Done():
		// The client reset it (or the session ended) before a handler
		// could start: there is nobody to answer.
		return
	default:
	}
	if st.AssociatedTo() != 0 {
		st.Reset(framing.StatusRefusedStream) // a client cannot push
		return
	}
	req, err := parseRequest(st.Headers(), sc.sess.Version())
	if err != nil {
		sc.badRequest(st, err)
		return
	}
	scheme := req.URL.Scheme
	if scheme == "" {
		scheme = st.Header(sc.names.scheme)
	}
	if scheme == "" {
		scheme = "http"
		if sc.tls != nil {
			scheme = "https"
		}
	}
	w := sc.newWriter(req, scheme)
	w.st.Store(st)
	sc.run(w)
}

// newWriter returns the response writer of req, with the context that
// its handler will see.
func (sc *serverConn) newWriter(req *http.Request, scheme string) *responseWriter {
	ctx, cancel := context.WithCancel(sc.base)
	return &responseWriter{sc: sc, req: req, scheme: scheme, ctx: ctx, cancel: cancel, header: make(http.Header)}
}

func (sc *serverConn) badRequest(st *stream.Stream, err error) {
	h := http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
	body := "400 Bad Request: " + strings.TrimPrefix(err.Error(), "httpadapter: bad request: ") + "\n"
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Date", httpDate())
	if st.Reply(responseFields(http.StatusBadRequest, h, sc.sess.Version()), false) == nil {
		st.Write([]byte(body))
	}
	st.Close()
}

// run serves the request of w (a stream's, or a push's, whose stream is
// opened when its headers are ready) with the handler.
func (sc *serverConn) run(w *responseWriter) {
	ctx := w.ctx
	defer w.cancel()
	req := w.req
	req.RemoteAddr = sc.remote
	req.TLS = sc.tls
	var started <-chan struct{}
	if w.push != nil {
		started = w.push.started
	}
	if st := w.st.Load(); st != nil && w.push == nil {
		// A request that came with FIN has no body; one with a body, or a
		// content-length to check, reads the stream.
		if streamRecvDone(st) && req.ContentLength <= 0 {
			req.Body = http.NoBody
			req.ContentLength = 0
		} else {
			w.body = &requestBody{st: st, remaining: req.ContentLength, names: sc.names, stall: sc.srv.stallTimeout()}
			req.Body = w.body
		}
	} else {
		req.Body = http.NoBody
	}
	req = req.WithContext(ctx)
	w.req = req
	if w.body != nil {
		w.body.req = req
	}
	go w.watch(ctx, started)
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler && sc.srv.Logger != nil {
				sc.srv.Logger.Error("handler panic", "path", req.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
			w.abort()
			return
		}
		w.finish()
	}()
	sc.handler().ServeHTTP(w, req)
}

// streamRecvDone reports whether the client sent FIN with its SYN_STREAM
// (a request without a body). A Read of nothing does not block.
func streamRecvDone(st *stream.Stream) bool {
	_, err := st.Read(nil)
	return err == io.EOF
}

// requestBody is the body of a request: the stream's DATA, checked
// against content-length, then the trailers.
type requestBody struct {
	st        *stream.Stream
	req       *http.Request // whose Trailer is filled at the end
	names     *names
	remaining int64         // content-length, -1 when unknown
	stall     time.Duration // Server.StallTimeout; <= 0 for none
	own       atomic.Bool   // the handler set a read deadline of its own

	mu      sync.Mutex
	stallDL stallDeadline
	read    int64
	err     error // sticky: the end of the body or why it failed
	closed  bool
}

// errBodyTooLong is the error of a request body longer than its
// content-length.
var errBodyTooLong = errors.New("httpadapter: request body longer than its content-length")

// armStall moves the stream's read deadline to StallTimeout from now
// before a Read, unless the handler set a read deadline of its own: a
// client that stops sending its body (slow POST) makes the Read fail
// after StallTimeout instead of holding the handler for good (see
// stallDeadline.move for how often the deadline moves).
func (b *requestBody) armStall() {
	d := b.stall
	if d <= 0 || b.own.Load() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if at, ok := b.stallDL.move(d); ok {
		b.st.SetReadDeadline(at)
	}
}

func (b *requestBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return 0, http.ErrBodyReadAfterClose
	}
	if b.err != nil {
		err := b.err
		b.mu.Unlock()
		return 0, err
	}
	b.mu.Unlock()
	if b.remaining >= 0 && len(p) > 0 {
		// Read one byte beyond the rest, to see the excess if any.
		b.mu.Lock()
		rest := b.remaining - b.read + 1
		b.mu.Unlock()
		if int64(len(p)) > rest {
			p = p[:rest]
		}
	}
	b.armStall()
	n, err := b.st.Read(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	b.read += int64(n)
	if b.remaining >= 0 && b.read > b.remaining {
		b.err = errBodyTooLong
		b.st.Reset(framing.StatusProtocolError)
		return n - int(b.read-b.remaining), b.err
	}
	switch {
	case err == io.EOF:
		if b.remaining >= 0 && b.read < b.remaining {
			b.err = io.ErrUnexpectedEOF
			return n, b.err
		}
		b.err = io.EOF
		b.fillTrailers()
		return n, io.EOF
	case errors.Is(err, os.ErrDeadlineExceeded):
		return n, err // a later deadline lets reading go on
	case err != nil:
		b.err = fmt.Errorf("httpadapter: request body: %w", err)
		return n, b.err
	}
	return n, nil
}

// fillTrailers sets the request's Trailer from the HEADERS that followed
// the body.
func (b *requestBody) fillTrailers() {
	tr := b.st.Trailers()
	if len(tr) == 0 || b.req == nil {
		return
	}
	if b.req.Trailer == nil {
		b.req.Trailer = make(http.Header)
	}
	toHeader(b.req.Trailer, tr, b.names)
}

// Close ends reading: later Reads fail and a blocked one returns. The
// data the client still sends is discarded when the response ends.
func (b *requestBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if b.err == nil {
		b.st.SetReadDeadline(time.Unix(1, 0)) // wake a blocked Read
	}
	return nil
}

// pushState carries a pushed response's SYN_STREAM fields until its
// headers are known.
type pushState struct {
	parent   framing.StreamID
	fields   []hpackz.Field // :scheme, :host, :path, :method
	priority uint8
	result   chan error    // the outcome of opening the stream (buffered)
	started  chan struct{} // closed once the stream is open
}

// responseWriter is the http.ResponseWriter of one stream.
type responseWriter struct {
	sc     *serverConn
	req    *http.Request
	body   *requestBody
	header http.Header // the handler's, live
	scheme string      // of the request, for pushes
	ctx    context.Context
	cancel context.CancelFunc

	st          atomic.Pointer[stream.Stream]
	handlerDone atomic.Bool // the handler returned or panicked

	// Push bookkeeping: the response this push belongs to, and the
	// pushes of this response, reset if the client resets this one.
	parent   *responseWriter
	isPush   bool
	gone     atomic.Bool // the parent was reset: this push must stop
	pushMu   sync.Mutex
	children map[*responseWriter]struct{}
	stopped  bool // no more pushes (reset, session ended)

	dlMu sync.Mutex
	wdl  time.Time // write deadline, for a push whose stream is not open yet

	mu          sync.Mutex // guards the fields below; held across stream writes
	push        *pushState // until the pushed stream is open
	bw          *bufio.Writer
	hdr         http.Header // snapshot of header at WriteHeader
	code        int
	wroteHeader bool
	sentHeader  bool
	isHead      bool
	bodyAllowed bool
	written     int64
	declaredCL  int64
	trailers    []string // declared with the Trailer header
	sniff       []byte   // the first bytes written, to sniff the content type
	stallDL     stallDeadline
	err         error
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.handlerDone.Load() {
		return
	}
	w.writeHeaderLocked(code)
}

func (w *responseWriter) writeHeaderLocked(code int) {
	if w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("httpadapter: invalid WriteHeader code %v", code))
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		return // informational responses are not sent over SPDY
	}
	w.wroteHeader = true
	w.code = code
	w.hdr = w.header.Clone()
	w.isHead = w.req.Method == http.MethodHead
	w.bodyAllowed = code != http.StatusNoContent && code != http.StatusNotModified
	w.declaredCL = -1
	if cl := w.hdr.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64); err == nil && n >= 0 {
			w.declaredCL = n
		} else {
			delete(w.hdr, "Content-Length") // as net/http: an invalid one is not sent
		}
	}
	for _, k := range w.hdr.Values("Trailer") {
		for _, t := range strings.Split(k, ",") {
			if t = strings.TrimSpace(t); t != "" {
				w.trailers = append(w.trailers, http.CanonicalHeaderKey(t))
			}
		}
	}
}

// sendHeaderLocked sends the response headers: SYN_REPLY, or the pushed
// stream's SYN_STREAM. fin ends the stream with them.
func (w *responseWriter) sendHeaderLocked(fin bool) error {
	if w.sentHeader {
		return w.err
	}
	w.sentHeader = true
	if !w.wroteHeader {
		w.writeHeaderLocked(http.StatusOK)
	}
	if _, ok := w.hdr["Content-Type"]; !ok && w.bodyAllowed && len(w.sniff) > 0 {
		// Sniff like net/http from what the handler wrote first.
		w.hdr.Set("Content-Type", http.DetectContentType(w.sniff))
	}
	w.sniff = nil
	if _, ok := w.hdr["Date"]; !ok {
		w.hdr.Set("Date", httpDate())
	}
	if fin && w.bodyAllowed && !w.isHead && !w.hasTrailers() {
		if _, ok := w.hdr["Content-Length"]; !ok {
			w.hdr.Set("Content-Length", "0")
		}
	}
	v := w.sc.sess.Version()
	fields := responseFields(w.code, w.hdr, v)
	if ps := w.push; ps != nil {
		w.push = nil
		err := errPushGone
		var st *stream.Stream
		if !w.gone.Load() {
			all := append(append([]hpackz.Field(nil), ps.fields...), fields...)
			st, err = w.sc.sess.Push(w.req.Context(), ps.parent, dedupe(all), ps.priority)
		}
		ps.result <- err
		if err != nil {
			w.err = err
			return err
		}
		w.dlMu.Lock()
		w.st.Store(st)
		dl := w.wdl
		w.dlMu.Unlock()
		if !dl.IsZero() {
			st.SetWriteDeadline(dl)
		}
		close(ps.started)
		if w.gone.Load() {
			st.Reset(framing.StatusCancel) // the parent was reset meanwhile
		}
		if fin {
			st.CloseWrite()
		}
		return nil
	}
	st := w.st.Load()
	err := st.Reply(fields, fin)
	if errors.Is(err, stream.ErrReplyNotAllowed) {
		// The session replied already (no ManualReply): the headers go in
		// a HEADERS frame.
		err = st.SendHeaders(fields, fin)
	}
	if err != nil {
		w.err = err
		return err
	}
	return nil
}

// errPushGone is the error of a push whose request was reset.
var errPushGone = errors.New("httpadapter: the pushing request was reset")

func (w *responseWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.handlerDone.Load() {
		return 0, errors.New("httpadapter: write after handler returned")
	}
	if !w.wroteHeader {
		w.writeHeaderLocked(http.StatusOK)
	}
	if !w.bodyAllowed {
		return 0, http.ErrBodyNotAllowed
	}
	if w.declaredCL >= 0 && w.written+int64(len(p)) > w.declaredCL {
		return 0, http.ErrContentLength
	}
	if _, typed := w.hdr["Content-Type"]; !typed && !w.sentHeader && len(w.sniff) < 512 {
		w.sniff = append(w.sniff, p[:min(len(p), 512-len(w.sniff))]...)
	}
	if w.isHead {
		w.written += int64(len(p))
		return len(p), nil // HEAD: counted, not sent
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.bw == nil {
		w.bw = w.sc.srv.getBuffer(writerFunc(w.writeStream))
	}
	if !w.sentHeader && w.bw.Available() < len(p) {
		// The first bytes fill the buffer before the headers go, so
		// that the content type can be sniffed.
		n, _ := w.bw.Write(p[:w.bw.Available()])
		w.written += int64(n)
		if err := w.sendHeaderLocked(false); err != nil {
			return n, err
		}
		m, err := w.bw.Write(p[n:])
		w.written += int64(m)
		return n + m, w.wrapErr(err)
	}
	n, err := w.bw.Write(p)
	w.written += int64(n)
	return n, w.wrapErr(err)
}

// writeStream is what the buffer flushes into: the headers first, then
// DATA on the stream.
func (w *responseWriter) writeStream(p []byte) (int, error) {
	if !w.sentHeader {
		if err := w.sendHeaderLocked(false); err != nil {
			return 0, err
		}
	}
	st := w.st.Load()
	if st == nil {
		if w.err != nil {
			return 0, w.err
		}
		return 0, errPushGone
	}
	d := w.sc.srv.stallTimeout()
	if d <= 0 {
		return st.Write(p)
	}
	n := 0
	for n < len(p) {
		w.armStall(st, d)
		m, err := st.Write(p[n : n+min(len(p)-n, stallChunk)])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// armStall moves the stream's write deadline to d from now, unless the
// handler set a deadline of its own (see stallDeadline.move for how often
// it moves).
func (w *responseWriter) armStall(st *stream.Stream, d time.Duration) {
	w.dlMu.Lock()
	own := !w.wdl.IsZero()
	w.dlMu.Unlock()
	if own {
		return
	}
	if at, ok := w.stallDL.move(d); ok {
		st.SetWriteDeadline(at)
	}
}

func (w *responseWriter) wrapErr(err error) error {
	if err != nil && w.err == nil {
		w.err = err
	}
	return err
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Flush sends the headers and what was written so far.
func (w *responseWriter) Flush() { w.FlushError() }

// FlushError is Flush that reports an error, for http.ResponseController.
func (w *responseWriter) FlushError() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.handlerDone.Load() {
		return nil
	}
	if err := w.sendHeaderLocked(false); err != nil {
		return err
	}
	if w.bw != nil {
		return w.bw.Flush()
	}
	return nil
}

// SetReadDeadline sets the deadline for reading the request body, for
// http.ResponseController. A Read past it fails with an error matching
// os.ErrDeadlineExceeded; a later deadline lets reading go on.
func (w *responseWriter) SetReadDeadline(t time.Time) error {
	if w.body == nil {
		return nil
	}
	w.body.own.Store(true)
	return w.body.st.SetReadDeadline(t)
}

// SetWriteDeadline sets the deadline for writing the response, for
// http.ResponseController. A Write past it fails with an error matching
// os.ErrDeadlineExceeded, and the response is then reset when the handler
// returns, since its body is incomplete.
func (w *responseWriter) SetWriteDeadline(t time.Time) error {
	w.dlMu.Lock()
	w.wdl = t
	st := w.st.Load()
	w.dlMu.Unlock()
	if st == nil {
		return nil
	}
	return st.SetWriteDeadline(t)
}

// EnableFullDuplex does nothing: a SPDY stream always carries the request
// body and the response at the same time.
func (w *responseWriter) EnableFullDuplex() error { return nil }

// Push pushes the resource target (an absolute path, or a URL of this
// origin) to the client: the handler runs for a GET (or HEAD) of it, with
// the request's headers and opts.Header, and its response goes out on a
// new stream associated to this one, the request and response headers
// together in its SYN_STREAM. Push returns once the pushed response's
// headers are sent, so that the pushing response can refer to it.
//
// It returns http.ErrNotSupported on a pushed response, and when the
// client takes no pushes: it allows no streams toward it
// (MAX_CONCURRENT_STREAMS 0), or it refused an earlier push of the session
// (RST_STREAM CANCEL or REFUSED_STREAM), which is taken to mean that it
// refuses pushes.
func (w *responseWriter) Push(target string, opts *http.PushOptions) error {
	st := w.st.Load()
	if w.isPush || st == nil || st.Local() {
		return http.ErrNotSupported
	}
	if w.handlerDone.Load() {
		return errors.New("httpadapter: push after handler returned")
	}
	if w.sc.pushDisabled() {
		return http.ErrNotSupported
	}
	if opts == nil {
		opts = &http.PushOptions{}
	}
	method := opts.Method
	if method == "" {
		method = http.MethodGet
	}
	if method != http.MethodGet && method != http.MethodHead {
		return fmt.Errorf("httpadapter: push method %q is not GET or HEAD", method)
	}
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("httpadapter: push target: %w", err)
	}
	if u.Scheme == "" && u.Host == "" {
		if !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") {
			return errors.New("httpadapter: push target must be an absolute path or URL")
		}
		u.Scheme = w.scheme
		u.Host = w.req.Host
	} else if u.Scheme != w.scheme || u.Host != w.req.Host {
		return errors.New("httpadapter: push target is not of the request's origin")
	}
	if u.Path == "" {
		u.Path = "/"
	}
	v := w.sc.sess.Version()
	n := namesFor(v)
	path := u.RequestURI()
	fields := []hpackz.Field{
		{Name: n.host, Value: u.Host},
		{Name: n.method, Value: method},
		{Name: n.path, Value: path},
		{Name: n.scheme, Value: u.Scheme},
	}
	if v == session.V2 {
		fields[0].Name = "host"
		fields[2].Value = u.String() // SPDY/2 pushes carry the full URL
	}
	preq := &http.Request{
		Method:     method,
		URL:        &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header),
		Host:       u.Host,
		RequestURI: path,
	}
	for k, vv := range w.req.Header { // a push inherits the request's headers
		switch k {
		case "Content-Length", "Content-Type", "Trailer", "Expect", "Content-Encoding":
		default:
			preq.Header[k] = vv
		}
	}
	for k, vv := range opts.Header {
		preq.Header[k] = vv
	}
	ps := &pushState{
		parent:   st.ID(),
		fields:   fields,
		priority: min(st.Priority()+1, maxPriority(v)),
		result:   make(chan error, 1),
		started:  make(chan struct{}),
	}
	child := w.sc.newWriter(preq, u.Scheme)
	child.parent, child.isPush, child.push = w, true, ps
	w.pushMu.Lock()
	if w.stopped {
		w.pushMu.Unlock()
		return errPushGone
	}
	if w.children == nil {
		w.children = make(map[*responseWriter]struct{})
	}
	w.children[child] = struct{}{}
	w.pushMu.Unlock()
	w.sc.srv.wg.Add(1) // this handler's count keeps the group above zero
	go func() {
		defer w.sc.srv.wg.Done()
		w.sc.run(child)
	}()
	select {
	case err := <-ps.result:
		if errors.Is(err, session.ErrPushNotAllowed) {
			return http.ErrNotSupported
		}
		return err
	case <-w.req.Context().Done():
		return w.req.Context().Err()
	}
}

func maxPriority(v session.Version) uint8 {
	if v == session.V2 {
		return 3
	}
	return 7
}

// watch cancels the request's context when its stream ends before the
// handler returned (a reset, or the end of the session), and stops the
// pushes of a reset request. It returns when ctx ends.
// started is closed when the stream of a push opens.
func (w *responseWriter) watch(ctx context.Context, started <-chan struct{}) {
	var stDone <-chan struct{}
	if st := w.st.Load(); st != nil {
		stDone = st.Done()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.sc.sess.Done():
			w.streamEnded()
			return
		case <-started:
			started = nil
			stDone = w.st.Load().Done()
		case <-stDone:
			w.streamEnded()
			return
		}
	}
}

// streamEnded handles the end of the stream (or session) while the
// handler may still run.
func (w *responseWriter) streamEnded() {
	if w.handlerDone.Load() {
		return
	}
	if st := w.st.Load(); st != nil && w.isPush {
		// A write of nothing reports why the stream ended.
		_, err := st.Write(nil)
		var re *stream.ResetError
		if errors.As(err, &re) && re.Remote && (re.Status == framing.StatusCancel || re.Status == framing.StatusRefusedStream) {
			w.sc.pushRefused.Store(true)
		}
	}
	w.cancel()
	w.stopPushes()
}

// stopPushes refuses new pushes of w and stops those in progress.
func (w *responseWriter) stopPushes() {
	w.pushMu.Lock()
	w.stopped = true
	children := make([]*responseWriter, 0, len(w.children))
	for c := range w.children {
		children = append(children, c)
	}
	w.pushMu.Unlock()
	for _, c := range children {
		c.gone.Store(true)
		c.cancel()
		if st := c.st.Load(); st != nil {
			st.Reset(framing.StatusCancel)
		}
	}
}

// detach removes a finished push from its parent.
func (w *responseWriter) detach() {
	if p := w.parent; p != nil {
		p.pushMu.Lock()
		delete(p.children, w)
		p.pushMu.Unlock()
	}
}

// finish completes the response after the handler returned.
func (w *responseWriter) finish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.handlerDone.Swap(true) {
		return
	}
	defer w.detach()
	defer w.releaseBuffer()
	if !w.wroteHeader {
		w.writeHeaderLocked(http.StatusOK)
	}
	if !w.sentHeader {
		buffered := 0
		if w.bw != nil {
			buffered = w.bw.Buffered()
		}
		trailers := w.hasTrailers()
		if trailers && buffered == 0 {
			// A HEADERS frame that follows the reply without DATA between
			// extends the headers, so the client could not tell trailers
			// of an empty body from headers: they go with the headers.
			for k, vv := range w.trailerHeader() {
				w.hdr[k] = vv
			}
			trailers = false
		}
		if _, ok := w.hdr["Content-Length"]; !ok && !trailers && w.bodyAllowed {
			// The whole body is known: announce its length.
			if w.isHead && w.written > 0 && w.written <= int64(w.sc.srv.bufferSize()) {
				w.hdr.Set("Content-Length", strconv.FormatInt(w.written, 10))
			} else if buffered > 0 {
				w.hdr.Set("Content-Length", strconv.Itoa(buffered))
			}
		}
		fin := buffered == 0 && !trailers
		if err := w.sendHeaderLocked(fin); err != nil {
			w.failStream()
			return
		}
		if fin {
			w.closeStream()
			return
		}
	}
	if w.err != nil {
		// A write failed (a deadline, a reset): the body is incomplete.
		w.failStream()
		return
	}
	if w.bw != nil {
		if err := w.bw.Flush(); err != nil {
			w.failStream()
			return
		}
	}
	st := w.st.Load()
	if st == nil {
		return
	}
	if w.declaredCL >= 0 && w.written < w.declaredCL && w.bodyAllowed && !w.isHead {
		// The handler wrote less than it announced: the response is
		// truncated, which the client must see as an error.
		w.failStream()
		return
	}
	if tr := w.trailerHeader(); len(tr) > 0 {
		if err := st.SendHeaders(trailerFields(tr, w.sc.sess.Version()), true); err != nil {
			w.failStream()
			return
		}
	} else if err := st.CloseWrite(); err != nil {
		w.failStream()
		return
	}
	w.closeStream()
}

// cachedDate is a Date header value and the second it names.
type cachedDate struct {
	sec   int64
	value string
}

var lastDate atomic.Pointer[cachedDate]

// httpDate returns the Date header value of now, formatted once a second.
func httpDate() string {
	now := time.Now()
	if d := lastDate.Load(); d != nil && d.sec == now.Unix() {
		return d.value
	}
	d := &cachedDate{sec: now.Unix(), value: now.UTC().Format(http.TimeFormat)}
	lastDate.Store(d)
	return d.value
}

// getBuffer returns a response buffer of bufferSize writing to wr, reused
// from an earlier response when there is one.
func (s *Server) getBuffer(wr io.Writer) *bufio.Writer {
	size := s.bufferSize()
	if bw, ok := s.bufs.Get().(*bufio.Writer); ok && bw.Size() == size {
		bw.Reset(wr)
		return bw
	}
	return bufio.NewWriterSize(wr, size)
}

// releaseBuffer gives the response's buffer back for reuse once the
// handler has returned and the buffer was flushed or failed: the stream
// holds no reference to it after its Write returned, and every other use
// of w.bw is under w.mu and stops at handlerDone.
func (w *responseWriter) releaseBuffer() {
	if w.bw != nil {
		w.bw.Reset(nil)
		w.sc.srv.bufs.Put(w.bw)
		w.bw = nil
	}
}

// failStream resets a response that cannot be completed, so that the
// client never takes it for a whole one.
func (w *responseWriter) failStream() {
	if st := w.st.Load(); st != nil {
		st.Reset(framing.StatusInternalError)
	}
}

// hasTrailers reports whether the response has trailers: declared with the
// Trailer header, or set with http.TrailerPrefix.
func (w *responseWriter) hasTrailers() bool {
	if len(w.trailers) > 0 {
		return true
	}
	for k := range w.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}

// trailerHeader collects the declared trailers and those set with
// http.TrailerPrefix.
func (w *responseWriter) trailerHeader() http.Header {
	var tr http.Header
	add := func(k string, vv []string) {
		if len(vv) == 0 {
			return
		}
		if tr == nil {
			tr = make(http.Header)
		}
		k = http.CanonicalHeaderKey(k)
		tr[k] = append(tr[k], vv...)
	}
	for _, k := range w.trailers {
		add(k, w.header[k])
	}
	for k, vv := range w.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			add(strings.TrimPrefix(k, http.TrailerPrefix), vv)
		}
	}
	return tr
}

// closeStream releases the stream: a request body the handler did not
// read makes Close tell the client to stop sending.
func (w *responseWriter) closeStream() {
	if st := w.st.Load(); st != nil {
		st.Close()
	}
}

// abort ends the stream after a handler panic.
func (w *responseWriter) abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.handlerDone.Store(true)
	defer w.detach()
	if ps := w.push; ps != nil {
		w.push = nil
		ps.result <- errors.New("httpadapter: pushed handler panicked")
		return
	}
	if st := w.st.Load(); st != nil {
		st.Reset(framing.StatusInternalError)
	}
}

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
	_ http.Pusher         = (*responseWriter)(nil)
)
