package session

import (
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/stream"
)

// Streams, GOAWAY and push as the scripted peer sees them (spdy3.1.md §4.6,
// §5, §10).

// TestStreamIDs covers §5.1: client ids are odd, server ids even, each
// side's strictly increasing, and the two sides' ids interleave freely.
func TestStreamIDs(t *testing.T) {
	for _, tt := range []struct {
		role  Role
		first framing.StreamID
	}{{Client, 1}, {Server, 2}} {
		t.Run(tt.role.String(), func(t *testing.T) {
			s, p, _ := scripted(t, tt.role, nil)
			peerID := framing.StreamID(9)
			if tt.role == Client {
				peerID = 10
			}
			for i := 0; i < 3; i++ {
				_, syn := openStream(t, s, p, &OpenOptions{Fin: true})
				if want := tt.first + framing.StreamID(2*i); syn.StreamID != want {
					t.Fatalf("stream %d opened with id %d, want %d", i, syn.StreamID, want)
				}
				// A peer stream with a higher id in between is fine.
				p.synStream(peerID, 0, 0, framing.FlagFin)
				peerID += 2
				p.syncQuiet()
			}
		})
	}
}

// TestStreamIDExhaustion covers the end of §5.1: when no id is left, Open
// fails with ErrStreamIDsExhausted and the session drains with GOAWAY.
func TestStreamIDExhaustion(t *testing.T) {
	for _, tt := range []struct {
		role Role
		last framing.StreamID
	}{{Client, framing.MaxStreamID}, {Server, framing.MaxStreamID - 1}} {
		t.Run(tt.role.String(), func(t *testing.T) {
			s, p, _ := scripted(t, tt.role, nil)
			setNextStreamID(t, s, tt.last)
			st, syn := openStream(t, s, p, nil)
			if syn.StreamID != tt.last {
				t.Fatalf("opened stream %d, want %d", syn.StreamID, tt.last)
			}
			if _, err := s.Open(testCtx(t), nil); !errors.Is(err, ErrStreamIDsExhausted) {
				t.Fatalf("Open past the last id: %v, want ErrStreamIDsExhausted", err)
			}
			g := p.expect(framing.FrameGoAway)
			if ga := g.Frame.(*framing.GoAwayFrame); ga.Status != framing.GoAwayOK || ga.LastGoodStreamID != 0 {
				t.Fatalf("got %v, want GOAWAY OK with last-good 0", ga)
			}
			if _, err := s.Open(testCtx(t), nil); !errors.Is(err, ErrGoingAway) {
				t.Fatalf("Open after the GOAWAY: %v, want ErrGoingAway", err)
			}
			// The last stream still finishes, then the session closes.
			p.synReply(tt.last, 0)
			p.data(tt.last, true, 5)
			if b, err := io.ReadAll(st); err != nil || len(b) != 5 {
				t.Fatalf("last stream read %d bytes, %v", len(b), err)
			}
			st.Close()
			p.expectFin(tt.last)
			p.expectEOF()
			<-s.Done()
			if err := s.Err(); !errors.Is(err, ErrClosed) {
				t.Fatalf("session error %v, want ErrClosed", err)
			}
		})
	}
}

// TestGoAwayReceived covers §4.6 on the receiving side: streams above the
// peer's last-good id fail as not processed, those at or below finish,
// Open fails, and the session closes when the last stream ends.
func TestGoAwayReceived(t *testing.T) {
	s, p, _ := scripted(t, Client, nil)
	st1, _ := openStream(t, s, p, nil)
	st3, _ := openStream(t, s, p, nil)
	st5, _ := openStream(t, s, p, nil)
	st7, _ := openStream(t, s, p, nil)
	p.synReply(1, 0)
	p.goAway(3, framing.GoAwayOK)
	p.syncQuiet()
	for _, st := range []*stream.Stream{st5, st7} {
		_, err := st.Read(make([]byte, 1))
		if !errors.Is(err, ErrNotProcessed) {
			t.Fatalf("stream %d: %v, want an error matching ErrNotProcessed", st.ID(), err)
		}
		var ga *GoAwayError
		if !errors.As(err, &ga) || !ga.Unprocessed || ga.StreamID != st.ID() || ga.LastGoodStreamID != 3 {
			t.Fatalf("stream %d: %#v, want an unprocessed *GoAwayError", st.ID(), err)
		}
		if _, err := st.Write([]byte("x")); !errors.Is(err, ErrNotProcessed) {
			t.Fatalf("stream %d Write: %v", st.ID(), err)
		}
	}
	if _, err := s.Open(testCtx(t), nil); !errors.Is(err, ErrGoingAway) {
		t.Fatalf("Open after GOAWAY: %v, want ErrGoingAway", err)
	}
	// Streams 1 and 3 finish.
	p.synReply(3, 0)
	p.data(1, true, 4)
	p.data(3, true, 6)
	for _, tt := range []struct {
		st *stream.Stream
		n  int
	}{{st1, 4}, {st3, 6}} {
		b, err := io.ReadAll(tt.st)
		if err != nil || len(b) != tt.n {
			t.Fatalf("stream %d read %d bytes, %v", tt.st.ID(), len(b), err)
		}
		if _, err := tt.st.Write([]byte("ok")); err != nil {
			t.Fatalf("stream %d Write: %v", tt.st.ID(), err)
		}
		tt.st.CloseWrite()
	}
	sent := map[framing.StreamID]int{}
	fins := map[framing.StreamID]bool{}
	p.skipUntil("GOAWAY", func(g got) bool {
		switch f := g.Frame.(type) {
		case *framing.DataFrame:
			if fins[f.StreamID] || (f.StreamID != 1 && f.StreamID != 3) {
				t.Fatalf("unexpected %v", f)
			}
			sent[f.StreamID] += len(f.Data)
			fins[f.StreamID] = f.StreamEnded()
		case *framing.GoAwayFrame:
			return true
		case *framing.WindowUpdateFrame:
		default:
			t.Fatalf("unexpected %v", f)
		}
		return false
	})
	if sent[1] != 2 || sent[3] != 2 || !fins[1] || !fins[3] {
		t.Fatalf("before the GOAWAY: bytes %v, FINs %v; want 2 bytes and a FIN on streams 1 and 3", sent, fins)
	}
	p.expectEOF()
	<-s.Done()
	var ga *GoAwayError
	if err := s.Err(); !errors.As(err, &ga) || ga.Unprocessed {
		t.Fatalf("session error %v, want the peer's *GoAwayError", err)
	}
}

// TestGoAwayFailsWaitingOpen checks that an Open waiting for the peer's
// stream limit fails with ErrGoingAway when the peer's GOAWAY arrives.
func TestGoAwayFailsWaitingOpen(t *testing.T) {
	s, p, _ := scripted(t, Client, nil)
	p.settings(0, mcs(1))
	p.syncQuiet()
	openStream(t, s, p, nil)
	res := make(chan error, 1)
	go func() {
		_, err := s.Open(testCtx(t), nil)
		res <- err
	}()
	waitFor(t, "Open to wait", func() bool { return openWaiters(t, s) == 1 })
	p.goAway(1, framing.GoAwayOK)
	if err := <-res; !errors.Is(err, ErrGoingAway) {
		t.Fatalf("waiting Open: %v, want ErrGoingAway", err)
	}
}

// TestShutdownIgnoresNewStreams covers §4.6 on the sending side: after our
// GOAWAY a SYN_STREAM above the last-good id is ignored (its header block
// still inflated), streams at or below it finish, and we open none.
func TestShutdownIgnoresNewStreams(t *testing.T) {
	s, p, _ := scripted(t, Server, nil)
	p.synStream(1, 0, 0, 0, field("a", "1"))
	st := accept(t, s)
	res := make(chan error, 1)
	go func() { res <- s.Shutdown(testCtx(t)) }()
	g := p.skipUntil("GOAWAY", func(g got) bool { return g.Header().Type == framing.FrameGoAway })
	if ga := g.Frame.(*framing.GoAwayFrame); ga.LastGoodStreamID != 1 || ga.Status != framing.GoAwayOK {
		t.Fatalf("got %v, want GOAWAY last-good 1 OK", ga)
	}
	p.synStream(3, 0, 0, 0, field("b", "2"))
	p.synStream(5, 0, 0, framing.FlagFin, field("c", "3"))
	p.syncQuiet()
	if n := s.Stats().StreamsAccepted; n != 1 {
		t.Fatalf("StreamsAccepted = %d after the GOAWAY, want 1", n)
	}
	if _, err := s.Open(testCtx(t), nil); !errors.Is(err, ErrGoingAway) {
		t.Fatalf("Open after Shutdown: %v, want ErrGoingAway", err)
	}
	// The header context is in step: HEADERS on stream 1 decode.
	p.headers(1, 0, field("d", "4"))
	p.data(1, true, 3)
	if b, err := io.ReadAll(st); err != nil || len(b) != 3 {
		t.Fatalf("read %d bytes, %v", len(b), err)
	}
	if h := st.Headers(); len(h) != 2 || h[1] != field("d", "4") {
		t.Fatalf("headers %v", h)
	}
	st.Write([]byte("bye"))
	st.Close()
	p.readData(1, 3)
	p.expectFin(1)
	p.expectEOF()
	if err := <-res; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestPriorityWriteOrder covers §5.2: frames waiting together go out by
// priority, and streams of one priority take turns frame by frame.
func TestPriorityWriteOrder(t *testing.T) {
	s, p, _ := scripted(t, Client, &Config{MaxFrameSize: 1024})
	p.settings(0, framing.Setting{ID: framing.SettingInitialWindowSize, Value: 1 << 20})
	p.syncQuiet()
	// Use up the session window, so that what follows waits together.
	filler, _ := openStream(t, s, p, nil)
	p.synReply(filler.ID(), 0)
	if err := <-writeAsync(filler, 65536); err != nil {
		t.Fatal(err)
	}
	p.readData(filler.ID(), 65536)

	prios := []uint8{7, 3, 5, 3, 0, 3}
	var results []<-chan error
	prioOf := map[framing.StreamID]uint8{}
	for _, pr := range prios {
		st, _ := openStream(t, s, p, &OpenOptions{Priority: pr})
		prioOf[st.ID()] = pr
		p.synReply(st.ID(), 0)
		results = append(results, writeAsync(st, 3*1024))
	}
	waitFor(t, "every stream to wait for window", func() bool { return blockedStreams(t, s) == len(prios) })
	p.windowUpdate(0, 1<<20)

	var order []framing.StreamID
	for len(order) < 3*len(prios) {
		g := p.read()
		if d, ok := g.Frame.(*framing.DataFrame); ok {
			if len(d.Data) != 1024 {
				t.Fatalf("DATA of %d bytes, want 1024", len(d.Data))
			}
			order = append(order, d.StreamID)
		}
	}
	for _, r := range results {
		if err := <-r; err != nil {
			t.Fatal(err)
		}
	}
	desc := fmt.Sprint(order)
	for i := 1; i < len(order); i++ {
		if prioOf[order[i]] < prioOf[order[i-1]] {
			t.Fatalf("write order %v: stream %d (priority %d) after stream %d (priority %d)",
				order, order[i], prioOf[order[i]], order[i-1], prioOf[order[i-1]])
		}
	}
	// The three priority-3 streams take turns: frames 3..11 cycle through
	// them.
	mid := order[3:12]
	for i := 3; i < len(mid); i++ {
		if mid[i] != mid[i-3] {
			t.Fatalf("write order %s: priority 3 streams do not take turns frame by frame", desc)
		}
	}
	if mid[0] == mid[1] || mid[1] == mid[2] || mid[0] == mid[2] {
		t.Fatalf("write order %s: priority 3 streams do not take turns frame by frame", desc)
	}
}

// TestUnidirectionalStates covers §5.3 for UNIDIRECTIONAL streams, which
// start half-closed, and FIN with UNIDIRECTIONAL (§4.1: closed at once).
func TestUnidirectionalStates(t *testing.T) {
	t.Run("recipient cannot send", func(t *testing.T) {
		s, p, _ := scripted(t, Client, nil)
		openStream(t, s, p, nil)
		p.synStream(2, 1, 0, framing.FlagUnidirectional, field(":path", "/a"))
		st := accept(t, s)
		if _, err := st.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Write on a pushed stream: %v, want an error matching net.ErrClosed", err)
		}
		if err := st.Reply(nil, false); !errors.Is(err, stream.ErrReplyNotAllowed) {
			t.Fatalf("Reply on a pushed stream: %v", err)
		}
		st.CloseWrite()
		for _, g := range p.sync() {
			if g.Header().StreamID == 2 {
				t.Fatalf("sent %v on a stream the peer opened unidirectional", g.Frame)
			}
		}
	})
	t.Run("FIN and UNIDIRECTIONAL", func(t *testing.T) {
		s, p, _ := scripted(t, Client, nil)
		openStream(t, s, p, nil)
		p.synStream(2, 1, 0, framing.FlagUnidirectional|framing.FlagFin, field(":path", "/a"))
		st := accept(t, s)
		<-st.Done()
		if n, err := st.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("Read = %d, %v; want io.EOF", n, err)
		}
		p.data(2, false, 1)
		p.expectRst(2, framing.StatusProtocolError)
	})
	t.Run("creator cannot receive", func(t *testing.T) {
		s, p, _ := scripted(t, Server, nil)
		p.synStream(1, 0, 0, 0)
		accept(t, s)
		p.expect(framing.FrameSynReply)
		pst, err := s.Push(testCtx(t), 1, []hpackz.Field{field(":path", "/p")}, 0)
		if err != nil {
			t.Fatal(err)
		}
		p.expect(framing.FrameSynStream)
		if n, err := pst.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("Read on our push = %d, %v; want io.EOF", n, err)
		}
		p.data(pst.ID(), false, 1)
		p.expectRst(pst.ID(), framing.StatusStreamAlreadyClosed)
	})
}

// TestPushReceived covers §10 and the push rows of §4.1 and §7.3 at a
// client.
func TestPushReceived(t *testing.T) {
	t.Run("accepted with AssociatedTo", func(t *testing.T) {
		s, p, _ := scripted(t, Client, nil)
		openStream(t, s, p, nil)
		p.synStream(2, 1, 3, framing.FlagUnidirectional, field(":path", "/pushed"), field(":status", "200"))
		p.data(2, true, 5)
		st := accept(t, s)
		if st.ID() != 2 || st.AssociatedTo() != 1 || st.Priority() != 3 || st.Local() {
			t.Fatalf("push stream %d associated to %d priority %d local %v", st.ID(), st.AssociatedTo(), st.Priority(), st.Local())
		}
		if h := st.Headers(); len(h) != 2 || h[0] != field(":path", "/pushed") {
			t.Fatalf("push headers %v", h)
		}
		if b, err := io.ReadAll(st); err != nil || len(b) != 5 {
			t.Fatalf("push read %d bytes, %v", len(b), err)
		}
	})
	t.Run("associated to stream 0: GOAWAY", func(t *testing.T) {
		s, p, _ := scripted(t, Client, nil)
		p.synStream(2, 0, 0, framing.FlagUnidirectional, field(":path", "/x"))
		p.expectGoAway(2, framing.GoAwayProtocolError)
		wantProtocolError(t, s)
	})
	t.Run("bidirectional server stream associated to 0 is accepted", func(t *testing.T) {
		s, p, _ := scripted(t, Client, &Config{RejectPush: true})
		p.synStream(2, 0, 0, 0, field("streamtype", "data"))
		st := accept(t, s)
		if st.ID() != 2 || st.AssociatedTo() != 0 {
			t.Fatalf("accepted stream %d associated to %d", st.ID(), st.AssociatedTo())
		}
		p.expect(framing.FrameSynReply)
	})
	for _, flags := range []framing.Flags{framing.FlagUnidirectional, 0} {
		t.Run(fmt.Sprintf("RejectPush flags %#x: RST CANCEL", flags), func(t *testing.T) {
			s, p, _ := scripted(t, Client, &Config{RejectPush: true})
			openStream(t, s, p, nil)
			p.synStream(2, 1, 0, flags, field(":path", "/x"))
			p.expectRst(2, framing.StatusCancel)
			p.data(2, true, 10) // in flight: discarded silently
			p.syncQuiet()
			if n := s.Stats().StreamsAccepted; n != 0 {
				t.Fatalf("StreamsAccepted = %d", n)
			}
		})
	}
}

// TestPushSent covers §10 at a server: the push SYN_STREAM is
// unidirectional, even, and names its associated stream; a RST_STREAM
// CANCEL on the associated stream stops its pushes; Push is refused on a
// client and for a stream the server already finished.
func TestPushSent(t *testing.T) {
	s, p, _ := scripted(t, Server, nil)
	p.synStream(1, 0, 0, 0)
	st := accept(t, s)
	p.expect(framing.FrameSynReply)
	hdr := []hpackz.Field{field(":path", "/style.css"), field(":status", "200")}
	pst, err := s.Push(testCtx(t), 1, hdr, 5)
	if err != nil {
		t.Fatal(err)
	}
	g := p.expect(framing.FrameSynStream)
	syn := g.Frame.(*framing.SynStreamFrame)
	if syn.StreamID != 2 || syn.AssociatedToStreamID != 1 || syn.Priority != 5 || syn.Flags != framing.FlagUnidirectional {
		t.Fatalf("push SYN_STREAM %v", syn)
	}
	if len(g.Fields) != 2 || g.Fields[0] != hdr[0] || g.Fields[1] != hdr[1] {
		t.Fatalf("push headers %v", g.Fields)
	}
	if pst.AssociatedTo() != 1 || !pst.Local() {
		t.Fatalf("push stream associated to %d, local %v", pst.AssociatedTo(), pst.Local())
	}
	// The client refuses every push of the request.
	p.rst(1, framing.StatusCancel)
	p.expectRst(2, framing.StatusCancel)
	if _, err := st.Read(make([]byte, 1)); err == nil {
		t.Fatal("associated stream readable after its reset")
	}
	if _, err := s.Push(testCtx(t), 1, hdr, 0); !errors.Is(err, ErrPushNotAllowed) {
		t.Fatalf("Push on a reset stream: %v, want ErrPushNotAllowed", err)
	}

	p.synStream(3, 0, 0, framing.FlagFin)
	st3 := accept(t, s)
	st3.CloseWrite()
	p.expectFin(3)
	if _, err := s.Push(testCtx(t), 3, hdr, 0); !errors.Is(err, ErrPushNotAllowed) {
		t.Fatalf("Push on a finished stream: %v, want ErrPushNotAllowed", err)
	}
}

// TestSessionPush is the push round trip between two sessions: the
// client's Accept returns the push with AssociatedTo set.
func TestSessionPush(t *testing.T) {
	cs, ss := pair(t, nil, nil)
	cst, err := cs.Open(testCtx(t), &OpenOptions{Headers: []hpackz.Field{field(":path", "/")}})
	if err != nil {
		t.Fatal(err)
	}
	sst := accept(t, ss)
	if _, err := cs.Push(testCtx(t), cst.ID(), nil, 0); !errors.Is(err, ErrPushNotAllowed) {
		t.Fatalf("Push on a client: %v, want ErrPushNotAllowed", err)
	}
	hdr := []hpackz.Field{field(":path", "/pushed"), field(":status", "200")}
	pst, err := ss.Push(testCtx(t), sst.ID(), hdr, 2)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		pst.Write([]byte("pushed body"))
		pst.Close()
		sst.Write([]byte("main body"))
		sst.Close()
	}()
	got := accept(t, cs)
	if got.AssociatedTo() != cst.ID() || got.ID() != pst.ID() || got.Priority() != 2 {
		t.Fatalf("client accepted stream %d associated to %d priority %d; want %d associated to %d",
			got.ID(), got.AssociatedTo(), got.Priority(), pst.ID(), cst.ID())
	}
	if h := got.Headers(); len(h) != 2 || h[0] != hdr[0] || h[1] != hdr[1] {
		t.Fatalf("push headers %v", h)
	}
	if b, err := io.ReadAll(got); err != nil || string(b) != "pushed body" {
		t.Fatalf("push body %q, %v", b, err)
	}
	if b, err := io.ReadAll(cst); err != nil || string(b) != "main body" {
		t.Fatalf("main body %q, %v", b, err)
	}
}
