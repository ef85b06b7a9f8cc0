package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/session"
)

// serveEcho accepts the streams of s and echoes each until its FIN. It
// returns when s ends.
func serveEcho(s *session.Session) {
	for {
		st, err := s.Accept(context.Background())
		if err != nil {
			return // the session ended
		}
		go func() {
			io.Copy(st, st)
			st.Close() // FIN after the echo
		}()
	}
}

// A client and a server session over loopback TCP: the server echoes every
// stream.
func ExampleNew() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		srv, err := session.New(conn, session.Server, &session.Config{Version: session.V31})
		if err != nil {
			conn.Close()
			return
		}
		serveEcho(srv) // until the client ends the session
		srv.Close()
	}()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	client, err := session.New(conn, session.Client, &session.Config{Version: session.V31})
	if err != nil {
		log.Fatal(err)
	}
	st, err := client.Open(context.Background(), nil)
	if err != nil {
		log.Fatal(err)
	}
	st.Write([]byte("hello, stream"))
	st.CloseWrite() // FIN: the server's copy ends, and so does its echo
	echo, err := io.ReadAll(st)
	if err != nil {
		log.Fatal(err)
	}
	st.Close()
	fmt.Printf("%s %s: %s\n", client.Version(), client.Role(), echo)

	client.Close() // GOAWAY, then the connection closes
	<-served
	// Output: spdy/3.1 client: hello, stream
}

// Open starts a stream with headers of the application's choosing; the
// stream is a net.Conn.
func ExampleSession_Open() {
	c1, c2 := net.Pipe()
	client, _ := session.NewClient(c1, nil)
	server, _ := session.NewServer(c2, nil)
	defer server.Close()
	defer client.Close()
	go serveEcho(server) // Accept every stream, io.Copy it back to itself

	ctx := context.Background()
	st, err := client.Open(ctx, &session.OpenOptions{
		Headers:  []hpackz.Field{{Name: "purpose", Value: "echo"}},
		Priority: 3,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	fmt.Fprint(st, "ping over a stream") // a stream is a net.Conn
	st.CloseWrite()                      // FIN; reading goes on
	echo, err := io.ReadAll(st)
	fmt.Printf("stream %d: %q %v\n", st.ID(), echo, err)
	// Output: stream 1: "ping over a stream" <nil>
}

// Accept returns the streams the peer opens, in the order it opened them,
// with the headers of their SYN_STREAM.
func ExampleSession_Accept() {
	c1, c2 := net.Pipe()
	client, _ := session.NewClient(c1, nil)
	server, _ := session.NewServer(c2, nil)
	defer server.Close()
	defer client.Close()

	ctx := context.Background()
	for _, name := range []string{"alpha", "beta", "gamma"} {
		// Fin: the client sends nothing but the headers.
		_, err := client.Open(ctx, &session.OpenOptions{Headers: []hpackz.Field{{Name: "name", Value: name}}, Fin: true})
		if err != nil {
			log.Fatal(err)
		}
	}
	for range 3 {
		st, err := server.Accept(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("accepted stream", st.ID(), st.Headers())
		st.Close()
	}
	// Output:
	// accepted stream 1 [name: alpha]
	// accepted stream 3 [name: beta]
	// accepted stream 5 [name: gamma]
}

// Shutdown sends GOAWAY and lets the streams under way finish before the
// session closes; the peer can open no new stream, and its session ends
// with the GOAWAY once its streams are done.
func ExampleSession_Shutdown() {
	c1, c2 := net.Pipe()
	client, _ := session.NewClient(c1, nil)
	server, _ := session.NewServer(c2, nil)
	defer server.Close()
	defer client.Close()

	ctx := context.Background()
	req, err := client.Open(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	st, err := server.Accept(ctx)
	if err != nil {
		log.Fatal(err)
	}

	// Shut down with a stream open; give it 10 seconds to finish at most.
	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shutdown <- server.Shutdown(ctx)
	}()

	// The stream is still served: the request arrives, the answer goes back.
	fmt.Fprint(req, "question")
	req.CloseWrite()
	q, _ := io.ReadAll(st)
	fmt.Fprintf(st, "answer to the %s", q)
	st.Close()
	answer, _ := io.ReadAll(req)
	req.Close()
	fmt.Println(string(answer))

	fmt.Println("shutdown:", <-shutdown)
	<-client.Done()
	var ga *session.GoAwayError
	if errors.As(client.Err(), &ga) {
		fmt.Println("client session ended by GOAWAY", ga.Status)
	}
	_, err = client.Open(ctx, nil)
	fmt.Println("open after:", err)
	// Output:
	// answer to the question
	// shutdown: <nil>
	// client session ended by GOAWAY OK
	// open after: session: peer sent GOAWAY (last good stream 1, OK)
}

// Ping measures the round trip to the peer; it also tells that the peer is
// alive.
func ExampleSession_Ping() {
	c1, c2 := net.Pipe()
	client, _ := session.NewClient(c1, nil)
	server, _ := session.NewServer(c2, nil)
	defer server.Close()
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rtt, err := client.Ping(ctx)
	if err != nil {
		log.Fatal(err)
	}
	_ = rtt // varies from run to run
	fmt.Println("peer answered the ping")
	// Output: peer answered the ping
}

// header returns the value of the header name in fields, or "".
func header(fields []hpackz.Field, name string) string {
	for _, f := range fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// A custom request/response protocol over streams, with no HTTP: the
// client names a method in a header of the SYN_STREAM and sends the
// argument as the stream's data; the server answers with a status header
// in the SYN_REPLY and the result as data. Config.ManualReply lets the
// server choose the reply's headers.
func Example_requestResponse() {
	methods := map[string]func(string) string{
		"upper":   strings.ToUpper,
		"reverse": func(s string) string { r := []rune(s); slices.Reverse(r); return string(r) },
	}

	c1, c2 := net.Pipe()
	client, _ := session.NewClient(c1, nil)
	server, _ := session.NewServer(c2, &session.Config{ManualReply: true})
	defer server.Close()
	defer client.Close()

	go func() { // the server
		for {
			st, err := server.Accept(context.Background())
			if err != nil {
				return
			}
			go func() {
				defer st.Close()
				method, ok := methods[header(st.Headers(), "method")]
				if !ok {
					st.Reply([]hpackz.Field{{Name: "status", Value: "no such method"}}, true)
					return
				}
				arg, err := io.ReadAll(io.LimitReader(st, 1<<20))
				if err != nil {
					return
				}
				st.Reply([]hpackz.Field{{Name: "status", Value: "ok"}}, false)
				io.WriteString(st, method(string(arg)))
			}()
		}
	}()

	call := func(method, arg string) {
		ctx := context.Background()
		st, err := client.Open(ctx, &session.OpenOptions{Headers: []hpackz.Field{{Name: "method", Value: method}}})
		if err != nil {
			log.Fatal(err)
		}
		defer st.Close()
		io.WriteString(st, arg)
		st.CloseWrite()
		reply, err := st.WaitHeaders(ctx)
		if err != nil {
			log.Fatal(err)
		}
		result, err := io.ReadAll(st)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s(%q): %s %q\n", method, arg, header(reply, "status"), result)
	}
	call("upper", "spdy streams")
	call("reverse", "stressed")
	call("rot13", "abc")
	// Output:
	// upper("spdy streams"): ok "SPDY STREAMS"
	// reverse("stressed"): ok "desserts"
	// rot13("abc"): no such method ""
}
