package npn

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/session"
)

// transportProtocols returns the protocols net/http would use on t, as
// Transport.Protocols documents its default: HTTP/1, and HTTP/2 unless
// TLSNextProto is set without an "h2" entry, or a custom TLS config or
// dialer is set without ForceAttemptHTTP2.
func transportProtocols(t *http.Transport) http.Protocols {
	if t.Protocols != nil {
		return *t.Protocols
	}
	var p http.Protocols
	p.SetHTTP1(true)
	switch {
	case t.TLSNextProto != nil:
		p.SetHTTP2(t.TLSNextProto[ProtoHTTP2] != nil)
	case !t.ForceAttemptHTTP2 && (t.TLSClientConfig != nil || t.Dial != nil || t.DialContext != nil || t.DialTLS != nil || t.DialTLSContext != nil):
	default:
		p.SetHTTP2(true)
	}
	return p
}

// erringRoundTripper is what a TLSNextProto function returns when it
// cannot make a ClientConn: net/http reports its RoundTripErr.
type erringRoundTripper struct{ err error }

func (e erringRoundTripper) RoundTripErr() error { return e.err }

func (e erringRoundTripper) RoundTrip(*http.Request) (*http.Response, error) { return nil, e.err }

// ConfigureTransport makes t speak SPDY to https servers that negotiate it
// by ALPN, with st carrying the sessions, and HTTP/2 or HTTP/1.1 to the
// others. versions are the SPDY versions to offer, most preferred first;
// none means DefaultVersions. A nil st means a zero httpadapter.Transport.
//
// It sets t.TLSClientConfig.NextProtos (creating t.TLSClientConfig if it
// is nil) to the SPDY ids, then any other ids already there, then "h2"
// and "http/1.1" when t uses them, and adds a t.TLSNextProto entry per
// SPDY id that runs the connection as st.NewClientConn. Because a non-nil
// TLSNextProto turns net/http's automatic HTTP/2 off, it sets t.Protocols,
// if it is nil, to what net/http would have used before the call (HTTP/1,
// and HTTP/2 if t.ForceAttemptHTTP2 or no custom TLS config or dialer was
// set).
//
// t keeps each SPDY session for its origin and sends it the origin's
// requests, many at once; a session that ends is replaced. t's
// CloseIdleConnections does not reach the sessions: call
// st.CloseIdleConnections as well.
func ConfigureTransport(t *http.Transport, st *httpadapter.Transport, versions ...session.Version) error {
	if t == nil {
		return errors.New("npn: ConfigureTransport needs an http.Transport")
	}
	vs, err := versionList(versions)
	if err != nil {
		return err
	}
	if st == nil {
		st = &httpadapter.Transport{}
	}
	p := transportProtocols(t)
	if t.Protocols == nil {
		t.Protocols = &p
	}
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	t.TLSClientConfig.NextProtos = nextProtos(vs, t.TLSClientConfig.NextProtos, p.HTTP2(), p.HTTP1())
	if t.TLSNextProto == nil {
		t.TLSNextProto = make(map[string]func(string, *tls.Conn) http.RoundTripper)
	}
	for _, v := range vs {
		t.TLSNextProto[v.String()] = func(_ string, c *tls.Conn) http.RoundTripper {
			cc, err := st.NewClientConn(c, v)
			if err != nil {
				c.Close()
				return erringRoundTripper{err}
			}
			return cc
		}
	}
	return nil
}

// DialUpgradeClientConn is DialUpgrade for HTTP over the upgraded
// connection: it returns a client of t (nil means a zero
// httpadapter.Transport) that sends requests as SPDY/3.1 streams to the
// server at the other end, with the subprotocol the server chose. The
// server serves it with httpadapter.Server.ServeSession or ServeConn.
// opts.Session is not used: t's settings apply.
func DialUpgradeClientConn(ctx context.Context, rawURL string, opts *UpgradeDialOptions, t *httpadapter.Transport) (*httpadapter.ClientConn, string, error) {
	if t == nil {
		t = &httpadapter.Transport{}
	}
	c, proto, err := DialUpgradeConn(ctx, rawURL, opts)
	if err != nil {
		return nil, "", err
	}
	cc, err := t.NewClientConn(c, session.V31)
	if err != nil {
		return nil, "", err
	}
	return cc, proto, nil
}
