// Package proxy is a reverse-connection proxy over SPDY/3.1: origins
// behind NAT dial out to a public proxy and keep that connection (the
// tunnel); clients send ordinary HTTP requests to the proxy, which carries
// each one to the right origin as a SPDY stream.
//
// The proxy side is a [Proxy]. Its [Proxy.ServeHTTP] is the front end, an
// http.Handler for clients that can be mounted in any http.Server
// (HTTP/1.1, HTTP/2 over TLS, or SPDY through the httpadapter and npn
// packages). It routes each request to an origin by host name
// (NAME.Domain) or by path prefix (/o/NAME/...), adds Forwarded and
// X-Forwarded-* headers, and answers 404 for an unknown origin, 503 at once
// when the origin is not connected or already has as many requests as its
// stream limit, 502 when its tunnel fails before the response headers, and
// 504 when nothing moved for StallTimeout. [Proxy.TunnelHandler] takes the tunnels: each
// origin authenticates with its name and its own secret token, which
// [Registry] checks in constant time, with failures logged and rate
// limited per source address. A reconnecting origin atomically replaces its
// old tunnel, on which requests in flight finish.
//
// The origin side is a [Connector]. It dials the proxy over TLS with
// certificate verification (a CA pool, or [PinnedTLSConfig] for a
// self-hosted proxy), sends an HTTP/1.1 request that names the origin,
// carries its token and asks for "Upgrade: SPDY/3.1", and then serves the
// proxy as the SPDY server over the connection it dialed, with any
// http.Handler. It keeps the tunnel alive with pings and reconnects with
// jittered exponential backoff until its context ends.
//
// Flow control runs end to end: the proxy reads an origin's response only
// as fast as the client takes it, so a slow client makes the proxy hold at
// most one stream window per request, and a client that goes away resets
// its stream at once, so the origin stops reading the file. Range and
// conditional requests pass through untouched.
//
// [Proxy.MetricsHandler] and [Proxy.HealthHandler] serve the operational
// endpoints, meant for a listener of their own. docs/proxy.md describes the
// topology, the handshake, the security model and operations.
package proxy
