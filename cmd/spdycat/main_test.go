package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spdygo/spdy/framing"
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

// testServer serves, on one port, the test's files and handlers over
// SPDY (sniffed) and HTTP/1.1 with Upgrade to SPDY/3.1, or over TLS with
// ALPN. It is spdyd's arrangement, made from the same packages.
type testServer struct {
	base     string // http://127.0.0.1:port or https://...
	root     string
	ln       *countingListener
	upgrades atomic.Int64
	protos   sync.Map // request path -> protocol it arrived over
	order    *orderGate
}

// orderGate makes the handlers of /order?id=I&n=N wait until N requests
// have arrived, then finish in reverse order of id.
type orderGate struct {
	mu      sync.Mutex
	arrived int
	all     chan struct{}
	done    map[int]chan struct{}
}

func (g *orderGate) serve(w http.ResponseWriter, r *http.Request) {
	var id, n int
	fmt.Sscan(r.URL.Query().Get("id"), &id)
	fmt.Sscan(r.URL.Query().Get("n"), &n)
	g.mu.Lock()
	g.arrived++
	if g.arrived == n {
		close(g.all)
	}
	var next chan struct{}
	if id+1 < n {
		next = g.done[id+1]
	}
	mine := g.done[id]
	g.mu.Unlock()
	defer close(mine)
	for _, ch := range []chan struct{}{g.all, next} {
		if ch == nil {
			continue // the last id waits for no one
		}
		select {
		case <-ch:
		case <-time.After(waitLimit):
			http.Error(w, "timed out waiting", http.StatusInternalServerError)
			return
		}
	}
	fmt.Fprintf(w, "response %d\n", id)
}

// echo answers with what the request carried.
func echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "method=%s\n", r.Method)
	for _, k := range names {
		fmt.Fprintf(w, "header %s=%s\n", k, strings.Join(r.Header[k], ","))
	}
	fmt.Fprintf(w, "host=%s\nbody=%s\n", r.Host, body)
}

// pageHTML is /page.html, which pushes two assets.
const pageHTML = "<html><link rel=stylesheet href=style.css><script src=sub/app.js></script></html>\n"

// files are the test server's static files.
var files = map[string]string{
	"hello.txt":  "hello, world\n",
	"style.css":  "body { color: red }\n",
	"sub/app.js": "console.log('app')\n",
}

func (s *testServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(s.root)))
	mux.HandleFunc("/echo", echo)
	mux.HandleFunc("/order", s.order.serve)
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such thing", http.StatusNotFound)
	})
	mux.HandleFunc("/wait", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(waitLimit):
		}
	})
	mux.HandleFunc("/page.html", func(w http.ResponseWriter, r *http.Request) {
		if p, ok := w.(http.Pusher); ok {
			for _, target := range []string{"/style.css", "/sub/app.js"} {
				if err := p.Push(target, nil); err != nil {
					http.Error(w, "push: "+err.Error(), http.StatusInternalServerError)
					return
				}
			}
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, pageHTML)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.protos.Store(r.URL.Path, r.Proto)
		mux.ServeHTTP(w, r)
	})
}

// startServer starts a test server, plain or with TLS.
func startServer(t *testing.T, useTLS bool) *testServer {
	t.Helper()
	s := &testServer{root: t.TempDir(), order: &orderGate{all: make(chan struct{}), done: map[int]chan struct{}{}}}
	for i := range 8 {
		s.order.done[i] = make(chan struct{})
	}
	for name, body := range files {
		p := filepath.Join(s.root, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln = &countingListener{Listener: inner}
	h := s.handler()
	spdy := &httpadapter.Server{Handler: h}
	web := &http.Server{ErrorLog: log.New(io.Discard, "", 0), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			h.ServeHTTP(w, r)
			return
		}
		sess, _, err := npn.Upgrade(w, r, &npn.UpgradeOptions{Session: &session.Config{ManualReply: true}})
		if err != nil {
			return
		}
		s.upgrades.Add(1)
		spdy.ServeSession(sess)
	})}
	served := make(chan error, 1)
	if useTLS {
		cert := testCert(t)
		web.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		if err := npn.ConfigureServer(web, spdy); err != nil {
			t.Fatal(err)
		}
		s.base = "https://" + inner.Addr().String()
		go func() { served <- web.ServeTLS(s.ln, "", "") }()
	} else {
		s.base = "http://" + inner.Addr().String()
		go func() { served <- npn.ServeSniffed(s.ln, spdy, web, nil) }()
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		spdy.Shutdown(ctx)
		web.Shutdown(ctx)
		spdy.Close()
		web.Close()
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return s
}

// testCert returns a self-signed certificate for 127.0.0.1, ::1 and
// localhost.
func testCert(t *testing.T) tls.Certificate {
	t.Helper()
	cert, _, err := selfsigned.Loopback("spdycat test")
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// result is the outcome of one run of spdycat.
type result struct {
	code           int
	stdout, stderr string
}

// spdycat runs the command in-process with args.
func spdycat(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return spdycatEnv(t, &env{stdin: strings.NewReader(stdin)}, args...)
}

func spdycatEnv(t *testing.T, e *env, args ...string) result {
	t.Helper()
	var stdout, stderr syncBuffer
	if e.stdout == nil {
		e.stdout = &stdout
	}
	e.stderr = &stderr
	if e.stdin == nil {
		e.stdin = strings.NewReader("")
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	code := run(ctx, args, e)
	return result{code, stdout.String(), stderr.String()}
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

func TestGetToStdout(t *testing.T) {
	s := startServer(t, false)
	r := spdycat(t, "", s.base+"/hello.txt")
	if r.code != 0 || r.stdout != "hello, world\n" || r.stderr != "" {
		t.Errorf("GET: %v", r)
	}
	if p, _ := s.protos.Load("/hello.txt"); p != "HTTP/1.1" { // the SPDY request's :version
		t.Errorf("request proto %v", p)
	}
	for _, v := range []string{"spdy/3", "spdy/2"} {
		r = spdycat(t, "", "-proto", v, s.base+"/hello.txt")
		if r.code != 0 || r.stdout != "hello, world\n" {
			t.Errorf("-proto %s: %v", v, r)
		}
	}
	if n := s.ln.n.Load(); n != 3 {
		t.Errorf("%d connections for 3 runs", n)
	}
}

func TestOutputFile(t *testing.T) {
	s := startServer(t, false)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.css")
	r := spdycat(t, "", "-o", a, s.base+"/hello.txt", "-o", b, s.base+"/style.css", s.base+"/sub/app.js")
	if r.code != 0 || r.stdout != files["sub/app.js"] {
		t.Errorf("-o: %v", r)
	}
	for name, want := range map[string]string{a: files["hello.txt"], b: files["style.css"]} {
		got, err := os.ReadFile(name)
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
	// -o - is standard output.
	r = spdycat(t, "", "-o", "-", s.base+"/hello.txt")
	if r.code != 0 || r.stdout != files["hello.txt"] {
		t.Errorf("-o -: %v", r)
	}
}

func TestIncludeAndHead(t *testing.T) {
	s := startServer(t, false)
	r := spdycat(t, "", "-i", s.base+"/hello.txt")
	head, body, ok := strings.Cut(r.stdout, "\r\n\r\n")
	if r.code != 0 || !ok || body != files["hello.txt"] || !strings.HasPrefix(head, "HTTP/1.1 200 OK\r\n") ||
		!strings.Contains(head, "\r\nContent-Type: text/plain; charset=utf-8") || !strings.Contains(head, "\r\nContent-Length: 13") {
		t.Errorf("-i: %v", r)
	}
	r = spdycat(t, "", "-I", s.base+"/hello.txt")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(r.stdout, "\r\n\r\n") ||
		!strings.Contains(r.stdout, "\r\nContent-Length: 13\r\n") || strings.Contains(r.stdout, "hello") {
		t.Errorf("-I: %v", r)
	}
	r = spdycat(t, "", "-I", s.base+"/echo")
	if r.code != 0 || strings.Contains(r.stdout, "method=") {
		t.Errorf("-I of /echo: %v", r)
	}
	// The handler saw HEAD: run it again with GET and -X HEAD to compare.
	r = spdycat(t, "", "-X", "HEAD", "-i", s.base+"/hello.txt")
	if r.code != 0 || strings.Contains(r.stdout, "hello") || !strings.HasPrefix(r.stdout, "HTTP/1.1 200 OK") {
		t.Errorf("-X HEAD -i: %v", r)
	}
}

func TestDataAndHeaders(t *testing.T) {
	s := startServer(t, false)
	dir := t.TempDir()
	file := filepath.Join(dir, "form")
	os.WriteFile(file, []byte("a=1\nb=2\r\n"), 0o644)
	for _, tc := range []struct {
		args []string
		in   string
		want []string
	}{
		{[]string{"-d", "x=1&y=2"}, "", []string{"method=POST\n", "body=x=1&y=2\n", "header Content-Type=application/x-www-form-urlencoded\n", "header Content-Length=7\n"}},
		{[]string{"-d", "@" + file}, "", []string{"method=POST\n", "body=a=1b=2\n"}},
		{[]string{"--data-binary", "@" + file}, "", []string{"body=a=1\nb=2\r\n\n"}},
		{[]string{"-d", "@-"}, "from\nstdin", []string{"body=fromstdin\n"}},
		{[]string{"-d", "a", "-d", "b"}, "", []string{"body=a&b\n"}},
		{[]string{"-X", "PUT", "-d", "z"}, "", []string{"method=PUT\n", "body=z\n"}},
		{[]string{"-X", "DELETE"}, "", []string{"method=DELETE\n", "body=\n"}},
		{[]string{}, "", []string{"method=GET\n", "header User-Agent=spdycat/1.0\n", "header Accept=*/*\n"}},
		{[]string{"-H", "X-Test: yes", "-H", "X-Test: again", "-H", "X-Other:  spaced "}, "", []string{"header X-Test=yes,again\n", "header X-Other=spaced\n"}},
		{[]string{"-H", "User-Agent: mine/2"}, "", []string{"header User-Agent=mine/2\n"}},
		{[]string{"-H", "Host: example.test"}, "", []string{"host=example.test\n"}},
		{[]string{"-H", "Content-Type: text/plain", "-d", "q"}, "", []string{"header Content-Type=text/plain\n"}},
	} {
		args := append(append([]string(nil), tc.args...), s.base+"/echo")
		r := spdycat(t, tc.in, args...)
		if r.code != 0 {
			t.Errorf("%q: %v", tc.args, r)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%q: output lacks %q:\n%s", tc.args, w, r.stdout)
			}
		}
	}
	// "Name:" removes a default header.
	r := spdycat(t, "", "-H", "User-Agent:", s.base+"/echo")
	if r.code != 0 || strings.Contains(r.stdout, "User-Agent") {
		t.Errorf("-H 'User-Agent:': %v", r)
	}
	// A body larger than the stream window.
	big := strings.Repeat("0123456789", 30000)
	r = spdycat(t, big, "--data-binary", "@-", s.base+"/echo")
	if r.code != 0 || !strings.Contains(r.stdout, "body="+big+"\n") {
		t.Errorf("300 kB upload: exit %d, %d bytes out, stderr %q", r.code, len(r.stdout), r.stderr)
	}
}

func TestFail(t *testing.T) {
	s := startServer(t, false)
	r := spdycat(t, "", "-f", s.base+"/missing")
	if r.code != exitHTTP || r.stdout != "" || r.stderr != "spdycat: the requested URL returned error: 404\n" {
		t.Errorf("-f 404: %v", r)
	}
	r = spdycat(t, "", s.base+"/missing")
	if r.code != 0 || r.stdout != "no such thing\n" {
		t.Errorf("404 without -f: %v", r)
	}
	r = spdycat(t, "", "-f", s.base+"/hello.txt")
	if r.code != 0 {
		t.Errorf("-f 200: %v", r)
	}
	// With several URLs the first failure decides, and the others are
	// still written.
	r = spdycat(t, "", "-f", s.base+"/hello.txt", s.base+"/missing", s.base+"/style.css")
	if r.code != exitHTTP || r.stdout != files["hello.txt"]+files["style.css"] || !strings.Contains(r.stderr, "/missing: the requested URL returned error: 404") {
		t.Errorf("-f with 3 URLs: %v", r)
	}
}

func TestConcurrentURLsShareOneSession(t *testing.T) {
	s := startServer(t, false)
	const n = 4
	var args []string
	var want strings.Builder
	for i := range n {
		args = append(args, fmt.Sprintf("%s/order?id=%d&n=%d", s.base, i, n))
		fmt.Fprintf(&want, "response %d\n", i)
	}
	r := spdycat(t, "", args...)
	if r.code != 0 || r.stdout != want.String() {
		t.Errorf("%v; want stdout %q", r, want.String())
	}
	if c := s.ln.n.Load(); c != 1 {
		t.Errorf("%d connections, want 1", c)
	}
}

func TestTLS(t *testing.T) {
	s := startServer(t, true)
	r := spdycat(t, "", "-k", "-v", s.base+"/hello.txt", s.base+"/style.css")
	if r.code != 0 || r.stdout != files["hello.txt"]+files["style.css"] {
		t.Errorf("-k: %v", r)
	}
	if !strings.Contains(r.stderr, "* ALPN: server accepted spdy/3.1") || !strings.Contains(r.stderr, "=> SYN_STREAM") {
		t.Errorf("-v over TLS: stderr %q", r.stderr)
	}
	if c := s.ln.n.Load(); c != 1 {
		t.Errorf("%d connections, want 1", c)
	}
	r = spdycat(t, "", s.base+"/hello.txt")
	if r.code != exitConnect || r.stdout != "" || !strings.HasPrefix(r.stderr, "spdycat: could not connect: ") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("unverified certificate: %v", r)
	}
}

// TestTLSFallback fetches from TLS servers that speak no SPDY: HTTP/2 and
// HTTP/1.1 are chosen by ALPN.
func TestTLSFallback(t *testing.T) {
	for _, h2 := range []bool{true, false} {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s\n", r.Proto, r.URL.Path)
		}))
		srv.EnableHTTP2 = h2
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.StartTLS()
		want := "HTTP/1.1 /x\n"
		alpn := "http/1.1"
		if h2 {
			want, alpn = "HTTP/2.0 /x\n", "h2"
		}
		r := spdycat(t, "", "-k", "-v", srv.URL+"/x")
		if r.code != 0 || r.stdout != want || !strings.Contains(r.stderr, "* ALPN: server accepted "+alpn) {
			t.Errorf("HTTP/2 %v: %v", h2, r)
		}
		srv.Close()
	}
}

func TestPushes(t *testing.T) {
	for _, proto := range []string{"spdy/3.1", "spdy/3", "spdy/2"} {
		t.Run(proto, func(t *testing.T) {
			s := startServer(t, false)
			dir := t.TempDir()
			r := spdycat(t, "", "-proto", proto, "-v", "-pushes", dir, s.base+"/page.html")
			if r.code != 0 || r.stdout != pageHTML {
				t.Fatalf("%v", r)
			}
			for _, name := range []string{"style.css", "sub/app.js"} {
				got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
				if err != nil || string(got) != files[name] {
					t.Errorf("pushed %s: %q, %v", name, got, err)
				}
				if !strings.Contains(r.stderr, "* pushed GET /"+name+": 200") {
					t.Errorf("-v does not show the push of %s: %q", name, r.stderr)
				}
			}
		})
	}
	t.Run("refused without -pushes", func(t *testing.T) {
		s := startServer(t, false)
		r := spdycat(t, "", s.base+"/page.html")
		if r.code != 0 || r.stdout != pageHTML {
			t.Errorf("%v", r)
		}
	})
}

// TestPushAccounting feeds the push counter the frames as the session
// traces them, written by framing's String methods.
func TestPushAccounting(t *testing.T) {
	p := newPushSaver(t.TempDir())
	for _, tc := range []struct {
		dir   string
		frame framing.Frame
	}{
		{"in", &framing.SynStreamFrame{FrameHeader: framing.FrameHeader{Control: true, Version: 3, Type: framing.FrameSynStream, Flags: framing.FlagUnidirectional, StreamID: 2}, AssociatedToStreamID: 1}},
		{"in", &framing.SynStreamFrame{FrameHeader: framing.FrameHeader{Control: true, Version: 2, Type: framing.FrameSynStream, StreamID: 4}, AssociatedToStreamID: 3}},
		{"in", &framing.SynStreamFrame{FrameHeader: framing.FrameHeader{Control: true, Version: 3, Type: framing.FrameSynStream, StreamID: 6}}},  // not a push
		{"out", &framing.SynStreamFrame{FrameHeader: framing.FrameHeader{Control: true, Version: 3, Type: framing.FrameSynStream, StreamID: 1}}}, // ours
		{"out", &framing.RstStreamFrame{FrameHeader: framing.FrameHeader{Control: true, Version: 3, Type: framing.FrameRstStream, StreamID: 4}, Status: framing.StatusCancel}},
		{"out", &framing.RstStreamFrame{FrameHeader: framing.FrameHeader{Control: true, Version: 3, Type: framing.FrameRstStream, StreamID: 3}, Status: framing.StatusCancel}},
		{"in", &framing.DataFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameData, StreamID: 2, Length: 10}}},
	} {
		p.frame(tc.dir, tc.frame.String())
	}
	if p.announced != 2 || p.refused != 1 {
		t.Fatalf("announced %d, refused %d; want 2 and 1", p.announced, p.refused)
	}
	if p.settled() {
		t.Error("settled with one push neither saved nor refused")
	}
	p.handle(httptest.NewRequest("GET", "http://h/a.css", nil), &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("a"))})
	if !p.settled() {
		t.Error("not settled after the push was saved")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.frame("in", "SYN_STREAM v3 stream=8 len=10 assoc=1 pri=0 slot=0 block=0B")
	p.wait(ctx, waitLimit) // returns with ctx
	if p.settled() {
		t.Error("settled with a push announced")
	}
}

func TestPushFile(t *testing.T) {
	for p, want := range map[string]string{
		"/a/b.css":        "d/a/b.css",
		"/":               "d/index.html",
		"/dir/":           "d/dir/index.html",
		"/../../etc/x":    "d/etc/x",
		"/a/../../b":      "d/b",
		"relative/../../": "d/index.html",
	} {
		if got := pushFile("d", p); got != filepath.FromSlash(want) {
			t.Errorf("pushFile(%q) = %q, want %q", p, got, want)
		}
	}
}

func TestUpgrade(t *testing.T) {
	s := startServer(t, false)
	r := spdycat(t, "", "-upgrade", "-v", s.base+"/hello.txt", s.base+"/echo")
	if r.code != 0 || !strings.HasPrefix(r.stdout, files["hello.txt"]+"method=GET\n") {
		t.Errorf("-upgrade: %v", r)
	}
	if n := s.upgrades.Load(); n != 1 {
		t.Errorf("%d upgrades, want 1", n)
	}
	if c := s.ln.n.Load(); c != 1 {
		t.Errorf("%d connections, want 1", c)
	}
	if !strings.Contains(r.stderr, "* Upgraded") || !strings.Contains(r.stderr, "=> SYN_STREAM") {
		t.Errorf("-v: %q", r.stderr)
	}
	r = spdycat(t, "", "-upgrade", strings.Replace(s.base, "http:", "https:", 1)+"/hello.txt")
	if r.code != exitUsage {
		t.Errorf("-upgrade with https: %v", r)
	}
}

func TestVerbose(t *testing.T) {
	s := startServer(t, false)
	r := spdycat(t, "", "-v", "-H", "X-Test: yes", s.base+"/hello.txt")
	if r.code != 0 || r.stdout != files["hello.txt"] {
		t.Errorf("%v", r)
	}
	for _, want := range []string{
		"> GET /hello.txt HTTP/1.1\n", "> X-Test: yes\n", "< HTTP/1.1 200 OK\n", "< Content-Length: 13\n",
		"=> SETTINGS", "=> SYN_STREAM stream=1", "<= SYN_REPLY", "<= DATA stream=1",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("-v output lacks %q:\n%s", want, r.stderr)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no URL given"},
		{[]string{"-nope", "http://x/"}, "flag provided but not defined: -nope"},
		{[]string{"-proto", "spdy/4", "http://x/"}, `-proto "spdy/4"`},
		{[]string{"-H", "no colon", "http://x/"}, "-H"},
		{[]string{"ftp://x/"}, "scheme"},
		{[]string{"-I", "-d", "x", "http://x/"}, "exclude"},
		{[]string{"-o", "a", "-o", "b", "http://x/"}, "2 -o for 1 URLs"},
		{[]string{"-m", "soon", "http://x/"}, "seconds"},
		{[]string{"http://"}, "no host"},
	} {
		r := spdycat(t, "", tc.args...)
		if r.code != exitUsage || !strings.HasPrefix(r.stderr, "spdycat: ") || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%q: %v; want exit 2 and %q", tc.args, r, tc.want)
		}
	}
	r := spdycat(t, "", "-h")
	if r.code != 0 {
		t.Errorf("-h: %v", r)
	}
	for _, want := range []string{"-X", "-H", "-d", "-o", "-i", "-I", "-f", "-k", "-v", "-proto", "-upgrade", "-pushes", "Exit status", " 7  could not connect", " 8  protocol error", "22  an HTTP status", "23  could not write"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("-h lacks %q", want)
		}
	}
}

// freeAddr returns an address on which nothing listens.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestConnectionRefused(t *testing.T) {
	addr := freeAddr(t)
	for _, args := range [][]string{
		{"http://" + addr + "/"},
		{"-k", "https://" + addr + "/"},
		{"-upgrade", "http://" + addr + "/"},
	} {
		r := spdycat(t, "", args...)
		if r.code != exitConnect || !strings.HasPrefix(r.stderr, "spdycat: could not connect: ") || !strings.Contains(r.stderr, "connection refused") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%q: %v", args, r)
		}
	}
	r := spdycat(t, "", "-s", "http://"+addr+"/")
	if r.code != exitConnect || r.stderr != "" {
		t.Errorf("-s: %v", r)
	}
}

// junkServer answers every connection with bytes that are not SPDY, then
// closes it or, with keepOpen, reads until the client closes.
func junkServer(t *testing.T, junk string, keepOpen bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(waitLimit))
				c.Write([]byte(junk))
				if keepOpen {
					io.Copy(io.Discard, c)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

func TestProtocolError(t *testing.T) {
	for _, tc := range []struct {
		name     string
		junk     string
		keepOpen bool
	}{
		{"HTTP/1.1 answer", "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", false},
		{"malformed PING", "\x80\x03\x00\x06\x00\x00\x00\x08\x00\x00\x00\x01\x00\x00\x00\x00", true},
	} {
		addr := junkServer(t, tc.junk, tc.keepOpen)
		r := spdycat(t, "", "http://"+addr+"/")
		if r.code != exitProtocol || !strings.HasPrefix(r.stderr, "spdycat: protocol error: ") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%s: %v", tc.name, r)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	s := startServer(t, false)
	r := spdycat(t, "", "-o", filepath.Join(t.TempDir(), "no", "such", "dir"), s.base+"/hello.txt")
	if r.code != exitWrite || !strings.HasPrefix(r.stderr, "spdycat: write error: ") {
		t.Errorf("-o in a missing directory: %v", r)
	}
	r = spdycatEnv(t, &env{stdout: failingWriter{}}, s.base+"/hello.txt")
	if r.code != exitWrite || !strings.Contains(r.stderr, "write error: disk full") {
		t.Errorf("failing stdout: %v", r)
	}
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o644)
	r = spdycat(t, "", "-pushes", blocker, s.base+"/page.html")
	if r.code != exitWrite || r.stdout != pageHTML || !strings.Contains(r.stderr, "write error") {
		t.Errorf("-pushes into a file: %v", r)
	}
	r = spdycat(t, "", "-d", "@"+filepath.Join(t.TempDir(), "missing"), s.base+"/echo")
	if r.code != exitRead || !strings.Contains(r.stderr, "reading the data of -d") {
		t.Errorf("-d @missing: %v", r)
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestMaxTime(t *testing.T) {
	s := startServer(t, false)
	r := spdycat(t, "", "-m", "0.2", s.base+"/wait")
	if r.code != exitTimeout || r.stderr != "spdycat: timed out\n" {
		t.Errorf("-m: %v", r)
	}
}

func TestProgressBar(t *testing.T) {
	s := startServer(t, false)
	big := bytes.Repeat([]byte("x"), 3<<20)
	if err := os.WriteFile(filepath.Join(s.root, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "big.bin")
	r := spdycatEnv(t, &env{terminal: true}, "-o", out, s.base+"/big.bin")
	if r.code != 0 || !strings.Contains(r.stderr, "\r[##############################] 100%  3.0 MiB / 3.0 MiB") || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("progress: %v", r)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, big) {
		t.Errorf("file of %d bytes, want %d", len(got), len(big))
	}
	// Not a terminal, or a small body, or -s: no bar.
	for _, tc := range []struct {
		e    *env
		args []string
	}{
		{&env{}, []string{"-o", out, s.base + "/big.bin"}},
		{&env{terminal: true}, []string{"-o", out, s.base + "/hello.txt"}},
		{&env{terminal: true}, []string{"-s", "-o", out, s.base + "/big.bin"}},
		{&env{terminal: true}, []string{s.base + "/hello.txt"}},
	} {
		r := spdycatEnv(t, tc.e, tc.args...)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("%q (terminal %v): %v", tc.args, tc.e.terminal, r)
		}
	}
}

func TestProgressLine(t *testing.T) {
	for _, tc := range []struct {
		got, want int64
		line      string
	}{
		{0, 1 << 20, "[..........]   0%  0 B / 1.0 MiB  0 B/s"},
		{512 << 10, 1 << 20, "[#####.....]  50%  512.0 KiB / 1.0 MiB  512.0 KiB/s"},
		{1 << 20, 1 << 20, "[##########] 100%  1.0 MiB / 1.0 MiB  1.0 MiB/s"},
		{3 << 30, -1, "[??????????] 3.0 GiB  3.0 GiB/s"},
	} {
		if got := progressLine(tc.got, tc.want, time.Second, 10); got != tc.line {
			t.Errorf("progressLine(%d, %d) = %q, want %q", tc.got, tc.want, got, tc.line)
		}
	}
}

func TestSequencer(t *testing.T) {
	var out bytes.Buffer
	s := newSequencer(&out, 3)
	big := bytes.Repeat([]byte("b"), memLimit+10) // spills to a file
	s.part(2).Write([]byte("third"))
	s.part(1).Write(big)
	s.part(0).Write([]byte("first "))
	if out.String() != "first " {
		t.Fatalf("before any finish: %d bytes, want 6", out.Len())
	}
	s.part(2).finish()
	s.part(1).Write([]byte(" end"))
	if out.String() != "first " {
		t.Fatalf("a later part finished first: %d bytes, want 6", out.Len())
	}
	s.part(0).finish()
	if want := "first " + string(big) + " end"; out.String() != want {
		t.Fatalf("after the first finished: %d bytes", out.Len())
	}
	s.part(1).Write([]byte("!"))
	s.part(1).finish()
	if want := "first " + string(big) + " end!third"; out.String() != want {
		t.Errorf("at the end: %d bytes, want %d", out.Len(), len(want))
	}
}

func TestParseArgs(t *testing.T) {
	o, err := parseArgs([]string{"-i", "example.test/a", "-o", "f", "--", "-notaflag.test"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, u := range o.urls {
		urls = append(urls, u.String())
	}
	if !o.include || len(o.outputs) != 1 || strings.Join(urls, " ") != "http://example.test/a http://-notaflag.test/" {
		t.Errorf("parsed %+v, urls %q", o, urls)
	}
	u, _ := url.Parse("https://h")
	if originOf(u) != "https://h:443" {
		t.Errorf("originOf = %q", originOf(u))
	}
	if got := strings.Join(alpnPreference(session.V2), ","); got != "spdy/2,spdy/3.1,spdy/3,http/1.1" {
		t.Errorf("alpnPreference(V2) = %s", got)
	}
}
