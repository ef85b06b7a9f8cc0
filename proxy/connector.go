package proxy

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/npn"
	"github.com/spdygo/spdy/session"
)

// ErrUnauthorized is returned by Connector.Run when the proxy rejects the
// origin's name or token (401): retrying would not help.
var ErrUnauthorized = errors.New("proxy: the proxy rejected the origin's name or token")

// Defaults of Connector.
const (
	DefaultMinBackoff = 250 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	// DefaultStableAfter is how long a tunnel must have lived for the
	// backoff to start again from its minimum.
	DefaultStableAfter = 10 * time.Second
)

// Connector is the origin side: it keeps a tunnel to a Proxy and serves the
// proxy's requests with Handler.
type Connector struct {
	// ProxyURL is the proxy's tunnel endpoint, "https://HOST:PORT/" (a
	// bare HOST:PORT means https). http:// URLs need the proxy's
	// AllowPlainTunnels.
	ProxyURL string
	// Name and Token identify and authenticate the origin.
	Name  string
	Token string
	// Handler serves the requests that arrive through the tunnel.
	Handler http.Handler
	// TLSConfig verifies the proxy: nil means the system's roots. Set
	// RootCAs for a private CA, or use PinnedTLSConfig for a self-signed
	// proxy certificate.
	TLSConfig *tls.Config
	// Session configures the tunnel sessions, in which the origin is the
	// SPDY server; Version is always SPDY/3.1. Zero FloodLimit and
	// FloodRate are DefaultTunnelFloodLimit and DefaultTunnelFloodRate.
	Session *session.Config
	// MinBackoff and MaxBackoff bound the wait between attempts, which
	// doubles after every failure and is drawn at random up to that bound
	// (full jitter). Defaults DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// PingInterval is the time between the origin's keepalive pings on an
	// idle tunnel, and PingTimeout how long one may go unanswered before
	// the tunnel is dropped and dialed again. Defaults 15 s and 10 s;
	// a negative PingInterval turns pings off.
	PingInterval, PingTimeout time.Duration
	// DialContext dials the TCP connection; nil means a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives the connector's records (tunnel up and down,
	// failures) and the HTTP server's; nil means none.
	Logger *slog.Logger
	// WriteBufferSize is the buffer between a handler's writes and its
	// stream (httpadapter.Server.WriteBufferSize); 0 means its default.
	WriteBufferSize int
	// OnConnect, if set, is called after each successful handshake, once
	// the proxy's 101 has arrived. The proxy makes the tunnel its route
	// for the origin just after it writes the 101, so a request sent to
	// the proxy at that very moment may still be answered 503.
	OnConnect func()

	connected atomic.Int64 // handshakes completed
}

// Connects returns the number of tunnels established so far.
func (c *Connector) Connects() int64 { return c.connected.Load() }

func (c *Connector) log() *slog.Logger {
	if c.Logger == nil {
		return discardLogger
	}
	return c.Logger
}

func (c *Connector) tunnelURL() (string, error) {
	raw := c.ProxyURL
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("proxy: ProxyURL: %w", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", fmt.Errorf("proxy: ProxyURL: scheme %q (want https)", u.Scheme)
	}
	if u.Host == "" {
		return "", errors.New("proxy: ProxyURL has no host")
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String(), nil
}

// Run keeps the tunnel up until ctx ends: it dials, authenticates and
// serves; when the tunnel fails it waits (with backoff) and dials again.
// When ctx ends it sends GOAWAY, lets the requests in flight finish for up
// to a second, closes the tunnel and returns ctx.Err(). It returns
// ErrUnauthorized at once if the proxy rejects the name or token, and an
// error for a configuration that cannot work.
func (c *Connector) Run(ctx context.Context) error {
	if !ValidName(c.Name) {
		return fmt.Errorf("%w: %q", ErrBadName, c.Name)
	}
	if c.Token == "" {
		return errors.New("proxy: Connector has no Token")
	}
	if c.Handler == nil {
		return errors.New("proxy: Connector has no Handler")
	}
	target, err := c.tunnelURL()
	if err != nil {
		return err
	}
	minB, maxB := c.MinBackoff, c.MaxBackoff
	if minB <= 0 {
		minB = DefaultMinBackoff
	}
	if maxB <= 0 {
		maxB = DefaultMaxBackoff
	}
	if maxB < minB {
		maxB = minB
	}
	cfg := session.Config{}
	if c.Session != nil {
		cfg = *c.Session
	}
	cfg.Version = session.V31
	tunnelFlood(&cfg)
	interval, timeout := c.PingInterval, c.PingTimeout
	if interval == 0 {
		interval = DefaultPingInterval
	}
	if timeout <= 0 {
		timeout = DefaultPingTimeout
	}
	if interval > 0 && cfg.KeepAlive == 0 {
		cfg.KeepAlive, cfg.KeepAliveTimeout = interval, timeout
	}
	if cfg.Logger == nil {
		cfg.Logger = c.Logger
	}
	// The proxy watches each request end to end (Proxy.StallTimeout); a
	// response stalled behind a paused client is the proxy's to end.
	srv := &httpadapter.Server{Handler: c.Handler, Session: &cfg, Logger: c.Logger, WriteBufferSize: c.WriteBufferSize, StallTimeout: DefaultStallTimeout}

	failures := 0
	for {
		start := time.Now()
		err := c.once(ctx, target, srv)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrUnauthorized) {
			c.log().Error("proxy: origin rejected by the proxy", "origin", c.Name, "err", err)
			return err
		}
		if time.Since(start) >= DefaultStableAfter {
			failures = 0
		}
		bound := minB << min(failures, 20)
		if bound > maxB || bound <= 0 {
			bound = maxB
		}
		failures++
		wait := time.Duration(rand.Int64N(int64(bound)) + 1)
		c.log().Info("proxy: tunnel down; dialing again", "origin", c.Name, "in", wait.Round(time.Millisecond), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// once dials, authenticates and serves one tunnel until it ends.
func (c *Connector) once(ctx context.Context, target string, srv *httpadapter.Server) error {
	opts := &npn.UpgradeDialOptions{
		Protocols:       []string{TunnelProtocol},
		Header:          http.Header{HeaderOrigin: {c.Name}, "Authorization": {"Bearer " + c.Token}},
		TLSClientConfig: c.TLSConfig,
		DialContext:     c.DialContext,
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	conn, _, err := npn.DialUpgradeConn(dctx, target, opts)
	cancel()
	if err != nil {
		var ue *npn.UpgradeError
		if errors.As(err, &ue) && ue.StatusCode == http.StatusUnauthorized {
			return fmt.Errorf("%w: %v", ErrUnauthorized, err)
		}
		return err
	}
	c.connected.Add(1)
	c.log().Info("proxy: tunnel up", "origin", c.Name, "proxy", conn.RemoteAddr().String())
	if c.OnConnect != nil {
		c.OnConnect()
	}
	served := make(chan error, 1)
	go func() {
		served <- srv.ServeConn(conn, &httpadapter.ServeConnOpts{Version: session.V31, Context: context.WithoutCancel(ctx)})
	}()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// Let the requests in flight finish briefly, then close.
	sctx, scancel := context.WithTimeout(context.Background(), time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-served
	return ctx.Err()
}

// PinnedTLSConfig returns a TLS client configuration that accepts exactly
// the server certificate whose SHA-256 fingerprint (of its DER bytes) is
// fingerprint, given in hex with or without colons: the way to trust a
// self-hosted proxy's self-signed certificate. Names and expiry are not
// checked; the pin is the whole trust.
func PinnedTLSConfig(fingerprint string) (*tls.Config, error) {
	want, err := hex.DecodeString(strings.ReplaceAll(fingerprint, ":", ""))
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("proxy: a pin is %d hex bytes of SHA-256", sha256.Size)
	}
	return &tls.Config{
		InsecureSkipVerify: true, // replaced by the pin check below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("proxy: the server sent no certificate")
			}
			got := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if subtle.ConstantTimeCompare(got[:], want) != 1 {
				return fmt.Errorf("proxy: the server's certificate %x does not match the pin", got[:])
			}
			return nil
		},
	}, nil
}

// Fingerprint returns the hex SHA-256 fingerprint of cert, as
// PinnedTLSConfig takes it.
func Fingerprint(cert *x509.Certificate) string {
	d := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(d[:])
}
