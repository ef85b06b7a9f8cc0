package npn

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/session"
)

// countConns counts the connections hs accepts.
func countConns(hs *http.Server) *atomic.Int32 {
	var n atomic.Int32
	hs.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	return &n
}

func TestConfigureTransport(t *testing.T) {
	ctx := testContext(t)
	serverTLS, clientTLS := tlsConfigs(t)
	h2TLS, h1TLS := serverTLS.Clone(), serverTLS.Clone()
	hs := &http.Server{Handler: alpnHandler, TLSConfig: serverTLS}
	conns := countConns(hs)
	if err := ConfigureServer(hs, nil); err != nil {
		t.Fatal(err)
	}
	spdyAddr := startTLS(t, hs)
	h2Addr := startTLS(t, &http.Server{Handler: alpnHandler, TLSConfig: h2TLS})
	h1Only := &http.Server{Handler: alpnHandler, TLSConfig: h1TLS, Protocols: new(http.Protocols)}
	h1Only.Protocols.SetHTTP1(true)
	h1Addr := startTLS(t, h1Only)

	for _, tc := range []struct {
		versions []session.Version
		want     string
	}{
		{nil, "spdy/3.1"},
		{[]session.Version{session.V2}, "spdy/2"},
		{[]session.Version{session.V3, session.V2}, "spdy/3"},
	} {
		tr := &http.Transport{TLSClientConfig: clientTLS.Clone(), ForceAttemptHTTP2: true}
		st := &httpadapter.Transport{}
		if err := ConfigureTransport(tr, st, tc.versions...); err != nil {
			t.Fatal(err)
		}
		client := &http.Client{Transport: tr}
		before := conns.Load()
		for range 3 {
			resp, body, err := httpGet(ctx, client, "https://"+spdyAddr+"/")
			if err != nil {
				t.Fatal(err)
			}
			if body != tc.want+" HTTP/1.1" || resp.TLS == nil || resp.TLS.NegotiatedProtocol != tc.want {
				t.Fatalf("versions %v: got %q over %v", tc.versions, body, resp.TLS)
			}
		}
		if n := conns.Load() - before; n != 1 {
			t.Fatalf("versions %v: %d connections for 3 requests, want 1 session", tc.versions, n)
		}
		// A session closed under the http.Transport is replaced.
		st.CloseIdleConnections()
		if _, body, err := httpGet(ctx, client, "https://"+spdyAddr+"/"); err != nil || body != tc.want+" HTTP/1.1" {
			t.Fatalf("after the session closed: %q, %v", body, err)
		}
		if n := conns.Load() - before; n != 2 {
			t.Fatalf("%d connections, want 2", n)
		}

		// HTTP/2 and HTTP/1.1 servers are still reached.
		resp, body, err := httpGet(ctx, client, "https://"+h2Addr+"/")
		if err != nil || resp.ProtoMajor != 2 || body != "h2 HTTP/2.0" {
			t.Fatalf("HTTP/2 server: %q, %v", body, err)
		}
		resp, body, err = httpGet(ctx, client, "https://"+h1Addr+"/")
		if err != nil || resp.ProtoMajor != 1 || body != "http/1.1 HTTP/1.1" {
			t.Fatalf("HTTP/1.1 server: %q, %v", body, err)
		}
		st.CloseIdleConnections()
		tr.CloseIdleConnections()
	}
}

func TestConfigureTransportProtocols(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tr     *http.Transport
		want   []string
		wantH2 bool
	}{
		{"default", &http.Transport{}, []string{"spdy/3.1", "spdy/3", "spdy/2", "h2", "http/1.1"}, true},
		{"custom TLS config", &http.Transport{TLSClientConfig: &tls.Config{}}, []string{"spdy/3.1", "spdy/3", "spdy/2", "http/1.1"}, false},
		{"custom TLS config, forced HTTP/2", &http.Transport{TLSClientConfig: &tls.Config{}, ForceAttemptHTTP2: true}, []string{"spdy/3.1", "spdy/3", "spdy/2", "h2", "http/1.1"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := ConfigureTransport(tc.tr, nil); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tc.tr.TLSClientConfig.NextProtos, tc.want) {
				t.Fatalf("NextProtos %q, want %q", tc.tr.TLSClientConfig.NextProtos, tc.want)
			}
			if tc.tr.Protocols.HTTP2() != tc.wantH2 || !tc.tr.Protocols.HTTP1() {
				t.Fatalf("Protocols %v", tc.tr.Protocols)
			}
			for _, v := range DefaultVersions {
				if tc.tr.TLSNextProto[v.String()] == nil {
					t.Fatalf("no TLSNextProto entry for %v", v)
				}
			}
		})
	}
	if err := ConfigureTransport(&http.Transport{}, nil, 7); err == nil {
		t.Fatal("version 7 accepted")
	}
}

// TestDialUpgradeClientConn sends HTTP requests over an upgraded
// connection served by httpadapter.Server.
func TestDialUpgradeClientConn(t *testing.T) {
	ctx := testContext(t)
	serverTLS, clientTLS := tlsConfigs(t)
	srv := &httpadapter.Server{Handler: alpnHandler}
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := UpgradeConn(w, r, &UpgradeOptions{Protocols: []string{"http.spdy"}})
		if err != nil {
			return
		}
		if err := srv.ServeConn(c, nil); err != nil {
			t.Errorf("ServeConn: %v", err)
		}
	}))
	hs.TLS = serverTLS
	hs.StartTLS()
	defer hs.Close()
	cc, proto, err := DialUpgradeClientConn(ctx, hs.URL+"/", &UpgradeDialOptions{Protocols: []string{"http.spdy"}, TLSClientConfig: clientTLS}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if proto != "http.spdy" {
		t.Fatalf("protocol %q", proto)
	}
	for range 2 {
		req, _ := http.NewRequestWithContext(ctx, "GET", hs.URL+"/over-upgrade", nil)
		resp, err := cc.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		// The server's session sees the TLS state only through
		// ServeConnOpts; the client's responses carry it.
		if resp.StatusCode != 200 || !strings.HasSuffix(string(b), "HTTP/1.1") || resp.TLS == nil {
			t.Fatalf("got %s %q, TLS %v", resp.Status, b, resp.TLS != nil)
		}
	}
	if err := cc.Shutdown(ctx); err != nil && !errors.Is(err, session.ErrClosed) {
		t.Fatal(err)
	}
}
