package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/internal/selfsigned"
	"github.com/spdygo/spdy/internal/syncbuf"
	"github.com/spdygo/spdy/npn"
	"github.com/spdygo/spdy/session"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitLimit bounds every wait of the tests; it guards against hangs and
// measures nothing.
const waitLimit = 60 * time.Second

// syncBuffer is a buffer safe for concurrent use.
type syncBuffer = syncbuf.Buffer

// runResult is the outcome of one run of spdyload.
type runResult struct {
	code           int
	stdout, stderr string
}

func (r runResult) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// spdyload runs the command in-process under ctx.
func spdyload(ctx context.Context, args ...string) runResult {
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	code := run(ctx, args, &stdout, &stderr)
	return runResult{code, stdout.String(), stderr.String()}
}

// loadJSON runs spdyload with -json and decodes its report.
func loadJSON(t *testing.T, ctx context.Context, args ...string) (*report, runResult) {
	t.Helper()
	res := spdyload(ctx, append([]string{"-json"}, args...)...)
	rep := new(report)
	if err := json.Unmarshal([]byte(res.stdout), rep); err != nil {
		t.Fatalf("decoding the report: %v; %v", err, res)
	}
	return rep, res
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// listen listens on a free loopback port.
func listen(t *testing.T) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &countingListener{Listener: ln}
}

// spdyServer serves h over SPDY version v on plain TCP (prior knowledge)
// and returns its base URL and listener.
func spdyServer(t *testing.T, v session.Version, h http.Handler) (string, *countingListener) {
	t.Helper()
	return spdyServerWith(t, &httpadapter.Server{Handler: h, Session: &session.Config{Version: v}})
}

func spdyServerWith(t *testing.T, srv *httpadapter.Server) (string, *countingListener) {
	t.Helper()
	ln := listen(t)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		// net.ErrClosed: a test closed the listener to refuse connections.
		if err := <-served; !errors.Is(err, httpadapter.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String(), ln
}

// What a test TLS server offers by ALPN.
const (
	alpnSPDY = iota // SPDY, HTTP/2 and HTTP/1.1 (npn.ConfigureServer)
	alpnH1          // HTTP/1.1 only
	alpnNone        // no ALPN: HTTP/1.1 without negotiation
)

// tlsServer serves h over TLS on loopback with a self-signed certificate,
// offering alpn. It returns the base URL and a CA file for -ca.
func tlsServer(t *testing.T, alpn int, h http.Handler) (base, caFile string) {
	t.Helper()
	cert, _, err := selfsigned.Loopback("spdyload test")
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o644); err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0), TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	switch alpn {
	case alpnSPDY:
		if err := npn.ConfigureServer(hs, nil); err != nil {
			t.Fatal(err)
		}
	case alpnH1:
		hs.TLSConfig.NextProtos = []string{"http/1.1"}
		hs.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){} // no HTTP/2
	}
	ln := listen(t)
	served := make(chan error, 1)
	if alpn == alpnNone { // ServeTLS would add http/1.1 to NextProtos
		go func() { served <- hs.Serve(tls.NewListener(ln, hs.TLSConfig)) }()
	} else {
		go func() { served <- hs.ServeTLS(ln, "", "") }()
	}
	t.Cleanup(func() {
		hs.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return "https://" + ln.Addr().String(), caFile
}

// h1Server serves h over HTTP/1.1 on plain TCP and returns its base URL
// and the number of connections it accepted so far.
func h1Server(t *testing.T, h http.Handler) (string, func() int64) {
	t.Helper()
	var conns atomic.Int64
	s := httptest.NewUnstartedServer(h)
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s.URL, conns.Load
}

// protoCounter is a handler that answers size bytes and counts the
// requests by the protocol they arrived over.
type protoCounter struct {
	size int
	mu   sync.Mutex
	seen map[string]int64 // "spdy/3.1", ..., "HTTP/1.1" for plain HTTP/1.1
}

func newProtoCounter(size int) *protoCounter {
	return &protoCounter{size: size, seen: map[string]int64{}}
}

func (p *protoCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	proto := r.Proto
	if r.TLS != nil && r.TLS.NegotiatedProtocol != "" {
		proto = r.TLS.NegotiatedProtocol
	}
	p.mu.Lock()
	p.seen[proto]++
	p.mu.Unlock()
	w.Header().Set("Content-Length", strconv.Itoa(p.size))
	w.Write(bytes.Repeat([]byte("x"), p.size))
}

func (p *protoCounter) counts() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.seen)
}

// wantAllSucceeded checks a report of n requests that all succeeded, with
// size bytes of body each, over conns connections of protocol proto.
func wantAllSucceeded(t *testing.T, rep *report, res runResult, n, size int64, conns int64, proto string) {
	t.Helper()
	if res.code != exitOK {
		t.Errorf("exit %d; %v", res.code, res)
	}
	want := requestCounts{Total: n, Started: n, Done: n, Succeeded: n}
	if diff := cmp.Diff(want, rep.Requests); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int64{"other": 0, "1xx": 0, "2xx": n, "3xx": 0, "4xx": 0, "5xx": 0}, rep.Status); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	if rep.Traffic.Body != n*size {
		t.Errorf("body bytes %d, want %d", rep.Traffic.Body, n*size)
	}
	if rep.Traffic.Received <= rep.Traffic.Body || rep.Traffic.Sent <= 0 {
		t.Errorf("traffic %+v: want more received than the bodies, and some sent", rep.Traffic)
	}
	wantConns := connectionCounts{Configured: int(conns), Opened: conns, Protocols: map[string]int64{proto: conns}}
	if diff := cmp.Diff(wantConns, rep.Connections); diff != "" {
		t.Errorf("connections (-want +got):\n%s", diff)
	}
	if len(rep.Errors) != 0 {
		t.Errorf("errors %v", rep.Errors)
	}
	for name, l := range map[string]latency{"first byte": rep.FirstByte, "request": rep.Request} {
		if l.Count != int(n) {
			t.Errorf("time to %s: %d samples, want %d", name, l.Count, n)
		}
		if !(l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max && l.Min <= l.Mean && l.Mean <= l.Max) {
			t.Errorf("time to %s: figures out of order: %+v", name, l)
		}
	}
	if rep.Request.Min < rep.FirstByte.Min || rep.Request.Max < rep.FirstByte.Max {
		t.Errorf("a request took less time than its first byte: %+v, %+v", rep.Request, rep.FirstByte)
	}
}

func TestSPDYPriorKnowledge(t *testing.T) {
	const n, size = 200, 1000
	for _, v := range []session.Version{session.V31, session.V3, session.V2} {
		t.Run(v.String(), func(t *testing.T) {
			h := newProtoCounter(size)
			base, ln := spdyServer(t, v, h)
			rep, res := loadJSON(t, context.Background(), "-n", strconv.Itoa(n), "-c", "2", "-m", "8", "-proto", v.String(), base+"/file")
			wantAllSucceeded(t, rep, res, n, size, 2, v.String())
			if got := ln.n.Load(); got != 2 {
				t.Errorf("server accepted %d connections, want 2", got)
			}
			if diff := cmp.Diff(map[string]int64{"HTTP/1.1": n}, h.counts()); diff != "" {
				t.Errorf("requests seen by the server (-want +got):\n%s", diff)
			}
			if rep.Streams != 8 || rep.Proto != v.String() || rep.URL != base+"/file" || rep.Interrupted {
				t.Errorf("report head: %+v", rep)
			}
		})
	}
}

func TestV2Compat(t *testing.T) {
	// A server speaking SPDY/2 as node does: bodies beyond the 64 KiB
	// window flow only with SPDY/3's WINDOW_UPDATE.
	const size = 300 << 10
	h := newProtoCounter(size)
	base, _ := spdyServerWith(t, &httpadapter.Server{Handler: h, Session: &session.Config{Version: session.V2, V2Compat: true}})
	rep, res := loadJSON(t, context.Background(), "-n", "8", "-c", "2", "-m", "2", "-proto", "spdy/2", "-v2compat", base)
	wantAllSucceeded(t, rep, res, 8, size, 2, "spdy/2")
}

func TestAutoOnPlainTCPIsSPDY31(t *testing.T) {
	h := newProtoCounter(10)
	base, _ := spdyServer(t, session.V31, h)
	rep, res := loadJSON(t, context.Background(), "-n", "30", "-c", "3", "-m", "4", base)
	wantAllSucceeded(t, rep, res, 30, 10, 3, "spdy/3.1")
}

func TestTLSALPN(t *testing.T) {
	const n, size = 60, 5000
	h := newProtoCounter(size)
	base, ca := tlsServer(t, alpnSPDY, h)
	for _, tc := range []struct {
		proto string // -proto
		want  string // negotiated
		m     int    // streams in the report
	}{
		{"auto", "spdy/3.1", 4},
		{"spdy/3.1", "spdy/3.1", 4},
		{"spdy/3", "spdy/3", 4},
		{"spdy/2", "spdy/2", 4},
		{"http/1.1", "http/1.1", 1},
	} {
		t.Run(strings.ReplaceAll(tc.proto, "/", "-"), func(t *testing.T) {
			before := h.counts()[tc.want]
			rep, res := loadJSON(t, context.Background(), "-n", strconv.Itoa(n), "-c", "2", "-m", "4", "-ca", ca, "-proto", tc.proto, base+"/x")
			wantAllSucceeded(t, rep, res, n, size, 2, tc.want)
			if got := h.counts()[tc.want] - before; got != n {
				t.Errorf("server saw %d requests over %s, want %d", got, tc.want, n)
			}
			if rep.Streams != tc.m {
				t.Errorf("%d streams per connection, want %d", rep.Streams, tc.m)
			}
		})
	}
	t.Run("insecure", func(t *testing.T) {
		rep, res := loadJSON(t, context.Background(), "-n", "10", "-insecure", base)
		wantAllSucceeded(t, rep, res, 10, size, 1, "spdy/3.1")
	})
	t.Run("unverified", func(t *testing.T) {
		rep, res := loadJSON(t, context.Background(), "-n", "10", "-c", "2", base)
		if res.code != exitFailed {
			t.Errorf("exit %d, want %d", res.code, exitFailed)
		}
		if rep.Connections.Failed != 2 || rep.Connections.Opened != 0 || rep.Requests.Started != 0 || rep.Requests.Total != 10 {
			t.Errorf("connections %+v, requests %+v", rep.Connections, rep.Requests)
		}
		if e := rep.Errors[kindTLS]; e == nil || e.Count != 2 || !strings.Contains(e.First, "certificate") || len(rep.Errors) != 1 {
			t.Errorf("errors %v", rep.Errors)
		}
	})
}

func TestTLSFallbackToHTTP11(t *testing.T) {
	h := newProtoCounter(100)
	base, ca := tlsServer(t, alpnH1, h)
	rep, res := loadJSON(t, context.Background(), "-n", "40", "-c", "2", "-m", "4", "-ca", ca, base)
	wantAllSucceeded(t, rep, res, 40, 100, 2, "http/1.1")
	if diff := cmp.Diff(map[string]int64{"http/1.1": 40}, h.counts()); diff != "" {
		t.Errorf("requests seen by the server (-want +got):\n%s", diff)
	}

	// A SPDY version is the only one offered: the server picks none.
	rep, res = loadJSON(t, context.Background(), "-n", "40", "-c", "2", "-ca", ca, "-proto", "spdy/3", base)
	if res.code != exitFailed || rep.Connections.Failed != 2 || rep.Requests.Started != 0 {
		t.Errorf("-proto spdy/3 to an HTTP/1.1 server: %+v %+v; %v", rep.Connections, rep.Requests, res)
	}
	// Go's TLS server refuses a handshake without a protocol in common
	// (no_application_protocol); others pick none, which the run refuses.
	if e := rep.Errors[kindTLS]; e == nil || e.Count != 2 || len(rep.Errors) != 1 {
		t.Errorf("errors %v, want 2 tls errors", rep.Errors)
	}

	// A server without ALPN speaks HTTP/1.1.
	h = newProtoCounter(100)
	base, ca = tlsServer(t, alpnNone, h)
	rep, res = loadJSON(t, context.Background(), "-n", "10", "-c", "2", "-m", "2", "-ca", ca, base)
	wantAllSucceeded(t, rep, res, 10, 100, 2, "http/1.1")
	rep, res = loadJSON(t, context.Background(), "-n", "10", "-ca", ca, "-proto", "spdy/3", base)
	if res.code != exitFailed || rep.Connections.Failed != 1 || rep.Requests.Started != 0 {
		t.Errorf("-proto spdy/3 to a server without ALPN: %+v %+v; %v", rep.Connections, rep.Requests, res)
	}
	if e := rep.Errors[kindTLS]; e == nil || e.Count != 1 || e.First != "server negotiated no protocol, not spdy/3" {
		t.Errorf("errors %v (first %+v)", rep.Errors, rep.Errors[kindTLS])
	}
}

func TestHTTP11(t *testing.T) {
	h := newProtoCounter(2000)
	base, conns := h1Server(t, h)
	rep, res := loadJSON(t, context.Background(), "-n", "100", "-c", "3", "-m", "4", "-proto", "http/1.1", base+"/y")
	wantAllSucceeded(t, rep, res, 100, 2000, 3, "http/1.1")
	if got := conns(); got != 3 {
		t.Errorf("server accepted %d connections, want 3", got)
	}
	if diff := cmp.Diff(map[string]int64{"HTTP/1.1": 100}, h.counts()); diff != "" {
		t.Errorf("requests seen by the server (-want +got):\n%s", diff)
	}
	if !strings.Contains(res.stderr, "-m 4 is taken as 1") {
		t.Errorf("stderr %q: want the note on -m", res.stderr)
	}
}

func TestHTTP11Reconnects(t *testing.T) {
	// A server that closes every connection after its response: each
	// request needs a connection of its own.
	base, conns := h1Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye\n")
	}))
	rep, res := loadJSON(t, context.Background(), "-n", "20", "-c", "2", "-proto", "http/1.1", base)
	if res.code != exitOK || rep.Requests.Succeeded != 20 || rep.Traffic.Body != 20*4 {
		t.Errorf("requests %+v, body %d; %v", rep.Requests, rep.Traffic.Body, res)
	}
	if rep.Connections.Opened != 20 || rep.Connections.Protocols["http/1.1"] != 20 || conns() != 20 {
		t.Errorf("connections %+v, server accepted %d; want 20", rep.Connections, conns())
	}
}

func TestHTTP11ReconnectFails(t *testing.T) {
	// The server closes each connection after its response, and stops
	// listening at the 5th request: the 6th cannot connect, which ends the
	// run of the only connection.
	ln := listen(t)
	var count atomic.Int64
	hs := &http.Server{ErrorLog: log.New(io.Discard, "", 0), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if count.Add(1) == 5 {
			ln.Close()
		}
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye\n")
	})}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	t.Cleanup(func() {
		hs.Close()
		<-served // the error of the closed listener
	})
	rep, res := loadJSON(t, context.Background(), "-n", "20", "-proto", "http/1.1", "http://"+ln.Addr().String())
	if res.code != exitFailed {
		t.Errorf("exit %d, want %d", res.code, exitFailed)
	}
	want := requestCounts{Total: 20, Started: 6, Done: 5, Succeeded: 5, Failed: 1, Errored: 1}
	if diff := cmp.Diff(want, rep.Requests); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if e := rep.Errors[kindDial]; e == nil || e.Count != 1 || len(rep.Errors) != 1 {
		t.Errorf("errors %v, want 1 dial error", rep.Errors)
	}
	if rep.Connections.Opened != 5 {
		t.Errorf("connections %+v, want 5 opened", rep.Connections)
	}
}

// bodyChecker answers "got N" for a request body of want bytes, and 400
// for another size.
type bodyChecker struct {
	want    int64
	methods sync.Map // method -> true
}

func (b *bodyChecker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.methods.Store(r.Method, true)
	n, err := io.Copy(io.Discard, r.Body)
	if err != nil || n != b.want {
		http.Error(w, fmt.Sprintf("body of %d bytes (%v), want %d", n, err, b.want), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "got %d\n", n)
}

func TestBody(t *testing.T) {
	const size = 100000
	reply := int64(len(fmt.Sprintf("got %d\n", size)))
	for _, proto := range []string{"spdy/3.1", "spdy/3", "spdy/2", "http/1.1"} {
		t.Run(strings.ReplaceAll(proto, "/", "-"), func(t *testing.T) {
			h := &bodyChecker{want: size}
			var base string
			if proto == "http/1.1" {
				base, _ = h1Server(t, h)
			} else {
				v, _ := session.ParseVersion(proto)
				base, _ = spdyServer(t, v, h)
			}
			rep, res := loadJSON(t, context.Background(), "-n", "30", "-c", "2", "-m", "4", "-body", strconv.Itoa(size), "-proto", proto, base+"/upload")
			wantAllSucceeded(t, rep, res, 30, reply, 2, proto)
			if rep.Traffic.Sent < 30*size {
				t.Errorf("sent %d bytes, want at least the %d of the bodies", rep.Traffic.Sent, 30*size)
			}
			if _, ok := h.methods.Load("POST"); !ok {
				t.Error("no POST seen")
			}
		})
	}
	t.Run("method", func(t *testing.T) {
		h := &bodyChecker{want: 10}
		base, _ := spdyServer(t, session.V31, h)
		rep, res := loadJSON(t, context.Background(), "-n", "5", "-body", "10", "-method", "PUT", base)
		wantAllSucceeded(t, rep, res, 5, int64(len("got 10\n")), 1, "spdy/3.1")
		if _, ok := h.methods.Load("PUT"); !ok {
			t.Error("no PUT seen")
		}
	})
}

func TestHeaders(t *testing.T) {
	var bad atomic.Int64
	var mu sync.Mutex
	var first string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := fmt.Sprintf("%s %s host=%s x-test=%q ua=%q", r.Method, r.URL.Path, r.Host, r.Header.Values("X-Test"), r.Header.Get("User-Agent"))
		if got != `GET /h host=example.test x-test=["a" "b"] ua="spdyload/1"` {
			bad.Add(1)
			mu.Lock()
			first = got
			mu.Unlock()
		}
	})
	for _, proto := range []string{"spdy/3.1", "spdy/2"} {
		v, _ := session.ParseVersion(proto)
		base, _ := spdyServer(t, v, h)
		rep, res := loadJSON(t, context.Background(), "-n", "10", "-m", "3", "-proto", proto, "-H", "X-Test: a", "-H", "x-test:b", "-H", "Host: example.test", base+"/h")
		wantAllSucceeded(t, rep, res, 10, 0, 1, proto)
	}
	base, _ := h1Server(t, h)
	rep, res := loadJSON(t, context.Background(), "-n", "10", "-proto", "http/1.1", "-H", "X-Test: a", "-H", "x-test:b", "-H", "Host: example.test", base+"/h")
	wantAllSucceeded(t, rep, res, 10, 0, 1, "http/1.1")
	if n := bad.Load(); n != 0 {
		mu.Lock()
		defer mu.Unlock()
		t.Errorf("%d requests not as sent, such as %s", n, first)
	}
}

// flaky answers the n-th request (from 1) with 500 when n%10 == 3 and
// resets it (a handler panic) when n%10 == 7.
func flaky(size int) (http.Handler, *atomic.Int64) {
	var count atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch count.Add(1) % 10 {
		case 3:
			http.Error(w, "planned failure", http.StatusInternalServerError)
		case 7:
			panic(http.ErrAbortHandler)
		default:
			w.Write(bytes.Repeat([]byte("y"), size))
		}
	}), &count
}

func TestFailures(t *testing.T) {
	h, count := flaky(100)
	base, _ := spdyServer(t, session.V31, h)
	rep, res := loadJSON(t, context.Background(), "-n", "100", "-c", "2", "-m", "5", base)
	if res.code != exitFailed {
		t.Errorf("exit %d, want %d", res.code, exitFailed)
	}
	want := requestCounts{Total: 100, Started: 100, Done: 90, Succeeded: 80, Failed: 20, Errored: 10}
	if diff := cmp.Diff(want, rep.Requests); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if rep.Status["5xx"] != 10 || rep.Status["2xx"] != 80 {
		t.Errorf("status %v", rep.Status)
	}
	if e := rep.Errors[kindReset]; e == nil || e.Count != 10 || len(rep.Errors) != 1 {
		t.Errorf("errors %v, want 10 resets", rep.Errors)
	}
	if rep.Connections.Opened != 2 || rep.Connections.Failed != 0 {
		t.Errorf("connections %+v: a reset stream ends only itself", rep.Connections)
	}
	if count.Load() != 100 {
		t.Errorf("server saw %d requests", count.Load())
	}

	// The text report says the same.
	h, _ = flaky(100)
	base, _ = spdyServer(t, session.V31, h)
	res = spdyload(context.Background(), "-n", "100", "-c", "2", "-m", "5", base)
	t.Logf("the report:\n%s", res.stdout)
	for _, line := range []string{
		"requests: 100 total, 100 started, 90 done, 80 succeeded, 20 failed, 10 errored, 0 aborted, 0 retried\n",
		"status codes: 0 1xx, 80 2xx, 0 3xx, 0 4xx, 10 5xx\n",
		"connections: 2 opened (spdy/3.1 2), 0 failed\n",
		"\n  reset          10  first: ",
	} {
		if !strings.Contains(res.stdout, line) {
			t.Errorf("report lacks %q:\n%s", line, res.stdout)
		}
	}
	if res.code != exitFailed {
		t.Errorf("exit %d, want %d", res.code, exitFailed)
	}
}

func TestOnly4xxSucceeds(t *testing.T) {
	base, _ := spdyServer(t, session.V31, http.NotFoundHandler())
	rep, res := loadJSON(t, context.Background(), "-n", "10", "-m", "2", base)
	if res.code != exitOK || rep.Requests.Succeeded != 10 || rep.Status["4xx"] != 10 {
		t.Errorf("404s: %+v %v; %v", rep.Requests, rep.Status, res)
	}
}

func TestTimeout(t *testing.T) {
	// Every fifth request never gets an answer: -timeout ends it.
	var count atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if count.Add(1)%5 == 0 {
			select {
			case <-r.Context().Done():
			case <-time.After(waitLimit):
			}
			return
		}
		io.WriteString(w, "ok")
	})
	base, _ := spdyServer(t, session.V3, h)
	rep, res := loadJSON(t, context.Background(), "-n", "20", "-m", "20", "-proto", "spdy/3", "-timeout", "2s", base)
	if res.code != exitFailed {
		t.Errorf("exit %d, want %d", res.code, exitFailed)
	}
	want := requestCounts{Total: 20, Started: 20, Done: 16, Succeeded: 16, Failed: 4, Errored: 4}
	if diff := cmp.Diff(want, rep.Requests); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if e := rep.Errors[kindTimeout]; e == nil || e.Count != 4 || len(rep.Errors) != 1 {
		t.Errorf("errors %v, want 4 timeouts", rep.Errors)
	}
}

func TestGoAwayReplacesTheConnection(t *testing.T) {
	// The server shuts each session down gracefully after its 10th
	// request: the connection is replaced and no request fails.
	type key struct{}
	var mu sync.Mutex
	perSession := map[*session.Session]int{}
	var shutdowns sync.WaitGroup
	srv := &httpadapter.Server{
		BaseContext: func(s *session.Session) context.Context { return context.WithValue(context.Background(), key{}, s) },
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := r.Context().Value(key{}).(*session.Session)
		mu.Lock()
		perSession[s]++
		n := perSession[s]
		mu.Unlock()
		if n == 10 {
			shutdowns.Add(1)
			go func() {
				defer shutdowns.Done()
				ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
				defer cancel()
				s.Shutdown(ctx)
			}()
		}
		io.WriteString(w, "ok")
	})
	base, ln := spdyServerWith(t, srv)
	t.Cleanup(shutdowns.Wait)
	rep, res := loadJSON(t, context.Background(), "-n", "100", "-m", "4", base)
	if res.code != exitOK || rep.Requests.Succeeded != 100 || rep.Requests.Failed != 0 || len(rep.Errors) != 0 {
		t.Errorf("requests %+v, errors %v; %v", rep.Requests, rep.Errors, res)
	}
	if rep.Connections.Opened < 2 || rep.Connections.Opened != ln.n.Load() || rep.Connections.Failed != 0 {
		t.Errorf("connections %+v, server accepted %d: want the first replaced", rep.Connections, ln.n.Load())
	}
}

func TestServerGone(t *testing.T) {
	// At the 10th request the server stops listening and ends the session
	// at once: that request fails, and so does the new connection.
	type key struct{}
	var count atomic.Int64
	var ln *countingListener
	srv := &httpadapter.Server{
		BaseContext: func(s *session.Session) context.Context { return context.WithValue(context.Background(), key{}, s) },
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if count.Add(1) == 10 {
				ln.Close()
				r.Context().Value(key{}).(*session.Session).Close()
				return
			}
			io.WriteString(w, "ok")
		}),
	}
	var base string
	base, ln = spdyServerWith(t, srv)
	rep, res := loadJSON(t, context.Background(), "-n", "100", base)
	if res.code != exitFailed {
		t.Errorf("exit %d, want %d", res.code, exitFailed)
	}
	want := requestCounts{Total: 100, Started: 10, Done: 9, Succeeded: 9, Failed: 1, Errored: 1}
	if diff := cmp.Diff(want, rep.Requests); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if rep.Connections.Opened != 1 || rep.Connections.Failed != 1 {
		t.Errorf("connections %+v, want 1 opened and 1 failed", rep.Connections)
	}
	for kind, e := range rep.Errors {
		t.Logf("%s: %d, first %s", kind, e.Count, e.First)
	}
	lost := rep.Errors[kindGoAway]
	if lost == nil {
		lost = rep.Errors[kindConnection]
	}
	if e := rep.Errors[kindDial]; e == nil || e.Count != 1 || lost == nil || lost.Count != 1 || len(rep.Errors) != 2 {
		t.Errorf("errors %v, want 1 dial error and the session lost", rep.Errors)
	}
}

func TestDialFailure(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	rep, res := loadJSON(t, context.Background(), "-n", "10", "-c", "3", "http://"+addr+"/")
	if res.code != exitFailed {
		t.Errorf("exit %d, want %d", res.code, exitFailed)
	}
	if rep.Connections.Failed != 3 || rep.Connections.Opened != 0 || rep.Requests.Started != 0 || rep.Requests.Total != 10 {
		t.Errorf("connections %+v, requests %+v", rep.Connections, rep.Requests)
	}
	if e := rep.Errors[kindDial]; e == nil || e.Count != 3 || len(rep.Errors) != 1 {
		t.Errorf("errors %v, want 3 dial errors", rep.Errors)
	}
}

func TestDuration(t *testing.T) {
	base, _ := spdyServer(t, session.V31, newProtoCounter(10))
	// -n given with -d: whichever comes first ends the run.
	rep, res := loadJSON(t, context.Background(), "-d", "1h", "-n", "50", "-c", "2", "-m", "4", base)
	wantAllSucceeded(t, rep, res, 50, 10, 2, "spdy/3.1")

	// -d alone: as many requests as fit, all of them counted.
	rep, res = loadJSON(t, context.Background(), "-d", "100ms", "-c", "2", "-m", "4", base)
	q := rep.Requests
	if res.code != exitOK || q.Total != q.Started || q.Done != q.Started || q.Succeeded != q.Done || q.Failed != 0 || rep.Interrupted {
		t.Errorf("requests %+v; %v", q, res)
	}
	if rep.Traffic.Body != 10*q.Done {
		t.Errorf("body bytes %d for %d requests", rep.Traffic.Body, q.Done)
	}
}

func TestInterrupt(t *testing.T) {
	// The 10th request to arrive interrupts the run while all ten wait.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var arrived atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) == 10 {
			cancel()
		}
		select {
		case <-r.Context().Done():
		case <-time.After(waitLimit):
		}
	})
	base, _ := spdyServer(t, session.V31, h)
	rep, res := loadJSON(t, ctx, "-d", "1h", "-c", "2", "-m", "5", base)
	if res.code != exitInterrupted || !rep.Interrupted {
		t.Errorf("exit %d, interrupted %v; want %d, true", res.code, rep.Interrupted, exitInterrupted)
	}
	want := requestCounts{Total: 10, Started: 10, Aborted: 10}
	if diff := cmp.Diff(want, rep.Requests); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if len(rep.Errors) != 0 || rep.Connections.Failed != 0 {
		t.Errorf("errors %v, connections %+v", rep.Errors, rep.Connections)
	}
}

func TestTextReport(t *testing.T) {
	base, _ := spdyServer(t, session.V31, newProtoCounter(100))
	res := spdyload(context.Background(), "-n", "20", "-c", "1", "-m", "3", base+"/t")
	if res.code != exitOK || res.stderr != "" {
		t.Fatalf("%v", res)
	}
	t.Logf("the report:\n%s", res.stdout)
	for _, line := range []string{
		"spdyload " + base + "/t: -proto auto, 1 connection, 3 streams each\n",
		"\nfinished in ",
		"requests: 20 total, 20 started, 20 done, 20 succeeded, 0 failed, 0 errored, 0 aborted, 0 retried\n",
		"status codes: 0 1xx, 20 2xx, 0 3xx, 0 4xx, 0 5xx\n",
		"(2000) body",
		"connections: 1 opened (spdy/3.1 1), 0 failed\n",
		"errors: none\n",
		"\ntime to 1st byte: ",
		"\ntime for request: ",
	} {
		if !strings.Contains(res.stdout, line) {
			t.Errorf("report lacks %q:\n%s", line, res.stdout)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"http://a", "http://b"},
		{"-n", "0", "http://a"},
		{"-c", "0", "http://a"},
		{"-m", "0", "http://a"},
		{"-d", "-1s", "http://a"},
		{"-timeout", "-1s", "http://a"},
		{"-body", "-1", "http://a"},
		{"-proto", "spdy/4", "http://a"},
		{"-proto", "h2", "http://a"},
		{"-H", "no colon", "http://a"},
		{"-H", "Bad Name: x", "http://a"},
		{"-method", "GET /", "http://a"},
		{"-insecure", "-ca", "x.pem", "https://a"},
		{"-ca", filepath.Join(t.TempDir(), "missing.pem"), "https://a"},
		{"-zz", "http://a"},
		{"-n", "many", "http://a"},
		{"ftp://a/"},
		{"http://"},
	} {
		res := spdyload(context.Background(), args...)
		if res.code != exitUsage || res.stdout != "" || !strings.HasPrefix(res.stderr, "spdyload: ") || !strings.Contains(res.stderr, "usage: spdyload") {
			t.Errorf("%q: %v", args, res)
		}
	}
	res := spdyload(context.Background(), "-h")
	if res.code != exitOK || !strings.HasPrefix(res.stdout, "usage: spdyload [flags] URL") || !strings.Contains(res.stdout, "-proto protocol") || !strings.Contains(res.stdout, "Exit status:") {
		t.Errorf("-h: %v", res)
	}
}

func TestFlagsAfterURL(t *testing.T) {
	base, _ := spdyServer(t, session.V2, newProtoCounter(1))
	rep, res := loadJSON(t, context.Background(), base, "-n", "7", "-proto", "spdy/2")
	wantAllSucceeded(t, rep, res, 7, 1, 1, "spdy/2")
}
