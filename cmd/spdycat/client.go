package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/npn"
	"github.com/spdygo/spdy/session"
)

// dialTimeout bounds a TCP dial and, with -upgrade, its handshake.
var dialTimeout = 30 * time.Second

// connector gives the RoundTripper of each URL: the shared Transport,
// which keeps one session per origin, or with -upgrade one ClientConn per
// origin over an upgraded HTTP/1.1 connection.
type connector struct {
	o    *options
	t    *httpadapter.Transport
	cfg  *session.Config                  // the sessions' configuration (logging with -v)
	info func(format string, args ...any) // writes -v lines

	mu       sync.Mutex
	upgraded map[string]*upgradeCall // by origin, with -upgrade
}

// upgradeCall is the dial of one upgraded origin, shared by its URLs.
type upgradeCall struct {
	done chan struct{}
	cc   *httpadapter.ClientConn
	err  error
}

// wait returns the ClientConn once the dial is done (nil if it failed).
func (u *upgradeCall) wait() *httpadapter.ClientConn {
	<-u.done
	return u.cc
}

// newConnector returns the connector of o; pushes, if not nil, receives
// pushed responses; logger, if not nil, receives the frame trace and the
// Transport's records.
func newConnector(o *options, pushes func(*http.Request, *http.Response), logger *slog.Logger) *connector {
	cfg := &session.Config{}
	if logger != nil {
		cfg.Logger = logger
		cfg.TraceFrames = true
	}
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, &connectError{err}
		}
		return c, nil
	}
	t := &httpadapter.Transport{
		Version:            o.version,
		TLSClientConfig:    &tls.Config{InsecureSkipVerify: o.insecure, NextProtos: alpnPreference(o.version)},
		Session:            cfg,
		DialContext:        dial,
		PushHandler:        pushes,
		DisableCompression: true, // show the body as sent, as curl does without --compressed
		Logger:             logger,
	}
	return &connector{o: o, t: t, cfg: cfg}
}

// alpnPreference lists the protocols offered by ALPN, v first.
func alpnPreference(v session.Version) []string {
	out := []string{v.String()}
	for _, p := range []session.Version{session.V31, session.V3, session.V2} {
		if p != v {
			out = append(out, p.String())
		}
	}
	return append(out, "http/1.1")
}

// originOf returns scheme://host:port of u.
func originOf(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Scheme + "://" + net.JoinHostPort(u.Hostname(), port)
}

// roundTripper returns what fetches u.
func (c *connector) roundTripper(ctx context.Context, u *url.URL) (http.RoundTripper, error) {
	key := originOf(u)
	c.mu.Lock()
	if !c.o.upgrade {
		c.mu.Unlock()
		return c.t, nil
	}
	if c.upgraded == nil {
		c.upgraded = make(map[string]*upgradeCall)
	}
	call := c.upgraded[key]
	if call == nil {
		call = &upgradeCall{done: make(chan struct{})}
		c.upgraded[key] = call
		// Every URL is fetched under the same ctx (-m and the signals),
		// so the shared dial may end with it: close waits for the dial.
		go func() {
			defer close(call.done)
			call.cc, call.err = c.dialUpgrade(ctx, u)
		}()
	}
	c.mu.Unlock()
	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if call.err != nil {
		return nil, call.err
	}
	return call.cc, nil
}

// dialUpgrade connects to u's origin and switches the connection to
// SPDY/3.1 with an HTTP/1.1 Upgrade request for u, then starts a client
// session over it.
func (c *connector) dialUpgrade(ctx context.Context, u *url.URL) (*httpadapter.ClientConn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	h := http.Header{"User-Agent": {userAgent}}
	conn, _, err := npn.DialUpgradeConn(ctx, u.String(), &npn.UpgradeDialOptions{Header: h, DialContext: c.t.DialContext})
	if err != nil {
		return nil, &connectError{fmt.Errorf("upgrade to %s: %w", npn.UpgradeToken, err)}
	}
	if c.o.verbose && c.info != nil {
		c.info("* Upgraded %s to %s\n", originOf(u), npn.UpgradeToken)
	}
	cc, err := c.t.NewClientConn(conn, session.V31)
	if err != nil {
		return nil, &connectError{err}
	}
	return cc, nil
}

// close ends every session.
func (c *connector) close() {
	c.mu.Lock()
	calls := c.upgraded
	c.upgraded = nil
	c.mu.Unlock()
	for _, call := range calls {
		if cc := call.wait(); cc != nil {
			cc.Close()
		}
	}
	c.t.CloseIdleConnections()
}
