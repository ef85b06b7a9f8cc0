package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/stream"
)

// The fault suite runs a client and a server session over loopback TCP
// through faultConn, which passes exactly N bytes of one direction and then
// cuts it. N ranges over every frame boundary of a recorded healthy
// exchange and over seeded random offsets, in both directions, cut at the
// sender (its writes) or at the receiver (its reads), by closing the
// connection or by failing the calls of that direction. Each run checks
// that every call blocked at the cut returns an error, that both sessions
// end by themselves, that no goroutine is left, and that no reader ever
// sees a byte that was not sent or a clean end of a stream that was not
// finished.

// faultWatchdog bounds every wait of the suite. It detects hangs; it is not
// a measure of speed.
const faultWatchdog = 10 * time.Second

// errFaultCut is the error of calls in a direction that faultConn cut.
var errFaultCut = errors.New("fault injection: connection cut")

// faultGate counts the bytes of one direction of a faultConn and stalls the
// direction once limit bytes have passed, until it is cut.
type faultGate struct {
	mu      sync.Mutex
	n       int64 // bytes passed
	limit   int64 // bytes allowed; negative means no limit
	record  bool
	rec     []byte
	failed  bool
	reached chan struct{} // closed when n reaches limit
	isReach bool
	cut     chan struct{} // closed when the direction fails
}

func newFaultGate() *faultGate {
	return &faultGate{limit: -1, reached: make(chan struct{}), cut: make(chan struct{})}
}

// grant returns how many of want bytes may pass now: 0 at the limit.
func (g *faultGate) grant(want int) (int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failed {
		return 0, true
	}
	if g.limit < 0 {
		return want, false
	}
	left := g.limit - g.n
	if left <= 0 {
		g.markReachedLocked()
		return 0, false
	}
	return int(min(int64(want), left)), false
}

// passed counts bytes that went through.
func (g *faultGate) passed(p []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n += int64(len(p))
	if g.record {
		g.rec = append(g.rec, p...)
	}
	if g.limit >= 0 && g.n >= g.limit {
		g.markReachedLocked()
	}
}

func (g *faultGate) markReachedLocked() {
	if !g.isReach {
		g.isReach = true
		close(g.reached)
	}
}

// setLimit stalls the direction once n bytes have passed in all (at once
// if they already have).
func (g *faultGate) setLimit(n int64) {
	g.mu.Lock()
	g.limit = n
	if g.n >= n {
		g.markReachedLocked()
	}
	g.mu.Unlock()
}

func (g *faultGate) count() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

func (g *faultGate) recorded() []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.rec)
}

// fail makes the calls of the direction fail with errFaultCut, the blocked one
// included.
func (g *faultGate) fail() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.failed {
		g.failed = true
		close(g.cut)
	}
}

// faultConn is a net.Conn whose reads and writes each pass through a gate.
type faultConn struct {
	net.Conn
	r, w      *faultGate
	closeOnce sync.Once
	closed    chan struct{}
}

func newFaultConn(c net.Conn) *faultConn {
	return &faultConn{Conn: c, r: newFaultGate(), w: newFaultGate(), closed: make(chan struct{})}
}

// stall waits at a gate's limit until the direction is cut or the
// connection closed.
func (c *faultConn) stall(g *faultGate) error {
	select {
	case <-g.cut:
		return errFaultCut
	case <-c.closed:
		return net.ErrClosed
	}
}

func (c *faultConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return c.Conn.Read(p)
	}
	for {
		k, failed := c.r.grant(len(p))
		if failed {
			return 0, errFaultCut
		}
		if k == 0 {
			if err := c.stall(c.r); err != nil {
				return 0, err
			}
			continue
		}
		n, err := c.Conn.Read(p[:k])
		c.r.passed(p[:n])
		return n, err
	}
}

func (c *faultConn) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		k, failed := c.w.grant(len(p) - done)
		if failed {
			return done, errFaultCut
		}
		if k == 0 {
			if err := c.stall(c.w); err != nil {
				return done, err
			}
			continue
		}
		m, err := c.Conn.Write(p[done : done+k])
		c.w.passed(p[done : done+m])
		done += m
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

func (c *faultConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// faultAction is how a direction is cut.
type faultAction int

const (
	faultClose faultAction = iota // close the connection
	faultFail                     // fail the direction's calls; the connection stays open
)

func (a faultAction) String() string {
	if a == faultClose {
		return "close"
	}
	return "fail"
}

// faultCut is one fault: the bytes of one direction stop after n.
type faultCut struct {
	c2s      bool // cut what the client sends (else what the server sends)
	atReader bool // count at the receiver's reads (else the sender's writes)
	action   faultAction
	n        int64
}

func (c faultCut) String() string {
	dir, at := "s2c", "writer"
	if c.c2s {
		dir = "c2s"
	}
	if c.atReader {
		at = "reader"
	}
	return fmt.Sprintf("%s/%d/%s-%s", dir, c.n, at, c.action)
}

// faultPatternByte is the byte at offset off of the deterministic pseudo-random
// stream named key (splitmix64 of the 8-byte word index).
func faultPatternByte(key uint64, off int64) byte {
	z := key<<40 ^ uint64(off>>3) + 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return byte(z >> (8 * uint(off&7)))
}

func faultFill(p []byte, key uint64, off int64) {
	for i := range p {
		p[i] = faultPatternByte(key, off+int64(i))
	}
}

// faultMismatch returns the index of the first byte of p that is not the
// pattern at off, or -1.
func faultMismatch(p []byte, key uint64, off int64) int {
	for i := range p {
		if p[i] != faultPatternByte(key, off+int64(i)) {
			return i
		}
	}
	return -1
}

// The scenario's sizes. Windows do not grow, so a healthy run always
// reaches the same steady state.
const (
	faultWindow   = 16 << 10
	faultFrame    = 4 << 10
	faultEchoLen  = 24 << 10        // each echo stream, each direction
	faultBlockLen = 3 * faultWindow // a Write that flow control blocks
	faultLimit    = 5               // the server's MAX_CONCURRENT_STREAMS
)

// The scenario's streams, opened by the client in this order:
//
//	e1, e2  both sides write faultEchoLen bytes and FIN, and read all
//	r       both sides read; nobody writes (blocked Reads)
//	w       the client writes faultBlockLen; the server never reads
//	b       the server writes faultBlockLen; the client never reads
//	h1, h2  wait for e1 and e2 to end (Open at the limit), then both
//	        sides read (blocked Reads)
//	x       never opens: the 5 long-lived streams hold the limit
var faultRoles = []string{"e1", "e2", "r", "w", "b", "h1", "h2"}

func faultKey(role string, c2s bool) uint64 {
	k := uint64(slices.Index(faultRoles, role)+1) << 1
	if c2s {
		k |= 1
	}
	return k
}

func faultConfig(v Version, server bool) *Config {
	c := &Config{Version: v, InitialWindowSize: faultWindow, MaxWindowSize: faultWindow, MaxFrameSize: faultFrame}
	if server {
		c.MaxConcurrentStreams = faultLimit
	}
	return c
}

// faultScenario drives the streams of one run and collects what went wrong.
type faultScenario struct {
	t        *testing.T
	cs, ss   *Session
	wg       sync.WaitGroup
	mu       sync.Mutex
	problems []string
	echoOK   int  // echo halves that completed
	xCalled  bool // the Open that must block was called
	accepted int
	post     []func() // reads done after both sessions ended
}

func (sc *faultScenario) problem(format string, args ...any) {
	sc.mu.Lock()
	sc.problems = append(sc.problems, fmt.Sprintf(format, args...))
	sc.mu.Unlock()
}

// spawn runs f in a goroutine of the scenario. A call that cannot succeed
// while the connection is healthy (mustFail) must end with an error.
func (sc *faultScenario) spawn(name string, mustFail bool, f func() error) {
	sc.wg.Add(1)
	go func() {
		defer sc.wg.Done()
		err := f()
		if mustFail && err == nil {
			sc.problem("%s returned no error", name)
		}
	}()
}

// readPattern reads st to its end and checks every byte against the
// pattern key. The writer sends want bytes, then FIN if fin. It returns
// nil only for a complete stream.
func (sc *faultScenario) readPattern(name string, st *stream.Stream, key uint64, want int64, fin bool) error {
	buf := make([]byte, 3000) // not a divisor of the frame size
	var off int64
	for {
		n, err := st.Read(buf)
		if n > 0 {
			if off+int64(n) > want {
				sc.problem("%s: read %d bytes, more than the %d sent", name, off+int64(n), want)
				return errors.New("too much data")
			}
			if i := faultMismatch(buf[:n], key, off); i >= 0 {
				sc.problem("%s: byte %d is %#x, want %#x", name, off+int64(i), buf[i], faultPatternByte(key, off+int64(i)))
				return errors.New("corrupt data")
			}
			off += int64(n)
		}
		if err == io.EOF {
			if !fin || off != want {
				sc.problem("%s: io.EOF after %d bytes; the writer sent %d and FIN=%v", name, off, want, fin)
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// faultWrite writes n bytes of the pattern key, then FIN if fin.
func faultWrite(st *stream.Stream, key uint64, n int, fin bool) error {
	p := make([]byte, n)
	faultFill(p, key, 0)
	if _, err := st.Write(p); err != nil {
		return err
	}
	if fin {
		return st.CloseWrite()
	}
	return nil
}

func (sc *faultScenario) echoDone() {
	sc.mu.Lock()
	sc.echoOK++
	sc.mu.Unlock()
}

// start launches the client and server sides.
func (sc *faultScenario) start() {
	ctx := context.Background()
	sc.spawn("client Accept", true, func() error {
		_, err := sc.cs.Accept(ctx)
		return err
	})
	sc.spawn("server Accept", true, func() error {
		for {
			st, err := sc.ss.Accept(ctx)
			if err != nil {
				return err
			}
			sc.mu.Lock()
			sc.accepted++
			sc.mu.Unlock()
			role := ""
			for _, f := range st.Headers() {
				if f.Name == "role" {
					role = f.Value
				}
			}
			sc.serverStream(role, st)
		}
	})
	sc.spawn("client opener", false, func() error {
		// The PING's reply follows the server's SETTINGS: after it, Open
		// knows the server's stream limit.
		sc.cs.Ping(ctx)
		for _, role := range faultRoles {
			st, err := sc.cs.Open(ctx, &OpenOptions{Headers: []hpackz.Field{{Name: "role", Value: role}}})
			if err != nil {
				continue
			}
			sc.clientStream(role, st)
		}
		sc.mu.Lock()
		sc.xCalled = true
		sc.mu.Unlock()
		st, err := sc.cs.Open(ctx, &OpenOptions{Headers: []hpackz.Field{{Name: "role", Value: "x"}}})
		if err == nil {
			sc.problem("Open over the peer's stream limit succeeded (stream %d)", st.ID())
			st.Close()
		}
		return nil
	})
}

func (sc *faultScenario) clientStream(role string, st *stream.Stream) {
	name := "client " + role
	switch role {
	case "e1", "e2":
		sc.spawn(name+" write", false, func() error {
			err := faultWrite(st, faultKey(role, true), faultEchoLen, true)
			if err == nil {
				sc.echoDone()
			}
			return err
		})
		sc.spawn(name+" read", false, func() error {
			err := sc.readPattern(name, st, faultKey(role, false), faultEchoLen, true)
			if err == nil {
				sc.echoDone()
			}
			return err
		})
	case "r", "h1", "h2":
		sc.spawn(name+" Read", true, func() error {
			return sc.readPattern(name, st, faultKey(role, false), 0, false)
		})
	case "w":
		sc.spawn(name+" Write", true, func() error {
			return faultWrite(st, faultKey(role, true), faultBlockLen, false)
		})
	case "b":
		sc.mu.Lock()
		sc.post = append(sc.post, func() {
			if err := sc.readPattern(name+" (after the end)", st, faultKey(role, false), faultBlockLen, false); err == nil {
				sc.problem("%s: read after the end returned no error", name)
			}
		})
		sc.mu.Unlock()
	}
}

func (sc *faultScenario) serverStream(role string, st *stream.Stream) {
	name := "server " + role
	switch role {
	case "e1", "e2":
		sc.spawn(name+" write", false, func() error {
			err := faultWrite(st, faultKey(role, false), faultEchoLen, true)
			if err == nil {
				sc.echoDone()
			}
			return err
		})
		sc.spawn(name+" read", false, func() error {
			err := sc.readPattern(name, st, faultKey(role, true), faultEchoLen, true)
			if err == nil {
				sc.echoDone()
			}
			return err
		})
	case "r", "h1", "h2":
		sc.spawn(name+" Read", true, func() error {
			return sc.readPattern(name, st, faultKey(role, true), 0, false)
		})
	case "b":
		sc.spawn(name+" Write", true, func() error {
			return faultWrite(st, faultKey(role, false), faultBlockLen, false)
		})
	case "w":
		sc.mu.Lock()
		sc.post = append(sc.post, func() {
			if err := sc.readPattern(name+" (after the end)", st, faultKey(role, true), faultBlockLen, false); err == nil {
				sc.problem("%s: read after the end returned no error", name)
			}
		})
		sc.mu.Unlock()
	default:
		sc.problem("server accepted a stream with role %q", role)
	}
}

// steady reports whether the healthy exchange is complete: the echoes are
// done, every stream is accepted, the blocked Open is called and both
// blocked Writes have filled their windows.
func (sc *faultScenario) steady() bool {
	sc.mu.Lock()
	ok := sc.echoOK == 8 && sc.xCalled && sc.accepted == len(faultRoles)
	sc.mu.Unlock()
	want := uint64(2*faultEchoLen + faultWindow)
	return ok && sc.cs.Stats().BytesSent == want && sc.ss.Stats().BytesSent == want &&
		openWaiters(sc.t, sc.cs) == 1 && blockedStreams(sc.t, sc.cs) == 1 && blockedStreams(sc.t, sc.ss) == 1
}

// faultWaitFor polls cond until it holds; it fails the test after the watchdog.
func faultWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(faultWatchdog)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("watchdog: %s did not happen in %v\n%s", what, faultWatchdog, faultStacks())
		}
		time.Sleep(time.Millisecond)
	}
}

func faultStacks() string {
	var b strings.Builder
	pprof.Lookup("goroutine").WriteTo(&b, 2)
	return b.String()
}

// faultWaitChan waits for ch to close; it fails the test after the watchdog.
func faultWaitChan(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(faultWatchdog):
		t.Fatalf("watchdog: %s did not happen in %v\n%s", what, faultWatchdog, faultStacks())
	}
}

// faultExchange is what a healthy run sent in each direction.
type faultExchange struct {
	c2s, s2c []byte
}

// runFault runs the scenario with the given cut, or with none (recording
// the exchange) when cut is nil.
func runFault(t *testing.T, v Version, cut *faultCut) (ex *faultExchange, stalled bool) {
	c1, c2 := tcpPair(t)
	fc, fs := newFaultConn(c1), newFaultConn(c2)
	var g *faultGate // the gate that cuts
	var owner *faultConn
	if cut == nil {
		fc.w.record, fs.w.record = true, true
	} else {
		switch {
		case cut.c2s && !cut.atReader:
			g, owner = fc.w, fc
		case cut.c2s && cut.atReader:
			g, owner = fs.r, fs
		case !cut.c2s && !cut.atReader:
			g, owner = fs.w, fs
		default:
			g, owner = fc.r, fc
		}
		g.setLimit(cut.n)
	}
	cs, err := New(fc, Client, faultConfig(v, false))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := New(fs, Server, faultConfig(v, true))
	if err != nil {
		t.Fatal(err)
	}
	sc := &faultScenario{t: t, cs: cs, ss: ss}
	defer func() {
		cs.Close()
		ss.Close()
	}()
	sc.start()

	// Run until the cut point or the healthy steady state.
	var reached <-chan struct{}
	if g != nil {
		reached = g.reached
	}
	faultWaitFor(t, "the cut point or the steady state", func() bool {
		select {
		case <-reached:
			stalled = true
			return true
		default:
		}
		return sc.steady()
	})
	if cut == nil {
		// Healthy: PINGs are answered, and their frames are part of the
		// recorded exchange, as in the runs that reach the steady state
		// before their cut point.
		for _, s := range []*Session{cs, ss} {
			if _, err := s.Ping(context.Background()); err != nil {
				t.Errorf("%v Ping on a healthy connection: %v", s.Role(), err)
			}
		}
	}

	// While the direction is stalled, PINGs from both sides cannot be
	// answered: they are blocked at the cut.
	for _, s := range []*Session{cs, ss} {
		if cut == nil {
			break
		}
		before := s.Stats().PingsSent
		returned := make(chan struct{})
		name := fmt.Sprintf("%v Ping", s.Role())
		sc.spawn(name, stalled, func() error {
			defer close(returned)
			_, err := s.Ping(context.Background())
			return err
		})
		faultWaitFor(t, name+" queued", func() bool {
			select {
			case <-returned:
				return true
			default:
			}
			return s.Stats().PingsSent > before
		})
	}

	if cut == nil {
		ex = &faultExchange{c2s: fc.w.recorded(), s2c: fs.w.recorded()}
		fc.Close()
	} else if cut.action == faultClose {
		owner.Close()
	} else {
		g.fail()
		if !stalled {
			// The direction was idle at the cut: nothing notices a failed
			// direction until it carries bytes. A PING from the sender
			// makes it carry some.
			sender := ss
			if cut.c2s {
				sender = cs
			}
			sc.spawn("PING after the cut", false, func() error {
				_, err := sender.Ping(context.Background())
				return err
			})
		}
	}

	// Both sessions end by themselves, and every call returns.
	faultWaitChan(t, "the client session's end", cs.Done())
	faultWaitChan(t, "the server session's end", ss.Done())
	allDone := make(chan struct{})
	go func() {
		sc.wg.Wait()
		close(allDone)
	}()
	faultWaitChan(t, "the return of every blocked call", allDone)
	for _, f := range sc.post {
		f()
	}
	for _, s := range []*Session{cs, ss} {
		var te *TransportError
		var ga *GoAwayError
		if err := s.Err(); !errors.As(err, &te) && !errors.As(err, &ga) {
			sc.problem("%v session ended with %v (%T), want a transport error or the peer's GOAWAY", s.Role(), err, err)
		}
	}
	for _, p := range sc.problems {
		t.Error(p)
	}
	return ex, stalled
}

// faultBoundaries returns the offsets at which the frames of b start, and
// the end of the last whole frame.
func faultBoundaries(b []byte) []int64 {
	var out []int64
	off := 0
	for off+8 <= len(b) {
		out = append(out, int64(off))
		off += 8 + (int(b[off+5])<<16 | int(b[off+6])<<8 | int(b[off+7]))
	}
	if off <= len(b) {
		out = append(out, int64(off))
	}
	return out
}

// faultSeed seeds the random cut offsets; runs are reproducible.
const faultSeed = 20240531

// faultRandomSpan is the range of the random cut offsets: a little more
// than the bytes of a healthy exchange in either direction.
const faultRandomSpan = 2*faultEchoLen + faultWindow + 2048

func TestFaultInjection(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	// SPDY/3.1 is cut every way at every point; SPDY/3 (no session window)
	// one way per point, in turn.
	for _, v := range []Version{V31, V3} {
		t.Run(fmt.Sprintf("V%d", v), func(t *testing.T) {
			var ex *faultExchange
			t.Run("healthy", func(t *testing.T) {
				ex, _ = runFault(t, v, nil)
				goleak.VerifyNone(t, ignore)
			})
			if t.Failed() || ex == nil {
				t.Fatal("the healthy exchange failed; no cut points")
			}
			cuts := faultCuts(t, ex, v == V31)
			failures, stalls := 0, 0
			for _, c := range cuts {
				ok := t.Run(c.String(), func(t *testing.T) {
					_, stalled := runFault(t, v, &c)
					if stalled {
						stalls++
					}
					goleak.VerifyNone(t, ignore)
				})
				if !ok {
					if failures++; failures == 5 {
						t.Fatal("stopping after 5 failed cut points")
					}
				}
			}
			t.Logf("%d cut points (seed %d); %d stopped at the cut point, the others after the whole exchange", len(cuts), faultSeed, stalls)
		})
	}
}

// faultCuts returns the cut points of a recorded exchange: every frame
// boundary and nRandom random offsets in each direction, with
// every combination of where and how to cut, or one in turn.
func faultCuts(t *testing.T, ex *faultExchange, every bool) []faultCut {
	nRandom := 12
	if testing.Short() {
		nRandom = 4
	}
	rng := rand.New(rand.NewPCG(faultSeed, 1))
	var cuts []faultCut
	for _, c2s := range []bool{true, false} {
		rec := ex.s2c
		if c2s {
			rec = ex.c2s
		}
		points := faultBoundaries(rec)
		t.Logf("c2s=%v: %d bytes, %d frame boundaries", c2s, len(rec), len(points))
		if testing.Short() {
			points = faultThin(points, 12)
		}
		for range nRandom {
			points = append(points, rng.Int64N(faultRandomSpan))
		}
		for i, n := range points {
			for k := range 4 {
				if !every && k != i%4 {
					continue
				}
				cuts = append(cuts, faultCut{c2s: c2s, n: n, atReader: k%2 == 1, action: faultAction(k / 2)})
			}
		}
	}
	return cuts
}

// faultThin keeps at most n of points, evenly spread, the last one included.
func faultThin(points []int64, n int) []int64 {
	if len(points) <= n {
		return points
	}
	out := make([]int64, 0, n)
	for i := range n {
		out = append(out, points[i*(len(points)-1)/(n-1)])
	}
	return out
}

// TestKeepAliveStalledConn: a connection that neither carries bytes nor
// closes ends the session with ErrKeepAliveTimeout, and the calls blocked
// on it return that error.
func TestKeepAliveStalledConn(t *testing.T) {
	c1, c2 := tcpPair(t)
	fc := newFaultConn(c1)
	cs, err := New(fc, Client, &Config{KeepAlive: 20 * time.Millisecond, KeepAliveTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := New(c2, Server, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	defer cs.Close()
	if _, err := cs.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, err := cs.Open(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Stall both directions at the client: no byte passes, nothing closes.
	fc.r.setLimit(fc.r.count())
	fc.w.setLimit(fc.w.count())
	acceptErr := make(chan error, 1)
	go func() {
		_, err := cs.Accept(context.Background())
		acceptErr <- err
	}()
	readErr := make(chan error, 1)
	go func() {
		_, err := st.Read(make([]byte, 1))
		readErr <- err
	}()
	faultWaitChan(t, "the keepalive timeout", cs.Done())
	if err := cs.Err(); !errors.Is(err, ErrKeepAliveTimeout) {
		t.Fatalf("session ended with %v, want ErrKeepAliveTimeout", err)
	}
	for what, ch := range map[string]chan error{"Accept": acceptErr, "Read": readErr} {
		select {
		case err := <-ch:
			if !errors.Is(err, ErrKeepAliveTimeout) {
				t.Errorf("%s returned %v, want ErrKeepAliveTimeout", what, err)
			}
		case <-time.After(faultWatchdog):
			t.Fatalf("watchdog: %s did not return", what)
		}
	}
	faultWaitChan(t, "the server session's end", ss.Done())
}

// TestWriteTimeoutPeerStopsReading: a peer whose socket is no longer read
// makes the session's connection write time out: the session ends with
// ErrWriteTimeout and so does the stream's Write.
func TestWriteTimeoutPeerStopsReading(t *testing.T) {
	c1, c2 := tcpPair(t)
	// Small socket buffers, so that the windows exceed what the kernel
	// holds.
	c1.(*net.TCPConn).SetWriteBuffer(16 << 10)
	c2.(*net.TCPConn).SetReadBuffer(16 << 10)
	fs := newFaultConn(c2)
	cs, err := New(c1, Client, &Config{WriteTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := New(fs, Server, &Config{InitialWindowSize: 32 << 20, SessionWindowSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	defer cs.Close()
	// After the PING's reply the client has the server's windows.
	if _, err := cs.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	fs.r.setLimit(fs.r.count()) // the server stops reading its socket
	st, err := cs.Open(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	werr := make(chan error, 1)
	go func() {
		_, err := st.Write(make([]byte, 24<<20))
		werr <- err
	}()
	faultWaitChan(t, "the write timeout", cs.Done())
	if err := cs.Err(); !errors.Is(err, ErrWriteTimeout) {
		t.Fatalf("session ended with %v, want ErrWriteTimeout", err)
	}
	select {
	case err := <-werr:
		if !errors.Is(err, ErrWriteTimeout) {
			t.Errorf("Write returned %v, want ErrWriteTimeout", err)
		}
	case <-time.After(faultWatchdog):
		t.Fatal("watchdog: Write did not return")
	}
	ss.Close()
	faultWaitChan(t, "the server session's end", ss.Done())
}
