package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/netutil"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/internal/selfsigned"
	"github.com/spdygo/spdy/npn"
	"github.com/spdygo/spdy/proxy"
)

// daemon is a running spdyproxy: the proxy, its listeners and servers.
type daemon struct {
	p      *proxy.Proxy
	logger *slog.Logger

	cert       tls.Certificate
	selfSigned bool
	pool       *x509.CertPool // trusts cert when it is self-signed

	frontLn, frontTLSLn, tunnelLn, metricsLn net.Listener

	spdy     *httpadapter.Server // SPDY side of both front ends
	web      *http.Server        // plain front end (HTTP/1.1, h2c)
	webTLS   *http.Server        // TLS front end (h2, http/1.1; SPDY by ALPN)
	tunnel   *http.Server
	metricsS *http.Server

	failed chan error
	wg     sync.WaitGroup

	demo *demoOrigin
}

func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// start listens on every configured address and serves.
func start(o *options, logger *slog.Logger) (*daemon, error) {
	d := &daemon{logger: logger, failed: make(chan error, 5)}
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		d.cert = cert
	} else {
		cert, pool, err := selfsigned.Loopback("spdyproxy self-signed")
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		d.cert, d.pool, d.selfSigned = cert, pool, true
	}

	var reg *proxy.Registry
	if o.origins != "" {
		r, err := proxy.LoadOrigins(o.origins)
		if err != nil {
			return nil, err
		}
		reg = r
	} else {
		reg = proxy.NewRegistry()
	}
	route, _ := proxy.ParseRoute(o.route)
	d.p = &proxy.Proxy{Registry: reg, Route: route, Domain: o.domain, Logger: logger}

	var front http.Handler = d.p
	if !o.quiet {
		front = logRequests(logger, d.p)
	}
	d.spdy = &httpadapter.Server{Handler: front, Logger: debugOnly(logger, o.verbose)}
	errLog := slog.NewLogLogger(logger.Handler(), slog.LevelDebug)

	tlsConf := &tls.Config{Certificates: []tls.Certificate{d.cert}, MinVersion: tls.VersionTLS12}
	ok := false
	defer func() {
		if !ok {
			d.closeListeners()
		}
	}()
	var err error
	if d.tunnelLn, err = o.listen("tunnel", o.tunnel); err != nil {
		return nil, fmt.Errorf("-tunnel: %w", err)
	}
	d.tunnel = d.p.NewTunnelServer(tlsConf)
	d.tunnel.ErrorLog = errLog
	if o.front != "" {
		if d.frontLn, err = o.listen("front", o.front); err != nil {
			return nil, fmt.Errorf("-front: %w", err)
		}
		d.web = &http.Server{Handler: front, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: httpadapter.DefaultServerIdleTimeout, ErrorLog: errLog}
		d.web.Protocols = new(http.Protocols)
		d.web.Protocols.SetHTTP1(true)
		d.web.Protocols.SetUnencryptedHTTP2(true)
	}
	if o.frontTLS != "" {
		if d.frontTLSLn, err = net.Listen("tcp", o.frontTLS); err != nil {
			return nil, fmt.Errorf("-front-tls: %w", err)
		}
		d.webTLS = &http.Server{Handler: front, TLSConfig: tlsConf.Clone(), ReadHeaderTimeout: 30 * time.Second, IdleTimeout: httpadapter.DefaultServerIdleTimeout, ErrorLog: errLog}
		if err := npn.ConfigureServer(d.webTLS, d.spdy); err != nil {
			return nil, err
		}
	}
	if o.metrics != "" {
		if d.metricsLn, err = net.Listen("tcp", o.metrics); err != nil {
			return nil, fmt.Errorf("-metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", d.p.MetricsHandler())
		mux.Handle("/healthz", d.p.HealthHandler())
		d.metricsS = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	}
	ok = true
	if o.maxConns > 0 {
		// Client connections beyond the limit wait in the kernel's accept
		// queue; those being served go on.
		for _, ln := range []*net.Listener{&d.frontLn, &d.frontTLSLn} {
			if *ln != nil {
				*ln = netutil.LimitListener(*ln, o.maxConns)
			}
		}
	}

	d.goServe(func() error { return d.tunnel.ServeTLS(d.tunnelLn, "", "") })
	if d.web != nil {
		d.goServe(func() error { return npn.ServeSniffed(d.frontLn, d.spdy, d.web, nil) })
	}
	if d.webTLS != nil {
		d.goServe(func() error { return d.webTLS.ServeTLS(d.frontTLSLn, "", "") })
	}
	if d.metricsS != nil {
		d.goServe(func() error { return d.metricsS.Serve(d.metricsLn) })
	}
	logger.Info("proxy started", "origins", reg.Len(), "route", route.String(), "domain", o.domain)
	return d, nil
}

// listen listens on addr, the value of the flag name. With -demo, a
// default address that is taken gives way to a free port, so that the demo
// runs wherever it is started.
func (o *options) listen(name, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil && o.demo && !o.set[name] {
		host, _, _ := net.SplitHostPort(addr)
		return net.Listen("tcp", net.JoinHostPort(host, "0"))
	}
	return ln, err
}

// debugOnly returns logger when verbose, else nil.
func debugOnly(logger *slog.Logger, verbose bool) *slog.Logger {
	if verbose {
		return logger
	}
	return nil
}

// goServe runs a serving loop, reporting how it ended unless it ended
// because of a shutdown.
func (d *daemon) goServe(serve func() error) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			d.failed <- err
		}
	}()
}

// fingerprint returns the hex SHA-256 of the certificate's DER bytes.
func (d *daemon) fingerprint() string {
	sum := sha256.Sum256(d.cert.Certificate[0])
	return hex.EncodeToString(sum[:])
}

// announce prints the listeners' addresses.
func (d *daemon) announce(w io.Writer) error {
	var err error
	p := func(format string, a ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, a...)
		}
	}
	if d.frontLn != nil {
		p("front http://%s\n", d.frontLn.Addr())
	}
	if d.frontTLSLn != nil {
		p("front-tls https://%s\n", d.frontTLSLn.Addr())
	}
	p("tunnel %s\n", d.tunnelLn.Addr())
	if d.metricsLn != nil {
		p("metrics http://%s/metrics\n", d.metricsLn.Addr())
	}
	if d.selfSigned {
		p("certificate sha256 %s\n", d.fingerprint())
	}
	return err
}

// shutdown stops the front ends (waiting for their requests), then the
// tunnels, then the rest.
func (d *daemon) shutdown(ctx context.Context) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	add := func(err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	fronts := []func(context.Context) error{d.spdy.Shutdown}
	for _, s := range []*http.Server{d.web, d.webTLS} {
		if s != nil {
			fronts = append(fronts, s.Shutdown)
		}
	}
	for _, shut := range fronts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			add(shut(ctx))
		}()
	}
	wg.Wait()
	// The demo's origin goes once its requests in flight are done.
	if d.demo != nil {
		d.demo.stop()
	}
	add(d.tunnel.Shutdown(ctx))
	add(d.p.Shutdown(ctx))
	if d.metricsS != nil {
		add(d.metricsS.Shutdown(ctx))
	}
	d.closeListeners()
	if len(errs) > 0 {
		d.close()
	}
	d.wg.Wait()
	return errors.Join(errs...)
}

// close stops everything at once.
func (d *daemon) close() {
	if d.demo != nil {
		d.demo.stop()
	}
	d.spdy.Close()
	for _, s := range []*http.Server{d.web, d.webTLS, d.tunnel, d.metricsS} {
		if s != nil {
			s.Close()
		}
	}
	d.p.Close()
	d.closeListeners()
	d.wg.Wait()
}

func (d *daemon) closeListeners() {
	for _, ln := range []net.Listener{d.frontLn, d.frontTLSLn, d.tunnelLn, d.metricsLn} {
		if ln != nil {
			ln.Close()
		}
	}
}

// statusWriter records the status and body size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// Flush flushes the underlying writer when it can.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap returns the underlying ResponseWriter for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests logs one record per request.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			status := sw.status
			v := recover()
			if v != nil {
				status = -1 // aborted
			}
			logger.Info("request", "remote", r.RemoteAddr, "proto", r.Proto, "method", r.Method,
				"host", r.Host, "uri", r.URL.RequestURI(), "status", status, "bytes", sw.n,
				"duration", time.Since(start).Round(time.Microsecond))
			if v != nil {
				panic(v)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}
