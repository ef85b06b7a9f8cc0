package spdystreamsession

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/moby/spdystream"
	"github.com/moby/spdystream/spdy"
	"go.uber.org/goleak"

	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/session"
	"github.com/spdygo/spdy/stream"
)

// side is the role our session plays; spdystream plays the other.
type side int

const (
	ourClient side = iota // our session is the SPDY client, spdystream the server
	ourServer             // spdystream is the client, our session the server
)

func (s side) String() string {
	if s == ourClient {
		return "ours-client"
	}
	return "ours-server"
}

var sides = []side{ourClient, ourServer}

// opener says which implementation opens a stream.
type opener int

const (
	byOurs   opener = iota // our Session.Open, spdystream's handler accepts
	byTheirs               // spdystream's CreateStream, our Session.Accept
)

func (o opener) String() string {
	if o == byOurs {
		return "ours-open"
	}
	return "theirs-open"
}

var openers = []opener{byOurs, byTheirs}

// ourConfig is the configuration our side uses against spdystream, which
// has no flow control.
func ourConfig() *session.Config {
	return &session.Config{Version: session.V3, UnlimitedPeerWindow: true}
}

// waitLimit bounds every wait of a test for the other side.
const waitLimit = 30 * time.Second

type options struct {
	cfg *session.Config // our side's; default ourConfig()
	// handler replaces spdystream's default stream handler, which replies
	// with replyHeader and queues the stream on peers.accepted.
	handler     spdystream.StreamHandler
	replyHeader http.Header
	tap         bool          // record the frames spdystream reads
	gate        bool          // our side's reads can be held back
	watchdog    time.Duration // default 2 minutes
}

// peers is one loopback TCP connection with our session at one end and a
// spdystream connection at the other.
type peers struct {
	side     side
	opts     options
	ours     *session.Session
	theirs   *spdystream.Connection
	ourRaw   net.Conn // the TCP ends
	theirRaw net.Conn
	ourC     net.Conn // what our session holds (ourRaw or the gate)
	theirC   net.Conn // what spdystream holds (theirRaw or the tap)
	tap      *tap
	gate     *gateConn
	accepted chan *spdystream.Stream // streams the default handler replied to
	served   chan struct{}           // closed when spdystream's Serve returns

	mu           sync.Mutex
	theirStreams []*spdystream.Stream
	dog          *time.Timer
	dogFired     bool
	dogDone      chan struct{}
}

// newPeers connects our session and spdystream over loopback TCP. At the
// end of the test it closes both, checks that spdystream's Serve returned
// and that no goroutine started since is left.
func newPeers(t *testing.T, sd side, o *options) *peers {
	t.Helper()
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })

	p := &peers{side: sd, accepted: make(chan *spdystream.Stream, 1024), served: make(chan struct{}), dogDone: make(chan struct{})}
	if o != nil {
		p.opts = *o
	}
	cfg := p.opts.cfg
	if cfg == nil {
		cfg = ourConfig()
	}
	dialed, acceptedConn := tcpPair(t)
	role := session.Client
	if sd == ourClient {
		p.ourRaw, p.theirRaw = dialed, acceptedConn
	} else {
		p.theirRaw, p.ourRaw = dialed, acceptedConn
		role = session.Server
	}
	p.ourC = p.ourRaw
	if p.opts.gate {
		p.gate = newGate(p.ourRaw)
		p.ourC = p.gate
	}
	p.theirC = p.theirRaw
	if p.opts.tap {
		p.tap = newTap(p.theirRaw)
		p.theirC = p.tap
	}
	theirs, err := spdystream.NewConnection(p.theirC, sd == ourClient)
	if err != nil {
		t.Fatal(err)
	}
	p.theirs = theirs
	go func() {
		defer close(p.served)
		theirs.Serve(p.handle)
	}()
	ours, err := session.New(p.ourC, role, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.ours = ours
	limit := p.opts.watchdog
	if limit == 0 {
		limit = 2 * time.Minute
	}
	p.dog = time.AfterFunc(limit, p.bite)
	t.Cleanup(func() { p.close(t) })
	return p
}

// bite breaks a test that hangs: it cuts the connection and resets
// spdystream's streams so that every blocked call returns.
func (p *peers) bite() {
	defer close(p.dogDone)
	p.mu.Lock()
	p.dogFired = true
	sts := slices.Clone(p.theirStreams)
	p.mu.Unlock()
	p.ourC.Close()
	p.theirC.Close()
	for _, st := range sts {
		st.Reset()
	}
}

func (p *peers) close(t *testing.T) {
	p.ours.Close()
	<-p.ours.Done()
	// A spdystream frame worker blocks while a stream it delivers to is
	// not read; resetting the streams releases it.
	p.mu.Lock()
	sts := slices.Clone(p.theirStreams)
	p.mu.Unlock()
	for _, st := range sts {
		st.Reset()
	}
	p.theirs.Close()
	select {
	case <-p.served:
	case <-time.After(waitLimit):
		t.Error("spdystream's Serve did not return")
	}
	if err := p.theirs.Wait(waitLimit); err == spdystream.ErrTimeout {
		t.Error("spdystream's shutdown did not finish")
	}
	p.theirC.Close()
	if p.tap != nil {
		<-p.tap.done
	}
	if !p.dog.Stop() {
		<-p.dogDone
	}
	p.mu.Lock()
	fired := p.dogFired
	p.mu.Unlock()
	if fired {
		t.Error("watchdog: the test hung and its connection was cut")
	}
}

// handle is spdystream's stream handler; it runs on a spdystream frame
// worker.
func (p *peers) handle(st *spdystream.Stream) {
	p.track(st)
	if p.opts.handler != nil {
		p.opts.handler(st)
		return
	}
	h := p.opts.replyHeader
	if h == nil {
		h = http.Header{}
	}
	if err := st.SendReply(h, false); err != nil {
		return
	}
	select {
	case p.accepted <- st:
	default:
		st.Reset()
	}
}

func (p *peers) track(st *spdystream.Stream) {
	p.mu.Lock()
	p.theirStreams = append(p.theirStreams, st)
	p.mu.Unlock()
}

// nextAccepted returns the next stream spdystream's default handler took.
func (p *peers) nextAccepted(t *testing.T) *spdystream.Stream {
	t.Helper()
	select {
	case st := <-p.accepted:
		return st
	case <-time.After(waitLimit):
		t.Fatal("spdystream accepted no stream")
		return nil
	}
}

// create opens a stream from spdystream's side.
func (p *peers) create(t *testing.T, h http.Header) *spdystream.Stream {
	t.Helper()
	if h == nil {
		h = http.Header{}
	}
	st, err := p.theirs.CreateStream(h, nil, false)
	if err != nil {
		t.Fatalf("spdystream CreateStream: %v", err)
	}
	p.track(st)
	return st
}

// open opens a stream from one side and returns both of its ends. Unless
// our side replies manually, it returns once the reply has arrived.
func (p *peers) open(t *testing.T, ctx context.Context, op opener, fields []hpackz.Field, h http.Header) (*stream.Stream, *spdystream.Stream) {
	t.Helper()
	manual := p.opts.cfg != nil && p.opts.cfg.ManualReply
	if op == byOurs {
		ours, err := p.ours.Open(ctx, &session.OpenOptions{Headers: fields})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		theirs := p.nextAccepted(t)
		if _, err := ours.WaitHeaders(ctx); err != nil {
			t.Fatalf("WaitHeaders: %v", err)
		}
		return ours, theirs
	}
	theirs := p.create(t, h)
	ours, err := p.ours.Accept(ctx)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	if !manual {
		if err := theirs.WaitTimeout(waitLimit); err != nil {
			t.Fatalf("spdystream Wait: %v", err)
		}
	}
	return ours, theirs
}

// testContext bounds a test's calls into our session.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// tcpPair returns two ends of a loopback TCP connection: the dialing end
// and the accepted one.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- nil
			return
		}
		ch <- c
	}()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c2 := <-ch
	if c2 == nil {
		c1.Close()
		t.Fatal("accept failed")
	}
	return c1, c2
}

// pattern is a deterministic byte source (AES-CTR keyed by a seed), fast
// also under the race detector.
type pattern struct{ s cipher.Stream }

func newPattern(seed uint32) *pattern {
	key := make([]byte, 16)
	key[0], key[1], key[2], key[3] = byte(seed), byte(seed>>8), byte(seed>>16), byte(seed>>24)
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	return &pattern{cipher.NewCTR(b, make([]byte, 16))}
}

func (p *pattern) fill(b []byte) {
	clear(b)
	p.s.XORKeyStream(b, b)
}

func (p *pattern) bytes(n int) []byte {
	b := make([]byte, n)
	p.fill(b)
	return b
}

// tap is the connection spdystream holds when a test looks at the frames
// it reads: a second spdystream framer decodes a copy of the bytes.
type tap struct {
	net.Conn
	pw      *io.PipeWriter
	mu      sync.Mutex
	frames  []spdy.Frame
	changed chan struct{}
	done    chan struct{}
}

func newTap(c net.Conn) *tap {
	pr, pw := io.Pipe()
	tp := &tap{Conn: c, pw: pw, changed: make(chan struct{}), done: make(chan struct{})}
	go tp.observe(pr)
	return tp
}

func (tp *tap) Read(p []byte) (int, error) {
	n, err := tp.Conn.Read(p)
	if n > 0 {
		tp.pw.Write(p[:n])
	}
	if err != nil {
		tp.pw.CloseWithError(err)
	}
	return n, err
}

func (tp *tap) Close() error {
	tp.pw.Close()
	return tp.Conn.Close()
}

// observe records every control frame; DATA frames are not kept.
func (tp *tap) observe(pr *io.PipeReader) {
	defer close(tp.done)
	defer io.Copy(io.Discard, pr) // after a decoding error, keep the reader going
	fr, err := spdy.NewFramer(io.Discard, pr)
	if err != nil {
		return
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		if _, ok := f.(*spdy.DataFrame); ok {
			continue
		}
		tp.mu.Lock()
		tp.frames = append(tp.frames, f)
		close(tp.changed)
		tp.changed = make(chan struct{})
		tp.mu.Unlock()
	}
}

// wait returns the first frame spdystream read that matches.
func (tp *tap) wait(t *testing.T, what string, match func(spdy.Frame) bool) spdy.Frame {
	t.Helper()
	limit := time.NewTimer(waitLimit)
	defer limit.Stop()
	for {
		tp.mu.Lock()
		for _, f := range tp.frames {
			if match(f) {
				tp.mu.Unlock()
				return f
			}
		}
		ch := tp.changed
		tp.mu.Unlock()
		select {
		case <-ch:
		case <-tp.done:
			tp.mu.Lock()
			for _, f := range tp.frames {
				if match(f) {
					tp.mu.Unlock()
					return f
				}
			}
			tp.mu.Unlock()
			t.Fatalf("spdystream never read %s", what)
		case <-limit.C:
			t.Fatalf("spdystream never read %s", what)
		}
	}
}

// gateConn is our side's connection when a test must hold back what our
// session reads: bytes read while it is paused are handed over only when
// it resumes.
type gateConn struct {
	net.Conn
	mu     sync.Mutex
	cond   *sync.Cond
	paused bool
	closed bool
}

func newGate(c net.Conn) *gateConn {
	g := &gateConn{Conn: c}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *gateConn) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	g.mu.Lock()
	for g.paused && !g.closed {
		g.cond.Wait()
	}
	g.mu.Unlock()
	return n, err
}

func (g *gateConn) Close() error {
	g.mu.Lock()
	g.closed = true
	g.cond.Broadcast()
	g.mu.Unlock()
	return g.Conn.Close()
}

func (g *gateConn) pause() {
	g.mu.Lock()
	g.paused = true
	g.mu.Unlock()
}

func (g *gateConn) resume() {
	g.mu.Lock()
	g.paused = false
	g.cond.Broadcast()
	g.mu.Unlock()
}

// waitDone waits until st has ended on the wire.
func waitDone(t *testing.T, st *stream.Stream) {
	t.Helper()
	select {
	case <-st.Done():
	case <-time.After(waitLimit):
		t.Errorf("stream %d did not end on the wire", st.ID())
	}
}

// hasField reports whether fields holds name with value.
func hasField(fields []hpackz.Field, name, value string) bool {
	for _, f := range fields {
		if f.Name == name && f.Value == value {
			return true
		}
	}
	return false
}
