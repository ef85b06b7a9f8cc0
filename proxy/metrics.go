package proxy

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spdygo/spdy/session"
)

// errKind is a kind of failure counted by the metrics.
type errKind int

const (
	errUnknownOrigin errKind = iota // front end: no such origin (404)
	errNotConnected                 // front end: origin not connected (503)
	errBadGateway                   // front end: tunnel failed before the response (502)
	errAborted                      // front end: tunnel failed during the response body
	errClientGone                   // front end: the client went away first
	errStalled                      // front end: no body progress within StallTimeout
	errOriginBusy                   // front end: the origin's stream limit is reached (503)
	errAuth                         // tunnel: unknown name or wrong token (401)
	errRateLimited                  // tunnel: source over its failure budget (429)
	errHandshake                    // tunnel: malformed handshake, no TLS, or upgrade failed
	numErrKinds
)

var errKindNames = [numErrKinds]string{
	errUnknownOrigin: "unknown_origin",
	errNotConnected:  "origin_not_connected",
	errBadGateway:    "bad_gateway",
	errAborted:       "response_aborted",
	errClientGone:    "client_gone",
	errStalled:       "stalled",
	errOriginBusy:    "origin_busy",
	errAuth:          "auth_failed",
	errRateLimited:   "rate_limited",
	errHandshake:     "handshake_failed",
}

type metrics struct {
	requests         atomic.Uint64
	streams          atomic.Int64
	bytesToClients   atomic.Int64
	bytesFromClients atomic.Int64
	tunnels          atomic.Uint64
	errors           [numErrKinds]atomic.Uint64
}

func (m *metrics) err(k errKind) { m.errors[k].Add(1) }

func itoa(n int) string { return strconv.Itoa(n) }

// Stats are a snapshot of a Proxy's counters.
type Stats struct {
	OriginsRegistered int
	OriginsConnected  int
	Requests          uint64 // front-end requests received
	StreamsOpen       int64  // requests being proxied now
	BytesToClients    int64  // response body bytes written to clients
	BytesFromClients  int64  // request body bytes read from clients
	TunnelsAccepted   uint64 // successful tunnel handshakes
	// Errors counts failures by kind: unknown_origin, origin_not_connected,
	// bad_gateway, response_aborted, client_gone, stalled, origin_busy,
	// auth_failed,
	// rate_limited, handshake_failed.
	Errors  map[string]uint64
	Tunnels []TunnelStats // connected tunnels, by origin name
}

// TunnelStats describe one connected tunnel.
type TunnelStats struct {
	Origin  string
	Remote  string        // the origin's address as the proxy sees it
	Since   time.Time     // when the handshake completed
	RTT     time.Duration // the last ping's round trip; 0 before the first
	Session session.Stats
}

// Stats returns the proxy's counters.
func (p *Proxy) Stats() Stats {
	p.init()
	st := Stats{
		OriginsRegistered: p.Registry.Len(),
		Requests:          p.m.requests.Load(),
		StreamsOpen:       p.m.streams.Load(),
		BytesToClients:    p.m.bytesToClients.Load(),
		BytesFromClients:  p.m.bytesFromClients.Load(),
		TunnelsAccepted:   p.m.tunnels.Load(),
		Errors:            make(map[string]uint64, numErrKinds),
	}
	for k := range numErrKinds {
		st.Errors[errKindNames[k]] = p.m.errors[k].Load()
	}
	p.mu.Lock()
	ts := make([]*tunnel, 0, len(p.tunnels))
	for _, t := range p.tunnels {
		ts = append(ts, t)
	}
	p.mu.Unlock()
	sort.Slice(ts, func(i, j int) bool { return ts[i].name < ts[j].name })
	st.OriginsConnected = len(ts)
	for _, t := range ts {
		st.Tunnels = append(st.Tunnels, TunnelStats{
			Origin:  t.name,
			Remote:  t.remote,
			Since:   t.since,
			RTT:     time.Duration(t.rtt.Load()),
			Session: t.cc.Session().Stats(),
		})
	}
	return st
}

// MetricsHandler returns a handler that serves the proxy's counters in the
// Prometheus text exposition format. Serve it on a listener of its own,
// not on the front end.
func (p *Proxy) MetricsHandler() http.Handler {
	p.init()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := p.Stats()
		var b strings.Builder
		metric := func(name, typ, help string) {
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		}
		metric("spdyproxy_origins_registered", "gauge", "Origins in the registry.")
		fmt.Fprintf(&b, "spdyproxy_origins_registered %d\n", st.OriginsRegistered)
		metric("spdyproxy_origins_connected", "gauge", "Origins with a tunnel.")
		fmt.Fprintf(&b, "spdyproxy_origins_connected %d\n", st.OriginsConnected)
		metric("spdyproxy_streams_open", "gauge", "Requests being proxied.")
		fmt.Fprintf(&b, "spdyproxy_streams_open %d\n", st.StreamsOpen)
		metric("spdyproxy_requests_total", "counter", "Front-end requests received.")
		fmt.Fprintf(&b, "spdyproxy_requests_total %d\n", st.Requests)
		metric("spdyproxy_bytes_total", "counter", "Body bytes between clients and the proxy.")
		fmt.Fprintf(&b, "spdyproxy_bytes_total{direction=\"to_clients\"} %d\n", st.BytesToClients)
		fmt.Fprintf(&b, "spdyproxy_bytes_total{direction=\"from_clients\"} %d\n", st.BytesFromClients)
		metric("spdyproxy_tunnels_accepted_total", "counter", "Successful tunnel handshakes.")
		fmt.Fprintf(&b, "spdyproxy_tunnels_accepted_total %d\n", st.TunnelsAccepted)
		metric("spdyproxy_errors_total", "counter", "Failures by kind.")
		for k := range numErrKinds {
			fmt.Fprintf(&b, "spdyproxy_errors_total{kind=%q} %d\n", errKindNames[k], st.Errors[errKindNames[k]])
		}
		metric("spdyproxy_tunnel_rtt_seconds", "gauge", "Round trip of the last ping on each tunnel.")
		for _, t := range st.Tunnels {
			fmt.Fprintf(&b, "spdyproxy_tunnel_rtt_seconds{origin=%q} %g\n", t.Origin, t.RTT.Seconds())
		}
		metric("spdyproxy_tunnel_bytes_total", "counter", "DATA payload bytes on each tunnel.")
		for _, t := range st.Tunnels {
			fmt.Fprintf(&b, "spdyproxy_tunnel_bytes_total{origin=%q,direction=\"to_origin\"} %d\n", t.Origin, t.Session.BytesSent)
			fmt.Fprintf(&b, "spdyproxy_tunnel_bytes_total{origin=%q,direction=\"from_origin\"} %d\n", t.Origin, t.Session.BytesReceived)
		}
		metric("spdyproxy_tunnel_streams_total", "counter", "Streams opened on each tunnel.")
		for _, t := range st.Tunnels {
			fmt.Fprintf(&b, "spdyproxy_tunnel_streams_total{origin=%q} %d\n", t.Origin, t.Session.StreamsOpened)
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(b.String()))
	})
}

// HealthHandler returns a handler that answers 200 "ok" while the proxy
// runs and 503 once it is shutting down. With "?origin=NAME" it answers
// 200 only while that origin is connected.
func (p *Proxy) HealthHandler() http.Handler {
	p.init()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		p.mu.Lock()
		closed := p.closed
		p.mu.Unlock()
		if closed {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		if name := r.URL.Query().Get("origin"); name != "" {
			if !p.Connected(name) {
				http.Error(w, "origin not connected", http.StatusServiceUnavailable)
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
}
