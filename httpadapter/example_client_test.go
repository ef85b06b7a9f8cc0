package httpadapter_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/spdygo/spdy/httpadapter"
)

// serveExample serves h over SPDY/3.1 on a loopback listener (prior
// knowledge) and returns its address and a function that stops it.
func serveExample(h http.Handler) (addr string, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &httpadapter.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	return ln.Addr().String(), func() {
		srv.Shutdown(context.Background())
		<-done
	}
}

// A Transport makes an http.Client speak SPDY: http:// URLs with prior
// knowledge (SPDY/3.1 unless Version says otherwise), https:// URLs with
// TLS and ALPN, falling back to HTTP/1.1 or HTTP/2 for servers that do
// not speak SPDY.
func ExampleTransport() {
	addr, stop := serveExample(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
	}))
	defer stop()

	tr := &httpadapter.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	resp, err := client.Get("http://" + addr + "/index.html")
	if err != nil {
		log.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Status)
	fmt.Println(resp.Header["Set-Cookie"])
	fmt.Println(string(body))
	// Output:
	// 200 OK
	// [a=1 b=2]
	// GET /index.html
}

// NewClient is the short way to talk to one SPDY server, in the manner of
// github.com/amahi/spdy: Do sends a request (its URL may leave out the
// server), and the response body streams.
func ExampleNewClient() {
	addr, stop := serveExample(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, r.Body)
	}))
	defer stop()

	c, err := httpadapter.NewClient(addr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	req, err := http.NewRequest(http.MethodPost, "/echo", strings.NewReader("ping over spdy"))
	if err != nil {
		log.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Ping(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(body))
	// Output:
	// ping over spdy
}

// ProxyRequest forwards the requests an HTTP/1.1 (or HTTP/2) server
// receives to a SPDY backend and streams the answers back.
func ExampleProxyRequest() {
	backend, stop := serveExample(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "backend saw %s", r.URL.Path)
	}))
	defer stop()

	tr := &httpadapter.Transport{}
	defer tr.CloseIdleConnections()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Scheme, r.URL.Host = "http", backend
		if err := httpadapter.ProxyRequest(tr, w, r); err != nil {
			http.Error(w, "bad gateway", http.StatusBadGateway)
		}
	}))
	defer front.Close()

	resp, err := http.Get(front.URL + "/photos/1.jpg")
	if err != nil {
		log.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Proto, resp.StatusCode, string(body))
	// Output:
	// HTTP/1.1 200 backend saw /photos/1.jpg
}
