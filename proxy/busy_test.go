package proxy

import (
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/spdygo/spdy/session"
)

// A request beyond the origin's MAX_CONCURRENT_STREAMS is answered 503 at
// once instead of waiting without a word; the requests in flight are not
// disturbed.
func TestOriginBusyAnswers503(t *testing.T) {
	e := newEnv(t, &Proxy{Route: RoutePath})
	release := make(chan struct{})
	var held sync.WaitGroup
	held.Add(2)
	e.connectWith("home", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			held.Done()
			<-release
		}
		w.Write([]byte("done"))
	}), func(c *Connector) { c.Session = &session.Config{MaxConcurrentStreams: 2} })
	c := e.httpClient()
	type result struct {
		code int
		body string
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			resp, err := c.Get(e.FrontURL + "/o/home/hold")
			if err != nil {
				results <- result{0, err.Error()}
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				results <- result{0, err.Error()}
				return
			}
			results <- result{resp.StatusCode, string(b)}
		}()
	}
	held.Wait()
	resp, err := c.Get(e.FrontURL + "/o/home/third")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third request: %s, Retry-After %q; want 503 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
	}
	if n := e.p.Stats().Errors["origin_busy"]; n != 1 {
		t.Fatalf("origin_busy = %d, want 1", n)
	}
	close(release)
	for range 2 {
		if r := <-results; r.code != 200 || r.body != "done" {
			t.Fatalf("held request: %d %q", r.code, r.body)
		}
	}
	if code, body := getString(t, c, e.FrontURL+"/o/home/after"); code != 200 || body != "done" {
		t.Fatalf("after: %d %q", code, body)
	}
}
