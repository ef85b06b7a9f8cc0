package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/npn"
	"github.com/spdygo/spdy/session"
)

// TunnelHandler returns the handler of the tunnel endpoint, which origins
// dial. Serve it over TLS with HTTP/1.1 only (an HTTP/2 connection cannot
// be taken over): NewTunnelServer builds such a server.
//
// A handshake is a request with "Connection: Upgrade", "Upgrade:
// SPDY/3.1", "X-Stream-Protocol-Version: spdyproxy-tunnel/1", the origin's
// name in Spdyproxy-Origin and its token as "Authorization: Bearer TOKEN".
// The answers are 101 Switching Protocols (the connection is the tunnel
// from then on, the proxy the SPDY client), 401 for an unknown name or a
// wrong token (the same answer for both), 429 with Retry-After for a
// source over its failure budget, 403 for a connection without TLS (unless
// AllowPlainTunnels), 400 or 403 for a malformed upgrade, and 503 once
// the proxy is shutting down.
func (p *Proxy) TunnelHandler() http.Handler {
	p.init()
	return http.HandlerFunc(p.serveTunnel)
}

// NewTunnelServer returns an http.Server for the tunnel endpoint with
// HTTP/2 turned off and the given TLS configuration (its NextProtos set to
// http/1.1), to be started with ServeTLS or Serve on a TLS listener.
func (p *Proxy) NewTunnelServer(tlsConfig *tls.Config) *http.Server {
	var cfg *tls.Config
	if tlsConfig != nil {
		cfg = tlsConfig.Clone()
		cfg.NextProtos = []string{"http/1.1"}
	}
	return &http.Server{
		Handler:           p.TunnelHandler(),
		TLSConfig:         cfg,
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
}

func sourceIP(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}

func bearer(auth string) string {
	scheme, tok, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

func (p *Proxy) serveTunnel(w http.ResponseWriter, r *http.Request) {
	src := sourceIP(r.RemoteAddr)
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		http.Error(w, "proxy is shutting down", http.StatusServiceUnavailable)
		return
	}
	if r.TLS == nil && !p.AllowPlainTunnels {
		p.m.err(errHandshake)
		http.Error(w, "tunnels need TLS", http.StatusForbidden)
		return
	}
	if ok, first := p.limiter.allowed(src); !ok {
		p.m.err(errRateLimited)
		if first {
			p.log().Warn("proxy: tunnel handshakes from source refused: too many failures", "source", src)
		}
		w.Header().Set("Retry-After", p.retryAfter())
		http.Error(w, "too many failed attempts", http.StatusTooManyRequests)
		return
	}
	name := r.Header.Get(HeaderOrigin)
	if !p.Registry.Check(name, bearer(r.Header.Get("Authorization"))) {
		p.limiter.failed(src)
		p.m.err(errAuth)
		p.log().Warn("proxy: tunnel authentication failed", "source", src, "origin", truncate(name, 64))
		w.Header().Set("WWW-Authenticate", `Bearer realm="spdyproxy"`)
		http.Error(w, "unknown origin or wrong token", http.StatusUnauthorized)
		return
	}
	conn, _, err := npn.UpgradeConn(w, r, &npn.UpgradeOptions{Protocols: []string{TunnelProtocol}})
	if err != nil {
		p.m.err(errHandshake)
		p.log().Warn("proxy: tunnel upgrade failed", "source", src, "origin", name, "err", err)
		return
	}
	cc, err := p.tr.NewClientConn(conn, session.V31)
	if err != nil {
		conn.Close()
		p.m.err(errHandshake)
		p.log().Warn("proxy: tunnel session failed", "source", src, "origin", name, "err", err)
		return
	}
	p.register(name, cc, r.RemoteAddr)
}

// retryAfter is the Retry-After of a refused source: the time one more
// attempt takes to earn, in whole seconds.
func (p *Proxy) retryAfter() string {
	secs := int(p.limiter.interval.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return itoa(secs)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// notifyLocked wakes the waiters on p.changed.
func (p *Proxy) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// register makes cc the tunnel of name, replacing (and draining) the one
// before it.
func (p *Proxy) register(name string, cc *httpadapter.ClientConn, remote string) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		cc.Close()
		return
	}
	p.nextID++
	t := &tunnel{name: name, id: p.nextID, cc: cc, remote: remote, since: time.Now(), done: make(chan struct{})}
	old := p.tunnels[name]
	p.tunnels[name] = t
	if old != nil {
		p.old[old] = struct{}{}
	}
	p.notifyLocked()
	p.watchers.Add(1)
	p.mu.Unlock()
	p.m.tunnels.Add(1)
	p.log().Info("proxy: tunnel up", "origin", name, "remote", remote, "tunnel", t.id, "replaces", idOf(old))
	go p.watch(t)
	if old != nil {
		p.watchers.Add(1)
		go func() {
			defer p.watchers.Done()
			ctx, cancel := context.WithTimeout(context.Background(), p.replaceGrace())
			defer cancel()
			if err := old.cc.Shutdown(ctx); err != nil {
				old.cc.Close()
			}
		}()
	}
}

func idOf(t *tunnel) uint64 {
	if t == nil {
		return 0
	}
	return t.id
}

// watch pings t until its session ends, then forgets it.
func (p *Proxy) watch(t *tunnel) {
	defer p.watchers.Done()
	sess := t.cc.Session()
	interval := p.PingInterval
	if interval == 0 {
		interval = DefaultPingInterval
	}
	timeout := p.PingTimeout
	if timeout <= 0 {
		timeout = DefaultPingTimeout
	}
	var tick <-chan time.Time
	if interval > 0 {
		tk := time.NewTicker(interval)
		defer tk.Stop()
		tick = tk.C
	}
	ping := func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		rtt, err := t.cc.Ping(ctx)
		cancel()
		if err != nil {
			select {
			case <-sess.Done():
			default:
				p.log().Warn("proxy: tunnel ping failed; closing it", "origin", t.name, "tunnel", t.id, "err", err)
				t.cc.Close()
			}
			return
		}
		t.rtt.Store(int64(rtt))
	}
	if interval > 0 {
		ping()
	}
	for done := false; !done; {
		select {
		case <-sess.Done():
			done = true
		case <-tick:
			ping()
		}
	}
	p.mu.Lock()
	if p.tunnels[t.name] == t {
		delete(p.tunnels, t.name)
		p.notifyLocked()
	}
	delete(p.old, t)
	p.mu.Unlock()
	close(t.done)
	p.log().Info("proxy: tunnel down", "origin", t.name, "tunnel", t.id, "err", sess.Err())
}
