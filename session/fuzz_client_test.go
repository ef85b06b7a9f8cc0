package session

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/spdygo/spdy/flowctl"
	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/stream"
)

// FuzzClientSession runs a client session whose application opens streams
// (requests with and without bodies) and reads their responses and the
// pushes it is sent, while the fuzz input plays the server: arbitrary
// bytes, or a program of frames. It drains what the session writes, then
// ends the input (the server's half-close). It checks that the session
// never panics, ends (Done closes) once its input ends, leaves no goroutine
// behind, keeps the data it buffers within its limits, writes only frames
// that parse and header blocks that decode, keeps the rules of a client
// (odd stream ids in order, the request body it was given and a FIN only
// after all of it, nothing after a FIN or a reset, no SYN_REPLY to a
// unidirectional push, no more DATA than the windows the server granted),
// and never hands its application a byte (of data or of headers) the
// server did not send, or a clean end of a stream the server did not
// finish.
//
// The first byte of the input chooses the session:
//
//	bits 0-5  as for FuzzServerSession: the version, a program or raw
//	          bytes, small limits, V2Compat or ManualReply (bit 3 is
//	          the request bodies' size, below)
//	bit 3     request bodies beyond the initial window (70-110 KB);
//	          otherwise 1-300 bytes
//	bit 6     Config.RejectPush
//	bit 7     Config.ImplicitUnidirectionalPush
//
// and the second the application:
//
//	bits 0-2  the number of streams it opens before the input starts
//	bits 3-4  the kind of the first stream; each next one takes the next
//	          kind: 0 a GET (SYN_STREAM with FIN), 1 a body then FIN, then
//	          the response, 2 the body written while the response is read,
//	          3 a body without FIN, one read of the response, then Close
//	bit 5     Open waits at the server's stream limit (the default)
//	          instead of failing at once (Config.OpenFailsAtLimit); the
//	          opened streams are not checked byte by byte then, since when
//	          they open is not known
//	bit 6     the application accepts pushes but does not read them
//	bit 7     it calls Shutdown once the input is sent
//
// A program is FuzzServerSession's, with one more operation (op%14):
//
//	13  open    wait as sync does, then the application opens one more
//	            stream (at most 32 in all)
//
// Stream ids are one byte: the application's streams are 1, 3, 5, ... in
// the order it opens them. SYN_STREAM (op 1) opens a push (an even id),
// SYN_REPLY (op 2) answers a stream of the application, and a FIN on
// either ends it. The application's request headers carry the kind and the
// body length of each stream (x-kind, x-len), so that the checks of what
// the session writes hold for raw input too.
//
// The seed corpus in testdata/fuzz/FuzzClientSession holds programs for
// replies with data, trailers, pushes, resets, SETTINGS, PINGs, GOAWAY,
// window updates and flow-control overruns in each version, and raw
// inputs; it runs in every `go test`.
func FuzzClientSession(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 2 {
			return
		}
		runFuzzClient(t, in)
	})
}

// fuzzMaxOpens bounds the streams the application opens in one run.
const fuzzMaxOpens = 32

// fuzzSyncPing is the first PING id of the client harness's syncs; they
// are even, the server's.
const fuzzSyncPing = 0x7ffe0000

// Request kinds of the client application.
const (
	fuzzGet    = iota // SYN_STREAM with FIN
	fuzzPost          // the body, FIN, then the response
	fuzzDuplex        // the body written while the response is read
	fuzzCancel        // the body, one read, then Close
	fuzzKinds
)

// fuzzBodyByte is byte off of the request body of stream id.
func fuzzBodyByte(id framing.StreamID, off int64) byte {
	return faultPatternByte(uint64(id)|2<<20, off)
}

// fuzzBodyLen is the request body length of the k-th stream opened.
func fuzzBodyLen(k int, large bool) int {
	if large {
		return 70000 + (k*1009)%40000
	}
	return 1 + (k*37)%300
}

// fuzzServed is what a program sent on one stream: on a stream of the
// application from when it opened, on a push from its first SYN_STREAM.
type fuzzServed struct {
	fuzzSent
	local   bool // the application's stream
	replied bool // a SYN_REPLY (or, for a push, the SYN_STREAM) was taken
	dead    bool // the session has certainly reset or forgotten it
	uni     bool // a unidirectional push
	fields  map[hpackz.Field]bool
	names   map[string]bool
}

// fuzzSegment is the input before one sync, and the number of streams the
// application opens after it.
type fuzzSegment struct {
	b     []byte
	opens int
}

// fuzzServerProgram turns a program into the frames of a server. It
// builds on fuzzProgram, whose operations it shares, and models what the
// session takes of them.
type fuzzServerProgram struct {
	fuzzProgram
	segs     []fuzzSegment
	streams  map[framing.StreamID]*fuzzServed
	nOpen    int  // the streams the application has opened, in the model
	implicit bool // Config.ImplicitUnidirectionalPush
	// Flow control: the window credit granted per stream (id 0 the
	// session) beyond the protocol's initial 64 KiB, and whether a
	// SETTINGS frame may have changed the initial window.
	credit      map[framing.StreamID]int64
	initChanged bool
}

func (p *fuzzServerProgram) served(id framing.StreamID) *fuzzServed {
	if st := p.streams[id]; st != nil && !st.dead {
		return st
	}
	return nil
}

// open models the application's next stream.
func (p *fuzzServerProgram) open() {
	id := framing.StreamID(2*p.nOpen + 1)
	p.nOpen++
	p.streams[id] = &fuzzServed{local: true}
}

// emit appends f and reports whether it was written.
func (p *fuzzServerProgram) emit(f framing.Frame) bool {
	out, err := p.fr.AppendFrame(p.out, f)
	if err != nil {
		return false
	}
	p.out = out
	return true
}

// blockOf encodes fields and returns the block and the fields it holds
// (none if the encoder refuses them).
func (p *fuzzServerProgram) blockOf(fields []hpackz.Field) ([]byte, []hpackz.Field) {
	b, err := p.enc.AppendBlock(nil, fields)
	if err != nil {
		b, err = p.enc.AppendBlock(nil, nil)
		if err != nil {
			panic(err) // an empty block always encodes
		}
		return b, nil
	}
	return b, fields
}

// headers records the fields of a block the session takes on st. It
// reports false if a name repeats, which the session resets.
func (st *fuzzServed) headers(fields []hpackz.Field, checkDup bool) bool {
	if st.fields == nil {
		st.fields = make(map[hpackz.Field]bool)
		st.names = make(map[string]bool)
	}
	if checkDup {
		for _, f := range fields {
			if st.names[f.Name] {
				return false
			}
		}
	}
	for _, f := range fields {
		st.fields[f] = true
		st.names[f.Name] = true
	}
	return true
}

func (p *fuzzServerProgram) run() {
	for {
		op, ok := p.byte()
		if !ok {
			break
		}
		switch op % 14 {
		case 12:
			p.segs = append(p.segs, fuzzSegment{b: p.out})
			p.out = nil
			continue
		case 13:
			if p.nOpen < fuzzMaxOpens {
				p.segs = append(p.segs, fuzzSegment{b: p.out, opens: 1})
				p.out = nil
				p.open()
			}
			continue
		}
		if !p.step(op % 14) {
			break
		}
	}
	p.segs = append(p.segs, fuzzSegment{b: p.out})
	p.out = nil
}

func (p *fuzzServerProgram) step(op byte) bool {
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
		st := p.served(id)
		var off int64
		if st != nil && !st.fin && st.replied {
			off = st.n
		}
		data := p.scratch[:0]
		for i := range n {
			data = append(data, fuzzPatternByte(id, off+int64(i)))
		}
		p.scratch = data
		if !p.emit(&framing.DataFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameData, Flags: flags, StreamID: id}, Data: data}) || st == nil {
			return true
		}
		if st.fin || !st.replied {
			// Data after the FIN, or before the reply: a reset.
			st.dead = true
			return true
		}
		st.n += int64(n)
		p.fin(id, flags)
	case 1: // SYN_STREAM: a push
		b, ok := p.bytes(4)
		if !ok {
			return false
		}
		fields, ok := p.fields()
		if !ok {
			return false
		}
		id := framing.StreamID(b[0])
		block, taken := p.blockOf(fields)
		if !p.emit(&framing.SynStreamFrame{FrameHeader: hdr(framing.FrameSynStream, b[1], b[0]),
			AssociatedToStreamID: framing.StreamID(b[2]), Priority: b[3] % 8, HeaderBlock: block}) {
			return true
		}
		if p.streams[id] == nil && id != 0 && !id.ClientInitiated() {
			// Only the first SYN_STREAM of an id can open a push.
			flags := framing.Flags(b[1])
			st := &fuzzServed{replied: true,
				uni: flags.Has(framing.FlagUnidirectional) || (p.implicit && b[2] != 0)}
			st.headers(taken, false)
			p.streams[id] = st
			p.fin(id, flags)
		}
	case 2: // SYN_REPLY
		b, ok := p.bytes(2)
		if !ok {
			return false
		}
		fields, ok := p.fields()
		if !ok {
			return false
		}
		block, taken := p.blockOf(fields)
		if !p.emit(&framing.SynReplyFrame{FrameHeader: hdr(framing.FrameSynReply, b[1], b[0]), HeaderBlock: block}) {
			return true
		}
		st := p.served(framing.StreamID(b[0]))
		switch {
		case st == nil:
		case !st.local || st.replied || st.fin:
			st.dead = true // a reply to a push, a second reply, or one after the FIN
		default:
			st.replied = true
			st.headers(taken, false)
			p.fin(framing.StreamID(b[0]), framing.Flags(b[1]))
		}
	case 8: // HEADERS
		b, ok := p.bytes(2)
		if !ok {
			return false
		}
		fields, ok := p.fields()
		if !ok {
			return false
		}
		block, taken := p.blockOf(fields)
		if !p.emit(&framing.HeadersFrame{FrameHeader: hdr(framing.FrameHeaders, b[1], b[0]), HeaderBlock: block}) {
			return true
		}
		st := p.served(framing.StreamID(b[0]))
		switch {
		case st == nil:
		case st.fin || !st.replied || !st.headers(taken, true):
			st.dead = true
		default:
			p.fin(framing.StreamID(b[0]), framing.Flags(b[1]))
		}
	case 3: // RST_STREAM
		b, ok := p.bytes(2)
		if !ok {
			return false
		}
		if p.emit(&framing.RstStreamFrame{FrameHeader: hdr(framing.FrameRstStream, 0, b[0]), Status: framing.StatusCode(b[1])}) {
			if st := p.served(framing.StreamID(b[0])); st != nil {
				st.dead = true
			}
		}
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
			if framing.SettingID(e[0]) == framing.SettingInitialWindowSize {
				p.initChanged = true
			}
		}
		p.emit(&framing.SettingsFrame{FrameHeader: hdr(framing.FrameSettings, b[0], 0), Settings: set})
	case 6: // PING, never with the id of a sync
		id, ok := p.u32()
		if !ok {
			return false
		}
		if id&0xffff0000 == fuzzSyncPing {
			id ^= 0x00010000
		}
		p.emit(&framing.PingFrame{FrameHeader: hdr(framing.FramePing, 0, 0), ID: id})
	case 7: // GOAWAY
		b, ok := p.bytes(2)
		if !ok {
			return false
		}
		if p.emit(&framing.GoAwayFrame{FrameHeader: hdr(framing.FrameGoAway, 0, 0), LastGoodStreamID: framing.StreamID(b[0]), Status: framing.GoAwayStatus(b[1])}) {
			// The application's streams above the last good one fail.
			for id, st := range p.streams {
				if st.local && id > framing.StreamID(b[0]) {
					st.dead = true
				}
			}
		}
	case 9: // WINDOW_UPDATE
		id, ok := p.byte()
		if !ok {
			return false
		}
		d, ok := p.u32()
		if !ok {
			return false
		}
		if p.emit(&framing.WindowUpdateFrame{FrameHeader: hdr(framing.FrameWindowUpdate, 0, id), DeltaWindowSize: d}) {
			p.credit[framing.StreamID(id)] += int64(d)
		}
	default: // 5 NOOP, 10 raw bytes, 11 SYN_STREAM with a raw block
		return p.fuzzProgram.step(op)
	}
	return true
}

// fin records a FIN on id at the current offset.
func (p *fuzzServerProgram) fin(id framing.StreamID, flags framing.Flags) {
	if st := p.streams[id]; st != nil && flags.Has(framing.FlagFin) && !st.fin {
		st.fin, st.finOff = true, st.n
	}
}

// fuzzLocalRead is what the application got on one of its streams.
type fuzzLocalRead struct {
	fuzzRead
	checked bool // the model knows when it opened
	fields  []hpackz.Field
}

// fuzzClientApp is the client's application.
type fuzzClientApp struct {
	fuzzApp
	large    bool
	waitOpen bool
	readPush bool
	kind0    int
	nOpened  int // Open calls made
	openFail bool
	localMu  sync.Mutex
	local    map[framing.StreamID]*fuzzLocalRead
	pushMu   sync.Mutex
	pushHdrs map[framing.StreamID][]hpackz.Field // a push's headers when accepted
}

func (a *fuzzClientApp) acceptLoop() {
	defer a.wg.Done()
	for {
		st, ok := a.accept()
		if !ok {
			return
		}
		if st.ID().ClientInitiated() {
			a.problem("Accept returned stream %d, of the client's parity", st.ID())
		}
		a.pushMu.Lock()
		a.pushHdrs[st.ID()] = append([]hpackz.Field(nil), st.Headers()...)
		a.pushMu.Unlock()
		if !a.readPush {
			continue
		}
		a.mu.Lock()
		full := a.active >= fuzzMaxAppStreams
		if !full {
			a.active++
		}
		a.mu.Unlock()
		if full {
			st.Reset(framing.StatusCancel)
			continue
		}
		a.wg.Add(1)
		closed := make(chan struct{})
		close(closed)
		go a.readStream(st, closed)
	}
}

// openNext opens the application's next stream and serves it. In the
// default mode it returns once the stream is open, so that the program
// knows its id; with waitOpen the Open runs with the request.
func (a *fuzzClientApp) openNext() {
	if a.nOpened >= fuzzMaxOpens {
		return
	}
	k := a.nOpened
	a.nOpened++
	kind := (a.kind0 + k) % fuzzKinds
	n := 0
	if kind != fuzzGet {
		n = fuzzBodyLen(k, a.large)
	}
	maxPrio := 7
	if a.ss.Version() == V2 {
		maxPrio = 3
	}
	opts := &OpenOptions{
		Headers:  []hpackz.Field{{Name: "x-kind", Value: strconv.Itoa(kind)}, {Name: "x-len", Value: strconv.Itoa(n)}},
		Priority: uint8(k % (maxPrio + 1)),
		Fin:      kind == fuzzGet,
	}
	if a.waitOpen {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			st, err := a.ss.Open(context.Background(), opts)
			if err == nil {
				a.wg.Add(1)
				a.request(st, kind, n, false)
			}
		}()
		return
	}
	st, err := a.ss.Open(context.Background(), opts)
	if err != nil {
		a.openFail = true
		return
	}
	checked := a.checked && !a.openFail && st.ID() == framing.StreamID(2*k+1)
	if !checked {
		a.openFail = true // the ids of the model are off from now on
	}
	a.wg.Add(1)
	go a.request(st, kind, n, checked)
}

// request writes the body of one stream and reads its response.
func (a *fuzzClientApp) request(st *stream.Stream, kind, n int, checked bool) {
	defer a.wg.Done()
	id := st.ID()
	write := func() {
		body := make([]byte, n)
		for i := range body {
			body[i] = fuzzBodyByte(id, int64(i))
		}
		if _, err := st.Write(body); err != nil {
			return
		}
		if kind != fuzzCancel {
			st.CloseWrite()
		}
	}
	written := make(chan struct{})
	switch kind {
	case fuzzGet:
		close(written)
	case fuzzDuplex:
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			defer close(written)
			write()
		}()
	default:
		write()
		close(written)
	}
	r := &fuzzLocalRead{checked: checked}
	if _, err := st.WaitHeaders(context.Background()); err != nil {
		r.err = err
	} else {
		buf := make([]byte, 5000)
		check := checked
		for {
			m, err := st.Read(buf)
			for i := range buf[:m] {
				if !check {
					break
				}
				if want := fuzzPatternByte(id, r.n+int64(i)); buf[i] != want {
					a.problem("stream %d: response byte %d is %#x, want %#x", id, r.n+int64(i), buf[i], want)
					check = false
				}
			}
			r.n += int64(m)
			if err != nil {
				r.eof = err == io.EOF
				r.err = err
				break
			}
			if kind == fuzzCancel {
				break
			}
		}
	}
	<-written
	r.fields = append(append([]hpackz.Field(nil), st.Headers()...), st.Trailers()...)
	st.Close()
	a.localMu.Lock()
	if a.local[id] != nil {
		a.problem("stream %d opened twice", id)
	}
	a.local[id] = r
	a.localMu.Unlock()
}

// fuzzServerEnd is the server's end: it writes the input and reads what
// the client session writes.
type fuzzServerEnd struct {
	maxFrame int
	// Flow control, when the program allows the check: the most DATA
	// each stream (and the session, in SPDY/3.1) may carry.
	flow       bool
	sessFlow   bool
	credit     map[framing.StreamID]int64
	streamFlow bool
	uni        map[framing.StreamID]bool // the unidirectional pushes sent
	fuzzPeerEnd
}

// fuzzReq is what the client session has sent on one stream.
type fuzzReq struct {
	opened bool // SYN_STREAM (client stream) or SYN_REPLY (push) sent
	fin    bool
	reset  bool
	n      int64 // DATA bytes
	bodyN  int64 // the body length its headers announce
	bad    bool  // a problem was reported for its data already
}

// drain reads what the session writes until it closes the connection and
// checks it (see FuzzClientSession). It never stops reading.
func (c *fuzzServerEnd) drain(hver hpackz.Version, problem func(string, ...any)) {
	defer io.Copy(io.Discard, c.c)
	defer close(c.blind)
	fr := framing.NewFramer(nil, c.c, c.wire)
	dec := hpackz.NewDecoder(hver, nil)
	streams := make(map[framing.StreamID]*fuzzReq)
	var lastOpen framing.StreamID
	var sent int64 // DATA bytes on the session
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
			st = &fuzzReq{}
			streams[h.StreamID] = st
		}
		var block []byte
		switch f := f.(type) {
		case *framing.SynStreamFrame:
			switch {
			case !f.StreamID.ClientInitiated() || f.StreamID <= lastOpen:
				problem("session opened stream %d after %d", f.StreamID, lastOpen)
			case goaway:
				problem("session opened stream %d after its GOAWAY", f.StreamID)
			case f.AssociatedToStreamID != 0 || f.Flags.Has(framing.FlagUnidirectional):
				problem("client session pushed: %v", f)
			}
			lastOpen = f.StreamID
			fields, err := dec.AppendFields(nil, f.HeaderBlock)
			if err != nil {
				problem("session wrote a header block that does not decode: %v", err)
				break
			}
			kind, kerr := strconv.Atoi(fieldValue(fields, "x-kind"))
			n, nerr := strconv.ParseInt(fieldValue(fields, "x-len"), 10, 64)
			if kerr != nil || nerr != nil || len(fields) != 2 {
				problem("stream %d: request headers %q are not the application's", f.StreamID, fields)
				break
			}
			if (kind == fuzzGet) != f.Flags.Has(framing.FlagFin) {
				problem("stream %d: kind %d, SYN_STREAM flags %v", f.StreamID, kind, f.Flags)
			}
			st.bodyN = n
		case *framing.SynReplyFrame:
			block = f.HeaderBlock
			switch {
			case st.opened || st.fin || st.reset || f.StreamID.ClientInitiated():
				problem("session wrote %v on a stream it had answered or ended, or of its own", f)
			case c.uni[f.StreamID]:
				problem("session answered the unidirectional push %d", f.StreamID)
			}
		case *framing.HeadersFrame:
			block = f.HeaderBlock
			if st.fin || st.reset {
				problem("session wrote %v after it ended or reset the stream", f)
			}
		case *framing.DataFrame:
			if st.fin || st.reset {
				problem("session wrote %v after it ended or reset the stream", f)
			}
			if len(f.Data) > c.maxFrame {
				problem("session wrote %d bytes of DATA in one frame, its limit is %d", len(f.Data), c.maxFrame)
			}
			if !f.StreamID.ClientInitiated() || !st.opened {
				if len(f.Data) > 0 {
					problem("session wrote %d bytes on stream %d, which carries no body of its application", len(f.Data), f.StreamID)
				}
				break
			}
			for i, b := range f.Data {
				if st.bad {
					break
				}
				if want := fuzzBodyByte(f.StreamID, st.n+int64(i)); b != want || st.n+int64(i) >= st.bodyN {
					problem("stream %d: body byte %d is %#x, want %#x of a body of %d", f.StreamID, st.n+int64(i), b, want, st.bodyN)
					st.bad = true
				}
			}
			st.n += int64(len(f.Data))
			sent += int64(len(f.Data))
			if f.Flags.Has(framing.FlagFin) && st.n != st.bodyN {
				problem("stream %d: FIN after %d bytes of a body of %d", f.StreamID, st.n, st.bodyN)
			}
			if c.flow && c.streamFlow && st.n > flowctl.DefaultWindow+c.credit[f.StreamID] {
				problem("stream %d: %d bytes sent, the window allowed %d", f.StreamID, st.n, flowctl.DefaultWindow+c.credit[f.StreamID])
			}
			if c.flow && c.sessFlow && sent > flowctl.DefaultWindow+c.credit[0] {
				problem("%d bytes sent on the session, its window allowed %d", sent, flowctl.DefaultWindow+c.credit[0])
			}
		case *framing.RstStreamFrame:
			// A reset before the stream opened answered frames for an id
			// the session had not used yet; it may use it later.
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

// fieldValue returns the value of the field named name, or "".
func fieldValue(fields []hpackz.Field, name string) string {
	for _, f := range fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

func runFuzzClient(t *testing.T, in []byte) {
	baseline := runtime.NumGoroutine()
	mode, appMode := in[0], in[1]
	in = in[2:]
	cfg := fuzzConfig(mode)
	cfg.RejectPush = mode&64 != 0
	cfg.ImplicitUnidirectionalPush = mode&128 != 0
	cfg.OpenFailsAtLimit = appMode&32 == 0
	cc, sc := fuzzConnPair() // the client's end (the session's), the server's (the harness's)
	cs, err := New(cc, Client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wire, hver := cs.version.wire(), cs.version.headers()

	initial := int(appMode & 7)
	prog := &fuzzServerProgram{streams: make(map[framing.StreamID]*fuzzServed), credit: make(map[framing.StreamID]int64),
		implicit: cfg.ImplicitUnidirectionalPush}
	for range initial {
		prog.open()
	}
	segs := []fuzzSegment{{b: in}} // raw input
	if mode&4 != 0 {
		fr := framing.NewFramer(nil, nil, wire)
		fr.AllowIllegalWrites = true
		prog.fuzzProgram = fuzzProgram{in: in, fr: fr, enc: hpackz.NewEncoder(hver, nil), wire: wire, checked: true}
		prog.run()
		segs = prog.segs
	}
	checked := prog.checked

	app := &fuzzClientApp{
		fuzzApp: fuzzApp{ss: cs, checked: checked, reads: make(map[framing.StreamID]*fuzzRead), moved: make(chan struct{}, 1)},
		large:   mode&8 != 0, waitOpen: appMode&32 != 0, readPush: appMode&64 == 0, kind0: int(appMode>>3) & 3,
		local: make(map[framing.StreamID]*fuzzLocalRead), pushHdrs: make(map[framing.StreamID][]hpackz.Field),
	}
	app.wg.Add(1)
	go app.acceptLoop()

	server := &fuzzServerEnd{fuzzPeerEnd: newFuzzPeerEnd(sc, wire, cfg.V2Compat), maxFrame: DefaultMaxFrameSize}
	if cfg.MaxFrameSize > 0 {
		server.maxFrame = cfg.MaxFrameSize
	}
	if checked {
		server.uni = make(map[framing.StreamID]bool)
		for id, st := range prog.streams {
			if st.uni {
				server.uni[id] = true
			}
		}
		server.flow = !cfg.UnlimitedPeerWindow && (cfg.Version != V2 || cfg.V2Compat)
		server.sessFlow = cfg.Version == V31
		server.streamFlow = !prog.initChanged
		server.credit = prog.credit
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		server.drain(hver, app.problem)
	}()

	watch := time.NewTimer(fuzzWatchdog)
	defer watch.Stop()
	for range initial {
		app.openNext()
	}
	sent := 0
	for i, seg := range segs {
		sent += len(seg.b)
		written := make(chan struct{})
		go func() {
			defer close(written)
			sc.Write(seg.b) // fails once the session has closed its end
		}()
		select {
		case <-written:
		case <-watch.C:
			t.Fatalf("watchdog: a live session did not read its input in %v\n%s", fuzzWatchdog, faultStacks())
		}
		if !fuzzWholeFrames(seg.b) {
			break // a PING would be read as part of a frame
		}
		// Let the session handle the input and the application take its
		// pushes before going on.
		id := fuzzSyncPing + 4*uint32(i)
		server.sync(cs, id, watch.C, t)
		app.waitAccepted(watch.C, t)
		server.sync(cs, id+2, watch.C, t)
		for range seg.opens {
			app.openNext()
		}
	}
	if appMode&128 != 0 {
		app.wg.Add(1)
		go func() {
			defer app.wg.Done()
			cs.Shutdown(context.Background())
		}()
	}
	checkBuffered(t, cs)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapInuse > fuzzMaxHeapInuse {
		t.Errorf("heap in use %d MiB after %d input bytes", ms.HeapInuse>>20, sent)
	}
	sc.CloseWrite()

	wait := func(what string, ch <-chan struct{}) {
		select {
		case <-ch:
		case <-watch.C:
			t.Fatalf("watchdog: %s did not happen in %v\n%s", what, fuzzWatchdog, faultStacks())
		}
	}
	wait("the session's end after its input ended", cs.Done())
	wait("the end of the session's output", drained)
	appDone := make(chan struct{})
	go func() {
		app.wg.Wait()
		close(appDone)
	}()
	wait("the return of the application's calls", appDone)
	sc.Close()

	if cs.Err() == nil {
		t.Error("session ended without an error")
	}
	for _, p := range app.bad {
		t.Error(p)
	}
	if checked {
		model := func(what string, id framing.StreamID) *fuzzServed {
			st := prog.streams[id]
			if st == nil {
				t.Errorf("%s %d: the application got it, but the server never opened it", what, id)
			}
			return st
		}
		checkRead := func(what string, id framing.StreamID, r *fuzzRead) {
			st := model(what, id)
			if st == nil {
				return
			}
			most := st.n
			if st.fin {
				most = st.finOff
			}
			if r.n > most {
				t.Errorf("%s %d: read %d bytes, the server sent %d", what, id, r.n, most)
			}
			if r.eof && (!st.fin || r.n != st.finOff) {
				t.Errorf("%s %d: io.EOF after %d bytes; the server sent %d, FIN=%v", what, id, r.n, st.n, st.fin)
			}
		}
		checkFields := func(what string, id framing.StreamID, fields []hpackz.Field) {
			st := model(what, id)
			if st == nil {
				return
			}
			for _, f := range fields {
				if !st.fields[f] {
					t.Errorf("%s %d: header %q: %q, which the server did not send", what, id, f.Name, f.Value)
				}
			}
		}
		for id, r := range app.local {
			if r.checked {
				checkRead("stream", id, &r.fuzzRead)
				checkFields("stream", id, r.fields)
			}
		}
		for id, r := range app.reads {
			checkRead("push", id, r)
		}
		for id, fields := range app.pushHdrs {
			checkFields("push", id, fields)
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
