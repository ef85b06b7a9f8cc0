package httpadapter

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/session"
)

// A client that opens streams and resets them at once (rapid reset, as in
// CVE-2023-44487) frees its stream slots immediately, but not the handlers
// it started. The Server runs at most MaxConcurrentStreams handlers per
// session at once, whatever the client does, and serves requests again
// once the handlers return.
func TestRapidResetBoundsHandlers(t *testing.T) {
	const limit = 8
	release := make(chan struct{})
	var running, peak, started atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/after" {
			w.Write([]byte("ok"))
			return
		}
		started.Add(1)
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release // a handler that does not watch its context
		running.Add(-1)
	})
	ts := startServer(t, session.V31, h, &serverOpts{server: func(s *Server) {
		s.Session = &session.Config{MaxConcurrentStreams: limit}
	}})
	for range 5 * limit {
		st := ts.open(request{path: "/work"})
		st.Reset(framing.StatusCancel)
	}
	// Make sure the server read every open and reset: a PING is answered
	// after the frames before it.
	if _, err := ts.cs.Ping(limitCtx(t)); err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p > limit {
		t.Fatalf("%d handlers ran at once, limit %d", p, limit)
	}
	close(release)
	// The request after the burst gets a handler once one returns.
	resp := ts.do(request{path: "/after"})
	if resp.code != 200 || string(resp.body) != "ok" {
		t.Fatalf("after the burst: %d %q", resp.code, resp.body)
	}
	if p := peak.Load(); p > limit || started.Load() > 5*limit {
		t.Fatalf("peak %d, started %d", p, started.Load())
	}
}
