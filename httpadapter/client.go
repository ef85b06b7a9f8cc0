package httpadapter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/spdygo/spdy/session"
)

// Client sends HTTP requests to one SPDY server over one session at a
// time, in the manner of github.com/amahi/spdy's Client: NewClient dials,
// Do sends a request, Ping measures the round trip and Close ends it.
//
// Unlike that library's, Do streams: it returns once the response headers
// have arrived and the body is read from the stream as it comes. Requests
// run concurrently on the session. A Client made by NewClient dials a new
// session when the server sends GOAWAY or the session ends, and sends
// again the requests the server did not process; one made by
// NewClientFromConn has only its connection. Do sends one request: it
// follows no redirects and keeps no cookies (use an http.Client with a
// Transport for that).
type Client struct {
	t    *Transport
	addr string // the server's address, the default URL host

	mu     sync.Mutex
	closed bool
}

// ErrClientClosed is returned by the methods of a Client after Close.
var ErrClientClosed = fmt.Errorf("httpadapter: client closed: %w", net.ErrClosed)

const connOnlyKey = "conn"

// NewClient connects to the SPDY server at addr (host:port) over plain TCP
// and starts a SPDY/3.1 session with it (prior knowledge: no TLS, no
// negotiation).
func NewClient(addr string) (*Client, error) {
	d := net.Dialer{Timeout: defaultDialTimeout, KeepAlive: 30 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return newClient(conn, addr, session.V31, true)
}

// NewClientFromConn starts a client session of version v (0 means
// SPDY/3.1) over a connection the caller has, such as a *tls.Conn whose
// ALPN chose SPDY, and returns it as a Client. The Client owns c from then
// on; when the session ends, Do fails.
func NewClientFromConn(c net.Conn, v session.Version) (*Client, error) {
	addr := ""
	if ra := c.RemoteAddr(); ra != nil {
		addr = ra.String()
	}
	return newClient(c, addr, v, false)
}

// newClient makes a Client of a first session over conn; redial lets it
// dial addr for later sessions.
func newClient(conn net.Conn, addr string, v session.Version, redial bool) (*Client, error) {
	if v == 0 {
		v = session.V31
	}
	t := &Transport{Version: v, fixed: addr}
	if !redial {
		t.fixed = connOnlyKey
		t.fixedErr = errors.New("httpadapter: the client's session has ended")
	}
	cc, err := t.NewClientConn(conn, v)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.origins = map[string]*origin{t.fixed: {cc: cc}}
	t.mu.Unlock()
	return &Client{t: t, addr: addr}, nil
}

// Do sends req to the server and returns its response once the headers
// have arrived; the caller must close resp.Body. A URL without a host or
// scheme is completed with the server's address and "http". As for an
// http.RoundTripper, req.Body is closed, also on errors.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		closeRequestBody(req)
		return nil, ErrClientClosed
	}
	if req.URL == nil {
		closeRequestBody(req)
		return nil, errors.New("httpadapter: request has no URL")
	}
	if req.URL.Scheme == "" || req.URL.Host == "" {
		r := *req
		u := *req.URL
		if u.Scheme == "" {
			u.Scheme = "http"
		}
		if u.Host == "" {
			u.Host = req.Host
			if u.Host == "" {
				u.Host = c.addr
			}
		}
		r.URL = &u
		req = &r
	}
	return c.t.RoundTrip(req)
}

// Ping sends a PING to the server and returns the round-trip time.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return 0, ErrClientClosed
	}
	return c.t.Ping(ctx, "")
}

// Close ends the session at once (with GOAWAY): requests in progress fail.
// Later calls fail with ErrClientClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.t.mu.Lock()
	c.t.fixedErr = ErrClientClosed
	c.t.mu.Unlock()
	c.t.closeAll()
	return nil
}

// proxyHopHeaders are the headers of one connection, which a proxy does
// not forward.
var proxyHopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHopHeaders(h http.Header) {
	for _, v := range h["Connection"] {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				h.Del(f)
			}
		}
	}
	for _, k := range proxyHopHeaders {
		h.Del(k)
	}
}

// ProxyRequest forwards r, a request received by an http.Handler, through
// rt (a Transport, a ClientConn, or any http.RoundTripper) and copies the
// response to w: status, headers, the body as it arrives (flushed whenever
// the upstream pauses), and trailers. It is the counterpart of
// github.com/amahi/spdy's Session.NewStreamProxy.
//
// The outgoing request is a clone of r with the same context, RequestURI
// cleared, the hop-by-hop headers removed (Connection and those it names,
// Keep-Alive, Proxy-Connection, Proxy-Authenticate, Proxy-Authorization,
// TE, Trailer, Transfer-Encoding, Upgrade) and the body streamed. Its URL
// is completed with r.Host and the scheme of r's connection when it has
// no host; point it elsewhere by changing r.URL before the call.
// ProxyRequest adds no X-Forwarded-For or Via header: set them on r.
//
// If the request fails before the response headers arrive, ProxyRequest
// writes nothing and returns the error, and the caller chooses the answer
// (502 Bad Gateway, or 504 Gateway Timeout for a deadline, are usual). A
// 101 Switching Protocols response is refused the same way. Once the
// headers have been written, a failure of the response body (the upstream
// stream reset, the session lost, or the client gone) aborts the response
// by panicking with http.ErrAbortHandler, which net/http's server and
// this package's Server turn into a broken connection or stream instead
// of a complete-looking truncated response; a caller outside an HTTP
// server must recover it. ProxyRequest returns nil when the whole response
// was copied.
func ProxyRequest(rt http.RoundTripper, w http.ResponseWriter, r *http.Request) error {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Close = false
	if out.URL.Host == "" {
		out.URL.Host = r.Host
	}
	if out.URL.Scheme == "" {
		out.URL.Scheme = "http"
		if r.TLS != nil {
			out.URL.Scheme = "https"
		}
	}
	if r.ContentLength == 0 {
		out.Body = nil
	}
	// The incoming body fills r.Trailer at its end, when the Transport
	// reads the trailers to send.
	out.Trailer = r.Trailer
	if out.Body != nil {
		// The server closes the incoming body itself.
		out.Body = io.NopCloser(out.Body)
	}
	removeHopHeaders(out.Header)
	out.Header.Del("Host")
	resp, err := rt.RoundTrip(out)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body.Close()
		return errors.New("httpadapter: proxy: upstream switched protocols, which a proxied request cannot do")
	}
	defer resp.Body.Close()
	removeHopHeaders(resp.Header)
	h := w.Header()
	for k, vv := range resp.Header {
		h[k] = append(h[k], vv...)
	}
	announced := make(map[string]bool, len(resp.Trailer))
	if len(resp.Trailer) > 0 {
		keys := make([]string, 0, len(resp.Trailer))
		for k := range resp.Trailer {
			keys = append(keys, k)
			announced[k] = true
		}
		h["Trailer"] = []string{strings.Join(keys, ", ")}
	}
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	// The headers go out at once unless the body is already there to go
	// with them.
	if r, ok := resp.Body.(readyReader); !ok || !r.ready() {
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			panic(http.ErrAbortHandler)
		}
	}
	if err := copyFlushing(w, rc, resp.Body); err != nil {
		panic(http.ErrAbortHandler)
	}
	for k, vv := range resp.Trailer {
		if announced[k] {
			h[k] = vv
		} else {
			h[http.TrailerPrefix+k] = vv
		}
	}
	return nil
}

// readyReader is a body that can tell whether a Read would block: the
// responses of this package's client side.
type readyReader interface{ ready() bool }

// copyFlushing copies body to w, flushing whenever the upstream paused:
// when the next read would block (for bodies that can tell), else when a
// read returned less than a full buffer. Errors of reading and of writing
// are both returned.
//
// A body that has nothing yet is first read into a small buffer, so that a
// response waiting for its upstream does not hold a full copy buffer.
func copyFlushing(w io.Writer, rc *http.ResponseController, body io.Reader) error {
	rr, canTell := body.(readyReader)
	var buf []byte
	var bp *[]byte
	if canTell && !rr.ready() {
		buf = make([]byte, 512) // until the first bytes come
	} else {
		bp = bodyBufPool.Get().(*[]byte)
		buf = *bp
	}
	defer func() {
		if bp != nil {
			bodyBufPool.Put(bp)
		}
	}()
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			paused := n < len(buf) // a short read: the upstream paused
			if canTell {
				paused = !rr.ready()
			}
			if paused && rerr == nil {
				if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
					return err
				}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
		if bp == nil {
			bp = bodyBufPool.Get().(*[]byte)
			buf = *bp
		}
	}
}
