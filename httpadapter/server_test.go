package httpadapter

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/internal/selfsigned"
	"github.com/spdygo/spdy/session"
	"github.com/spdygo/spdy/stream"
)

// waitLimit bounds every wait of the tests, so that a bug hangs no run;
// it is no measure of speed.
const waitLimit = 30 * time.Second

var versions = []session.Version{session.V2, session.V3, session.V31}

// flowVersions are the versions with flow control (SPDY/2 has none).
var flowVersions = []session.Version{session.V3, session.V31}

func forVersions(t *testing.T, vs []session.Version, f func(t *testing.T, v session.Version)) {
	for _, v := range vs {
		t.Run(v.String(), func(t *testing.T) { f(t, v) })
	}
}

// recv waits for a value on ch, failing the test after waitLimit.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("gave up waiting for %s", what)
		panic("unreachable")
	}
}

// waitDone waits until ch is closed, failing the test after waitLimit.
func waitDone(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitLimit):
		t.Fatalf("gave up waiting for %s", what)
	}
}

func limitCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// listenLoopback returns a TCP listener on 127.0.0.1.
func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// tcpPair returns two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln := listenLoopback(t)
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- nil
			return
		}
		ch <- c
	}()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c2 := recv(t, ch, "accept")
	if c2 == nil {
		t.Fatal("accept failed")
	}
	return c1, c2
}

// frameLog is a slog.Handler that records the frames a session traces.
type frameLog struct {
	mu     sync.Mutex
	in     []string
	notify chan struct{}
}

func newFrameLog() *frameLog { return &frameLog{notify: make(chan struct{}, 1)} }

func (l *frameLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *frameLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *frameLog) WithGroup(string) slog.Handler            { return l }

func (l *frameLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "frame" {
		return nil
	}
	var dir, frame string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "dir":
			dir = a.Value.String()
		case "frame":
			frame = a.Value.String()
		}
		return true
	})
	if dir != "in" {
		return nil
	}
	l.mu.Lock()
	l.in = append(l.in, frame)
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
	return nil
}

// received returns the frames received so far that mention stream id
// (all of them for id 0).
func (l *frameLog) received(id framing.StreamID) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, f := range l.in {
		if id == 0 || strings.Contains(f, fmt.Sprintf(" stream=%d ", id)) {
			out = append(out, f)
		}
	}
	return out
}

// waitFor waits until a received frame starts with prefix.
func (l *frameLog) waitFor(t testing.TB, prefix string) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		for _, f := range l.received(0) {
			if strings.HasPrefix(f, prefix) {
				return
			}
		}
		select {
		case <-l.notify:
		case <-deadline:
			t.Fatalf("no frame %q received; got %q", prefix, l.received(0))
		}
	}
}

// testServer is a Server serving one session over loopback TCP, and the
// raw client session that talks to it.
type testServer struct {
	t      *testing.T
	v      session.Version
	srv    *Server
	cs     *session.Session
	frames *frameLog // frames the client received
	done   chan error
}

type serverOpts struct {
	server func(*Server)                            // adjusts the Server
	client func(*session.Config)                    // adjusts the client's session config
	conns  func(c, s net.Conn) (net.Conn, net.Conn) // wraps the connection ends
}

func startServer(t *testing.T, v session.Version, h http.Handler, o *serverOpts) *testServer {
	t.Helper()
	if o == nil {
		o = &serverOpts{}
	}
	c1, c2 := tcpPair(t)
	if o.conns != nil {
		c1, c2 = o.conns(c1, c2)
	}
	srv := &Server{Handler: h}
	if o.server != nil {
		o.server(srv)
	}
	ts := &testServer{t: t, v: v, srv: srv, frames: newFrameLog(), done: make(chan error, 1)}
	go func() { ts.done <- srv.ServeConn(c2, &ServeConnOpts{Version: v}) }()
	cfg := session.Config{Logger: slog.New(ts.frames), TraceFrames: true}
	if o.client != nil {
		o.client(&cfg)
	}
	cfg.Version = v
	cs, err := session.New(c1, session.Client, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts.cs = cs
	t.Cleanup(func() {
		cs.Close()
		srv.Close()
		recv(t, ts.done, "ServeConn to return")
	})
	return ts
}

// request is what the raw client sends.
type request struct {
	method, path string
	host, scheme string         // default example.com, http
	fields       []hpackz.Field // more fields, as they go on the wire
	body         []byte
	omit         string // a required field to leave out
	open         bool   // keep the stream open for writing
}

// requestBlock returns the SYN_STREAM fields of r for version v.
func requestBlock(v session.Version, r request) []hpackz.Field {
	n := namesFor(v)
	if r.method == "" {
		r.method = http.MethodGet
	}
	if r.path == "" {
		r.path = "/"
	}
	if r.host == "" {
		r.host = "example.com"
	}
	if r.scheme == "" {
		r.scheme = "http"
	}
	hostName := n.host
	if v == session.V2 {
		hostName = "host"
	}
	var out []hpackz.Field
	for _, f := range []hpackz.Field{
		{Name: n.method, Value: r.method},
		{Name: n.path, Value: r.path},
		{Name: n.version, Value: "HTTP/1.1"},
		{Name: hostName, Value: r.host},
		{Name: n.scheme, Value: r.scheme},
	} {
		if f.Name != r.omit {
			out = append(out, f)
		}
	}
	return append(out, r.fields...)
}

// open sends r's SYN_STREAM and, in the background, its body.
func (ts *testServer) open(r request) *stream.Stream {
	ts.t.Helper()
	st, err := ts.cs.Open(limitCtx(ts.t), &session.OpenOptions{
		Headers: requestBlock(ts.v, r),
		Fin:     len(r.body) == 0 && !r.open,
	})
	if err != nil {
		ts.t.Fatalf("open: %v", err)
	}
	if len(r.body) > 0 {
		go func() {
			if _, err := st.Write(r.body); err == nil && !r.open {
				st.CloseWrite()
			}
		}()
	}
	return st
}

// response is what the raw client got.
type response struct {
	st       *stream.Stream
	fields   []hpackz.Field
	code     int
	status   string
	header   http.Header
	body     []byte
	trailers []hpackz.Field
	err      error // of the headers or of the body
}

func (ts *testServer) do(r request) *response {
	ts.t.Helper()
	return ts.read(ts.open(r))
}

// read waits for the response on st and reads it whole.
func (ts *testServer) read(st *stream.Stream) *response {
	ts.t.Helper()
	resp := &response{st: st}
	defer st.Close()
	resp.fields, resp.err = st.WaitHeaders(limitCtx(ts.t))
	if resp.err != nil {
		return resp
	}
	resp.code, resp.status, resp.err = parseStatus(resp.fields, ts.v)
	if resp.err != nil {
		ts.t.Fatalf("response status: %v (fields %q)", resp.err, resp.fields)
	}
	resp.header = make(http.Header)
	toHeader(resp.header, resp.fields, namesFor(ts.v))
	resp.body, resp.err = io.ReadAll(st)
	resp.trailers = st.Trailers()
	return resp
}

func (r *response) field(name string) (string, bool) { return field(r.fields, name) }

// mustOK fails the test unless the response arrived whole with code.
func (r *response) must(t testing.TB, code int) *response {
	t.Helper()
	if r.err != nil {
		t.Fatalf("response error: %v", r.err)
	}
	if r.code != code {
		t.Fatalf("status %q, want %d (body %q)", r.status, code, r.body)
	}
	return r
}

// seenRequest is what a handler saw of its request.
type seenRequest struct {
	Method, Proto, Host, RequestURI, RemoteAddr string
	Path, RawQuery, Scheme, URLHost             string
	Header                                      http.Header
	ContentLength                               int64
	Body                                        []byte
	BodyErr                                     error
	Trailer                                     http.Header
	TLS                                         *tls.ConnectionState
	LocalAddr                                   net.Addr
}

// recordingHandler sends what it saw of each request on the channel.
func recordingHandler(ch chan<- seenRequest) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		la, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		ch <- seenRequest{
			Method: r.Method, Proto: r.Proto, Host: r.Host, RequestURI: r.RequestURI, RemoteAddr: r.RemoteAddr,
			Path: r.URL.Path, RawQuery: r.URL.RawQuery, Scheme: r.URL.Scheme, URLHost: r.URL.Host,
			Header: r.Header.Clone(), ContentLength: r.ContentLength, Body: body, BodyErr: err,
			Trailer: r.Trailer.Clone(), TLS: r.TLS, LocalAddr: la,
		}
		io.WriteString(w, "ok")
	}
}

func TestRequestIsFaithful(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		seen := make(chan seenRequest, 1)
		ts := startServer(t, v, recordingHandler(seen), nil)
		resp := ts.do(request{
			method: "GET", path: "/a/b%20c?q=1&r=two", host: "example.com:8080",
			fields: []hpackz.Field{
				{Name: "accept", Value: "text/html"},
				{Name: "x-multi", Value: "one\x00two"},
				{Name: "cookie", Value: "a=1\x00b=2"},
			},
		}).must(t, 200)
		if string(resp.body) != "ok" {
			t.Fatalf("body %q", resp.body)
		}
		r := recv(t, seen, "the request")
		if r.Method != "GET" || r.Proto != "HTTP/1.1" || r.Host != "example.com:8080" {
			t.Errorf("method %q proto %q host %q", r.Method, r.Proto, r.Host)
		}
		if r.Path != "/a/b c" || r.RawQuery != "q=1&r=two" || r.RequestURI != "/a/b%20c?q=1&r=two" {
			t.Errorf("path %q query %q request URI %q", r.Path, r.RawQuery, r.RequestURI)
		}
		if r.Scheme != "" || r.URLHost != "" {
			t.Errorf("URL scheme %q host %q, want both empty as net/http leaves them", r.Scheme, r.URLHost)
		}
		if r.RemoteAddr != ts.cs.LocalAddr().String() {
			t.Errorf("RemoteAddr %q, want %q", r.RemoteAddr, ts.cs.LocalAddr())
		}
		if r.LocalAddr == nil || r.LocalAddr.String() != ts.cs.RemoteAddr().String() {
			t.Errorf("LocalAddrContextKey %v, want %v", r.LocalAddr, ts.cs.RemoteAddr())
		}
		if r.TLS != nil {
			t.Error("TLS state on a plain connection")
		}
		if r.ContentLength != 0 || len(r.Body) != 0 || r.BodyErr != nil {
			t.Errorf("GET body: length %d, %q, %v", r.ContentLength, r.Body, r.BodyErr)
		}
		for k := range r.Header {
			if strings.HasPrefix(k, ":") || k == "Host" || k == "Method" || k == "Url" || k == "Version" || k == "Scheme" {
				t.Errorf("header %q is a SPDY request field", k)
			}
		}
		if got := r.Header["Accept"]; len(got) != 1 || got[0] != "text/html" {
			t.Errorf("Accept %q", got)
		}
		if got := r.Header["X-Multi"]; len(got) != 2 || got[0] != "one" || got[1] != "two" {
			t.Errorf("X-Multi %q, want two values", got)
		}
		if got := r.Header["Cookie"]; len(got) != 2 {
			t.Errorf("Cookie %q, want two values", got)
		}
	})
}

func TestRequestContentLength(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		seen := make(chan seenRequest, 1)
		ts := startServer(t, v, recordingHandler(seen), nil)

		ts.do(request{method: "POST", body: []byte("hello"), fields: []hpackz.Field{{Name: "content-length", Value: "5"}}}).must(t, 200)
		r := recv(t, seen, "a request with content-length")
		if r.ContentLength != 5 || string(r.Body) != "hello" || r.BodyErr != nil {
			t.Errorf("length %d body %q err %v", r.ContentLength, r.Body, r.BodyErr)
		}

		ts.do(request{method: "POST", body: []byte("streamed")}).must(t, 200)
		r = recv(t, seen, "a request without content-length")
		if r.ContentLength != -1 || string(r.Body) != "streamed" || r.BodyErr != nil {
			t.Errorf("length %d body %q err %v", r.ContentLength, r.Body, r.BodyErr)
		}

		ts.do(request{method: "POST", body: []byte("too long"), fields: []hpackz.Field{{Name: "content-length", Value: "3"}}})
		r = recv(t, seen, "a request longer than its content-length")
		if r.BodyErr == nil || string(r.Body) != "too" {
			t.Errorf("body longer than content-length: %q, %v", r.Body, r.BodyErr)
		}

		ts.do(request{method: "POST", body: []byte("short"), fields: []hpackz.Field{{Name: "content-length", Value: "10"}}})
		r = recv(t, seen, "a request shorter than its content-length")
		if !errors.Is(r.BodyErr, io.ErrUnexpectedEOF) || string(r.Body) != "short" {
			t.Errorf("body shorter than content-length: %q, %v", r.Body, r.BodyErr)
		}

		// A content-length with a SYN_STREAM that has FIN: a truncated body.
		ts.do(request{method: "POST", fields: []hpackz.Field{{Name: "content-length", Value: "4"}}})
		r = recv(t, seen, "a request with content-length and no body")
		if !errors.Is(r.BodyErr, io.ErrUnexpectedEOF) {
			t.Errorf("content-length 4 without a body: %q, %v", r.Body, r.BodyErr)
		}

		resp := ts.do(request{method: "POST", fields: []hpackz.Field{{Name: "content-length", Value: "x"}}})
		if resp.code != 400 {
			t.Errorf("invalid content-length: status %q, want 400", resp.status)
		}
	})
}

func TestRequestTrailers(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		seen := make(chan seenRequest, 1)
		ts := startServer(t, v, recordingHandler(seen), nil)
		st := ts.open(request{method: "POST", open: true, fields: []hpackz.Field{{Name: "trailer", Value: "x-sum"}}})
		if _, err := st.Write([]byte("data")); err != nil {
			t.Fatal(err)
		}
		if err := st.SendHeaders([]hpackz.Field{{Name: "x-sum", Value: "42"}}, true); err != nil {
			t.Fatal(err)
		}
		ts.read(st).must(t, 200)
		r := recv(t, seen, "the request")
		if string(r.Body) != "data" || r.Trailer.Get("X-Sum") != "42" {
			t.Errorf("body %q trailer %v", r.Body, r.Trailer)
		}
	})
}

// selfSigned returns a certificate for example.test made at run time, and
// a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	cert, pool, err := selfsigned.New("httpadapter test", "example.test")
	if err != nil {
		t.Fatal(err)
	}
	return cert, pool
}

func TestRequestTLS(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		cert, pool := selfSigned(t)
		seen := make(chan seenRequest, 1)
		ts := startServer(t, v, recordingHandler(seen), &serverOpts{conns: func(c, s net.Conn) (net.Conn, net.Conn) {
			return tls.Client(c, &tls.Config{ServerName: "example.test", RootCAs: pool, NextProtos: []string{v.String()}}),
				tls.Server(s, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{v.String()}})
		}})
		ts.do(request{path: "/secure", host: "example.test", scheme: "https"}).must(t, 200)
		r := recv(t, seen, "the request")
		if r.TLS == nil {
			t.Fatal("no TLS state on a TLS connection")
		}
		if !r.TLS.HandshakeComplete || r.TLS.ServerName != "example.test" || r.TLS.NegotiatedProtocol != v.String() {
			t.Errorf("TLS state: complete %v, server name %q, protocol %q", r.TLS.HandshakeComplete, r.TLS.ServerName, r.TLS.NegotiatedProtocol)
		}
	})
}

func TestTLSHandshakeFailure(t *testing.T) {
	c1, c2 := tcpPair(t)
	srv := &Server{Handler: http.NotFoundHandler()}
	cert, _ := selfSigned(t)
	done := make(chan error, 1)
	go func() {
		done <- srv.ServeConn(tls.Server(c2, &tls.Config{Certificates: []tls.Certificate{cert}}), nil)
	}()
	c1.Write([]byte("this is no TLS client hello\r\n\r\n"))
	if err := recv(t, done, "ServeConn"); err == nil {
		t.Fatal("ServeConn returned nil after a failed handshake")
	}
	c1.Close()
}

// deterministic returns n bytes of a fixed pseudo-random sequence.
func deterministic(seed uint64, n int) []byte {
	r := mrand.New(mrand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		u := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(u >> (8 * j))
		}
	}
	return b
}

// TestUploadRespectsFlowControl sends 5 MiB to a handler that reads in
// small pieces: at every read the client has sent no more than the handler
// read plus one stream window, so the body streams and nothing buffers it.
func TestUploadRespectsFlowControl(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		const size = 5 << 20
		const window = 64 << 10
		payload := deterministic(1, size)
		want := sha256.Sum256(payload)
		var cs atomic.Pointer[session.Session]
		type result struct {
			sum      [32]byte
			n        int
			overrun  int64
			readErr  error
			lengthCL int64
		}
		results := make(chan result, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hash := sha256.New()
			buf := make([]byte, 4<<10)
			var res result
			res.lengthCL = r.ContentLength
			for i := 0; i < size; i++ { // bounded: each read returns data or ends
				n, err := r.Body.Read(buf)
				hash.Write(buf[:n])
				res.n += n
				if v != session.V2 {
					if over := int64(cs.Load().Stats().BytesSent) - int64(res.n) - window; over > res.overrun {
						res.overrun = over
					}
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					res.readErr = err
					break
				}
			}
			copy(res.sum[:], hash.Sum(nil))
			results <- res
			fmt.Fprintf(w, "%d", res.n)
		})
		ts := startServer(t, v, h, &serverOpts{server: func(s *Server) {
			s.Session = &session.Config{InitialWindowSize: window, MaxWindowSize: window}
		}})
		cs.Store(ts.cs)
		resp := ts.do(request{method: "PUT", path: "/upload", body: payload,
			fields: []hpackz.Field{{Name: "content-length", Value: strconv.Itoa(size)}}}).must(t, 200)
		res := recv(t, results, "the handler")
		if res.readErr != nil || res.n != size || res.sum != want {
			t.Fatalf("handler read %d bytes (err %v), sha256 equal %v", res.n, res.readErr, res.sum == want)
		}
		if res.lengthCL != size || string(resp.body) != strconv.Itoa(size) {
			t.Errorf("content length %d, response %q", res.lengthCL, resp.body)
		}
		if res.overrun > 0 {
			t.Errorf("the client sent %d bytes beyond what the handler read plus the window", res.overrun)
		}
	})
}

func TestBodyReportsClientReset(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		got := make(chan []byte, 1)
		errs := make(chan error, 1)
		ctxDone := make(chan error, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			buf := make([]byte, 5)
			n, _ := io.ReadFull(r.Body, buf)
			got <- buf[:n]
			_, err := io.ReadAll(r.Body)
			errs <- err
			<-r.Context().Done()
			ctxDone <- r.Context().Err()
		})
		ts := startServer(t, v, h, nil)
		st := ts.open(request{method: "POST", open: true})
		st.Write([]byte("first"))
		if b := recv(t, got, "the first bytes"); string(b) != "first" {
			t.Fatalf("read %q", b)
		}
		st.Reset(framing.StatusCancel)
		err := recv(t, errs, "the body error")
		var re *stream.ResetError
		if !errors.As(err, &re) || re.Status != framing.StatusCancel || !re.Remote {
			t.Fatalf("body error %v, want the client's CANCEL", err)
		}
		if err := recv(t, ctxDone, "the request context"); !errors.Is(err, context.Canceled) {
			t.Fatalf("context error %v", err)
		}
	})
}

func TestBodyReportsDisconnect(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		got := make(chan []byte, 1)
		errs := make(chan error, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			buf := make([]byte, 5)
			n, _ := io.ReadFull(r.Body, buf)
			got <- buf[:n]
			_, err := io.ReadAll(r.Body)
			<-r.Context().Done()
			errs <- err
		})
		ts := startServer(t, v, h, nil)
		st := ts.open(request{method: "POST", open: true})
		st.Write([]byte("first"))
		recv(t, got, "the first bytes")
		ts.cs.Close()
		if err := recv(t, errs, "the body error"); err == nil || errors.Is(err, io.EOF) {
			t.Fatalf("body error %v after the client went away", err)
		}
	})
}

// blockUntilDone returns a handler for one request that blocks until the
// request's context ends, a channel closed when it starts and one that
// receives the context's error.
func blockUntilDone() (h http.Handler, started <-chan struct{}, ctxErr <-chan error) {
	start := make(chan struct{})
	errs := make(chan error, 1)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(start)
		<-r.Context().Done()
		errs <- r.Context().Err()
	}), start, errs
}

func TestContextCancelledWhenClientResets(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		h, started, ctxErr := blockUntilDone()
		ts := startServer(t, v, h, nil)
		st := ts.open(request{path: "/slow"}) // a GET: FIN with the SYN_STREAM
		waitDone(t, started, "the handler")
		st.Reset(framing.StatusCancel)
		if err := recv(t, ctxErr, "the context"); !errors.Is(err, context.Canceled) {
			t.Fatalf("context error %v", err)
		}
	})
}

func TestContextCancelledWhenSessionEnds(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		h, started, ctxErr := blockUntilDone()
		ts := startServer(t, v, h, nil)
		ts.open(request{path: "/slow"})
		waitDone(t, started, "the handler")
		ts.cs.Close()
		if err := recv(t, ctxErr, "the context"); !errors.Is(err, context.Canceled) {
			t.Fatalf("context error %v", err)
		}
	})
}

func TestContextNotCancelledWhileServing(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		errs := make(chan error, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "part")
			w.(http.Flusher).Flush()
			// The client has its FIN in and reads: the context is live.
			errs <- r.Context().Err()
		})
		ts := startServer(t, v, h, nil)
		ts.do(request{}).must(t, 200)
		if err := recv(t, errs, "the handler"); err != nil {
			t.Fatalf("context ended while the request was served: %v", err)
		}
	})
}

func TestBadRequest(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		called := make(chan string, 10)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called <- r.URL.Path })
		ts := startServer(t, v, h, nil)
		n := namesFor(v)
		required := []string{n.method, n.path, n.version, n.host, n.scheme}
		if v == session.V2 {
			required = []string{"method", "url", "version", "host"} // scheme is optional in SPDY/2
		}
		for _, name := range required {
			resp := ts.do(request{omit: name})
			if resp.err != nil {
				t.Fatalf("without %s: %v, want a 400 response", name, resp.err)
			}
			if resp.code != 400 || !strings.HasPrefix(string(resp.body), "400 Bad Request") {
				t.Errorf("without %s: status %q body %q", name, resp.status, resp.body)
			}
			if cl := resp.header.Get("Content-Length"); cl != strconv.Itoa(len(resp.body)) {
				t.Errorf("without %s: content-length %q for %d bytes", name, cl, len(resp.body))
			}
		}
		for _, bad := range []request{
			{method: "GE T"},
			{path: "no-slash"},
		} {
			if resp := ts.do(bad); resp.code != 400 {
				t.Errorf("%+v: status %q, want 400", bad, resp.status)
			}
		}
		for _, f := range ts.frames.received(0) {
			if strings.HasPrefix(f, "RST_STREAM") {
				t.Errorf("a bad request got %s, want a 400 reply", f)
			}
		}
		select {
		case p := <-called:
			t.Errorf("handler called for a bad request (%q)", p)
		default:
		}
		if v == session.V2 {
			// A full URL in url carries the host.
			seen := make(chan seenRequest, 1)
			ts.srv.Handler = recordingHandler(seen)
			ts.do(request{path: "http://full.example/x?y=1", omit: "host"}).must(t, 200)
			r := recv(t, seen, "a request with a full URL")
			if r.Host != "full.example" || r.Path != "/x" || r.RawQuery != "y=1" {
				t.Errorf("full URL: host %q path %q query %q", r.Host, r.Path, r.RawQuery)
			}
		}
	})
}

// TestStreamingResponse writes 10 MiB in pieces to a client that reads
// slowly: the handler's Writes wait for the client, so the response is
// never buffered whole, and every byte arrives.
func TestStreamingResponse(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		const size = 10 << 20
		const window = 64 << 10
		const piece = 32 << 10
		const readSize = 8 << 10
		payload := deterministic(2, size)
		want := sha256.Sum256(payload)
		var clientRead atomic.Int64
		var maxAhead atomic.Int64
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			for off := 0; off < size; off += piece {
				if _, err := w.Write(payload[off : off+piece]); err != nil {
					return
				}
				if ahead := int64(off+piece) - clientRead.Load(); ahead > maxAhead.Load() {
					maxAhead.Store(ahead)
				}
			}
		})
		ts := startServer(t, v, h, &serverOpts{client: func(c *session.Config) {
			c.InitialWindowSize, c.MaxWindowSize = window, window
		}})
		st := ts.open(request{path: "/big"})
		if _, err := st.WaitHeaders(limitCtx(t)); err != nil {
			t.Fatal(err)
		}
		hash := sha256.New()
		buf := make([]byte, readSize)
		total := 0
		for i := 0; i < size; i++ {
			n, err := st.Read(buf)
			hash.Write(buf[:n])
			total += n
			clientRead.Add(int64(n))
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("read after %d bytes: %v", total, err)
			}
		}
		st.Close()
		var got [32]byte
		copy(got[:], hash.Sum(nil))
		if total != size || got != want {
			t.Fatalf("read %d bytes, sha256 equal %v", total, got == want)
		}
		if v != session.V2 {
			// What the handler wrote is held by the client's window, the
			// buffer, the last piece and the read in progress.
			limit := int64(window + 16<<10 + piece + readSize)
			if ahead := maxAhead.Load(); ahead > limit {
				t.Errorf("the handler got %d bytes ahead of the client, more than %d", ahead, limit)
			}
		}
	})
}

func TestFlushSendsHeadersAndFirstChunk(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		release := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Early", "yes")
			io.WriteString(w, "first ")
			w.(http.Flusher).Flush()
			<-release
			io.WriteString(w, "second")
		})
		ts := startServer(t, v, h, nil)
		st := ts.open(request{})
		fields, err := st.WaitHeaders(limitCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if x, _ := field(fields, "x-early"); x != "yes" {
			t.Errorf("headers %q", fields)
		}
		if _, ok := field(fields, "content-length"); ok {
			t.Errorf("a flushed response has a content-length: %q", fields)
		}
		buf := make([]byte, 6)
		if _, err := io.ReadFull(st, buf); err != nil || string(buf) != "first " {
			t.Fatalf("first chunk %q, %v", buf, err)
		}
		close(release)
		rest, err := io.ReadAll(st)
		if err != nil || string(rest) != "second" {
			t.Fatalf("rest %q, %v", rest, err)
		}
		st.Close()
	})
}

func TestResponseControllerFlush(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		release := make(chan struct{})
		flushErr := make(chan error, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			io.WriteString(w, "chunk")
			flushErr <- rc.Flush()
			<-release
		})
		ts := startServer(t, v, h, nil)
		st := ts.open(request{})
		if _, err := st.WaitHeaders(limitCtx(t)); err != nil {
			t.Fatal(err)
		}
		if err := recv(t, flushErr, "Flush"); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(st, buf); err != nil || string(buf) != "chunk" {
			t.Fatalf("chunk %q, %v", buf, err)
		}
		close(release)
		if rest, err := io.ReadAll(st); err != nil || len(rest) != 0 {
			t.Fatalf("rest %q, %v", rest, err)
		}
		st.Close()
	})
}

func TestResponseControllerWriteDeadline(t *testing.T) {
	forVersions(t, flowVersions, func(t *testing.T, v session.Version) {
		errs := make(chan error, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			if err := rc.SetWriteDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
				errs <- err
				return
			}
			chunk := make([]byte, 32<<10)
			var err error
			for i := 0; i < 1024 && err == nil; i++ { // 32 MiB at most, far beyond the window
				_, err = w.Write(chunk)
			}
			errs <- err
		})
		ts := startServer(t, v, h, nil)
		st := ts.open(request{})
		// The client does not read: the window fills and Write waits.
		err := recv(t, errs, "the handler's write error")
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write error %v, want a deadline error", err)
		}
		// The response is incomplete: the client must not take it as whole.
		if _, err := io.ReadAll(st); err == nil {
			t.Fatal("the client read a complete body after the deadline cut it")
		}
		st.Close()
	})
}

func TestResponseControllerReadDeadline(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		timedOut := make(chan error, 1)
		rest := make(chan string, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			rc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			_, err := r.Body.Read(make([]byte, 10))
			rc.SetReadDeadline(time.Time{})
			timedOut <- err
			b, err := io.ReadAll(r.Body)
			if err != nil {
				b = []byte(err.Error())
			}
			rest <- string(b)
		})
		ts := startServer(t, v, h, nil)
		st := ts.open(request{method: "POST", open: true})
		if err := recv(t, timedOut, "the handler's read"); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read error %v, want a deadline error", err)
		}
		st.Write([]byte("late"))
		st.CloseWrite()
		if got := recv(t, rest, "the body"); got != "late" {
			t.Fatalf("after the deadline was lifted the body read %q", got)
		}
		ts.read(st).must(t, 200)
	})
}

func TestResponseTrailers(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Checksum")
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "body")
			w.Header().Set("X-Checksum", "abc")
			w.Header().Set(http.TrailerPrefix+"X-Late", "def")
		})
		ts := startServer(t, v, h, nil)
		resp := ts.do(request{}).must(t, 200)
		if string(resp.body) != "body" {
			t.Errorf("body %q", resp.body)
		}
		if tr, _ := resp.field("trailer"); tr != "X-Checksum" {
			t.Errorf("trailer header %q", tr)
		}
		if _, ok := resp.field("content-length"); ok {
			t.Error("a response with trailers has a content-length")
		}
		for _, f := range resp.fields {
			if strings.HasPrefix(f.Name, strings.ToLower(http.TrailerPrefix)) || f.Name == "x-checksum" {
				t.Errorf("trailer %q in the headers", f.Name)
			}
		}
		tr := make(http.Header)
		toHeader(tr, resp.trailers, namesFor(v))
		if tr.Get("X-Checksum") != "abc" || tr.Get("X-Late") != "def" || len(tr) != 2 {
			t.Errorf("trailers %v", tr)
		}
	})
}

func TestTrailersWithoutBody(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(http.TrailerPrefix+"X-Only", "1")
		})
		ts := startServer(t, v, h, nil)
		resp := ts.do(request{}).must(t, 200)
		if len(resp.body) != 0 {
			t.Errorf("body %q", resp.body)
		}
		// Without DATA, a HEADERS frame would extend the headers: the
		// trailers of an empty body are sent with them.
		if x, _ := resp.field("x-only"); x != "1" || len(resp.trailers) != 0 {
			t.Errorf("headers %q, trailers %q", resp.fields, resp.trailers)
		}
		if f := synReply(t, ts, resp.st.ID()); !strings.Contains(f, "flags=FIN") {
			t.Errorf("%s, want FIN on the reply", f)
		}
	})
}

// synReply returns the SYN_REPLY frame received on stream id.
func synReply(t *testing.T, ts *testServer, id framing.StreamID) string {
	t.Helper()
	for _, f := range ts.frames.received(id) {
		if strings.HasPrefix(f, "SYN_REPLY") {
			return f
		}
	}
	t.Fatalf("no SYN_REPLY on stream %d: %q", id, ts.frames.received(id))
	return ""
}

// dataFrames returns the DATA frames received on stream id.
func dataFrames(ts *testServer, id framing.StreamID) []string {
	var out []string
	for _, f := range ts.frames.received(id) {
		if strings.HasPrefix(f, "DATA") {
			out = append(out, f)
		}
	}
	return out
}

func TestHead(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/declared" {
				w.Header().Set("Content-Length", "1234")
				w.WriteHeader(200)
				return
			}
			io.WriteString(w, "<html>hello</html>") // counted, not sent
		})
		ts := startServer(t, v, h, nil)
		resp := ts.do(request{method: "HEAD", path: "/declared"}).must(t, 200)
		if cl := resp.header.Get("Content-Length"); cl != "1234" || len(resp.body) != 0 {
			t.Errorf("HEAD: content-length %q, body %q", cl, resp.body)
		}
		if f := synReply(t, ts, resp.st.ID()); !strings.Contains(f, "FIN") || len(dataFrames(ts, resp.st.ID())) != 0 {
			t.Errorf("HEAD: %s and DATA %q, want FIN on the reply and no DATA", f, dataFrames(ts, resp.st.ID()))
		}
		resp = ts.do(request{method: "HEAD", path: "/written"}).must(t, 200)
		if cl := resp.header.Get("Content-Length"); cl != "18" || len(resp.body) != 0 {
			t.Errorf("HEAD of a written body: content-length %q, body %q", cl, resp.body)
		}
		if ct := resp.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("HEAD of a written body: content-type %q", ct)
		}
		if n := len(dataFrames(ts, resp.st.ID())); n != 0 {
			t.Errorf("HEAD: %d DATA frames", n)
		}
	})
}

func TestNoBodyStatuses(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		writeErr := make(chan error, 2)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
			w.Header().Set("ETag", `"x"`)
			w.WriteHeader(code)
			_, err := io.WriteString(w, "not allowed")
			writeErr <- err
		})
		ts := startServer(t, v, h, nil)
		for _, code := range []int{204, 304} {
			resp := ts.do(request{path: "/" + strconv.Itoa(code)}).must(t, code)
			if len(resp.body) != 0 {
				t.Errorf("%d: body %q", code, resp.body)
			}
			if err := recv(t, writeErr, "the handler"); !errors.Is(err, http.ErrBodyNotAllowed) {
				t.Errorf("%d: Write error %v, want ErrBodyNotAllowed", code, err)
			}
			if f := synReply(t, ts, resp.st.ID()); !strings.Contains(f, "flags=FIN") {
				t.Errorf("%d: %s, want FIN on the SYN_REPLY", code, f)
			}
			if d := dataFrames(ts, resp.st.ID()); len(d) != 0 {
				t.Errorf("%d: DATA frames %q", code, d)
			}
			if _, ok := resp.field("content-length"); ok && code == 204 {
				t.Errorf("%d has a content-length", code)
			}
		}
	})
}

func TestContentTypeAndLength(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		big := bytes.Repeat([]byte("x"), 100<<10)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/html":
				io.WriteString(w, "<html><body>hi</body></html>")
			case "/nosniff":
				w.Header()["Content-Type"] = nil
				io.WriteString(w, "<html>")
			case "/set":
				w.Header().Set("Content-Type", "application/x-mine")
				io.WriteString(w, "<html>")
			case "/big":
				w.Write(big)
			case "/pieces":
				for i := 0; i < 3; i++ {
					io.WriteString(w, "ab")
				}
			case "/empty":
			}
		})
		ts := startServer(t, v, h, nil)
		for _, c := range []struct {
			path, ctype, clen string
			hasType           bool
		}{
			{"/html", "text/html; charset=utf-8", "28", true},
			{"/nosniff", "", "6", false},
			{"/set", "application/x-mine", "6", true},
			{"/big", "text/plain; charset=utf-8", "", true},
			{"/pieces", "text/plain; charset=utf-8", "6", true},
			{"/empty", "", "0", false},
		} {
			resp := ts.do(request{path: c.path}).must(t, 200)
			ct, hasType := resp.field("content-type")
			cl, _ := resp.field("content-length")
			if ct != c.ctype || hasType != c.hasType || cl != c.clen {
				t.Errorf("%s: content-type %q (%v), content-length %q; want %q, %q", c.path, ct, hasType, cl, c.ctype, c.clen)
			}
			if _, ok := resp.field("date"); !ok {
				t.Errorf("%s: no date", c.path)
			}
		}
		if resp := ts.do(request{path: "/big"}); !bytes.Equal(resp.body, big) {
			t.Errorf("big body: %d bytes", len(resp.body))
		}
	})
}

func TestHeaderSnapshotAtWriteHeader(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Before", "1")
			w.WriteHeader(201)
			w.Header().Set("X-After", "2") // too late, as in net/http
			io.WriteString(w, "made")
		})
		ts := startServer(t, v, h, nil)
		resp := ts.do(request{method: "POST"}).must(t, 201)
		if _, ok := resp.field("x-after"); ok {
			t.Error("a header set after WriteHeader was sent")
		}
		if x, _ := resp.field("x-before"); x != "1" {
			t.Errorf("x-before %q", x)
		}
	})
}

func TestShortBodyIsReset(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "short")
		})
		ts := startServer(t, v, h, nil)
		resp := ts.do(request{})
		var re *stream.ResetError
		if !errors.As(resp.err, &re) || re.Status != framing.StatusInternalError {
			t.Fatalf("a body shorter than its content-length: %v, want INTERNAL_ERROR", resp.err)
		}
	})
}

// logRecorder is a slog.Handler that keeps messages.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}

func (l *logRecorder) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

func TestHandlerPanicResetsStream(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		logs := &logRecorder{}
		slowStarted := make(chan struct{})
		release := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/panic":
				panic("boom")
			case "/panic-after-flush":
				io.WriteString(w, "partial")
				w.(http.Flusher).Flush()
				panic("boom")
			case "/abort":
				panic(http.ErrAbortHandler)
			case "/slow":
				close(slowStarted)
				<-release
				io.WriteString(w, "survived")
			}
		})
		ts := startServer(t, v, h, &serverOpts{server: func(s *Server) { s.Logger = slog.New(logs) }})
		slow := ts.open(request{path: "/slow"})
		waitDone(t, slowStarted, "the slow handler")
		for _, path := range []string{"/panic", "/panic-after-flush", "/abort"} {
			resp := ts.do(request{path: path})
			var re *stream.ResetError
			if !errors.As(resp.err, &re) || re.Status != framing.StatusInternalError || !re.Remote {
				t.Errorf("%s: %v, want RST_STREAM INTERNAL_ERROR", path, resp.err)
			}
		}
		close(release)
		if resp := ts.read(slow).must(t, 200); string(resp.body) != "survived" {
			t.Errorf("the other stream: %q", resp.body)
		}
		ts.do(request{path: "/slow-again"}).must(t, 200) // the session still takes streams
		if n := logs.count("handler panic"); n != 2 {
			t.Errorf("%d panics logged, want 2 (ErrAbortHandler is not logged)", n)
		}
	})
}

func TestHopByHopHeadersDropped(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		seen := make(chan http.Header, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen <- r.Header.Clone()
			hd := w.Header()
			hd.Set("Connection", "close, X-Private")
			hd.Set("X-Private", "secret")
			hd.Set("Keep-Alive", "timeout=5")
			hd.Set("Transfer-Encoding", "chunked")
			hd.Set("Upgrade", "websocket")
			hd.Set("Proxy-Connection", "keep-alive")
			hd.Add("Set-Cookie", "a=1")
			hd.Add("Set-Cookie", "b=2")
			hd.Set("X-Kept", "yes")
			io.WriteString(w, "ok")
		})
		ts := startServer(t, v, h, nil)
		resp := ts.do(request{fields: []hpackz.Field{
			{Name: "connection", Value: "x-hop"},
			{Name: "x-hop", Value: "1"},
			{Name: "keep-alive", Value: "300"},
			{Name: "transfer-encoding", Value: "chunked"},
			{Name: "upgrade", Value: "h2c"},
			{Name: "proxy-connection", Value: "keep-alive"},
			{Name: "x-end", Value: "kept"},
		}}).must(t, 200)
		got := recv(t, seen, "the request header")
		for _, k := range []string{"Connection", "X-Hop", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection"} {
			if _, ok := got[k]; ok {
				t.Errorf("request header %s reached the handler", k)
			}
		}
		if got.Get("X-End") != "kept" {
			t.Errorf("request header %v", got)
		}
		for _, name := range []string{"connection", "x-private", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection"} {
			if _, ok := resp.field(name); ok {
				t.Errorf("response field %s was sent", name)
			}
		}
		if sc, _ := resp.field("set-cookie"); sc != "a=1\x00b=2" {
			t.Errorf("set-cookie field %q, want the values NUL-joined", sc)
		}
		if sc := resp.header["Set-Cookie"]; len(sc) != 2 || sc[0] != "a=1" || sc[1] != "b=2" {
			t.Errorf("Set-Cookie %q, want two values", sc)
		}
		if x, _ := resp.field("x-kept"); x != "yes" {
			t.Errorf("x-kept %q", x)
		}
	})
}

// pushHandler serves a page that pushes /style.css, and the stylesheet.
func pushHandler(pushErr chan<- error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			p, ok := w.(http.Pusher)
			if !ok {
				pushErr <- errors.New("no http.Pusher")
				return
			}
			err := p.Push("/style.css", &http.PushOptions{Header: http.Header{"X-Pushed": {"1"}}})
			pushErr <- err
			io.WriteString(w, "<html><link rel=stylesheet href=/style.css></html>")
		case "/style.css":
			if r.Header.Get("X-Pushed") != "1" || r.Header.Get("Accept") != "text/html" {
				http.Error(w, "the push lost the request's headers", 500)
				return
			}
			w.Header().Set("Content-Type", "text/css")
			io.WriteString(w, "body { color: red }")
		}
	}
}

func TestPush(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		pushErr := make(chan error, 1)
		ts := startServer(t, v, pushHandler(pushErr), nil)
		type pushed struct {
			st     *stream.Stream
			fields []hpackz.Field
			body   []byte
			err    error
		}
		pushes := make(chan pushed, 1)
		go func() {
			st, err := ts.cs.Accept(context.Background())
			if err != nil {
				pushes <- pushed{err: err}
				return
			}
			body, err := io.ReadAll(st)
			pushes <- pushed{st: st, fields: st.Headers(), body: body, err: err}
			st.Close()
		}()
		resp := ts.do(request{path: "/", host: "example.com", scheme: "https", fields: []hpackz.Field{{Name: "accept", Value: "text/html"}}}).must(t, 200)
		if err := recv(t, pushErr, "Push"); err != nil {
			t.Fatalf("Push: %v", err)
		}
		p := recv(t, pushes, "the pushed stream")
		if p.err != nil {
			t.Fatalf("pushed stream: %v", p.err)
		}
		if p.st.AssociatedTo() != resp.st.ID() {
			t.Errorf("pushed stream associated to %d, want %d", p.st.AssociatedTo(), resp.st.ID())
		}
		n := namesFor(v)
		want := map[string]string{n.scheme: "https", n.path: "/style.css", n.status: "200 OK", n.version: "HTTP/1.1", "content-type": "text/css"}
		if v == session.V2 {
			want["host"] = "example.com"
			want["url"] = "https://example.com/style.css"
		} else {
			want[":host"] = "example.com"
		}
		for name, val := range want {
			if got, _ := field(p.fields, name); got != val {
				t.Errorf("pushed %s = %q, want %q (fields %q)", name, got, val, p.fields)
			}
		}
		if string(p.body) != "body { color: red }" {
			t.Errorf("pushed body %q", p.body)
		}
	})
}

func TestPushRejected(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		secondPush := make(chan error, 1)
		pushedCtx := make(chan error, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/":
				// The first push is announced before the client can refuse
				// it; its refusal makes the next ones fail.
				if err := w.(http.Pusher).Push("/a.css", nil); err != nil {
					secondPush <- fmt.Errorf("first push: %w", err)
					return
				}
				select { // the refusal cancels the push's context
				case <-pushedCtx:
				case <-time.After(waitLimit):
					secondPush <- errors.New("the refused push's context was not cancelled")
					return
				}
				secondPush <- w.(http.Pusher).Push("/b.css", nil)
			case "/a.css":
				io.WriteString(w, "a")
				w.(http.Flusher).Flush()
				<-r.Context().Done()
				pushedCtx <- r.Context().Err()
			default:
				io.WriteString(w, "b")
			}
		})
		ts := startServer(t, v, h, &serverOpts{client: func(c *session.Config) { c.RejectPush = true }})
		ts.do(request{}).must(t, 200)
		if err := recv(t, secondPush, "the second push"); !errors.Is(err, http.ErrNotSupported) {
			t.Fatalf("push after the client refused one: %v, want http.ErrNotSupported", err)
		}
	})
}

func TestPushNotSupported(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		errs := make(chan error, 8)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := w.(http.Pusher)
			switch r.URL.Path {
			case "/":
				errs <- p.Push("relative.css", nil)
				errs <- p.Push("http://other.example/x.css", nil)
				errs <- p.Push("/x", &http.PushOptions{Method: "POST"})
				errs <- p.Push("/inner", nil)
			case "/inner":
				errs <- p.Push("/deeper", nil) // a push cannot push
			}
		})
		ts := startServer(t, v, h, &serverOpts{client: func(c *session.Config) { c.RejectPush = true }})
		ts.do(request{}).must(t, 200)
		for i, what := range []string{"a relative target", "another origin", "POST"} {
			if err := recv(t, errs, what); err == nil {
				t.Errorf("push %d (%s) succeeded", i, what)
			}
		}
		e1, e2 := recv(t, errs, "push"), recv(t, errs, "push")
		if e1 != nil && e2 != nil || !errors.Is(e1, http.ErrNotSupported) && !errors.Is(e2, http.ErrNotSupported) {
			t.Errorf("push and push from a push: %v, %v; want nil and http.ErrNotSupported", e1, e2)
		}
	})
}

func TestPushStoppedWhenRequestReset(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		pushedStarted := make(chan struct{})
		pushedCtx := make(chan error, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/":
				w.(http.Pusher).Push("/long", nil)
				<-r.Context().Done()
			case "/long":
				io.WriteString(w, "x")
				w.(http.Flusher).Flush()
				close(pushedStarted)
				<-r.Context().Done()
				pushedCtx <- r.Context().Err()
			}
		})
		ts := startServer(t, v, h, nil)
		st := ts.open(request{})
		pst, err := ts.cs.Accept(limitCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		waitDone(t, pushedStarted, "the pushed handler")
		st.Reset(framing.StatusCancel) // refuses every push of the request
		if err := recv(t, pushedCtx, "the push's context"); !errors.Is(err, context.Canceled) {
			t.Fatalf("push context %v", err)
		}
		var re *stream.ResetError
		if _, err := io.ReadAll(pst); !errors.As(err, &re) || re.Status != framing.StatusCancel {
			t.Fatalf("pushed stream ended with %v, want CANCEL", err)
		}
	})
}

func TestShutdownDrains(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		started := make(chan struct{})
		release := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			<-release
			io.WriteString(w, "finished")
		})
		ts := startServer(t, v, h, nil)
		st := ts.open(request{path: "/inflight"})
		waitDone(t, started, "the handler")
		shut := make(chan error, 1)
		go func() { shut <- ts.srv.Shutdown(limitCtx(t)) }()
		ts.frames.waitFor(t, "GOAWAY")
		// The trace shows the GOAWAY when it is read; a PING round trip
		// makes sure the client's session has also handled it (frames
		// are handled in order).
		if _, err := ts.cs.Ping(limitCtx(t)); err != nil {
			t.Fatalf("Ping after GOAWAY: %v", err)
		}
		if _, err := ts.cs.Open(limitCtx(t), &session.OpenOptions{Headers: requestBlock(v, request{}), Fin: true}); !errors.Is(err, session.ErrGoingAway) {
			t.Errorf("Open after GOAWAY: %v, want ErrGoingAway", err)
		}
		close(release)
		if resp := ts.read(st).must(t, 200); string(resp.body) != "finished" {
			t.Errorf("in-flight body %q", resp.body)
		}
		if err := recv(t, shut, "Shutdown"); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := recv(t, ts.done, "ServeConn"); err != nil {
			t.Fatalf("ServeConn after Shutdown: %v", err)
		}
		ts.done <- nil // for the cleanup
	})
}

func TestShutdownTimesOut(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	ts := startServer(t, session.V31, h, nil)
	ts.open(request{})
	waitDone(t, started, "the handler")
	ctx, cancel := context.WithCancel(context.Background())
	shut := make(chan error, 1)
	go func() { shut <- ts.srv.Shutdown(ctx) }()
	ts.frames.waitFor(t, "GOAWAY")
	cancel()
	if err := recv(t, shut, "Shutdown"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown: %v, want context.Canceled", err)
	}
	close(release)
}

func TestCloseEndsHandlers(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		h, started, ctxErr := blockUntilDone()
		ts := startServer(t, v, h, nil)
		st := ts.open(request{})
		waitDone(t, started, "the handler")
		ts.srv.Close()
		if err := recv(t, ctxErr, "the context"); !errors.Is(err, context.Canceled) {
			t.Fatalf("context %v", err)
		}
		if _, err := st.WaitHeaders(limitCtx(t)); err == nil {
			t.Fatal("a response arrived after Close")
		}
		c1, c2 := tcpPair(t)
		defer c1.Close()
		if err := ts.srv.ServeConn(c2, nil); !errors.Is(err, ErrServerClosed) {
			t.Fatalf("ServeConn after Close: %v, want ErrServerClosed", err)
		}
	})
}

func TestServe(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		ln := listenLoopback(t)
		srv := &Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "served %s", r.URL.Path) }),
			Session: &session.Config{Version: v},
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		for i := 0; i < 2; i++ { // two connections, one session each
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			cs, err := session.NewClient(conn, &session.Config{Version: v})
			if err != nil {
				t.Fatal(err)
			}
			ts := &testServer{t: t, v: v, cs: cs}
			resp := ts.do(request{path: fmt.Sprintf("/%d", i)}).must(t, 200)
			if want := fmt.Sprintf("served /%d", i); string(resp.body) != want {
				t.Errorf("body %q, want %q", resp.body, want)
			}
			defer cs.Close()
		}
		if err := srv.Shutdown(limitCtx(t)); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := recv(t, served, "Serve"); !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Serve returned %v, want ErrServerClosed", err)
		}
		if err := srv.Serve(ln); !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Serve after Shutdown: %v", err)
		}
	})
}

func TestServeSessionWithoutManualReply(t *testing.T) {
	c1, c2 := tcpPair(t)
	ss, err := session.NewServer(c2, nil) // replies automatically
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Via", "headers")
		w.WriteHeader(202)
		io.WriteString(w, "accepted")
	})}
	done := make(chan error, 1)
	go func() { done <- srv.ServeSession(ss) }()
	cs, err := session.NewClient(c1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	ts := &testServer{t: t, v: session.V31, cs: cs}
	st := ts.open(request{})
	if _, err := st.WaitHeaders(limitCtx(t)); err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(st)
	if err != nil || string(body) != "accepted" {
		t.Fatalf("body %q, %v", body, err)
	}
	fields := st.Headers()
	if code, _, err := parseStatus(fields, session.V31); err != nil || code != 202 {
		t.Fatalf("status from HEADERS: %d, %v (%q)", code, err, fields)
	}
	st.Close()
	srv.Close()
	recv(t, done, "ServeSession")
}

func TestConcurrentRequests(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.Write(b)
		})
		ts := startServer(t, v, h, nil)
		const n = 50
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := deterministic(uint64(i), 20<<10)
				st, err := ts.cs.Open(context.Background(), &session.OpenOptions{Headers: requestBlock(v, request{method: "POST"})})
				if err != nil {
					errs <- err
					return
				}
				defer st.Close()
				go func() {
					st.Write(body)
					st.CloseWrite()
				}()
				if _, err := st.WaitHeaders(context.Background()); err != nil {
					errs <- err
					return
				}
				got, err := io.ReadAll(st)
				if err == nil && !bytes.Equal(got, body) {
					err = fmt.Errorf("stream %d echoed %d bytes, not its own %d", st.ID(), len(got), len(body))
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
}

func TestBodyCloseUnblocksRead(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		readErr := make(chan error, 1)
		reading := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			go func() {
				close(reading)
				_, err := r.Body.Read(make([]byte, 10))
				readErr <- err
			}()
			<-reading
			r.Body.Close()
			var err error
			select {
			case err = <-readErr:
			case <-time.After(waitLimit):
				err = errors.New("the blocked Read did not return")
			}
			if _, err2 := r.Body.Read(make([]byte, 1)); err2 == nil {
				err = errors.New("a Read after Close succeeded")
			}
			if err == nil {
				err = errors.New("no error")
			}
			io.WriteString(w, err.Error())
		})
		ts := startServer(t, v, h, nil)
		st := ts.open(request{method: "POST", open: true}) // sends nothing
		resp := ts.read(st).must(t, 200)
		if string(resp.body) != http.ErrBodyReadAfterClose.Error() {
			t.Errorf("Read after Close: %q", resp.body)
		}
	})
}

func TestUnreadUploadEndsCleanly(t *testing.T) {
	forVersions(t, flowVersions, func(t *testing.T, v session.Version) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "too big", http.StatusRequestEntityTooLarge) // the body is never read
		})
		ts := startServer(t, v, h, nil)
		st := ts.open(request{method: "POST", open: true})
		writeErr := make(chan error, 1)
		go func() {
			_, err := st.Write(make([]byte, 4<<20)) // far beyond the window
			writeErr <- err
		}()
		fields, err := st.WaitHeaders(limitCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if code, _, _ := parseStatus(fields, v); code != 413 {
			t.Fatalf("status %d", code)
		}
		body, err := io.ReadAll(st)
		if err != nil || string(body) != "too big\n" {
			t.Fatalf("body %q, %v: the response must arrive whole", body, err)
		}
		var re *stream.ResetError
		if err := recv(t, writeErr, "the upload"); !errors.As(err, &re) || re.Status != framing.StatusCancel {
			t.Fatalf("upload ended with %v, want the server's CANCEL", err)
		}
		st.Close()
	})
}

type ctxKey struct{}

func TestBaseContext(t *testing.T) {
	seen := make(chan any, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen <- r.Context().Value(ctxKey{}) })
	ts := startServer(t, session.V31, h, &serverOpts{server: func(s *Server) {
		s.BaseContext = func(*session.Session) context.Context {
			return context.WithValue(context.Background(), ctxKey{}, "base")
		}
	}})
	ts.do(request{}).must(t, 200)
	if got := recv(t, seen, "the handler"); got != "base" {
		t.Fatalf("context value %v", got)
	}
}

func TestWriteHeaderRules(t *testing.T) {
	forVersions(t, versions, func(t *testing.T, v session.Version) {
		late := make(chan error, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints) // informational: not sent over SPDY
			w.WriteHeader(http.StatusCreated)
			w.WriteHeader(http.StatusTeapot) // superfluous: ignored
			io.WriteString(w, "x")
			if _, ok := w.(http.Hijacker); ok {
				io.WriteString(w, " hijackable")
			}
			go func() {
				<-r.Context().Done()
				_, err := w.Write([]byte("after"))
				late <- err
			}()
		})
		ts := startServer(t, v, h, nil)
		resp := ts.do(request{}).must(t, 201)
		if string(resp.body) != "x" {
			t.Errorf("body %q", resp.body)
		}
		if err := recv(t, late, "a write after the handler returned"); err == nil {
			t.Error("a write after the handler returned succeeded")
		}
	})
}

func TestInvalidWriteHeaderCodeResets(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(42) })
	ts := startServer(t, session.V31, h, nil)
	var re *stream.ResetError
	if resp := ts.do(request{}); !errors.As(resp.err, &re) || re.Status != framing.StatusInternalError {
		t.Fatalf("WriteHeader(42): %v, want INTERNAL_ERROR", resp.err)
	}
}
