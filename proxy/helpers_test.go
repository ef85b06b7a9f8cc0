package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spdygo/spdy/internal/selfsigned"
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
	frontLn    net.Listener
	tunnelLn   net.Listener
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
	e := &env{t: t, p: p, pool: pool}
	e.frontLn, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rawTunnel, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.tunnel = p.NewTunnelServer(&tls.Config{Certificates: []tls.Certificate{cert}})
	e.tunnelLn = tls.NewListener(rawTunnel, e.tunnel.TLSConfig)
	e.front = &http.Server{Handler: p}
	e.FrontURL = "http://" + e.frontLn.Addr().String()
	e.TunnelAddr = rawTunnel.Addr().String()
	go e.front.Serve(e.frontLn)
	go e.tunnel.Serve(e.tunnelLn)
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	e.front.Shutdown(ctx)
	e.tunnel.Shutdown(ctx)
	e.p.Close()
}

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
	token := "token-of-" + name + "-0123456789"
	if !e.p.Registry.Known(name) {
		if err := e.p.Registry.Add(name, token); err != nil {
			e.t.Fatal(err)
		}
	}
	o := e.startOrigin(name, token, h)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if err := e.p.WaitConnected(ctx, name, false); err != nil {
		e.t.Fatalf("origin %s did not connect: %v", name, err)
	}
	return o
}

func (e *env) startOrigin(name, token string, h http.Handler) *origin {
	c := &Connector{
		ProxyURL:   "https://" + e.TunnelAddr,
		Name:       name,
		Token:      token,
		Handler:    h,
		TLSConfig:  &tls.Config{RootCAs: e.pool},
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 100 * time.Millisecond,
	}
	ctx, cancel := context.WithCancel(context.Background())
	o := &origin{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { o.done <- c.Run(ctx) }()
	e.t.Cleanup(func() { o.stop() })
	return o
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
