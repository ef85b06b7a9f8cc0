package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// A client that half-closes its connection after its request (or in the
// middle of its body) looks gone to net/http, which cancels the request's
// context. The proxy must not answer it with net/http's default for a
// handler that wrote nothing, a complete-looking "200 OK" with an empty
// body: the client is still reading, and would take it for the origin's
// answer. It gets no response at all (the connection is closed), or an
// error status.
func TestCutHalfClosedClientGetsNoFakeResponse(t *testing.T) {
	for _, tc := range []struct{ name, req string }{
		{"GET", "GET /o/home/wait HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"ShortPOST", "POST /o/home/wait HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + strings.Repeat("a", 500)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, &Proxy{Route: RoutePath})
			e.connect("home", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				<-r.Context().Done() // answers nothing until the proxy gives up
			}))
			c, err := net.Dial("tcp", e.frontLn.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, tc.req); err != nil {
				t.Fatal(err)
			}
			if err := c.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(hangGuard))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode < 400 {
					t.Fatalf("the half-closed client got %s with %d body bytes, for a request the origin never answered", resp.Status, len(body))
				}
			} else if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("no answer and no close: %v", err)
			}
			waitFor(t, "the proxy's stream to end", func() bool { return e.p.Stats().StreamsOpen == 0 })
			if n := e.p.Stats().Errors["client_gone"]; n != 1 {
				t.Errorf("client_gone = %d, want 1", n)
			}
		})
	}
}
