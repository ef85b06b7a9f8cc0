package proxy

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/spdygo/spdy/internal/selfsigned"
)

// BenchmarkProxiedRequest measures one small GET through the front end,
// the tunnel and the origin, all in this process (-benchmem counts the
// allocations of all three and of the client).
func BenchmarkProxiedRequest(b *testing.B) {
	cert, pool, err := selfsigned.Loopback("proxy bench")
	if err != nil {
		b.Fatal(err)
	}
	reg := NewRegistry()
	if err := reg.Add("home", "bench-token-0123456789"); err != nil {
		b.Fatal(err)
	}
	p := &Proxy{Registry: reg, Route: RoutePath}
	defer p.Close()
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ts := p.NewTunnelServer(&tls.Config{Certificates: []tls.Certificate{cert}})
	go ts.ServeTLS(tln, "", "")
	defer ts.Close()
	fln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	fs := &http.Server{Handler: p}
	go fs.Serve(fln)
	defer fs.Close()

	c := &Connector{
		ProxyURL: "https://" + tln.Addr().String(), Name: "home", Token: "bench-token-0123456789",
		TLSConfig: &tls.Config{RootCAs: pool},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("hello"))
		}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), hangGuard)
	defer wcancel()
	if err := p.WaitConnected(wctx, "home", false); err != nil {
		b.Fatal(err)
	}

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := "http://" + fln.Addr().String() + "/o/home/x"
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatal(resp.Status)
		}
	}
}
