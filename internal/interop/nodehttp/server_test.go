package nodehttp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/internal/interop/nodepeer"
	"github.com/spdygo/spdy/internal/interop/testcert"
	"github.com/spdygo/spdy/npn"
	"github.com/spdygo/spdy/session"
)

// TestNodeClientOurServer runs a node-spdy agent (spdy.createAgent, with
// node's http and https modules) against our Server for every version:
// over plain TCP (Server.Serve with the version configured, the agent
// told the version) and over TLS (an http.Server prepared by
// npn.ConfigureServer, the agent offering only the version under test by
// ALPN). node runs the same scenario as TestOurClientNodeServer, on one
// session: a small GET with a multi-valued request header, a 10 MiB
// download, a 5 MiB upload echoed back (once through node's http module
// and once through spdy-transport's own stream API on the agent's
// session), 100 concurrent requests, Range requests answered by
// http.ServeContent, two Set-Cookie headers, a push sent with http.Pusher
// and received by node's 'push' event, and a PING from node.
//
// http.js patches node-spdy's socket emulation for node-spdy#369 (see
// there and TestNodeQuirkEmulationWrites), without which the agent's
// uploads fail at random whatever the server.
func TestNodeClientOurServer(t *testing.T) {
	for _, m := range modes {
		for _, v := range versions {
			t.Run(m.name+"/"+alpn(v), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
				defer cancel()
				s := startOurServer(t, m, v)
				node := startNode(t, s.clientArgs()...)
				for _, step := range steps {
					t.Run(step.name, func(t *testing.T) {
						var r stepResult
						node.Wait(ctx, "step", func(e nodepeer.Event) bool {
							var h struct{ Name string }
							e.Decode(t, &h)
							return h.Name == step.name
						}).Decode(t, &r)
						step.check(t, s, &r)
					})
				}
				node.Wait(ctx, "done", nil)
				if err := node.WaitExit(ctx); err != nil {
					t.Errorf("node: %v", err)
				}
				if n := s.accepted.Load(); n != 1 {
					t.Errorf("%d connections accepted, want the agent's one session", n)
				}
			})
		}
	}
}

// ourServer is our Server on a loopback port, plain or TLS.
type ourServer struct {
	m        mode
	v        session.Version
	port     int
	caFile   string
	accepted atomic.Int32
	echoed   chan echoRecord
	big      []byte
	bigSum   string
	pushed   []byte
	pushSum  string
}

// echoRecord is what the /echo handler received.
type echoRecord struct {
	bytes  int64
	sha256 string
	err    error
}

func startOurServer(t *testing.T, m mode, v session.Version) *ourServer {
	t.Helper()
	s := &ourServer{m: m, v: v, echoed: make(chan echoRecord, 4)}
	s.big = make([]byte, bigSize)
	rand.Read(s.big)
	sum := sha256.Sum256(s.big)
	s.bigSum = hex.EncodeToString(sum[:])
	s.pushed = make([]byte, pushSize)
	rand.Read(s.pushed)
	sum = sha256.Sum256(s.pushed)
	s.pushSum = hex.EncodeToString(sum[:])

	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &countingListener{Listener: inner, n: &s.accepted}
	s.port = inner.Addr().(*net.TCPAddr).Port
	log := debugLogger(t)
	spdySrv := &httpadapter.Server{
		Handler: s.handler(),
		// node flow-controls SPDY/2 and writes only the 8-byte GOAWAY:
		// see session.Config.V2Compat. Version is the plain port's.
		Session: &session.Config{Version: v, V2Compat: true, Logger: log, TraceFrames: log != nil},
		Logger:  log,
	}
	served := make(chan error, 1)
	if !m.tls {
		go func() { served <- spdySrv.Serve(ln) }()
		t.Cleanup(func() {
			spdySrv.Close()
			if err := <-served; !errors.Is(err, httpadapter.ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
		})
		return s
	}
	cs := testcert.New(t)
	s.caFile = cs.CertFile
	hs := &http.Server{
		Handler:   s.handler(), // HTTP/1.1 and HTTP/2; none expected
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cs.Pair}},
		ErrorLog:  logTo(t),
	}
	if err := npn.ConfigureServer(hs, spdySrv); err != nil {
		t.Fatal(err)
	}
	go func() { served <- hs.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		hs.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("ServeTLS: %v", err)
		}
	})
	return s
}

// clientArgs are the arguments of the node client for this server.
func (s *ourServer) clientArgs() []string {
	args := []string{"client", "--port", strconv.Itoa(s.port), "--protocol", alpn(s.v)}
	if s.m.tls {
		args = append(args, "--ca", s.caFile)
	}
	return args
}

// rangeModTime is the modification time http.ServeContent gives /range.
var rangeModTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func (s *ourServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/plain")
		h.Set("X-Seen-Multi", strings.Join(r.Header["X-Multi"], "|"))
		h.Set("X-Seen-Host", r.Host)
		if r.TLS != nil {
			h.Set("X-Negotiated", r.TLS.NegotiatedProtocol)
		}
		io.WriteString(w, "hello from spdygo\n")
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("size") != strconv.Itoa(bigSize) {
			http.Error(w, "unexpected size", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(bigSize))
		w.Header().Set("X-Sha256", s.bigSum)
		for off := 0; off < len(s.big); off += 64 << 10 {
			if _, err := w.Write(s.big[off:min(off+64<<10, len(s.big))]); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		h := sha256.New()
		n, err := io.Copy(w, io.TeeReader(r.Body, h))
		select {
		case s.echoed <- echoRecord{bytes: n, sha256: hex.EncodeToString(h.Sum(nil)), err: err}:
		default:
		}
	})
	mux.HandleFunc("/range", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "range.bin", rangeModTime, bytes.NewReader(rangeBody()))
	})
	mux.HandleFunc("/cookies", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "a=1; Path=/")
		w.Header().Add("Set-Cookie", "b=2; Path=/")
		w.Header().Set("X-Seen-Multi", strings.Join(r.Header["X-Multi"], "|"))
		io.WriteString(w, "cookies")
	})
	mux.HandleFunc("/push", func(w http.ResponseWriter, r *http.Request) {
		p, ok := w.(http.Pusher)
		if !ok {
			http.Error(w, "no http.Pusher", http.StatusInternalServerError)
			return
		}
		if err := p.Push("/pushed.js", &http.PushOptions{Header: http.Header{"Accept": {"*/*"}}}); err != nil {
			w.Header().Set("X-Push-Error", err.Error())
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<script src="/pushed.js"></script>`)
	})
	mux.HandleFunc("/pushed.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/javascript")
		w.Header().Set("X-Sha256", s.pushSum)
		w.Write(s.pushed)
	})
	mux.HandleFunc("/n/{i}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "n="+r.PathValue("i"))
	})
	return mux
}

// stepResult is what the node client reports for one step.
type stepResult struct {
	Name       string
	Status     int
	Headers    map[string]json.RawMessage
	Bytes      int
	Sha256     string
	Body       *string
	Error      string
	SentBytes  int
	SentSha256 string
	OK         int `json:"ok"`
	Failures   []json.RawMessage
	Cases      []struct {
		Range        string
		Status       int
		ContentRange string
		Want         string
		BodyOK       bool
		Error        string
	}
	Push *struct {
		Path    string
		Method  string
		Headers map[string]json.RawMessage
		Bytes   int
		Sha256  string
		Error   string
		Missing bool
	}
	Pong bool
}

// header returns the first value of a response header node reported.
func (r *stepResult) header(name string) string {
	if vv := headerValues(r.Headers[name]); len(vv) > 0 {
		return vv[0]
	}
	return ""
}

// ok checks that the request succeeded with status 200.
func (r *stepResult) ok(t *testing.T) bool {
	t.Helper()
	if r.Error != "" || r.Status != 200 {
		t.Errorf("node: status %d, error %q", r.Status, r.Error)
		return false
	}
	return true
}

func (r *stepResult) body() string {
	if r.Body == nil {
		return "<none>"
	}
	return *r.Body
}

// steps are the node client's steps, in its order, with their checks.
var steps = []struct {
	name  string
	check func(t *testing.T, s *ourServer, r *stepResult)
}{
	{"small", func(t *testing.T, s *ourServer, r *stepResult) {
		if !r.ok(t) {
			return
		}
		if r.body() != "hello from spdygo\n" {
			t.Errorf("body %q", r.body())
		}
		// node sends its two values NUL-separated; we keep them apart.
		if got := r.header("x-seen-multi"); got != "a|b" {
			t.Errorf("our handler saw X-Multi %q, want a|b", got)
		}
		if got := r.header("x-seen-host"); !strings.HasPrefix(got, "127.0.0.1") {
			t.Errorf("our handler saw Host %q", got)
		}
		if s.m.tls && r.header("x-negotiated") != alpn(s.v) {
			t.Errorf("negotiated %q, want %s", r.header("x-negotiated"), alpn(s.v))
		}
	}},
	{"big", func(t *testing.T, s *ourServer, r *stepResult) {
		if r.ok(t) && (r.Bytes != bigSize || r.Sha256 != s.bigSum || r.header("x-sha256") != s.bigSum) {
			t.Errorf("node received %d bytes with SHA-256 %s, want %d, %s", r.Bytes, r.Sha256, bigSize, s.bigSum)
		}
	}},
	{"upload", checkUpload},
	{"upload-transport", checkUpload},
	{"concurrent", func(t *testing.T, s *ourServer, r *stepResult) {
		if r.OK != concurrent {
			t.Errorf("%d of %d requests answered right; failures: %s", r.OK, concurrent, r.Failures)
		}
	}},
	{"range", func(t *testing.T, s *ourServer, r *stepResult) {
		if len(r.Cases) != 4 {
			t.Fatalf("%d range cases reported", len(r.Cases))
		}
		for _, k := range r.Cases[:3] {
			if k.Status != http.StatusPartialContent || k.ContentRange != k.Want || !k.BodyOK {
				t.Errorf("%s: status %d, Content-Range %q (want %q), body right: %v, error %q", k.Range, k.Status, k.ContentRange, k.Want, k.BodyOK, k.Error)
			}
		}
		if k := r.Cases[3]; k.Status != http.StatusRequestedRangeNotSatisfiable || k.ContentRange != fmt.Sprintf("bytes */%d", rangeSize) {
			t.Errorf("%s: status %d, Content-Range %q", k.Range, k.Status, k.ContentRange)
		}
	}},
	{"cookies", func(t *testing.T, s *ourServer, r *stepResult) {
		if !r.ok(t) {
			return
		}
		if got, want := headerValues(r.Headers["set-cookie"]), []string{"a=1; Path=/", "b=2; Path=/"}; !slices.Equal(got, want) {
			t.Errorf("node received Set-Cookie %q, want %q", got, want)
		}
		if got := r.header("x-seen-multi"); got != "a|b" {
			t.Errorf("our handler saw X-Multi %q, want a|b", got)
		}
	}},
	{"push", func(t *testing.T, s *ourServer, r *stepResult) {
		if !r.ok(t) {
			return
		}
		if e := r.header("x-push-error"); e != "" {
			t.Errorf("Push: %s", e)
		}
		if r.body() != `<script src="/pushed.js"></script>` {
			t.Errorf("body %q", r.body())
		}
		p := r.Push
		if p == nil || p.Missing {
			t.Fatal("node received no push")
		}
		// A SPDY/2 push names the full URL in "url" (the draft says so;
		// node reports it as the path), a SPDY/3 push the path.
		wantPath := "/pushed.js"
		if s.v == session.V2 {
			wantPath = "https://127.0.0.1/pushed.js" // node's requests say https, and so its host
		}
		if p.Error != "" || p.Path != wantPath || p.Bytes != pushSize || p.Sha256 != s.pushSum {
			t.Errorf("node received push %s (error %q): %d bytes, SHA-256 %s, want %d, %s", p.Path, p.Error, p.Bytes, p.Sha256, pushSize, s.pushSum)
		}
		if ct := headerValues(p.Headers["content-type"]); !slices.Equal(ct, []string{"application/javascript"}) {
			t.Errorf("pushed content-type %q", ct)
		}
	}},
	{"ping", func(t *testing.T, s *ourServer, r *stepResult) {
		if !r.Pong || r.Error != "" {
			t.Errorf("node's ping: pong %v, error %q", r.Pong, r.Error)
		}
	}},
}

func checkUpload(t *testing.T, s *ourServer, r *stepResult) {
	if !r.ok(t) {
		return
	}
	if r.Bytes != uploadSize || r.SentBytes != uploadSize || r.Sha256 != r.SentSha256 {
		t.Errorf("node sent %d bytes (%s), received %d back (%s)", r.SentBytes, r.SentSha256, r.Bytes, r.Sha256)
	}
	select {
	case e := <-s.echoed:
		if e.err != nil || e.bytes != uploadSize || e.sha256 != r.SentSha256 {
			t.Errorf("our handler received %d bytes (%s), error %v", e.bytes, e.sha256, e.err)
		}
	default:
		t.Error("our /echo handler did not run to its end")
	}
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n *atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// logTo returns a log.Logger writing to the test's log.
func logTo(t *testing.T) *log.Logger {
	return log.New(tlog{t}, "", 0)
}
