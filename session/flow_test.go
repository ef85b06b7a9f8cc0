package session

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/stream"
)

// Flow control as the scripted peer sees it (spdy3.1.md §4.8, §8).

const maxWindow = uint32(framing.MaxStreamID) // 2^31-1

// writeAsync writes n bytes on st from another goroutine and returns the
// channel of its result.
func writeAsync(st *stream.Stream, n int) <-chan error {
	res := make(chan error, 1)
	go func() {
		_, err := st.Write(bytes.Repeat([]byte{'w'}, n))
		res <- err
	}()
	return res
}

// sessionCredit sums the session WINDOW_UPDATE deltas among frames.
func sessionCredit(frames []got) int {
	n := 0
	for _, g := range frames {
		if wu, ok := g.Frame.(*framing.WindowUpdateFrame); ok && wu.StreamID == 0 {
			n += int(wu.DeltaWindowSize)
		}
	}
	return n
}

// TestWindowUpdateErrors covers §4.8 and §8.2.4: deltas that overflow a
// window, and delta 0.
func TestWindowUpdateErrors(t *testing.T) {
	tests := []struct {
		name   string
		script func(t *testing.T, s *Session, p *peer, st *stream.Stream)
	}{
		{"stream window to exactly 2^31-1, then over: RST FLOW_CONTROL_ERROR", func(t *testing.T, s *Session, p *peer, st *stream.Stream) {
			p.windowUpdate(1, maxWindow-65536)
			p.syncQuiet()
			p.windowUpdate(1, 1)
			p.expectRst(1, framing.StatusFlowControlError)
			if _, err := st.Write([]byte("x")); err == nil {
				t.Fatal("Write on a stream reset for flow control succeeded")
			}
			p.syncQuiet()
		}},
		{"stream window overflow in one update: RST FLOW_CONTROL_ERROR", func(t *testing.T, s *Session, p *peer, st *stream.Stream) {
			p.windowUpdate(1, maxWindow)
			p.expectRst(1, framing.StatusFlowControlError)
			p.syncQuiet()
		}},
		{"stream delta 0: RST PROTOCOL_ERROR", func(t *testing.T, s *Session, p *peer, st *stream.Stream) {
			p.windowUpdate(1, 0)
			p.expectRst(1, framing.StatusProtocolError)
			p.syncQuiet()
		}},
		{"session window to exactly 2^31-1, then over: GOAWAY", func(t *testing.T, s *Session, p *peer, st *stream.Stream) {
			p.windowUpdate(0, maxWindow-65536)
			p.syncQuiet()
			p.windowUpdate(0, 1)
			p.expectGoAway(0, framing.GoAwayProtocolError)
			wantProtocolError(t, s)
		}},
		{"session delta 0: GOAWAY", func(t *testing.T, s *Session, p *peer, st *stream.Stream) {
			p.windowUpdate(0, 0)
			p.expectGoAway(0, framing.GoAwayProtocolError)
			wantProtocolError(t, s)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, p, _ := scripted(t, Client, nil)
			st, _ := openStream(t, s, p, nil)
			tt.script(t, s, p, st)
		})
	}
}

// TestWindowUpdateAfterFin covers §8.3.6: a sender ignores WINDOW_UPDATE
// for a stream it finished sending on, even one that would overflow.
func TestWindowUpdateAfterFin(t *testing.T) {
	s, p, _ := scripted(t, Client, nil)
	st, _ := openStream(t, s, p, nil)
	st.CloseWrite()
	p.expectFin(1)
	p.windowUpdate(1, maxWindow)
	p.syncQuiet()
	// The stream still receives.
	p.synReply(1, 0)
	p.data(1, true, 3)
	if b, err := io.ReadAll(st); err != nil || len(b) != 3 {
		t.Fatalf("ReadAll = %d bytes, %v", len(b), err)
	}
}

// TestSendStreamWindow covers §8.2.1-2: the session sends no more than the
// stream window, on a stream half-closed by the peer too (§4.8: updates
// are allowed there), and goes on as updates arrive.
func TestSendStreamWindow(t *testing.T) {
	s, p, _ := scripted(t, Server, nil)
	p.windowUpdate(0, 1<<30) // the session window is not the limit here
	p.synStream(1, 0, 0, framing.FlagFin)
	st := accept(t, s)
	res := writeAsync(st, 100000)
	p.expect(framing.FrameSynReply)
	p.readData(1, 65536)
	waitFor(t, "the stream to wait for window", func() bool { return blockedStreams(t, s) == 1 })
	p.syncQuiet()
	p.windowUpdate(1, 10000)
	p.readData(1, 10000)
	waitFor(t, "the stream to wait for window", func() bool { return blockedStreams(t, s) == 1 })
	p.windowUpdate(1, 1<<20)
	p.readData(1, 100000-75536)
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	st.CloseWrite()
	p.expectFin(1)
}

// TestSendSessionWindow covers §8.1 and §8.4 for the SPDY/3.1 session
// window: it starts at 64 KiB, limits every stream together, SETTINGS does
// not change it, and only WINDOW_UPDATE(0) raises it.
func TestSendSessionWindow(t *testing.T) {
	s, p, _ := scripted(t, Client, nil)
	p.settings(0, framing.Setting{ID: framing.SettingInitialWindowSize, Value: 1 << 20})
	p.syncQuiet()
	st1, _ := openStream(t, s, p, nil)
	st3, _ := openStream(t, s, p, nil)
	p.synReply(1, 0)
	p.synReply(3, 0)
	res1 := writeAsync(st1, 40000)
	res3 := writeAsync(st3, 40000)
	total := 0
	for total < 65536 {
		g := p.read()
		if d, ok := g.Frame.(*framing.DataFrame); ok {
			total += len(d.Data)
		} else if g.Header().Type != framing.FrameWindowUpdate {
			t.Fatalf("unexpected %v", g.Frame)
		}
	}
	if total != 65536 {
		t.Fatalf("sent %d bytes before the first session WINDOW_UPDATE, want 65536", total)
	}
	waitFor(t, "a stream to wait for window", func() bool { return blockedStreams(t, s) >= 1 })
	p.syncQuiet()
	p.windowUpdate(0, 80000-65536)
	for total < 80000 {
		g := p.read()
		if d, ok := g.Frame.(*framing.DataFrame); ok {
			total += len(d.Data)
		}
	}
	if err := <-res1; err != nil {
		t.Fatal(err)
	}
	if err := <-res3; err != nil {
		t.Fatal(err)
	}
}

// TestSpdy3HasNoSessionWindow covers §8.5: SPDY/3 has stream windows only,
// and a WINDOW_UPDATE for stream 0 is ignored.
func TestSpdy3HasNoSessionWindow(t *testing.T) {
	s, p, _ := scripted(t, Client, &Config{Version: V3})
	p.settings(0, framing.Setting{ID: framing.SettingInitialWindowSize, Value: 1 << 20})
	p.windowUpdate(0, maxWindow)
	p.windowUpdate(0, maxWindow) // would overflow a session window
	p.syncQuiet()
	st, _ := openStream(t, s, p, nil)
	p.synReply(1, 0)
	res := writeAsync(st, 200000)
	p.readData(1, 200000)
	if err := <-res; err != nil {
		t.Fatal(err)
	}
}

// TestUnlimitedPeerWindow checks Config.UnlimitedPeerWindow (peers without
// flow control, such as moby/spdystream): nothing waits for window.
func TestUnlimitedPeerWindow(t *testing.T) {
	s, p, _ := scripted(t, Client, &Config{UnlimitedPeerWindow: true})
	st, _ := openStream(t, s, p, nil)
	p.synReply(1, 0)
	res := writeAsync(st, 300000)
	p.readData(1, 300000)
	if err := <-res; err != nil {
		t.Fatal(err)
	}
}

// TestEmptyFinOnZeroWindow covers §8.2.3: an empty DATA frame with FIN is
// sent on a zero window, also after a Write that waited for window was cut
// short by its deadline.
func TestEmptyFinOnZeroWindow(t *testing.T) {
	for _, cut := range []bool{false, true} {
		name := "no data"
		if cut {
			name = "after a Write cut by its deadline"
		}
		t.Run(name, func(t *testing.T) {
			s, p, _ := scripted(t, Client, nil)
			p.settings(0, framing.Setting{ID: framing.SettingInitialWindowSize, Value: 0})
			p.syncQuiet()
			st, _ := openStream(t, s, p, nil)
			if cut {
				res := writeAsync(st, 10)
				waitFor(t, "the stream to wait for window", func() bool { return blockedStreams(t, s) == 1 })
				st.SetWriteDeadline(aLongTimeAgo)
				if err := <-res; err == nil {
					t.Fatal("Write on a zero window returned no error at its deadline")
				}
				st.SetWriteDeadline(time.Time{})
			}
			st.CloseWrite()
			g := p.expect(framing.FrameData)
			if d := g.Frame.(*framing.DataFrame); len(d.Data) != 0 || !d.StreamEnded() || d.StreamID != 1 {
				t.Fatalf("got %v, want an empty DATA frame with FIN on stream 1", d)
			}
		})
	}
}

// TestInitialWindowSize covers §8.4: a new SETTINGS_INITIAL_WINDOW_SIZE
// moves every open stream's send window by new-old, possibly below zero,
// and new streams start at the new size.
func TestInitialWindowSize(t *testing.T) {
	s, p, _ := scripted(t, Client, nil)
	p.windowUpdate(0, 1<<30)
	st, _ := openStream(t, s, p, nil)
	p.synReply(1, 0)
	res := writeAsync(st, 60<<10)
	p.readData(1, 60<<10)
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	// 64 KiB - 60 KiB sent, then 16 KiB - 64 KiB: -44 KiB (the digest's
	// example).
	p.settings(0, framing.Setting{ID: framing.SettingInitialWindowSize, Value: 16 << 10})
	p.syncQuiet()
	res = writeAsync(st, 1)
	waitFor(t, "the stream to wait for window", func() bool { return blockedStreams(t, s) == 1 })
	p.windowUpdate(1, 44<<10) // back to exactly 0
	p.syncQuiet()
	if n := blockedStreams(t, s); n != 1 {
		t.Fatalf("%d streams wait for window at a window of 0, want 1", n)
	}
	p.windowUpdate(1, 1)
	p.readData(1, 1)
	if err := <-res; err != nil {
		t.Fatal(err)
	}

	// A new stream starts at 16 KiB.
	st3, _ := openStream(t, s, p, nil)
	p.synReply(3, 0)
	res = writeAsync(st3, 20000)
	p.readData(3, 16<<10)
	waitFor(t, "the stream to wait for window", func() bool { return blockedStreams(t, s) == 1 })
	p.syncQuiet()

	// Raising it again lets the waiting stream go on.
	p.settings(0, framing.Setting{ID: framing.SettingInitialWindowSize, Value: 64 << 10})
	p.readData(3, 20000-(16<<10))
	if err := <-res; err != nil {
		t.Fatal(err)
	}
}

// TestInitialWindowSizeErrors covers the SETTINGS_INITIAL_WINDOW_SIZE
// values that cannot be honoured (§4.4, §8.4).
func TestInitialWindowSizeErrors(t *testing.T) {
	t.Run("value above 2^31-1: GOAWAY PROTOCOL_ERROR", func(t *testing.T) {
		s, p, _ := scripted(t, Client, nil)
		p.settings(0, framing.Setting{ID: framing.SettingInitialWindowSize, Value: maxWindow + 1})
		p.expectGoAway(0, framing.GoAwayProtocolError)
		wantProtocolError(t, s)
	})
	t.Run("value 2^31-1 is legal", func(t *testing.T) {
		_, p, _ := scripted(t, Client, nil)
		p.settings(0, framing.Setting{ID: framing.SettingInitialWindowSize, Value: maxWindow})
		p.syncQuiet()
	})
	t.Run("change pushing a stream above 2^31-1: RST FLOW_CONTROL_ERROR", func(t *testing.T) {
		s, p, _ := scripted(t, Client, nil)
		openStream(t, s, p, nil)
		p.windowUpdate(1, maxWindow-65536)
		p.settings(0, framing.Setting{ID: framing.SettingInitialWindowSize, Value: 65537})
		p.expectRst(1, framing.StatusFlowControlError)
		p.syncQuiet()
	})
}

// TestReceiveStreamWindow covers §8.3.3 for a stream: DATA of exactly the
// window is accepted, one byte more is refused with RST_STREAM
// FLOW_CONTROL_ERROR, and only that stream suffers.
func TestReceiveStreamWindow(t *testing.T) {
	s, p, _ := scripted(t, Server, nil)
	p.synStream(1, 0, 0, 0)
	p.synStream(3, 0, 0, 0)
	st1, st3 := accept(t, s), accept(t, s)
	p.data(1, false, 65536)
	p.syncQuiet()
	p.data(1, false, 1)
	p.expectRst(1, framing.StatusFlowControlError)
	_, err := st1.Read(make([]byte, 1))
	wantReset(t, err, 1, framing.StatusFlowControlError, false)

	p.data(3, false, 65536)
	p.data(3, true, 0)
	b, err := io.ReadAll(st3)
	if err != nil || len(b) != 65536 {
		t.Fatalf("the other stream read %d bytes, %v", len(b), err)
	}
	p.syncQuiet()
}

// TestReceiveStreamWindowOneFrame covers a single DATA frame larger than
// the stream window while another stream is mid-transfer.
func TestReceiveStreamWindowOneFrame(t *testing.T) {
	s, p, _ := scripted(t, Server, nil)
	p.synStream(1, 0, 0, 0)
	p.synStream(3, 0, 0, 0)
	accept(t, s)
	st3 := accept(t, s)
	p.data(3, false, 1000)
	p.data(1, false, 65537)
	p.expectRst(1, framing.StatusFlowControlError)
	p.data(3, true, 1000)
	b, err := io.ReadAll(st3)
	if err != nil || len(b) != 2000 {
		t.Fatalf("the other stream read %d bytes, %v", len(b), err)
	}
}

// TestLoweredReceiveWindow covers the last rule of §8.4: after we lower
// our INITIAL_WINDOW_SIZE, a stream the peer opened may still carry data
// sent under the protocol's 64 KiB; a stream we open after the SETTINGS
// gets exactly the new window.
func TestLoweredReceiveWindow(t *testing.T) {
	cfg := &Config{InitialWindowSize: 16 << 10, MaxWindowSize: 16 << 10}
	t.Run("peer stream", func(t *testing.T) {
		s, p, set := scripted(t, Server, cfg)
		if e, ok := set.Value(framing.SettingInitialWindowSize); !ok || e.Value != 16<<10 {
			t.Fatalf("SETTINGS %v, want INITIAL_WINDOW_SIZE 16384", set)
		}
		p.synStream(1, 0, 0, 0)
		st := accept(t, s)
		p.data(1, false, 65536)
		p.syncQuiet()
		p.data(1, true, 0)
		if b, err := io.ReadAll(st); err != nil || len(b) != 65536 {
			t.Fatalf("read %d bytes, %v", len(b), err)
		}
	})
	t.Run("our stream", func(t *testing.T) {
		s, p, _ := scripted(t, Client, cfg)
		openStream(t, s, p, nil)
		p.synReply(1, 0)
		p.data(1, false, 16<<10)
		p.syncQuiet()
		p.data(1, false, 1)
		p.expectRst(1, framing.StatusFlowControlError)
	})
}

// TestReceiveSessionWindow covers §8.3.1 and §8.3.3 for the session
// window: every DATA frame counts against it, on an open, never-opened,
// recently reset or closed stream alike; credit comes back at once
// (WINDOW_UPDATE(0)); a frame over it is a session error.
func TestReceiveSessionWindow(t *testing.T) {
	cfg := &Config{SessionWindowSize: 65536, MaxSessionWindowSize: 65536, InitialWindowSize: 1 << 20}
	tests := []struct {
		name     string
		id       framing.StreamID
		lastGood framing.StreamID
		prepare  func(t *testing.T, s *Session, p *peer)
	}{
		{"open stream", 1, 1, func(t *testing.T, s *Session, p *peer) {
			p.synStream(1, 0, 0, 0)
			accept(t, s)
		}},
		{"never opened", 5, 0, func(t *testing.T, s *Session, p *peer) {}},
		{"recently reset", 1, 1, func(t *testing.T, s *Session, p *peer) {
			p.synStream(1, 0, 0, 0)
			accept(t, s).Reset(framing.StatusCancel)
			p.expectRst(1, framing.StatusCancel)
		}},
		{"closed by the application", 1, 1, func(t *testing.T, s *Session, p *peer) {
			p.synStream(1, 0, 0, 0)
			accept(t, s).Close()
			p.expectFin(1)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, p, _ := scripted(t, Server, cfg)
			tt.prepare(t, s, p)
			// Exactly the window: accepted, and the credit returned.
			p.data(tt.id, false, 1000)
			p.data(tt.id, false, 64536)
			var credit int
			for _, g := range p.sync() {
				switch g.Header().Type {
				case framing.FrameWindowUpdate, framing.FrameRstStream, framing.FrameSynReply:
				default:
					t.Fatalf("unexpected %v", g.Frame)
				}
				credit += sessionCredit([]got{g})
			}
			if credit != 65536 {
				t.Fatalf("session credit returned for 65536 bytes: %d", credit)
			}
			// One byte over the window: GOAWAY.
			p.data(tt.id, false, 65537)
			p.expectGoAway(tt.lastGood, framing.GoAwayProtocolError)
			wantProtocolError(t, s)
		})
	}
}

// TestResetStreamFramesDiscarded covers the [rec] of §5.4: frames for a
// stream we just reset are discarded silently, without a RST_STREAM in
// reply, and its DATA still counts against the session window.
func TestResetStreamFramesDiscarded(t *testing.T) {
	s, p, _ := scripted(t, Server, nil)
	p.synStream(1, 0, 0, 0)
	accept(t, s).Reset(framing.StatusCancel)
	p.expectRst(1, framing.StatusCancel)
	before := s.Stats().ResetsSent
	p.data(1, false, 1000)
	p.headers(1, 0, field("late", "1"))
	p.windowUpdate(1, 100)
	p.data(1, true, 0)
	p.syncQuiet()
	if after := s.Stats().ResetsSent; after != before {
		t.Fatalf("ResetsSent went from %v to %v", before, after)
	}
	// The context stayed in step through the discarded HEADERS.
	p.synStream(3, 0, 0, framing.FlagFin, field("k", "v"))
	if st := accept(t, s); st.ID() != 3 || st.Headers()[0] != field("k", "v") {
		t.Fatalf("stream %d headers %v", st.ID(), st.Headers())
	}
}

// TestUnreadCreditReturned covers the SPDY/3.1 session window with a stream
// whose application never reads, then closes: the session credit of its
// data comes back, so the other streams go on.
func TestUnreadCreditReturned(t *testing.T) {
	cfg := &Config{SessionWindowSize: 65536, MaxSessionWindowSize: 65536, InitialWindowSize: 1 << 20}
	s, p, _ := scripted(t, Server, cfg)
	p.synStream(1, 0, 0, 0)
	p.synStream(3, 0, 0, 0)
	st1, st3 := accept(t, s), accept(t, s)
	p.data(1, false, 60000) // never read
	window := 65536 - 60000 + sessionCredit(p.sync())
	st1.Close()
	window += sessionCredit(p.sync())
	if window < 60000 {
		t.Fatalf("session window %d after an unread stream took 60000 bytes", window)
	}
	// The session reads whatever the windows allow, so these writes
	// complete before the application reads.
	p.data(3, false, 60000)
	p.data(3, true, 0)
	b, err := io.ReadAll(st3)
	if err != nil || len(b) != 60000 {
		t.Fatalf("the other stream read %d bytes, %v", len(b), err)
	}
}

// TestWindowUpdatesSent covers §8.3.4 and §8.3.6: credit is returned as
// the application reads, and no stream WINDOW_UPDATE follows the peer's FIN.
func TestWindowUpdatesSent(t *testing.T) {
	t.Run("as the application reads", func(t *testing.T) {
		// No window growth, so that the update returns exactly the
		// credit read.
		s, p, _ := scripted(t, Server, &Config{MaxWindowSize: DefaultInitialWindowSize})
		p.synStream(1, 0, 0, 0)
		st := accept(t, s)
		p.data(1, false, 40000)
		if _, err := io.ReadFull(st, make([]byte, 40000)); err != nil {
			t.Fatal(err)
		}
		g := p.skipUntil("stream WINDOW_UPDATE", func(g got) bool {
			wu, ok := g.Frame.(*framing.WindowUpdateFrame)
			return ok && wu.StreamID == 1
		})
		if d := g.Frame.(*framing.WindowUpdateFrame).DeltaWindowSize; d < 32768 || d > 40000 {
			t.Fatalf("stream WINDOW_UPDATE of %d after reading 40000 bytes", d)
		}
	})
	t.Run("none after FIN", func(t *testing.T) {
		s, p, _ := scripted(t, Server, nil)
		p.synStream(1, 0, 0, 0)
		st := accept(t, s)
		p.data(1, true, 40000)
		if b, err := io.ReadAll(st); err != nil || len(b) != 40000 {
			t.Fatalf("read %d, %v", len(b), err)
		}
		collectNow(t, s)
		for _, g := range p.sync() {
			if wu, ok := g.Frame.(*framing.WindowUpdateFrame); ok && wu.StreamID == 1 {
				t.Fatalf("sent %v after the peer's FIN", wu)
			}
		}
	})
}

// aLongTimeAgo is a deadline in the past.
var aLongTimeAgo = time.Unix(1, 0)
