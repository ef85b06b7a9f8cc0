package httpadapter_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"

	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/session"
)

// A Server serves an http.Handler over SPDY/3.1 on a loopback listener
// (prior knowledge: no negotiation). The client here is a bare session
// that sends a request's SPDY headers itself, to show what travels on
// the wire; an http.Client would use a Transport.
func ExampleServer() {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "hello, %s over %s", r.URL.Query().Get("name"), r.Host)
	})
	srv := &httpadapter.Server{Handler: mux, Session: &session.Config{Version: session.V31}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	client, err := session.NewClient(conn, &session.Config{Version: session.V31})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	st, err := client.Open(context.Background(), &session.OpenOptions{
		Headers: []hpackz.Field{
			{Name: ":method", Value: "GET"},
			{Name: ":path", Value: "/hello?name=gopher"},
			{Name: ":version", Value: "HTTP/1.1"},
			{Name: ":host", Value: "example.com"},
			{Name: ":scheme", Value: "http"},
		},
		Fin: true, // a GET has no body
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := st.WaitHeaders(context.Background()); err != nil {
		log.Fatal(err)
	}
	body, err := io.ReadAll(st)
	if err != nil {
		log.Fatal(err)
	}
	st.Close()
	fmt.Println(st.Header(":status"))
	fmt.Println(st.Header("content-type"), st.Header("content-length"))
	fmt.Println(string(body))

	if err := srv.Shutdown(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-served)
	// Output:
	// 200 OK
	// text/plain 30
	// hello, gopher over example.com
	// http: Server closed
}
