package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/internal/syncbuf"
	"github.com/spdygo/spdy/npn"
	"github.com/spdygo/spdy/session"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startTimeout bounds the wait for a server to start or stop; it is a
// guard against hangs, not a measure of speed.
const startTimeout = 60 * time.Second

// syncBuffer is a buffer safe for concurrent use.
type syncBuffer = syncbuf.Buffer

// testRoot is a directory of files made for a test.
type testRoot struct {
	dir     string
	data    []byte    // content of data.bin
	modTime time.Time // of every file
}

// pageHTML is sub/index.html: it links to assets that exist, one that
// does not, and URLs that must not be pushed.
const pageHTML = `<!doctype html>
<html><head>
<link rel="stylesheet" href="style.css">
<link rel="canonical" href="/other.html">
<link rel="icon" href="/favicon.ico">
<script src="../app.js"></script>
<script src="https://example.com/remote.js"></script>
<script src="//example.com/proto-relative.js"></script>
</head><body>
<img src="img/logo.png"><img src="missing.png"><img src="style.css">
<a href="/hello.txt">not an asset</a>
</body></html>
`

// makeRoot fills a temporary directory with the files the tests fetch.
func makeRoot(t *testing.T) *testRoot {
	t.Helper()
	dir := t.TempDir()
	r := &testRoot{dir: dir, modTime: time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)}
	r.data = make([]byte, 300<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range r.data {
		r.data[i] = byte(rng.Uint32())
	}
	files := map[string][]byte{
		"hello.txt":        []byte("hello, world\n"),
		"data.bin":         r.data,
		"page.html":        []byte(pageHTML),
		"sub/index.html":   []byte(pageHTML),
		"sub/style.css":    []byte("body { color: red }\n"),
		"sub/img/logo.png": []byte("\x89PNG\r\n\x1a\nnot really a png"),
		"app.js":           []byte("console.log('app')\n"),
		"favicon.ico":      []byte("icon"),
		"other.html":       []byte("<p>other</p>"),
	}
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, r.modTime, r.modTime); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// server is spdyd running in the test's process.
type server struct {
	addr   string
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan int
}

// startServer runs spdyd with args and waits for its "listening" line.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &server{stderr: new(syncBuffer), cancel: cancel, done: make(chan int, 1)}
	go func() {
		code := run(ctx, args, pw, s.stderr)
		pw.Close()
		s.done <- code
	}()
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(pr).ReadString('\n')
		line <- l
		io.Copy(io.Discard, pr)
	}()
	select {
	case l := <-line:
		m := regexp.MustCompile(`^listening (127\.0\.0\.1:\d+)\n$`).FindStringSubmatch(l)
		if m == nil {
			cancel()
			t.Fatalf("first line of stdout %q is not \"listening HOST:PORT\"; stderr:\n%s", l, s.stderr)
		}
		s.addr = m[1]
	case <-time.After(startTimeout):
		cancel()
		t.Fatalf("spdyd did not print its address; stderr:\n%s", s.stderr)
	}
	t.Cleanup(func() {
		if code := s.stop(t); code != exitOK {
			t.Errorf("spdyd exited with %d; stderr:\n%s", code, s.stderr)
		}
	})
	return s
}

// stop shuts the server down as a signal would and returns its exit code.
func (s *server) stop(t *testing.T) int {
	s.cancel()
	select {
	case code := <-s.done:
		s.done <- code
		return code
	case <-time.After(startTimeout):
		t.Fatalf("spdyd did not shut down; stderr:\n%s", s.stderr)
		return -1
	}
}

// fetch does req with rt and returns the response with its body read.
func fetch(t *testing.T, rt http.RoundTripper, method, rawURL string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, rawURL, err)
	}
	return resp, body
}

// checkFileServing runs the file-server checks against base with rt.
func checkFileServing(t *testing.T, rt http.RoundTripper, base string, root *testRoot) {
	t.Helper()
	// Directory listing.
	resp, body := fetch(t, rt, "GET", base+"/", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `<a href="hello.txt">hello.txt</a>`) || !strings.Contains(string(body), `<a href="sub/">sub/</a>`) {
		t.Errorf("listing: %d %q", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("listing: Content-Type %q", ct)
	}
	// A file with its Content-Type.
	resp, body = fetch(t, rt, "GET", base+"/hello.txt", nil)
	if resp.StatusCode != 200 || string(body) != "hello, world\n" {
		t.Errorf("hello.txt: %d %q", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("hello.txt: Content-Type %q", ct)
	}
	resp, _ = fetch(t, rt, "GET", base+"/sub/style.css", nil)
	if ct := resp.Header.Get("Content-Type"); ct != "text/css; charset=utf-8" {
		t.Errorf("style.css: Content-Type %q", ct)
	}
	// The whole of a larger file.
	resp, body = fetch(t, rt, "GET", base+"/data.bin", nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, root.data) {
		t.Errorf("data.bin: %d, %d bytes, equal %v", resp.StatusCode, len(body), bytes.Equal(body, root.data))
	}
	// Range.
	resp, body = fetch(t, rt, "GET", base+"/data.bin", http.Header{"Range": {"bytes=1000-1999"}})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, root.data[1000:2000]) {
		t.Errorf("range: %d, %d bytes, equal %v", resp.StatusCode, len(body), bytes.Equal(body, root.data[1000:2000]))
	}
	if cr, want := resp.Header.Get("Content-Range"), fmt.Sprintf("bytes 1000-1999/%d", len(root.data)); cr != want {
		t.Errorf("range: Content-Range %q, want %q", cr, want)
	}
	// If-Modified-Since.
	resp, body = fetch(t, rt, "GET", base+"/hello.txt", http.Header{"If-Modified-Since": {root.modTime.Format(http.TimeFormat)}})
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("If-Modified-Since: %d %q", resp.StatusCode, body)
	}
	resp, body = fetch(t, rt, "GET", base+"/hello.txt", http.Header{"If-Modified-Since": {root.modTime.Add(-time.Hour).Format(http.TimeFormat)}})
	if resp.StatusCode != 200 || string(body) != "hello, world\n" {
		t.Errorf("If-Modified-Since before the change: %d %q", resp.StatusCode, body)
	}
	// HEAD.
	resp, body = fetch(t, rt, "HEAD", base+"/hello.txt", nil)
	if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Length") != "13" {
		t.Errorf("HEAD: %d %q Content-Length %q", resp.StatusCode, body, resp.Header.Get("Content-Length"))
	}
	// Not found.
	resp, _ = fetch(t, rt, "GET", base+"/nope.txt", nil)
	if resp.StatusCode != 404 {
		t.Errorf("missing file: %d", resp.StatusCode)
	}
}

// logLines returns the request log lines of stderr for path.
func logLines(stderr, method, path string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, " "+method+" "+path+" ") {
			out = append(out, l)
		}
	}
	return out
}

// checkLogged checks that a request line with method, path, proto and
// status was logged.
func checkLogged(t *testing.T, s *server, method, path, proto string, status int) {
	t.Helper()
	re := regexp.MustCompile(`127\.0\.0\.1:\d+ ` + regexp.QuoteMeta(method+" "+path+" "+proto) + fmt.Sprintf(` %d \d+ \S+`, status))
	for _, l := range logLines(s.stderr.String(), method, path) {
		if re.MatchString(l) {
			return
		}
	}
	t.Errorf("no log line for %s %s %s %d in:\n%s", method, path, proto, status, s.stderr)
}

func TestPlainPortServesSPDYAndHTTP1(t *testing.T) {
	root := makeRoot(t)
	s := startServer(t, "-addr", "127.0.0.1:0", "-root", root.dir)
	base := "http://" + s.addr
	for _, v := range []session.Version{session.V31, session.V3, session.V2} {
		t.Run(v.String(), func(t *testing.T) {
			tr := &httpadapter.Transport{Version: v}
			defer tr.CloseIdleConnections()
			checkFileServing(t, tr, base, root)
			checkLogged(t, s, "GET", "/hello.txt", v.String(), 200)
			checkLogged(t, s, "GET", "/data.bin", v.String(), 206)
			checkLogged(t, s, "HEAD", "/hello.txt", v.String(), 200)
		})
	}
	t.Run("HTTP/1.1", func(t *testing.T) {
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		checkFileServing(t, tr, base, root)
		checkLogged(t, s, "GET", "/hello.txt", "HTTP/1.1", 200)
		checkLogged(t, s, "GET", "/hello.txt", "HTTP/1.1", 304)
	})
	t.Run("h2c", func(t *testing.T) {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		defer tr.CloseIdleConnections()
		checkFileServing(t, tr, base, root)
		checkLogged(t, s, "GET", "/hello.txt", "HTTP/2.0", 200)
	})
}

func TestPinnedProto(t *testing.T) {
	root := makeRoot(t)
	for _, v := range []session.Version{session.V31, session.V3, session.V2} {
		t.Run(v.String(), func(t *testing.T) {
			s := startServer(t, "-addr", "127.0.0.1:0", "-root", root.dir, "-proto", v.String())
			tr := &httpadapter.Transport{Version: v}
			defer tr.CloseIdleConnections()
			resp, body := fetch(t, tr, "GET", "http://"+s.addr+"/hello.txt", nil)
			if resp.StatusCode != 200 || string(body) != "hello, world\n" {
				t.Errorf("GET: %d %q", resp.StatusCode, body)
			}
			checkLogged(t, s, "GET", "/hello.txt", v.String(), 200)
			h1 := &http.Transport{}
			defer h1.CloseIdleConnections()
			resp, _ = fetch(t, h1, "GET", "http://"+s.addr+"/hello.txt", nil)
			if resp.StatusCode != 200 {
				t.Errorf("HTTP/1.1 GET: %d", resp.StatusCode)
			}
		})
	}
}

// TestPinnedProtoRefusesOtherWireVersion checks that a server pinned to
// a SPDY/3 version closes SPDY/2 connections, and the other way round.
func TestPinnedProtoRefusesOtherWireVersion(t *testing.T) {
	root := makeRoot(t)
	for _, tc := range []struct{ pinned, client session.Version }{{session.V31, session.V2}, {session.V2, session.V3}} {
		s := startServer(t, "-addr", "127.0.0.1:0", "-root", root.dir, "-proto", tc.pinned.String())
		tr := &httpadapter.Transport{Version: tc.client, MaxRetries: -1}
		req, _ := http.NewRequest("GET", "http://"+s.addr+"/hello.txt", nil)
		if resp, err := tr.RoundTrip(req); err == nil {
			resp.Body.Close()
			t.Errorf("pinned %s, client %s: %d, want an error", tc.pinned, tc.client, resp.StatusCode)
		}
		tr.CloseIdleConnections()
		s.stop(t)
		if !strings.Contains(s.stderr.String(), "closed: speaks "+tc.client.String()) {
			t.Errorf("pinned %s, client %s: log lacks the refusal:\n%s", tc.pinned, tc.client, s.stderr)
		}
	}
}

// TestUpgrade switches an HTTP/1.1 connection of the plain port to
// SPDY/3.1 and sends requests over the session.
func TestUpgrade(t *testing.T) {
	root := makeRoot(t)
	s := startServer(t, "-addr", "127.0.0.1:0", "-root", root.dir)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	conn, _, err := npn.DialUpgradeConn(ctx, "http://"+s.addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &httpadapter.Transport{}
	cc, err := tr.NewClientConn(conn, session.V31)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	checkFileServing(t, cc, "http://"+s.addr, root)
	checkLogged(t, s, "GET", "/", "HTTP/1.1", 101)
	checkLogged(t, s, "GET", "/data.bin", "spdy/3.1", 206)
	// A request without the upgrade headers is refused.
	h1 := &http.Transport{}
	defer h1.CloseIdleConnections()
	resp, _ := fetch(t, h1, "GET", "http://"+s.addr+"/", http.Header{"Upgrade": {"SPDY/3.1"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("Upgrade without Connection: upgrade: %d", resp.StatusCode)
	}
}

func TestTLSByALPN(t *testing.T) {
	root := makeRoot(t)
	s := startServer(t, "-addr", "127.0.0.1:0", "-root", root.dir, "-tls-self-signed")
	base := "https://" + s.addr
	if !strings.Contains(s.stderr.String(), "self-signed certificate") {
		t.Errorf("no certificate line in the log:\n%s", s.stderr)
	}
	t.Run("h2", func(t *testing.T) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		checkFileServing(t, tr, base, root)
		resp, _ := fetch(t, tr, "GET", base+"/hello.txt", nil)
		if resp.ProtoMajor != 2 {
			t.Errorf("protocol %s, want HTTP/2", resp.Proto)
		}
		checkLogged(t, s, "GET", "/hello.txt", "HTTP/2.0", 200)
	})
	t.Run("http/1.1", func(t *testing.T) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
		defer tr.CloseIdleConnections()
		resp, _ := fetch(t, tr, "GET", base+"/hello.txt", nil)
		if resp.StatusCode != 200 || resp.ProtoMajor != 1 {
			t.Errorf("%d over %s, want 200 over HTTP/1.1", resp.StatusCode, resp.Proto)
		}
	})
	for _, v := range []session.Version{session.V31, session.V3, session.V2} {
		t.Run(v.String(), func(t *testing.T) {
			tr := &httpadapter.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{v.String()}}}
			defer tr.CloseIdleConnections()
			checkFileServing(t, tr, base, root)
			resp, _ := fetch(t, tr, "GET", base+"/hello.txt", nil)
			if resp.TLS == nil || resp.TLS.NegotiatedProtocol != v.String() {
				t.Errorf("TLS state %+v, want %s negotiated", resp.TLS, v)
			}
			checkLogged(t, s, "GET", "/hello.txt", v.String(), 200)
		})
	}
}

// TestTLSCertFiles serves TLS with a certificate and key read from files
// (made at test time).
func TestTLSCertFiles(t *testing.T) {
	cert, err := selfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	root := makeRoot(t)
	s := startServer(t, "-addr", "127.0.0.1:0", "-root", root.dir, "-tls-cert", certFile, "-tls-key", keyFile, "-proto", "spdy/3")
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	tr := &httpadapter.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	resp, body := fetch(t, tr, "GET", "https://"+s.addr+"/hello.txt", nil)
	if resp.StatusCode != 200 || string(body) != "hello, world\n" || resp.TLS == nil || resp.TLS.NegotiatedProtocol != "spdy/3" {
		t.Errorf("%d %q, TLS %+v; want spdy/3 (pinned by -proto)", resp.StatusCode, body, resp.TLS)
	}
	// A bad key file is reported at start.
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-root", root.dir, "-tls-cert", certFile, "-tls-key", certFile}, &stdout, &stderr); code != exitError || !strings.HasPrefix(stderr.String(), "spdyd: tls: ") {
		t.Errorf("bad key: exit %d, stderr %q", code, stderr.String())
	}
}

func TestPushLinkedAssets(t *testing.T) {
	root := makeRoot(t)
	s := startServer(t, "-addr", "127.0.0.1:0", "-root", root.dir, "-push")
	want := map[string]string{
		"/sub/style.css":    "body { color: red }\n",
		"/favicon.ico":      "icon",
		"/app.js":           "console.log('app')\n",
		"/sub/img/logo.png": "\x89PNG\r\n\x1a\nnot really a png",
	}
	for _, v := range []session.Version{session.V31, session.V3, session.V2} {
		t.Run(v.String(), func(t *testing.T) {
			var mu sync.Mutex
			got := map[string]string{}
			arrived := make(chan struct{}, 16)
			tr := &httpadapter.Transport{Version: v, PushHandler: func(req *http.Request, resp *http.Response) {
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				mu.Lock()
				if err != nil {
					got[req.URL.Path] = "error: " + err.Error()
				} else {
					got[req.URL.Path] = fmt.Sprintf("%d %s", resp.StatusCode, b)
				}
				mu.Unlock()
				arrived <- struct{}{}
			}}
			defer tr.CloseIdleConnections()
			resp, body := fetch(t, tr, "GET", "http://"+s.addr+"/sub/", nil)
			if resp.StatusCode != 200 || string(body) != pageHTML {
				t.Fatalf("page: %d %q", resp.StatusCode, body)
			}
			for range want {
				select {
				case <-arrived:
				case <-time.After(startTimeout):
					t.Fatalf("pushes received: %v", got)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for p, b := range want {
				if got[p] != "200 "+b {
					t.Errorf("push %s: %q, want %q", p, got[p], "200 "+b)
				}
			}
			if len(got) != len(want) {
				t.Errorf("pushed %v, want exactly %v", got, want)
			}
			checkLogged(t, s, "GET", "/sub/style.css", v.String(), 200)
		})
	}
}

// TestNoPushForConditionalRequest checks that a page served as 304 pushes
// nothing: after the server has stopped, every pushed response would have
// been logged.
func TestNoPushForConditionalRequest(t *testing.T) {
	root := makeRoot(t)
	s := startServer(t, "-addr", "127.0.0.1:0", "-root", root.dir, "-push")
	tr := &httpadapter.Transport{PushHandler: func(req *http.Request, resp *http.Response) {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}}
	defer tr.CloseIdleConnections()
	resp, _ := fetch(t, tr, "GET", "http://"+s.addr+"/page.html", http.Header{"If-Modified-Since": {root.modTime.Format(http.TimeFormat)}})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("status %d, want 304", resp.StatusCode)
	}
	resp, _ = fetch(t, tr, "GET", "http://"+s.addr+"/page.html", http.Header{"Range": {"bytes=0-9"}})
	if resp.StatusCode != http.StatusPartialContent {
		t.Errorf("status %d, want 206", resp.StatusCode)
	}
	tr.CloseIdleConnections()
	if code := s.stop(t); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, p := range []string{"/favicon.ico", "/app.js"} {
		if l := logLines(s.stderr.String(), "GET", p); len(l) != 0 {
			t.Errorf("pushed %s: %q", p, l)
		}
	}
	// The same page requested in full pushes them.
	s = startServer(t, "-addr", "127.0.0.1:0", "-root", root.dir, "-push")
	resp, _ = fetch(t, tr, "GET", "http://"+s.addr+"/page.html", nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d, want 200", resp.StatusCode)
	}
	tr.CloseIdleConnections()
	s.stop(t)
	for _, p := range []string{"/favicon.ico", "/app.js"} {
		if l := logLines(s.stderr.String(), "GET", p); len(l) != 1 {
			t.Errorf("push of %s logged %d times: %q", p, len(l), l)
		}
	}
}

func TestAssetLinks(t *testing.T) {
	base := &url.URL{Path: "/sub/"}
	got := assetLinks(strings.NewReader(pageHTML), base, 100)
	want := []string{"/sub/style.css", "/favicon.ico", "/app.js", "/sub/img/logo.png", "/sub/missing.png"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("assetLinks = %q, want %q", got, want)
	}
	if got := assetLinks(strings.NewReader(pageHTML), base, 2); len(got) != 2 {
		t.Errorf("with a limit of 2: %q", got)
	}
	page := &url.URL{Path: "/a/page.html"}
	for ref, want := range map[string]string{
		"x.css":         "/a/x.css",
		"../x.css?v=1":  "/x.css?v=1",
		"/abs/x.js#top": "/abs/x.js",
		"page.html":     "",
		"#frag":         "",
		"?q=1":          "",
		"http://h/x":    "",
		"//h/x":         "",
		"data:abc":      "",
		"mailto:a@b":    "",
	} {
		got, ok := resolveSameOrigin(page, ref)
		if got != want || ok != (want != "") {
			t.Errorf("resolveSameOrigin(%q) = %q, %v; want %q", ref, got, ok, want)
		}
	}
}

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
		{[]string{"-proto", "spdy/4"}, `-proto "spdy/4"`},
		{[]string{"-tls-cert", file}, "-tls-cert and -tls-key go together"},
		{[]string{"-tls-cert", file, "-tls-key", file, "-tls-self-signed"}, "exclude each other"},
		{[]string{"-root", filepath.Join(dir, "missing")}, "-root"},
		{[]string{"-root", file}, "not a directory"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"-addr"}, "flag needs an argument"},
		{[]string{"-max-conns", "-1"}, "-max-conns must not be negative"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, &stdout, &stderr)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d", tc.args, code, exitUsage)
		}
		if !strings.HasPrefix(stderr.String(), "spdyd: ") || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%q: stderr %q, want a line with %q", tc.args, stderr.String(), tc.want)
		}
		if stdout.Len() != 0 {
			t.Errorf("%q: stdout %q", tc.args, stdout.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &stdout, &stderr); code != exitOK {
		t.Errorf("-h: exit %d", code)
	}
	for _, f := range []string{"-addr", "-root", "-tls-cert", "-tls-key", "-tls-self-signed", "-proto", "-push", "Exit status"} {
		if !strings.Contains(stdout.String(), f) {
			t.Errorf("-h output lacks %q:\n%s", f, stdout.String())
		}
	}
}

func TestListenFailure(t *testing.T) {
	s := startServer(t, "-addr", "127.0.0.1:0", "-root", t.TempDir())
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-addr", s.addr, "-root", t.TempDir()}, &stdout, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), "address already in use") || stdout.Len() != 0 {
		t.Errorf("second server on %s: exit %d, stdout %q, stderr %q", s.addr, code, stdout.String(), stderr.String())
	}
}

// TestSignalShutdown builds spdyd, runs it, and stops it with SIGTERM.
func TestSignalShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "spdyd")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	root := makeRoot(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-root", root.dir)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr syncBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			line := make(chan string, 1)
			go func() {
				l, _ := bufio.NewReader(stdout).ReadString('\n')
				line <- l
				exited <- cmd.Wait()
			}()
			defer func() {
				cmd.Process.Kill()
				<-exited
			}()
			var addr string
			select {
			case l := <-line:
				addr = strings.TrimSpace(strings.TrimPrefix(l, "listening "))
				if !strings.HasPrefix(l, "listening 127.0.0.1:") {
					t.Fatalf("stdout %q; stderr:\n%s", l, stderr.String())
				}
			case <-time.After(startTimeout):
				t.Fatalf("no listening line; stderr:\n%s", stderr.String())
			}
			tr := &httpadapter.Transport{}
			resp, body := fetch(t, tr, "GET", "http://"+addr+"/hello.txt", nil)
			tr.CloseIdleConnections()
			if resp.StatusCode != 200 || string(body) != "hello, world\n" {
				t.Errorf("GET: %d %q", resp.StatusCode, body)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				exited <- err
				if err != nil {
					t.Errorf("exit after %v: %v; stderr:\n%s", sig, err, stderr.String())
				}
			case <-time.After(startTimeout):
				t.Fatalf("still running after %v; stderr:\n%s", sig, stderr.String())
			}
			if !strings.Contains(stderr.String(), "stopped") {
				t.Errorf("stderr lacks the shutdown lines:\n%s", stderr.String())
			}
		})
	}
}
