package proxy

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// An HTTP/1.1 client that goes away in the middle of an upload to an
// origin that does not read is not noticed by net/http (nobody reads its
// connection once the tunnel's window is full): the stall timeout ends the
// request, resets the stream and frees the origin's handler.
func TestStallTimeoutEndsAbandonedUpload(t *testing.T) {
	e := newEnv(t, &Proxy{Route: RoutePath, StallTimeout: 100 * time.Millisecond})
	started := make(chan struct{})
	handlerDone := make(chan struct{})
	e.connect("home", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // never reads, never answers
		close(handlerDone)
	}))
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.FrontURL+"/o/home/sink", pr)
	req.ContentLength = 64 << 20
	go func() {
		chunk := make([]byte, 32<<10)
		for {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
	}()
	done := make(chan struct{})
	go func() {
		if resp, err := tr.RoundTrip(req); err == nil {
			resp.Body.Close()
		}
		close(done)
	}()
	<-started
	// Let the upload fill the stream's window, so that the proxy stops
	// reading the client.
	waitUntil(t, func() bool { return e.p.Stats().BytesFromClients >= 64<<10 })
	cancel()
	<-done
	pr.CloseWithError(io.ErrClosedPipe)
	select {
	case <-handlerDone:
	case <-time.After(hangGuard):
		t.Fatal("the origin's handler was never released")
	}
	waitUntil(t, func() bool { return e.p.Stats().StreamsOpen == 0 })
	// Usually the stall timeout ends it; if the proxy happened to be
	// reading the client when it left, net/http noticed by itself.
	st := e.p.Stats()
	if n := st.Errors["stalled"] + st.Errors["client_gone"]; n != 1 {
		t.Fatalf("stalled + client_gone = %d, want 1", n)
	}
}

// An origin that never answers gets its request ended with 504 once
// nothing moved for the stall timeout.
func TestStallTimeoutAnswers504(t *testing.T) {
	e := newEnv(t, &Proxy{Route: RoutePath, StallTimeout: 50 * time.Millisecond})
	e.connect("home", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(e.FrontURL + "/o/home/slow")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), "no progress") {
		t.Fatalf("got %s %q, want 504", resp.Status, body)
	}
	if n := e.p.Stats().Errors["stalled"]; n != 1 {
		t.Fatalf("stalled = %d, want 1", n)
	}
}

// waitUntil polls cond, bounded by hangGuard.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
