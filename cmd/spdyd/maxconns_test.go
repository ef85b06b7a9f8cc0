package main

import (
	"bufio"
	"io"
	"log"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/spdygo/spdy/httpadapter"
)

// sendGet sends a GET for /hello.txt on c.
func sendGet(c net.Conn) error {
	_, err := io.WriteString(c, "GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	return err
}

// readAnswer reads a response from br and returns its body.
func readAnswer(br *bufio.Reader) (string, error) {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// getOn sends a GET for /hello.txt on c and reads the answer.
func getOn(t *testing.T, c net.Conn, br *bufio.Reader) string {
	t.Helper()
	if err := sendGet(c); err != nil {
		t.Fatal(err)
	}
	body, err := readAnswer(br)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// With -max-conns 1, a second connection is not served while the first
// is open, and is served as soon as it closes.
func TestMaxConns(t *testing.T) {
	root := makeRoot(t)
	s := startServer(t, "-addr", "127.0.0.1:0", "-root", root.dir, "-q", "-max-conns", "1")
	a, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.SetDeadline(time.Now().Add(time.Minute)) // hang guard
	ar := bufio.NewReader(a)
	if got := getOn(t, a, ar); got != "hello, world\n" {
		t.Fatalf("first connection got %q", got)
	}
	b, err := net.Dial("tcp", s.addr) // completes in the kernel's accept queue
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.SetDeadline(time.Now().Add(time.Minute))
	if err := sendGet(b); err != nil {
		t.Fatal(err)
	}
	answered := make(chan string, 1)
	go func() {
		body, err := readAnswer(bufio.NewReader(b))
		if err != nil {
			body = "error: " + err.Error()
		}
		answered <- body
	}()
	// The first connection still holds the only slot: it is served again,
	// and the second cannot have been accepted meanwhile.
	if got := getOn(t, a, ar); got != "hello, world\n" {
		t.Fatalf("first connection, second request got %q", got)
	}
	select {
	case got := <-answered:
		t.Fatalf("second connection served while the first held the only slot: %q", got)
	default:
	}
	a.Close()
	if got := <-answered; got != "hello, world\n" {
		t.Fatalf("second connection after the first closed: %q", got)
	}
}

// Idle HTTP connections end after the idle time of SPDY sessions, and the
// SPDY sessions get the server defaults (keepalive, idle timeout).
func TestIdleTimeouts(t *testing.T) {
	o, err := parseFlags([]string{"-addr", "127.0.0.1:0", "-root", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d, err := start(o, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	if d.web.IdleTimeout != httpadapter.DefaultServerIdleTimeout {
		t.Fatalf("HTTP IdleTimeout %v, want %v", d.web.IdleTimeout, httpadapter.DefaultServerIdleTimeout)
	}
	if c := d.spdy.Session; c.KeepAlive != 0 || c.IdleTimeout != 0 {
		t.Fatalf("spdyd overrides the server's session defaults: KeepAlive %v IdleTimeout %v", c.KeepAlive, c.IdleTimeout)
	}
}
