package httpadapter

import (
	"bytes"
	"compress/gzip"
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
	"net/http/httptest"
	"net/url"
	"reflect"
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

// ctWatchdog bounds every wait of the client tests. It detects hangs; it
// is not a measure of speed.
const ctWatchdog = 20 * time.Second

// ctMode is a protocol version, over plain TCP (prior knowledge) or TLS
// with ALPN.
type ctMode struct {
	name string
	v    session.Version
	tls  bool
}

var ctModes = []ctMode{
	{"spdy2", session.V2, false},
	{"spdy3", session.V3, false},
	{"spdy3.1", session.V31, false},
	{"spdy2-tls", session.V2, true},
	{"spdy3-tls", session.V3, true},
	{"spdy3.1-tls", session.V31, true},
}

var ctPlain = []ctMode{ctModes[0], ctModes[1], ctModes[2]}

func ctEach(t *testing.T, modes []ctMode, f func(t *testing.T, m ctMode)) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { f(t, m) })
	}
}

// ctRecv waits for a value on ch, failing the test if none comes.
func ctRecv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(ctWatchdog):
		t.Fatalf("gave up waiting for %s", what)
		panic("unreachable")
	}
}

// ctPoll polls cond until it holds, failing the test after a bounded
// number of tries.
func ctPoll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 4000; i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

// ctCerts is a self-signed certificate for 127.0.0.1, ::1 and localhost,
// generated once per run.
var ctCerts = sync.OnceValue(func() ctPair {
	var p ctPair
	p.cert, p.pool, p.err = selfsigned.Loopback("httpadapter client test")
	return p
})

// ctPair is a certificate, a pool that trusts it, or why they are missing.
type ctPair struct {
	cert tls.Certificate
	pool *x509.CertPool
	err  error
}

// ctCert returns the run's self-signed certificate and a pool that trusts
// it.
func ctCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	p := ctCerts()
	if p.err != nil {
		t.Fatal(p.err)
	}
	return p.cert, p.pool
}

// ctListener counts the connections it accepts.
type ctListener struct {
	net.Listener
	n *atomic.Int32
}

func (l *ctListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// ctEnv is a Server on loopback and a Transport that talks to it.
type ctEnv struct {
	t     *testing.T
	mode  ctMode
	srv   *Server
	tr    *Transport
	ln    net.Listener
	base  string // scheme://127.0.0.1:port
	addr  string // 127.0.0.1:port
	conns atomic.Int32
	wg    sync.WaitGroup
}

// ctStart serves h in mode m and returns the environment, which the
// test's cleanup closes.
func ctStart(t *testing.T, m ctMode, h http.Handler) *ctEnv {
	t.Helper()
	e := &ctEnv{t: t, mode: m}
	e.srv = &Server{Handler: h, Session: &session.Config{Version: m.v}}
	ln := listenLoopback(t)
	e.addr = ln.Addr().String()
	e.ln = &ctListener{Listener: ln, n: &e.conns}
	e.tr = &Transport{Version: m.v}
	if m.tls {
		cert, pool := ctCert(t)
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{m.v.String()}}
		tln := tls.NewListener(e.ln, cfg)
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.serveTLS(tln)
		}()
		e.tr.TLSClientConfig = &tls.Config{RootCAs: pool}
		e.base = "https://" + e.addr
	} else {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.srv.Serve(e.ln)
		}()
		e.base = "http://" + e.addr
	}
	t.Cleanup(e.close)
	return e
}

// serveTLS serves the connections of ln, each with the version its ALPN
// chose.
func (e *ctEnv) serveTLS(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			tc := c.(*tls.Conn)
			ctx, cancel := context.WithTimeout(context.Background(), ctWatchdog)
			defer cancel()
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return
			}
			state := tc.ConnectionState()
			v, err := session.ParseVersion(state.NegotiatedProtocol)
			if err != nil {
				c.Close()
				return
			}
			e.srv.ServeConn(tc, &ServeConnOpts{Version: v, TLS: &state})
		}()
	}
}

func (e *ctEnv) close() {
	e.tr.CloseIdleConnections()
	if n := e.active(); n != 0 {
		e.t.Errorf("%d requests still counted active at the end of the test", n)
	}
	e.srv.Close()
	e.ln.Close()
	e.wg.Wait()
	e.tr.closeAll()
}

// active sums the requests counted active on the Transport's sessions.
func (e *ctEnv) active() int {
	e.tr.mu.Lock()
	defer e.tr.mu.Unlock()
	n := 0
	for cc := range e.tr.conns {
		cc.mu.Lock()
		n += cc.active
		cc.mu.Unlock()
	}
	return n
}

// onlyConn returns the Transport's single session.
func (e *ctEnv) onlyConn() *ClientConn {
	e.t.Helper()
	e.tr.mu.Lock()
	defer e.tr.mu.Unlock()
	if len(e.tr.conns) != 1 {
		e.t.Fatalf("transport has %d sessions, want 1", len(e.tr.conns))
	}
	for cc := range e.tr.conns {
		return cc
	}
	return nil
}

func (e *ctEnv) get(path string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := e.tr.RoundTrip(req)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	return resp
}

func ctBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}

func ctData(seed uint64, n int) []byte {
	r := mrand.New(mrand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestTransportGet(t *testing.T) {
	ctEach(t, ctModes, func(t *testing.T, m ctMode) {
		e := ctStart(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Method", r.Method)
			w.Header().Set("X-Host", r.Host)
			w.Header().Set("X-Got", r.Header.Get("X-Test"))
			fmt.Fprintf(w, "hello %s?%s", r.URL.Path, r.URL.RawQuery)
		}))
		req, _ := http.NewRequest(http.MethodGet, e.base+"/a/b?x=1", nil)
		req.Header.Set("X-Test", "yes")
		resp, err := e.tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Status != "200 OK" || resp.Proto != "HTTP/1.1" {
			t.Errorf("status %q proto %q", resp.Status, resp.Proto)
		}
		if resp.Request != req {
			t.Error("resp.Request is not the request")
		}
		want := "hello /a/b?x=1"
		if got := ctBody(t, resp); got != want {
			t.Errorf("body %q, want %q", got, want)
		}
		if resp.ContentLength != int64(len(want)) {
			t.Errorf("ContentLength %d, want %d", resp.ContentLength, len(want))
		}
		if got := resp.Header.Get("X-Host"); got != e.addr {
			t.Errorf("server saw host %q, want %q", got, e.addr)
		}
		if resp.Header.Get("X-Method") != "GET" || resp.Header.Get("X-Got") != "yes" {
			t.Errorf("headers %v", resp.Header)
		}
		if m.tls {
			if resp.TLS == nil || resp.TLS.NegotiatedProtocol != m.v.String() {
				t.Errorf("TLS state %+v, want protocol %s", resp.TLS, m.v)
			}
		} else if resp.TLS != nil {
			t.Error("TLS state on a plain connection")
		}
		// Through an http.Client, on the same session.
		c := &http.Client{Transport: e.tr}
		resp, err = c.Get(e.base + "/again")
		if err != nil {
			t.Fatal(err)
		}
		if got := ctBody(t, resp); got != "hello /again?" {
			t.Errorf("second body %q", got)
		}
		if n := e.conns.Load(); n != 1 {
			t.Errorf("%d connections, want 1", n)
		}
		if v := e.onlyConn().Session().Version(); v != m.v {
			t.Errorf("session version %v, want %v", v, m.v)
		}
	})
}

func TestTransportPostEcho(t *testing.T) {
	data := ctData(1, 5<<20)
	sum := sha256.Sum256(data)
	ctEach(t, ctModes, func(t *testing.T, m ctMode) {
		e := ctStart(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Request-Length", strconv.FormatInt(r.ContentLength, 10))
			io.Copy(w, r.Body)
		}))
		for _, known := range []bool{true, false} {
			var body io.Reader = bytes.NewReader(data)
			if !known {
				body = io.MultiReader(body) // hides the length
			}
			req, _ := http.NewRequest(http.MethodPost, e.base+"/echo", body)
			resp, err := e.tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			wantCL := "-1"
			if known {
				wantCL = strconv.Itoa(len(data))
			}
			if got := resp.Header.Get("X-Request-Length"); got != wantCL {
				t.Errorf("known=%v: server saw ContentLength %s, want %s", known, got, wantCL)
			}
			h := sha256.New()
			n, err := io.Copy(h, resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("known=%v: reading echo: %v", known, err)
			}
			if n != int64(len(data)) || !bytes.Equal(h.Sum(nil), sum[:]) {
				t.Errorf("known=%v: echo of %d bytes does not match the %d sent", known, n, len(data))
			}
		}
	})
}

func TestTransportConcurrentRequestsShareOneSession(t *testing.T) {
	ctEach(t, ctModes, func(t *testing.T, m ctMode) {
		var mu sync.Mutex
		remotes := map[string]bool{}
		e := ctStart(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			remotes[r.RemoteAddr] = true
			mu.Unlock()
			io.WriteString(w, "n="+r.URL.Query().Get("i"))
		}))
		const n = 100
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/?i=%d", e.base, i), nil)
				resp, err := e.tr.RoundTrip(req)
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					errs <- err
					return
				}
				if want := fmt.Sprintf("n=%d", i); string(b) != want {
					errs <- fmt.Errorf("body %q, want %q", b, want)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if c := e.conns.Load(); c != 1 {
			t.Errorf("%d connections for %d requests, want 1", c, n)
		}
		if len(remotes) != 1 {
			t.Errorf("requests came from %d sessions, want 1", len(remotes))
		}
		if got := e.onlyConn().Session().Stats().StreamsOpened; got != n {
			t.Errorf("session opened %d streams, want %d", got, n)
		}
	})
}

func TestTransportMultiValuedHeaders(t *testing.T) {
	ctEach(t, ctModes, func(t *testing.T, m ctMode) {
		e := ctStart(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Set-Cookie", "a=1")
			w.Header().Add("Set-Cookie", "b=2; Path=/")
			w.Header().Add("Set-Cookie", "c=3")
			w.Header()["X-Echo"] = r.Header["X-Multi"]
		}))
		req, _ := http.NewRequest(http.MethodGet, e.base+"/", nil)
		req.Header.Add("X-Multi", "one")
		req.Header.Add("X-Multi", "two")
		resp, err := e.tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		ctBody(t, resp)
		if got, want := resp.Header["Set-Cookie"], []string{"a=1", "b=2; Path=/", "c=3"}; !reflect.DeepEqual(got, want) {
			t.Errorf("Set-Cookie %q, want %q", got, want)
		}
		if got, want := resp.Header["X-Echo"], []string{"one", "two"}; !reflect.DeepEqual(got, want) {
			t.Errorf("request header arrived as %q, want %q", got, want)
		}
	})
}

func TestTransportTrailers(t *testing.T) {
	ctEach(t, ctModes, func(t *testing.T, m ctMode) {
		e := ctStart(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			got := r.Trailer.Get("X-Req-Sum")
			w.Header().Set("Trailer", "X-Resp-Sum")
			w.WriteHeader(200)
			w.Write(body)
			w.(http.Flusher).Flush()
			w.Header().Set("X-Resp-Sum", "resp:"+got)
			w.Header().Set(http.TrailerPrefix+"X-Late", "late")
		}))
		pr, pw := io.Pipe()
		req, _ := http.NewRequest(http.MethodPost, e.base+"/t", pr)
		req.Trailer = http.Header{"X-Req-Sum": nil}
		go func() {
			pw.Write([]byte("abc"))
			req.Trailer.Set("X-Req-Sum", "req-abc")
			pw.Close()
		}()
		resp, err := e.tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := resp.Trailer["X-Resp-Sum"]; !ok || v != nil {
			t.Errorf("before the body: Trailer %v, want X-Resp-Sum announced without a value", resp.Trailer)
		}
		if _, ok := resp.Header["Trailer"]; ok {
			t.Error("the Trailer header stays in resp.Header")
		}
		if got := ctBody(t, resp); got != "abc" {
			t.Errorf("body %q", got)
		}
		if got := resp.Trailer.Get("X-Resp-Sum"); got != "resp:req-abc" {
			t.Errorf("trailer X-Resp-Sum %q, want %q (Trailer %v)", got, "resp:req-abc", resp.Trailer)
		}
		if got := resp.Trailer.Get("X-Late"); got != "late" {
			t.Errorf("undeclared trailer X-Late %q (Trailer %v)", got, resp.Trailer)
		}
	})
}

func TestTransportBodylessResponses(t *testing.T) {
	ctEach(t, ctModes, func(t *testing.T, m ctMode) {
		e := ctStart(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/head":
				w.Header().Set("Content-Length", "1234")
				if r.Method != http.MethodHead {
					w.Write(make([]byte, 1234))
				}
			case "/204":
				w.WriteHeader(http.StatusNoContent)
			case "/304":
				w.Header().Set("ETag", `"v1"`)
				w.WriteHeader(http.StatusNotModified)
			}
		}))
		req, _ := http.NewRequest(http.MethodHead, e.base+"/head", nil)
		resp, err := e.tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.ContentLength != 1234 || resp.Body != http.NoBody {
			t.Errorf("HEAD: status %d, ContentLength %d, body %T", resp.StatusCode, resp.ContentLength, resp.Body)
		}
		if n := e.active(); n != 0 {
			t.Errorf("HEAD: %d requests active after a bodyless response", n)
		}
		resp = e.get("/204")
		if resp.StatusCode != 204 || resp.ContentLength != 0 || resp.Body != http.NoBody {
			t.Errorf("204: status %d, ContentLength %d, body %T", resp.StatusCode, resp.ContentLength, resp.Body)
		}
		resp = e.get("/304")
		if resp.StatusCode != 304 || resp.ContentLength != 0 || resp.Body != http.NoBody || resp.Header.Get("ETag") != `"v1"` {
			t.Errorf("304: status %d, ContentLength %d, body %T, header %v", resp.StatusCode, resp.ContentLength, resp.Body, resp.Header)
		}
		if n := e.active(); n != 0 {
			t.Errorf("%d requests active after bodyless responses", n)
		}
		if got := ctBody(t, e.get("/head")); len(got) != 1234 {
			t.Errorf("GET after HEAD: %d bytes", len(got))
		}
	})
}

func TestTransportContextCancelResetsStream(t *testing.T) {
	ctEach(t, ctModes, func(t *testing.T, m ctMode) {
		started := make(chan struct{}, 1)
		seen := make(chan error, 2)
		e := ctStart(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/body" {
				w.Write([]byte("x"))
				w.(http.Flusher).Flush()
			}
			started <- struct{}{}
			select {
			case <-r.Context().Done():
				seen <- r.Context().Err()
			case <-time.After(ctWatchdog):
				seen <- errors.New("request context never cancelled")
			}
		}))

		// Cancelled while the body streams.
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/body", nil)
		resp, err := e.tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		ctRecv(t, started, "handler start")
		buf := make([]byte, 1)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := ctRecv(t, seen, "server cancellation"); !errors.Is(err, context.Canceled) {
			t.Errorf("server: %v", err)
		}
		if _, err := resp.Body.Read(buf); !errors.Is(err, context.Canceled) {
			t.Errorf("body read after cancel: %v, want context.Canceled", err)
		}
		resp.Body.Close()

		// Cancelled while waiting for the headers.
		ctx, cancel = context.WithCancel(context.Background())
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/headers", nil)
		errc := make(chan error, 1)
		go func() {
			resp, err := e.tr.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		ctRecv(t, started, "handler start")
		cancel()
		if err := ctRecv(t, errc, "RoundTrip"); !errors.Is(err, context.Canceled) {
			t.Errorf("RoundTrip: %v, want context.Canceled", err)
		}
		if err := ctRecv(t, seen, "server cancellation"); !errors.Is(err, context.Canceled) {
			t.Errorf("server: %v", err)
		}
		cc := e.onlyConn()
		if got := cc.Session().Stats().ResetsSent[framing.StatusCancel]; got < 2 {
			t.Errorf("%d RST_STREAM CANCEL sent, want 2", got)
		}
		if !cc.CanTakeNewRequest() {
			t.Error("cancelled requests ended the session")
		}
	})
}

func TestTransportBodyCloseResetsStream(t *testing.T) {
	ctEach(t, ctModes, func(t *testing.T, m ctMode) {
		seen := make(chan error, 1)
		e := ctStart(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/small" {
				io.WriteString(w, "ok")
				return
			}
			chunk := make([]byte, 16<<10)
			for i := 0; i < 100000; i++ {
				if _, err := w.Write(chunk); err != nil {
					seen <- err
					return
				}
				w.(http.Flusher).Flush()
			}
			seen <- errors.New("the whole body was written")
		}))
		resp := e.get("/")
		buf := make([]byte, 100)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if err := ctRecv(t, seen, "handler end"); err == nil || err.Error() == "the whole body was written" {
			t.Errorf("handler: %v, want a write error", err)
		}
		if _, err := resp.Body.Read(buf); err == nil {
			t.Error("read after Close succeeded")
		}
		cc := e.onlyConn()
		if got := cc.Session().Stats().ResetsSent[framing.StatusCancel]; got != 1 {
			t.Errorf("%d RST_STREAM CANCEL sent, want 1", got)
		}
		if got := ctBody(t, e.get("/small")); got != "ok" {
			t.Errorf("the session after a reset: body %q", got)
		}
	})
}

func TestTransportRequestBodyError(t *testing.T) {
	ctEach(t, ctPlain, func(t *testing.T, m ctMode) {
		seen := make(chan error, 1)
		started := make(chan struct{})
		e := ctStart(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			_, err := io.ReadAll(r.Body)
			seen <- err
		}))
		errDisk := errors.New("disk on fire")
		// The body fails once the handler runs: a stream reset before its
		// handler started gets no handler at all.
		body := io.MultiReader(strings.NewReader("abc"), ctGatedErrReader{started, errDisk})
		req, _ := http.NewRequest(http.MethodPost, e.base+"/", body)
		resp, err := e.tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
			t.Fatal("RoundTrip succeeded with a failing body")
		}
		if !errors.Is(err, errDisk) {
			t.Errorf("RoundTrip: %v, want the body's error", err)
		}
		if err := ctRecv(t, seen, "handler"); err == nil {
			t.Error("the handler read a complete body")
		}
	})
}

// ctGatedErrReader fails with err once gate is closed.
type ctGatedErrReader struct {
	gate <-chan struct{}
	err  error
}

func (r ctGatedErrReader) Read([]byte) (int, error) {
	<-r.gate
	return 0, r.err
}

func TestTransportFullDuplex(t *testing.T) {
	ctEach(t, ctModes, func(t *testing.T, m ctMode) {
		e := ctStart(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			buf := make([]byte, 5)
			for i := 0; i < 10; i++ {
				if _, err := io.ReadFull(r.Body, buf); err != nil {
					return
				}
				w.Write(bytes.ToUpper(buf))
				w.(http.Flusher).Flush()
			}
		}))
		pr, pw := io.Pipe()
		req, _ := http.NewRequest(http.MethodPost, e.base+"/duplex", pr)
		resp, err := e.tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 5)
		for i := 0; i < 10; i++ {
			if _, err := pw.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(resp.Body, buf); err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
			if string(buf) != "HELLO" {
				t.Fatalf("round %d: %q", i, buf)
			}
		}
		pw.Close()
		if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
			t.Errorf("after the rounds: %q, %v", rest, err)
		}
	})
}

// ctFrameWatch is a slog.Handler of a session's frame trace that reports
// the first frame received whose description contains a text.
type ctFrameWatch struct {
	text string
	once sync.Once
	seen chan struct{}
}

func (h *ctFrameWatch) Enabled(context.Context, slog.Level) bool { return true }
func (h *ctFrameWatch) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *ctFrameWatch) WithGroup(string) slog.Handler            { return h }

func (h *ctFrameWatch) Handle(_ context.Context, r slog.Record) error {
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
	if dir == "in" && strings.Contains(frame, h.text) {
		h.once.Do(func() { close(h.seen) })
	}
	return nil
}

func TestTransportRetryAfterGoAway(t *testing.T) {
	ctEach(t, ctPlain, func(t *testing.T, m ctMode) {
		for _, inFlight := range []bool{false, true} {
			t.Run(fmt.Sprintf("in-flight=%v", inFlight), func(t *testing.T) {
				started := make(chan struct{}, 1)
				release := make(chan struct{})
				handler := func(name string) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if r.URL.Path == "/slow" {
							started <- struct{}{}
							<-release
						}
						io.WriteString(w, name)
					})
				}
				a := ctStart(t, m, handler("A"))
				b := ctStart(t, m, handler("B"))
				var dials atomic.Int32
				watch := &ctFrameWatch{text: "GOAWAY", seen: make(chan struct{})}
				tr := &Transport{
					Version: m.v,
					Session: &session.Config{Logger: slog.New(watch), TraceFrames: true},
					DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
						target := b.addr
						if dials.Add(1) == 1 {
							target = a.addr
						}
						var d net.Dialer
						return d.DialContext(ctx, network, target)
					},
				}
				defer tr.closeAll()
				get := func(path string) (string, error) {
					req, _ := http.NewRequest(http.MethodGet, "http://spdy.test"+path, nil)
					resp, err := tr.RoundTrip(req)
					if err != nil {
						return "", err
					}
					defer resp.Body.Close()
					body, err := io.ReadAll(resp.Body)
					return string(body), err
				}
				if got, err := get("/"); err != nil || got != "A" {
					t.Fatalf("first request: %q, %v", got, err)
				}
				slow := make(chan string, 1)
				if inFlight {
					go func() {
						got, err := get("/slow")
						if err != nil {
							got = err.Error()
						}
						slow <- got
					}()
					ctRecv(t, started, "slow handler")
				}
				shut := make(chan error, 1)
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), ctWatchdog)
					defer cancel()
					shut <- a.srv.Shutdown(ctx)
				}()
				ctRecv(t, watch.seen, "GOAWAY at the client")
				if got, err := get("/"); err != nil || got != "B" {
					t.Errorf("request after GOAWAY: %q, %v; want it served by the new session", got, err)
				}
				close(release)
				if inFlight {
					if got := ctRecv(t, slow, "slow response"); got != "A" {
						t.Errorf("request in flight during GOAWAY: %q, want A", got)
					}
				}
				if err := ctRecv(t, shut, "Shutdown"); err != nil {
					t.Errorf("Shutdown: %v", err)
				}
				if n := dials.Load(); n != 2 {
					t.Errorf("%d dials, want 2", n)
				}
				if a.conns.Load() != 1 || b.conns.Load() != 1 {
					t.Errorf("connections: A %d, B %d; want 1 each", a.conns.Load(), b.conns.Load())
				}
			})
		}
	})
}

// ctRawServer runs server sessions on a loopback listener, each handled
// by serve, for tests that script the server's behavior.
type ctRawServer struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	sess []*session.Session
}

func ctStartRaw(t *testing.T, v session.Version, serve func(sess *session.Session)) *ctRawServer {
	t.Helper()
	ln := listenLoopback(t)
	s := &ctRawServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sess, err := session.NewServer(c, &session.Config{Version: v, ManualReply: true})
			if err != nil {
				c.Close()
				continue
			}
			s.mu.Lock()
			s.sess = append(s.sess, sess)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				serve(sess)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		all := s.sess
		s.mu.Unlock()
		for _, sess := range all {
			sess.Close()
		}
		s.wg.Wait()
	})
	return s
}

func (s *ctRawServer) sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sess)
}

func ctReply(v session.Version, status string) []hpackz.Field {
	n := namesFor(v)
	return []hpackz.Field{{Name: n.status, Value: status}, {Name: n.version, Value: "HTTP/1.1"}}
}

func TestTransportRetryAfterRefusedStream(t *testing.T) {
	ctEach(t, ctPlain, func(t *testing.T, m ctMode) {
		var ids []framing.StreamID
		var mu sync.Mutex
		raw := ctStartRaw(t, m.v, func(sess *session.Session) {
			ctx := context.Background()
			for i := 0; ; i++ {
				st, err := sess.Accept(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				ids = append(ids, st.ID())
				mu.Unlock()
				if i == 0 {
					st.Reset(framing.StatusRefusedStream)
					continue
				}
				body, _ := io.ReadAll(st)
				st.Reply(ctReply(m.v, "200 OK"), false)
				st.Write(append([]byte("ok:"), body...))
				st.Close()
			}
		})
		tr := &Transport{Version: m.v}
		defer tr.closeAll()
		req, _ := http.NewRequest(http.MethodPost, "http://"+raw.ln.Addr().String()+"/", strings.NewReader("payload"))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := ctBody(t, resp); got != "ok:payload" {
			t.Errorf("body %q", got)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(ids) != 2 {
			t.Fatalf("server saw streams %v, want two", ids)
		}
		if raw.sessions() != 1 {
			t.Errorf("%d sessions, want the refused request sent again on the same one", raw.sessions())
		}
	})
}

func TestTransportResponseWithoutStatus(t *testing.T) {
	ctEach(t, ctPlain, func(t *testing.T, m ctMode) {
		seen := make(chan uint64, 1)
		raw := ctStartRaw(t, m.v, func(sess *session.Session) {
			st, err := sess.Accept(context.Background())
			if err != nil {
				return
			}
			n := namesFor(m.v)
			st.Reply([]hpackz.Field{{Name: n.version, Value: "HTTP/1.1"}, {Name: "x", Value: "y"}}, false)
			select {
			case <-st.Done():
				seen <- sess.Stats().ResetsReceived[framing.StatusProtocolError]
			case <-sess.Done():
				seen <- 0
			}
		})
		tr := &Transport{Version: m.v}
		defer tr.closeAll()
		req, _ := http.NewRequest(http.MethodGet, "http://"+raw.ln.Addr().String()+"/", nil)
		if resp, err := tr.RoundTrip(req); err == nil {
			resp.Body.Close()
			t.Fatal("RoundTrip accepted a reply without status")
		}
		if n := ctRecv(t, seen, "server stream end"); n != 1 {
			t.Errorf("server received %d RST_STREAM PROTOCOL_ERROR, want 1", n)
		}
	})
}

func TestTransportRefusesServerStreams(t *testing.T) {
	ctEach(t, ctPlain, func(t *testing.T, m ctMode) {
		seen := make(chan error, 1)
		raw := ctStartRaw(t, m.v, func(sess *session.Session) {
			ctx := context.Background()
			st, err := sess.Accept(ctx)
			if err != nil {
				return
			}
			n := namesFor(m.v)
			out, err := sess.Open(ctx, &session.OpenOptions{Headers: []hpackz.Field{{Name: n.method, Value: "GET"}}})
			if err != nil {
				seen <- err
				return
			}
			_, err = io.ReadAll(out)
			seen <- err
			st.Reply(ctReply(m.v, "200"), true)
		})
		tr := &Transport{Version: m.v}
		defer tr.closeAll()
		req, _ := http.NewRequest(http.MethodGet, "http://"+raw.ln.Addr().String()+"/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != "200 OK" {
			t.Errorf("status %q", resp.Status)
		}
		ctBody(t, resp)
		err = ctRecv(t, seen, "server stream")
		var re *stream.ResetError
		if !errors.As(err, &re) || re.Status != framing.StatusRefusedStream || !re.Remote {
			t.Errorf("server stream: %v, want RST_STREAM REFUSED_STREAM", err)
		}
	})
}

type ctPushed struct {
	url, method, inherited string
	status                 int
	ctype, body            string
	err                    error
}

func ctPushServer(pushErr chan<- error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			p, ok := w.(http.Pusher)
			if !ok {
				pushErr <- errors.New("no http.Pusher")
				return
			}
			pushErr <- p.Push("/style.css", nil)
			io.WriteString(w, "<link rel=stylesheet href=/style.css>")
		case "/style.css":
			w.Header().Set("Content-Type", "text/css")
			io.WriteString(w, "body{}")
		}
	})
}

func TestTransportPushHandler(t *testing.T) {
	ctEach(t, ctModes, func(t *testing.T, m ctMode) {
		pushErr := make(chan error, 1)
		e := ctStart(t, m, ctPushServer(pushErr))
		pushes := make(chan ctPushed, 1)
		e.tr.PushHandler = func(req *http.Request, resp *http.Response) {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			pushes <- ctPushed{
				url: req.URL.String(), method: req.Method, inherited: req.Header.Get("X-Test"),
				status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: string(b), err: err,
			}
		}
		req, _ := http.NewRequest(http.MethodGet, e.base+"/", nil)
		req.Header.Set("X-Test", "inherit")
		resp, err := e.tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := ctBody(t, resp); !strings.Contains(got, "style.css") {
			t.Errorf("page %q", got)
		}
		if err := ctRecv(t, pushErr, "Push"); err != nil {
			t.Fatalf("Push: %v", err)
		}
		p := ctRecv(t, pushes, "pushed response")
		want := ctPushed{url: e.base + "/style.css", method: "GET", inherited: "inherit", status: 200, ctype: "text/css", body: "body{}"}
		if p != want {
			t.Errorf("push %+v, want %+v", p, want)
		}
		ctPoll(t, "pushed stream released", func() bool { return e.active() == 0 })
	})
}

func TestTransportPushRefusedWithoutHandler(t *testing.T) {
	ctEach(t, ctModes, func(t *testing.T, m ctMode) {
		pushErr := make(chan error, 1)
		e := ctStart(t, m, ctPushServer(pushErr))
		if got := ctBody(t, e.get("/")); !strings.Contains(got, "style.css") {
			t.Errorf("page %q", got)
		}
		if err := ctRecv(t, pushErr, "Push"); err != nil && !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("Push: %v", err)
		}
		cc := e.onlyConn()
		ctPoll(t, "RST_STREAM CANCEL of the push", func() bool {
			return cc.Session().Stats().ResetsSent[framing.StatusCancel] == 1
		})
		if got := cc.Session().Stats().StreamsAccepted; got != 0 {
			t.Errorf("client accepted %d pushed streams", got)
		}
	})
}

// ctHTTPS starts an httptest TLS server whose ALPN offers protos.
func ctHTTPS(t *testing.T, protos []string, h2 bool) *httptest.Server {
	cert, _ := ctCert(t)
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	hs.EnableHTTP2 = h2
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: protos}
	hs.StartTLS()
	t.Cleanup(hs.Close)
	return hs
}

func TestTransportFallback(t *testing.T) {
	for _, c := range []struct {
		name   string
		protos []string
		h2     bool
		proto  string
	}{
		{"http1", []string{"http/1.1"}, false, "HTTP/1.1"},
		{"http2", []string{"h2", "http/1.1"}, true, "HTTP/2.0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			hs := ctHTTPS(t, c.protos, c.h2)
			_, pool := ctCert(t)
			tr := &Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
			defer tr.CloseIdleConnections()
			for i := 0; i < 2; i++ {
				req, _ := http.NewRequest(http.MethodGet, hs.URL+"/", nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				if got := ctBody(t, resp); got != c.proto || resp.Proto != c.proto {
					t.Errorf("request %d: served over %q, response %q; want %s", i, got, resp.Proto, c.proto)
				}
			}
			u, _ := url.Parse(hs.URL)
			key, _, _, _ := originKey(u)
			tr.mu.Lock()
			o := tr.origins[key]
			n := len(tr.conns)
			tr.mu.Unlock()
			if o == nil || !o.fallback || n != 0 {
				t.Errorf("origin %+v, %d sessions; want the fallback remembered and no session", o, n)
			}
		})
	}
}

func TestTransportTLSNextProto(t *testing.T) {
	m := ctModes[5]
	e := ctStart(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "spdy "+r.URL.Path)
	}))
	_, pool := ctCert(t)
	ht := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: []string{"spdy/3.1", "http/1.1"}},
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{
			"spdy/3.1": func(authority string, c *tls.Conn) http.RoundTripper {
				cc, err := e.tr.NewClientConn(c, session.V31)
				if err != nil {
					t.Errorf("NewClientConn: %v", err)
					return nil
				}
				return cc
			},
		},
	}
	defer ht.CloseIdleConnections()
	client := &http.Client{Transport: ht}
	for i := 0; i < 3; i++ {
		resp, err := client.Get(e.base + "/p" + strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		if got := ctBody(t, resp); got != "spdy /p"+strconv.Itoa(i) {
			t.Errorf("body %q", got)
		}
		if resp.TLS == nil || resp.TLS.NegotiatedProtocol != "spdy/3.1" {
			t.Errorf("TLS state %+v", resp.TLS)
		}
	}
	if n := e.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestTransportGzip(t *testing.T) {
	text := strings.Repeat("compressible text ", 1000)
	e := ctStart(t, ctModes[2], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			io.WriteString(zw, text)
			zw.Close()
			return
		}
		io.WriteString(w, text)
	}))
	resp := e.get("/")
	if got := ctBody(t, resp); got != text {
		t.Errorf("decompressed body of %d bytes, want %d", len(got), len(text))
	}
	if !resp.Uncompressed || resp.Header.Get("Content-Encoding") != "" || resp.ContentLength != -1 {
		t.Errorf("Uncompressed %v, Content-Encoding %q, ContentLength %d", resp.Uncompressed, resp.Header.Get("Content-Encoding"), resp.ContentLength)
	}
	// The caller's own Accept-Encoding: the body is left as sent.
	req, _ := http.NewRequest(http.MethodGet, e.base+"/", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := e.tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	raw := ctBody(t, resp)
	if resp.Uncompressed || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("Uncompressed %v, Content-Encoding %q", resp.Uncompressed, resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(zr); string(b) != text {
		t.Error("raw gzip body does not decompress to the text")
	}
	tr := &Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	req, _ = http.NewRequest(http.MethodGet, e.base+"/", nil)
	if resp, err = tr.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if got := ctBody(t, resp); got != text || resp.Uncompressed {
		t.Errorf("DisableCompression: %d bytes, Uncompressed %v", len(got), resp.Uncompressed)
	}
}

func TestTransportCloseIdleConnections(t *testing.T) {
	e := ctStart(t, ctModes[2], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	ctBody(t, e.get("/"))
	cc := e.onlyConn()
	e.tr.CloseIdleConnections()
	select {
	case <-cc.Session().Done():
	default:
		t.Error("idle session still running after CloseIdleConnections")
	}
	resp := e.get("/") // a new session; its body not read yet
	cc2 := e.onlyConn()
	if cc2 == cc {
		t.Fatal("request sent on the closed session")
	}
	e.tr.CloseIdleConnections()
	if !cc2.CanTakeNewRequest() {
		t.Error("CloseIdleConnections closed a session with an unread body")
	}
	if got := ctBody(t, resp); got != "ok" {
		t.Errorf("body %q", got)
	}
	e.tr.CloseIdleConnections()
	ctPoll(t, "session end", func() bool {
		select {
		case <-cc2.Session().Done():
			return true
		default:
			return false
		}
	})
	if e.conns.Load() != 2 {
		t.Errorf("%d connections, want 2", e.conns.Load())
	}
}

func TestTransportPing(t *testing.T) {
	ctEach(t, []ctMode{ctModes[2], ctModes[5]}, func(t *testing.T, m ctMode) {
		e := ctStart(t, m, http.NotFoundHandler())
		ctx, cancel := context.WithTimeout(context.Background(), ctWatchdog)
		defer cancel()
		if _, err := e.tr.Ping(ctx, e.base); err != nil {
			t.Fatal(err)
		}
		if !m.tls {
			if _, err := e.tr.Ping(ctx, e.addr); err != nil {
				t.Fatal(err)
			}
		}
		if n := e.conns.Load(); n != 1 {
			t.Errorf("%d connections, want 1", n)
		}
		if got := e.onlyConn().Session().Stats().PingsSent; got < 1 {
			t.Errorf("%d pings sent", got)
		}
	})
}

func TestTransportResponseHeaderTimeout(t *testing.T) {
	release := make(chan struct{})
	e := ctStart(t, ctModes[2], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer close(release)
	e.tr.ResponseHeaderTimeout = 20 * time.Millisecond
	req, _ := http.NewRequest(http.MethodGet, e.base+"/", nil)
	resp, err := e.tr.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("no timeout")
	}
	if !strings.Contains(err.Error(), "timeout awaiting response headers") {
		t.Errorf("error %v", err)
	}
}

func TestTransportRejectsBadRequests(t *testing.T) {
	tr := &Transport{}
	for _, u := range []string{"ftp://example.com/", "http:///nohost"} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if resp, err := tr.RoundTrip(req); err == nil {
			resp.Body.Close()
			t.Errorf("%s: no error", u)
		}
	}
	if _, err := tr.RoundTrip(&http.Request{Method: "GET"}); err == nil {
		t.Error("request without URL: no error")
	}
}

func TestClientDoPingClose(t *testing.T) {
	proceed := make(chan struct{})
	e := ctStart(t, ctModes[2], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stream":
			io.WriteString(w, "first,")
			w.(http.Flusher).Flush()
			<-proceed
			io.WriteString(w, "second")
		case "/echo":
			io.Copy(w, r.Body)
		default:
			io.WriteString(w, r.Host+" "+r.URL.Path)
		}
	}))
	c, err := NewClient(e.addr)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "/rel", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := ctBody(t, resp); got != e.addr+" /rel" {
		t.Errorf("relative request: %q", got)
	}
	req, _ = http.NewRequest(http.MethodPost, "http://example.test/echo", strings.NewReader("data"))
	if resp, err = c.Do(req); err != nil {
		t.Fatal(err)
	}
	if got := ctBody(t, resp); got != "data" {
		t.Errorf("echo %q", got)
	}
	// Do streams: the first part arrives before the handler writes the rest.
	req, _ = http.NewRequest(http.MethodGet, "/stream", nil)
	if resp, err = c.Do(req); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("first,"))
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first," {
		t.Fatalf("first part %q, %v", buf, err)
	}
	close(proceed)
	if got := ctBody(t, resp); got != "second" {
		t.Errorf("second part %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ctWatchdog)
	defer cancel()
	if _, err := c.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if n := e.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := c.Do(req); !errors.Is(err, ErrClientClosed) {
		t.Errorf("Do after Close: %v", err)
	}
	if _, err := c.Ping(ctx); !errors.Is(err, ErrClientClosed) {
		t.Errorf("Ping after Close: %v", err)
	}
}

func TestClientFromTLSConn(t *testing.T) {
	e := ctStart(t, ctModes[4], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "tls "+strconv.FormatBool(r.TLS != nil))
	}))
	_, pool := ctCert(t)
	conn, err := tls.Dial("tcp", e.addr, &tls.Config{RootCAs: pool, NextProtos: []string{"spdy/3"}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := session.ParseVersion(conn.ConnectionState().NegotiatedProtocol)
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	c, err := NewClientFromConn(conn, v)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req, _ := http.NewRequest(http.MethodGet, "https://"+e.addr+"/", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := ctBody(t, resp); got != "tls true" {
		t.Errorf("body %q", got)
	}
	if resp.TLS == nil || resp.TLS.NegotiatedProtocol != "spdy/3" {
		t.Errorf("TLS state %+v", resp.TLS)
	}
	c.t.closeAll() // the session ends: the Client does not dial
	req, _ = http.NewRequest(http.MethodGet, "https://"+e.addr+"/", nil)
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Error("Do succeeded after the session ended")
	}
}

func TestProxyRequest(t *testing.T) {
	backend := ctStart(t, ctModes[2], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/page":
			w.Header().Set("X-In", r.Header.Get("X-In"))
			w.Header().Set("X-Saw-Hop", r.Header.Get("X-Hop"))
			w.Header().Set("X-Query", r.URL.RawQuery)
			w.Header().Add("Set-Cookie", "a=1")
			w.Header().Add("Set-Cookie", "b=2")
			w.Header().Set("Trailer", "X-Sum")
			w.Header().Set("Connection", "X-Private")
			w.Header().Set("X-Private", "hop")
			for i := 0; i < 3; i++ {
				fmt.Fprintf(w, "chunk%d;", i)
				w.(http.Flusher).Flush()
			}
			w.Header().Set("X-Sum", "3 chunks")
		case "/echo":
			io.Copy(w, r.Body)
		case "/up-trailer":
			body, err := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s|%s|%v", body, r.Trailer.Get("X-Up"), err)
		case "/boom":
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic("boom")
		}
	}))
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Scheme, r.URL.Host = "http", backend.addr
		if err := ProxyRequest(backend.tr, w, r); err != nil {
			http.Error(w, "bad gateway", http.StatusBadGateway)
		}
	}))
	defer front.Close()
	client := front.Client()
	defer client.CloseIdleConnections()

	req, _ := http.NewRequest(http.MethodGet, front.URL+"/page?q=1", nil)
	req.Header.Set("X-In", "in")
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "secret")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := ctBody(t, resp); got != "chunk0;chunk1;chunk2;" {
		t.Errorf("body %q", got)
	}
	if resp.StatusCode != 200 || resp.Header.Get("X-In") != "in" || resp.Header.Get("X-Query") != "q=1" {
		t.Errorf("status %d, header %v", resp.StatusCode, resp.Header)
	}
	if got := resp.Header.Get("X-Saw-Hop"); got != "" {
		t.Errorf("the header named by Connection reached the backend: %q", got)
	}
	if got := resp.Header.Get("X-Private"); got != "" {
		t.Errorf("the response header named by Connection reached the client: %q", got)
	}
	if got, want := resp.Header["Set-Cookie"], []string{"a=1", "b=2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Set-Cookie %q, want %q", got, want)
	}
	if got := resp.Trailer.Get("X-Sum"); got != "3 chunks" {
		t.Errorf("trailer %q (Trailer %v)", got, resp.Trailer)
	}

	data := ctData(2, 1<<20)
	resp, err = client.Post(front.URL+"/echo", "application/octet-stream", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if got := ctBody(t, resp); got != string(data) {
		t.Errorf("echo of %d bytes returned %d", len(data), len(got))
	}

	// Request trailers travel through the proxy.
	req, _ = http.NewRequest(http.MethodPost, front.URL+"/up-trailer", io.NopCloser(strings.NewReader("up")))
	req.ContentLength = -1
	req.Trailer = http.Header{"X-Up": {"sent-last"}}
	if resp, err = client.Do(req); err != nil {
		t.Fatal(err)
	}
	if got := ctBody(t, resp); got != "up|sent-last|<nil>" {
		t.Errorf("backend saw %q, want the body and its trailer", got)
	}

	// A failure in the middle of the body aborts the response.
	resp, err = client.Get(front.URL + "/boom")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Error("a reset upstream body reached the client as complete")
	}

	// A failure before the headers is the caller's to answer.
	dead := listenLoopback(t)
	deadAddr := dead.Addr().String()
	dead.Close()
	var proxyErr error
	front2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Scheme, r.URL.Host = "http", deadAddr
		if proxyErr = ProxyRequest(backend.tr, w, r); proxyErr != nil {
			http.Error(w, "bad gateway", http.StatusBadGateway)
		}
	}))
	defer front2.Close()
	resp, err = client.Get(front2.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	ctBody(t, resp)
	if resp.StatusCode != http.StatusBadGateway || proxyErr == nil {
		t.Errorf("status %d, error %v; want 502 and an error", resp.StatusCode, proxyErr)
	}
}

// BenchmarkTransportGet measures small requests on one session, from as
// many goroutines as GOMAXPROCS (-cpu) times 16.
func BenchmarkTransportGet(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 1024)
	srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(payload) })}
	ln := listenLoopback(b)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	defer func() {
		srv.Close()
		<-done
	}()
	tr := &Transport{}
	defer tr.closeAll()
	url := "http://" + ln.Addr().String() + "/"
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 2048)
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.ReadFull(resp.Body, buf[:len(payload)])
			resp.Body.Close()
			if n != len(payload) {
				b.Errorf("body of %d bytes", n)
				return
			}
		}
	})
}

// ProxyRequest sends what the upstream wrote as soon as the upstream
// pauses: the headers, then each part, each before the upstream goes on.
func TestProxyRequestFlushesWhenUpstreamPauses(t *testing.T) {
	step := make(chan struct{})
	backend := ctStart(t, ctModes[2], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Stage", "headers")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-step // the client saw the headers
		io.WriteString(w, "first;")
		w.(http.Flusher).Flush()
		<-step // the client read the first part
		io.WriteString(w, "second")
	}))
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Scheme, r.URL.Host = "http", backend.addr
		if err := ProxyRequest(backend.tr, w, r); err != nil {
			http.Error(w, "bad gateway", http.StatusBadGateway)
		}
	}))
	defer front.Close()
	client := front.Client()
	defer client.CloseIdleConnections()
	resp, err := client.Get(front.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("X-Stage") != "headers" {
		t.Fatalf("headers %v", resp.Header)
	}
	step <- struct{}{}
	buf := make([]byte, len("first;"))
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first;" {
		t.Fatalf("first part %q, %v", buf, err)
	}
	step <- struct{}{}
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "second" {
		t.Fatalf("rest %q, %v", rest, err)
	}
}
