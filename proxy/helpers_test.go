package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spdygo/spdy/internal/selfsigned"
	"github.com/spdygo/spdy/npn"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hangGuard bounds a test that would otherwise hang; it is not a timing
// assertion.
const hangGuard = 60 * time.Second

// env is a proxy with a plain front end and a TLS tunnel endpoint on
// loopback.
type env struct {
	t      *testing.T
	p      *Proxy
	front  *http.Server
	tunnel *http.Server
	// FrontURL is the base URL of the front end; TunnelAddr the tunnel's
	// host:port.
	FrontURL   string
	TunnelAddr string
	pool       *x509.CertPool
	cert       tls.Certificate
	frontLn    net.Listener
	tunnelLn   net.Listener
	// cur is the Proxy the front ends serve with; restart replaces it.
	cur atomic.Pointer[Proxy]
}

func newEnv(t *testing.T, p *Proxy) *env {
	t.Helper()
	cert, pool, err := selfsigned.Loopback("proxy test")
	if err != nil {
		t.Fatal(err)
	}
	if p.Registry == nil {
		p.Registry = NewRegistry()
	}
	e := &env{t: t, p: p, pool: pool, cert: cert}
	e.cur.Store(p)
	e.frontLn, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rawTunnel, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.TunnelAddr = rawTunnel.Addr().String()
	e.serveTunnel(rawTunnel)
	e.front = &http.Server{Handler: e.handler()}
	e.FrontURL = "http://" + e.frontLn.Addr().String()
	go e.front.Serve(e.frontLn)
	t.Cleanup(e.close)
	return e
}

// handler is the front-end handler: the current Proxy.
func (e *env) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.cur.Load().ServeHTTP(w, r)
	})
}

// serveTunnel starts e.p's tunnel server on raw.
func (e *env) serveTunnel(raw net.Listener) {
	e.tunnel = e.p.NewTunnelServer(&tls.Config{Certificates: []tls.Certificate{e.cert}})
	e.tunnelLn = tls.NewListener(raw, e.tunnel.TLSConfig)
	go e.tunnel.Serve(e.tunnelLn)
}

func (e *env) close() {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	e.front.Shutdown(ctx)
	e.tunnel.Shutdown(ctx)
	e.p.Close()
}

// restart stops the proxy and its tunnel server at once and starts p (with
// e's registry if it has none) on the same tunnel address, as a proxy
// process restarted on its host would be. The front end serves p from then
// on.
func (e *env) restart(p *Proxy) {
	e.t.Helper()
	if p.Registry == nil {
		p.Registry = e.p.Registry
	}
	e.tunnel.Close()
	e.p.Close()
	var raw net.Listener
	var err error
	// The port was just released; a few attempts cover a slow release.
	for i := 0; i < 100; i++ {
		raw, err = net.Listen("tcp", e.TunnelAddr)
		if err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		e.t.Fatalf("listening again on %s: %v", e.TunnelAddr, err)
	}
	e.p = p
	e.cur.Store(p)
	e.serveTunnel(raw)
}

// startTLSFront serves the front end over TLS on a new loopback port with
// SPDY, HTTP/2 and HTTP/1.1 negotiated by ALPN, and returns its base URL.
func (e *env) startTLSFront() string {
	e.t.Helper()
	hs := &http.Server{Handler: e.handler(), TLSConfig: &tls.Config{Certificates: []tls.Certificate{e.cert}}}
	if err := npn.ConfigureServer(hs, nil); err != nil {
		e.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	go hs.ServeTLS(ln, "", "")
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			hs.Close()
		}
	})
	return "https://" + ln.Addr().String()
}

// token is the token connect registers for name.
func token(name string) string { return "token-of-" + name + "-0123456789" }

// origin is a running Connector.
type origin struct {
	c      *Connector
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// connect registers name (if needed) and starts a Connector serving h,
// waiting until the proxy has its tunnel.
func (e *env) connect(name string, h http.Handler) *origin {
	e.t.Helper()
	return e.connectWith(name, h, nil)
}

// connectWith is connect with the Connector changed by configure (when not
// nil) before it starts.
func (e *env) connectWith(name string, h http.Handler, configure func(*Connector)) *origin {
	e.t.Helper()
	if !e.p.Registry.Known(name) {
		if err := e.p.Registry.Add(name, token(name)); err != nil {
			e.t.Fatal(err)
		}
	}
	o := e.startOriginWith(name, token(name), h, configure)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if err := e.p.WaitConnected(ctx, name, false); err != nil {
		e.t.Fatalf("origin %s did not connect: %v", name, err)
	}
	return o
}

func (e *env) startOrigin(name, token string, h http.Handler) *origin {
	return e.startOriginWith(name, token, h, nil)
}

func (e *env) startOriginWith(name, token string, h http.Handler, configure func(*Connector)) *origin {
	c := &Connector{
		ProxyURL:   "https://" + e.TunnelAddr,
		Name:       name,
		Token:      token,
		Handler:    h,
		TLSConfig:  &tls.Config{RootCAs: e.pool},
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 100 * time.Millisecond,
	}
	if configure != nil {
		configure(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	o := &origin{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { o.done <- c.Run(ctx) }()
	e.t.Cleanup(func() { o.stop() })
	return o
}

// wait waits for Run to return by itself and returns what it returned.
func (o *origin) wait() error {
	select {
	case err := <-o.done:
		o.once.Do(func() {
			o.cancel()
			o.err = err
		})
	case <-time.After(hangGuard):
		panic("Run did not return")
	}
	return o.err
}

// stop cancels the connector and returns what Run returned.
func (o *origin) stop() error {
	o.once.Do(func() {
		o.cancel()
		select {
		case o.err = <-o.done:
		case <-time.After(hangGuard):
			panic("connector did not stop")
		}
	})
	return o.err
}

// waitFor polls cond until it holds, failing the test after hangGuard.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s after %v", what, hangGuard)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// await receives from ch, failing the test after hangGuard.
func await[T any](t testing.TB, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hangGuard):
		t.Fatalf("still waiting for %s after %v", what, hangGuard)
		panic("unreachable")
	}
}

// waitCtx returns a context bounded by hangGuard, cancelled at the end of
// the test.
func waitCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	t.Cleanup(cancel)
	return ctx
}

// httpClient returns a client of its own (so that its idle connections are
// closed at the end of the test) for plain HTTP/1.1, trusting the test CA
// for https URLs.
func (e *env) httpClient() *http.Client {
	tr := &http.Transport{
		TLSClientConfig:    &tls.Config{RootCAs: e.pool},
		DisableCompression: true,
		Proxy:              nil,
	}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// do sends req with c and returns the response with its whole body, failing
// the test on an error.
func do(t testing.TB, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return resp, body
}

// h2Client returns a client of its own that speaks HTTP/2 to https URLs,
// trusting the test CA.
func (e *env) h2Client() *http.Client {
	tr := &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{RootCAs: e.pool}}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// getString GETs url with c and returns the status code and the body.
func getString(t testing.TB, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, body := do(t, c, newRequest(t, "GET", url, nil))
	return resp.StatusCode, string(body)
}

// result is the outcome of a request sent by goGet: the status code and the
// body, or code 0 and the error.
type result struct {
	code int
	body string
}

// goGet sends GET url with c from a goroutine of its own, for a request
// that is held while the test goes on, and returns the channel its result
// comes on. The request's context is waitCtx's, so the goroutine does not
// outlive the end of the test by more than the cancellation takes.
func goGet(t testing.TB, c *http.Client, url string) <-chan result {
	t.Helper()
	req := newRequest(t, "GET", url, nil)
	res := make(chan result, 1)
	go func() {
		resp, err := c.Do(req)
		if err != nil {
			res <- result{0, err.Error()}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			res <- result{0, err.Error()}
			return
		}
		res <- result{resp.StatusCode, string(b)}
	}()
	return res
}

// newRequest is http.NewRequestWithContext bounded by hangGuard, failing
// the test on an error, with the header lines given as name, value pairs.
func newRequest(t testing.TB, method, url string, body io.Reader, header ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(waitCtx(t), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	return req
}

// pseudoRandom returns n deterministic bytes of the seed.
func pseudoRandom(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n+7)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b[:n]
}

func sha256Hex(b []byte) string {
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:])
}

// site is a directory of test content on disk.
type site struct {
	dir   string
	files map[string][]byte // by slash path below dir, e.g. "media/movie.mp4"
	// modTime is the modification time of every file.
	modTime time.Time
}

// siteModTime is the fixed modification time of the site's files, so that
// Last-Modified and If-Modified-Since are reproducible.
var siteModTime = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// newSite writes an HTML page, a PNG image and media files of a few MiB of
// pseudo-random bytes to a temporary directory.
func newSite(t testing.TB) *site {
	t.Helper()
	s := &site{dir: t.TempDir(), files: make(map[string][]byte), modTime: siteModTime}
	s.files["index.html"] = []byte("<!doctype html>\n<html><head><title>home</title></head>\n" +
		"<body><h1>Home media</h1><img src=\"media/poster.png\"><video src=\"media/movie.mp4\"></video></body></html>\n")
	img := image.NewRGBA(image.Rect(0, 0, 96, 64))
	for y := range 64 {
		for x := range 96 {
			img.Set(x, y, color.RGBA{R: uint8(x * 2), G: uint8(y * 4), B: uint8(x ^ y), A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	s.files["media/poster.png"] = buf.Bytes()
	s.files["media/movie.mp4"] = pseudoRandom(1, 3<<20+12345)
	s.files["media/song.mp3"] = pseudoRandom(2, 2<<20+777)
	for name, b := range s.files {
		s.write(t, name, b)
	}
	return s
}

func (s *site) write(t testing.TB, name string, b []byte) {
	t.Helper()
	p := filepath.Join(s.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, s.modTime, s.modTime); err != nil {
		t.Fatal(err)
	}
	s.files[name] = b
}

// siteHandler serves s with http.FileServer, POST /upload (the SHA-256 of
// the body, in hex, and its length) and /headers (see echoHeaders).
func siteHandler(s *site) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(s.dir)))
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, "reading the upload: "+err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%x %d", h.Sum(nil), n)
	})
	mux.HandleFunc("/headers", echoHeaders)
	return mux
}

// echoHeaders writes the request's host, path, request URI (as it came on
// the wire) and headers, one line each.
func echoHeaders(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "Host: %s\nPath: %s\nURI: %s\n", r.Host, r.URL.Path, r.RequestURI)
	_ = r.Header.WriteSubset(w, nil)
}
