package npn_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/npn"
	"github.com/spdygo/spdy/session"
)

// One TLS port serves SPDY/3.1, SPDY/3, SPDY/2, HTTP/2 and HTTP/1.1: the
// server's ALPN list puts SPDY first.
func ExampleConfigureServer() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello over %s\n", r.TLS.NegotiatedProtocol)
	})
	hs := &http.Server{Addr: "127.0.0.1:8443", Handler: handler}
	if err := npn.ConfigureServer(hs, &httpadapter.Server{Handler: handler}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(hs.TLSConfig.NextProtos)
	fmt.Println("HTTP/2 on:", hs.Protocols.HTTP2())
	// Then serve as usual:
	//   hs.ListenAndServeTLS("cert.pem", "key.pem")
	// Output:
	// [spdy/3.1 spdy/3 spdy/2 h2 http/1.1]
	// HTTP/2 on: true
}

// A server upgrades HTTP/1.1 requests to SPDY/3.1 sessions as Kubernetes'
// API server and kubelet do, choosing a subprotocol; the client opens a
// stream on the session.
func ExampleUpgrade() {
	done := make(chan struct{})
	chosen := make(chan string, 1)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, proto, err := npn.Upgrade(w, r, &npn.UpgradeOptions{
			Protocols: []string{"v4.channel.k8s.io", "v3.channel.k8s.io"},
		})
		if err != nil {
			return // Upgrade has answered 400 or 403
		}
		defer close(done)
		defer s.Close()
		chosen <- proto
		st, err := s.Accept(context.Background())
		if err != nil {
			return
		}
		b, _ := io.ReadAll(st)
		fmt.Fprintf(st, "%s received %q", st.Header("streamtype"), b)
		st.Close()
		<-s.Done() // until the client closes the session
	})
	srv := httptest.NewServer(handler)
	defer srv.Close()

	ctx := context.Background()
	s, proto, err := npn.DialUpgrade(ctx, srv.URL+"/exec", &npn.UpgradeDialOptions{
		Method:    http.MethodPost,
		Protocols: []string{"v5.channel.k8s.io", "v4.channel.k8s.io"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("server chose", <-chosen)
	fmt.Println("client got", proto)
	st, err := s.Open(ctx, &session.OpenOptions{Headers: []hpackz.Field{{Name: "streamtype", Value: "stdin"}}})
	if err != nil {
		log.Fatal(err)
	}
	io.WriteString(st, "ls -l")
	st.CloseWrite()
	answer, _ := io.ReadAll(st)
	fmt.Println(string(answer))
	s.Close()
	<-done
	// Output:
	// server chose v4.channel.k8s.io
	// client got v4.channel.k8s.io
	// stdin received "ls -l"
}

// SPDY and HTTP/1.1 on one plain TCP port: each connection goes where its
// first byte says.
func ExampleServeSniffed() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Handler: handler}
	served := make(chan error, 1)
	go func() { served <- npn.ServeSniffed(ln, &httpadapter.Server{Handler: handler}, hs, nil) }()

	// An HTTP/1.1 client.
	tr := &http.Transport{}
	resp, err := (&http.Client{Transport: tr}).Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		log.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tr.CloseIdleConnections()
	fmt.Println(resp.Proto, string(b))

	// A SPDY/3.1 client with prior knowledge.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	s, err := session.NewClient(c, &session.Config{Version: session.V31})
	if err != nil {
		log.Fatal(err)
	}
	st, err := s.Open(context.Background(), &session.OpenOptions{Fin: true, Headers: []hpackz.Field{
		{Name: ":host", Value: "example.com"}, {Name: ":method", Value: "GET"}, {Name: ":path", Value: "/"},
		{Name: ":scheme", Value: "http"}, {Name: ":version", Value: "HTTP/1.1"},
	}})
	if err != nil {
		log.Fatal(err)
	}
	b, _ = io.ReadAll(st)
	fmt.Println(s.Version(), st.Header(":status"), string(b))
	s.Close()

	hs.Shutdown(context.Background())
	fmt.Println(<-served)
	// Output:
	// HTTP/1.1 hello
	// spdy/3.1 200 OK hello
	// http: Server closed
}
