package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// demoGet sends a GET for the demo origin's home page on c and reads the
// answer's status.
func demoGet(t *testing.T, c net.Conn, br *bufio.Reader) int {
	t.Helper()
	if _, err := io.WriteString(c, "GET /o/demo/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

// With -max-conns 1, a second client connection is not served while the
// first is open, and is served as soon as it closes.
func TestMaxConns(t *testing.T) {
	r := startProxy(t, "press", "-demo", "-front", "127.0.0.1:0", "-tunnel", "127.0.0.1:0", "-q", "-max-conns", "1")
	addr := strings.TrimPrefix(r.lines["front"], "http://")
	a, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.SetDeadline(time.Now().Add(hangGuard))
	ar := bufio.NewReader(a)
	if code := demoGet(t, a, ar); code != 200 {
		t.Fatalf("first connection: %d", code)
	}
	b, err := net.Dial("tcp", addr) // completes in the kernel's accept queue
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.SetDeadline(time.Now().Add(hangGuard))
	if _, err := io.WriteString(b, "GET /o/demo/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	answered := make(chan int, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(b), nil)
		if err != nil {
			answered <- -1
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	// The first connection holds the only slot: it is served again, and
	// the second cannot have been accepted meanwhile.
	if code := demoGet(t, a, ar); code != 200 {
		t.Fatalf("first connection, second request: %d", code)
	}
	select {
	case code := <-answered:
		t.Fatalf("second connection served (%d) while the first held the only slot", code)
	default:
	}
	a.Close()
	if code := <-answered; code != 200 {
		t.Fatalf("second connection after the first closed: %d", code)
	}
}
