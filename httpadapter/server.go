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
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
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
	Session *session.Config
	// BaseContext, if set, returns the base context of requests on a
	// session; nil means context.Background().
	BaseContext func(*session.Session) context.Context
	// Logger receives errors of handlers and sessions; nil means none.
	Logger *slog.Logger
	// WriteBufferSize is the size of the buffer between a handler's
	// Writes and the stream, so that small writes make full DATA frames.
	// Flush empties it. Default 16 KiB.
	WriteBufferSize int

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*session.Session]struct{}
	shutdown  bool
	wg        sync.WaitGroup
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
	// *tls.Conn it is filled in automatically.
	TLS *tls.ConnectionState
	// Context is the base context of the session's requests.
	Context context.Context
}

func (s *Server) sessionConfig(v session.Version) *session.Config {
	var c session.Config
	if s.Session != nil {
		c = *s.Session
	}
	c.ManualReply = true
	if v != 0 {
		c.Version = v
	}
	return &c
}

// ServeConn runs a server session on conn and serves its requests until
// the session ends. It returns the session's error, nil for a session
// closed by Shutdown or by the peer's GOAWAY.
func (s *Server) ServeConn(conn net.Conn, opts *ServeConnOpts) error {
	var o ServeConnOpts
	if opts != nil {
		o = *opts
	}
	if o.TLS == nil {
		if tc, ok := conn.(*tls.Conn); ok {
			st := tc.ConnectionState()
			o.TLS = &st
		}
	}
	sess, err := session.New(conn, session.Server, s.sessionConfig(o.Version))
	if err != nil {
		conn.Close()
		return err
	}
	return s.serveSession(sess, &o)
}

// ServeSession serves the requests of a server session created by the
// caller (for example after an HTTP/1.1 Upgrade). The session should have
// Config.ManualReply set, so that replies carry the response headers.
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
	sc := &serverConn{srv: s, sess: sess, tls: o.TLS, base: ctx, names: namesFor(sess.Version())}
	for {
		st, err := sess.Accept(context.Background())
		if err != nil {
			break
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
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
	return true
}

func (s *Server) untrack(sess *session.Session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
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
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.ServeConn(c, nil); err != nil && s.Logger != nil {
				s.Logger.Debug("session ended", "remote", c.RemoteAddr(), "err", err)
			}
		}()
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

// Shutdown stops the server gracefully: it closes the listeners, sends
// GOAWAY on every session, and waits until their streams have finished
// and the handlers returned, or ctx ends (then it closes what is left and
// returns ctx's error).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	for ln := range s.listeners {
		ln.Close()
	}
	sessions := make([]*session.Session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
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

// Close closes the listeners and every session at once.
func (s *Server) Close() error {
	s.mu.Lock()
	s.shutdown = true
	for ln := range s.listeners {
		ln.Close()
	}
	sessions := make([]*session.Session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		sess.Close()
	}
	return nil
}

// serverConn is one session being served.
type serverConn struct {
	srv   *Server
	sess  *session.Session
	tls   *tls.ConnectionState
	base  context.Context
	names *names
}

func (sc *serverConn) handler() http.Handler {
	if sc.srv.Handler != nil {
		return sc.srv.Handler
	}
	return http.DefaultServeMux
}

// serveStream runs the handler for one stream.
func (sc *serverConn) serveStream(st *stream.Stream) {
	if st.AssociatedTo() != 0 && !st.Local() {
		st.Reset(framing.StatusRefusedStream) // a client cannot push
		return
	}
	req, err := parseRequest(st.Headers(), sc.sess.Version())
	if err != nil {
		sc.badRequest(st, err)
		return
	}
	sc.run(st, req, nil)
}

func (sc *serverConn) badRequest(st *stream.Stream, err error) {
	h := http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
	body := "400 Bad Request: " + strings.TrimPrefix(err.Error(), "httpadapter: bad request: ") + "\n"
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if st.Reply(responseFields(http.StatusBadRequest, h, sc.sess.Version()), false) == nil {
		st.Write([]byte(body))
	}
	st.Close()
}

// run serves req on st; push is set for a pushed response, whose headers
// go in a SYN_STREAM instead of a SYN_REPLY.
func (sc *serverConn) run(st *stream.Stream, req *http.Request, push *pushState) {
	ctx, cancel := context.WithCancel(sc.base)
	defer cancel()
	if st != nil {
		go func() {
			select {
			case <-st.Done():
				if !sc.streamFinishedCleanly(st) {
					cancel()
				}
			case <-ctx.Done():
			}
		}()
	}
	req.RemoteAddr = sc.sess.RemoteAddr().String()
	req.TLS = sc.tls
	if req.URL.Scheme == "" {
		if sc.tls != nil {
			req.URL.Scheme = "https"
		} else {
			req.URL.Scheme = "http"
		}
	}
	if req.URL.Host == "" {
		req.URL.Host = req.Host
	}
	rw := &responseWriter{sc: sc, st: st, req: req, header: make(http.Header), push: push}
	if push == nil {
		body := &requestBody{st: st, remaining: req.ContentLength}
		if fin := streamRecvDone(st); fin {
			req.Body = http.NoBody
			if req.ContentLength < 0 {
				req.ContentLength = 0
			}
		} else {
			req.Body = body
		}
		rw.body = body
	} else {
		req.Body = http.NoBody
	}
	req = req.WithContext(ctx)
	rw.req = req
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler && sc.srv.Logger != nil {
				sc.srv.Logger.Error("handler panic", "path", req.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
			rw.abort()
			return
		}
		rw.finish()
	}()
	sc.handler().ServeHTTP(rw, req)
}

// streamFinishedCleanly reports whether st ended without a reset, after
// which the request context need not be cancelled early.
func (sc *serverConn) streamFinishedCleanly(st *stream.Stream) bool {
	_, err := st.Read(nil)
	var re *stream.ResetError
	return !errors.As(err, &re) && sc.sess.Err() == nil
}

// streamRecvDone reports whether the client sent FIN with its SYN_STREAM
// (a request without a body). A Read of nothing does not block.
func streamRecvDone(st *stream.Stream) bool {
	_, err := st.Read(nil)
	return err == io.EOF
}

// requestBody is the body of a request: the stream's DATA, checked
// against content-length.
type requestBody struct {
	st        *stream.Stream
	remaining int64 // -1 when unknown
	read      int64
	eof       bool
	err       error
	mu        sync.Mutex
}

func (b *requestBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.st.Read(p)
	b.read += int64(n)
	if b.remaining >= 0 && b.read > b.remaining {
		b.err = errors.New("httpadapter: request body longer than its content-length")
		b.st.Reset(framing.StatusProtocolError)
		return n, b.err
	}
	if err == io.EOF {
		b.eof = true
		if b.remaining >= 0 && b.read < b.remaining {
			b.err = io.ErrUnexpectedEOF
			return n, b.err
		}
		b.err = io.EOF
	} else if err != nil {
		b.err = fmt.Errorf("httpadapter: request body: %w", err)
		return n, b.err
	}
	return n, err
}

func (b *requestBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		b.err = errors.New("httpadapter: read of closed request body")
	}
	return nil
}

// pushState carries a pushed response's SYN_STREAM fields until its
// headers are known.
type pushState struct {
	parent   framing.StreamID
	fields   []hpackz.Field // :scheme, :host, :path, :method
	priority uint8
	started  chan error // receives the outcome of opening the stream
}

// responseWriter is the http.ResponseWriter of one stream.
type responseWriter struct {
	sc          *serverConn
	st          *stream.Stream
	req         *http.Request
	body        *requestBody
	header      http.Header
	push        *pushState
	bw          *bufio.Writer
	code        int
	wroteHeader bool
	sentHeader  bool
	noBody      bool
	written     int64
	declaredCL  int64
	trailers    []string
	sniff       []byte // the first bytes written, to sniff the content type
	err         error
	finished    bool
	mu          sync.Mutex
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writeHeaderLocked(code)
}

func (w *responseWriter) writeHeaderLocked(code int) {
	if w.wroteHeader || w.finished {
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
	w.noBody = w.req.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified
	w.declaredCL = -1
	if cl := w.header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.declaredCL = n
		}
	}
	for _, k := range w.header.Values("Trailer") {
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
	if w.header.Get("Content-Type") == "" && !w.noBody && w.bw != nil && w.bw.Buffered() > 0 {
		// Sniff like net/http from what the handler wrote first.
		w.header.Set("Content-Type", http.DetectContentType(w.peekBuffered()))
	}
	if w.header.Get("Date") == "" {
		w.header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	if fin && !w.noBody && w.header.Get("Content-Length") == "" && len(w.trailers) == 0 && w.code != http.StatusNoContent && w.code != http.StatusNotModified {
		w.header.Set("Content-Length", "0")
	}
	v := w.sc.sess.Version()
	fields := responseFields(w.code, w.header, v)
	if w.push != nil {
		all := append(append([]hpackz.Field(nil), w.push.fields...), fields...)
		st, err := w.sc.sess.Push(context.Background(), w.push.parent, dedupe(all), w.push.priority)
		w.push.started <- err
		w.push = nil
		if err != nil {
			w.err = err
			return err
		}
		w.st = st
		if fin {
			st.CloseWrite()
		}
		return nil
	}
	if err := w.st.Reply(fields, fin); err != nil {
		w.err = err
		return err
	}
	return nil
}

// peekBuffered returns the first bytes written, up to 512.
func (w *responseWriter) peekBuffered() []byte { return w.sniff }

func (w *responseWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finished {
		return 0, errors.New("httpadapter: write after handler returned")
	}
	if !w.wroteHeader {
		w.writeHeaderLocked(http.StatusOK)
	}
	if w.noBody {
		if w.req.Method == http.MethodHead {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if w.declaredCL >= 0 && w.written+int64(len(p)) > w.declaredCL {
		return 0, http.ErrContentLength
	}
	if w.err != nil {
		return 0, w.err
	}
	if !w.sentHeader && len(w.sniff) < 512 {
		w.sniff = append(w.sniff, p[:min(len(p), 512-len(w.sniff))]...)
	}
	if w.bw == nil {
		size := w.sc.srv.WriteBufferSize
		if size <= 0 {
			size = 16 << 10
		}
		w.bw = bufio.NewWriterSize(writerFunc(w.writeStream), size)
	}
	if !w.sentHeader && w.bw.Available() < len(p) {
		// The first bytes fill the buffer before the headers go, so
		// that the content type can be sniffed.
		n, _ := w.bw.Write(p[:w.bw.Available()])
		if err := w.sendHeaderLocked(false); err != nil {
			return n, err
		}
		m, err := w.bw.Write(p[n:])
		w.written += int64(n + m)
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
	if w.st == nil {
		return 0, w.err
	}
	return w.st.Write(p)
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
	if w.finished {
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
// http.ResponseController.
func (w *responseWriter) SetReadDeadline(t time.Time) error {
	if w.body == nil {
		return nil
	}
	return w.body.st.SetReadDeadline(t)
}

// SetWriteDeadline sets the deadline for writing the response, for
// http.ResponseController.
func (w *responseWriter) SetWriteDeadline(t time.Time) error {
	w.mu.Lock()
	st := w.st
	w.mu.Unlock()
	if st == nil {
		return nil
	}
	return st.SetWriteDeadline(t)
}

// EnableFullDuplex does nothing: a SPDY stream always carries the request
// body and the response at the same time.
func (w *responseWriter) EnableFullDuplex() error { return nil }

// Push pushes the resource target (an absolute path, or a URL of this
// origin) to the client: the handler runs for a GET of it, and its
// response goes out on a new stream associated to this one. Push returns
// once the pushed stream is announced, so that the pushing response can
// refer to it. It returns http.ErrNotSupported on a pushed response and
// when the client refuses pushes.
func (w *responseWriter) Push(target string, opts *http.PushOptions) error {
	if w.push != nil || w.st == nil || w.st.Local() {
		return http.ErrNotSupported
	}
	w.mu.Lock()
	finished := w.finished
	w.mu.Unlock()
	if finished {
		return errors.New("httpadapter: push after handler returned")
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
	if u.Scheme == "" {
		if !strings.HasPrefix(target, "/") {
			return errors.New("httpadapter: push target must be an absolute path or URL")
		}
		u.Scheme = w.req.URL.Scheme
		u.Host = w.req.Host
	} else if u.Host != w.req.Host {
		return errors.New("httpadapter: push target is not of the request's origin")
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
		URL:        &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header),
		Host:       u.Host,
		RequestURI: path,
	}
	for k, vv := range w.req.Header { // a push inherits the request's headers
		if k != "Content-Length" && k != "Content-Type" {
			preq.Header[k] = vv
		}
	}
	for k, vv := range opts.Header {
		preq.Header[k] = vv
	}
	ps := &pushState{parent: w.st.ID(), fields: fields, priority: min(w.st.Priority()+1, maxPriority(v)), started: make(chan error, 1)}
	go w.sc.run(nil, preq, ps)
	if err := <-ps.started; err != nil {
		if errors.Is(err, session.ErrPushNotAllowed) {
			return http.ErrNotSupported
		}
		return err
	}
	return nil
}

func maxPriority(v session.Version) uint8 {
	if v == session.V2 {
		return 3
	}
	return 7
}

// finish completes the response after the handler returned.
func (w *responseWriter) finish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finished {
		return
	}
	if w.push != nil && !w.sentHeader {
		// A pushed handler that wrote nothing: announce it now.
		if w.bw == nil || w.bw.Buffered() == 0 {
			if err := w.sendHeaderLocked(true); err != nil || w.st == nil {
				w.finished = true
				return
			}
			w.finished = true
			w.st.Close()
			return
		}
	}
	w.finished = true
	hasBody := w.bw != nil && (w.bw.Buffered() > 0 || w.sentHeader)
	if !w.sentHeader {
		if w.bw != nil && w.bw.Buffered() > 0 && w.header.Get("Content-Length") == "" && len(w.trailers) == 0 {
			w.header.Set("Content-Length", strconv.Itoa(w.bw.Buffered()))
		}
		if err := w.sendHeaderLocked(!hasBody && len(w.trailers) == 0 && !w.hasTrailerPrefix()); err != nil {
			w.closeStream()
			return
		}
		if !hasBody && len(w.trailers) == 0 && !w.hasTrailerPrefix() {
			w.closeStream()
			return
		}
	}
	if w.bw != nil {
		if err := w.bw.Flush(); err != nil {
			w.closeStream()
			return
		}
	}
	if w.st == nil {
		return
	}
	if w.declaredCL >= 0 && w.written < w.declaredCL && !w.noBody {
		// The handler wrote less than it announced: the response is
		// truncated, which the client must see as an error.
		w.st.Reset(framing.StatusInternalError)
		return
	}
	if tr := w.trailerHeader(); len(tr) > 0 {
		w.st.SendHeaders(trailerFields(tr, w.sc.sess.Version()), true)
	} else {
		w.st.CloseWrite()
	}
	w.closeStream()
}

func (w *responseWriter) hasTrailerPrefix() bool {
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
		tr[http.CanonicalHeaderKey(k)] = vv
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
	if w.st != nil {
		w.st.Close()
	}
}

// abort ends the stream after a handler panic.
func (w *responseWriter) abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.finished = true
	if w.push != nil {
		w.push.started <- errors.New("httpadapter: pushed handler panicked")
		w.push = nil
		return
	}
	if w.st != nil {
		w.st.Reset(framing.StatusInternalError)
	}
}

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
	_ http.Pusher         = (*responseWriter)(nil)
)
