package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
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

// The cut suite runs a client's requests through the proxy to an origin
// and breaks one of the two connections on the way with faultnet, which
// passes exactly N bytes of one direction and then cuts it: the tunnel
// (plain TCP, so that its SPDY frames can be found in a recording) or the
// client's HTTP/1.1 connection to the front end. N ranges over the frame
// boundaries of a recorded healthy exchange (the header ends, for the
// front end) and seeded random offsets, in both directions, counted at the
// sender or at the receiver, and the cut closes, half-closes, stalls or
// blackholes the connection. Each run checks that the client gets every
// response whole and byte-exact, or an error (a short HTTP/1.1 body must
// fail, never end with io.EOF), or one of the proxy's failure answers;
// that the proxy has no stream left and the origin no handler; that both
// ends of a cut tunnel give up on it by themselves, the origin connects
// again and the next request succeeds; and that no goroutine is left.
//
// The proxy and the connector notice a stalled tunnel with their pings
// and the sessions' write timeout, and a stalled client with the stall
// timeout, all set small here. An HTTP/1.1 client has no such timer: for a
// stall of its own connection it gives up (its context is cancelled) once
// the proxy has ended the request.

// The sizes of the exchange. The tunnel's windows do not grow, so that
// the bodies need several of them.
const (
	cutWindow     = 16 << 10
	cutFrame      = 4 << 10
	cutBigLen     = 3*cutWindow + 1234 // GET /big, with a Content-Length
	cutUploadLen  = 2*cutWindow + 777  // POST /echo's body
	cutTrailerLen = cutWindow + 99     // GET /trailer: chunked, then a trailer
)

var (
	cutBig     = pseudoRandom(31, cutBigLen)
	cutUpload  = pseudoRandom(32, cutUploadLen)
	cutTrailer = pseudoRandom(33, cutTrailerLen)
	cutFresh   = pseudoRandom(34, cutBigLen)
)

func cutSum(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }

// cutPoint is one fault: the bytes of one direction of one connection stop
// after n.
type cutPoint struct {
	front    bool // the client's connection (else the tunnel)
	up       bool // toward the proxy: from the origin, or from the client
	atReader bool // counted at the receiver's reads (else the sender's writes)
	action   faultnet.Action
	n        int64
}

func (p cutPoint) String() string {
	at := "writer"
	if p.atReader {
		at = "reader"
	}
	return fmt.Sprintf("%s/%d/%s-%s", p.direction(), p.n, at, p.action)
}

// direction names the connection and the direction of p.
func (p cutPoint) direction() string {
	switch {
	case p.front && p.up:
		return "front/c2p"
	case p.front:
		return "front/p2c"
	case p.up:
		return "tunnel/o2p"
	}
	return "tunnel/p2o"
}

// The four connection ends a run may cut.
const (
	cutOrigin      = iota // the connector's end of the tunnel
	cutProxyTunnel        // the proxy's end of the tunnel
	cutClient             // the client's end of its connection
	cutFront              // the front end's end of it
	cutEnds
)

// end returns which end and direction carry the cut of p.
func (p cutPoint) end() (int, faultnet.Direction) {
	sender, receiver := cutProxyTunnel, cutOrigin
	switch {
	case p.front && p.up:
		sender, receiver = cutClient, cutFront
	case p.front:
		sender, receiver = cutFront, cutClient
	case p.up:
		sender, receiver = cutOrigin, cutProxyTunnel
	}
	if p.atReader {
		return receiver, faultnet.Reads
	}
	return sender, faultnet.Writes
}

// stalls reports whether p leaves its connection open and silent.
func (p cutPoint) stalls() bool {
	return p.action == faultnet.Stall || p.action == faultnet.Blackhole
}

// cutSlot holds the first connection of one end; the later ones (the
// origin dialing again, the client's next connection) pass untouched.
type cutSlot struct {
	once  sync.Once
	conn  *faultnet.Conn
	ready chan struct{}
}

// cutRun is one run of the exchange.
type cutRun struct {
	t        *testing.T
	p        *cutPoint // nil: the healthy run, which records
	slots    [cutEnds]cutSlot
	mu       sync.Mutex
	problems []string
	active   atomic.Int64 // the origin's handlers running
	complete atomic.Int32 // responses read whole and checked
	gaveUp   atomic.Bool  // the client's context was cancelled
}

func (r *cutRun) problem(format string, args ...any) {
	r.mu.Lock()
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// take makes c the connection of end i if it is the first, recording it in
// the healthy run or arming the cut if the cut is at this end.
func (r *cutRun) take(i int, c *faultnet.Conn) {
	s := &r.slots[i]
	s.once.Do(func() {
		s.conn = c
		if r.p == nil {
			c.Record(faultnet.Writes)
		} else if e, d := r.p.end(); e == i {
			c.Cut(d, r.p.n, r.p.action)
		}
		close(s.ready)
	})
}

// conn returns the first connection of end i, or nil if there was none.
func (r *cutRun) conn(i int) *faultnet.Conn {
	select {
	case <-r.slots[i].ready:
		return r.slots[i].conn
	default:
		return nil
	}
}

// handler is the origin: GET /big, POST /echo, GET /trailer, GET /fresh.
func (r *cutRun) handler() http.Handler {
	mux := http.NewServeMux()
	write := func(w http.ResponseWriter, b []byte) error {
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
		w.Header().Set("Content-Length", strconv.Itoa(len(cutBig)))
		write(w, cutBig)
	})
	mux.HandleFunc("GET /fresh", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(cutFresh)))
		write(w, cutFresh)
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, req *http.Request) {
		got, err := io.ReadAll(req.Body)
		if err != nil {
			return // the stream is reset: nothing to answer
		}
		if !bytes.Equal(got, cutUpload) {
			r.problem("origin: the request body ended cleanly after %d of %d bytes", len(got), len(cutUpload))
		}
		fmt.Fprintf(w, "%d %s", len(got), cutSum(got))
	})
	mux.HandleFunc("GET /trailer", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		half := len(cutTrailer) / 2
		if write(w, cutTrailer[:half]) != nil {
			return
		}
		w.(http.Flusher).Flush()
		if write(w, cutTrailer[half:]) != nil {
			return
		}
		w.Header().Set("X-Sum", cutSum(cutTrailer))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.active.Add(1)
		defer r.active.Add(-1)
		mux.ServeHTTP(w, req)
	})
}

// readBody reads resp's body and checks it against want: all of it and
// io.EOF, or a prefix and an error. It returns nil only for a whole body.
func (r *cutRun) readBody(what string, resp *http.Response, want []byte) error {
	defer resp.Body.Close()
	err := faultnet.ReadExpected(resp.Body, want)
	var bad *faultnet.BodyError
	switch {
	case errors.As(err, &bad):
		r.problem("%s: %v", what, err)
	case err != nil:
		r.ended(what+": reading the body", err)
	}
	return err
}

// ended checks the error that ended a client call: a cancelled context is
// a problem unless the client gave up on a stalled connection of its own.
func (r *cutRun) ended(what string, err error) {
	if errors.Is(err, context.Canceled) && !r.gaveUp.Load() {
		r.problem("%s: %v, but the client never gave up", what, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		r.problem("%s ended only by the test's hang guard (%v): the broken connection went unnoticed", what, err)
	}
}

// do sends req with c and checks the response against want: a whole body,
// an error, or one of the proxy's failure answers. It reports a whole
// body.
func (r *cutRun) do(c *http.Client, what string, req *http.Request, want []byte, check func(*http.Response) error) bool {
	resp, err := c.Do(req)
	if err != nil {
		r.ended(what, err)
		return false
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		return false
	default:
		resp.Body.Close()
		r.problem("%s: status %s", what, resp.Status)
		return false
	}
	if err := r.readBody(what, resp, want); err != nil {
		return false
	}
	if check != nil && check(resp) != nil {
		return false
	}
	r.complete.Add(1)
	return true
}

// exchange sends the three requests one after the other, on one
// connection while it lasts.
func (r *cutRun) exchange(ctx context.Context, c *http.Client, base string) {
	req := func(method, path string, body []byte) *http.Request {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
		if err != nil {
			panic(err)
		}
		return req
	}
	r.do(c, "GET /big", req("GET", "/big", nil), cutBig, func(resp *http.Response) error {
		if resp.ContentLength != int64(len(cutBig)) {
			r.problem("GET /big: Content-Length %d, want %d", resp.ContentLength, len(cutBig))
			return errors.New("no Content-Length")
		}
		return nil
	})
	r.do(c, "POST /echo", req("POST", "/echo", cutUpload), fmt.Appendf(nil, "%d %s", len(cutUpload), cutSum(cutUpload)), nil)
	r.do(c, "GET /trailer", req("GET", "/trailer", nil), cutTrailer, func(resp *http.Response) error {
		if got := resp.Trailer.Get("X-Sum"); got != cutSum(cutTrailer) {
			r.problem("GET /trailer: the body ended cleanly but trailer X-Sum is %q, want %q", got, cutSum(cutTrailer))
			return errors.New("no trailer")
		}
		return nil
	})
}

// cutWaitFor is waitFor with the goroutines' stacks in the failure, to show
// what hangs.
func cutWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			var b strings.Builder
			pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("still waiting for %s after %v\n%s", what, hangGuard, b.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// cutExchange is what the healthy run sent on each connection.
type cutExchange struct {
	o2p, p2o []byte // the tunnel: from the origin, and to it
	c2p, p2c []byte // the client's connection
}

// tunnelFrom returns the address the proxy sees the tunnel of conn (an
// origin end) come from.
func tunnelFrom(conn *faultnet.Conn) string {
	if conn == nil {
		return ""
	}
	return conn.LocalAddr().String()
}

// runCut runs the exchange with the cut p, or with none (recording) when p
// is nil, and reports whether the cut point was reached before the
// exchange ended.
func runCut(t *testing.T, p *cutPoint) (ex *cutExchange, hit bool) {
	r := &cutRun{t: t, p: p}
	for i := range r.slots {
		r.slots[i].ready = make(chan struct{})
	}
	t.Cleanup(func() {
		for i := range r.slots {
			if c := r.conn(i); c != nil {
				c.Release()
			}
		}
	})
	tight := p != nil
	var pingInterval, pingTimeout, stall, writeTimeout time.Duration = -1, 0, -1, 0
	if tight {
		pingInterval, pingTimeout, stall, writeTimeout = 20*time.Millisecond, 250*time.Millisecond, 300*time.Millisecond, 250*time.Millisecond
	}
	sessionConfig := func() *session.Config {
		return &session.Config{InitialWindowSize: cutWindow, MaxWindowSize: cutWindow, MaxFrameSize: cutFrame, WriteTimeout: writeTimeout}
	}
	e := newEnv(t, &Proxy{
		Route: RoutePath, AllowPlainTunnels: true, Session: sessionConfig(),
		PingInterval: pingInterval, PingTimeout: pingTimeout, StallTimeout: stall,
	})

	// The tunnel endpoint over plain TCP, and a front end, each on a
	// listener that wraps its connections.
	rawTunnel, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tunnelSrv := e.p.NewTunnelServer(nil)
	go tunnelSrv.Serve(&faultnet.Listener{Listener: rawTunnel, OnAccept: func(c *faultnet.Conn) { r.take(cutProxyTunnel, c) }})
	t.Cleanup(func() { tunnelSrv.Close() })
	rawFront, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	frontSrv := &http.Server{Handler: e.handler()}
	go frontSrv.Serve(&faultnet.Listener{Listener: rawFront, OnAccept: func(c *faultnet.Conn) { r.take(cutFront, c) }})
	t.Cleanup(func() { frontSrv.Close() })

	originDialer := &faultnet.Dialer{OnDial: func(c *faultnet.Conn) { r.take(cutOrigin, c) }}
	e.connectWith("home", r.handler(), func(c *Connector) {
		c.ProxyURL = "http://" + rawTunnel.Addr().String()
		c.DialContext = originDialer.DialContext
		c.PingInterval, c.PingTimeout = pingInterval, pingTimeout
		c.Session = sessionConfig()
	})

	clientDialer := &faultnet.Dialer{OnDial: func(c *faultnet.Conn) { r.take(cutClient, c) }}
	tr := &http.Transport{DialContext: clientDialer.DialContext, MaxConnsPerHost: 1, DisableCompression: true, Proxy: nil}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	ctx, giveUp := context.WithCancel(waitCtx(t))
	defer giveUp()
	base := "http://" + rawFront.Addr().String() + "/o/home"
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.exchange(ctx, client, base)
	}()

	if p == nil {
		await(t, "the healthy exchange", done)
		if n := r.complete.Load(); n != 3 {
			t.Fatalf("%d of 3 responses whole in the healthy exchange", n)
		}
		ex = &cutExchange{
			o2p: r.conn(cutOrigin).Recorded(faultnet.Writes), p2o: r.conn(cutProxyTunnel).Recorded(faultnet.Writes),
			c2p: r.conn(cutClient).Recorded(faultnet.Writes), p2c: r.conn(cutFront).Recorded(faultnet.Writes),
		}
	} else {
		i, d := p.end()
		await(t, "the connection that the cut is at", r.slots[i].ready)
		conn := r.conn(i)
		select {
		case <-conn.Hit(d):
			hit = true
		case <-done:
			// The exchange ended before the cut point: cut the idle
			// connection now.
			conn.Cut(d, conn.Count(d), p.action)
		case <-time.After(hangGuard):
			t.Fatalf("neither the cut point nor the end of the exchange came in %v", hangGuard)
		}
		if p.front && p.stalls() {
			// An HTTP/1.1 client cannot tell a stalled connection from a
			// slow one: it gives up once the proxy has ended the request.
			waitFor(t, "the proxy to end the request on the stalled client connection", func() bool {
				select {
				case <-done:
					return true
				default:
				}
				return e.p.Stats().StreamsOpen == 0
			})
			r.gaveUp.Store(true)
			giveUp()
		}
		await(t, "the return of every client call", done)
	}
	waitFor(t, "the proxy's streams to end", func() bool { return e.p.Stats().StreamsOpen == 0 })
	// A handler left running while the proxy has no stream is blocked on
	// a stream of the tunnel that nothing reads or resets any more.
	cutWaitFor(t, "the origin's handlers to return", func() bool { return r.active.Load() == 0 })
	var old string
	if p != nil && !p.front {
		// Both ends of the cut tunnel give up on it by themselves, and
		// the origin connects again.
		origin, proxyEnd := r.conn(cutOrigin), r.conn(cutProxyTunnel)
		await(t, "the origin to close the cut tunnel", origin.Closed())
		if proxyEnd != nil {
			await(t, "the proxy to close the cut tunnel", proxyEnd.Closed())
		}
		old = tunnelFrom(origin)
	}
	waitFor(t, "the origin's tunnel", func() bool {
		for _, tu := range e.p.Stats().Tunnels {
			if tu.Origin == "home" && tu.Remote != old {
				return true
			}
		}
		return false
	})

	// The next request succeeds, on a connection of its own. On a loaded
	// machine the small timers may end a healthy tunnel or request (a
	// ping answered late), so it is tried again then; a proxy or an
	// origin that the cut broke fails every attempt.
	fresh := e.httpClient()
	ok := false
	for attempt := 1; attempt <= 3 && !ok; attempt++ {
		waitFor(t, "a tunnel for the next request", func() bool { return e.p.Connected("home") })
		ok = r.do(fresh, "GET /fresh", newRequest(t, "GET", base+"/fresh", nil), cutFresh, nil)
		if !ok {
			t.Logf("GET /fresh after the cut failed, attempt %d", attempt)
		}
	}
	if !ok {
		t.Error("GET /fresh after the cut failed on every attempt")
	}
	waitFor(t, "the proxy's streams to end", func() bool { return e.p.Stats().StreamsOpen == 0 })
	for _, pr := range r.problems {
		t.Error(pr)
	}
	return ex, hit
}

// cutSeed seeds the random cut offsets; runs are reproducible.
const cutSeed = 20240611

// cutActions are the ways to cut, taken in turn. A stall or a blackhole
// of the tunnel costs a second (the end that closes it gracefully waits up
// to the session's close timer for its peer's end, which never comes), so
// they are a third of the turns.
var cutActions = []faultnet.Action{faultnet.Close, faultnet.HalfClose, faultnet.Stall, faultnet.Close, faultnet.HalfClose, faultnet.Blackhole}

// headerEnds returns the offsets in b just past each blank line that ends
// an HTTP/1.1 header block.
func headerEnds(b []byte) []int64 {
	var out []int64
	for off := 0; ; {
		i := bytes.Index(b[off:], []byte("\r\n\r\n"))
		if i < 0 {
			return out
		}
		off += i + 4
		out = append(out, int64(off))
	}
}

// cutPoints returns the cut points of a recorded exchange. On the tunnel:
// every frame boundary after the upgrade handshake, and random offsets,
// the handshake included; on the client's connection: the ends of the
// header blocks and random offsets. Each point gets one of the ways to cut
// (reader or writer, and an action of cutActions) in turn. A stall inside the
// tunnel's handshake would hold the origin for the connector's 30 s
// handshake timeout, so points there are closed or half-closed instead.
// testing.Short thins the points.
func cutPoints(t *testing.T, ex *cutExchange) []cutPoint {
	nRandom, nBoundaries := 6, 20
	if testing.Short() {
		nRandom, nBoundaries = 2, 5
	}
	var out []cutPoint
	for i, c := range []struct {
		front, up bool
		rec       []byte
	}{{false, true, ex.o2p}, {false, false, ex.p2o}, {true, true, ex.c2p}, {true, false, ex.p2c}} {
		var points []int64
		handshake := int64(0)
		if c.front {
			points = headerEnds(c.rec)
		} else {
			ends := headerEnds(c.rec)
			if len(ends) == 0 {
				t.Fatalf("the tunnel's recording has no upgrade handshake")
			}
			handshake = ends[0]
			points = faultnet.FrameBoundaries(c.rec, int(handshake))
		}
		t.Logf("%s: %d bytes, %d points (handshake %d bytes)", cutPoint{front: c.front, up: c.up}.direction(), len(c.rec), len(points), handshake)
		points = faultnet.Thin(points, nBoundaries)
		points = append(points, faultnet.Offsets(cutSeed+uint64(i), nRandom, int64(len(c.rec))+256)...)
		for j, n := range points {
			k := j + i
			p := cutPoint{front: c.front, up: c.up, n: n, atReader: k%2 == 1, action: cutActions[(k/2)%len(cutActions)]}
			switch {
			case n >= handshake:
			case p.action == faultnet.Stall:
				p.action = faultnet.Close
			case p.action == faultnet.Blackhole:
				p.action = faultnet.HalfClose
			}
			out = append(out, p)
		}
	}
	return out
}

func TestCutConnections(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	var ex *cutExchange
	t.Run("healthy", func(t *testing.T) {
		t.Run("exchange", func(t *testing.T) { ex, _ = runCut(t, nil) })
		goleak.VerifyNone(t, ignore)
	})
	if t.Failed() || ex == nil {
		t.Fatal("the healthy exchange failed; no cut points")
	}
	points := cutPoints(t, ex)
	failures, hits := 0, 0
	for _, p := range points {
		ok := t.Run(p.String(), func(t *testing.T) {
			// The inner test's cleanup closes the proxy, the origin and
			// the clients before the leak check.
			t.Run("exchange", func(t *testing.T) {
				if _, hit := runCut(t, &p); hit {
					hits++
				}
			})
			goleak.VerifyNone(t, ignore)
		})
		if !ok {
			if failures++; failures == 5 {
				t.Fatal("stopping after 5 failed cut points")
			}
		}
	}
	t.Logf("%d cut points (seed %d); %d reached their point during the exchange, the others cut the idle connection after it", len(points), cutSeed, hits)
}

// The checks of the suite bite: a body that ends early with a clean EOF,
// a corrupt one and a call ended by a context the client did not cancel
// are reported.
func TestCutChecksBite(t *testing.T) {
	r := &cutRun{t: t}
	want := cutBig[:100]
	short := &http.Response{Body: io.NopCloser(bytes.NewReader(want[:60]))}
	if err := r.readBody("short", short, want); err == nil {
		t.Error("readBody accepted a short body")
	}
	bad := bytes.Clone(want)
	bad[70] ^= 1
	if err := r.readBody("corrupt", &http.Response{Body: io.NopCloser(bytes.NewReader(bad))}, want); err == nil {
		t.Error("readBody accepted a corrupt body")
	}
	if err := r.readBody("whole", &http.Response{Body: io.NopCloser(bytes.NewReader(want))}, want); err != nil {
		t.Errorf("readBody refused the whole body: %v", err)
	}
	r.ended("call", fmt.Errorf("wrapped: %w", context.Canceled))
	r.ended("call", net.ErrClosed)
	r.gaveUp.Store(true)
	r.ended("call", context.Canceled)
	if len(r.problems) != 3 {
		t.Errorf("problems %q, want the short body, the corrupt body and the call ended by a context nobody cancelled", r.problems)
	}
}

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
		{"ShortPOST", "POST /o/home/wait HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + string(cutUpload[:500])},
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
