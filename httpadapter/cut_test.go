package httpadapter

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spdygo/spdy/internal/faultnet"
	"github.com/spdygo/spdy/session"
)

// The cut suite runs HTTP exchanges between a Transport and a Server over
// loopback TCP through faultnet, which passes exactly N bytes of one
// direction and then breaks it. N ranges over every frame boundary of a
// recorded healthy exchange and over seeded random offsets, in both
// directions, counted at the sender (its writes) or at the receiver (its
// reads), and the break is a close, a half-close, a stall or a blackhole
// (the link dies both ways and nobody is told). Each run checks that every
// call returns (RoundTrip, the response bodies' Reads, the handlers and
// their reads and writes, both sessions), that a response body is either
// complete and byte-exact or ends with an error, never with a clean io.EOF
// before its end, that a request body reaches its handler whole or with an
// error, that the next connection works, and that no goroutine is left.
//
// Stalls are detected by the sessions' own timers, set small here:
// keepalive pings (KeepAlive, KeepAliveTimeout) and WriteTimeout. The
// requests' contexts are a last resort; a call ended by one means that a
// stall went unnoticed, and fails the run.

// cutWatchdog bounds every wait of the suite; it detects hangs and is not
// a measure of speed.
const cutWatchdog = 15 * time.Second

// cutGuard is the timeout of every request's context: far above what the
// sessions' timers take to notice a broken connection.
const cutGuard = 10 * time.Second

// The sizes of the exchange. The windows do not grow, so that the bodies
// need several of them.
const (
	cutWindow     = 16 << 10
	cutFrame      = 4 << 10
	cutBigLen     = 3*cutWindow + 1234 // GET /big, with a Content-Length
	cutUploadLen  = 2*cutWindow + 777  // POST /echo's body
	cutTrailerLen = cutWindow + 99     // GET /trailer, then a trailer
)

// The pattern keys of the bodies.
const (
	cutKeyBig = iota + 1
	cutKeyUpload
	cutKeyTrailer
	cutKeyFresh
)

// cutPattern returns n bytes of the deterministic pattern key.
func cutPattern(key byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*131+i>>9) ^ key*37
	}
	return b
}

func cutSum(b []byte) string {
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// cutConfig is the session configuration of both sides. With tight set,
// the keepalive and write timers are small, to notice a stall quickly; a
// healthy exchange that records the cut points needs no such timers, and
// does without them so that a loaded machine cannot trip them.
func cutConfig(v session.Version, tight bool) *session.Config {
	c := &session.Config{
		Version:           v,
		InitialWindowSize: cutWindow,
		MaxWindowSize:     cutWindow,
		MaxFrameSize:      cutFrame,
		KeepAlive:         -1,
	}
	if tight {
		c.KeepAlive, c.KeepAliveTimeout, c.WriteTimeout = 20*time.Millisecond, 250*time.Millisecond, 250*time.Millisecond
	}
	return c
}

// cutPoint is one fault: the bytes of one direction stop after n.
type cutPoint struct {
	c2s      bool // what the client sends (else what the server sends)
	atReader bool // counted at the receiver's reads (else the sender's writes)
	action   faultnet.Action
	n        int64
}

func (p cutPoint) String() string {
	dir, at := "s2c", "writer"
	if p.c2s {
		dir = "c2s"
	}
	if p.atReader {
		at = "reader"
	}
	return fmt.Sprintf("%s/%d/%s-%s", dir, p.n, at, p.action)
}

// arm returns the conn and direction that carry the cut of p: the
// client's or the server's side, its writes or its reads.
func (p cutPoint) arm(client, server *faultnet.Conn) (*faultnet.Conn, faultnet.Direction) {
	switch {
	case p.c2s && !p.atReader:
		return client, faultnet.Writes
	case p.c2s:
		return server, faultnet.Reads
	case !p.atReader:
		return server, faultnet.Writes
	}
	return client, faultnet.Reads
}

// cutRun is one run: its problems and the calls it waits for.
type cutRun struct {
	t        *testing.T
	mu       sync.Mutex
	problems []string
	calls    sync.WaitGroup // client calls
	complete atomic.Int32   // responses read whole and checked
}

func (r *cutRun) problem(format string, args ...any) {
	r.mu.Lock()
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// lastResort reports a call ended by its request's context: the sessions
// did not notice the broken connection by themselves.
func (r *cutRun) lastResort(what string, err error) {
	if errors.Is(err, context.DeadlineExceeded) {
		r.problem("%s ended only by its request's context (%v): the broken connection went unnoticed", what, err)
	}
}

// handler serves the exchange's three requests and /fresh.
func (r *cutRun) handler() http.Handler {
	mux := http.NewServeMux()
	body := func(w http.ResponseWriter, b []byte) error {
		for len(b) > 0 {
			n := min(len(b), 5000) // not a divisor of the frame size
			if _, err := w.Write(b[:n]); err != nil {
				return err
			}
			b = b[n:]
		}
		return nil
	}
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(cutBigLen))
		body(w, cutPattern(cutKeyBig, cutBigLen))
	})
	mux.HandleFunc("GET /fresh", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(cutBigLen))
		body(w, cutPattern(cutKeyFresh, cutBigLen))
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, req *http.Request) {
		got, err := io.ReadAll(req.Body)
		if err != nil {
			return // the stream is reset: nothing to answer
		}
		if want := cutPattern(cutKeyUpload, cutUploadLen); !bytes.Equal(got, want) {
			r.problem("handler: the request body ended cleanly after %d of %d bytes (equal: %v)", len(got), len(want), bytes.Equal(got, want[:min(len(got), len(want))]))
		}
		fmt.Fprintf(w, "%d %s", len(got), cutSum(got))
	})
	mux.HandleFunc("GET /trailer", func(w http.ResponseWriter, _ *http.Request) {
		b := cutPattern(cutKeyTrailer, cutTrailerLen)
		w.Header().Set("Trailer", "X-Sum")
		if err := body(w, b[:cutTrailerLen/2]); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		if err := body(w, b[cutTrailerLen/2:]); err != nil {
			return
		}
		w.Header().Set("X-Sum", cutSum(b))
	})
	return mux
}

// readBody reads resp's body and checks it against want: the whole of it
// followed by io.EOF, or a prefix of it followed by an error. It returns
// nil only for a complete body.
func (r *cutRun) readBody(what string, resp *http.Response, want []byte) error {
	defer resp.Body.Close()
	err := faultnet.ReadExpected(resp.Body, want)
	var bad *faultnet.BodyError
	switch {
	case errors.As(err, &bad):
		r.problem("%s: %v", what, err)
	case err != nil:
		r.lastResort(what+": Body.Read", err)
	}
	return err
}

// request sends req and checks its response in a goroutine of its own,
// counted in r.calls.
func (r *cutRun) request(rt http.RoundTripper, what string, req *http.Request, check func(*http.Response) error) {
	r.calls.Add(1)
	go func() {
		defer r.calls.Done()
		resp, err := rt.RoundTrip(req)
		if err != nil {
			r.lastResort(what+": RoundTrip", err)
			return
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			r.problem("%s: status %s", what, resp.Status)
			return
		}
		if check(resp) == nil {
			r.complete.Add(1)
		}
	}()
}

// start sends the exchange's three requests at once.
func (r *cutRun) start(ctx context.Context, rt http.RoundTripper, base string) {
	newReq := func(method, path string, body []byte) *http.Request {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
		if err != nil {
			r.t.Fatal(err)
		}
		return req
	}
	r.request(rt, "GET /big", newReq("GET", "/big", nil), func(resp *http.Response) error {
		if resp.ContentLength != cutBigLen {
			r.problem("GET /big: Content-Length %d, want %d", resp.ContentLength, cutBigLen)
		}
		return r.readBody("GET /big", resp, cutPattern(cutKeyBig, cutBigLen))
	})
	upload := cutPattern(cutKeyUpload, cutUploadLen)
	r.request(rt, "POST /echo", newReq("POST", "/echo", upload), func(resp *http.Response) error {
		return r.readBody("POST /echo", resp, fmt.Appendf(nil, "%d %s", len(upload), cutSum(upload)))
	})
	r.request(rt, "GET /trailer", newReq("GET", "/trailer", nil), func(resp *http.Response) error {
		b := cutPattern(cutKeyTrailer, cutTrailerLen)
		if err := r.readBody("GET /trailer", resp, b); err != nil {
			return err
		}
		if got := resp.Trailer.Get("X-Sum"); got != cutSum(b) {
			r.problem("GET /trailer: the body ended cleanly but trailer X-Sum is %q, want %q", got, cutSum(b))
			return errors.New("no trailer")
		}
		return nil
	})
}

// cutWait waits for ch to close; it fails the test after the watchdog.
func cutWait(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(cutWatchdog):
		var b strings.Builder
		pprof.Lookup("goroutine").WriteTo(&b, 2)
		t.Fatalf("watchdog: %s did not happen in %v\n%s", what, cutWatchdog, b.String())
	}
}

func waitGroupDone(wg *sync.WaitGroup) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		wg.Wait()
		close(ch)
	}()
	return ch
}

// cutExchange is what a healthy run sent in each direction.
type cutExchange struct {
	c2s, s2c []byte
}

// runCut runs the exchange with the cut p, or with none (recording the
// exchange) when p is nil. It reports whether the cut point was reached
// while requests were in flight.
func runCut(t *testing.T, v session.Version, p *cutPoint) (ex *cutExchange, hit bool) {
	r := &cutRun{t: t}
	var mu sync.Mutex
	var client, server *faultnet.Conn // the first connection's two ends
	clientReady, serverReady := make(chan struct{}), make(chan struct{})
	raw := listenLoopback(t)
	ln := &faultnet.Listener{Listener: raw, OnAccept: func(c *faultnet.Conn) {
		mu.Lock()
		defer mu.Unlock()
		if server != nil {
			return
		}
		server = c
		if p == nil {
			c.Record(faultnet.Writes)
		} else if conn, d := p.arm(client, server); conn == server {
			conn.Cut(d, p.n, p.action)
		}
		close(serverReady)
	}}
	srv := &Server{Handler: r.handler(), Session: cutConfig(v, p != nil)}
	firstServed := make(chan struct{})
	var serving sync.WaitGroup
	serving.Add(1)
	go func() {
		defer serving.Done()
		first := true
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			serving.Add(1)
			go func(first bool) {
				defer serving.Done()
				srv.ServeConn(c, nil)
				if first {
					close(firstServed)
				}
			}(first)
			first = false
		}
	}()
	dialer := &faultnet.Dialer{OnDial: func(c *faultnet.Conn) {
		mu.Lock()
		defer mu.Unlock()
		if client != nil {
			return
		}
		client = c
		if p == nil {
			c.Record(faultnet.Writes)
		} else if conn, d := p.arm(client, nil); conn == client {
			conn.Cut(d, p.n, p.action)
		}
		close(clientReady)
	}}
	tr := &Transport{Version: v, Session: cutConfig(v, p != nil), DialContext: dialer.DialContext, DisableCompression: true}
	defer func() {
		tr.CloseIdleConnections()
		srv.Close()
		ln.Close()
		cutWait(t, "the server's sessions to end", waitGroupDone(&serving))
		tr.closeAll()
		mu.Lock()
		for _, c := range []*faultnet.Conn{client, server} {
			if c != nil {
				c.Release()
			}
		}
		mu.Unlock()
	}()

	ctx, cancel := context.WithTimeout(context.Background(), cutGuard)
	defer cancel()
	base := "http://" + raw.Addr().String()
	r.start(ctx, tr, base)
	calls := waitGroupDone(&r.calls)
	if p == nil {
		cutWait(t, "the healthy exchange", calls)
		if n := r.complete.Load(); n != 3 {
			t.Errorf("%d of 3 responses complete in the healthy exchange", n)
		}
		mu.Lock()
		ex = &cutExchange{c2s: client.Recorded(faultnet.Writes), s2c: server.Recorded(faultnet.Writes)}
		mu.Unlock()
	} else {
		// The client dials at once.
		cutWait(t, "the client's connection", clientReady)
		cutWait(t, "the server's connection", serverReady)
		mu.Lock()
		conn, d := p.arm(client, server)
		mu.Unlock()
		select {
		case <-conn.Hit(d):
			hit = true
		case <-calls:
			// Everything completed before the cut point: cut the idle
			// connection now.
			conn.Cut(d, conn.Count(d), p.action)
		case <-time.After(cutWatchdog):
			t.Fatalf("watchdog: neither the cut point %v nor the end of the exchange came", p)
		}
		cutWait(t, "the return of every client call", calls)
		// Both sessions end by themselves: each side closes its
		// connection.
		cutWait(t, "the client's session to close its connection", client.Closed())
		cutWait(t, "the server's session to close its connection", server.Closed())
		cutWait(t, "the first connection's ServeConn to return", firstServed)
	}

	// A fresh connection works. On a loaded machine the small timers may
	// end a healthy session (a ping answered late), so a fresh request is
	// tried again on another connection then; a Server or a Transport
	// that the cut broke fails every attempt.
	var freshErr error
	for attempt := 1; attempt <= 3; attempt++ {
		req, err := http.NewRequestWithContext(ctx, "GET", base+"/fresh", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := tr.RoundTrip(req)
		if err == nil {
			err = r.readBody("GET /fresh", resp, cutPattern(cutKeyFresh, cutBigLen))
		}
		if freshErr = err; err == nil {
			break
		}
		t.Logf("GET /fresh after the cut, attempt %d: %v", attempt, err)
	}
	if freshErr != nil {
		t.Errorf("GET /fresh after the cut failed on every attempt: %v", freshErr)
	}
	// Shutdown returns once every handler has: those of the broken
	// connection too.
	sctx, scancel := context.WithTimeout(context.Background(), cutWatchdog)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		t.Errorf("Shutdown: %v (a handler did not return)", err)
	}
	for _, pr := range r.problems {
		t.Error(pr)
	}
	return ex, hit
}

// cutSeed seeds the random cut offsets; runs are reproducible.
const cutSeed = 20240607

// cutActions are the ways to break a connection, taken in turn.
var cutActions = []faultnet.Action{faultnet.Close, faultnet.HalfClose, faultnet.Stall, faultnet.Blackhole}

// cutPoints returns the cut points of a recorded exchange: every frame
// boundary and some random offsets in each direction, each with one of the
// eight ways to cut (reader or writer, four actions) in turn, so that
// neighbouring boundaries are cut in different ways. testing.Short thins
// the boundaries.
func cutPoints(t *testing.T, ex *cutExchange) []cutPoint {
	nRandom, nBoundaries := 10, 1<<20
	if testing.Short() {
		nRandom, nBoundaries = 3, 10
	}
	var out []cutPoint
	for i, c2s := range []bool{true, false} {
		rec := ex.s2c
		if c2s {
			rec = ex.c2s
		}
		points := faultnet.FrameBoundaries(rec, 0)
		t.Logf("c2s=%v: %d bytes, %d frame boundaries", c2s, len(rec), len(points))
		points = faultnet.Thin(points, nBoundaries)
		points = append(points, faultnet.Offsets(cutSeed+uint64(i), nRandom, int64(len(rec))+512)...)
		for j, n := range points {
			k := j + i // the other direction starts on another way
			out = append(out, cutPoint{c2s: c2s, n: n, atReader: k%2 == 1, action: cutActions[(k/2)%len(cutActions)]})
		}
	}
	return out
}

func TestCutConnection(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	for _, v := range []session.Version{session.V31, session.V2} {
		t.Run(v.String(), func(t *testing.T) {
			var ex *cutExchange
			t.Run("healthy", func(t *testing.T) {
				ex, _ = runCut(t, v, nil)
				goleak.VerifyNone(t, ignore)
			})
			if t.Failed() || ex == nil {
				t.Fatal("the healthy exchange failed; no cut points")
			}
			points := cutPoints(t, ex)
			if v == session.V2 {
				// SPDY/2 differs in its header blocks and has no flow
				// control: a thinner set of points.
				points = cutEvery(points, 3)
			}
			failures, hits := 0, 0
			for _, p := range points {
				ok := t.Run(p.String(), func(t *testing.T) {
					if _, hit := runCut(t, v, &p); hit {
						hits++
					}
					goleak.VerifyNone(t, ignore)
				})
				if !ok {
					if failures++; failures == 5 {
						t.Fatal("stopping after 5 failed cut points")
					}
				}
			}
			t.Logf("%d cut points (seed %d); %d reached their point during the exchange, the others cut the idle connection after it", len(points), cutSeed, hits)
		})
	}
}

// cutEvery keeps every k-th point.
func cutEvery(points []cutPoint, k int) []cutPoint {
	var out []cutPoint
	for i, p := range points {
		if i%k == 0 {
			out = append(out, p)
		}
	}
	return out
}

// The checks of the suite bite: a body that ends early with a clean EOF is
// reported, and so is a call ended by its context.
func TestCutChecksBite(t *testing.T) {
	r := &cutRun{t: t}
	want := cutPattern(cutKeyBig, 100)
	resp := &http.Response{Body: io.NopCloser(bytes.NewReader(want[:60]))}
	if err := r.readBody("short", resp, want); err == nil {
		t.Error("readBody accepted a short body")
	}
	bad := bytes.Clone(want)
	bad[70] ^= 1
	resp = &http.Response{Body: io.NopCloser(bytes.NewReader(bad))}
	if err := r.readBody("corrupt", resp, want); err == nil {
		t.Error("readBody accepted a corrupt body")
	}
	resp = &http.Response{Body: io.NopCloser(bytes.NewReader(want))}
	if err := r.readBody("whole", resp, want); err != nil {
		t.Errorf("readBody refused the whole body: %v", err)
	}
	r.lastResort("call", fmt.Errorf("wrapped: %w", context.DeadlineExceeded))
	r.lastResort("call", net.ErrClosed)
	if len(r.problems) != 3 {
		t.Errorf("problems %q, want the short body, the corrupt body and the call ended by its context", r.problems)
	}
}
