package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/netutil"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/npn"
	"github.com/spdygo/spdy/session"
)

// daemon is a running spdyd: one listener, a SPDY server and an HTTP
// server (HTTP/1.1, and HTTP/2 with TLS) behind it.
type daemon struct {
	ln     net.Listener
	spdy   *httpadapter.Server
	web    *http.Server
	failed chan error // a serving loop ended with an error
	logger *log.Logger
	sniff  *npn.SniffListener // with a pinned -proto
	wg     sync.WaitGroup
}

// start listens on o.addr and serves the files under o.root.
func start(o *options, logger *log.Logger) (*daemon, error) {
	var reqLog *log.Logger
	if !o.quiet {
		reqLog = logger
	}
	files := newHandler(o.root, o.push, reqLog)
	var tlsConf *tls.Config
	if o.tls() {
		var cert tls.Certificate
		var err error
		if o.selfSigned {
			cert, err = selfSignedCert()
			if err == nil {
				logger.Printf("self-signed certificate for 127.0.0.1, ::1 and localhost, SHA-256 %s", fingerprint(cert.Certificate[0]))
			}
		} else {
			cert, err = tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		}
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	version := session.V31
	if o.proto != "auto" {
		v, err := session.ParseVersion(o.proto)
		if err != nil {
			return nil, err
		}
		version = v
	}
	d := &daemon{
		spdy: &httpadapter.Server{
			Handler: files,
			Session: &session.Config{Version: version},
			BaseContext: func(s *session.Session) context.Context {
				return withProto(context.Background(), s.Version().String())
			},
		},
		web: &http.Server{
			Handler:           files,
			TLSConfig:         tlsConf,
			ReadHeaderTimeout: 30 * time.Second,
			// Idle HTTP/1.1 and HTTP/2 connections end as idle SPDY
			// sessions do.
			IdleTimeout: httpadapter.DefaultServerIdleTimeout,
			ErrorLog:    logger,
		},
		failed: make(chan error, 2),
		logger: logger,
	}
	// HTTP/1.1 clients may switch to SPDY/3.1 with an Upgrade.
	d.web.Handler = &upgradeHandler{spdy: d.spdy, next: files, log: reqLog}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, err
	}
	if o.maxConns > 0 {
		// Connections beyond the limit wait in the kernel's accept queue;
		// those being served go on.
		ln = netutil.LimitListener(ln, o.maxConns)
	}
	d.ln = ln
	if err := d.serve(o); err != nil {
		ln.Close()
		return nil, err
	}
	logger.Printf("serving %s on %s, %s", o.root, ln.Addr(), o.describe())
	return d, nil
}

// serve starts the serving loops on d.ln.
func (d *daemon) serve(o *options) error {
	if o.tls() {
		var versions []session.Version
		if o.proto != "auto" {
			v, err := session.ParseVersion(o.proto)
			if err != nil {
				return err
			}
			versions = append(versions, v)
		}
		if err := npn.ConfigureServer(d.web, d.spdy, versions...); err != nil {
			return err
		}
		d.goServe(func() error { return d.web.ServeTLS(d.ln, "", "") })
		return nil
	}
	// HTTP/2 with prior knowledge (h2c) on the plain port too.
	d.web.Protocols = new(http.Protocols)
	d.web.Protocols.SetHTTP1(true)
	d.web.Protocols.SetUnencryptedHTTP2(true)
	if o.proto == "auto" {
		d.goServe(func() error { return npn.ServeSniffed(d.ln, d.spdy, d.web, nil) })
		return nil
	}
	pinned, err := session.ParseVersion(o.proto)
	if err != nil {
		return err
	}
	cfg := &npn.SniffConfig{V3: session.V3}
	if pinned == session.V31 {
		cfg.V3 = session.V31
	}
	sl := npn.NewSniffListener(d.ln, cfg)
	d.sniff = sl
	d.goServe(func() error { return d.web.Serve(sl.HTTP()) })
	d.goServe(func() error { return d.servePinned(sl.SPDY(), pinned) })
	return nil
}

// servePinned serves the SPDY connections of l at version v, closing
// those whose first frame shows another wire version.
func (d *daemon) servePinned(l *npn.SPDYListener, v session.Version) error {
	for {
		c, err := l.AcceptSPDY()
		if err != nil {
			return err
		}
		if (c.Version() == session.V2) != (v == session.V2) {
			d.logger.Printf("%s: closed: speaks %s, this server %s (-proto)", c.RemoteAddr(), c.Version(), v)
			c.Close()
			continue
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.spdy.ServeConn(c, &httpadapter.ServeConnOpts{Version: v})
		}()
	}
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

// addr returns the address the daemon listens on.
func (d *daemon) addr() net.Addr { return d.ln.Addr() }

// shutdown stops both servers gracefully, closing what is left when ctx
// ends, and waits for the serving loops to return.
func (d *daemon) shutdown(ctx context.Context) error {
	var wg sync.WaitGroup
	var spdyErr, webErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		spdyErr = d.spdy.Shutdown(ctx)
	}()
	go func() {
		defer wg.Done()
		webErr = d.web.Shutdown(ctx)
	}()
	wg.Wait()
	d.closeListener()
	if spdyErr != nil || webErr != nil {
		d.spdy.Close()
		d.web.Close()
	}
	d.wg.Wait()
	return errors.Join(spdyErr, webErr)
}

// close stops both servers at once.
func (d *daemon) close() {
	d.spdy.Close()
	d.web.Close()
	d.closeListener()
	d.wg.Wait()
}

// closeListener closes the listener and what sniffs it.
func (d *daemon) closeListener() {
	if d.sniff != nil {
		d.sniff.Close()
	}
	d.ln.Close()
}

// upgradeHandler switches the HTTP/1.1 requests that ask for
// "Upgrade: SPDY/3.1" to a SPDY session served by spdy, and passes the
// other requests to next.
type upgradeHandler struct {
	spdy *httpadapter.Server
	next http.Handler
	log  *log.Logger // nil: no request log
}

func (h *upgradeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 1 || !hasToken(r.Header["Upgrade"], npn.UpgradeToken) {
		h.next.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	sess, _, err := npn.Upgrade(w, r, &npn.UpgradeOptions{Session: &session.Config{Version: session.V31, ManualReply: true}})
	status := http.StatusSwitchingProtocols
	if err != nil {
		status = http.StatusBadRequest
		if errors.Is(err, npn.ErrNoCommonProtocol) {
			status = http.StatusForbidden
		}
	}
	if h.log != nil {
		h.log.Printf("%s %s %s %s %d %d %s", r.RemoteAddr, r.Method, r.URL.RequestURI(), r.Proto, status, 0, time.Since(start).Round(time.Microsecond))
	}
	if err != nil {
		return
	}
	// The session outlives the HTTP/1.1 exchange: serve it until it ends.
	h.spdy.ServeSession(sess)
}

// hasToken reports whether the comma-separated header values hold token,
// compared without case.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
