package proxy_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"

	"github.com/spdygo/spdy/internal/selfsigned"
	"github.com/spdygo/spdy/proxy"
)

// A proxy and one origin on loopback: the origin dials the proxy's tunnel
// port, pinning its certificate, and serves what clients ask the front end
// under /o/home/.
func Example() {
	// The proxy: a registry, a TLS tunnel endpoint and a front end.
	cert, _, err := selfsigned.Loopback("example proxy")
	if err != nil {
		log.Fatal(err)
	}
	reg := proxy.NewRegistry()
	if err := reg.Add("home", "a-secret-token-of-home"); err != nil {
		log.Fatal(err)
	}
	p := &proxy.Proxy{Registry: reg, Route: proxy.RoutePath}
	defer p.Close()
	tunnelLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	tunnel := p.NewTunnelServer(&tls.Config{Certificates: []tls.Certificate{cert}})
	go tunnel.ServeTLS(tunnelLn, "", "")
	defer tunnel.Close()
	frontLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	front := &http.Server{Handler: p}
	go front.Serve(frontLn)
	defer front.Close()

	// The origin, trusting the proxy by its certificate's fingerprint.
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		log.Fatal(err)
	}
	pinned, err := proxy.PinnedTLSConfig(proxy.Fingerprint(leaf))
	if err != nil {
		log.Fatal(err)
	}
	c := &proxy.Connector{
		ProxyURL:  "https://" + tunnelLn.Addr().String(),
		Name:      "home",
		Token:     "a-secret-token-of-home",
		TLSConfig: pinned,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello from home: %s", r.URL.Path)
		}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	if err := p.WaitConnected(ctx, "home", false); err != nil {
		log.Fatal(err)
	}

	// A client of the front end.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://" + frontLn.Addr().String() + "/o/home/movies/")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, string(body))
	// Output: 200 OK hello from home: /movies/
}
