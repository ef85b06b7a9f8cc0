package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spdygo/spdy/internal/selfsigned"
	"github.com/spdygo/spdy/proxy"
	"github.com/spdygo/spdy/session"
)

// The proxy workloads run the HTTP workloads (HTTPBulk, HTTPReqResp) along
// three paths from an http.Client to the same handler, all on loopback:
//
//	direct    the client to the origin's own net/http HTTP/1.1 server
//	proxy     the client to the front end of this module's reverse-connection
//	          proxy (package proxy, "P") over plain HTTP/1.1, then through
//	          the origin's SPDY/3.1 tunnel over TLS to a proxy.Connector
//	          serving the handler
//	revproxy  the client to an httputil.ReverseProxy front end over
//	          HTTP/1.1, then over HTTP/1.1 to the origin's net/http server
//
// ProxyIdle measures the memory each request held open costs the front end
// alone, which runs in a process of its own for that.

// Names of the proxy paths.
const (
	PathDirect   = "direct"
	PathProxy    = "proxy"
	PathRevProxy = "revproxy"
)

// The origin's name and token at the proxy.
const (
	proxyOriginName  = "bench"
	proxyOriginToken = "bench-origin-token-0123456789"
)

// proxyHangGuard bounds each step of setting up and tearing down a path
// (a tunnel to connect, a server to stop): a guard against hangs, not a
// measurement.
const proxyHangGuard = 10 * time.Second

// ProxyVariant holds settings of P to try instead of the defaults. A
// zero field keeps the default; the zero ProxyVariant is P as shipped.
// The session settings apply to both ends of the tunnel (Proxy.Session
// and Connector.Session). The switches (Plain, NoFlush) are experiments
// that show what a cost is, not configurations to deploy.
type ProxyVariant struct {
	// Window is session.Config.InitialWindowSize ("win").
	Window int32
	// MaxWindow is session.Config.MaxWindowSize ("maxwin").
	MaxWindow int32
	// SessionWindow is session.Config.SessionWindowSize ("swin").
	SessionWindow int32
	// MaxSessionWindow is session.Config.MaxSessionWindowSize ("maxswin").
	MaxSessionWindow int32
	// FrameSize is session.Config.MaxFrameSize ("frame").
	FrameSize int32
	// MaxStreams is session.Config.MaxConcurrentStreams ("maxstreams"):
	// beyond the origin's (default 1000), P answers a request 503 at once
	// (Proxy sets OpenFailsAtLimit).
	MaxStreams int32
	// WriteBuffer is the origin's Connector.WriteBufferSize, the
	// httpadapter.Server buffer between a handler's writes and its stream
	// ("wbuf").
	WriteBuffer int32
	// StoredHeaders sends header blocks uncompressed (HeaderCompression
	// NoHeaderCompression) on both ends ("stored").
	StoredHeaders bool
	// Plain runs the tunnel over plain TCP instead of TLS
	// (Proxy.AllowPlainTunnels, an http:// ProxyURL) ("plain").
	Plain bool
	// NoFlush drops the flushes P's front end asks of the client's
	// connection, so that a response goes out when the handler returns
	// or net/http's buffer fills ("noflush"). A held response then never
	// reaches the client: ProxyIdle refuses it.
	NoFlush bool
}

// variantSizes and variantSwitches are the settings of a variant spec,
// in the order String prints them.
var (
	variantSizes = []struct {
		key   string
		ptr   func(*ProxyVariant) *int32
		count bool // a count, printed without a unit
	}{
		{"win", func(v *ProxyVariant) *int32 { return &v.Window }, false},
		{"maxwin", func(v *ProxyVariant) *int32 { return &v.MaxWindow }, false},
		{"swin", func(v *ProxyVariant) *int32 { return &v.SessionWindow }, false},
		{"maxswin", func(v *ProxyVariant) *int32 { return &v.MaxSessionWindow }, false},
		{"frame", func(v *ProxyVariant) *int32 { return &v.FrameSize }, false},
		{"maxstreams", func(v *ProxyVariant) *int32 { return &v.MaxStreams }, true},
		{"wbuf", func(v *ProxyVariant) *int32 { return &v.WriteBuffer }, false},
	}
	variantSwitches = []struct {
		key string
		ptr func(*ProxyVariant) *bool
	}{
		{"stored", func(v *ProxyVariant) *bool { return &v.StoredHeaders }},
		{"plain", func(v *ProxyVariant) *bool { return &v.Plain }},
		{"noflush", func(v *ProxyVariant) *bool { return &v.NoFlush }},
	}
)

// variantKeys lists the keys of variantSizes and variantSwitches as the
// error of an unknown key names them: "win, maxwin, ... or noflush".
func variantKeys() string {
	var keys []string
	for _, vs := range variantSizes {
		keys = append(keys, vs.key)
	}
	for _, vs := range variantSwitches {
		keys = append(keys, vs.key)
	}
	return strings.Join(keys[:len(keys)-1], ", ") + " or " + keys[len(keys)-1]
}

// ParseProxyVariant reads a variant spec: comma-separated settings, each
// KEY=SIZE with the keys win, maxwin, swin, maxswin, frame, maxstreams
// and wbuf and a size as ParseSize reads it, or one of the switches
// stored, plain and noflush (see ProxyVariant), e.g.
// "win=1MiB,swin=16MiB,plain". The empty spec is the zero variant.
func ParseProxyVariant(spec string) (ProxyVariant, error) {
	var v ProxyVariant
next:
	for _, f := range strings.Split(spec, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		k, val, hasVal := strings.Cut(f, "=")
		k = strings.TrimSpace(k)
		for _, vs := range variantSwitches {
			if vs.key == k {
				if hasVal {
					return ProxyVariant{}, fmt.Errorf("variant switch %s takes no value", k)
				}
				*vs.ptr(&v) = true
				continue next
			}
		}
		for _, vs := range variantSizes {
			if vs.key == k {
				if !hasVal {
					return ProxyVariant{}, fmt.Errorf("bad variant setting %q (want %s=SIZE)", f, k)
				}
				n, err := ParseBufSize(val)
				if err != nil {
					return ProxyVariant{}, fmt.Errorf("variant setting %s: %w", k, err)
				}
				*vs.ptr(&v) = int32(n)
				continue next
			}
		}
		return ProxyVariant{}, fmt.Errorf("unknown variant setting %q (want %s)", k, variantKeys())
	}
	return v, nil
}

// String returns the variant's spec, the settings in a fixed order, ""
// for the zero variant.
func (v ProxyVariant) String() string {
	var parts []string
	for _, vs := range variantSizes {
		n := *vs.ptr(&v)
		switch {
		case n == 0:
		case vs.count:
			parts = append(parts, vs.key+"="+strconv.Itoa(int(n)))
		default:
			parts = append(parts, vs.key+"="+strings.ReplaceAll(FormatSize(int64(n)), " ", ""))
		}
	}
	for _, vs := range variantSwitches {
		if *vs.ptr(&v) {
			parts = append(parts, vs.key)
		}
	}
	return strings.Join(parts, ",")
}

// session returns the tunnel session configuration of v, nil when v keeps
// every default.
func (v ProxyVariant) session() *session.Config {
	if v.Window == 0 && v.MaxWindow == 0 && v.SessionWindow == 0 && v.MaxSessionWindow == 0 && v.FrameSize == 0 && v.MaxStreams == 0 && !v.StoredHeaders {
		return nil
	}
	cfg := &session.Config{
		Version:              session.V31,
		InitialWindowSize:    v.Window,
		MaxWindowSize:        v.MaxWindow,
		SessionWindowSize:    v.SessionWindow,
		MaxSessionWindowSize: v.MaxSessionWindow,
		MaxFrameSize:         int(v.FrameSize),
		MaxConcurrentStreams: uint32(v.MaxStreams),
	}
	if v.StoredHeaders {
		cfg.HeaderCompression = session.NoHeaderCompression
	}
	return cfg
}

// tunnelScheme is the scheme of the tunnel endpoint's URL.
func (v ProxyVariant) tunnelScheme() string {
	if v.Plain {
		return "http"
	}
	return "https"
}

// noFlushWriter is a ResponseWriter whose flushes do nothing (the
// experiment ProxyVariant.NoFlush).
type noFlushWriter struct{ http.ResponseWriter }

// Flush does nothing.
func (noFlushWriter) Flush() {}

// FlushError does nothing and reports success.
func (noFlushWriter) FlushError() error { return nil }

// ProxyPaths returns the three paths the proxy workloads compare: direct,
// proxy (P as shipped) and revproxy. None is multiplexed: the client
// reaches each over HTTP/1.1.
func ProxyPaths() []HTTPTransport {
	return []HTTPTransport{
		{Name: PathDirect, Desc: "the client to the origin's net/http HTTP/1.1 server", New: newDirectPair},
		ProxyPath(ProxyVariant{}),
		{Name: PathRevProxy, Desc: "the client to an httputil.ReverseProxy front end over HTTP/1.1, then over HTTP/1.1 to the origin's net/http server", New: newRevProxyPair},
	}
}

// LookupProxyPaths returns the paths named in a comma-separated list, in
// the order of ProxyPaths; "all" names every one.
func LookupProxyPaths(names string) ([]HTTPTransport, error) {
	return lookup(ProxyPaths(), func(t HTTPTransport) string { return t.Name }, names, "path")
}

// ProxyPath returns the path through P with the tunnel settings of v. It
// is named "proxy" for the zero variant and "proxy SPEC" otherwise.
func ProxyPath(v ProxyVariant) HTTPTransport {
	over := "TLS"
	if v.Plain {
		over = "plain TCP"
	}
	return HTTPTransport{
		Name: v.pathName(),
		Desc: "the client to P's front end over HTTP/1.1, then through a SPDY/3.1 tunnel over " + over + " to the origin",
		New:  newProxyPair(v),
	}
}

// pathName is the name of the path through P with the settings of v:
// "proxy" for the zero variant, "proxy SPEC" otherwise.
func (v ProxyVariant) pathName() string {
	if s := v.String(); s != "" {
		return PathProxy + " " + s
	}
	return PathProxy
}

// proxyClient returns the client transport of every path: HTTP/1.1 with
// keep-alive, enough idle connections for every concurrent client, no
// limit of connections per host and no gzip.
func proxyClient(o HTTPOptions) *http.Transport {
	var cp http.Protocols
	cp.SetHTTP1(true)
	return &http.Transport{
		Protocols:           &cp,
		MaxIdleConnsPerHost: max(o.Conns, o.MaxStreams, http.DefaultMaxIdleConnsPerHost),
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// http1Server returns a net/http server for h that speaks HTTP/1.1 only.
func http1Server(h http.Handler) *http.Server {
	var sp http.Protocols
	sp.SetHTTP1(true)
	return &http.Server{Handler: h, Protocols: &sp, ReadHeaderTimeout: time.Minute}
}

// served is a server running on a listener of its own.
type served struct {
	srv  httpServer
	ln   *countingListener
	errc chan error
}

// serve starts srv on a fresh loopback listener.
func serve(srv httpServer) (*served, error) {
	ln, err := listenLoopback()
	if err != nil {
		return nil, err
	}
	s := &served{srv: srv, ln: ln, errc: make(chan error, 1)}
	go func() { s.errc <- srv.Serve(ln) }()
	return s, nil
}

func (s *served) addr() string { return s.ln.Addr().String() }

// close closes the server and waits, within a bound, for its Serve to
// return.
func (s *served) close() error {
	err := s.srv.Close()
	if werr := waitServe(s.errc); err == nil {
		err = werr
	}
	return err
}

func newDirectPair(h http.Handler, o HTTPOptions) (*HTTPPair, error) {
	origin, err := serve(http1Server(h))
	if err != nil {
		return nil, err
	}
	tr := proxyClient(o)
	return &HTTPPair{
		Client: &http.Client{Transport: tr},
		URL:    "http://" + origin.addr(),
		ln:     origin.ln,
		closeFn: func() error {
			tr.CloseIdleConnections()
			return origin.close()
		},
	}, nil
}

// newReverseProxy returns an httputil.ReverseProxy to target configured
// as a careful user would: an upstream pool with enough idle connections,
// a pool of copy buffers, X-Forwarded-* headers (P adds them too), no
// gzip, and its expected errors (a client gone) not logged. flush is its
// FlushInterval.
func newReverseProxy(target *url.URL, idle int, flush time.Duration) *httputil.ReverseProxy {
	var cp http.Protocols
	cp.SetHTTP1(true)
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: &http.Transport{
			Protocols:           &cp,
			MaxIdleConnsPerHost: max(idle, http.DefaultMaxIdleConnsPerHost),
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		BufferPool:    &bufferPool{},
		ErrorLog:      log.New(io.Discard, "", 0),
		FlushInterval: flush,
	}
}

// bufferPool is an httputil.BufferPool of 32 KiB buffers.
type bufferPool struct{ p sync.Pool }

// Get returns a buffer of the pool, or a new one.
func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

// Put returns buf to the pool.
func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// revProxyFront is an httputil.ReverseProxy front end.
type revProxyFront struct {
	front *served
	rp    *httputil.ReverseProxy
}

func startRevProxy(target *url.URL, idle int, flush time.Duration) (*revProxyFront, error) {
	rp := newReverseProxy(target, idle, flush)
	front, err := serve(http1Server(rp))
	if err != nil {
		return nil, err
	}
	return &revProxyFront{front: front, rp: rp}, nil
}

func (f *revProxyFront) close() error {
	err := f.front.close()
	f.rp.Transport.(*http.Transport).CloseIdleConnections()
	return err
}

func newRevProxyPair(h http.Handler, o HTTPOptions) (*HTTPPair, error) {
	origin, err := serve(http1Server(h))
	if err != nil {
		return nil, err
	}
	// FlushInterval 0, the default: a response with a length is flushed
	// when it is complete (or the buffer is full), which suits these
	// workloads best.
	front, err := startRevProxy(&url.URL{Scheme: "http", Host: origin.addr()}, max(o.Conns, o.MaxStreams), 0)
	if err != nil {
		origin.close()
		return nil, err
	}
	tr := proxyClient(o)
	return &HTTPPair{
		Client: &http.Client{Transport: tr},
		URL:    "http://" + front.front.addr(),
		ln:     front.front.ln,
		closeFn: func() error {
			tr.CloseIdleConnections()
			return errors.Join(front.close(), origin.close())
		},
	}, nil
}

// proxyFront is P: its front end on a plain HTTP/1.1 listener and its
// tunnel endpoint on TLS, each on a loopback port of its own.
type proxyFront struct {
	p          *proxy.Proxy
	front      *served
	tunnel     *http.Server
	tunnelAddr string
	tunnelErr  chan error
}

// startProxy starts P with the tunnel settings of v and cert as the
// tunnel endpoint's certificate. The origin's token is registered, and a
// request waits up to proxyHangGuard for its tunnel, so that a request
// sent just after the origin connected does not get a 503.
func startProxy(v ProxyVariant, cert tls.Certificate) (*proxyFront, error) {
	p := &proxy.Proxy{
		Registry:   proxy.NewRegistry(),
		Route:      proxy.RoutePath,
		Session:    v.session(),
		OriginWait: proxyHangGuard,
	}
	if err := p.Registry.Add(proxyOriginName, proxyOriginToken); err != nil {
		return nil, fmt.Errorf("register origin: %w", err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &proxyFront{p: p, tunnelAddr: raw.Addr().String(), tunnelErr: make(chan error, 1)}
	f.tunnel = p.NewTunnelServer(&tls.Config{Certificates: []tls.Certificate{cert}})
	var ln net.Listener = raw
	if v.Plain {
		p.AllowPlainTunnels = true
	} else {
		ln = tls.NewListener(raw, f.tunnel.TLSConfig)
	}
	go func() { f.tunnelErr <- f.tunnel.Serve(ln) }()
	var h http.Handler = p
	if v.NoFlush {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.ServeHTTP(noFlushWriter{w}, r) })
	}
	if f.front, err = serve(http1Server(h)); err != nil {
		f.closeTunnel()
		return nil, err
	}
	return f, nil
}

// url returns the base URL of the origin at P's front end.
func (f *proxyFront) url() string {
	return "http://" + f.front.addr() + proxy.DefaultPathPrefix + proxyOriginName
}

// closeTunnel stops the tunnel endpoint and closes every tunnel.
func (f *proxyFront) closeTunnel() error {
	err := f.tunnel.Close()
	if werr := waitServe(f.tunnelErr); err == nil {
		err = werr
	}
	if cerr := f.p.Close(); err == nil {
		err = cerr
	}
	return err
}

// close stops the front end, then the tunnel endpoint.
func (f *proxyFront) close() error {
	return errors.Join(f.front.close(), f.closeTunnel())
}

// startOrigin connects a proxy.Connector serving h to P's tunnel endpoint
// at addr, verified with tlsCfg. The returned stop ends it and reports how
// it ended.
func startOrigin(v ProxyVariant, addr string, tlsCfg *tls.Config, h http.Handler) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &proxy.Connector{
		ProxyURL:        v.tunnelScheme() + "://" + addr,
		Name:            proxyOriginName,
		Token:           proxyOriginToken,
		Handler:         h,
		TLSConfig:       tlsCfg,
		Session:         v.session(),
		WriteBufferSize: int(v.WriteBuffer),
		MinBackoff:      10 * time.Millisecond,
		MaxBackoff:      200 * time.Millisecond,
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("origin: %w", err)
		case <-time.After(proxyHangGuard):
			return errors.New("origin did not stop")
		}
	}
}

func newProxyPair(v ProxyVariant) func(http.Handler, HTTPOptions) (*HTTPPair, error) {
	return func(h http.Handler, o HTTPOptions) (*HTTPPair, error) {
		cert, pool, err := selfsigned.Loopback("proxybench")
		if err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
		f, err := startProxy(v, cert)
		if err != nil {
			return nil, err
		}
		stopOrigin := startOrigin(v, f.tunnelAddr, &tls.Config{RootCAs: pool}, h)
		ctx, cancel := context.WithTimeout(context.Background(), proxyHangGuard)
		err = f.p.WaitConnected(ctx, proxyOriginName, false)
		cancel()
		if err != nil {
			return nil, errors.Join(fmt.Errorf("origin did not connect: %w", err), stopOrigin(), f.close())
		}
		tr := proxyClient(o)
		return &HTTPPair{
			Client: &http.Client{Transport: tr},
			URL:    f.url(),
			ln:     f.front.ln,
			closeFn: func() error {
				tr.CloseIdleConnections()
				err := f.front.close()
				return errors.Join(err, stopOrigin(), f.closeTunnel())
			},
		}, nil
	}
}

// ProxyChildEnv is the environment variable that makes a program the
// front-end process of ProxyIdle: ProxyChild then serves instead of
// returning.
const ProxyChildEnv = "SPDY_BENCH_PROXY_CHILD"

// ProxyChild returns at once unless the environment variable
// ProxyChildEnv is set, in which case the process is the front end of a
// ProxyIdle run: it serves as told in that variable and on its standard
// input and exits. A program that runs ProxyIdle calls ProxyChild first
// thing in main (a test binary: in TestMain or an init function).
func ProxyChild() {
	spec, ok := os.LookupEnv(ProxyChildEnv)
	if !ok {
		return
	}
	if err := runProxyChild(spec, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "proxy front-end process:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// childConfig is what the front-end process is told in ProxyChildEnv.
type childConfig struct {
	FrontEnd string `json:"front_end"`
	Variant  string `json:"variant,omitempty"`
	Origin   string `json:"origin,omitempty"` // revproxy: the origin's URL
	Idle     int    `json:"idle,omitempty"`   // revproxy: idle upstream connections
	// HeapProfile names a file to write the process's heap profile to
	// at every "settle", sampling every 4 KiB allocated.
	HeapProfile string `json:"heap_profile,omitempty"`
}

// childHello is the front-end process's first line on its standard
// output: where it listens, or why it could not start.
type childHello struct {
	Front  string `json:"front,omitempty"`  // base URL of the origin at the front end
	Tunnel string `json:"tunnel,omitempty"` // proxy: the tunnel endpoint's host:port
	Pin    string `json:"pin,omitempty"`    // proxy: the tunnel certificate's fingerprint
	Err    string `json:"err,omitempty"`
}

// childMem is the front-end process's answer to "settle": its memory
// after a garbage collection and the connections its front end accepted.
type childMem struct {
	Heap       uint64 `json:"heap"`
	Stack      uint64 `json:"stack"`
	Goroutines int    `json:"goroutines"`
	Conns      int64  `json:"conns"`
}

// runProxyChild is the front-end process: it starts the front end the
// spec names, writes a childHello, and answers each "settle" line of in
// with a childMem, until "quit" or the end of in.
func runProxyChild(spec string, in io.Reader, out io.Writer) error {
	var cfg childConfig
	if err := json.Unmarshal([]byte(spec), &cfg); err != nil {
		return fmt.Errorf("%s: %w", ProxyChildEnv, err)
	}
	enc := json.NewEncoder(out)
	if cfg.HeapProfile != "" {
		runtime.MemProfileRate = 4 << 10
	}
	var (
		hello  childHello
		ln     *countingListener
		stopFE func() error
	)
	switch cfg.FrontEnd {
	case PathProxy:
		f, pin, err := childProxy(cfg.Variant)
		if err != nil {
			enc.Encode(childHello{Err: err.Error()})
			return err
		}
		hello = childHello{Front: f.url(), Tunnel: f.tunnelAddr, Pin: pin}
		ln, stopFE = f.front.ln, f.close
	case PathRevProxy:
		target, err := url.Parse(cfg.Origin)
		if err == nil && target.Host == "" {
			err = errors.New("no host")
		}
		if err != nil {
			enc.Encode(childHello{Err: "origin URL: " + err.Error()})
			return fmt.Errorf("origin URL %q: %w", cfg.Origin, err)
		}
		// FlushInterval -1: with the default, the headers of a response
		// with a length are held until its body comes, and a held
		// response would never reach the client.
		f, err := startRevProxy(target, cfg.Idle, -1)
		if err != nil {
			enc.Encode(childHello{Err: err.Error()})
			return err
		}
		hello = childHello{Front: "http://" + f.front.addr()}
		ln, stopFE = f.front.ln, f.close
	default:
		err := fmt.Errorf("unknown front end %q", cfg.FrontEnd)
		enc.Encode(childHello{Err: err.Error()})
		return err
	}
	if err := enc.Encode(hello); err != nil {
		stopFE()
		return err
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		switch sc.Text() {
		case "settle":
			heap, stack, gr := settle()
			if cfg.HeapProfile != "" {
				if err := writeHeapProfile(cfg.HeapProfile); err != nil {
					stopFE()
					return err
				}
			}
			if err := enc.Encode(childMem{Heap: heap, Stack: stack, Goroutines: gr, Conns: ln.accepted.Load()}); err != nil {
				stopFE()
				return err
			}
		case "quit":
			return stopFE()
		default:
			stopFE()
			return fmt.Errorf("unknown command %q", sc.Text())
		}
	}
	return stopFE()
}

// writeHeapProfile writes the heap profile (as of the last garbage
// collection) to the named file.
func writeHeapProfile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}

// childProxy starts P for the front-end process and returns it with its
// tunnel certificate's fingerprint.
func childProxy(spec string) (*proxyFront, string, error) {
	v, err := ParseProxyVariant(spec)
	if err != nil {
		return nil, "", err
	}
	cert, _, err := selfsigned.Loopback("proxybench")
	if err != nil {
		return nil, "", fmt.Errorf("certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, "", fmt.Errorf("certificate: %w", err)
	}
	f, err := startProxy(v, cert)
	if err != nil {
		return nil, "", err
	}
	return f, proxy.Fingerprint(leaf), nil
}

// MemGrowth is the growth of a process's memory per request held open,
// after a garbage collection.
type MemGrowth struct {
	Heap       float64 // in-use heap, bytes
	Stack      float64 // goroutine stacks, bytes
	Goroutines float64
}

// Total returns the heap and stack bytes together.
func (m MemGrowth) Total() float64 { return m.Heap + m.Stack }

func growth(heap0, stack0 uint64, gr0 int, heap1, stack1 uint64, gr1 int, n int) MemGrowth {
	return MemGrowth{
		Heap:       float64(int64(heap1)-int64(heap0)) / float64(n),
		Stack:      float64(int64(stack1)-int64(stack0)) / float64(n),
		Goroutines: float64(gr1-gr0) / float64(n),
	}
}

// ProxyIdleParams describe requests held open through a front end.
type ProxyIdleParams struct {
	// FrontEnd is PathProxy (P) or PathRevProxy.
	FrontEnd string
	// Variant holds P's tunnel settings; it must be zero for revproxy.
	Variant ProxyVariant
	// Requests is how many requests are held open at once.
	Requests int
	// Exe is the program run as the front end's process; it must call
	// ProxyChild at its start. Empty means this program
	// (os.Executable).
	Exe string
	// HeapProfile, if set, names a file for the front-end process's heap
	// profile as the requests are held open (in-use space, sampled every
	// 4 KiB).
	HeapProfile string
	Timeout     time.Duration
}

// ProxyIdleResult is the outcome of one ProxyIdle run.
type ProxyIdleResult struct {
	// Elapsed is the time from the first request sent to the last
	// response's headers received.
	Elapsed  time.Duration
	Requests int
	// Front is the growth of the front end's process per request held
	// open: for P its front end (an HTTP/1.1 connection each), the
	// proxying and its side of the tunnel; for revproxy the front end and
	// its upstream HTTP/1.1 connections.
	Front MemGrowth
	// Rest is the growth of this process per request: the load client
	// (an HTTP/1.1 connection each) and the origin (for P: the
	// connector's SPDY server; for revproxy: a net/http server connection
	// each) with its handlers.
	Rest MemGrowth
	// Conns is the number of connections the front end accepted.
	Conns int64
}

// ProxyIdle measures what requests held open through a front end cost
// the front end alone: the front end (P, or an httputil.ReverseProxy)
// runs in a process of its own (Exe), and the load client and the origin
// in this one. The client sends Requests GETs whose origin handler writes
// the response headers, flushes and waits; once every response's headers
// have arrived, both processes measure the growth of the in-use heap, of
// goroutine stacks and of the goroutine count since before the requests,
// after a garbage collection. Then the handlers are released and every
// response body is checked.
func ProxyIdle(p ProxyIdleParams) (ProxyIdleResult, error) {
	if p.Requests < 1 {
		return ProxyIdleResult{}, errors.New("requests must be positive")
	}
	if p.FrontEnd != PathProxy && p.FrontEnd != PathRevProxy {
		return ProxyIdleResult{}, fmt.Errorf("unknown front end %q (want %s or %s)", p.FrontEnd, PathProxy, PathRevProxy)
	}
	if p.FrontEnd == PathRevProxy && p.Variant != (ProxyVariant{}) {
		return ProxyIdleResult{}, errors.New("a variant applies to P only")
	}
	if p.Variant.NoFlush {
		return ProxyIdleResult{}, errors.New("without flushes no held response reaches the client")
	}
	// Each process holds a descriptor per request for P (the client's
	// connections here, the front end's there) and two for revproxy (the
	// origin's connections here, the upstream ones there).
	fds := p.Requests + 256
	if p.FrontEnd == PathRevProxy {
		fds = 2*p.Requests + 256
	}
	if uint64(fds) > fdLimit() {
		return ProxyIdleResult{}, fmt.Errorf("%w: %d requests need %d, the limit is %d", ErrNotEnoughFiles, p.Requests, fds, fdLimit())
	}
	exe := p.Exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return ProxyIdleResult{}, fmt.Errorf("front-end program: %w", err)
		}
	}
	name := p.Variant.pathName()
	if p.FrontEnd == PathRevProxy {
		name = PathRevProxy
	}
	r := &idleRun{p: p, h: newHTTPHandler()}
	r.h.reqSize, r.h.respSize = 1, 1
	res, err := r.run(exe)
	if cerr := r.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w", name, err)
	}
	return res, nil
}

// idleRun is one ProxyIdle run; close undoes what run started, in any
// state.
type idleRun struct {
	p          ProxyIdleParams
	h          *httpHandler
	origin     *served      // revproxy: the origin's HTTP/1.1 server
	stopOrigin func() error // proxy: the origin's tunnel
	child      *childProc
	tr         *http.Transport
}

func (r *idleRun) run(exe string) (ProxyIdleResult, error) {
	cfg := childConfig{FrontEnd: r.p.FrontEnd, Variant: r.p.Variant.String(), HeapProfile: r.p.HeapProfile}
	if r.p.FrontEnd == PathRevProxy {
		var err error
		if r.origin, err = serve(http1Server(r.h)); err != nil {
			return ProxyIdleResult{}, err
		}
		cfg.Origin = "http://" + r.origin.addr()
		cfg.Idle = r.p.Requests + 16
	}
	var err error
	if r.child, err = startChild(exe, cfg); err != nil {
		return ProxyIdleResult{}, err
	}
	g, stopTimer := timedGroup(r.child.kill, r.p.Timeout)
	defer stopTimer()
	if r.p.FrontEnd == PathProxy {
		tlsCfg, err := proxy.PinnedTLSConfig(r.child.hello.Pin)
		if err != nil {
			return ProxyIdleResult{}, err
		}
		r.stopOrigin = startOrigin(r.p.Variant, r.child.hello.Tunnel, tlsCfg, r.h)
	}
	r.tr = proxyClient(HTTPOptions{Conns: r.p.Requests + 16})
	client := &http.Client{Transport: r.tr}
	base := r.child.hello.Front

	// One request first, so that what is allocated once (the tunnel's
	// buffers and compression contexts, the pools) is not counted per
	// request; it also waits for the origin's tunnel.
	if err := doHTTPReq(client, base+"/rr", 1, make([]byte, 1), make([]byte, 1)); err != nil {
		return ProxyIdleResult{}, fmt.Errorf("warm-up: %w", err)
	}
	front0, err := r.child.settle()
	if err != nil {
		return ProxyIdleResult{}, err
	}
	heap0, stack0, gr0 := settle()

	resps := make([]*http.Response, r.p.Requests)
	start := time.Now()
	g.each(len(resps), 16, func(i int) error {
		res, err := client.Get(base + "/idle/" + strconv.Itoa(i))
		if err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
		resps[i] = res
		if err := checkStatus(res); err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
		return nil
	})
	err = g.wait()
	elapsed := time.Since(start)
	defer func() {
		for _, res := range resps {
			if res != nil {
				res.Body.Close()
			}
		}
	}()
	if err == nil && r.h.waiting.Load() != int64(r.p.Requests) {
		err = fmt.Errorf("%d handlers waiting, want %d", r.h.waiting.Load(), r.p.Requests)
	}
	if err != nil {
		return ProxyIdleResult{}, err
	}
	front1, err := r.child.settle()
	if err != nil {
		return ProxyIdleResult{}, err
	}
	heap1, stack1, gr1 := settle()
	res := ProxyIdleResult{
		Elapsed:  elapsed,
		Requests: r.p.Requests,
		Front:    growth(front0.Heap, front0.Stack, front0.Goroutines, front1.Heap, front1.Stack, front1.Goroutines, r.p.Requests),
		Rest:     growth(heap0, stack0, gr0, heap1, stack1, gr1, r.p.Requests),
		Conns:    front1.Conns,
	}

	// Release the handlers; every response must carry its own index.
	r.h.unblock()
	g.each(len(resps), 16, func(i int) error {
		if err := readIdleBody(resps[i], uint64(i)); err != nil {
			return fmt.Errorf("response %d: %w", i, err)
		}
		return nil
	})
	if err := g.wait(); err != nil {
		return res, err
	}
	return res, r.h.failure()
}

// close stops the client, the front-end process, the origin and its
// handlers, and returns the first thing that went wrong.
func (r *idleRun) close() error {
	r.h.unblock()
	if r.tr != nil {
		r.tr.CloseIdleConnections()
	}
	// The origin's tunnel first: it ends when the front end's process does.
	var errs []error
	if r.stopOrigin != nil {
		errs = append(errs, r.stopOrigin())
	}
	if r.child != nil {
		errs = append(errs, r.child.quit())
	}
	if r.origin != nil {
		errs = append(errs, r.origin.close())
	}
	done := make(chan struct{})
	go func() { r.h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(proxyHangGuard):
		errs = append(errs, errors.New("origin handlers still running after the front end stopped"))
	}
	return errors.Join(errs...)
}

// childProc is a running front-end process.
type childProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr *bytes.Buffer // read only once Wait returned
	hello  childHello
}

// startChild runs exe as a front-end process with cfg and reads its
// hello. The process ends when its standard input closes.
func startChild(exe string, cfg childConfig) (*childProc, error) {
	spec, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	c := &childProc{cmd: exec.Command(exe), stderr: &bytes.Buffer{}}
	c.cmd.Env = append(os.Environ(), ProxyChildEnv+"="+string(spec))
	c.cmd.Stderr = c.stderr
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.out = bufio.NewReader(stdout)
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("front-end process: %w", err)
	}
	// A program that does not call ProxyChild would run as itself and
	// might never write a hello; the guard kills it.
	guard := time.AfterFunc(proxyHangGuard, c.kill)
	err = c.read(&c.hello)
	guard.Stop()
	if err == nil && c.hello.Err != "" {
		err = errors.New(c.hello.Err)
	}
	if err == nil && c.hello.Front == "" {
		err = errors.New("no front-end address")
	}
	if err != nil {
		c.kill()
		c.stdin.Close()
		c.cmd.Wait()
		return nil, fmt.Errorf("front-end process %s: %w", exe, c.withStderr(err))
	}
	return c, nil
}

// read decodes the process's next output line into v.
func (c *childProc) read(v any) error {
	line, err := c.out.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("reading the front-end process: %w", err)
	}
	return json.Unmarshal(line, v)
}

// settle asks the process for its memory after a garbage collection.
func (c *childProc) settle() (childMem, error) {
	var m childMem
	if _, err := io.WriteString(c.stdin, "settle\n"); err != nil {
		return m, fmt.Errorf("front-end process: %w", err)
	}
	return m, c.read(&m)
}

// kill ends the process at once. It is safe to call from any goroutine.
func (c *childProc) kill() { c.cmd.Process.Kill() }

// quit tells the process to stop and waits for it, within a bound.
func (c *childProc) quit() error {
	io.WriteString(c.stdin, "quit\n")
	c.stdin.Close()
	guard := time.AfterFunc(proxyHangGuard, c.kill)
	defer guard.Stop()
	if err := c.cmd.Wait(); err != nil {
		return fmt.Errorf("front-end process: %w", c.withStderr(err))
	}
	return nil
}

// withStderr adds the start of what the ended process wrote on its
// standard error to err.
func (c *childProc) withStderr(err error) error {
	s := strings.TrimSpace(c.stderr.String())
	if s == "" {
		return err
	}
	if len(s) > 500 {
		s = s[:500] + "..."
	}
	return fmt.Errorf("%w (its stderr: %s)", err, s)
}
