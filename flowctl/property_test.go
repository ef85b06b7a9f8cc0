package flowctl_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/spdygo/spdy/flowctl"
)

// The property test runs a sender and a receiver connected by two ordered
// queues (DATA one way; WINDOW_UPDATE, SETTINGS and RST_STREAM the other),
// applying random operations in a random order, and checks after every step
// that
//
//   - the receiver accepts every DATA frame the sender was allowed to send
//     (what the sender thinks it may send never exceeds what the receiver
//     will accept), including frames sent under a larger initial window the
//     sender had not yet replaced when the receiver lowered it;
//   - no WINDOW_UPDATE or SETTINGS change ever overflows a send window;
//   - for the session and every stream both ends know, the two views agree
//     exactly: receiver Available = sender Available + DATA in flight +
//     WINDOW_UPDATE deltas in flight + SETTINGS changes in flight;
//   - every Inflow keeps Available + Buffered + Pending = Target.

type simData struct {
	stream int // index into sim.streams
	n      int
	syn    bool
}

type simCtrlKind int

const (
	ctrlUpdate simCtrlKind = iota
	ctrlSettings
	ctrlReset
)

type simCtrl struct {
	kind   simCtrlKind
	stream int // -1: the session
	delta  uint32
	size   int32
}

type simStream struct {
	out       flowctl.Outflow
	sendLive  bool // sender has not seen RST_STREAM
	in        flowctl.Inflow
	recvKnown bool // receiver has seen SYN_STREAM
	recvLive  bool // receiver has not reset it
}

type sim struct {
	t   *testing.T
	rng *rand.Rand

	// Sender.
	sessOut     flowctl.Outflow
	peerInitial int32 // receiver's initial window as the sender knows it

	// Receiver.
	sessIn     flowctl.Inflow
	ourInitial int32
	largest    int32 // largest initial window ever advertised
	maxTune    int32

	streams []*simStream
	data    []simData
	ctrl    []simCtrl
	now     time.Duration
	rtt     time.Duration
}

var initialSizes = []int32{0, 1, 1000, 16 << 10, 64 << 10, 200 << 10, 1 << 20}

func newSim(t *testing.T, seed uint64) *sim {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := &sim{
		t: t, rng: rng,
		peerInitial: flowctl.DefaultWindow, ourInitial: flowctl.DefaultWindow, largest: flowctl.DefaultWindow,
		maxTune: []int32{0, 256 << 10, 4 << 20}[rng.IntN(3)],
		rtt:     time.Duration(rng.IntN(3)) * 20 * time.Millisecond, // 0 disables tuning
	}
	s.sessOut.Init(flowctl.DefaultWindow)
	s.sessIn.Init(flowctl.DefaultWindow, s.maxTune)
	return s
}

func (s *sim) sendUpdate(stream int, delta uint32) {
	if delta != 0 {
		s.ctrl = append(s.ctrl, simCtrl{kind: ctrlUpdate, stream: stream, delta: delta})
	}
}

func (s *sim) step() {
	switch op := s.rng.IntN(100); {
	case op < 5: // sender opens a stream
		if len(s.streams) < 64 {
			st := &simStream{sendLive: true}
			st.out.Init(s.peerInitial)
			s.streams = append(s.streams, st)
			s.data = append(s.data, simData{stream: len(s.streams) - 1, syn: true})
		}
	case op < 30: // sender writes DATA on a stream it may send on
		if i := s.rng.IntN(len(s.streams) + 1); i < len(s.streams) && s.streams[i].sendLive {
			st := s.streams[i]
			can := flowctl.Sendable(&st.out, &s.sessOut)
			n := s.rng.IntN(min(can, 20000) + 1) // 0 is an empty DATA frame, always allowed
			st.out.Take(n)
			s.sessOut.Take(n)
			s.data = append(s.data, simData{stream: i, n: n})
		}
	case op < 50: // receiver reads one DATA frame
		if len(s.data) > 0 {
			d := s.data[0]
			s.data = s.data[1:]
			s.receive(d)
		}
	case op < 70: // application reads from a stream
		if i := s.rng.IntN(len(s.streams) + 1); i < len(s.streams) && s.streams[i].recvLive {
			st := s.streams[i]
			n := s.rng.IntN(st.in.Buffered() + 1)
			s.sendUpdate(i, st.in.ConsumeAt(n, s.now, s.rtt))
			s.sendUpdate(-1, s.sessIn.ConsumeAt(n, s.now, s.rtt))
		}
	case op < 73: // receiver resets a stream, discarding what it buffered
		if i := s.rng.IntN(len(s.streams) + 1); i < len(s.streams) && s.streams[i].recvLive {
			st := s.streams[i]
			st.recvLive = false
			s.sendUpdate(-1, s.sessIn.Consume(st.in.Buffered()))
			s.ctrl = append(s.ctrl, simCtrl{kind: ctrlReset, stream: i})
		}
	case op < 76: // receiver changes its SETTINGS_INITIAL_WINDOW_SIZE
		size := initialSizes[s.rng.IntN(len(initialSizes))]
		for _, st := range s.streams {
			if st.recvLive {
				if err := st.in.AdjustInitial(s.ourInitial, size); err != nil {
					s.t.Fatalf("Inflow.AdjustInitial(%d, %d): %v", s.ourInitial, size, err)
				}
			}
		}
		s.ourInitial, s.largest = size, max(s.largest, size)
		s.ctrl = append(s.ctrl, simCtrl{kind: ctrlSettings, size: size})
	case op < 77: // receiver enlarges the session window
		s.sendUpdate(-1, s.sessIn.GrowTarget(int32(s.rng.IntN(8<<20))))
	case op < 97: // sender reads one control frame
		if len(s.ctrl) > 0 {
			c := s.ctrl[0]
			s.ctrl = s.ctrl[1:]
			s.control(c)
		}
	default:
		s.now += time.Duration(s.rng.IntN(5000)) * time.Microsecond
	}
}

func (s *sim) receive(d simData) {
	st := s.streams[d.stream]
	if d.syn {
		// The sender may have opened the stream before seeing our latest
		// SETTINGS: allow the largest window it may be using.
		st.in.Init(s.largest, s.maxTune)
		if err := st.in.AdjustInitial(s.largest, s.ourInitial); err != nil {
			s.t.Fatalf("new stream: AdjustInitial: %v", err)
		}
		st.recvKnown, st.recvLive = true, true
		return
	}
	if err := s.sessIn.Receive(d.n); err != nil {
		s.t.Fatalf("session Receive(%d): %v (sender's view exceeded the receiver's)", d.n, err)
	}
	if !st.recvLive {
		s.sendUpdate(-1, s.sessIn.Consume(d.n)) // discarded: credit back to the session
		return
	}
	if err := st.in.Receive(d.n); err != nil {
		s.t.Fatalf("stream %d Receive(%d): %v (sender's view exceeded the receiver's)", d.stream, d.n, err)
	}
}

func (s *sim) control(c simCtrl) {
	switch c.kind {
	case ctrlUpdate:
		if c.stream < 0 {
			if err := s.sessOut.Add(c.delta); err != nil {
				s.t.Fatalf("session Add(%d): %v", c.delta, err)
			}
		} else if st := s.streams[c.stream]; st.sendLive {
			if err := st.out.Add(c.delta); err != nil {
				s.t.Fatalf("stream %d Add(%d): %v", c.stream, c.delta, err)
			}
		}
	case ctrlSettings:
		for i, st := range s.streams {
			if st.sendLive {
				if err := st.out.AdjustInitial(s.peerInitial, c.size); err != nil {
					s.t.Fatalf("stream %d AdjustInitial(%d, %d): %v", i, s.peerInitial, c.size, err)
				}
			}
		}
		s.peerInitial = c.size
	case ctrlReset:
		s.streams[c.stream].sendLive = false
	}
}

// check compares the two ends' views.
func (s *sim) check() {
	var dataAll int64
	dataOn := make([]int64, len(s.streams))
	for _, d := range s.data {
		dataAll += int64(d.n)
		dataOn[d.stream] += int64(d.n)
	}
	var sessUpdates, settingsDelta int64
	updatesOn := make([]int64, len(s.streams))
	prev := s.peerInitial
	for _, c := range s.ctrl {
		switch {
		case c.kind == ctrlUpdate && c.stream < 0:
			sessUpdates += int64(c.delta)
		case c.kind == ctrlUpdate:
			updatesOn[c.stream] += int64(c.delta)
		case c.kind == ctrlSettings:
			settingsDelta += int64(c.size) - int64(prev)
			prev = c.size
		}
	}
	if got, want := int64(s.sessIn.Available()), int64(s.sessOut.Available())+dataAll+sessUpdates; got != want {
		s.t.Fatalf("session: receiver Available %d, sender Available %d + in flight %d + updates %d = %d",
			got, s.sessOut.Available(), dataAll, sessUpdates, want)
	}
	checkInflow(s.t, &s.sessIn)
	for i, st := range s.streams {
		if !st.recvLive {
			continue
		}
		checkInflow(s.t, &st.in)
		if !st.sendLive {
			continue
		}
		want := int64(st.out.Available()) + dataOn[i] + updatesOn[i] + settingsDelta
		if got := int64(st.in.Available()); got != want {
			s.t.Fatalf("stream %d: receiver Available %d, sender Available %d + in flight %d + updates %d + settings %d = %d",
				i, got, st.out.Available(), dataOn[i], updatesOn[i], settingsDelta, want)
		}
	}
}

func TestPropertyViewsAgree(t *testing.T) {
	seeds, steps := 120, 2000
	if testing.Short() {
		seeds = 20
	}
	for seed := range uint64(seeds) {
		s := newSim(t, seed)
		for range steps {
			s.step()
			s.check()
		}
		// Drain both queues and read everything: all credit comes back.
		for drained := false; !drained; drained = len(s.data) == 0 && len(s.ctrl) == 0 {
			for len(s.data) > 0 {
				d := s.data[0]
				s.data = s.data[1:]
				s.receive(d)
			}
			for i, st := range s.streams {
				if st.recvLive {
					n := st.in.Buffered()
					s.sendUpdate(i, st.in.Consume(n))
					s.sendUpdate(-1, s.sessIn.Consume(n))
				}
			}
			for len(s.ctrl) > 0 {
				c := s.ctrl[0]
				s.ctrl = s.ctrl[1:]
				s.control(c)
			}
			s.check()
		}
		if s.sessIn.Buffered() != 0 {
			t.Fatalf("seed %d: session Buffered = %d after draining", seed, s.sessIn.Buffered())
		}
		// Whatever is still pending is below the batching threshold, so
		// the sender is never left without credit.
		if got, tg := s.sessOut.Available(), s.sessIn.Target(); int64(got) <= int64(tg)/2 && tg > 1 {
			t.Fatalf("seed %d: sender left with %d of a %d session window", seed, got, tg)
		}
	}
}
