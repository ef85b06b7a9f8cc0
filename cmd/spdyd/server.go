package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/session"
)

// daemon is a running spdyd: one listener, a SPDY server and an HTTP
// server (HTTP/1.1, and HTTP/2 with TLS) behind it.
type daemon struct {
	ln     net.Listener
	spdy   *httpadapter.Server
	web    *http.Server
	failed chan error // a serving loop ended with an error
	wg     sync.WaitGroup
}

// start listens on o.addr and serves the files under o.root.
func start(o *options, logger *log.Logger) (*daemon, error) {
	var reqLog *log.Logger
	if !o.quiet {
		reqLog = logger
	}
	h := newHandler(o.root, o.push, reqLog)
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
			Handler: h,
			Session: &session.Config{Version: version},
			BaseContext: func(s *session.Session) context.Context {
				return withProto(context.Background(), s.Version().String())
			},
		},
		web: &http.Server{
			Handler:           h,
			TLSConfig:         tlsConf,
			ReadHeaderTimeout: 30 * time.Second,
			ErrorLog:          logger,
		},
		failed: make(chan error, 2),
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, err
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
		d.goServe(func() error { return d.web.ServeTLS(d.ln, "", "") })
		return nil
	}
	d.goServe(func() error { return d.spdy.Serve(d.ln) })
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
	d.ln.Close()
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
	d.ln.Close()
	d.wg.Wait()
}
