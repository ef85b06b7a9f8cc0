// Package httpadapter carries HTTP over SPDY sessions: Server serves any
// http.Handler over SPDY/2, SPDY/3 and SPDY/3.1, and Transport is an
// http.RoundTripper that speaks SPDY to servers.
//
// Requests and responses map to streams as the protocol's HTTP layering
// says: a request's method, path, version, host and scheme travel as
// SPDY's own headers (":method", ":path", ":version", ":host", ":scheme"
// in SPDY/3; "method", "url", "version", "host", "scheme" in SPDY/2), the
// other headers lower-cased, several values of one header joined with NUL
// bytes, and the headers HTTP/1.1 uses for the connection (Connection,
// Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, TE and those
// that Connection names) dropped. A response's status and version travel
// as ":status" and ":version" ("status", "version" in SPDY/2).
//
// The server's ResponseWriter streams: it buffers at most WriteBufferSize
// bytes, implements http.Flusher and http.Pusher (server push), works with
// http.ResponseController (flush and deadlines), sends trailers (declared
// with the Trailer header or set with http.TrailerPrefix), sends no body
// for HEAD, 204 and 304, and turns a handler panic into RST_STREAM
// INTERNAL_ERROR without taking the session down. A request's context is
// cancelled when the client resets the stream or the session ends.
//
// The server faces clients it does not know: it runs at most
// MaxConcurrentStreams handlers per session, pings a client that sends
// nothing and ends idle sessions (Server.Session's KeepAlive and
// IdleTimeout default to DefaultServerKeepAlive and
// DefaultServerIdleTimeout), fails a response write or a request body read
// that makes no progress for Server.StallTimeout, and refuses with 400 the
// header fields net/http would refuse (control bytes in values, names that
// are not tokens, bad hosts and targets).
//
// On the client side, Transport keeps one session per origin: http://
// origins speak its Version over plain TCP with prior knowledge, https://
// origins negotiate SPDY by ALPN and are served by Fallback when their
// server picks no SPDY protocol. It streams bodies both ways, sends trailers,
// sends again the requests a server proved unprocessed, asks for gzip and
// decompresses it, and hands pushed responses to PushHandler. ClientConn is
// the RoundTripper of one session over a connection the caller has, Client a
// plain client of one server, and ProxyRequest forwards a request a handler
// received through any RoundTripper.
package httpadapter
