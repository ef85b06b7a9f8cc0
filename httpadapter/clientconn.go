package httpadapter

import (
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/session"
	"github.com/spdygo/spdy/stream"
)

// ClientConn is one client session carrying HTTP requests: an
// http.RoundTripper for the origin it is connected to. Transport makes
// them for its origins; Transport.NewClientConn makes one over a
// connection the caller has (for example one negotiated by
// http.Transport.TLSNextProto, or an HTTP/1.1 Upgrade). All methods are
// safe for concurrent use.
type ClientConn struct {
	t        *Transport
	sess     *session.Session
	version  session.Version
	names    *names
	tls      *tls.ConnectionState
	loopDone chan struct{}

	mu         sync.Mutex
	closing    bool                               // no new requests: going away, closed or ended
	active     int                                // requests, pushed responses and bodies in use
	parents    map[framing.StreamID]*http.Request // requests, for their pushes
	finished   []framing.StreamID                 // parents whose request ended, oldest first
	opening    int                                // Opens in progress
	registered chan struct{}                      // closed when an Open ends
}

// NewClientConn starts a client session of version v over c, which it owns
// from then on, and returns it as a ClientConn that takes requests for c's
// origin. v 0 means t.Version. A *tls.Conn's state is given to responses
// as resp.TLS. The Transport's settings (Session, PushHandler and the
// others that concern requests) apply, and its CloseIdleConnections closes
// the ClientConn when it is idle; the Transport does not send requests of
// its own origins on it.
func (t *Transport) NewClientConn(c net.Conn, v session.Version) (*ClientConn, error) {
	if v == 0 {
		v = t.version()
	}
	var state *tls.ConnectionState
	if cs, ok := c.(interface{ ConnectionState() tls.ConnectionState }); ok {
		st := cs.ConnectionState()
		state = &st
	}
	return t.newClientConn(c, v, state)
}

func (t *Transport) newClientConn(c net.Conn, v session.Version, state *tls.ConnectionState) (*ClientConn, error) {
	sess, err := session.New(c, session.Client, t.sessionConfig(v))
	if err != nil {
		c.Close()
		return nil, err
	}
	cc := &ClientConn{
		t:        t,
		sess:     sess,
		version:  sess.Version(),
		names:    namesFor(sess.Version()),
		tls:      state,
		loopDone: make(chan struct{}),
		parents:  make(map[framing.StreamID]*http.Request),
	}
	t.track(cc)
	go cc.acceptLoop()
	return cc, nil
}

// Session returns the session the ClientConn runs on.
func (cc *ClientConn) Session() *session.Session { return cc.sess }

// CanTakeNewRequest reports whether the session can start a new request:
// it has not received or sent GOAWAY (as far as the ClientConn has seen)
// and has not ended.
func (cc *ClientConn) CanTakeNewRequest() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return !cc.closing && cc.sess.Err() == nil
}

// Ping sends a PING on the session and returns the round-trip time.
func (cc *ClientConn) Ping(ctx context.Context) (time.Duration, error) {
	return cc.sess.Ping(ctx)
}

// Shutdown ends the session gracefully: it sends GOAWAY, lets the requests
// in progress finish and closes; if ctx ends first it closes at once and
// returns ctx's error.
func (cc *ClientConn) Shutdown(ctx context.Context) error {
	cc.markClosing()
	err := cc.sess.Shutdown(ctx)
	<-cc.loopDone
	return err
}

// Close ends the session at once: requests in progress fail and response
// bodies return errors.
func (cc *ClientConn) Close() error {
	cc.markClosing()
	cc.sess.Close()
	<-cc.loopDone
	return nil
}

func (cc *ClientConn) markClosing() {
	cc.mu.Lock()
	cc.closing = true
	cc.mu.Unlock()
}

// closeIfIdle marks an idle ClientConn closing and reports whether it did.
func (cc *ClientConn) closeIfIdle() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.active > 0 {
		return false
	}
	cc.closing = true
	return true
}

// reserve counts a new request, unless the session cannot take one.
func (cc *ClientConn) reserve() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.closing || cc.sess.Err() != nil {
		return false
	}
	cc.active++
	return true
}

// keptParents is how many finished requests a ClientConn remembers for
// the pushes that name them: a push announced before a response's end may
// be taken from the session after the response was read.
const keptParents = 64

func (cc *ClientConn) release(id framing.StreamID) {
	cc.mu.Lock()
	cc.active--
	if _, ok := cc.parents[id]; ok && id != 0 {
		cc.finished = append(cc.finished, id)
		if len(cc.finished) > keptParents {
			delete(cc.parents, cc.finished[0])
			cc.finished = append(cc.finished[:0], cc.finished[1:]...)
		}
	}
	cc.mu.Unlock()
}

// RoundTrip sends req on the session and returns the response once its
// headers have arrived. The body streams after: reading it to its end or
// closing it ends the request. It implements http.RoundTripper: req is not
// modified and its body is closed, also on errors. A request the session
// could not start returns an error matching ErrClientConnUnusable (and
// that net/http's Transport retries on a new connection).
func (cc *ClientConn) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, untouched, err := cc.roundTrip(req)
	if err != nil && untouched {
		closeRequestBody(req)
	}
	return resp, err
}

// roundTrip sends req, again on the same session when the server refuses
// the stream (REFUSED_STREAM) and the body can be sent again. untouched
// reports, with an error, that nothing was read from req.Body and that the
// caller still owns it.
func (cc *ClientConn) roundTrip(req *http.Request) (resp *http.Response, untouched bool, err error) {
	ctx := req.Context()
	cur := req
	for attempt := 0; ; attempt++ {
		resp, untouched, refused, err := cc.attempt(cur)
		if err == nil {
			resp.Request = req
			return resp, false, nil
		}
		if !refused || attempt >= maxRefusedRetries || ctx.Err() != nil {
			return nil, untouched, err
		}
		next, ok := rewindRequest(cur, untouched)
		if !ok {
			return nil, untouched, err
		}
		if attempt > 0 {
			delay := time.NewTimer(time.Duration(5<<attempt) * time.Millisecond)
			select {
			case <-delay.C:
			case <-ctx.Done():
				delay.Stop()
				if untouched {
					return nil, true, ctx.Err()
				}
				closeRequestBody(next)
				return nil, false, ctx.Err()
			}
		}
		cc.t.debug("retrying refused request", "err", err)
		cur = next
	}
}

// isSessionError reports whether an Open error comes from the session
// rather than from the request.
func (cc *ClientConn) isSessionError(err error) bool {
	return errors.Is(err, session.ErrGoingAway) || errors.Is(err, session.ErrClosed) ||
		errors.Is(err, session.ErrStreamIDsExhausted) || cc.sess.Err() != nil
}

// attempt sends req once.
func (cc *ClientConn) attempt(req *http.Request) (resp *http.Response, untouched, refused bool, err error) {
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, true, false, err
	}
	if req.URL == nil {
		return nil, true, false, errors.New("httpadapter: request has no URL")
	}
	if req.Body == nil && req.ContentLength > 0 {
		return nil, true, false, fmt.Errorf("httpadapter: request ContentLength %d with nil Body", req.ContentLength)
	}
	if !cc.reserve() {
		return nil, true, false, &connUnusableError{err: cc.sess.Err()}
	}
	fields, err := requestFields(req, cc.version)
	if err != nil {
		cc.release(0)
		return nil, true, false, err
	}
	gz := false
	if !cc.t.DisableCompression && req.Header.Get("Accept-Encoding") == "" && req.Header.Get("Range") == "" && req.Method != http.MethodHead {
		fields = append(fields, hpackz.Field{Name: "accept-encoding", Value: "gzip"})
		gz = true
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	fin := !hasBody && len(req.Trailer) == 0
	cc.mu.Lock()
	cc.opening++
	cc.mu.Unlock()
	st, err := cc.sess.Open(ctx, &session.OpenOptions{Headers: fields, Fin: fin})
	cc.mu.Lock()
	cc.opening--
	if err == nil {
		cc.parents[st.ID()] = req
	}
	if cc.registered != nil {
		close(cc.registered)
		cc.registered = nil
	}
	cc.mu.Unlock()
	if err != nil {
		cc.release(0)
		switch {
		case ctx.Err() != nil:
			return nil, true, false, ctx.Err()
		case cc.isSessionError(err):
			cc.markClosing()
			return nil, true, false, &connUnusableError{err: err}
		}
		return nil, true, false, fmt.Errorf("httpadapter: %w", err)
	}
	cs := &clientStream{cc: cc, st: st, ctx: ctx}
	if ctx.Done() != nil { // a context that can end resets the stream when it does
		cs.stopCancel = context.AfterFunc(ctx, func() { st.Reset(framing.StatusCancel) })
	}
	if !fin {
		cs.bw = &bodyWriter{cs: cs, done: make(chan struct{}), trailer: req.Trailer, cl: req.ContentLength}
		if hasBody {
			cs.bw.body = req.Body
		}
		go cs.bw.run()
	}
	wctx := ctx
	if d := cc.t.ResponseHeaderTimeout; d > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	hdr, err := st.WaitHeaders(wctx)
	if err != nil {
		untouched = cs.abort()
		var ga *session.GoAwayError
		switch {
		case ctx.Err() != nil:
			return nil, untouched, false, ctx.Err()
		case wctx.Err() != nil:
			return nil, untouched, false, errors.New("httpadapter: timeout awaiting response headers")
		case cs.bw.failure() != nil:
			return nil, untouched, false, cs.bw.failure()
		case errors.As(err, &ga) && ga.Unprocessed:
			cc.markClosing()
			return nil, untouched, false, &connUnusableError{err: err}
		case errors.Is(err, session.ErrNotProcessed):
			return nil, untouched, true, fmt.Errorf("httpadapter: request refused by the server: %w", err)
		}
		return nil, untouched, false, fmt.Errorf("httpadapter: %w", err)
	}
	resp, err = cs.response(hdr, req.Method, nil)
	if err != nil {
		st.Reset(framing.StatusProtocolError)
		return nil, cs.abort(), false, err
	}
	resp.Request = req
	if gz && resp.Body != http.NoBody && strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		resp.Header.Del("Content-Encoding")
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
		resp.Uncompressed = true
		resp.Body = &gzipBody{body: resp.Body.(*responseBody)}
	}
	return resp, false, false, nil
}

// clientStream is one stream of a ClientConn: a request and its response,
// or a pushed response.
type clientStream struct {
	cc         *ClientConn
	st         *stream.Stream
	ctx        context.Context // nil for a push
	stopCancel func() bool
	bw         *bodyWriter
	nhdr       int // the number of header fields the response was built from
	resp       *http.Response
	once       sync.Once
}

// response builds the response of the stream's headers; first holds bytes
// of the body already read.
func (cs *clientStream) response(fields []hpackz.Field, method string, first []byte) (*http.Response, error) {
	n := cs.cc.names
	if why := invalidField(fields); why != "" {
		return nil, errors.New("httpadapter: response with an " + why)
	}
	code, status, err := parseStatus(fields, cs.cc.version)
	if err != nil {
		return nil, err
	}
	ver, _ := field(fields, n.version)
	major, minor, ok := http.ParseHTTPVersion(ver)
	if !ok {
		ver, major, minor = "HTTP/1.1", 1, 1
	}
	h := make(http.Header, len(fields))
	toHeader(h, fields, n)
	resp := &http.Response{
		Status:        status,
		StatusCode:    code,
		Proto:         ver,
		ProtoMajor:    major,
		ProtoMinor:    minor,
		Header:        h,
		ContentLength: -1,
		TLS:           cs.cc.tls,
	}
	if vv := h["Trailer"]; len(vv) > 0 {
		resp.Trailer = declaredTrailers(vv)
		delete(h, "Trailer")
	}
	if cl := h.Get("Content-Length"); cl != "" {
		if v, err := strconv.ParseInt(cl, 10, 64); err == nil && v >= 0 {
			resp.ContentLength = v
		}
	}
	cs.nhdr = len(fields)
	cs.resp = resp
	noBody := method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified || code < 200
	if noBody {
		if method != http.MethodHead {
			resp.ContentLength = 0
		}
		resp.Body = http.NoBody
		cs.finish()
		return resp, nil
	}
	resp.Body = &responseBody{cs: cs, prefix: first}
	return resp, nil
}

// finish ends a stream whose response is complete.
func (cs *clientStream) finish() {
	cs.once.Do(func() {
		if cs.stopCancel != nil {
			cs.stopCancel()
		}
		cs.st.Close()
		cs.bw.abort()
		cs.cc.release(cs.st.ID())
	})
}

// abort ends a stream whose response will not be read, with RST_STREAM
// CANCEL. It reports whether the request body was never read.
func (cs *clientStream) abort() (untouched bool) {
	untouched = true
	cs.once.Do(func() {
		if cs.stopCancel != nil {
			cs.stopCancel()
		}
		cs.st.Reset(framing.StatusCancel)
		untouched = cs.bw.abort()
		cs.cc.release(cs.st.ID())
	})
	return untouched
}

// collectTrailers fills the response's trailers once the body has ended:
// HEADERS frames after DATA, and those that arrived after the response
// was built but before any DATA.
func (cs *clientStream) collectTrailers() {
	fields := cs.st.Headers()
	var extra []hpackz.Field
	if len(fields) > cs.nhdr {
		extra = append(extra, fields[cs.nhdr:]...)
	}
	extra = append(extra, cs.st.Trailers()...)
	if len(extra) == 0 {
		return
	}
	if cs.resp.Trailer == nil {
		cs.resp.Trailer = make(http.Header)
	}
	toHeader(cs.resp.Trailer, extra, cs.cc.names)
	for k, vv := range cs.resp.Trailer {
		if vv == nil {
			delete(cs.resp.Trailer, k) // announced but not sent
		}
	}
}

// readError turns the error of a stream read into the body's error.
func (cs *clientStream) readError(err error) error {
	if cs.ctx != nil && cs.ctx.Err() != nil {
		return cs.ctx.Err()
	}
	if cs.bw != nil {
		if berr := cs.bw.failure(); berr != nil {
			return berr
		}
	}
	return fmt.Errorf("httpadapter: response body: %w", err)
}

var errBodyClosed = errors.New("httpadapter: read on closed response body")

// responseBody is the body of a response: the stream's DATA.
type responseBody struct {
	cs     *clientStream
	prefix []byte // bytes read before the response was built

	mu     sync.Mutex
	err    error // io.EOF, errBodyClosed or the error that ended the body
	closed bool
}

func (b *responseBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.err != nil {
		err := b.err
		b.mu.Unlock()
		return 0, err
	}
	if len(b.prefix) > 0 {
		n := copy(p, b.prefix)
		b.prefix = b.prefix[n:]
		b.mu.Unlock()
		return n, nil
	}
	b.mu.Unlock()
	n, err := b.cs.st.Read(p)
	if err == nil {
		return n, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil { // closed meanwhile
		return n, b.err
	}
	if err == io.EOF {
		b.cs.collectTrailers()
		b.err = io.EOF
		b.cs.finish()
		return n, io.EOF
	}
	b.err = b.cs.readError(err)
	b.cs.abort()
	return n, b.err
}

// ready reports whether a Read would return at once.
func (b *responseBody) ready() bool {
	b.mu.Lock()
	if b.err != nil || len(b.prefix) > 0 {
		b.mu.Unlock()
		return true
	}
	b.mu.Unlock()
	return b.cs.st.Ready()
}

// Close ends the body. Before its end, it resets the stream with CANCEL so
// that the server stops sending.
func (b *responseBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if b.err == nil {
		b.cs.abort()
	}
	b.err = errBodyClosed
	return nil
}

// gzipBody decompresses a gzip response that the Transport asked for.
type gzipBody struct {
	body *responseBody
	zr   *gzip.Reader
	err  error
}

func (g *gzipBody) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.zr == nil {
		zr, err := gzip.NewReader(g.body)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			g.err = err
			return 0, err
		}
		g.zr = zr
	}
	n, err := g.zr.Read(p)
	if err != nil {
		g.err = err
	}
	return n, err
}

func (g *gzipBody) Close() error { return g.body.Close() }

// bodyWriter copies a request body (and trailers) to the stream.
type bodyWriter struct {
	cs      *clientStream
	body    io.ReadCloser // nil for trailers without a body
	trailer http.Header
	cl      int64 // the request's ContentLength; 0 means unknown
	done    chan struct{}

	mu        sync.Mutex
	started   bool
	stopped   bool
	err       error // the body's failure, which reset the stream
	closeOnce sync.Once
}

var bodyBufPool = sync.Pool{New: func() any { b := make([]byte, defaultRequestBodyChunk); return &b }}

// errStreamEnded stops a copy whose stream can take no more data.
var errStreamEnded = errors.New("stream ended")

func (w *bodyWriter) run() {
	defer close(w.done)
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.started = true
	w.mu.Unlock()
	defer w.closeBody()
	st := w.cs.st
	if err := w.copy(); err != nil {
		if err != errStreamEnded {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			st.Reset(framing.StatusCancel)
		}
		return
	}
	if len(w.trailer) > 0 {
		if tf := trailerFields(w.trailer, w.cs.cc.version); len(tf) > 0 {
			st.SendHeaders(tf, true)
			return
		}
	}
	st.CloseWrite()
}

func (w *bodyWriter) copy() error {
	if w.body == nil {
		return nil
	}
	bp := bodyBufPool.Get().(*[]byte)
	defer bodyBufPool.Put(bp)
	buf := *bp
	var written int64
	for {
		n, rerr := w.body.Read(buf)
		if n > 0 {
			written += int64(n)
			if w.cl > 0 && written > w.cl {
				return fmt.Errorf("httpadapter: request body longer than its ContentLength %d", w.cl)
			}
			if _, err := w.cs.st.Write(buf[:n]); err != nil {
				return errStreamEnded
			}
		}
		if rerr == io.EOF {
			if w.cl > 0 && written != w.cl {
				return fmt.Errorf("httpadapter: request body of %d bytes shorter than its ContentLength %d", written, w.cl)
			}
			return nil
		}
		if rerr != nil {
			if w.stoppedNow() {
				return errStreamEnded
			}
			return fmt.Errorf("httpadapter: reading request body: %w", rerr)
		}
	}
}

func (w *bodyWriter) stoppedNow() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopped
}

func (w *bodyWriter) closeBody() {
	w.closeOnce.Do(func() {
		if w.body != nil {
			w.body.Close()
		}
	})
}

// abort stops the copy: a body not read yet is left to the caller (it
// reports true), one being read is closed so that a blocked Read returns.
func (w *bodyWriter) abort() (untouched bool) {
	if w == nil {
		return true
	}
	w.mu.Lock()
	w.stopped = true
	started := w.started
	w.mu.Unlock()
	if started {
		w.closeBody()
	}
	return !started
}

// failure returns the error of the request body that ended the stream.
func (w *bodyWriter) failure() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// acceptLoop takes the streams the server opens: pushes go to the
// PushHandler, anything else is refused.
func (cc *ClientConn) acceptLoop() {
	defer close(cc.loopDone)
	for {
		st, err := cc.sess.Accept(context.Background())
		if err != nil {
			break
		}
		cc.accepted(st)
	}
	cc.markClosing()
	cc.t.forget(cc)
}

func (cc *ClientConn) accepted(st *stream.Stream) {
	assoc := st.AssociatedTo()
	if assoc == 0 {
		st.Reset(framing.StatusRefusedStream) // servers do not open requests
		return
	}
	h := cc.t.PushHandler
	if h == nil {
		st.Reset(framing.StatusCancel)
		return
	}
	cc.mu.Lock()
	cc.active++
	cc.mu.Unlock()
	go cc.servePush(st, h)
}

// parentOf returns the request of stream id, for a push associated to it.
// A push can be taken from the session before the goroutine that opened
// its request has recorded it: while Opens are in progress, it waits for
// them (a bounded time, after which the push goes on without its request).
func (cc *ClientConn) parentOf(id framing.StreamID) *http.Request {
	var timeout <-chan time.Time
	for {
		cc.mu.Lock()
		p := cc.parents[id]
		if p != nil || cc.opening == 0 {
			cc.mu.Unlock()
			return p
		}
		if cc.registered == nil {
			cc.registered = make(chan struct{})
		}
		ch := cc.registered
		cc.mu.Unlock()
		if timeout == nil {
			t := time.NewTimer(time.Second)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-ch:
		case <-timeout:
			return nil
		case <-cc.sess.Done():
			return nil
		}
	}
}

// servePush hands a pushed stream to the push handler.
func (cc *ClientConn) servePush(st *stream.Stream, h func(*http.Request, *http.Response)) {
	cs := &clientStream{cc: cc, st: st}
	parent := cc.parentOf(st.AssociatedTo())
	req, err := cc.pushRequest(st.Headers(), parent)
	if err != nil {
		cc.t.debug("invalid push", "stream", st.ID(), "err", err)
		st.Reset(framing.StatusProtocolError)
		cc.release(0)
		return
	}
	if parent != nil && !sameOrigin(parent, req) {
		cc.t.debug("push of another origin refused", "stream", st.ID())
		st.Reset(framing.StatusCancel)
		cc.release(0)
		return
	}
	fields := st.Headers()
	var first []byte
	if _, ok := field(fields, cc.names.status); !ok {
		// The response headers may follow in HEADERS frames, which come
		// before any DATA: they are in once a byte of DATA or the FIN is.
		buf := make([]byte, 1)
		n, rerr := st.Read(buf)
		if rerr != nil && rerr != io.EOF {
			st.Reset(framing.StatusCancel)
			cc.release(0)
			return
		}
		first = buf[:n]
		fields = st.Headers()
	}
	resp, err := cs.response(fields, req.Method, first)
	if err != nil {
		cc.t.debug("invalid pushed response", "stream", st.ID(), "err", err)
		st.Reset(framing.StatusProtocolError)
		cc.release(0)
		return
	}
	resp.Request = req
	h(req, resp)
}

// pushRequest builds the request of a pushed stream from its URL
// (":scheme", ":host", ":path"; SPDY/2's "url" holds the whole URL) and
// the headers of the request it belongs to.
func (cc *ClientConn) pushRequest(fields []hpackz.Field, parent *http.Request) (*http.Request, error) {
	n := cc.names
	if why := invalidField(fields); why != "" {
		return nil, errors.New("httpadapter: pushed stream with an " + why)
	}
	get := func(name string) string { v, _ := field(fields, name); return v }
	var u *url.URL
	var err error
	if cc.version == session.V2 {
		if u, err = url.Parse(get("url")); err != nil {
			return nil, errors.New("httpadapter: pushed stream with an invalid url")
		}
		if u.Scheme == "" {
			u.Scheme = get("scheme")
		}
		if u.Host == "" {
			u.Host = get("host")
		}
	} else {
		scheme, host, path := get(n.scheme), get(n.host), get(n.path)
		if scheme == "" || host == "" || path == "" {
			return nil, errors.New("httpadapter: pushed stream without :scheme, :host or :path")
		}
		if u, err = url.ParseRequestURI(path); err != nil {
			return nil, errors.New("httpadapter: pushed stream with an invalid :path")
		}
		u.Scheme, u.Host = scheme, host
	}
	if u.Scheme == "" || u.Host == "" || (u.Path == "" && u.Opaque == "") {
		return nil, errors.New("httpadapter: pushed stream without a URL")
	}
	if !validHost(u.Host) {
		return nil, errors.New("httpadapter: pushed stream with an invalid host")
	}
	method := get(n.method)
	if method == "" {
		method = http.MethodGet
	}
	if !validToken(method) {
		return nil, errors.New("httpadapter: pushed stream with an invalid method")
	}
	req := &http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header),
		Host:       u.Host,
		Body:       http.NoBody,
	}
	if parent != nil {
		for k, vv := range parent.Header {
			if k != "Content-Length" && k != "Content-Type" && k != "Trailer" {
				req.Header[k] = append([]string(nil), vv...)
			}
		}
		req = req.WithContext(context.WithoutCancel(parent.Context()))
	}
	return req, nil
}

// sameOrigin reports whether a push belongs to its request's origin.
func sameOrigin(parent, push *http.Request) bool {
	scheme, host := requestOrigin(parent)
	return strings.EqualFold(host, push.URL.Host) && strings.EqualFold(scheme, push.URL.Scheme)
}

var _ http.RoundTripper = (*ClientConn)(nil)
var _ http.RoundTripper = (*Transport)(nil)
