package bench

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/session"
)

// HTTPTransport is one way of carrying HTTP between an http.Client and a
// server, both in this process, over loopback TCP.
type HTTPTransport struct {
	// Name identifies the transport in flags and tables.
	Name string
	// Desc says what the transport is.
	Desc string
	// Multiplexed is false for HTTP/1.1, which needs a connection for
	// every request in flight.
	Multiplexed bool
	// New starts a server for h on a fresh loopback listener and returns
	// a client for it.
	New func(h http.Handler, o HTTPOptions) (*HTTPPair, error)
}

// HTTPOptions tune a pair for a workload.
type HTTPOptions struct {
	// MaxStreams is how many requests one connection must carry at once;
	// transports whose default limit is lower raise it.
	MaxStreams int
	// Conns is how many connections HTTP/1.1 may keep idle for reuse (one
	// per concurrent client); multiplexed transports ignore it.
	Conns int
}

// HTTPPair is a server and a client of it.
type HTTPPair struct {
	// Client sends requests to the server.
	Client *http.Client
	// URL is the server's base URL, "http://127.0.0.1:port".
	URL string

	ln        *countingListener
	closeOnce sync.Once
	closeFn   func() error
	closeErr  error
}

// Conns returns the number of connections the server has accepted.
func (p *HTTPPair) Conns() int64 { return p.ln.accepted.Load() }

// Close stops the server and the client's connections. It is safe to
// call more than once.
func (p *HTTPPair) Close() error {
	p.closeOnce.Do(func() { p.closeErr = p.closeFn() })
	return p.closeErr
}

// HTTPTransports lists the HTTP transports the harness knows: net/http's
// HTTP/1.1 and HTTP/2 cleartext first, then this module's SPDY.
func HTTPTransports() []HTTPTransport {
	return []HTTPTransport{
		{Name: "http1", Desc: "net/http HTTP/1.1: http.Server and http.Transport (MaxConnsPerHost unlimited, a connection per request in flight)", New: newHTTP1},
		{Name: "h2c", Desc: "net/http HTTP/2 cleartext with prior knowledge: http.Server and http.Transport with Protocols.SetUnencryptedHTTP2", Multiplexed: true, New: newH2C},
		{Name: "spdy31", Desc: "github.com/spdygo/spdy/httpadapter Server and Transport, SPDY/3.1 with prior knowledge", Multiplexed: true, New: newHTTPSPDY(session.V31)},
		{Name: "spdy3", Desc: "github.com/spdygo/spdy/httpadapter Server and Transport, SPDY/3 with prior knowledge", Multiplexed: true, New: newHTTPSPDY(session.V3)},
	}
}

// LookupHTTP returns the HTTP transports named in a comma-separated list,
// in the order of HTTPTransports; "all" names every one.
func LookupHTTP(names string) ([]HTTPTransport, error) {
	return lookup(HTTPTransports(), func(t HTTPTransport) string { return t.Name }, names, "HTTP transport")
}

// countingListener counts the connections a server accepts.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

func listenLoopback() (*countingListener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &countingListener{Listener: ln}, nil
}

// waitServe waits for a server's Serve to return after it was closed,
// within a bound.
func waitServe(errc <-chan error) error {
	select {
	case err := <-errc:
		if err == nil || errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
			return nil
		}
		return err
	case <-time.After(10 * time.Second):
		return errors.New("server did not stop")
	}
}

// httpServer is what servePair needs of a server: net/http's and
// httpadapter's both fit.
type httpServer interface {
	Serve(net.Listener) error
	Close() error
}

// idleCloser is a client transport whose idle connections can be closed.
type idleCloser interface {
	http.RoundTripper
	CloseIdleConnections()
}

// servePair runs srv on a fresh loopback listener and returns it with a
// client on tr. Closing the pair closes the client's idle connections,
// then the server, and waits for its Serve to return.
func servePair(srv httpServer, tr idleCloser) (*HTTPPair, error) {
	ln, err := listenLoopback()
	if err != nil {
		return nil, err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	return &HTTPPair{
		Client: &http.Client{Transport: tr},
		URL:    "http://" + ln.Addr().String(),
		ln:     ln,
		closeFn: func() error {
			tr.CloseIdleConnections()
			err := srv.Close()
			if werr := waitServe(errc); err == nil {
				err = werr
			}
			return err
		},
	}, nil
}

func newHTTP1(h http.Handler, o HTTPOptions) (*HTTPPair, error) {
	var sp, cp http.Protocols
	sp.SetHTTP1(true)
	cp.SetHTTP1(true)
	srv := &http.Server{Handler: h, Protocols: &sp}
	tr := &http.Transport{
		Protocols:           &cp,
		MaxConnsPerHost:     0, // unlimited
		MaxIdleConns:        0, // unlimited
		MaxIdleConnsPerHost: max(o.Conns, o.MaxStreams, http.DefaultMaxIdleConnsPerHost),
		IdleConnTimeout:     90 * time.Second,
	}
	return servePair(srv, tr)
}

// h2DefaultMaxStreams is net/http's default limit of concurrent streams
// per HTTP/2 connection on the server side.
const h2DefaultMaxStreams = 250

func newH2C(h http.Handler, o HTTPOptions) (*HTTPPair, error) {
	var sp, cp http.Protocols
	sp.SetHTTP1(true)
	sp.SetUnencryptedHTTP2(true)
	cp.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: &sp}
	if o.MaxStreams > h2DefaultMaxStreams {
		srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: o.MaxStreams}
	}
	tr := &http.Transport{Protocols: &cp, IdleConnTimeout: 90 * time.Second}
	return servePair(srv, tr)
}

// newHTTPSPDY returns the constructor of this module's HTTP over SPDY at
// version v, prior knowledge on plain TCP, default configuration except
// the stream limit.
func newHTTPSPDY(v session.Version) func(http.Handler, HTTPOptions) (*HTTPPair, error) {
	return func(h http.Handler, o HTTPOptions) (*HTTPPair, error) {
		scfg := &session.Config{Version: v}
		if o.MaxStreams > session.DefaultMaxConcurrentStreams {
			scfg.MaxConcurrentStreams = uint32(o.MaxStreams)
		}
		srv := &httpadapter.Server{Handler: h, Session: scfg}
		tr := &httpadapter.Transport{Version: v, Session: &session.Config{Version: v}}
		return servePair(srv, tr)
	}
}
