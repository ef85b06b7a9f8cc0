package npn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/session"
)

// alpnHandler answers with the ALPN protocol of the request's connection
// and the request's protocol.
var alpnHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	np := "none"
	if r.TLS != nil && r.TLS.NegotiatedProtocol != "" {
		np = r.TLS.NegotiatedProtocol
	}
	fmt.Fprintf(w, "%s %s", np, r.Proto)
})

// startTLS serves hs over TLS on loopback and returns its address.
func startTLS(t *testing.T, hs *http.Server) string {
	t.Helper()
	ln := listen(t)
	served := make(chan error, 1)
	go func() { served <- hs.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		hs.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("ServeTLS: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestConfigureServerALPN(t *testing.T) {
	ctx := testContext(t)
	serverTLS, clientTLS := tlsConfigs(t)
	hs := &http.Server{Handler: alpnHandler, TLSConfig: serverTLS}
	if err := ConfigureServer(hs, &httpadapter.Server{Handler: alpnHandler}); err != nil {
		t.Fatal(err)
	}
	want := []string{"spdy/3.1", "spdy/3", "spdy/2", "h2", "http/1.1"}
	if !slices.Equal(hs.TLSConfig.NextProtos, want) {
		t.Fatalf("NextProtos %q, want %q", hs.TLSConfig.NextProtos, want)
	}
	addr := startTLS(t, hs)

	// SPDY clients, one version each, and one offering everything.
	for _, tc := range []struct {
		offer []string
		want  session.Version
	}{
		{[]string{"spdy/3.1"}, session.V31},
		{[]string{"spdy/3"}, session.V3},
		{[]string{"spdy/2"}, session.V2},
		{nil, session.V31}, // Dial's default offer: the server's first choice
		{[]string{"http/1.1", "h2", "spdy/2", "spdy/3"}, session.V3},
	} {
		cfg := clientTLS.Clone()
		cfg.NextProtos = tc.offer
		s, err := DialSession(ctx, "tcp", addr, cfg, nil)
		if err != nil {
			t.Fatalf("offer %q: %v", tc.offer, err)
		}
		if s.Version() != tc.want {
			t.Fatalf("offer %q: negotiated %v, want %v", tc.offer, s.Version(), tc.want)
		}
		status, body, err := spdyGet(ctx, s, addr, "/")
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if wantBody := tc.want.String() + " HTTP/1.1"; !strings.HasPrefix(status, "200") || body != wantBody {
			t.Fatalf("offer %q: got %s %q, want %q", tc.offer, status, body, wantBody)
		}
	}

	// HTTP/2 keeps working.
	h2 := &http.Transport{TLSClientConfig: clientTLS.Clone(), ForceAttemptHTTP2: true}
	defer h2.CloseIdleConnections()
	resp, body, err := httpGet(ctx, &http.Client{Transport: h2}, "https://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 || body != "h2 HTTP/2.0" {
		t.Fatalf("HTTP/2 client: got %s %q", resp.Proto, body)
	}

	// HTTP/1.1, with and without ALPN.
	for _, offer := range [][]string{{"http/1.1"}, nil} {
		cfg := clientTLS.Clone()
		cfg.NextProtos = offer
		h1 := &http.Transport{TLSClientConfig: cfg}
		resp, body, err := httpGet(ctx, &http.Client{Transport: h1}, "https://"+addr+"/")
		h1.CloseIdleConnections()
		if err != nil {
			t.Fatal(err)
		}
		wantNP := "none"
		if offer != nil {
			wantNP = "http/1.1"
		}
		if resp.ProtoMajor != 1 || resp.ProtoMinor != 1 || body != wantNP+" HTTP/1.1" {
			t.Fatalf("HTTP/1.1 client offering %q: got %s %q", offer, resp.Proto, body)
		}
	}
}

// TestConfigureServerShutdown checks that http.Server.Shutdown ends the
// SPDY sessions of a configured server with GOAWAY.
func TestConfigureServerShutdown(t *testing.T) {
	ctx := testContext(t)
	serverTLS, clientTLS := tlsConfigs(t)
	hs := &http.Server{Handler: alpnHandler, TLSConfig: serverTLS}
	if err := ConfigureServer(hs, nil); err != nil { // nil: hs.Handler serves SPDY
		t.Fatal(err)
	}
	addr := startTLS(t, hs)
	s, err := DialSession(ctx, "tcp", addr, clientTLS, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, body, err := spdyGet(ctx, s, addr, "/"); err != nil || body != "spdy/3.1 HTTP/1.1" {
		t.Fatalf("got %q, %v", body, err)
	}
	if err := hs.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-ctx.Done():
		t.Fatal("the session did not end")
	}
	if !errors.Is(s.Err(), session.ErrGoingAway) {
		t.Fatalf("session ended with %v, want a GOAWAY", s.Err())
	}
}

func TestConfigureServerProtocols(t *testing.T) {
	for _, tc := range []struct {
		name     string
		hs       *http.Server
		versions []session.Version
		want     []string
		wantH2   bool
	}{
		{"default", &http.Server{}, nil, []string{"spdy/3.1", "spdy/3", "spdy/2", "h2", "http/1.1"}, true},
		{"spdy/2 only", &http.Server{}, []session.Version{session.V2}, []string{"spdy/2", "h2", "http/1.1"}, true},
		{"own order", &http.Server{}, []session.Version{session.V3, session.V31}, []string{"spdy/3", "spdy/3.1", "h2", "http/1.1"}, true},
		{"other ids kept", &http.Server{TLSConfig: &tls.Config{NextProtos: []string{"acme", "http/1.1", "spdy/2"}}}, nil,
			[]string{"spdy/3.1", "spdy/3", "spdy/2", "acme", "http/1.1", "h2"}, true},
		{"HTTP/2 disabled by TLSNextProto", &http.Server{TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}, nil,
			[]string{"spdy/3.1", "spdy/3", "spdy/2", "http/1.1"}, false},
		{"HTTP/2 disabled by Protocols", &http.Server{Protocols: func() *http.Protocols { var p http.Protocols; p.SetHTTP1(true); return &p }()}, nil,
			[]string{"spdy/3.1", "spdy/3", "spdy/2", "http/1.1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := ConfigureServer(tc.hs, nil, tc.versions...); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tc.hs.TLSConfig.NextProtos, tc.want) {
				t.Fatalf("NextProtos %q, want %q", tc.hs.TLSConfig.NextProtos, tc.want)
			}
			if tc.hs.Protocols == nil || tc.hs.Protocols.HTTP2() != tc.wantH2 || !tc.hs.Protocols.HTTP1() {
				t.Fatalf("Protocols %v, want HTTP/2 %v", tc.hs.Protocols, tc.wantH2)
			}
			for _, p := range tc.want {
				if _, err := session.ParseVersion(p); err == nil && tc.hs.TLSNextProto[p] == nil {
					t.Fatalf("no TLSNextProto entry for %s", p)
				}
			}
		})
	}
	for _, bad := range [][]session.Version{{0}, {4}, {session.V3, session.V3}} {
		if err := ConfigureServer(&http.Server{}, nil, bad...); err == nil {
			t.Fatalf("versions %v accepted", bad)
		}
	}
	if err := ConfigureServer(nil, nil); err == nil {
		t.Fatal("nil server accepted")
	}
}

// TestDialWithoutSPDY checks Dial and DialSession against a TLS server that
// does not speak SPDY.
func TestDialWithoutSPDY(t *testing.T) {
	ctx := testContext(t)
	serverTLS, clientTLS := tlsConfigs(t)
	addr := startTLS(t, &http.Server{Handler: alpnHandler, TLSConfig: serverTLS})
	c, v, err := Dial(ctx, "tcp", addr, clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	np := c.ConnectionState().NegotiatedProtocol
	c.Close()
	if v != 0 || np != "http/1.1" {
		t.Fatalf("Dial: version %v, protocol %q; want 0, http/1.1", v, np)
	}
	if _, err := DialSession(ctx, "tcp", addr, clientTLS, nil); !errors.Is(err, ErrNotSPDY) {
		t.Fatalf("DialSession: %v, want ErrNotSPDY", err)
	}
}
