package session

import (
	"testing"

	"github.com/spdygo/spdy/framing"
)

// A peer that opens and resets streams in a loop while the application is
// not accepting (rapid reset) cannot grow the accept queue without bound:
// streams waiting there count against MAX_CONCURRENT_STREAMS, reset or
// not, and beyond it new streams are refused. Every stream that was
// queued is still handed to Accept, reset ones included, and once they
// are taken new streams are accepted again.
func TestRapidResetBoundsAcceptQueue(t *testing.T) {
	s, p, _ := scripted(t, Server, &Config{Version: V31, MaxConcurrentStreams: 4})
	var id framing.StreamID = 1
	for range 100 {
		p.synStream(id, 0, 0, framing.FlagFin)
		p.rst(id, framing.StatusCancel)
		id += 2
	}
	refused := 0
	for _, g := range p.sync() {
		if rst, ok := g.Frame.(*framing.RstStreamFrame); ok {
			if rst.Status != framing.StatusRefusedStream || rst.StreamID <= 7 {
				t.Fatalf("unexpected %v", rst)
			}
			refused++
		}
	}
	if refused != 96 || s.Stats().StreamsRefused != 96 {
		t.Fatalf("%d streams refused (stats %d), want 96", refused, s.Stats().StreamsRefused)
	}
	for _, want := range []framing.StreamID{1, 3, 5, 7} {
		if st := accept(t, s); st.ID() != want {
			t.Fatalf("accepted %d, want %d", st.ID(), want)
		}
	}
	p.synStream(id, 0, 0, framing.FlagFin, field("last", "yes"))
	p.syncQuiet()
	if st := accept(t, s); st.ID() != id || st.Header("last") != "yes" {
		t.Fatalf("accepted %d (%v), want %d", st.ID(), st.Headers(), id)
	}
}

// A stream the session resets itself before it was accepted (here for
// overflowing its window) still holds its place in the accept queue, so a
// peer cannot make the queue grow by breaking rules either.
func TestStreamErrorsBoundAcceptQueue(t *testing.T) {
	s, p, _ := scripted(t, Server, &Config{Version: V31, MaxConcurrentStreams: 3})
	for id := framing.StreamID(1); id <= 5; id += 2 {
		p.synStream(id, 0, 0, 0)
		p.data(id, false, 70000) // beyond the 64 KiB window
		p.expectRst(id, framing.StatusFlowControlError)
	}
	p.synStream(7, 0, 0, framing.FlagFin)
	p.expectRst(7, framing.StatusRefusedStream)
	p.syncQuiet()
	for _, want := range []framing.StreamID{1, 3, 5} {
		if st := accept(t, s); st.ID() != want {
			t.Fatalf("accepted %d, want %d", st.ID(), want)
		}
	}
}
