package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/spdygo/spdy/npn"
)

// The large responses of these tests are a block of pseudo-random bytes
// repeated, so that any byte of them can be checked without holding them.
const (
	blockSize = 1 << 20
	bigReps   = 64 // a 64 MiB response: far more than the windows hold
)

// patternHandler serves /who (name), /big (block repeated bigReps times, or
// ?reps=N times, with a Content-Length unless ?chunked is set) and /small.
func patternHandler(name string, block []byte) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/who", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "small from "+name) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		reps := bigReps
		if n, err := strconv.Atoi(r.URL.Query().Get("reps")); err == nil && n >= 0 && n <= bigReps {
			reps = n
		}
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(len(block)*reps))
		}
		for range reps {
			if _, err := w.Write(block); err != nil {
				return
			}
		}
	})
	return mux
}

// errCorrupt is the error of readPattern for a byte that is not the
// origin's.
var errCorrupt = errors.New("corrupt body")

// readPattern reads r, checking every byte against block repeated (r being
// at offset start of it), until the end, an error, or at least limit bytes
// (limit > 0). It returns the bytes read and the read error (nil at the end
// or at the limit).
func readPattern(r io.Reader, block []byte, start, limit int64) (int64, error) {
	buf := make([]byte, 64<<10)
	off := start
	for {
		n, err := r.Read(buf)
		for i := 0; i < n; {
			bo := int(off % int64(len(block)))
			m := min(n-i, len(block)-bo)
			if !bytes.Equal(buf[i:i+m], block[bo:bo+m]) {
				return off - start, fmt.Errorf("%w: the bytes at %d differ from the origin's", errCorrupt, off)
			}
			i += m
			off += int64(m)
		}
		if err == io.EOF {
			return off - start, nil
		}
		if err != nil {
			return off - start, err
		}
		if limit > 0 && off-start >= limit {
			return off - start, nil
		}
	}
}

// tunnelsAccepted returns how many tunnel handshakes e's proxy completed.
func (e *env) tunnelsAccepted() uint64 { return e.p.Stats().TunnelsAccepted }

// waitNewTunnel waits until name has a tunnel accepted after the first
// before ones, then checks it with WaitConnected.
func (e *env) waitNewTunnel(name string, before uint64) {
	e.t.Helper()
	waitFor(e.t, "a new tunnel of "+name, func() bool { return e.tunnelsAccepted() > before && e.p.Connected(name) })
	if err := e.p.WaitConnected(waitCtx(e.t), name, false); err != nil {
		e.t.Fatal(err)
	}
}

// connRecorder is a Connector's DialContext that keeps the connections it
// dialed.
type connRecorder struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (r *connRecorder) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err == nil {
		r.mu.Lock()
		r.conns = append(r.conns, c)
		r.mu.Unlock()
	}
	return c, err
}

func (r *connRecorder) last() net.Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns[len(r.conns)-1]
}

// TestFaultOriginKilledMidBody kills the origin's tunnel in the middle of a
// large response, in several ways: the client must see an error, never a
// body that merely ends early, and the next request after the reconnect
// succeeds.
func TestFaultOriginKilledMidBody(t *testing.T) {
	block := pseudoRandom(10, blockSize)
	total := int64(blockSize * bigReps)
	disconnect := func(e *env, _ *origin, _ *connRecorder) { e.p.Disconnect("home") }
	for _, tc := range []struct {
		name string
		// path is the request's, below the origin.
		path string
		// h2 fetches through the TLS front end with HTTP/2.
		h2 bool
		// kill ends the tunnel, starting a new origin when the old one
		// cannot come back.
		kill func(e *env, o *origin, rec *connRecorder)
		// wantUnexpectedEOF: HTTP/1.1 with a Content-Length.
		wantUnexpectedEOF bool
	}{
		{
			name: "DisconnectContentLength", path: "big", wantUnexpectedEOF: true,
			kill: disconnect,
		},
		{
			name: "DisconnectChunked", path: "big?chunked=1",
			kill: disconnect,
		},
		{
			name: "DisconnectHTTP2", path: "big", h2: true,
			kill: disconnect,
		},
		{
			// The origin's network connection drops (the origin host
			// vanished); the connector dials again.
			name: "OriginConnDropped", path: "big", wantUnexpectedEOF: true,
			kill: func(_ *env, _ *origin, rec *connRecorder) { rec.last().Close() },
		},
		{
			// The origin process stops; a new one starts.
			name: "ConnectorStopped", path: "big?chunked=1",
			kill: func(e *env, o *origin, _ *connRecorder) {
				if err := o.stop(); !errors.Is(err, context.Canceled) {
					e.t.Errorf("Run after its context was cancelled: %v", err)
				}
				e.startOrigin("home", token("home"), patternHandler("home", block))
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, &Proxy{Route: RoutePath})
			rec := &connRecorder{}
			o := e.connectWith("home", patternHandler("home", block), func(c *Connector) { c.DialContext = rec.dial })
			base, c := e.FrontURL+"/o/home/", e.httpClient()
			if tc.h2 {
				base, c = e.startTLSFront()+"/o/home/", e.h2Client()
			}
			resp, err := c.Do(newRequest(t, "GET", base+tc.path, nil))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("got %s", resp.Status)
			}
			n, err := readPattern(resp.Body, block, 0, 256<<10)
			if err != nil {
				t.Fatalf("before the kill, after %d bytes: %v", n, err)
			}
			before := e.tunnelsAccepted()
			tc.kill(e, o, rec)
			m, err := readPattern(resp.Body, block, n, 0)
			got := n + m
			if err == nil {
				t.Fatalf("the body ended cleanly after %d of %d bytes: a silent short body", got, total)
			}
			if tc.wantUnexpectedEOF && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("after %d bytes: %v, want io.ErrUnexpectedEOF", got, err)
			}
			if got >= total || errors.Is(err, errCorrupt) {
				t.Fatalf("after %d of %d bytes: %v", got, total, err)
			}
			t.Logf("the body failed after %d of %d bytes: %v", got, total, err)
			// The proxy counts it as a failure of the tunnel, not of the
			// client.
			waitFor(t, "the proxy's stream to end", func() bool { return e.p.Stats().StreamsOpen == 0 })
			if errs := e.p.Stats().Errors; errs["response_aborted"] != 1 || errs["client_gone"] != 0 {
				t.Errorf("errors %v, want response_aborted 1 and client_gone 0", errs)
			}

			e.waitNewTunnel("home", before)
			if code, body := getString(t, c, base+"small"); code != 200 || body != "small from home" {
				t.Fatalf("after the reconnect: %d %q", code, body)
			}
			if code, body := getString(t, c, base+"who"); code != 200 || body != "home" {
				t.Fatalf("after the reconnect: %d %q", code, body)
			}
		})
	}
}

// TestFaultProxyRestarted restarts the proxy on the same tunnel address:
// the connector dials it again by itself.
func TestFaultProxyRestarted(t *testing.T) {
	block := pseudoRandom(11, blockSize)
	e := newEnv(t, &Proxy{Route: RoutePath})
	o := e.connect("home", patternHandler("home", block))
	c := e.httpClient()
	if code, body := getString(t, c, e.FrontURL+"/o/home/who"); code != 200 || body != "home" {
		t.Fatalf("before the restart: %d %q", code, body)
	}
	for i := range 2 {
		old := e.p
		e.restart(&Proxy{Route: RoutePath})
		if e.p.Connected("home") {
			t.Fatal("the new proxy has a tunnel before any handshake")
		}
		if err := e.p.WaitConnected(waitCtx(t), "home", false); err != nil {
			t.Fatalf("restart %d: the origin did not come back: %v", i+1, err)
		}
		if old.Connected("home") {
			t.Errorf("restart %d: the closed proxy still lists a tunnel", i+1)
		}
		if code, body := getString(t, c, e.FrontURL+"/o/home/who"); code != 200 || body != "home" {
			t.Fatalf("after restart %d: %d %q", i+1, code, body)
		}
		resp, err := c.Do(newRequest(t, "GET", e.FrontURL+"/o/home/big?reps=16", nil))
		if err != nil {
			t.Fatal(err)
		}
		n, err := readPattern(resp.Body, block, 0, 0)
		resp.Body.Close()
		if err != nil || n != blockSize*16 {
			t.Fatalf("after restart %d: %d bytes of %d, %v", i+1, n, blockSize*16, err)
		}
	}
	if got := o.c.Connects(); got != 3 {
		t.Errorf("the connector made %d tunnels, want 3", got)
	}
	if err := o.stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run after its context was cancelled: %v", err)
	}
}

// TestFaultTwoOrigins routes two origins independently: killing one leaves
// the other, and a transfer from it, intact.
func TestFaultTwoOrigins(t *testing.T) {
	homeBlock, workBlock := pseudoRandom(12, blockSize), pseudoRandom(13, blockSize)
	e := newEnv(t, &Proxy{Route: RoutePath})
	home := e.connect("home", patternHandler("home", homeBlock))
	e.connect("work", patternHandler("work", workBlock))
	c := e.httpClient()
	for _, name := range []string{"home", "work", "home", "work"} {
		if code, body := getString(t, c, e.FrontURL+"/o/"+name+"/who"); code != 200 || body != name {
			t.Fatalf("/o/%s/who: %d %q", name, code, body)
		}
	}

	// Both at once, each with its own content.
	var wg sync.WaitGroup
	for _, o := range []struct {
		name  string
		block []byte
	}{{"home", homeBlock}, {"work", workBlock}, {"home", homeBlock}, {"work", workBlock}} {
		req := newRequest(t, "GET", e.FrontURL+"/o/"+o.name+"/big?reps=8", nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Do(req)
			if err != nil {
				t.Errorf("%s: %v", o.name, err)
				return
			}
			defer resp.Body.Close()
			if n, err := readPattern(resp.Body, o.block, 0, 0); err != nil || n != blockSize*8 {
				t.Errorf("%s: %d bytes, %v", o.name, n, err)
			}
		}()
	}
	wg.Wait()

	// A transfer from work is under way when home goes down for good.
	resp, err := c.Do(newRequest(t, "GET", e.FrontURL+"/o/work/big?reps=32", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := readPattern(resp.Body, workBlock, 0, 256<<10)
	if err != nil {
		t.Fatal(err)
	}
	home.stop()
	waitFor(t, "home to be disconnected", func() bool { return !e.p.Connected("home") })
	resp2, _ := do(t, c, newRequest(t, "GET", e.FrontURL+"/o/home/who", nil))
	if resp2.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("home, down: %s, want 503", resp2.Status)
	}
	if code, body := getString(t, c, e.FrontURL+"/o/work/who"); code != 200 || body != "work" {
		t.Fatalf("work, with home down: %d %q", code, body)
	}
	m, err := readPattern(resp.Body, workBlock, n, 0)
	if err != nil || n+m != blockSize*32 {
		t.Fatalf("the transfer from work: %d bytes of %d, %v", n+m, blockSize*32, err)
	}
	if !e.p.Connected("work") {
		t.Error("work is not connected")
	}
}

// TestFaultAuthAndRouting checks the answers for bad credentials and for
// origins that are unknown or not connected.
func TestFaultAuthAndRouting(t *testing.T) {
	e := newEnv(t, &Proxy{Route: RoutePath})
	if err := e.p.Registry.Add("home", token("home")); err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	t.Run("WrongToken", func(t *testing.T) {
		err := e.startOrigin("home", "not-the-token-of-home", ok).wait()
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("Run = %v, want ErrUnauthorized", err)
		}
	})
	t.Run("UnknownName", func(t *testing.T) {
		err := e.startOrigin("stranger", token("stranger"), ok).wait()
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("Run = %v, want ErrUnauthorized", err)
		}
	})
	if got := e.p.Stats().Errors["auth_failed"]; got != 2 {
		t.Errorf("auth_failed = %d, want 2", got)
	}
	c := e.httpClient()
	t.Run("UnknownOrigin", func(t *testing.T) {
		for _, path := range []string{"/o/stranger/x", "/o/Bad_Name/x", "/elsewhere", "/o/"} {
			resp, _ := do(t, c, newRequest(t, "GET", e.FrontURL+path, nil))
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: %s, want 404", path, resp.Status)
			}
		}
	})
	t.Run("NotConnected", func(t *testing.T) {
		resp, _ := do(t, c, newRequest(t, "GET", e.FrontURL+"/o/home/x", nil))
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("got %s, Retry-After %q; want 503 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
		}
		if got := e.p.Stats().Errors["origin_not_connected"]; got != 1 {
			t.Errorf("origin_not_connected = %d, want 1", got)
		}
	})
	if got := e.p.Stats().Errors["unknown_origin"]; got != 4 {
		t.Errorf("unknown_origin = %d, want 4", got)
	}
}

// TestFaultOriginWait holds a request for an origin that is not connected
// yet until it connects.
func TestFaultOriginWait(t *testing.T) {
	e := newEnv(t, &Proxy{Route: RoutePath, OriginWait: hangGuard})
	if err := e.p.Registry.Add("home", token("home")); err != nil {
		t.Fatal(err)
	}
	res := goGet(t, e.httpClient(), e.FrontURL+"/o/home/who")
	waitFor(t, "the request to reach the proxy", func() bool { return e.p.Stats().Requests == 1 })
	e.connect("home", patternHandler("home", nil))
	if r := <-res; r.code != 200 || r.body != "home" {
		t.Fatalf("got %d %q", r.code, r.body)
	}
	if got := e.p.Stats().Errors["origin_not_connected"]; got != 0 {
		t.Errorf("origin_not_connected = %d, want 0", got)
	}
}

// TestFaultRateLimit sends wrong tokens until the proxy refuses the source.
func TestFaultRateLimit(t *testing.T) {
	// No refill during the test: the budget is AuthFailureBurst exactly.
	const burst = 5
	e := newEnv(t, &Proxy{Route: RoutePath, AuthFailureBurst: burst, AuthFailureEvery: 1 << 40})
	if err := e.p.Registry.Add("home", token("home")); err != nil {
		t.Fatal(err)
	}
	handshake := func(name, tok string) int {
		t.Helper()
		opts := &npn.UpgradeDialOptions{
			Protocols:       []string{TunnelProtocol},
			Header:          http.Header{HeaderOrigin: {name}, "Authorization": {"Bearer " + tok}},
			TLSClientConfig: &tls.Config{RootCAs: e.pool},
		}
		conn, _, err := npn.DialUpgradeConn(waitCtx(t), "https://"+e.TunnelAddr+"/", opts)
		if err == nil {
			conn.Close()
			return http.StatusSwitchingProtocols
		}
		var ue *npn.UpgradeError
		if !errors.As(err, &ue) {
			t.Fatalf("handshake: %v, want an *npn.UpgradeError", err)
		}
		return ue.StatusCode
	}
	var codes []int
	limited := -1
	for i := 0; i < 4*burst && limited < 0; i++ {
		code := handshake("home", "wrong-token-number-"+strconv.Itoa(i))
		codes = append(codes, code)
		switch code {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			limited = i
		default:
			t.Fatalf("attempt %d: %d, want 401 or 429", i, code)
		}
	}
	if limited != burst {
		t.Fatalf("answers %v: want %d times 401, then 429", codes, burst)
	}
	// Over its budget, the source is refused before its credentials are
	// looked at, even the right ones.
	if code := handshake("home", token("home")); code != http.StatusTooManyRequests {
		t.Errorf("the right token from a refused source: %d, want 429", code)
	}
	// The refusal carries Retry-After, which UpgradeError does not keep:
	// a plain request shows it.
	c := e.httpClient()
	resp, _ := do(t, c, newRequest(t, "GET", "https://"+e.TunnelAddr+"/", nil, HeaderOrigin, "home", "Authorization", "Bearer x"))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a plain request from a refused source: %s, Retry-After %q; want 429 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
	}
	// The budget is per source address: the origin connects from another
	// loopback address.
	other := e.connectWith("home", patternHandler("home", nil), func(c *Connector) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
		c.DialContext = d.DialContext
	})
	if !strings.HasPrefix(e.p.Stats().Tunnels[0].Remote, "127.0.0.2:") {
		t.Errorf("the tunnel comes from %s, want 127.0.0.2", e.p.Stats().Tunnels[0].Remote)
	}
	other.stop()
	st := e.p.Stats()
	if st.Errors["rate_limited"] < 3 || st.Errors["auth_failed"] != burst {
		t.Errorf("rate_limited = %d (want at least 3), auth_failed = %d (want %d)", st.Errors["rate_limited"], st.Errors["auth_failed"], burst)
	}
	if st.TunnelsAccepted != 1 {
		t.Errorf("TunnelsAccepted = %d, want 1", st.TunnelsAccepted)
	}
}

// countingBodyReader yields limit bytes of a fixed pattern, counting in n
// what it gave.
type countingBodyReader struct {
	n, limit atomic.Int64
}

func (r *countingBodyReader) Read(p []byte) (int, error) {
	left := r.limit.Load() - r.n.Load()
	if left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	for i := range p {
		p[i] = byte(i * 7)
	}
	r.n.Add(int64(len(p)))
	return len(p), nil
}

// waitStalled waits until progress stays the same for a number of polls in
// a row (or stop reports true), with a hang guard: it is how a test knows
// that flow control has stopped a transfer. A stall seen too early (a
// pause of the scheduler) only makes a later upper-bound check weaker,
// never wrong, since the counters only grow.
func waitStalled(t testing.TB, what string, progress func() int64, stop func() bool) {
	t.Helper()
	const quiet = 50 // polls of 2 ms in a row
	last, same := int64(-1), 0
	waitFor(t, what+" to stall", func() bool {
		if stop() {
			return true
		}
		if v := progress(); v > 0 && v == last {
			same++
		} else {
			last, same = v, 0
		}
		return same >= quiet
	})
}

// TestFaultStalledOriginUpload uploads to an origin handler that never
// reads its body: the proxy must read from the client only what the stream
// window lets it send on, not the whole upload.
func TestFaultStalledOriginUpload(t *testing.T) {
	for _, h2 := range []bool{true, false} {
		name := "HTTP1"
		if h2 {
			name = "HTTP2"
		}
		t.Run(name, func(t *testing.T) {
			const attempt = 64 << 20
			e := newEnv(t, &Proxy{Route: RoutePath})
			started := make(chan struct{})
			release := make(chan struct{})
			handlerDone := make(chan error, 1)
			e.connect("home", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(started)
				select {
				case <-r.Context().Done():
					handlerDone <- r.Context().Err()
				case <-release:
					handlerDone <- errors.New("released")
				}
			}))
			base, c := e.FrontURL, e.httpClient()
			if h2 {
				base, c = e.startTLSFront(), e.h2Client()
			}
			body := &countingBodyReader{}
			body.limit.Store(attempt)
			ctx, cancel := context.WithCancel(waitCtx(t))
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, "POST", base+"/o/home/sink", body)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = attempt
			clientDone := make(chan error, 1)
			go func() {
				resp, err := c.Do(req)
				if err == nil {
					resp.Body.Close()
				}
				clientDone <- err
			}()
			await(t, "the upload to reach the origin", started)
			waitStalled(t, "the upload", body.n.Load, func() bool { return body.n.Load() >= attempt })

			// The origin's stream window is 64 KiB and does not grow,
			// since the origin reads nothing; the proxy reads the body
			// in chunks of 32 KiB. 2 MiB is that with plenty of slack
			// (more than the default session window, 1 MiB), and a
			// small fraction of the 64 MiB the client tries to send.
			const bound = 2 << 20
			st := e.p.Stats()
			sent := st.Tunnels[0].Session.BytesSent
			t.Logf("the client gave %d bytes, the proxy read %d and sent %d to the origin", body.n.Load(), st.BytesFromClients, sent)
			if st.BytesFromClients > bound || sent > bound {
				t.Fatalf("the proxy read %d bytes from the client and sent %d to an origin that reads nothing; want at most %d", st.BytesFromClients, sent, bound)
			}
			if body.n.Load() >= attempt {
				t.Fatalf("the client could send all of its %d bytes", attempt)
			}
			cancel()
			if err := await(t, "the client to end", clientDone); err == nil {
				t.Error("the upload succeeded after its cancellation")
			}
			if h2 {
				// HTTP/2 carries the cancellation (RST_STREAM) to the
				// proxy, which resets the tunnel stream: the origin's
				// request context ends.
				if err := await(t, "the origin's handler to end", handlerDone); !errors.Is(err, context.Canceled) {
					t.Errorf("the origin's handler ended with %v, want its context cancelled", err)
				}
			} else {
				// HTTP/1.1 gives net/http no way to see the client go
				// while the body is unread (the close is behind the
				// unread bytes); the origin ends the request itself.
				close(release)
				await(t, "the origin's handler to end", handlerDone)
			}
			waitFor(t, "the proxy's streams to end", func() bool { return e.p.Stats().StreamsOpen == 0 })
		})
	}
}

// TestFaultStalledClientDownload serves a large response to a client that
// stops reading: the origin can write only what the windows and buffers on
// the way hold.
func TestFaultStalledClientDownload(t *testing.T) {
	const attempt = 256 << 20
	e := newEnv(t, &Proxy{Route: RoutePath})
	var written atomic.Int64
	handlerDone := make(chan error, 1)
	chunk := pseudoRandom(14, 32<<10)
	e.connect("home", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(attempt))
		for i := 0; i < attempt/len(chunk); i++ {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				handlerDone <- err
				return
			}
		}
		handlerDone <- nil
	}))
	// The client's socket buffer is fixed (no auto-tuning), so that what
	// it holds is known.
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			err = c.(*net.TCPConn).SetReadBuffer(256 << 10)
		}
		return c, err
	}}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr}
	ctx, cancel := context.WithCancel(waitCtx(t))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", e.FrontURL+"/o/home/big", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The client reads nothing of the body.
	waitStalled(t, "the download", written.Load, func() bool { return written.Load() >= attempt })

	// What the origin could write sits in: its 16 KiB response buffer;
	// the proxy's stream window (64 KiB, grown only while the proxy
	// drained it as fast as it came, which stops when the sockets are
	// full, and capped at DefaultTunnelMaxWindow); the proxy's 32 KiB
	// copy buffer, its 4 KiB response buffer and its socket's send buffer
	// (Linux grows it up to net.ipv4.tcp_wmem's max, 4 MiB by default);
	// and the client's receive buffer, set to 256 KiB above (which the
	// kernel doubles to 512 KiB). The proxy itself holds the difference between what the
	// origin wrote and what the proxy wrote to the client: the stream
	// window and the copy buffer. About 5 MiB gets written here; 16 MiB is
	// generous, and a sixteenth of the 256 MiB the origin tries to write.
	const (
		heldBound  = DefaultTunnelMaxWindow + 1<<20
		totalBound = 16 << 20
	)
	st := e.p.Stats()
	held := written.Load() - st.BytesToClients
	t.Logf("the origin wrote %d bytes, the proxy wrote %d to the client (it holds %d)", written.Load(), st.BytesToClients, held)
	if written.Load() > totalBound || held > heldBound {
		t.Fatalf("the origin wrote %d bytes to a client that reads nothing, the proxy holding %d; want at most %d and %d",
			written.Load(), held, totalBound, heldBound)
	}
	cancel()
	if err := await(t, "the origin's handler to end", handlerDone); err == nil {
		t.Error("the origin's handler wrote its whole response to a cancelled client")
	}
	waitFor(t, "the proxy's streams to end", func() bool { return e.p.Stats().StreamsOpen == 0 })
}

// TestFaultStalledClientsDoNotBlockOthers stalls several downloads on one
// tunnel: another client still gets its response whole, since what the
// proxy holds for the stalled ones stays within their stream windows and
// the session window is not used up by them.
func TestFaultStalledClientsDoNotBlockOthers(t *testing.T) {
	const stalled = 8
	block := pseudoRandom(18, blockSize)
	e := newEnv(t, &Proxy{Route: RoutePath})
	e.connect("home", patternHandler("home", block))
	received := func() int64 { return int64(e.p.Stats().Tunnels[0].Session.BytesReceived) }
	for i := range stalled {
		// A client of its own for each: one connection each.
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		ctx, cancel := context.WithCancel(waitCtx(t))
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, "GET", e.FrontURL+"/o/home/big", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("stalled download %d: %v", i, err)
		}
		defer resp.Body.Close()
		waitStalled(t, "the stalled downloads", received, func() bool { return false })
	}
	st := e.p.Stats()
	t.Logf("%d stalled downloads: the proxy received %d bytes from the origin and wrote %d to clients", stalled, st.Tunnels[0].Session.BytesReceived, st.BytesToClients)
	c := e.httpClient()
	resp, err := c.Do(newRequest(t, "GET", e.FrontURL+"/o/home/big?reps=4", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if n, err := readPattern(resp.Body, block, 0, 0); err != nil || n != 4*blockSize {
		t.Fatalf("with %d stalled downloads on the tunnel: %d bytes of %d, %v", stalled, n, 4*blockSize, err)
	}
}

// TestFaultReconnectReplaces connects a second tunnel of the same origin:
// it takes the new requests, while a response in flight on the first one
// completes.
func TestFaultReconnectReplaces(t *testing.T) {
	first, second := pseudoRandom(15, 1<<20), pseudoRandom(16, 1<<20)
	release := make(chan struct{})
	mux1 := http.NewServeMux()
	mux1.HandleFunc("/who", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "1") })
	mux1.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(first)+len(second)))
		w.Write(first)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Write(second)
	})
	e := newEnv(t, &Proxy{Route: RoutePath})
	o1 := e.connect("home", mux1)
	c := e.httpClient()
	resp, err := c.Do(newRequest(t, "GET", e.FrontURL+"/o/home/slow", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make([]byte, len(first)+len(second))
	if _, err := io.ReadFull(resp.Body, got[:len(first)]); err != nil {
		t.Fatal(err)
	}

	// Requests keep coming while the second tunnel connects: each goes
	// to one tunnel or the other, and none fails.
	var wg sync.WaitGroup
	stopLoad := make(chan struct{})
	var loadErrs, loadDone atomic.Int64
	loadCtx := waitCtx(t)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				req, err := http.NewRequestWithContext(loadCtx, "GET", e.FrontURL+"/o/home/who", nil)
				if err != nil {
					t.Errorf("during the reconnect: %v", err)
					loadErrs.Add(1)
					return
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Errorf("during the reconnect: %v", err)
					loadErrs.Add(1)
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || (string(b) != "1" && string(b) != "2") {
					t.Errorf("during the reconnect: %s %q %v", resp.Status, b, err)
					loadErrs.Add(1)
					return
				}
				loadDone.Add(1)
			}
		}()
	}
	waitFor(t, "requests under way", func() bool { return loadDone.Load() >= 20 || loadErrs.Load() > 0 })
	before := e.tunnelsAccepted()
	o2 := e.startOrigin("home", token("home"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "2")
	}))
	e.waitNewTunnel("home", before)
	n0 := loadDone.Load()
	waitFor(t, "requests after the reconnect", func() bool { return loadDone.Load() >= n0+20 || loadErrs.Load() > 0 })
	close(stopLoad)
	wg.Wait()
	for i := range 5 {
		if code, body := getString(t, c, e.FrontURL+"/o/home/who"); code != 200 || body != "2" {
			t.Fatalf("request %d after the reconnect: %d %q, want the new tunnel's answer", i, code, body)
		}
	}
	close(release)
	if _, err := io.ReadFull(resp.Body, got[len(first):]); err != nil {
		t.Fatalf("the response on the replaced tunnel: %v", err)
	}
	if n, err := resp.Body.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("after the whole response: %d, %v", n, err)
	}
	if !bytes.Equal(got[:len(first)], first) || !bytes.Equal(got[len(first):], second) {
		t.Fatal("the response on the replaced tunnel is not intact")
	}
	// The first connector dials again once its tunnel is drained, and
	// would take the name back; a second origin of the same name is an
	// operator's mistake. Stopping it leaves the second one.
	o1.stop()
	waitFor(t, "the second origin to hold the name", func() bool {
		if !e.p.Connected("home") {
			return false
		}
		code, body := getString(t, c, e.FrontURL+"/o/home/who")
		return code == 200 && body == "2"
	})
	if o2.c.Connects() < 1 {
		t.Error("the second connector has no tunnel")
	}
}

// TestMetricsAndHealth reads the operational endpoints on a listener of
// their own.
func TestMetricsAndHealth(t *testing.T) {
	e := newEnv(t, &Proxy{Route: RoutePath})
	if err := e.p.Registry.Add("away", token("away")); err != nil {
		t.Fatal(err)
	}
	e.connect("home", patternHandler("home", nil))
	mux := http.NewServeMux()
	mux.Handle("/metrics", e.p.MetricsHandler())
	mux.Handle("/healthz", e.p.HealthHandler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ops := &http.Server{Handler: mux}
	go ops.Serve(ln)
	t.Cleanup(func() { ops.Close() })
	opsURL := "http://" + ln.Addr().String()
	c := e.httpClient()

	if code, body := getString(t, c, e.FrontURL+"/o/home/who"); code != 200 || body != "home" {
		t.Fatalf("%d %q", code, body)
	}
	do(t, c, newRequest(t, "GET", e.FrontURL+"/o/nobody/", nil))
	do(t, c, newRequest(t, "GET", e.FrontURL+"/o/away/", nil))
	// The ping that measures the round trip runs as the tunnel comes up.
	waitFor(t, "the first ping", func() bool { st := e.p.Stats(); return len(st.Tunnels) == 1 && st.Tunnels[0].RTT > 0 })

	resp, body := do(t, c, newRequest(t, "GET", opsURL+"/metrics", nil))
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("/metrics: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	text := string(body)
	for _, want := range []string{
		"spdyproxy_origins_registered 2\n",
		"spdyproxy_origins_connected 1\n",
		"spdyproxy_streams_open 0\n",
		"spdyproxy_requests_total 3\n",
		`spdyproxy_bytes_total{direction="to_clients"} 4` + "\n",
		`spdyproxy_bytes_total{direction="from_clients"} 0` + "\n",
		"spdyproxy_tunnels_accepted_total 1\n",
		`spdyproxy_errors_total{kind="unknown_origin"} 1` + "\n",
		`spdyproxy_errors_total{kind="origin_not_connected"} 1` + "\n",
		`spdyproxy_errors_total{kind="bad_gateway"} 0` + "\n",
		`spdyproxy_tunnel_streams_total{origin="home"} 1` + "\n",
		`spdyproxy_tunnel_rtt_seconds{origin="home"} `,
		`spdyproxy_tunnel_bytes_total{origin="home",direction="from_origin"} 4` + "\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Every sample belongs to a metric with HELP and TYPE lines.
	typed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			if typ != "gauge" && typ != "counter" {
				t.Errorf("metric %s has type %q", name, typ)
			}
			typed[name] = true
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, value, _ := strings.Cut(name, " ")
		if i := strings.LastIndexByte(line, ' '); i >= 0 {
			value = line[i+1:]
		}
		if !typed[name] {
			t.Errorf("sample %q before its TYPE line", line)
		}
		if _, err := strconv.ParseFloat(value, 64); err != nil {
			t.Errorf("sample %q: value %q: %v", line, value, err)
		}
	}

	health := func(query string) int {
		t.Helper()
		resp, _ := do(t, c, newRequest(t, "GET", opsURL+"/healthz"+query, nil))
		return resp.StatusCode
	}
	for query, want := range map[string]int{"": 200, "?origin=home": 200, "?origin=away": 503, "?origin=nobody": 503} {
		if got := health(query); got != want {
			t.Errorf("/healthz%s: %d, want %d", query, got, want)
		}
	}
	if err := e.p.Shutdown(waitCtx(t)); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, query := range []string{"", "?origin=home"} {
		if got := health(query); got != 503 {
			t.Errorf("/healthz%s after Shutdown: %d, want 503", query, got)
		}
	}
	if e.p.Connected("home") {
		t.Error("a tunnel is left after Shutdown")
	}
}

// TestFaultShutdownDrains shuts the proxy down with a response in flight:
// the response completes, and Shutdown returns once it has.
func TestFaultShutdownDrains(t *testing.T) {
	body := pseudoRandom(17, 3<<20)
	release := make(chan struct{})
	e := newEnv(t, &Proxy{Route: RoutePath})
	e.connect("home", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body[:1<<20])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Write(body[1<<20:])
	}))
	c := e.httpClient()
	resp, err := c.Do(newRequest(t, "GET", e.FrontURL+"/o/home/", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make([]byte, len(body))
	if _, err := io.ReadFull(resp.Body, got[:1<<20]); err != nil {
		t.Fatal(err)
	}
	shut := make(chan error, 1)
	go func() { shut <- e.p.Shutdown(waitCtx(t)) }()
	health := e.p.HealthHandler()
	waitFor(t, "the proxy to be shutting down", func() bool {
		return direct(health, "GET", "/healthz").StatusCode == http.StatusServiceUnavailable
	})
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a response in flight", err)
	default:
	}
	close(release)
	if _, err := io.ReadFull(resp.Body, got[1<<20:]); err != nil {
		t.Fatalf("the response in flight: %v", err)
	}
	if !bytes.Equal(got, body) {
		t.Fatal("the response in flight is not intact")
	}
	if err := await(t, "Shutdown to return", shut); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := e.p.WaitConnected(waitCtx(t), "home", false); !errors.Is(err, ErrProxyClosed) {
		t.Errorf("WaitConnected after Shutdown: %v, want ErrProxyClosed", err)
	}
}

// TestFaultPinnedCertificate connects an origin that trusts the proxy by
// the pin of its certificate, and refuses a proxy whose certificate does not
// match: that origin keeps dialing and never gets a tunnel.
func TestFaultPinnedCertificate(t *testing.T) {
	e := newEnv(t, &Proxy{Route: RoutePath})
	leaf, err := x509.ParseCertificate(e.cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := PinnedTLSConfig(Fingerprint(leaf))
	if err != nil {
		t.Fatal(err)
	}
	e.connectWith("home", patternHandler("home", nil), func(c *Connector) { c.TLSConfig = pinned })
	if code, body := getString(t, e.httpClient(), e.FrontURL+"/o/home/who"); code != 200 || body != "home" {
		t.Fatalf("through the pinned tunnel: %d %q", code, body)
	}

	if err := e.p.Registry.Add("work", token("work")); err != nil {
		t.Fatal(err)
	}
	other := strings.Repeat("ab", 32) // some other certificate's pin
	wrong, err := PinnedTLSConfig(other)
	if err != nil {
		t.Fatal(err)
	}
	var dials atomic.Int64
	o := e.startOriginWith("work", token("work"), patternHandler("work", nil), func(c *Connector) {
		c.TLSConfig = wrong
		c.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
	})
	waitFor(t, "the origin with the wrong pin to try a few times", func() bool { return dials.Load() >= 3 })
	if o.c.Connects() != 0 || e.p.Connected("work") {
		t.Fatalf("an origin with the wrong pin got a tunnel (%d handshakes)", o.c.Connects())
	}
	if err := o.stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled (a wrong pin is retried, not ErrUnauthorized)", err)
	}
	if _, err := PinnedTLSConfig("not hex"); err == nil {
		t.Error("PinnedTLSConfig accepted a pin that is not hex")
	}
}
