package proxy

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/spdygo/spdy/session"
)

// A request beyond the origin's MAX_CONCURRENT_STREAMS is answered 503 at
// once instead of waiting without a word; the requests in flight are not
// disturbed.
func TestOriginBusyAnswers503(t *testing.T) {
	e := newEnv(t, &Proxy{Route: RoutePath})
	release := make(chan struct{})
	// Registered after newEnv, so it runs before the env's cleanup: a
	// test that fails early does not leave the held handlers waiting.
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	var held atomic.Int32
	e.connectWith("home", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			held.Add(1)
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		w.Write([]byte("done"))
	}), func(c *Connector) { c.Session = &session.Config{MaxConcurrentStreams: 2} })
	c := e.httpClient()
	results := []<-chan result{goGet(t, c, e.FrontURL+"/o/home/hold"), goGet(t, c, e.FrontURL+"/o/home/hold")}
	waitFor(t, "both held requests to reach the origin", func() bool { return held.Load() == 2 })
	resp, _ := do(t, c, newRequest(t, "GET", e.FrontURL+"/o/home/third", nil))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third request: %s, Retry-After %q; want 503 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
	}
	if n := e.p.Stats().Errors["origin_busy"]; n != 1 {
		t.Fatalf("origin_busy = %d, want 1", n)
	}
	close(release)
	for _, res := range results {
		if r := <-res; r.code != 200 || r.body != "done" {
			t.Fatalf("held request: %d %q", r.code, r.body)
		}
	}
	if code, body := getString(t, c, e.FrontURL+"/o/home/after"); code != 200 || body != "done" {
		t.Fatalf("after: %d %q", code, body)
	}
}
