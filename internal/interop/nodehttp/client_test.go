package nodehttp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/internal/interop/nodepeer"
	"github.com/spdygo/spdy/internal/interop/testcert"
	"github.com/spdygo/spdy/session"
)

// TestOurClientNodeServer runs our Transport against node-spdy's HTTP
// server (spdy.createServer) for every version, over plain TCP with prior
// knowledge and over TLS with ALPN offering only the version under test:
// a small GET, a 10 MiB download and a 5 MiB upload echoed back (checked
// by SHA-256), 100 concurrent requests, Range requests, multi-valued
// headers both ways, a server push received by PushHandler, and a PING.
// Every request of a run goes over one session (one dial).
//
// node's handlers are plain node http handlers (res.writeHead, res.write
// in 64 KiB pieces, res.end, res.push); http.js patches node-spdy's
// socket emulation for node-spdy#369 (see there and
// TestNodeQuirkEmulationWrites), which would otherwise fail node's own
// writes at random.
func TestOurClientNodeServer(t *testing.T) {
	for _, m := range modes {
		for _, v := range versions {
			t.Run(m.name+"/"+alpn(v), func(t *testing.T) {
				c := startOurClient(t, m, v, false)
				t.Run("small", c.small)
				t.Run("big", c.big)
				t.Run("upload", c.upload)
				t.Run("concurrent", c.concurrent)
				t.Run("range", c.ranges)
				t.Run("multi-valued", c.multiValued)
				t.Run("push", c.push)
				t.Run("ping", c.ping)
				if n := c.dials.Load(); n != 1 {
					t.Errorf("%d connections dialed, want every request on one session", n)
				}
			})
		}
	}
}

// ourClient is our Transport with a node server.
type ourClient struct {
	ctx    context.Context
	node   *nodepeer.Proc
	m      mode
	v      session.Version
	base   string // scheme://127.0.0.1:port
	tr     *httpadapter.Transport
	client *http.Client
	dials  atomic.Int32
	pushes chan pushed
	taps   *tapSet
}

// pushed is a response PushHandler received.
type pushed struct {
	url    string
	method string
	resp   *http.Response
	body   []byte
	err    error
}

// startOurClient starts a node server for m and v and a Transport for it.
// With tap, the connections the Transport dials record the frames they
// read.
func startOurClient(t *testing.T, m mode, v session.Version, tap bool) *ourClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	args := []string{"server", "--protocol", alpn(v)}
	var tlsConf *tls.Config
	scheme := "http"
	if m.tls {
		cs := testcert.New(t)
		args = append(args, "--cert", cs.CertFile, "--key", cs.KeyFile)
		tlsConf = &tls.Config{RootCAs: cs.Pool}
		scheme = "https"
	}
	node := startNode(t, args...)
	var ls struct{ Port int }
	node.Wait(ctx, "listening", nil).Decode(t, &ls)
	c := &ourClient{
		ctx: ctx, node: node, m: m, v: v,
		base:   scheme + "://127.0.0.1:" + strconv.Itoa(ls.Port),
		pushes: make(chan pushed, 8),
		taps:   &tapSet{v: v},
	}
	log := debugLogger(t)
	c.tr = &httpadapter.Transport{
		Version:         v,
		TLSClientConfig: tlsConf,
		// node flow-controls SPDY/2 and writes only the 8-byte GOAWAY:
		// see session.Config.V2Compat.
		Session: &session.Config{V2Compat: true, Logger: log, TraceFrames: log != nil},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c.dials.Add(1)
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil || !tap {
				return conn, err
			}
			return c.taps.wrap(conn), nil
		},
		PushHandler: func(req *http.Request, resp *http.Response) {
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			select {
			case c.pushes <- pushed{url: req.URL.String(), method: req.Method, resp: resp, body: body, err: err}:
			default:
			}
		},
		Logger: log,
	}
	c.client = &http.Client{Transport: c.tr}
	t.Cleanup(func() {
		c.tr.CloseIdleConnections()
		c.taps.wait()
	})
	return c
}

// do sends a request and returns its response with the whole body.
func (c *ourClient) do(t *testing.T, method, path string, body []byte, header http.Header) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(c.ctx, method, c.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vv := range header {
		req.Header[k] = vv
	}
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp, b
}

func (c *ourClient) small(t *testing.T) {
	resp, body := c.do(t, "GET", "/small", nil, nil)
	if resp.StatusCode != 200 || string(body) != "hello from node spdy\n" {
		t.Errorf("GET /small: %s %q", resp.Status, body)
	}
	if got := resp.Header.Get("X-Spdy-Version"); got != nodeVersion(c.v) {
		t.Errorf("node served SPDY %q, want %q", got, nodeVersion(c.v))
	}
	if got := resp.Header.Get("Content-Type"); got != "text/plain" {
		t.Errorf("Content-Type %q", got)
	}
	if c.m.tls {
		if resp.TLS == nil || resp.TLS.NegotiatedProtocol != alpn(c.v) {
			t.Errorf("resp.TLS %+v, want ALPN %s", resp.TLS, alpn(c.v))
		}
	} else if resp.TLS != nil {
		t.Errorf("resp.TLS set on plain TCP")
	}
	var ev struct {
		Method  string
		Headers map[string]string
		IsSpdy  bool
	}
	c.node.Wait(c.ctx, "request", nil).Decode(t, &ev)
	if ev.Method != "GET" || !ev.IsSpdy {
		t.Errorf("node saw %+v", ev)
	}
	if want := c.base[len("https://"):]; c.m.tls && ev.Headers["host"] != want {
		t.Errorf("node saw Host %q, want %q", ev.Headers["host"], want)
	}
}

func (c *ourClient) big(t *testing.T) {
	req, err := http.NewRequestWithContext(c.ctx, "GET", fmt.Sprintf("%s/big?size=%d", c.base, bigSize), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		t.Fatalf("after %d bytes: %v", n, err)
	}
	if n != bigSize || resp.ContentLength != bigSize {
		t.Errorf("%d bytes, Content-Length %d, want %d", n, resp.ContentLength, bigSize)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != resp.Header.Get("X-Sha256") {
		t.Errorf("SHA-256 %s, node sent %s", got, resp.Header.Get("X-Sha256"))
	}
}

func (c *ourClient) upload(t *testing.T) {
	body := make([]byte, uploadSize)
	rand.Read(body)
	resp, got := c.do(t, "POST", "/echo", body, http.Header{"Content-Type": {"application/octet-stream"}})
	if resp.StatusCode != 200 {
		t.Errorf("POST /echo: %s", resp.Status)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("echo: %d bytes back, want the %d sent", len(got), len(body))
	}
	var ev struct {
		Bytes  int
		Sha256 string
	}
	c.node.Wait(c.ctx, "echoed", nil).Decode(t, &ev)
	sum := sha256.Sum256(body)
	if ev.Bytes != uploadSize || ev.Sha256 != hex.EncodeToString(sum[:]) {
		t.Errorf("node received %d bytes with SHA-256 %s, want %d, %x", ev.Bytes, ev.Sha256, uploadSize, sum)
	}
}

func (c *ourClient) concurrent(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, concurrent)
	for i := range concurrent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequestWithContext(c.ctx, "GET", fmt.Sprintf("%s/n/%d", c.base, i), nil)
			if err != nil {
				errs <- err
				return
			}
			resp, err := c.client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || string(b) != fmt.Sprintf("n=%d", i) {
				errs <- fmt.Errorf("/n/%d: %s %q %v", i, resp.Status, b, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func (c *ourClient) ranges(t *testing.T) {
	full := rangeBody()
	for _, k := range []struct {
		rng        string
		start, end int // inclusive; start -1: unsatisfiable
	}{
		{"bytes=1000-1999", 1000, 1999},
		{"bytes=-500", rangeSize - 500, rangeSize - 1},
		{fmt.Sprintf("bytes=%d-", rangeSize-10), rangeSize - 10, rangeSize - 1},
		{fmt.Sprintf("bytes=%d-", rangeSize), -1, 0},
	} {
		resp, body := c.do(t, "GET", "/range", nil, http.Header{"Range": {k.rng}})
		if k.start < 0 {
			if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", rangeSize) {
				t.Errorf("%s: %s, Content-Range %q", k.rng, resp.Status, resp.Header.Get("Content-Range"))
			}
			continue
		}
		want := fmt.Sprintf("bytes %d-%d/%d", k.start, k.end, rangeSize)
		if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != want {
			t.Errorf("%s: %s, Content-Range %q, want 206 %q", k.rng, resp.Status, resp.Header.Get("Content-Range"), want)
		}
		if !bytes.Equal(body, full[k.start:k.end+1]) {
			t.Errorf("%s: %d bytes, not the range", k.rng, len(body))
		}
	}
	// Without Range, the whole resource.
	resp, body := c.do(t, "GET", "/range", nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Accept-Ranges") != "bytes" || !bytes.Equal(body, full) {
		t.Errorf("GET /range: %s, Accept-Ranges %q, %d bytes", resp.Status, resp.Header.Get("Accept-Ranges"), len(body))
	}
}

func (c *ourClient) multiValued(t *testing.T) {
	resp, body := c.do(t, "GET", "/cookies", nil, http.Header{"X-Multi": {"a", "b"}})
	if resp.StatusCode != 200 || string(body) != "cookies" {
		t.Errorf("GET /cookies: %s %q", resp.Status, body)
	}
	if got, want := resp.Header["Set-Cookie"], []string{"a=1; Path=/", "b=2; Path=/"}; !slices.Equal(got, want) {
		t.Errorf("Set-Cookie %q, want %q", got, want)
	}
	if got := len(resp.Cookies()); got != 2 {
		t.Errorf("%d cookies parsed, want 2", got)
	}
	// Our two values travel NUL-separated; node's http module joins them.
	if got := resp.Header.Get("X-Seen-Multi"); got != "a, b" {
		t.Errorf("node saw X-Multi %q, want both values", got)
	}
}

func (c *ourClient) push(t *testing.T) {
	path := fmt.Sprintf("/push?size=%d", pushSize)
	if !c.m.tls {
		// node-spdy labels its pushes https even on plain TCP, which our
		// Transport refuses as another origin
		// (TestNodeQuirkPlainPushSchemeHTTPS); http.js then pushes
		// with spdy-transport's pushPromise under node-spdy's response,
		// with the scheme the request came with.
		path += "&scheme=http"
	}
	resp, body := c.do(t, "GET", path, nil, nil)
	if resp.StatusCode != 200 || string(body) != `<script src="/pushed.js"></script>` {
		t.Errorf("GET /push: %s %q", resp.Status, body)
	}
	var p pushed
	select {
	case p = <-c.pushes:
	case <-c.ctx.Done():
		t.Fatal("no push reached PushHandler")
	}
	if p.err != nil {
		t.Fatalf("reading the pushed body: %v", p.err)
	}
	if want := c.base + "/pushed.js"; p.url != want || p.method != "GET" {
		t.Errorf("push of %s %s, want GET %s", p.method, p.url, want)
	}
	if p.resp.StatusCode != 200 || p.resp.Header.Get("Content-Type") != "application/javascript" {
		t.Errorf("pushed response %s, Content-Type %q", p.resp.Status, p.resp.Header.Get("Content-Type"))
	}
	sum := sha256.Sum256(p.body)
	if len(p.body) != pushSize || hex.EncodeToString(sum[:]) != p.resp.Header.Get("X-Sha256") {
		t.Errorf("pushed body: %d bytes, SHA-256 %x, node sent %s", len(p.body), sum, p.resp.Header.Get("X-Sha256"))
	}
}

func (c *ourClient) ping(t *testing.T) {
	rtt, err := c.tr.Ping(c.ctx, c.base)
	if err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if rtt <= 0 {
		t.Errorf("Ping: round trip %v", rtt)
	}
}
