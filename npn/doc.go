// Package npn turns connections into SPDY sessions: it negotiates the
// protocol over TLS, tells SPDY from HTTP/1.1 on a plain TCP port, and
// performs the HTTP/1.1 Upgrade handshake to SPDY/3.1.
//
// # TLS: ALPN, not NPN
//
// SPDY was first negotiated with NPN (Next Protocol Negotiation), a TLS
// extension that was never standardized. Go's crypto/tls has no NPN: it
// implements only ALPN (RFC 7301), and this package uses ALPN with the
// protocol ids "spdy/3.1", "spdy/3" and "spdy/2", which node's spdy also
// offers through ALPN. Clients that can negotiate SPDY only through NPN
// (old browsers) get HTTP/2 or HTTP/1.1 instead.
//
// ConfigureServer prepares an http.Server so that one TLS port serves
// SPDY/3.1, SPDY/3, SPDY/2, HTTP/2 and HTTP/1.1, chosen by ALPN in that
// order of preference (the server's order decides). ConfigureTransport does
// the same for an http.Transport, and Dial and DialSession are dialers for
// sessions over TLS.
//
// # Plain TCP: sniffing
//
// Without TLS there is no negotiation: a SPDY client speaks first, and its
// first frame is a control frame whose first byte is 0x80 (the control bit),
// which no HTTP/1.1 request starts with. A SniffListener reads the first
// bytes of every connection and hands it, with those bytes still unread,
// to its SPDY or its HTTP side; ServeSniffed serves both on one port. The
// SPDY version is read from the first control frame. SPDY/3 and SPDY/3.1
// carry the same version number, 3; a SPDY/3.1 client is recognized by the
// session WINDOW_UPDATE (stream 0) among its first frames, or by
// configuration (SniffConfig.V3).
//
// # HTTP/1.1 Upgrade
//
// Upgrade (server side) and DialUpgrade (client side) switch an HTTP/1.1
// connection to SPDY/3.1 as Kubernetes does for exec, attach and
// port-forward: the client sends "Connection: Upgrade", "Upgrade:
// SPDY/3.1" and one X-Stream-Protocol-Version header per subprotocol it
// speaks, most preferred first; the server answers 101 Switching Protocols
// with the chosen subprotocol, 403 Forbidden with
// X-Accepted-Stream-Protocol-Versions when there is none in common, and
// 400 Bad Request when the upgrade headers are missing. Bytes that either
// side's HTTP reader had already buffered past the handshake are handed to
// the session, not lost. Both return a session for custom protocols over
// streams; DialUpgradeClientConn returns an HTTP client over it instead.
package npn
