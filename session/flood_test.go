package session

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
)

// floodLimit is the FloodLimit of the flood tests. FloodRate is 1 token a
// second: a test sends floodLimit/2 costly frames, checks the session is
// alive, then sends 3*floodLimit, which only a stall of more than a minute
// between them could make up for.
const floodLimit = 20

// floodKinds are the costly frames of Config.FloodLimit. open, if set,
// runs first; send writes the i'th costly frame.
var floodKinds = []struct {
	name string
	cfg  Config
	open func(p *peer)
	send func(p *peer, i int)
}{
	{name: "PING", send: func(p *peer, i int) {
		p.write(&framing.PingFrame{ID: uint32(1001 + 2*i)})
	}},
	{name: "PING reply to a ping not sent", send: func(p *peer, i int) {
		p.write(&framing.PingFrame{ID: uint32(1000 + 2*i)})
	}},
	{name: "SETTINGS", send: func(p *peer, i int) {
		p.settings(0, framing.Setting{ID: framing.SettingMaxConcurrentStreams, Value: uint32(100 + i)})
	}},
	{name: "empty DATA", open: openOne, send: func(p *peer, i int) {
		p.dataBytes(1, false, nil)
	}},
	{name: "empty HEADERS", open: openOne, send: func(p *peer, i int) {
		p.headers(1, 0)
	}},
	{name: "small WINDOW_UPDATE", open: openOne, send: func(p *peer, i int) {
		p.windowUpdate(1, 1)
	}},
	{name: "WINDOW_UPDATE of a byte on a window of a byte", open: func(p *peer) {
		p.settings(0, framing.Setting{ID: framing.SettingInitialWindowSize, Value: 1})
		openOne(p)
	}, send: func(p *peer, i int) {
		p.windowUpdate(1, 1)
	}},
	{name: "small session WINDOW_UPDATE", send: func(p *peer, i int) {
		p.windowUpdate(0, 1000)
	}},
	{name: "RST_STREAM", send: func(p *peer, i int) {
		id := framing.StreamID(1 + 2*i)
		p.synStream(id, 0, 0, 0)
		p.rst(id, framing.StatusCancel)
	}},
	{name: "refused SYN_STREAM", cfg: Config{MaxConcurrentStreams: 1}, open: openOne, send: func(p *peer, i int) {
		p.synStream(framing.StreamID(3+2*i), 0, 0, framing.FlagFin)
	}},
	{name: "NOOP", send: func(p *peer, i int) {
		p.write(&framing.UnknownFrame{FrameHeader: framing.FrameHeader{Control: true, Version: framing.Version3, Type: framing.FrameNoop}})
	}},
	{name: "16 KiB header block", send: func(p *peer, i int) {
		p.synStream(framing.StreamID(1+2*i), 0, 0, framing.FlagFin, field("big", strings.Repeat("v", 16<<10)))
	}},
}

func openOne(p *peer) { p.synStream(1, 0, 0, 0) }

// Each kind of costly frame takes from the flood bucket: a peer that
// sends fewer than FloodLimit is served, one that sends many more gets
// GOAWAY PROTOCOL_ERROR and the session ends with ErrFlood.
func TestFloodLimit(t *testing.T) {
	for _, k := range floodKinds {
		t.Run(k.name, func(t *testing.T) {
			cfg := k.cfg
			cfg.Version, cfg.FloodLimit, cfg.FloodRate = V31, floodLimit, 1
			if cfg.MaxConcurrentStreams == 0 {
				cfg.MaxConcurrentStreams = 1000
			}
			s, p, _ := scripted(t, Server, &cfg)
			if k.open != nil {
				k.open(p)
			}
			i := 0
			for ; i < floodLimit/2; i++ {
				k.send(p, i)
			}
			for _, g := range p.sync() {
				if g.Header().Type == framing.FrameGoAway {
					t.Fatalf("%d costly frames of a bucket of %d: %v", i+1, floodLimit, g.Frame)
				}
			}
			last := s.l.lastPeerID // read after sync: the loop handled every frame
			p.lenient = true
			for ; i < 4*floodLimit; i++ {
				k.send(p, i)
			}
			if k.name == "RST_STREAM" || k.name == "refused SYN_STREAM" || strings.Contains(k.name, "header block") {
				// The GOAWAY names a stream opened during the flood.
				p.expectGoAwayStatus(framing.GoAwayProtocolError)
			} else {
				p.expectGoAway(last, framing.GoAwayProtocolError)
			}
			<-s.Done()
			var pe *ProtocolError
			if !errors.Is(s.Err(), ErrFlood) || !errors.As(s.Err(), &pe) || pe.Status != framing.GoAwayProtocolError {
				t.Fatalf("session ended with %v, want a ProtocolError wrapping ErrFlood", s.Err())
			}
		})
	}
}

// The bucket refills at FloodRate: after a pause that refills it, a peer
// may spend FloodLimit tokens again.
func TestFloodRefills(t *testing.T) {
	s, p, _ := scripted(t, Server, &Config{Version: V31, FloodLimit: floodLimit, FloodRate: 1000})
	id := uint32(1001)
	for round := range 3 {
		for range floodLimit - 2 { // the sync below takes one more
			p.write(&framing.PingFrame{ID: id})
			id += 2
		}
		for _, g := range p.sync() {
			if g.Header().Type == framing.FrameGoAway {
				t.Fatalf("round %d: %v", round, g.Frame)
			}
		}
		// floodLimit tokens at 1000 a second come back in 20 ms.
		time.Sleep(time.Duration(floodLimit) * time.Millisecond * 2)
	}
	select {
	case <-s.Done():
		t.Fatalf("session ended: %v", s.Err())
	default:
	}
}

// FloodLimit negative turns the bound off.
func TestFloodLimitOff(t *testing.T) {
	_, p, _ := scripted(t, Server, &Config{Version: V31, FloodLimit: -1})
	for i := range 3 * DefaultFloodLimit {
		p.write(&framing.PingFrame{ID: uint32(1001 + 2*i)})
	}
	for _, g := range p.sync() {
		if g.Header().Type == framing.FrameGoAway {
			t.Fatalf("flood bound off, got %v", g.Frame)
		}
	}
}

// A decompression bomb, a small header block that inflates to megabytes,
// ends the session at once with the default limits: the whole block must
// be inflated to keep the compression context, and its size costs more
// than the bucket holds.
func TestFloodDecompressionBomb(t *testing.T) {
	s, p, _ := scripted(t, Server, nil)
	raw := bytes.Repeat([]byte{'a'}, 24<<20) // 1536 tokens of 16 KiB
	block := p.rawBlock(raw)
	if len(block) > 64<<10 {
		t.Fatalf("bomb of %d bytes does not fit a control frame", len(block))
	}
	p.write(&framing.SynStreamFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameSynStream, StreamID: 1}, HeaderBlock: block})
	p.expectGoAwayStatus(framing.GoAwayProtocolError)
	<-s.Done()
	if !errors.Is(s.Err(), ErrFlood) {
		t.Fatalf("session ended with %v, want ErrFlood", s.Err())
	}
}

// An idle session holds no header compression state: the deflate and
// inflate contexts (about 110 KB together) are made at the first header
// block. A server with thousands of idle connections pays for their
// buffers and goroutines only.
func TestIdleSessionMemory(t *testing.T) {
	const n = 100
	var sessions []*Session
	defer func() {
		for _, s := range sessions {
			s.Close()
		}
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n {
		c1, c2 := tcpPair(t)
		cs, err := New(c1, Client, nil)
		if err != nil {
			t.Fatal(err)
		}
		ss, err := New(c2, Server, nil)
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, cs, ss)
		if _, err := cs.Ping(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapInuse) - int64(before.HeapInuse)) / (2 * n)
	t.Logf("heap per idle session: %d bytes", per)
	if per > 80<<10 {
		t.Fatalf("an idle session holds %d bytes of heap, want under 80 KiB", per)
	}
}

// A peer that advertises small stream windows must return credit in small
// deltas: those are not costly when they are at least an eighth of its
// window, so such a peer can move any amount of data.
func TestFloodSmallWindowPeer(t *testing.T) {
	s, p, _ := scripted(t, Server, &Config{Version: V31, FloodLimit: floodLimit, FloodRate: 1})
	p.settings(0, framing.Setting{ID: framing.SettingInitialWindowSize, Value: 1024})
	p.synStream(1, 0, 0, 0)
	st := accept(t, s)
	const total = 64 << 10 // 128 updates of 512 bytes: six buckets' worth
	errc := make(chan error, 1)
	go func() {
		_, err := st.Write(bytes.Repeat([]byte{'x'}, total))
		errc <- err
	}()
	got := 0
	for got < total {
		g := p.read()
		switch f := g.Frame.(type) {
		case *framing.DataFrame:
			got += len(f.Data)
			if got%512 == 0 {
				p.windowUpdate(1, 512)
			}
		case *framing.GoAwayFrame:
			t.Fatalf("after %d bytes: %v", got, f)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// The GOAWAY that ends a flood reaches the flooder even though it is
// still sending: the session shuts its side and reads on, dropping, until
// the peer closes or the close timer fires. Closing at once, with the
// flood unread, made the kernel reset the connection and drop the GOAWAY
// and the frames before it.
func TestFloodGoAwayDelivered(t *testing.T) {
	_, p, _ := scripted(t, Server, nil)
	var flood bytes.Buffer
	fr := framing.NewFramer(&flood, nil, framing.Version3)
	for i := range 20 * DefaultFloodLimit {
		if err := fr.WriteFrame(&framing.PingFrame{ID: uint32(1001 + 2*i)}); err != nil {
			t.Fatal(err)
		}
	}
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		p.conn.Write(flood.Bytes()) // in one write, without reading meanwhile; errors once cut off
	}()
	<-wrote
	p.expectGoAwayStatus(framing.GoAwayProtocolError)
}

// A header block with more pairs than MaxHeaderFields resets its stream
// with FRAME_TOO_LARGE and the session goes on; blocks of many tiny pairs
// cost flood tokens for each pair (32 bytes), so that a peer repeating
// them is cut off long before they cost more than their bytes suggest.
func TestHeaderFieldLimit(t *testing.T) {
	many := func(n int) []hpackz.Field {
		f := make([]hpackz.Field, n)
		for i := range f {
			f[i] = field(fmt.Sprintf("h%d", i), "v")
		}
		return f
	}
	s, p, _ := scripted(t, Server, &Config{Version: V31, MaxHeaderFields: 100})
	p.synStream(1, 0, 0, framing.FlagFin, many(101)...)
	p.expectRst(1, framing.StatusFrameTooLarge)
	p.synStream(3, 0, 0, framing.FlagFin, many(100)...)
	if st := accept(t, s); st.ID() != 3 || len(st.Headers()) != 100 {
		t.Fatalf("accepted %d with %d headers, want 3 with 100", st.ID(), len(st.Headers()))
	}
	// 15000 pairs of about 10 bytes are some 630 KB to the bucket, about
	// 40 tokens a block (and 210 KB inflated: under MaxHeaderBlockSize).
	s, p, _ = scripted(t, Server, &Config{Version: V31, MaxHeaderFields: -1, FloodLimit: 100, FloodRate: 1})
	p.lenient = true
	for id := framing.StreamID(1); id < 2*5; id += 2 { // 175 tokens; without the 32 bytes a pair, 65
		p.synStream(id, 0, 0, framing.FlagFin, many(15000)...)
	}
	p.expectGoAwayStatus(framing.GoAwayProtocolError)
	<-s.Done()
	if !errors.Is(s.Err(), ErrFlood) {
		t.Fatalf("session ended with %v, want ErrFlood", s.Err())
	}
}
