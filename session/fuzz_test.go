package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/spdygo/spdy/flowctl"
	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/stream"
)

// FuzzServerSession feeds arbitrary bytes to a server session as what its
// client sends, drains what it writes back, then ends the input (the
// client's half-close). It checks that the session never panics, ends
// (Done closes) once its input ends, leaves no goroutine behind, keeps the
// data it buffers within its limits, writes only frames that parse and
// header blocks that decode, and never hands its application a byte the
// client did not send or a clean end of a stream the client did not
// finish.
//
// The first byte of the input chooses the setup:
//
//	bits 0-1  0 SPDY/3.1, 1 SPDY/3, 2 SPDY/2, 3 SPDY/3.1 with UnlimitedPeerWindow
//	bit 2     the rest is a program of frames (below); otherwise raw bytes
//	bit 3     the application reads its streams, answers them and pushes on
//	          those that ask (a "push" header); otherwise it only accepts them
//	bit 4     small limits (4 streams, 4 KiB windows, 1 KiB control frames
//	          and header blocks, 16 queued control frames)
//	bit 5     Config.V2Compat in SPDY/2, Config.ManualReply otherwise
//
// A program is a sequence of operations, each an opcode byte and its
// operands; an input that ends early ends the program. Stream ids are one
// byte. The harness compresses the header blocks with one encoder, as a real
// client does, so that programs reach the states behind the header layer,
// and fills DATA payloads with a pattern of their stream and offset, so
// that the application can check every byte it reads:
//
//	op%13 = 0   DATA          id, flags, length (2 bytes, big-endian)
//	        1   SYN_STREAM    id, flags, associated id, priority, fields
//	        2   SYN_REPLY     id, flags, fields
//	        3   RST_STREAM    id, status
//	        4   SETTINGS      flags, count (%9), count × (id, flags, value (4 bytes))
//	        5   NOOP          (a SPDY/2 NOOP; an unknown frame type otherwise)
//	        6   PING          id (4 bytes)
//	        7   GOAWAY        last-good id, status
//	        8   HEADERS       id, flags, fields
//	        9   WINDOW_UPDATE id, delta (4 bytes)
//	       10   raw bytes     length, bytes
//	       11   SYN_STREAM    id, flags, length, a raw header block
//	       12   sync          wait until the session has handled what was
//	                          sent and the application has taken its streams
//
// fields are a count (%5), then count × (name length (%16), name, value
// length (%32), value); name bytes map to lower-case letters, digits and
// '-'. Fields the encoder refuses are dropped. A program without the two
// raw operations has its data checked byte by byte.
//
// The seed corpus in testdata/fuzz/FuzzServerSession holds every frame of
// the protocol's test vectors as raw input, and programs for a request and
// its response, every frame type, flow-control overruns, stream limits,
// pushes and each version; it runs in every `go test`.
func FuzzServerSession(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		runFuzzServer(t, in)
	})
}

// fuzzWatchdog bounds the waits of one run. It detects hangs; it is not a
// measure of speed.
const fuzzWatchdog = 10 * time.Second

// fuzzMaxGenerated bounds the DATA payload bytes one program generates.
const fuzzMaxGenerated = 4 << 20

// fuzzMaxHeapInuse is the generous bound on the heap in use while a run's
// session holds its input.
const fuzzMaxHeapInuse = 512 << 20

// fuzzMaxAppStreams is how many streams the application serves at once;
// it resets the others.
const fuzzMaxAppStreams = 32

func fuzzPatternByte(id framing.StreamID, off int64) byte {
	return faultPatternByte(uint64(id)|1<<20, off)
}

// fuzzHalf is one end of an in-memory connection whose write side can be
// closed on its own (CloseWrite), as a TCP connection's can.
type fuzzHalf struct {
	r         *io.PipeReader
	w         *io.PipeWriter
	closeOnce sync.Once
}

type fuzzAddr struct{}

func (fuzzAddr) Network() string { return "fuzz" }
func (fuzzAddr) String() string  { return "fuzz" }

// fuzzConnPair returns the client's and the server's ends.
func fuzzConnPair() (*fuzzHalf, *fuzzHalf) {
	r1, w1 := io.Pipe() // client to server
	r2, w2 := io.Pipe() // server to client
	return &fuzzHalf{r: r2, w: w1}, &fuzzHalf{r: r1, w: w2}
}

func (c *fuzzHalf) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *fuzzHalf) Write(p []byte) (int, error) { return c.w.Write(p) }
func (c *fuzzHalf) CloseWrite() error           { return c.w.Close() }
func (c *fuzzHalf) Close() error {
	c.closeOnce.Do(func() {
		c.w.Close()
		c.r.CloseWithError(net.ErrClosed)
	})
	return nil
}
func (c *fuzzHalf) LocalAddr() net.Addr              { return fuzzAddr{} }
func (c *fuzzHalf) RemoteAddr() net.Addr             { return fuzzAddr{} }
func (c *fuzzHalf) SetDeadline(time.Time) error      { return nil }
func (c *fuzzHalf) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzHalf) SetWriteDeadline(time.Time) error { return nil }

// fuzzSent is what a program sent on one stream after its first
// SYN_STREAM.
type fuzzSent struct {
	n      int64 // DATA bytes before the FIN (all of them without one)
	fin    bool
	finOff int64
}

// fuzzProgram turns a program into frames.
type fuzzProgram struct {
	in       []byte
	out      []byte
	segments [][]byte // the frames before each sync
	fr       *framing.Framer
	enc      *hpackz.Encoder
	wire     framing.Version
	gen      int
	checked  bool // no raw operation: the data can be checked
	sent     map[framing.StreamID]*fuzzSent
	scratch  []byte
}

func (p *fuzzProgram) byte() (byte, bool) {
	if len(p.in) == 0 {
		return 0, false
	}
	b := p.in[0]
	p.in = p.in[1:]
	return b, true
}

func (p *fuzzProgram) bytes(n int) ([]byte, bool) {
	if len(p.in) < n {
		return nil, false
	}
	b := p.in[:n]
	p.in = p.in[n:]
	return b, true
}

func (p *fuzzProgram) u32() (uint32, bool) {
	b, ok := p.bytes(4)
	if !ok {
		return 0, false
	}
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), true
}

const fuzzNameBytes = "abcdefghijklmnopqrstuvwxyz0123456789-:"

func (p *fuzzProgram) fields() ([]hpackz.Field, bool) {
	c, ok := p.byte()
	if !ok {
		return nil, false
	}
	var fields []hpackz.Field
	for range c % 5 {
		nl, ok := p.byte()
		if !ok {
			return nil, false
		}
		nb, ok := p.bytes(int(nl % 16))
		if !ok {
			return nil, false
		}
		name := make([]byte, len(nb))
		for i, b := range nb {
			name[i] = fuzzNameBytes[int(b)%len(fuzzNameBytes)]
		}
		vl, ok := p.byte()
		if !ok {
			return nil, false
		}
		vb, ok := p.bytes(int(vl % 32))
		if !ok {
			return nil, false
		}
		fields = append(fields, hpackz.Field{Name: string(name), Value: string(vb)})
	}
	return fields, true
}

// block encodes fields, or none if the encoder refuses them.
func (p *fuzzProgram) block(fields []hpackz.Field) []byte {
	b, err := p.enc.AppendBlock(nil, fields)
	if err != nil {
		b, err = p.enc.AppendBlock(nil, nil)
		if err != nil {
			panic(err) // an empty block always encodes
		}
	}
	return b
}

func (p *fuzzProgram) frame(f framing.Frame) {
	out, err := p.fr.AppendFrame(p.out, f)
	if err == nil {
		p.out = out
	}
}

func (p *fuzzProgram) stream(id framing.StreamID) *fuzzSent {
	return p.sent[id]
}

// fin records a FIN on id at the current offset.
func (p *fuzzProgram) fin(id framing.StreamID, flags framing.Flags) {
	if st := p.stream(id); st != nil && flags.Has(framing.FlagFin) && !st.fin {
		st.fin, st.finOff = true, st.n
	}
}

// run builds the frames of the whole program.
func (p *fuzzProgram) run() {
	for {
		op, ok := p.byte()
		if !ok {
			return
		}
		if op%13 == 12 {
			p.segments = append(p.segments, p.out)
			p.out = nil
			continue
		}
		if !p.step(op % 13) {
			return
		}
	}
}

func (p *fuzzProgram) step(op byte) bool {
	hdr := func(typ framing.FrameType, flags byte, id byte) framing.FrameHeader {
		return framing.FrameHeader{Type: typ, Flags: framing.Flags(flags), StreamID: framing.StreamID(id)}
	}
	switch op {
	case 0: // DATA
		b, ok := p.bytes(4)
		if !ok {
			return false
		}
		id, flags := framing.StreamID(b[0]), framing.Flags(b[1])
		n := int(b[2])<<8 | int(b[3])
		if p.gen+n > fuzzMaxGenerated {
			n = 0
		}
		p.gen += n
		data := p.scratch[:0]
		var off int64
		st := p.stream(id)
		if st != nil && !st.fin {
			off = st.n
			st.n += int64(n)
		}
		for i := range n {
			data = append(data, fuzzPatternByte(id, off+int64(i)))
		}
		p.scratch = data
		p.frame(&framing.DataFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameData, Flags: flags, StreamID: id}, Data: data})
		p.fin(id, flags)
	case 1: // SYN_STREAM
		b, ok := p.bytes(4)
		if !ok {
			return false
		}
		fields, ok := p.fields()
		if !ok {
			return false
		}
		id := framing.StreamID(b[0])
		p.frame(&framing.SynStreamFrame{FrameHeader: hdr(framing.FrameSynStream, b[1], b[0]),
			AssociatedToStreamID: framing.StreamID(b[2]), Priority: b[3] % 8, HeaderBlock: p.block(fields)})
		if p.sent[id] == nil {
			// Only the first SYN_STREAM of an id can open a stream.
			p.sent[id] = &fuzzSent{}
			p.fin(id, framing.Flags(b[1]))
		}
	case 2, 8: // SYN_REPLY, HEADERS
		b, ok := p.bytes(2)
		if !ok {
			return false
		}
		fields, ok := p.fields()
		if !ok {
			return false
		}
		block := p.block(fields)
		if op == 2 {
			// A client's SYN_REPLY answers no stream of a server: its FIN
			// ends nothing.
			p.frame(&framing.SynReplyFrame{FrameHeader: hdr(framing.FrameSynReply, b[1], b[0]), HeaderBlock: block})
		} else {
			p.frame(&framing.HeadersFrame{FrameHeader: hdr(framing.FrameHeaders, b[1], b[0]), HeaderBlock: block})
			p.fin(framing.StreamID(b[0]), framing.Flags(b[1]))
		}
	case 3: // RST_STREAM
		b, ok := p.bytes(2)
		if !ok {
			return false
		}
		p.frame(&framing.RstStreamFrame{FrameHeader: hdr(framing.FrameRstStream, 0, b[0]), Status: framing.StatusCode(b[1])})
	case 4: // SETTINGS
		b, ok := p.bytes(2)
		if !ok {
			return false
		}
		var set []framing.Setting
		for range b[1] % 9 {
			e, ok := p.bytes(6)
			if !ok {
				return false
			}
			set = append(set, framing.Setting{ID: framing.SettingID(e[0]), Flags: framing.SettingFlags(e[1]),
				Value: uint32(e[2])<<24 | uint32(e[3])<<16 | uint32(e[4])<<8 | uint32(e[5])})
		}
		p.frame(&framing.SettingsFrame{FrameHeader: hdr(framing.FrameSettings, b[0], 0), Settings: set})
	case 5: // NOOP
		if p.wire == framing.Version2 {
			p.frame(&framing.NoopFrame{FrameHeader: hdr(framing.FrameNoop, 0, 0)})
		} else {
			p.frame(&framing.UnknownFrame{FrameHeader: hdr(framing.FrameType(0x77), 0, 0), Payload: []byte{0, 0, 0, 1}})
		}
	case 6: // PING
		id, ok := p.u32()
		if !ok {
			return false
		}
		p.frame(&framing.PingFrame{FrameHeader: hdr(framing.FramePing, 0, 0), ID: id})
	case 7: // GOAWAY
		b, ok := p.bytes(2)
		if !ok {
			return false
		}
		p.frame(&framing.GoAwayFrame{FrameHeader: hdr(framing.FrameGoAway, 0, 0), LastGoodStreamID: framing.StreamID(b[0]), Status: framing.GoAwayStatus(b[1])})
	case 9: // WINDOW_UPDATE
		id, ok := p.byte()
		if !ok {
			return false
		}
		d, ok := p.u32()
		if !ok {
			return false
		}
		p.frame(&framing.WindowUpdateFrame{FrameHeader: hdr(framing.FrameWindowUpdate, 0, id), DeltaWindowSize: d})
	case 10: // raw bytes
		n, ok := p.byte()
		if !ok {
			return false
		}
		b, ok := p.bytes(int(n))
		if !ok {
			return false
		}
		p.checked = false
		p.out = append(p.out, b...)
	case 11: // SYN_STREAM with a raw header block
		b, ok := p.bytes(3)
		if !ok {
			return false
		}
		block, ok := p.bytes(int(b[2]))
		if !ok {
			return false
		}
		p.checked = false
		p.frame(&framing.SynStreamFrame{FrameHeader: hdr(framing.FrameSynStream, b[1], b[0]), HeaderBlock: block})
	}
	return true
}

// fuzzRead is what the application read from one stream.
type fuzzRead struct {
	n   int64
	eof bool
	err error
}

// fuzzApp is the server's application.
type fuzzApp struct {
	ss      *Session
	serve   bool // read, answer and push
	checked bool // payloads follow fuzzPatternByte
	wg      sync.WaitGroup
	mu      sync.Mutex
	reads   map[framing.StreamID]*fuzzRead
	bad     []string
	active  int
	nAccept uint64        // streams Accept returned
	ended   bool          // Accept failed: the session is ending
	moved   chan struct{} // signaled when nAccept grows or Accept fails
}

// accept takes the next stream from Accept and counts it, or records that
// Accept failed (the session is ending), for waitAccepted.
func (a *fuzzApp) accept() (*stream.Stream, bool) {
	st, err := a.ss.Accept(context.Background())
	a.mu.Lock()
	if err != nil {
		a.ended = true
	} else {
		a.nAccept++
	}
	a.mu.Unlock()
	select {
	case a.moved <- struct{}{}:
	default:
	}
	return st, err == nil
}

func (a *fuzzApp) problem(format string, args ...any) {
	a.mu.Lock()
	a.bad = append(a.bad, fmt.Sprintf(format, args...))
	a.mu.Unlock()
}

func (a *fuzzApp) acceptLoop() {
	defer a.wg.Done()
	for {
		st, ok := a.accept()
		if !ok {
			return
		}
		if !a.serve {
			continue
		}
		a.mu.Lock()
		full := a.active >= fuzzMaxAppStreams
		if !full {
			a.active++
		}
		a.mu.Unlock()
		if full {
			st.Reset(framing.StatusRefusedStream)
			continue
		}
		a.wg.Add(2)
		answered := make(chan struct{})
		go a.readStream(st, answered)
		go a.answer(st, answered)
	}
}

// readStream reads st to its end, checking the data, and closes it once it
// is answered.
func (a *fuzzApp) readStream(st *stream.Stream, answered <-chan struct{}) {
	defer a.wg.Done()
	defer func() {
		a.mu.Lock()
		a.active--
		a.mu.Unlock()
	}()
	r := &fuzzRead{}
	buf := make([]byte, 5000)
	check := a.checked
	for {
		n, err := st.Read(buf)
		for i := range buf[:n] {
			if !check {
				break
			}
			if want := fuzzPatternByte(st.ID(), r.n+int64(i)); buf[i] != want {
				a.problem("stream %d: byte %d is %#x, want %#x", st.ID(), r.n+int64(i), buf[i], want)
				check = false // one report per stream
			}
		}
		r.n += int64(n)
		if err != nil {
			r.eof = err == io.EOF
			r.err = err
			break
		}
	}
	<-answered
	st.Close()
	a.mu.Lock()
	if a.reads[st.ID()] != nil {
		a.bad = append(a.bad, fmt.Sprintf("stream %d accepted twice", st.ID()))
	}
	a.reads[st.ID()] = r
	a.mu.Unlock()
}

// waitAccepted waits until the application has taken every stream the
// session accepted, or the session has ended.
func (a *fuzzApp) waitAccepted(watch <-chan time.Time, t *testing.T) {
	for {
		a.mu.Lock()
		n, ended := a.nAccept, a.ended
		a.mu.Unlock()
		if ended || n >= a.ss.Stats().StreamsAccepted {
			// A session that is ending drops the streams it queued.
			return
		}
		select {
		case <-a.moved:
		case <-a.ss.Done():
			return
		case <-watch:
			t.Fatalf("watchdog: Accept did not return the streams of a live session in %v\n%s", fuzzWatchdog, faultStacks())
		}
	}
}

// answer replies, pushes if asked, and ends its side.
func (a *fuzzApp) answer(st *stream.Stream, answered chan<- struct{}) {
	defer a.wg.Done()
	defer close(answered)
	for _, f := range st.Headers() {
		if f.Name == "push" {
			p, err := a.ss.Push(context.Background(), st.ID(), []hpackz.Field{{Name: "url", Value: "/pushed"}}, 3)
			if err == nil {
				p.Write([]byte("pushed"))
				p.Close()
			}
			break
		}
	}
	if _, err := st.Write([]byte("response")); err != nil {
		return
	}
	st.CloseWrite()
}

// fuzzClient is the client's end: it writes the input and reads what the
// session writes.
type fuzzClient struct {
	fuzzPeerEnd
}

// fuzzPeerEnd is what the harnesses' ends of the connection share: the
// connection, and the PINGs that sync waits for.
type fuzzPeerEnd struct {
	c      *fuzzHalf
	wire   framing.Version
	compat bool // Config.V2Compat: SPDY/2 with WINDOW_UPDATE
	mu     sync.Mutex
	pings  map[uint32]chan struct{}
	blind  chan struct{} // closed when drain stops parsing
}

func newFuzzPeerEnd(c *fuzzHalf, wire framing.Version, compat bool) fuzzPeerEnd {
	return fuzzPeerEnd{c: c, wire: wire, compat: compat, pings: make(map[uint32]chan struct{}), blind: make(chan struct{})}
}

// fuzzOut is what the session has sent on one stream.
type fuzzOut struct {
	opened bool // SYN_STREAM or SYN_REPLY sent
	fin    bool
	reset  bool // reset after it opened
}

// drain reads what the session writes until it closes the connection and
// checks it: the frames parse, their header blocks decode, and the session
// keeps the rules of a sender: server ids for its streams, in order; one
// SYN_REPLY per client stream; nothing on a stream after its FIN, or after
// it reset the stream once it had opened or answered it; one GOAWAY, and no new
// stream after it. It never stops reading, so the session never blocks on
// its connection.
func (c *fuzzClient) drain(hver hpackz.Version, problem func(string, ...any)) {
	defer io.Copy(io.Discard, c.c)
	defer close(c.blind)
	fr := framing.NewFramer(nil, c.c, c.wire)
	dec := hpackz.NewDecoder(hver, nil)
	streams := make(map[framing.StreamID]*fuzzOut)
	var lastPush framing.StreamID
	goaway := false
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) {
				problem("session wrote a frame that does not parse: %v", err)
			}
			return
		}
		h := f.Header()
		st := streams[h.StreamID]
		if st == nil && h.StreamID != 0 {
			st = &fuzzOut{}
			streams[h.StreamID] = st
		}
		var block []byte
		switch f := f.(type) {
		case *framing.SynStreamFrame:
			block = f.HeaderBlock
			switch {
			case f.StreamID.ClientInitiated() || f.StreamID <= lastPush:
				problem("session opened stream %d after %d", f.StreamID, lastPush)
			case goaway:
				problem("session opened stream %d after its GOAWAY", f.StreamID)
			}
			lastPush = f.StreamID
		case *framing.SynReplyFrame:
			block = f.HeaderBlock
			if st.opened || st.fin || !f.StreamID.ClientInitiated() {
				problem("session wrote %v on a stream it had answered or ended, or of its own", f)
			}
		case *framing.HeadersFrame, *framing.DataFrame:
			if hf, ok := f.(*framing.HeadersFrame); ok {
				block = hf.HeaderBlock
			}
			if st.fin || st.reset {
				problem("session wrote %v after it ended or reset the stream", f)
			}
		case *framing.RstStreamFrame:
			// A reset before the stream opened answered frames for an id
			// the client had not opened yet; it may open it later.
			st.reset = st.opened
		case *framing.GoAwayFrame:
			if goaway {
				problem("session wrote a second GOAWAY: %v", f)
			}
			goaway = true
		case *framing.PingFrame:
			c.answered(f.ID)
		case *framing.UnknownFrame:
			if !c.compat || f.Type != framing.FrameWindowUpdate {
				problem("session wrote an unknown frame: %v", f)
			}
		}
		switch h.Type {
		case framing.FrameSynStream, framing.FrameSynReply:
			st.opened = true
		}
		if h.Flags.Has(framing.FlagFin) && (h.Type == framing.FrameData || h.Type == framing.FrameSynReply ||
			h.Type == framing.FrameHeaders || h.Type == framing.FrameSynStream) {
			st.fin = true
		}
		if block != nil {
			if _, err := dec.AppendFields(nil, block); err != nil {
				problem("session wrote a header block that does not decode: %v", err)
			}
		}
	}
}

// sync sends a PING and waits for its reply, the end of the session, or
// the end of parsing: the session has handled everything sent before it.
func (c *fuzzPeerEnd) sync(s *Session, id uint32, watch <-chan time.Time, t *testing.T) {
	ch := make(chan struct{})
	c.mu.Lock()
	c.pings[id] = ch
	c.mu.Unlock()
	b, _ := framing.NewFramer(nil, nil, c.wire).AppendFrame(nil, &framing.PingFrame{FrameHeader: framing.FrameHeader{Type: framing.FramePing}, ID: id})
	if _, err := c.c.Write(b); err != nil {
		return
	}
	select {
	case <-ch:
	case <-s.Done():
	case <-c.blind:
	case <-watch:
		t.Fatalf("watchdog: a live session did not answer a PING in %v\n%s", fuzzWatchdog, faultStacks())
	}
}

// answered wakes the sync waiting for the PING reply id, if any.
func (c *fuzzPeerEnd) answered(id uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch := c.pings[id]; ch != nil {
		close(ch)
		delete(c.pings, id)
	}
}

// fuzzWholeFrames reports whether b is a sequence of whole frames, so that
// a PING written after it is read as one.
func fuzzWholeFrames(b []byte) bool {
	for len(b) >= framing.FrameHeaderLen {
		n := framing.FrameHeaderLen + (int(b[5])<<16 | int(b[6])<<8 | int(b[7]))
		if n > len(b) {
			return false
		}
		b = b[n:]
	}
	return len(b) == 0
}

func fuzzConfig(mode byte) *Config {
	cfg := &Config{MaxBufferPerStream: 1 << 20}
	switch mode & 3 {
	case 0:
		cfg.Version = V31
	case 1:
		cfg.Version = V3
	case 2:
		cfg.Version = V2
	case 3:
		cfg.Version, cfg.UnlimitedPeerWindow = V31, true
	}
	if mode&16 != 0 {
		cfg.MaxConcurrentStreams = 4
		cfg.InitialWindowSize = 4 << 10
		cfg.MaxWindowSize = 8 << 10
		cfg.MaxBufferPerStream = 16 << 10
		cfg.MaxControlFrameSize = 1 << 10
		cfg.MaxHeaderBlockSize = 1 << 10
		cfg.MaxQueuedControl = 16
		cfg.MaxFrameSize = 1 << 10
	}
	if mode&32 != 0 {
		if cfg.Version == V2 {
			cfg.V2Compat = true
		} else {
			cfg.ManualReply = true
		}
	}
	return cfg
}

// checkBuffered checks, on the loop, that no stream holds more unread data
// than its limit allows and that no more streams are open than allowed.
func checkBuffered(t *testing.T, s *Session) {
	done := make(chan struct{})
	var msgs []string
	err := s.runOnLoop(context.Background(), func() {
		defer close(done)
		l := &s.l
		if l.nPeer > int(s.cfg.MaxConcurrentStreams) {
			msgs = append(msgs, fmt.Sprintf("%d peer streams open, limit %d", l.nPeer, s.cfg.MaxConcurrentStreams))
		}
		limit := s.cfg.MaxBufferPerStream
		if l.enforceIn {
			limit = int(max(s.cfg.MaxWindowSize, flowctl.DefaultWindow))
		}
		for id, ss := range l.streams {
			if b := ss.h.Buffered(); b > limit {
				msgs = append(msgs, fmt.Sprintf("stream %d buffers %d bytes, limit %d", id, b, limit))
			}
		}
	})
	if err != nil {
		return // the session ended
	}
	select {
	case <-done:
	case <-s.done:
		return
	}
	for _, m := range msgs {
		t.Error(m)
	}
}

func runFuzzServer(t *testing.T, in []byte) {
	baseline := runtime.NumGoroutine()
	mode := in[0]
	in = in[1:]
	cfg := fuzzConfig(mode)
	cc, sc := fuzzConnPair()
	ss, err := New(sc, Server, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wire, hver := ss.version.wire(), ss.version.headers()

	segments := [][]byte{in} // raw input
	prog := &fuzzProgram{checked: false}
	if mode&4 != 0 {
		fr := framing.NewFramer(nil, nil, wire)
		fr.AllowIllegalWrites = true
		prog = &fuzzProgram{in: in, fr: fr, enc: hpackz.NewEncoder(hver, nil), wire: wire, checked: true,
			sent: make(map[framing.StreamID]*fuzzSent)}
		prog.run()
		segments = append(prog.segments, prog.out)
	}

	app := &fuzzApp{ss: ss, serve: mode&8 != 0, checked: prog.checked,
		reads: make(map[framing.StreamID]*fuzzRead), moved: make(chan struct{}, 1)}
	app.wg.Add(1)
	go app.acceptLoop()
	client := &fuzzClient{fuzzPeerEnd: newFuzzPeerEnd(cc, wire, cfg.V2Compat)}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		client.drain(hver, app.problem)
	}()

	watch := time.NewTimer(fuzzWatchdog)
	defer watch.Stop()
	sent := 0
	for i, seg := range segments {
		sent += len(seg)
		written := make(chan struct{})
		go func() {
			defer close(written)
			cc.Write(seg) // fails once the session has closed its end
		}()
		select {
		case <-written:
		case <-watch.C:
			t.Fatalf("watchdog: a live session did not read its input in %v\n%s", fuzzWatchdog, faultStacks())
		}
		if !fuzzWholeFrames(seg) {
			break // a PING would be read as part of a frame
		}
		// Let the session handle the input and the application take its
		// streams and answer them before going on.
		id := 0x7fff0001 + 4*uint32(i)
		client.sync(ss, id, watch.C, t)
		app.waitAccepted(watch.C, t)
		client.sync(ss, id+2, watch.C, t)
	}
	checkBuffered(t, ss)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapInuse > fuzzMaxHeapInuse {
		t.Errorf("heap in use %d MiB after %d input bytes", ms.HeapInuse>>20, sent)
	}
	cc.CloseWrite()

	wait := func(what string, ch <-chan struct{}) {
		select {
		case <-ch:
		case <-watch.C:
			t.Fatalf("watchdog: %s did not happen in %v\n%s", what, fuzzWatchdog, faultStacks())
		}
	}
	wait("the session's end after its input ended", ss.Done())
	wait("the end of the session's output", drained)
	appDone := make(chan struct{})
	go func() {
		app.wg.Wait()
		close(appDone)
	}()
	wait("the return of the application's calls", appDone)
	cc.Close()

	if ss.Err() == nil {
		t.Error("session ended without an error")
	}
	for _, p := range app.bad {
		t.Error(p)
	}
	if prog.checked && app.serve {
		for id, r := range app.reads {
			sent := prog.sent[id]
			if sent == nil {
				t.Errorf("stream %d accepted, but the client never opened it", id)
				continue
			}
			most := sent.n
			if sent.fin {
				most = sent.finOff
			}
			if r.n > most {
				t.Errorf("stream %d: read %d bytes, the client sent %d", id, r.n, most)
			}
			if r.eof && (!sent.fin || r.n != sent.finOff) {
				t.Errorf("stream %d: io.EOF after %d bytes; the client sent %d, FIN=%v", id, r.n, sent.n, sent.fin)
			}
		}
	}

	// Every goroutine of the run has exited: the session's, the
	// application's and the harness's.
	for i := 0; runtime.NumGoroutine() > baseline; i++ {
		if i == 2000 {
			t.Fatalf("%d goroutines after the run, %d before\n%s", runtime.NumGoroutine(), baseline, faultStacks())
		}
		time.Sleep(time.Millisecond)
	}
}
