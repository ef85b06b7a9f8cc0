package npn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/session"
)

// The ALPN protocol ids.
const (
	ProtoSPDY31 = "spdy/3.1"
	ProtoSPDY3  = "spdy/3"
	ProtoSPDY2  = "spdy/2"
	ProtoHTTP2  = "h2"
	ProtoHTTP11 = "http/1.1"
)

// DefaultVersions are the SPDY versions offered when none are named, in
// order of preference.
var DefaultVersions = []session.Version{session.V31, session.V3, session.V2}

// ErrNotSPDY is the error of DialSession when the server chose a protocol
// other than SPDY, or none.
var ErrNotSPDY = errors.New("npn: the server did not negotiate spdy")

// versionList checks vs and returns it, or DefaultVersions when it is empty.
func versionList(vs []session.Version) ([]session.Version, error) {
	if len(vs) == 0 {
		return DefaultVersions, nil
	}
	for i, v := range vs {
		switch v {
		case session.V2, session.V3, session.V31:
		default:
			return nil, fmt.Errorf("npn: unknown spdy version %d", int(v))
		}
		if slices.Contains(vs[:i], v) {
			return nil, fmt.Errorf("npn: spdy version %v named twice", v)
		}
	}
	return vs, nil
}

// nextProtos returns the ALPN ids of vs, then the entries of old that are
// not SPDY ids (in their order), then h2 and http/1.1 if they are wanted
// and missing.
func nextProtos(vs []session.Version, old []string, h2, h1 bool) []string {
	out := make([]string, 0, len(vs)+len(old)+2)
	for _, v := range vs {
		out = append(out, v.String())
	}
	for _, p := range old {
		if _, err := session.ParseVersion(p); err == nil {
			continue
		}
		if (p == ProtoHTTP2 && !h2) || (p == ProtoHTTP11 && !h1) || slices.Contains(out, p) {
			continue
		}
		out = append(out, p)
	}
	if h2 && !slices.Contains(out, ProtoHTTP2) {
		out = append(out, ProtoHTTP2)
	}
	if h1 && !slices.Contains(out, ProtoHTTP11) {
		out = append(out, ProtoHTTP11)
	}
	return out
}

// serverProtocols returns the protocols net/http would serve on hs, as
// Server.Protocols documents its default: HTTP/1 and HTTP/2, or HTTP/1
// alone when TLSNextProto is set without an "h2" entry.
func serverProtocols(hs *http.Server) http.Protocols {
	if hs.Protocols != nil {
		return *hs.Protocols
	}
	var p http.Protocols
	p.SetHTTP1(true)
	if _, h2 := hs.TLSNextProto[ProtoHTTP2]; hs.TLSNextProto == nil || h2 {
		p.SetHTTP2(true)
	}
	return p
}

// ConfigureServer prepares hs so that its TLS port serves SPDY with s as
// well as HTTP/2 and HTTP/1.1, chosen by ALPN (Go's crypto/tls has no NPN).
// versions are the SPDY versions to offer, most preferred first; none
// means DefaultVersions. A nil s serves SPDY with hs.Handler (looked up at
// each request) or http.DefaultServeMux.
//
// It sets hs.TLSConfig.NextProtos (creating hs.TLSConfig if it is nil) to
// the server's order of preference: "spdy/3.1", "spdy/3", "spdy/2", then
// any other ids already there, then "h2" and "http/1.1". The server's
// order decides what a client offering several gets. It adds an
// hs.TLSNextProto entry for each SPDY id, which serves the connection with
// s.ServeConn at that version. Because a non-nil TLSNextProto turns
// net/http's automatic HTTP/2 off, it sets hs.Protocols, if it is nil, to
// what net/http would have served (HTTP/1 and HTTP/2, unless TLSNextProto
// already disabled HTTP/2), which keeps HTTP/2 on.
//
// hs.Shutdown also shuts s down (through hs.RegisterOnShutdown), so that
// SPDY sessions get a GOAWAY and drain as HTTP/2 connections do; hs.Close
// closes them. Call ConfigureServer once, before serving.
func ConfigureServer(hs *http.Server, s *httpadapter.Server, versions ...session.Version) error {
	if hs == nil {
		return errors.New("npn: ConfigureServer needs an http.Server")
	}
	vs, err := versionList(versions)
	if err != nil {
		return err
	}
	if s == nil {
		s = &httpadapter.Server{Handler: handlerOf(hs)}
	}
	p := serverProtocols(hs)
	if hs.Protocols == nil {
		hs.Protocols = &p
	}
	if hs.TLSConfig == nil {
		hs.TLSConfig = &tls.Config{}
	}
	hs.TLSConfig.NextProtos = nextProtos(vs, hs.TLSConfig.NextProtos, p.HTTP2(), p.HTTP1())
	if hs.TLSNextProto == nil {
		hs.TLSNextProto = make(map[string]func(*http.Server, *tls.Conn, http.Handler))
	}
	for _, v := range vs {
		hs.TLSNextProto[v.String()] = func(_ *http.Server, c *tls.Conn, _ http.Handler) {
			err := s.ServeConn(c, &httpadapter.ServeConnOpts{Version: v})
			if err != nil && s.Logger != nil {
				s.Logger.Debug("session ended", "remote", c.RemoteAddr(), "proto", v.String(), "err", err)
			}
		}
	}
	hs.RegisterOnShutdown(func() { s.Shutdown(context.Background()) })
	return nil
}

// ListenAndServeTLS serves handler on one TLS port at addr over SPDY/3.1,
// SPDY/3, SPDY/2, HTTP/2 and HTTP/1.1, chosen by ALPN. certFile and
// keyFile name the certificate (chain) and key in PEM, as for
// http.ListenAndServeTLS. A nil handler means http.DefaultServeMux.
func ListenAndServeTLS(addr, certFile, keyFile string, handler http.Handler) error {
	hs := &http.Server{Addr: addr, Handler: handler}
	if err := ConfigureServer(hs, &httpadapter.Server{Handler: handler}); err != nil {
		return err
	}
	return hs.ListenAndServeTLS(certFile, keyFile)
}

// clientNextProtos is what Dial offers when cfg names no protocols.
func clientNextProtos() []string {
	return nextProtos(DefaultVersions, nil, false, true)
}

// Dial connects to addr over TLS offering SPDY by ALPN, and returns the
// connection with the version the server chose. If the server chose
// another protocol (such as "http/1.1") or none, the version is 0 and
// the connection is returned all the same, for the caller to speak that
// protocol (conn.ConnectionState().NegotiatedProtocol names it).
//
// cfg may be nil. When cfg.NextProtos is empty, Dial offers "spdy/3.1",
// "spdy/3", "spdy/2" and "http/1.1"; ServerName defaults to the host of
// addr. The handshake is bounded by ctx.
func Dial(ctx context.Context, network, addr string, cfg *tls.Config) (*tls.Conn, session.Version, error) {
	if cfg == nil {
		cfg = &tls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = clientNextProtos()
	}
	d := &tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, 0, err
	}
	tc := c.(*tls.Conn)
	v, err := session.ParseVersion(tc.ConnectionState().NegotiatedProtocol)
	if err != nil {
		return tc, 0, nil
	}
	return tc, v, nil
}

// DialSession connects to addr over TLS, negotiates SPDY by ALPN (see
// Dial) and starts a client session at the version the server chose, with
// scfg (whose Version is ignored; scfg may be nil). It fails with
// ErrNotSPDY when the server chose another protocol.
func DialSession(ctx context.Context, network, addr string, cfg *tls.Config, scfg *session.Config) (*session.Session, error) {
	c, v, err := Dial(ctx, network, addr, cfg)
	if err != nil {
		return nil, err
	}
	if v == 0 {
		c.Close()
		return nil, ErrNotSPDY
	}
	var sc session.Config
	if scfg != nil {
		sc = *scfg
	}
	sc.Version = v
	return session.NewClient(c, &sc)
}
