package httpadapter

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/spdygo/spdy/session"
)

// Transport is an http.RoundTripper that speaks SPDY. The zero value is
// ready to use.
//
// It keeps one session per origin (scheme, host and port) and sends all
// the requests of that origin on it concurrently. When a session is going
// away (the server sent GOAWAY) or has ended, the next request dials a new
// one. A request that the server provably did not process (it was above
// the last-good stream id of a GOAWAY, or refused with REFUSED_STREAM) is
// sent again when its body can be sent again: it has none, its GetBody is
// set, or nothing was read from it yet.
//
// http:// URLs are served over plain TCP with prior knowledge: the
// Transport speaks Version without negotiation. https:// URLs use TLS with
// ALPN, offering spdy/3.1, spdy/3, spdy/2 and http/1.1; an origin whose
// server picks no SPDY protocol is served by Fallback (HTTP/1.1, or HTTP/2
// through net/http) from then on.
//
// Request bodies and response bodies stream in both directions, under
// SPDY's flow control. Cancelling a request's context resets its stream at
// once, and so does closing a response body before its end. Trailers work
// both ways: a request's Trailer is sent in a HEADERS frame after its
// body, and the response's trailers fill resp.Trailer once the body has
// been read to its end.
//
// A Transport is safe for concurrent use. Its fields must not change once
// it has been used.
type Transport struct {
	// Version is the protocol spoken to http:// origins, which use plain
	// TCP with prior knowledge (no negotiation). Default session.V31.
	Version session.Version

	// TLSClientConfig configures the TLS client of https:// origins. It
	// is cloned; an empty ServerName is set to the URL's host, and empty
	// NextProtos to spdy/3.1, spdy/3, spdy/2 and http/1.1. nil means the
	// defaults of crypto/tls.
	TLSClientConfig *tls.Config

	// Session configures the sessions the Transport starts. It is copied
	// for each session, whose Version is the negotiated one (or Version
	// for http://). The Transport sets ManualReply (a client never
	// replies) and ImplicitUnidirectionalPush (HTTP pushes are
	// unidirectional), and RejectPush when PushHandler is nil. A zero
	// IdleTimeout is replaced with IdleConnTimeout. nil means the
	// defaults of session.Config.
	Session *session.Config

	// DialContext dials the TCP connections of both schemes. nil means a
	// net.Dialer with a 30 s timeout and 30 s TCP keep-alives.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// DialTLSContext, if set, dials https:// origins and performs the TLS
	// handshake itself instead of DialContext and TLSClientConfig. If the
	// connection it returns has a ConnectionState() tls.ConnectionState
	// method, its negotiated protocol decides between SPDY and Fallback
	// as usual; other connections are taken to speak Version.
	DialTLSContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// TLSHandshakeTimeout bounds the TLS handshake of https:// origins.
	// Default 10 s; negative means none (the request context still
	// applies).
	TLSHandshakeTimeout time.Duration

	// Fallback serves https:// origins whose server negotiates no SPDY
	// protocol by ALPN. nil means an *http.Transport with
	// ForceAttemptHTTP2 set, DialContext and a clone of TLSClientConfig
	// (with NextProtos cleared so that it offers h2 and http/1.1), and no
	// proxy.
	Fallback http.RoundTripper

	// PushHandler receives the responses the server pushes. It is called
	// in a goroutine of its own for each push, with a GET request built
	// from the pushed URL (its headers inherited from the request the push
	// belongs to) and the pushed response, whose Body the handler must
	// read and close. Pushes of another origin than their request's are
	// refused. nil refuses every push (RST_STREAM CANCEL).
	PushHandler func(req *http.Request, resp *http.Response)

	// DisableCompression, if true, stops the Transport from asking for
	// gzip when a request has no Accept-Encoding header. By default it
	// sends "accept-encoding: gzip" and decompresses a gzip response
	// transparently (resp.Uncompressed is then true), as net/http does.
	DisableCompression bool

	// ResponseHeaderTimeout, if positive, bounds the wait for a response's
	// headers after the request was sent. Default 0: no limit beyond the
	// request context.
	ResponseHeaderTimeout time.Duration

	// IdleConnTimeout is how long a session with no active request stays
	// open before it is shut down; it fills a zero Session.IdleTimeout.
	// Default 90 s; negative means no limit.
	IdleConnTimeout time.Duration

	// MaxRetries bounds how many times one request is sent again after
	// the server proved it unprocessed. Default 4; negative means never.
	MaxRetries int

	// Logger receives the Transport's debug records (sessions started and
	// ended, retries, refused pushes); nil means none. Sessions log
	// through Session.Logger.
	Logger *slog.Logger

	mu       sync.Mutex
	origins  map[string]*origin
	conns    map[*ClientConn]struct{}
	fbOnce   sync.Once
	fb       http.RoundTripper
	fixed    string // Client: every request goes to this origin key
	fixedErr error  // Client: why no new session can be dialed
}

// origin is the Transport's state of one scheme://host:port.
type origin struct {
	cc       *ClientConn
	dial     *dialCall
	fallback bool
}

// dialCall is a dial in progress, which the requests of its origin wait
// for.
type dialCall struct {
	done     chan struct{}
	cc       *ClientConn
	fallback bool
	err      error
}

const (
	defaultDialTimeout      = 30 * time.Second
	defaultTLSTimeout       = 10 * time.Second
	defaultIdleConnTimeout  = 90 * time.Second
	defaultMaxRetries       = 4
	maxRefusedRetries       = 4
	defaultRequestBodyChunk = 32 << 10
)

// ALPNProtocols are the protocols a Transport offers in ALPN, most
// preferred first.
var ALPNProtocols = []string{"spdy/3.1", "spdy/3", "spdy/2", "http/1.1"}

// ErrClientConnUnusable is matched (with errors.Is) by the error of a
// request that a ClientConn could not start because its session is going
// away or has ended. Nothing of the request was sent; a Transport sends it
// again on a new session. It is also matched by requests that a GOAWAY
// proved unprocessed.
var ErrClientConnUnusable = errors.New("httpadapter: session cannot take new requests")

// connUnusableError reports a request that did not reach the server
// because of its session. net/http's Transport retries a request on a new
// connection when an alternate protocol's RoundTripper returns an error
// with an IsHTTP2NoCachedConnError method, so a ClientConn registered in
// http.Transport.TLSNextProto gets the same retries.
type connUnusableError struct{ err error }

func (e *connUnusableError) Error() string {
	if e.err == nil {
		return ErrClientConnUnusable.Error()
	}
	return ErrClientConnUnusable.Error() + ": " + e.err.Error()
}

func (e *connUnusableError) Unwrap() error { return e.err }

func (e *connUnusableError) Is(target error) bool { return target == ErrClientConnUnusable }

// IsHTTP2NoCachedConnError marks the error for net/http's Transport,
// which then retries the request on a new connection.
func (e *connUnusableError) IsHTTP2NoCachedConnError() {}

func (t *Transport) version() session.Version {
	if t.Version == 0 {
		return session.V31
	}
	return t.Version
}

func (t *Transport) maxRetries() int {
	switch {
	case t.MaxRetries < 0:
		return 0
	case t.MaxRetries == 0:
		return defaultMaxRetries
	}
	return t.MaxRetries
}

func (t *Transport) debug(msg string, args ...any) {
	if t.Logger != nil {
		t.Logger.Debug(msg, args...)
	}
}

// sessionConfig is the configuration of a new client session.
func (t *Transport) sessionConfig(v session.Version) *session.Config {
	var c session.Config
	if t.Session != nil {
		c = *t.Session
	}
	c.Version = v
	c.ManualReply = true
	c.ImplicitUnidirectionalPush = true
	if t.PushHandler == nil {
		c.RejectPush = true
	}
	if c.IdleTimeout == 0 {
		switch {
		case t.IdleConnTimeout == 0:
			c.IdleTimeout = defaultIdleConnTimeout
		case t.IdleConnTimeout > 0:
			c.IdleTimeout = t.IdleConnTimeout
		}
	}
	return &c
}

// originKey returns the pool key of u ("https://host:443"), the address to
// dial and the host name for TLS.
func originKey(u *url.URL) (key, addr, host string, err error) {
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", "", "", fmt.Errorf("httpadapter: unsupported protocol scheme %q", u.Scheme)
	}
	host = strings.ToLower(u.Hostname())
	if host == "" {
		return "", "", "", errors.New("httpadapter: request URL has no host")
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	addr = net.JoinHostPort(host, port)
	return scheme + "://" + addr, addr, host, nil
}

// RoundTrip sends req on the session of its origin and returns the
// response once its headers have arrived; the body streams after. It
// implements http.RoundTripper: the request is not modified, and its body
// is closed, also on errors.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		closeRequestBody(req)
		return nil, errors.New("httpadapter: request has no URL")
	}
	key, addr, host, err := originKey(req.URL)
	if t.fixed != "" {
		key, addr, host, err = t.fixed, t.fixed, "", nil
	}
	if err != nil {
		closeRequestBody(req)
		return nil, err
	}
	ctx := req.Context()
	cur := req
	for attempt := 0; ; attempt++ {
		cc, fallback, err := t.connFor(ctx, key, addr, host)
		if err != nil {
			closeRequestBody(cur)
			return nil, err
		}
		if fallback {
			return t.fallback().RoundTrip(cur)
		}
		resp, untouched, err := cc.roundTrip(cur)
		if err == nil {
			resp.Request = req
			return resp, nil
		}
		if !errors.Is(err, ErrClientConnUnusable) || attempt >= t.maxRetries() || ctx.Err() != nil {
			if untouched {
				closeRequestBody(cur)
			}
			return nil, err
		}
		next, ok := rewindRequest(cur, untouched)
		if !ok {
			if untouched {
				closeRequestBody(cur)
			}
			return nil, err
		}
		t.debug("retrying request on a new session", "origin", key, "err", err)
		cur = next
	}
}

// rewindRequest returns the request to send again after an attempt that
// the server did not process: the same one when its body was not read, or
// a copy with a new body from GetBody.
func rewindRequest(req *http.Request, untouched bool) (*http.Request, bool) {
	if req.Body == nil || req.Body == http.NoBody || untouched {
		return req, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	next := *req
	next.Body = body
	return &next, true
}

func closeRequestBody(req *http.Request) {
	if req.Body != nil && req.Body != http.NoBody {
		req.Body.Close()
	}
}

// connFor returns the session of an origin, dialing one if needed, or
// reports that the origin is served by Fallback.
func (t *Transport) connFor(ctx context.Context, key, addr, host string) (*ClientConn, bool, error) {
	for tries := 0; ; tries++ {
		t.mu.Lock()
		if t.origins == nil {
			t.origins = make(map[string]*origin)
		}
		o := t.origins[key]
		if o == nil {
			o = &origin{}
			t.origins[key] = o
		}
		if o.fallback {
			t.mu.Unlock()
			return nil, true, nil
		}
		if o.cc != nil && o.cc.CanTakeNewRequest() {
			cc := o.cc
			t.mu.Unlock()
			return cc, false, nil
		}
		o.cc = nil
		d := o.dial
		if d == nil {
			if t.fixed != "" && t.fixedErr != nil {
				err := t.fixedErr
				t.mu.Unlock()
				return nil, false, err
			}
			d = &dialCall{done: make(chan struct{})}
			o.dial = d
			go t.runDial(context.WithoutCancel(ctx), key, addr, host, o, d)
		}
		t.mu.Unlock()
		select {
		case <-d.done:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		if d.err != nil {
			return nil, false, d.err
		}
		if d.fallback {
			return nil, true, nil
		}
		if d.cc.CanTakeNewRequest() || tries >= 2 {
			return d.cc, false, nil
		}
	}
}

// runDial dials a session for an origin and records the outcome.
func (t *Transport) runDial(ctx context.Context, key, addr, host string, o *origin, d *dialCall) {
	cc, fallback, err := t.dialOrigin(ctx, key, addr, host)
	t.mu.Lock()
	d.cc, d.fallback, d.err = cc, fallback, err
	if o.dial == d {
		o.dial = nil
	}
	switch {
	case fallback:
		o.fallback = true
	case cc != nil:
		o.cc = cc
	}
	t.mu.Unlock()
	close(d.done)
}

func (t *Transport) dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	if t.DialContext != nil {
		return t.DialContext(ctx, "tcp", addr)
	}
	d := net.Dialer{Timeout: defaultDialTimeout, KeepAlive: 30 * time.Second}
	return d.DialContext(ctx, "tcp", addr)
}

// dialOrigin connects to an origin: plain TCP with prior knowledge for
// http, TLS with ALPN for https (reporting fallback when the server picks
// no SPDY protocol).
func (t *Transport) dialOrigin(ctx context.Context, key, addr, host string) (*ClientConn, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, defaultDialTimeout)
	defer cancel()
	if t.fixed != "" || strings.HasPrefix(key, "http://") {
		conn, err := t.dialTCP(ctx, addr)
		if err != nil {
			return nil, false, err
		}
		cc, err := t.newClientConn(conn, t.version(), nil)
		if err != nil {
			return nil, false, err
		}
		t.debug("session started", "origin", key, "version", cc.version)
		return cc, false, nil
	}
	conn, err := t.dialTLS(ctx, addr, host)
	if err != nil {
		return nil, false, err
	}
	v := t.version()
	var state *tls.ConnectionState
	if cs, ok := conn.(interface{ ConnectionState() tls.ConnectionState }); ok {
		st := cs.ConnectionState()
		state = &st
		v, err = session.ParseVersion(st.NegotiatedProtocol)
		if err != nil {
			conn.Close()
			t.debug("origin does not speak SPDY; using the fallback", "origin", key, "protocol", st.NegotiatedProtocol)
			return nil, true, nil
		}
	}
	cc, err := t.newClientConn(conn, v, state)
	if err != nil {
		return nil, false, err
	}
	t.debug("session started", "origin", key, "version", v)
	return cc, false, nil
}

// dialTLS dials addr and performs the TLS handshake.
func (t *Transport) dialTLS(ctx context.Context, addr, host string) (net.Conn, error) {
	timeout := t.TLSHandshakeTimeout
	if timeout == 0 {
		timeout = defaultTLSTimeout
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if t.DialTLSContext != nil {
		conn, err := t.DialTLSContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		if tc, ok := conn.(*tls.Conn); ok {
			if err := tc.HandshakeContext(ctx); err != nil {
				conn.Close()
				return nil, err
			}
		}
		return conn, nil
	}
	raw, err := t.dialTCP(ctx, addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(raw, t.tlsConfig(host))
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return tc, nil
}

// tlsConfig is the TLS client configuration for host.
func (t *Transport) tlsConfig(host string) *tls.Config {
	var cfg *tls.Config
	if t.TLSClientConfig != nil {
		cfg = t.TLSClientConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = append([]string(nil), ALPNProtocols...)
	}
	return cfg
}

// fallback returns the RoundTripper of origins that do not speak SPDY.
func (t *Transport) fallback() http.RoundTripper {
	if t.Fallback != nil {
		return t.Fallback
	}
	t.fbOnce.Do(func() {
		var cfg *tls.Config
		if t.TLSClientConfig != nil {
			cfg = t.TLSClientConfig.Clone()
			cfg.NextProtos = nil
		}
		t.fb = &http.Transport{
			DialContext:         t.DialContext,
			TLSClientConfig:     cfg,
			ForceAttemptHTTP2:   true,
			TLSHandshakeTimeout: defaultTLSTimeout,
			IdleConnTimeout:     defaultIdleConnTimeout,
			MaxIdleConns:        100,
		}
	})
	return t.fb
}

// track records a ClientConn of this Transport.
func (t *Transport) track(cc *ClientConn) {
	t.mu.Lock()
	if t.conns == nil {
		t.conns = make(map[*ClientConn]struct{})
	}
	t.conns[cc] = struct{}{}
	t.mu.Unlock()
}

// forget drops a ClientConn whose session ended.
func (t *Transport) forget(cc *ClientConn) {
	t.mu.Lock()
	delete(t.conns, cc)
	for _, o := range t.origins {
		if o.cc == cc {
			o.cc = nil
		}
	}
	t.mu.Unlock()
}

// CloseIdleConnections closes the sessions that carry no request, pushed
// response or unread response body, and the idle connections of Fallback
// if it has such a method. Sessions in use are left alone.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	var idle []*ClientConn
	for cc := range t.conns {
		if cc.closeIfIdle() {
			idle = append(idle, cc)
		}
	}
	fb := t.Fallback
	if fb == nil {
		fb = t.fb
	}
	t.mu.Unlock()
	for _, cc := range idle {
		cc.Close()
	}
	if c, ok := fb.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// closeAll closes every session at once.
func (t *Transport) closeAll() {
	t.mu.Lock()
	all := make([]*ClientConn, 0, len(t.conns))
	for cc := range t.conns {
		all = append(all, cc)
	}
	t.mu.Unlock()
	for _, cc := range all {
		cc.Close()
	}
}

// Ping sends a PING on the session of origin (a URL such as
// "https://example.com" or "http://127.0.0.1:8080", or a host:port taken
// as http://), dialing one if there is none, and returns the round-trip
// time.
func (t *Transport) Ping(ctx context.Context, origin string) (time.Duration, error) {
	var key, addr, host string
	if t.fixed != "" {
		key, addr = t.fixed, t.fixed
	} else {
		if !strings.Contains(origin, "://") {
			origin = "http://" + origin
		}
		u, err := url.Parse(origin)
		if err != nil {
			return 0, fmt.Errorf("httpadapter: ping: %w", err)
		}
		if key, addr, host, err = originKey(u); err != nil {
			return 0, err
		}
	}
	cc, fallback, err := t.connFor(ctx, key, addr, host)
	if err != nil {
		return 0, err
	}
	if fallback {
		return 0, errors.New("httpadapter: ping: the origin does not speak SPDY")
	}
	return cc.Ping(ctx)
}
