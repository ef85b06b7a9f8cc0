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

// sendDemoGet sends a GET for the demo origin's home page on c.
func sendDemoGet(c net.Conn) error {
	_, err := io.WriteString(c, "GET /o/demo/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	return err
}

// readStatus reads a whole response from br and returns its status.
func readStatus(br *bufio.Reader) (int, error) {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// demoGet sends a GET for the demo origin's home page on c and reads the
// answer's status.
func demoGet(t *testing.T, c net.Conn, br *bufio.Reader) int {
	t.Helper()
	if err := sendDemoGet(c); err != nil {
		t.Fatal(err)
	}
	code, err := readStatus(br)
	if err != nil {
		t.Fatal(err)
	}
	return code
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
	if err := sendDemoGet(b); err != nil {
		t.Fatal(err)
	}
	answered := make(chan int, 1)
	go func() {
		code, err := readStatus(bufio.NewReader(b))
		if err != nil {
			code = -1
		}
		answered <- code
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
