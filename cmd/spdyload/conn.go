package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/npn"
	"github.com/spdygo/spdy/session"
)

// conn is one connection of the run: a SPDY session or an HTTP/1.1
// connection.
type conn interface {
	// proto is the protocol spoken, as an ALPN id.
	proto() string
	// acquire waits until the connection may start a request; release
	// undoes it once the request is over.
	acquire(ctx context.Context) error
	release()
	roundTrip(req *http.Request) (*http.Response, error)
	// usable reports whether the connection can take new requests.
	usable() bool
	// shutdown lets the requests in flight finish and closes the
	// connection; when ctx ends it closes it at once.
	shutdown(ctx context.Context)
}

// connectError is a failure to establish a connection: kind is "dial" or
// "tls" (the handshake, the certificate or the protocol negotiation).
type connectError struct {
	kind string
	err  error
}

func (e *connectError) Error() string { return e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// dialer makes the connections of a run and counts their bytes.
type dialer struct {
	o      *options
	addr   string
	net    net.Dialer
	alpn   *tls.Config // offers what -proto allows
	h1TLS  *tls.Config // offers http/1.1 only: HTTP/1.1 reconnections
	spdy   *httpadapter.Transport
	read   atomic.Int64 // bytes read from every connection, TLS records included
	writ   atomic.Int64 // bytes written
	dialed atomic.Int64 // connections established, HTTP/1.1 reconnections included
	protos sync.Map     // protocol -> *atomic.Int64, connections established
}

// newDialer returns the dialer of o.
func newDialer(o *options) *dialer {
	d := &dialer{
		o:    o,
		addr: dialAddr(o.url),
		net:  net.Dialer{KeepAlive: 30 * time.Second},
		spdy: &httpadapter.Transport{
			Session:            &session.Config{V2Compat: o.v2compat},
			DisableCompression: true, // count the body bytes as sent
			IdleConnTimeout:    -1,   // the run closes its connections itself
			MaxRetries:         -1,
		},
	}
	var protos []string
	switch {
	case o.proto == protoAuto:
		protos = []string{npn.ProtoSPDY31, npn.ProtoSPDY3, npn.ProtoSPDY2, npn.ProtoHTTP11}
	case o.proto == protoHTTP11:
		protos = []string{npn.ProtoHTTP11}
	default:
		protos = []string{o.version.String()}
	}
	d.alpn = o.tlsConfig(protos)
	d.h1TLS = o.tlsConfig([]string{npn.ProtoHTTP11})
	return d
}

// dial establishes a connection as -proto says.
func (d *dialer) dial(ctx context.Context) (conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.o.bound())
	defer cancel()
	if d.o.url.Scheme == "http" {
		c, err := d.dialTCP(ctx)
		if err != nil {
			return nil, err
		}
		if d.o.proto == protoHTTP11 {
			return d.newH1(c), nil
		}
		v := d.o.version
		if v == 0 {
			v = session.V31 // auto: prior knowledge of SPDY/3.1
		}
		return d.newSPDY(c, v)
	}
	tc, err := d.dialTLS(ctx, d.alpn)
	if err != nil {
		return nil, err
	}
	np := tc.ConnectionState().NegotiatedProtocol
	if v, err := session.ParseVersion(np); err == nil {
		return d.newSPDY(tc, v)
	}
	if np != npn.ProtoHTTP11 && np != "" {
		tc.Close()
		return nil, &connectError{"tls", fmt.Errorf("server negotiated %q, which was not offered", np)}
	}
	if d.o.version != 0 { // -proto asked for a SPDY version
		tc.Close()
		if np == "" {
			np = "no protocol"
		}
		return nil, &connectError{"tls", fmt.Errorf("server negotiated %s, not %s", np, d.o.proto)}
	}
	return d.newH1(tc), nil
}

// dialTCP dials the server and wraps the connection to count its bytes.
func (d *dialer) dialTCP(ctx context.Context) (net.Conn, error) {
	c, err := d.net.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, &connectError{"dial", err}
	}
	return &countingConn{Conn: c, d: d}, nil
}

// dialTLS dials the server and completes a TLS handshake with cfg.
func (d *dialer) dialTLS(ctx context.Context, cfg *tls.Config) (*tls.Conn, error) {
	c, err := d.dialTCP(ctx)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(c, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, &connectError{"tls", fmt.Errorf("tls handshake: %w", err)}
	}
	return tc, nil
}

// established counts a connection of protocol proto.
func (d *dialer) established(proto string) {
	d.dialed.Add(1)
	n, _ := d.protos.LoadOrStore(proto, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
}

// protocols returns the connections established by protocol.
func (d *dialer) protocols() map[string]int64 {
	out := map[string]int64{}
	d.protos.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// countingConn counts the bytes read and written on a connection.
type countingConn struct {
	net.Conn
	d *dialer
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.d.read.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.d.writ.Add(int64(n))
	return n, err
}

// spdyConn is a SPDY session.
type spdyConn struct {
	cc *httpadapter.ClientConn
	v  session.Version
}

func (d *dialer) newSPDY(c net.Conn, v session.Version) (conn, error) {
	cc, err := d.spdy.NewClientConn(c, v)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("start %s session: %w", v, err)
	}
	d.established(v.String())
	return &spdyConn{cc: cc, v: v}, nil
}

func (c *spdyConn) proto() string                     { return c.v.String() }
func (c *spdyConn) acquire(ctx context.Context) error { return nil }
func (c *spdyConn) release()                          {}
func (c *spdyConn) usable() bool                      { return c.cc.CanTakeNewRequest() }

func (c *spdyConn) roundTrip(req *http.Request) (*http.Response, error) {
	return c.cc.RoundTrip(req)
}

func (c *spdyConn) shutdown(ctx context.Context) {
	if err := c.cc.Shutdown(ctx); err != nil {
		c.cc.Close()
	}
}

// h1Conn is an HTTP/1.1 connection, carried by an http.Transport of its
// own that keeps at most one connection: when the server closes it (as
// with "Connection: close"), the next request dials again.
type h1Conn struct {
	d    *dialer
	t    *http.Transport
	turn chan struct{} // one request at a time

	mu    sync.Mutex
	first net.Conn   // the connection dialed by the run, until the Transport takes it
	all   []net.Conn // every connection of the Transport, closed by shutdown
}

func (d *dialer) newH1(c net.Conn) conn {
	h := &h1Conn{d: d, turn: make(chan struct{}, 1), first: c}
	h.all = append(h.all, c)
	d.established(npn.ProtoHTTP11)
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	h.t = &http.Transport{
		Proxy:               nil,
		MaxConnsPerHost:     1,
		MaxIdleConnsPerHost: 1,
		DisableCompression:  true,
		Protocols:           protos,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return h.dial(ctx, false)
		},
		DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return h.dial(ctx, true)
		},
	}
	return h
}

// dial hands the Transport the run's connection the first time, and a new
// one after.
func (h *h1Conn) dial(ctx context.Context, useTLS bool) (net.Conn, error) {
	h.mu.Lock()
	c := h.first
	h.first = nil
	h.mu.Unlock()
	if c != nil {
		return c, nil
	}
	ctx, cancel := context.WithTimeout(ctx, h.d.o.bound())
	defer cancel()
	var err error
	if useTLS {
		c, err = h.d.dialTLS(ctx, h.d.h1TLS)
	} else {
		c, err = h.d.dialTCP(ctx)
	}
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.all = append(h.all, c)
	h.mu.Unlock()
	h.d.established(npn.ProtoHTTP11)
	return c, nil
}

func (h *h1Conn) proto() string { return npn.ProtoHTTP11 }

func (h *h1Conn) acquire(ctx context.Context) error {
	select {
	case h.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *h1Conn) release() { <-h.turn }

func (h *h1Conn) usable() bool { return true }

func (h *h1Conn) roundTrip(req *http.Request) (*http.Response, error) {
	return h.t.RoundTrip(req)
}

// shutdown closes the connections: the run calls it when no request is in
// flight any more.
func (h *h1Conn) shutdown(context.Context) {
	h.mu.Lock()
	all := h.all
	h.all = nil
	h.mu.Unlock()
	for _, c := range all {
		c.Close()
	}
	h.t.CloseIdleConnections()
}
