package proxy

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Request trailers, which the client's body delivers at its end, reach the
// origin.
func TestRequestTrailersForwarded(t *testing.T) {
	e := newEnv(t, &Proxy{Route: RoutePath})
	e.connect("home", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		io.WriteString(w, "trailer="+r.Trailer.Get("X-Req-Sum"))
	}))
	c := e.httpClient()
	req := newRequest(t, "PUT", e.FrontURL+"/o/home/x", strings.NewReader("hello"))
	req.Trailer = http.Header{"X-Req-Sum": {"abc"}}
	req.ContentLength = -1 // chunked, with the trailer after the last chunk
	resp, body := do(t, c, req)
	if resp.StatusCode != 200 || string(body) != "trailer=abc" {
		t.Fatalf("got %s %q, want the origin to see the trailer: \"trailer=abc\"", resp.Status, body)
	}
}
