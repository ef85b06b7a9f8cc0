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
	const size = 64 << 20
	e := newEnv(t, &Proxy{Route: RoutePath, StallTimeout: 100 * time.Millisecond})
	started := make(chan struct{})
	handlerDone := make(chan struct{})
	e.connect("home", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // never reads, never answers
		close(handlerDone)
	}))
	c := e.httpClient()
	ctx, cancel := context.WithCancel(waitCtx(t))
	defer cancel()
	pr, pw := io.Pipe()
	// Closing the pipe ends the writer below, also when the test fails
	// early.
	defer pr.CloseWithError(io.ErrClosedPipe)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.FrontURL+"/o/home/sink", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	go func() {
		chunk := make([]byte, 32<<10)
		for range size / len(chunk) {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	done := make(chan struct{})
	go func() {
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
		}
		close(done)
	}()
	await(t, "the upload to reach the origin", started)
	// Let the upload fill the stream's window, so that the proxy stops
	// reading the client.
	waitFor(t, "the upload to fill the stream's window", func() bool { return e.p.Stats().BytesFromClients >= 64<<10 })
	cancel()
	<-done // bounded: the request's context is cancelled
	pr.CloseWithError(io.ErrClosedPipe)
	await(t, "the origin's handler to be released", handlerDone)
	waitFor(t, "the proxy's streams to end", func() bool { return e.p.Stats().StreamsOpen == 0 })
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
	code, body := getString(t, e.httpClient(), e.FrontURL+"/o/home/slow")
	if code != http.StatusGatewayTimeout || !strings.Contains(body, "no progress") {
		t.Fatalf("got %d %q, want 504", code, body)
	}
	if n := e.p.Stats().Errors["stalled"]; n != 1 {
		t.Fatalf("stalled = %d, want 1", n)
	}
}
