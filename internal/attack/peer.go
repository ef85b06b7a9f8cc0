package attack

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
)

// Target is the server an attack is aimed at.
type Target struct {
	// Addr is the server's host:port.
	Addr string
	// TLS, when set, makes attacks dial TLS and negotiate spdy/3.1 by ALPN
	// (NextProtos is replaced; an empty ServerName is set to Addr's host).
	// nil means plain TCP with prior knowledge, as spdyd and spdyproxy's
	// plain front end take it.
	TLS *tls.Config
	// Host is the :host of requests; "" means Addr.
	Host string
	// SmallPath names a small resource (a page that fits in one stream
	// window); "" means "/".
	SmallPath string
	// LargePath names a resource of at least 1 MiB that answers Range
	// requests; attacks that need a response that outlasts them ask for
	// it and do not read it.
	LargePath string
}

func (t *Target) host() string {
	if t.Host != "" {
		return t.Host
	}
	return t.Addr
}

func (t *Target) scheme() string {
	if t.TLS != nil {
		return "https"
	}
	return "http"
}

func (t *Target) small() string {
	if t.SmallPath == "" {
		return "/"
	}
	return t.SmallPath
}

func (t *Target) large() string {
	if t.LargePath == "" {
		return t.small()
	}
	return t.LargePath
}

// String returns the target as a URL.
func (t *Target) String() string { return t.scheme() + "://" + t.Addr }

// request returns the header fields of a GET of path, plus extra.
func (t *Target) request(path string, extra ...hpackz.Field) []hpackz.Field {
	f := []hpackz.Field{
		{Name: ":method", Value: "GET"},
		{Name: ":path", Value: path},
		{Name: ":version", Value: "HTTP/1.1"},
		{Name: ":host", Value: t.host()},
		{Name: ":scheme", Value: t.scheme()},
		{Name: "user-agent", Value: "spdyattack"},
	}
	return append(f, extra...)
}

// dialTimeout bounds a dial and its TLS handshake.
const dialTimeout = 10 * time.Second

// dial connects to the target, over TLS with ALPN spdy/3.1 when t.TLS is
// set.
func (t *Target) dial(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", t.Addr, err)
	}
	if t.TLS == nil {
		return c, nil
	}
	cfg := t.TLS.Clone()
	cfg.NextProtos = []string{"spdy/3.1"}
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(t.Addr)
		if err != nil {
			host = t.Addr
		}
		cfg.ServerName = host
	}
	tc := tls.Client(c, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", t.Addr, err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "spdy/3.1" {
		tc.Close()
		return nil, fmt.Errorf("tls handshake with %s: server chose %q, not spdy/3.1", t.Addr, p)
	}
	return tc, nil
}

// encoding selects how a peer compresses its header blocks.
type encoding int

const (
	// encStored writes stored deflate blocks (hpackz.NoCompression): a
	// few hundred bytes of state, for attacks with many connections.
	encStored encoding = iota
	// encRaw: the attack writes its header blocks itself, made by
	// selfContained.
	encRaw
)

// selfContained compresses fields into a deflate block that refers to no
// earlier byte of the stream (a fresh compress/flate writer at level 9,
// whose dynamic Huffman codes reach deflate's ratio of about 1000:1 on a
// run of one byte), ended by a sync flush. Such a block can follow any
// other in the stream, so an attack sends the same bytes again and again
// without compressing anew; the first block of a connection must start
// with the zlib header, which zlibHeader returns.
func selfContained(fields []hpackz.Field) ([]byte, error) {
	raw, err := hpackz.AppendUncompressed(nil, hpackz.V3, fields)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fw, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := fw.Write(raw); err != nil {
		return nil, err
	}
	if err := fw.Flush(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// zlibHeader returns the zlib header that opens a direction's stream of
// SPDY/3 header blocks: deflate with a 32 KiB window, the preset
// dictionary flag, and the dictionary's Adler-32.
func zlibHeader() []byte {
	const cmf = 0x78
	flg := byte(0xe0 | 0x20) // level 3 (best), FDICT
	flg += byte(31 - (uint16(cmf)<<8|uint16(flg))%31)
	return binary.BigEndian.AppendUint32([]byte{cmf, flg}, adler32.Checksum(hpackz.Dictionary(hpackz.V3)))
}

// peerConfig configures a raw peer.
type peerConfig struct {
	// initialWindow is sent as SETTINGS_INITIAL_WINDOW_SIZE when it is not
	// negative: the window the server may use on each stream toward us.
	initialWindow int64
	// sessionWindow is the delta of the WINDOW_UPDATE for stream 0 sent
	// after SETTINGS (0 for none). It also tells a sniffing server that
	// the peer speaks SPDY/3.1.
	sessionWindow uint32
	// answerPings makes the reader echo the server's PINGs, as every
	// SPDY endpoint must; a stuck peer does not.
	answerPings bool
	// noReader leaves the socket unread until startReader.
	noReader bool
	// autoWindow returns the stream window for the DATA read, as a
	// client reading its responses does.
	autoWindow bool
	// small uses small read and write buffers, for attacks with many
	// connections.
	small bool
	// enc is how header blocks are compressed.
	enc encoding
}

// bigSessionWindow is the session window a peer grants the server:
// responses never stall on it.
const bigSessionWindow = 1 << 30

// obs is what a peer saw from the server.
type obs struct {
	settings     map[framing.SettingID]uint32
	gotSettings  bool
	goAway       bool
	goAwayStatus framing.GoAwayStatus
	resets       map[framing.StatusCode]int
	resetOf      map[framing.StreamID]framing.StatusCode
	replies      int
	status       map[string]int
	answered     int // streams that got a SYN_REPLY or a RST_STREAM
	seen         map[framing.StreamID]bool
	data         map[framing.StreamID]int
	complete     int // streams whose reply and body arrived with FIN
	acked        map[uint32]bool
	closed       bool
	protoErr     error // what the server sent that we could not parse
}

func (o *obs) answer(id framing.StreamID) {
	if !o.seen[id] {
		o.seen[id] = true
		o.answered++
	}
}

// countingWriter counts the bytes written to a connection and bounds each
// write with a deadline, so that a server that stops reading cannot hang
// an attack.
type countingWriter struct {
	c     net.Conn
	n     atomic.Int64
	guard time.Duration
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.c.SetWriteDeadline(time.Now().Add(w.guard))
	n, err := w.c.Write(b)
	w.n.Add(int64(n))
	return n, err
}

// writeGuard bounds one write to the server.
const writeGuard = 10 * time.Second

// peer is one raw SPDY/3.1 client connection.
type peer struct {
	t    *Target
	cfg  peerConfig
	conn net.Conn
	cw   *countingWriter

	wmu      sync.Mutex // guards everything below up to mu
	bw       *bufio.Writer
	wfr      *framing.Framer
	enc      *hpackz.Encoder
	raw      []byte
	nextID   framing.StreamID
	nextPing uint32
	frames   int64
	writeErr error

	mu       sync.Mutex // guards o and the fields below
	o        obs
	ctlQ     []func(fr *framing.Framer) error // frames the reader answers with
	consumed map[framing.StreamID]int         // autoWindow: bytes not yet returned
	started  bool
	notify   chan struct{}
	ctlWake  chan struct{}
	done     chan struct{} // the reader ended
	ctlDone  chan struct{} // the control writer ended
	self     atomic.Bool   // we closed the connection
}

// dialPeer connects to t and sends the preface: SETTINGS and, with
// cfg.sessionWindow, the session WINDOW_UPDATE.
func dialPeer(ctx context.Context, t *Target, cfg peerConfig) (*peer, error) {
	c, err := t.dial(ctx)
	if err != nil {
		return nil, err
	}
	p := newPeer(t, c, cfg)
	set := []framing.Setting{{ID: framing.SettingMaxConcurrentStreams, Value: 100}}
	if cfg.initialWindow >= 0 {
		set = append(set, framing.Setting{ID: framing.SettingInitialWindowSize, Value: uint32(cfg.initialWindow)})
	}
	p.write(func(fr *framing.Framer) error { return fr.WriteSettings(0, set...) })
	if cfg.sessionWindow > 0 {
		p.write(func(fr *framing.Framer) error { return fr.WriteWindowUpdate(0, cfg.sessionWindow) })
	}
	if err := p.flush(); err != nil {
		p.close()
		return nil, fmt.Errorf("preface: %w", err)
	}
	return p, nil
}

func newPeer(t *Target, c net.Conn, cfg peerConfig) *peer {
	size := 64 << 10
	if cfg.small {
		size = 4 << 10
	}
	p := &peer{t: t, cfg: cfg, conn: c, nextID: 1, nextPing: 1,
		notify: make(chan struct{}, 1), ctlWake: make(chan struct{}, 1),
		done: make(chan struct{}), ctlDone: make(chan struct{})}
	p.cw = &countingWriter{c: c, guard: writeGuard}
	p.bw = bufio.NewWriterSize(p.cw, size)
	p.wfr = framing.NewFramer(p.bw, nil, framing.Version3)
	p.wfr.AllowIllegalWrites = true
	p.o = obs{
		settings: map[framing.SettingID]uint32{},
		resets:   map[framing.StatusCode]int{},
		resetOf:  map[framing.StreamID]framing.StatusCode{},
		status:   map[string]int{},
		seen:     map[framing.StreamID]bool{},
		data:     map[framing.StreamID]int{},
		acked:    map[uint32]bool{},
	}
	if !cfg.noReader {
		p.startReader()
	}
	return p
}

// startReader starts reading the server's frames.
func (p *peer) startReader() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		return
	}
	p.started = true
	size := 32 << 10
	if p.cfg.small {
		size = 4 << 10
	}
	go p.readLoop(bufio.NewReaderSize(p.conn, size))
	go p.ctlLoop()
}

// send queues a frame that answers the server (a PING reply, a
// WINDOW_UPDATE). The reader never writes itself: a write can block behind
// an attack's flood, and a reader that stops reading makes the server's
// last frames (its GOAWAY) wait in its socket, to be dropped when it
// closes.
func (p *peer) send(fn func(fr *framing.Framer) error) {
	p.mu.Lock()
	p.ctlQ = append(p.ctlQ, fn)
	p.mu.Unlock()
	select {
	case p.ctlWake <- struct{}{}:
	default:
	}
}

// ctlLoop writes the frames queued by send until the reader ends.
func (p *peer) ctlLoop() {
	defer close(p.ctlDone)
	for {
		select {
		case <-p.ctlWake:
		case <-p.done:
			return
		}
		p.mu.Lock()
		q := p.ctlQ
		p.ctlQ = nil
		p.mu.Unlock()
		p.wmu.Lock()
		for _, fn := range q {
			p.writeLocked(fn)
		}
		if p.writeErr == nil {
			if err := p.bw.Flush(); err != nil {
				p.writeErr = err
			}
		}
		p.wmu.Unlock()
	}
}

// write runs fn with the write Framer, unless an earlier write failed, and
// counts the frame.
func (p *peer) write(fn func(fr *framing.Framer) error) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	return p.writeLocked(fn)
}

func (p *peer) writeLocked(fn func(fr *framing.Framer) error) error {
	if p.writeErr != nil {
		return p.writeErr
	}
	p.frames++
	if err := fn(p.wfr); err != nil {
		p.writeErr = err
		return err
	}
	return nil
}

// writeRaw writes bytes that need not be a frame.
func (p *peer) writeRaw(b []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.writeErr != nil {
		return p.writeErr
	}
	if _, err := p.bw.Write(b); err != nil {
		p.writeErr = err
		return err
	}
	return nil
}

// flush writes what is buffered.
func (p *peer) flush() error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.writeErr != nil {
		return p.writeErr
	}
	if err := p.bw.Flush(); err != nil {
		p.writeErr = err
		return err
	}
	return nil
}

// block compresses a header block through the peer's context. It must be
// called with wmu held and the block written before the next one.
func (p *peer) block(fields []hpackz.Field) ([]byte, error) {
	switch p.cfg.enc {
	case encRaw:
		return nil, errors.New("this peer writes its blocks itself")
	default:
		if p.enc == nil {
			p.enc = hpackz.NewEncoder(hpackz.V3, &hpackz.EncoderOptions{Level: hpackz.NoCompression})
		}
		b, err := p.enc.AppendBlock(p.raw[:0], fields)
		if err != nil {
			return nil, err
		}
		p.raw = b
		return b, nil
	}
}

// countFrame counts a frame written with writeRaw.
func (p *peer) countFrame() {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.frames++
}

// newStream returns the next stream id of ours.
func (p *peer) newStream() framing.StreamID {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	id := p.nextID
	p.nextID += 2
	return id
}

// synStream writes a SYN_STREAM opening id with fields.
func (p *peer) synStream(id framing.StreamID, fin bool, fields []hpackz.Field) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	return p.writeLocked(func(fr *framing.Framer) error {
		b, err := p.block(fields)
		if err != nil {
			return fmt.Errorf("header block: %w", err)
		}
		return fr.WriteSynStream(id, 0, 0, finFlag(fin), b)
	})
}

// synStreamBlock writes a SYN_STREAM opening id with a header block the
// caller compressed (encRaw).
func (p *peer) synStreamBlock(id framing.StreamID, fin bool, block []byte) error {
	return p.write(func(fr *framing.Framer) error { return fr.WriteSynStream(id, 0, 0, finFlag(fin), block) })
}

// finFlag returns FLAG_FIN when fin is set, no flag otherwise.
func finFlag(fin bool) framing.Flags {
	if fin {
		return framing.FlagFin
	}
	return 0
}

// headers writes a HEADERS frame with fields on id.
func (p *peer) headers(id framing.StreamID, fin bool, fields []hpackz.Field) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	return p.writeLocked(func(fr *framing.Framer) error {
		b, err := p.block(fields)
		if err != nil {
			return fmt.Errorf("header block: %w", err)
		}
		return fr.WriteHeaders(id, finFlag(fin), b)
	})
}

// ping writes a PING of ours and returns its id.
func (p *peer) ping() (uint32, error) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	id := p.nextPing
	p.nextPing += 2
	return id, p.writeLocked(func(fr *framing.Framer) error { return fr.WritePing(id) })
}

// broken reports whether a write failed.
func (p *peer) broken() bool {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	return p.writeErr != nil
}

// ended reports whether the session is over: the server sent GOAWAY or
// closed, or a write failed.
func (p *peer) ended() bool {
	if p.broken() {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.o.goAway || p.o.closed
}

// update changes the observations and wakes a waiter.
func (p *peer) update(fn func(o *obs)) {
	p.mu.Lock()
	fn(&p.o)
	p.mu.Unlock()
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// waitFor waits until cond holds (checked under the lock), the server
// closes the connection, d passes or ctx ends, and reports whether cond
// held. Only one goroutine may wait on a peer at a time.
func (p *peer) waitFor(ctx context.Context, d time.Duration, cond func(o *obs) bool) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		p.mu.Lock()
		ok, closed := cond(&p.o), p.o.closed
		p.mu.Unlock()
		if ok || closed {
			return ok
		}
		select {
		case <-p.notify:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// settleTimeout bounds the wait for the server's verdict on what a peer
// sent.
const settleTimeout = 15 * time.Second

// settle waits until the server has dealt with everything sent so far: it
// ended the session, or it answered a PING sent after the rest (frames are
// handled in order). It reports whether the session is still up.
func (p *peer) settle(ctx context.Context) bool {
	if p.ended() {
		p.waitFor(ctx, settleTimeout, func(o *obs) bool { return o.closed })
		return false
	}
	id, err := p.ping()
	if err == nil {
		err = p.flush()
	}
	if err != nil {
		p.waitFor(ctx, settleTimeout, func(o *obs) bool { return o.closed })
		return false
	}
	return p.waitFor(ctx, settleTimeout, func(o *obs) bool { return o.acked[id] && !o.goAway })
}

// alive reports whether the session answers a PING and has not ended.
func (p *peer) alive(ctx context.Context) bool {
	if p.ended() {
		return false
	}
	return p.settle(ctx)
}

// close sends GOAWAY (best effort) and closes the connection, then waits
// for the reader.
func (p *peer) close() {
	p.self.Store(true)
	p.wmu.Lock()
	if p.writeErr == nil {
		p.cw.guard = time.Second
		p.wfr.WriteGoAway(0, framing.GoAwayOK)
		p.bw.Flush()
	}
	p.writeErr = net.ErrClosed
	p.wmu.Unlock()
	p.conn.Close()
	p.mu.Lock()
	started := p.started
	p.mu.Unlock()
	if started {
		<-p.done
		<-p.ctlDone
	}
}

// finish checks, for a session the server did not end, that it is still
// up, then closes the peer and adds what it saw to r.
func (p *peer) finish(ctx context.Context, r *Result) {
	if !p.ended() && p.alive(ctx) {
		r.Alive++
	}
	p.close()
	p.addTo(r)
}

// addTo adds the peer's counts to r.
func (p *peer) addTo(r *Result) {
	p.wmu.Lock()
	r.Frames += p.frames
	p.wmu.Unlock()
	r.Bytes += p.cw.n.Load()
	r.Conns++
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.o.goAway {
		r.goAway(p.o.goAwayStatus)
	}
	for s, n := range p.o.resets {
		r.reset(s, n)
	}
	if p.o.closed {
		r.Closed++
	}
	r.Replies += p.o.replies
	for s, n := range p.o.status {
		if r.HTTPStatus == nil {
			r.HTTPStatus = map[string]int{}
		}
		r.HTTPStatus[s] += n
	}
	r.Complete += p.o.complete
	if p.o.protoErr != nil && r.Err == nil {
		r.Err = fmt.Errorf("the server sent a frame this peer could not read: %w", p.o.protoErr)
	}
}

// readLoop reads the server's frames until the connection ends.
func (p *peer) readLoop(br *bufio.Reader) {
	defer close(p.done)
	fr := framing.NewFramer(nil, br, framing.Version3)
	dec := hpackz.NewDecoder(hpackz.V3, &hpackz.DecoderOptions{MaxBlockSize: 1 << 20})
	decode := func(b []byte) []hpackz.Field {
		f, err := dec.AppendFields(nil, b)
		if err != nil {
			p.update(func(o *obs) {
				if o.protoErr == nil {
					o.protoErr = fmt.Errorf("header block: %w", err)
				}
			})
		}
		return f
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			var se *framing.StreamError
			var ce *framing.ConnectionError
			if errors.As(err, &ce) || (errors.As(err, &se) && f != nil) {
				// The server broke the protocol: a finding of its own.
				p.update(func(o *obs) {
					if o.protoErr == nil {
						o.protoErr = err
					}
				})
				if ce == nil {
					continue
				}
			}
			self := p.self.Load()
			p.update(func(o *obs) { o.closed = o.closed || !self })
			return
		}
		switch f := f.(type) {
		case *framing.SettingsFrame:
			p.update(func(o *obs) {
				// A later frame replaces earlier values; within a frame
				// the first of duplicates counts.
				seen := map[framing.SettingID]bool{}
				for _, s := range f.Settings {
					if !seen[s.ID] {
						seen[s.ID] = true
						o.settings[s.ID] = s.Value
					}
				}
				o.gotSettings = true
			})
		case *framing.PingFrame:
			id := f.ID
			if id%2 == 0 {
				if p.cfg.answerPings {
					p.send(func(fr *framing.Framer) error { return fr.WritePing(id) })
				}
			} else {
				p.update(func(o *obs) { o.acked[id] = true })
			}
		case *framing.GoAwayFrame:
			if p.self.Load() {
				continue // the answer to our own GOAWAY
			}
			st := f.Status
			p.update(func(o *obs) {
				if !o.goAway {
					o.goAway, o.goAwayStatus = true, st
				}
			})
		case *framing.RstStreamFrame:
			id, st := f.StreamID, f.Status
			p.update(func(o *obs) {
				o.resets[st]++
				o.resetOf[id] = st
				o.answer(id)
			})
		case *framing.SynReplyFrame:
			id, fin := f.StreamID, f.StreamEnded()
			fields := decode(f.HeaderBlock)
			status := ""
			for _, h := range fields {
				if h.Name == ":status" {
					status, _, _ = strings.Cut(h.Value, " ") // "200 OK" gives "200"
				}
			}
			p.update(func(o *obs) {
				o.replies++
				o.status[status]++
				o.answer(id)
				if fin {
					o.complete++
				}
			})
		case *framing.HeadersFrame:
			decode(f.HeaderBlock)
			if f.StreamEnded() {
				p.update(func(o *obs) { o.complete++ })
			}
		case *framing.SynStreamFrame:
			decode(f.HeaderBlock) // a push: keep the context in step
			id := f.StreamID
			p.send(func(fr *framing.Framer) error { return fr.WriteRstStream(id, framing.StatusCancel) })
		case *framing.DataFrame:
			id, n, fin := f.StreamID, len(f.Data), f.StreamEnded()
			p.update(func(o *obs) {
				o.data[id] += n
				if fin {
					o.complete++
				}
			})
			if p.cfg.autoWindow && n > 0 && !fin {
				p.returnWindow(id, n)
			}
		}
	}
}

// returnWindow gives back the stream window of n bytes read on id, in
// updates of at least 16 KiB.
func (p *peer) returnWindow(id framing.StreamID, n int) {
	p.mu.Lock()
	if p.consumed == nil {
		p.consumed = map[framing.StreamID]int{}
	}
	p.consumed[id] += n
	d := p.consumed[id]
	if d >= 16<<10 {
		delete(p.consumed, id)
	}
	p.mu.Unlock()
	if d >= 16<<10 {
		p.send(func(fr *framing.Framer) error { return fr.WriteWindowUpdate(id, uint32(d)) })
	}
}

// settingOr returns the server's setting id, or def when it sent none.
func (p *peer) settingOr(id framing.SettingID, def uint32) (uint32, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.o.settings[id]
	if !ok {
		return def, false
	}
	return v, true
}

// waitSettings waits for the server's first SETTINGS frame.
func (p *peer) waitSettings(ctx context.Context) error {
	if !p.waitFor(ctx, settleTimeout, func(o *obs) bool { return o.gotSettings }) {
		return errors.New("the server sent no SETTINGS frame")
	}
	return nil
}

// statusOf returns the RST_STREAM status the server sent for id, if any.
func (p *peer) statusOf(id framing.StreamID) (framing.StatusCode, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.o.resetOf[id]
	return s, ok
}
