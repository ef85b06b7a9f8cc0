package session

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
)

// peerTimeout bounds every read of the scripted peer, so that a frame the
// session never sends fails the test instead of hanging it. It is no
// assertion about speed: a healthy session answers in microseconds.
const peerTimeout = 10 * time.Second

// peer is a scripted SPDY endpoint for protocol tests: it writes raw frames
// (illegal ones too) to a session over loopback TCP and reads the frames
// the session sends back, decoding their header blocks in order.
type peer struct {
	t    testing.TB
	conn net.Conn
	fr   *framing.Framer
	hv   hpackz.Version
	dec  *hpackz.Decoder
	zbuf bytes.Buffer
	zw   *zlib.Writer
	// nextPing is the next PING id of the peer's own parity.
	nextPing uint32
	// lenient makes writes ignore errors: a flood goes on writing after
	// the session has cut the connection.
	lenient bool
}

// got is a frame read from the session, with its decoded header block.
type got struct {
	framing.Frame
	Fields []hpackz.Field
}

// newPeer wraps conn. role is the role of the session on the other end.
func newPeer(t testing.TB, conn net.Conn, v Version, sessionRole Role) *peer {
	t.Helper()
	p := &peer{t: t, conn: conn, hv: v.headers()}
	p.fr = framing.NewFramer(conn, bufio.NewReader(conn), v.wire())
	p.fr.AllowIllegalWrites = true
	p.fr.MaxDataFrameSize = framing.MaxPayloadLen
	p.dec = hpackz.NewDecoder(p.hv, nil)
	// The peer's header blocks go through compress/zlib rather than an
	// hpackz.Encoder so that it can also compress blocks that break the
	// name/value rules, through the same context as the valid ones.
	zw, err := zlib.NewWriterLevelDict(&p.zbuf, zlib.DefaultCompression, hpackz.Dictionary(p.hv))
	if err != nil {
		t.Fatal(err)
	}
	p.zw = zw
	if sessionRole == Server {
		p.nextPing = 1001
	} else {
		p.nextPing = 1000
	}
	return p
}

// scripted starts a session in role over loopback TCP with a scripted
// peer on the other end, and reads the session's first frames (SETTINGS,
// the 3.1 session WINDOW_UPDATE, a PING, which the peer answers). It
// returns the session, the peer and the session's first SETTINGS frame.
func scripted(t testing.TB, role Role, cfg *Config) (*Session, *peer, *framing.SettingsFrame) {
	t.Helper()
	c1, c2 := tcpPair(t)
	s, err := New(c1, role, cfg)
	if err != nil {
		c1.Close()
		c2.Close()
		t.Fatal(err)
	}
	p := newPeer(t, c2, s.Version(), role)
	t.Cleanup(func() {
		// The peer goes away as the session closes, so that the session's
		// wait for the peer's end of the connection is short.
		closed := make(chan struct{})
		go func() {
			s.Close()
			close(closed)
		}()
		c2.Close()
		<-closed
	})
	g := p.expect(framing.FrameSettings)
	set := g.Frame.(*framing.SettingsFrame)
	g = p.read()
	if wu, ok := g.Frame.(*framing.WindowUpdateFrame); ok {
		if s.Version() != V31 || wu.StreamID != 0 {
			t.Fatalf("first frames: unexpected %v", wu)
		}
		g = p.read()
	}
	ping, ok := g.Frame.(*framing.PingFrame)
	if !ok {
		t.Fatalf("first frames: got %v, want PING", g.Frame)
	}
	if (ping.ID%2 == 1) != (role == Client) || ping.ID == 0 {
		t.Fatalf("session's first PING id %d has the wrong parity for a %v", ping.ID, role)
	}
	p.write(&framing.PingFrame{ID: ping.ID})
	return s, p, set
}

// block compresses a name/value block of fields through the peer's context.
func (p *peer) block(fields ...hpackz.Field) []byte {
	p.t.Helper()
	raw, err := hpackz.AppendUncompressed(nil, p.hv, fields)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.rawBlock(raw)
}

// rawBlock compresses raw (an uncompressed name/value block, which may
// break any rule) through the peer's context.
func (p *peer) rawBlock(raw []byte) []byte {
	p.t.Helper()
	p.zbuf.Reset()
	if _, err := p.zw.Write(raw); err != nil {
		p.t.Fatal(err)
	}
	if err := p.zw.Flush(); err != nil {
		p.t.Fatal(err)
	}
	return append([]byte(nil), p.zbuf.Bytes()...)
}

// write writes one frame.
func (p *peer) write(f framing.Frame) {
	p.t.Helper()
	p.conn.SetWriteDeadline(time.Now().Add(peerTimeout))
	if err := p.fr.WriteFrame(f); err != nil && !p.lenient {
		p.t.Fatalf("peer: writing %v: %v", f, err)
	}
}

// synStream opens stream id with fields.
func (p *peer) synStream(id, assoc framing.StreamID, prio uint8, flags framing.Flags, fields ...hpackz.Field) {
	p.t.Helper()
	p.write(&framing.SynStreamFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameSynStream, Flags: flags, StreamID: id},
		AssociatedToStreamID: assoc, Priority: prio, HeaderBlock: p.block(fields...)})
}

// synReply accepts stream id.
func (p *peer) synReply(id framing.StreamID, flags framing.Flags, fields ...hpackz.Field) {
	p.t.Helper()
	p.write(&framing.SynReplyFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameSynReply, Flags: flags, StreamID: id}, HeaderBlock: p.block(fields...)})
}

// headers sends a HEADERS frame.
func (p *peer) headers(id framing.StreamID, flags framing.Flags, fields ...hpackz.Field) {
	p.t.Helper()
	p.write(&framing.HeadersFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameHeaders, Flags: flags, StreamID: id}, HeaderBlock: p.block(fields...)})
}

// data sends a DATA frame of n bytes.
func (p *peer) data(id framing.StreamID, fin bool, n int) {
	p.t.Helper()
	p.dataBytes(id, fin, bytes.Repeat([]byte{'d'}, n))
}

func (p *peer) dataBytes(id framing.StreamID, fin bool, b []byte) {
	p.t.Helper()
	p.conn.SetWriteDeadline(time.Now().Add(peerTimeout))
	if err := p.fr.WriteData(id, fin, b); err != nil && !p.lenient {
		p.t.Fatalf("peer: writing DATA: %v", err)
	}
}

func (p *peer) rst(id framing.StreamID, status framing.StatusCode) {
	p.t.Helper()
	p.write(&framing.RstStreamFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameRstStream, StreamID: id}, Status: status})
}

func (p *peer) settings(flags framing.Flags, entries ...framing.Setting) {
	p.t.Helper()
	p.write(&framing.SettingsFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameSettings, Flags: flags}, Settings: entries})
}

func (p *peer) windowUpdate(id framing.StreamID, delta uint32) {
	p.t.Helper()
	p.write(&framing.WindowUpdateFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameWindowUpdate, StreamID: id}, DeltaWindowSize: delta})
}

func (p *peer) goAway(last framing.StreamID, status framing.GoAwayStatus) {
	p.t.Helper()
	p.write(&framing.GoAwayFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameGoAway}, LastGoodStreamID: last, Status: status})
}

// read returns the next frame the session sent. Header blocks are decoded
// (they must be, in order); a block that fails to decode fails the test.
func (p *peer) read() got {
	p.t.Helper()
	g, err := p.tryRead()
	if err != nil {
		p.t.Fatalf("peer: reading a frame: %v", err)
	}
	return g
}

// tryRead reads the next frame, returning the error instead of failing.
func (p *peer) tryRead() (got, error) {
	p.conn.SetReadDeadline(time.Now().Add(peerTimeout))
	f, err := p.fr.ReadFrame()
	if err != nil {
		return got{}, err
	}
	f = framing.CopyFrame(f)
	g := got{Frame: f}
	var block []byte
	switch f := f.(type) {
	case *framing.SynStreamFrame:
		block = f.HeaderBlock
	case *framing.SynReplyFrame:
		block = f.HeaderBlock
	case *framing.HeadersFrame:
		block = f.HeaderBlock
	default:
		return g, nil
	}
	g.Fields, err = p.dec.AppendFields(nil, block)
	if err != nil {
		return g, fmt.Errorf("header block of %v: %w", f, err)
	}
	return g, nil
}

// expect reads the next frame and fails unless it has type typ.
func (p *peer) expect(typ framing.FrameType) got {
	p.t.Helper()
	g := p.read()
	if g.Header().Type != typ {
		p.t.Fatalf("peer: got %v, want a %v frame", g.Frame, typ)
	}
	return g
}

// skipUntil reads frames until match returns true and returns that frame;
// it fails the test after 10000 frames or at the read deadline.
func (p *peer) skipUntil(what string, match func(got) bool) got {
	p.t.Helper()
	for i := 0; i < 10000; i++ {
		g, err := p.tryRead()
		if err != nil {
			p.t.Fatalf("peer: waiting for %s: %v", what, err)
		}
		if match(g) {
			return g
		}
	}
	p.t.Fatalf("peer: no %s in 10000 frames", what)
	return got{}
}

// expectRst reads frames until a RST_STREAM and checks its stream and
// status. It skips WINDOW_UPDATE and SYN_REPLY frames and fails on any
// other.
func (p *peer) expectRst(id framing.StreamID, status framing.StatusCode) {
	p.t.Helper()
	g := p.skipUntil("RST_STREAM", func(g got) bool {
		switch g.Header().Type {
		case framing.FrameRstStream:
			return true
		case framing.FrameWindowUpdate, framing.FrameSynReply:
			return false
		}
		p.t.Fatalf("peer: got %v while waiting for RST_STREAM %d %v", g.Frame, id, status)
		return false
	})
	r := g.Frame.(*framing.RstStreamFrame)
	if r.StreamID != id || r.Status != status {
		p.t.Fatalf("peer: got %v, want RST_STREAM stream %d status %v", r, id, status)
	}
}

// expectGoAway reads frames until a GOAWAY, checks it, and checks that the
// session then closes the connection (the session-error procedure).
func (p *peer) expectGoAway(lastGood framing.StreamID, status framing.GoAwayStatus) {
	p.t.Helper()
	g := p.skipUntil("GOAWAY", func(g got) bool {
		switch g.Header().Type {
		case framing.FrameGoAway:
			return true
		case framing.FrameWindowUpdate, framing.FrameRstStream, framing.FrameSynReply, framing.FramePing:
			return false
		}
		p.t.Fatalf("peer: got %v while waiting for GOAWAY", g.Frame)
		return false
	})
	ga := g.Frame.(*framing.GoAwayFrame)
	if ga.LastGoodStreamID != lastGood || ga.Status != status {
		p.t.Fatalf("peer: got %v, want GOAWAY last-good %d status %v", ga, lastGood, status)
	}
	p.expectEOF()
}

// expectGoAwayStatus reads frames until a GOAWAY, checks its status, and
// checks that the session then closes the connection.
func (p *peer) expectGoAwayStatus(status framing.GoAwayStatus) {
	p.t.Helper()
	g := p.skipUntil("GOAWAY", func(g got) bool {
		switch g.Header().Type {
		case framing.FrameGoAway:
			return true
		case framing.FrameWindowUpdate, framing.FrameRstStream, framing.FrameSynReply, framing.FramePing:
			return false
		}
		p.t.Fatalf("peer: got %v while waiting for GOAWAY", g.Frame)
		return false
	})
	if ga := g.Frame.(*framing.GoAwayFrame); ga.Status != status {
		p.t.Fatalf("peer: got %v, want GOAWAY status %v", ga, status)
	}
	p.expectEOF()
}

// expectEOF checks that the session sends nothing more and closes.
func (p *peer) expectEOF() {
	p.t.Helper()
	for i := 0; i < 10000; i++ {
		g, err := p.tryRead()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !isConnReset(err) {
				p.t.Fatalf("peer: waiting for the end of the connection: %v", err)
			}
			// End our side too, as a peer that sees the end does: the
			// session reads on until then (or for a second).
			if cw, ok := p.conn.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
			return
		}
		if g.Header().Type == framing.FrameData || g.Header().Type == framing.FrameSynStream {
			p.t.Fatalf("peer: got %v after GOAWAY", g.Frame)
		}
	}
	p.t.Fatal("peer: the session did not close the connection")
}

func isConnReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// sync sends a PING and reads until its echo, returning the frames read
// before it. Since the session handles the peer's frames in order, every
// frame written before has been processed when the echo arrives.
func (p *peer) sync() []got {
	p.t.Helper()
	id := p.nextPing
	p.nextPing += 2
	p.write(&framing.PingFrame{ID: id})
	var before []got
	p.skipUntil("PING echo", func(g got) bool {
		if pf, ok := g.Frame.(*framing.PingFrame); ok && pf.ID == id {
			return true
		}
		before = append(before, g)
		return false
	})
	return before
}

// syncQuiet is sync, failing if the session sent anything but
// WINDOW_UPDATE frames and SYN_REPLY frames (the replies a session sends on
// accepting a stream) before the echo.
func (p *peer) syncQuiet() {
	p.t.Helper()
	for _, g := range p.sync() {
		if typ := g.Header().Type; typ != framing.FrameWindowUpdate && typ != framing.FrameSynReply {
			p.t.Fatalf("peer: unexpected %v", g.Frame)
		}
	}
}

// expectFin reads frames until the FIN of stream id (on DATA, SYN_REPLY or
// HEADERS), skipping SYN_REPLY and WINDOW_UPDATE frames.
func (p *peer) expectFin(id framing.StreamID) {
	p.t.Helper()
	p.skipUntil("FIN", func(g got) bool {
		h := g.Header()
		fin := h.StreamID == id && h.Flags.Has(framing.FlagFin)
		switch h.Type {
		case framing.FrameData, framing.FrameSynReply, framing.FrameHeaders:
			if fin {
				return true
			}
			if h.Type == framing.FrameSynReply {
				return false
			}
		case framing.FrameWindowUpdate:
			return false
		}
		p.t.Fatalf("peer: got %v while waiting for the FIN of stream %d", g.Frame, id)
		return false
	})
}

// readData reads DATA frames of stream id until n payload bytes arrived,
// skipping WINDOW_UPDATE frames; it fails on anything else.
func (p *peer) readData(id framing.StreamID, n int) (fin bool) {
	p.t.Helper()
	total := 0
	for total < n {
		g := p.read()
		switch f := g.Frame.(type) {
		case *framing.DataFrame:
			if f.StreamID != id {
				p.t.Fatalf("peer: DATA for stream %d, want %d", f.StreamID, id)
			}
			total += len(f.Data)
			fin = f.StreamEnded()
		case *framing.WindowUpdateFrame:
		default:
			p.t.Fatalf("peer: got %v while reading DATA of stream %d", g.Frame, id)
		}
	}
	if total != n {
		p.t.Fatalf("peer: read %d bytes of stream %d, want %d", total, id, n)
	}
	return fin
}

// testCtx returns a context that bounds a blocking call of a test.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond (on the test goroutine) until it holds, failing the
// test after a bounded number of tries.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func field(name, value string) hpackz.Field { return hpackz.Field{Name: name, Value: value} }
