package npn

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/spdygo/spdy/session"
)

// Header names and the token of the HTTP/1.1 Upgrade handshake, as
// Kubernetes uses them.
const (
	// UpgradeToken is the value of the Upgrade header.
	UpgradeToken = "SPDY/3.1"
	// HeaderStreamProtocolVersion carries the subprotocols: one value per
	// subprotocol the client speaks, most preferred first, in the request;
	// the chosen one in the 101 response.
	HeaderStreamProtocolVersion = "X-Stream-Protocol-Version"
	// HeaderAcceptedStreamProtocolVersions lists, in a 403 response, the
	// subprotocols the server speaks.
	HeaderAcceptedStreamProtocolVersions = "X-Accepted-Stream-Protocol-Versions"
)

// DefaultHandshakeTimeout bounds the write of the 101 response in Upgrade.
const DefaultHandshakeTimeout = 10 * time.Second

// maxErrorBody is the most of a refusal's body kept in an UpgradeError.
const maxErrorBody = 512

// Errors of the server side of the upgrade. Upgrade has answered the
// request (400 or 403) when it returns them.
var (
	// ErrNotUpgrade: the request lacks "Connection: Upgrade" and
	// "Upgrade: SPDY/3.1", or is not HTTP/1.x (answered 400).
	ErrNotUpgrade = errors.New("npn: not a spdy/3.1 upgrade request")
	// ErrNoProtocol: the server has subprotocols but the request names
	// none (answered 400).
	ErrNoProtocol = errors.New("npn: the upgrade request names no stream protocol")
	// ErrNoCommonProtocol: no subprotocol of the request is one of the
	// server's (answered 403 with X-Accepted-Stream-Protocol-Versions).
	ErrNoCommonProtocol = errors.New("npn: no stream protocol in common")
)

// ErrBadUpgradeResponse is the error of a 101 response that does not
// switch to SPDY/3.1 or names a subprotocol the client did not offer.
var ErrBadUpgradeResponse = errors.New("npn: bad upgrade response")

// UpgradeOptions are the options of Upgrade and UpgradeConn.
type UpgradeOptions struct {
	// Protocols are the subprotocols the server speaks over the session.
	// The server chooses the first of the client's X-Stream-Protocol-Version
	// values that is among them. Empty means no negotiation: any upgrade
	// request is accepted, and no subprotocol is chosen.
	Protocols []string
	// Session configures the session Upgrade starts; its Version defaults
	// to session.V31 (the Upgrade token names SPDY/3.1). Set
	// UnlimitedPeerWindow for peers without flow control, such as
	// moby/spdystream.
	Session *session.Config
	// HandshakeTimeout bounds the write of the 101 response. Default
	// DefaultHandshakeTimeout (10 s).
	HandshakeTimeout time.Duration
}

// Upgrade switches the HTTP/1.1 request r to SPDY/3.1 and returns a
// server-role session over its connection, with the subprotocol chosen.
//
// It answers 400 Bad Request (and returns ErrNotUpgrade) unless r carries
// "Connection: Upgrade" and "Upgrade: SPDY/3.1" (tokens compared without
// case); when opts.Protocols is set, 400 (ErrNoProtocol) if r has no
// X-Stream-Protocol-Version, and 403 Forbidden with
// X-Accepted-Stream-Protocol-Versions (ErrNoCommonProtocol) if none of its
// values is one of opts.Protocols. Otherwise it takes the connection over
// with http.ResponseController's Hijack, answers 101 Switching Protocols
// with "Connection: Upgrade", "Upgrade: SPDY/3.1", the chosen
// X-Stream-Protocol-Version and the headers already set in w.Header(),
// and starts the session. Bytes the client sent right after the request,
// which the server's reader may already hold, are read by the session
// first. The handler must not use w after a successful Upgrade; the
// session lives on after the handler returns.
func Upgrade(w http.ResponseWriter, r *http.Request, opts *UpgradeOptions) (*session.Session, string, error) {
	c, proto, err := UpgradeConn(w, r, opts)
	if err != nil {
		return nil, "", err
	}
	var sc *session.Config
	if opts != nil {
		sc = opts.Session
	}
	s, err := session.NewServer(c, upgradeSessionConfig(sc))
	if err != nil {
		c.Close()
		return nil, "", err
	}
	return s, proto, nil
}

// upgradeSessionConfig returns a copy of c (the zero Config if c is nil)
// whose Version defaults to session.V31, the only version the Upgrade
// handshake names.
func upgradeSessionConfig(c *session.Config) *session.Config {
	var sc session.Config
	if c != nil {
		sc = *c
	}
	if sc.Version == 0 {
		sc.Version = session.V31
	}
	return &sc
}

// UpgradeConn is Upgrade without the session: it answers the handshake
// as Upgrade does and returns the connection, whose first reads return the
// bytes the server's reader had buffered. opts.Session is not used.
func UpgradeConn(w http.ResponseWriter, r *http.Request, opts *UpgradeOptions) (net.Conn, string, error) {
	var o UpgradeOptions
	if opts != nil {
		o = *opts
	}
	if r.ProtoMajor != 1 || !hasToken(r.Header["Connection"], "upgrade") || !hasToken(r.Header["Upgrade"], UpgradeToken) {
		http.Error(w, "unable to upgrade: missing upgrade headers in request", http.StatusBadRequest)
		return nil, "", ErrNotUpgrade
	}
	proto := ""
	if len(o.Protocols) > 0 {
		offered := tokens(r.Header[HeaderStreamProtocolVersion])
		if len(offered) == 0 {
			http.Error(w, "unable to upgrade: "+HeaderStreamProtocolVersion+" is required", http.StatusBadRequest)
			return nil, "", ErrNoProtocol
		}
		for _, p := range offered {
			if slices.Contains(o.Protocols, p) {
				proto = p
				break
			}
		}
		if proto == "" {
			for _, p := range o.Protocols {
				w.Header().Add(HeaderAcceptedStreamProtocolVersions, p)
			}
			http.Error(w, "unable to upgrade: unable to negotiate protocol: server accepts "+strings.Join(o.Protocols, ", "), http.StatusForbidden)
			return nil, "", ErrNoCommonProtocol
		}
	}
	h := w.Header().Clone()
	for _, k := range []string{"Connection", "Upgrade", "Content-Length", "Transfer-Encoding", "Content-Type", HeaderStreamProtocolVersion, HeaderAcceptedStreamProtocolVersions} {
		h.Del(k)
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "unable to upgrade: the connection cannot be taken over", http.StatusInternalServerError)
		return nil, "", fmt.Errorf("npn: upgrade: %w", err)
	}
	var buffered []byte
	if n := brw.Reader.Buffered(); n > 0 {
		buffered, _ = brw.Reader.Peek(n)
	}
	c := newBufConn(conn, buffered)
	var resp bytes.Buffer
	resp.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + UpgradeToken + "\r\n")
	if proto != "" {
		resp.WriteString(HeaderStreamProtocolVersion + ": " + proto + "\r\n")
	}
	h.Write(&resp)
	resp.WriteString("\r\n")
	timeout := o.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	// The server's read and write deadlines stay on a hijacked connection.
	conn.SetDeadline(time.Time{})
	conn.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := conn.Write(resp.Bytes()); err != nil {
		conn.Close()
		return nil, "", fmt.Errorf("npn: upgrade: writing the 101 response: %w", err)
	}
	conn.SetWriteDeadline(time.Time{})
	return c, proto, nil
}

// hasToken reports whether one of the comma-separated lists in values
// holds token (compared without case).
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// tokens splits comma-separated header values into their non-empty
// elements, in order.
func tokens(values []string) []string {
	var out []string
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

// UpgradeError is the error of a refused upgrade: the server answered
// with a status other than 101.
type UpgradeError struct {
	StatusCode int
	Status     string // e.g. "403 Forbidden"
	// Body is the start of the response body (at most 512 bytes).
	Body []byte
	// Accepted are the subprotocols a 403 response names in
	// X-Accepted-Stream-Protocol-Versions.
	Accepted []string
}

// Error returns the status and an excerpt of the body.
func (e *UpgradeError) Error() string {
	msg := "npn: upgrade refused: " + e.Status
	excerpt := strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, string(e.Body))
	if excerpt = strings.Join(strings.Fields(excerpt), " "); excerpt != "" {
		if len(excerpt) > 200 {
			excerpt = excerpt[:200] + "..."
		}
		msg += ": " + excerpt
	}
	return msg
}

// UpgradeDialOptions are the options of DialUpgrade and DialUpgradeConn.
type UpgradeDialOptions struct {
	// Protocols are the subprotocols the client speaks, most preferred
	// first, each sent in its own X-Stream-Protocol-Version header. Empty
	// means none is sent.
	Protocols []string
	// Method is the request's method; default GET. (Kubernetes' exec,
	// attach and port-forward use POST.)
	Method string
	// Header holds more request headers (Authorization, for instance).
	Header http.Header
	// TLSClientConfig configures TLS for https URLs; nil means the
	// defaults. Its NextProtos is replaced by "http/1.1", since only
	// HTTP/1.1 can be upgraded.
	TLSClientConfig *tls.Config
	// DialContext dials the TCP connection; nil means a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Session configures the session DialUpgrade starts; its Version
	// defaults to session.V31.
	Session *session.Config
}

// DialUpgrade connects to rawURL (http:// over TCP, https:// over TLS),
// switches the connection to SPDY/3.1 with an HTTP/1.1 Upgrade request and
// returns a client-role session over it, with the subprotocol the server
// chose ("" if it named none). ctx bounds the dial and the handshake, not
// the session.
//
// A response other than 101 fails with an *UpgradeError carrying its
// status and the start of its body; a 101 without "Upgrade: SPDY/3.1",
// or naming a subprotocol that was not offered, fails with
// ErrBadUpgradeResponse.
func DialUpgrade(ctx context.Context, rawURL string, opts *UpgradeDialOptions) (*session.Session, string, error) {
	c, proto, err := DialUpgradeConn(ctx, rawURL, opts)
	if err != nil {
		return nil, "", err
	}
	var sc *session.Config
	if opts != nil {
		sc = opts.Session
	}
	s, err := session.NewClient(c, upgradeSessionConfig(sc))
	if err != nil {
		c.Close()
		return nil, "", err
	}
	return s, proto, nil
}

// DialUpgradeConn is DialUpgrade without the session: it returns the
// upgraded connection, whose first reads return the bytes that arrived
// right after the 101 response.
func DialUpgradeConn(ctx context.Context, rawURL string, opts *UpgradeDialOptions) (net.Conn, string, error) {
	var o UpgradeDialOptions
	if opts != nil {
		o = *opts
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, "", fmt.Errorf("npn: %w", err)
	}
	var port string
	switch u.Scheme {
	case "http":
		port = "80"
	case "https":
		port = "443"
	default:
		return nil, "", fmt.Errorf("npn: unsupported url scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, "", errors.New("npn: url has no host")
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	dial := o.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, "", err
	}
	if u.Scheme == "https" {
		var cfg *tls.Config
		if o.TLSClientConfig != nil {
			cfg = o.TLSClientConfig.Clone()
		} else {
			cfg = &tls.Config{}
		}
		cfg.NextProtos = []string{ProtoHTTP11}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, "", err
		}
		conn = tc
	}
	method := o.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		conn.Close()
		return nil, "", fmt.Errorf("npn: %w", err)
	}
	for k, vs := range o.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	c, proto, err := ClientUpgrade(ctx, conn, req, o.Protocols)
	if err != nil {
		conn.Close()
		return nil, "", err
	}
	return c, proto, nil
}

// aLongTimeAgo is a deadline in the past, to interrupt blocked calls.
var aLongTimeAgo = time.Unix(1, 0)

// ClientUpgrade performs the client side of the upgrade on conn, an
// HTTP/1.1 connection the caller dialed: it writes req with the upgrade
// headers and one X-Stream-Protocol-Version header per element of
// protocols added, reads the response, and returns the connection (whose
// first reads return the bytes that arrived right after the 101) and the
// subprotocol the server chose. ctx bounds the handshake. On error the
// caller still owns conn and should close it. See DialUpgrade for the
// errors.
func ClientUpgrade(ctx context.Context, conn net.Conn, req *http.Request, protocols []string) (net.Conn, string, error) {
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", UpgradeToken)
	req.Header.Del(HeaderStreamProtocolVersion)
	for _, p := range protocols {
		req.Header.Add(HeaderStreamProtocolVersion, p)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(aLongTimeAgo) })
	c, proto, err := clientHandshake(conn, req, protocols)
	if !stop() {
		// ctx ended during the handshake: its deadline may have broken it.
		if err == nil {
			err = ctx.Err()
		} else {
			err = fmt.Errorf("npn: upgrade: %w", context.Cause(ctx))
		}
		return nil, "", err
	}
	if err != nil {
		return nil, "", err
	}
	return c, proto, nil
}

func clientHandshake(conn net.Conn, req *http.Request, protocols []string) (net.Conn, string, error) {
	bw := bufio.NewWriter(conn)
	if err := req.Write(bw); err != nil {
		return nil, "", fmt.Errorf("npn: upgrade: writing the request: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return nil, "", fmt.Errorf("npn: upgrade: writing the request: %w", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, "", fmt.Errorf("npn: upgrade: reading the response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		return nil, "", &UpgradeError{
			StatusCode: resp.StatusCode,
			Status:     resp.Status,
			Body:       body,
			Accepted:   tokens(resp.Header[HeaderAcceptedStreamProtocolVersions]),
		}
	}
	if !hasToken(resp.Header["Connection"], "upgrade") || !hasToken(resp.Header["Upgrade"], UpgradeToken) {
		return nil, "", fmt.Errorf("%w: the 101 response does not switch to %s", ErrBadUpgradeResponse, UpgradeToken)
	}
	proto := resp.Header.Get(HeaderStreamProtocolVersion)
	if proto != "" && !slices.Contains(protocols, proto) {
		return nil, "", fmt.Errorf("%w: the server chose a stream protocol that was not offered", ErrBadUpgradeResponse)
	}
	var buffered []byte
	if n := br.Buffered(); n > 0 {
		buffered, _ = br.Peek(n)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return nil, "", err
	}
	return newBufConn(conn, buffered), proto, nil
}
