package session

import (
	"sync/atomic"
	"time"

	"github.com/spdygo/spdy/framing"
)

// Stats are a session's counters, as returned by Session.Stats.
type Stats struct {
	StreamsOpened   uint64 // streams this side opened
	StreamsAccepted uint64 // streams the peer opened that were accepted
	StreamsRefused  uint64 // peer streams refused over MaxConcurrentStreams
	// ResetsSent and ResetsReceived count RST_STREAM frames by status code
	// (index 0 counts codes above 11).
	ResetsSent     [12]uint64
	ResetsReceived [12]uint64
	BytesSent      uint64 // DATA payload bytes written
	BytesReceived  uint64 // DATA payload bytes read
	FramesSent     uint64
	FramesReceived uint64
	Writes         uint64        // connection writes (each carries one or more frames)
	PingsSent      uint64        // PINGs this side initiated
	PingsReceived  uint64        // PINGs the peer initiated (and we answered)
	RTT            time.Duration // the last round trip measured by a PING
}

type counters struct {
	opened, accepted, refused   atomic.Uint64
	rstSent, rstRecv            [12]atomic.Uint64
	bytesOut, bytesIn           uint64 // atomic
	framesOut, framesIn, writes uint64 // atomic
	pingsSent, pingsRecv        atomic.Uint64
	rtt                         atomic.Int64
}

func statusIndex(c framing.StatusCode) int {
	if c >= 12 {
		return 0
	}
	return int(c)
}

func (c *counters) resetSent(s framing.StatusCode) { c.rstSent[statusIndex(s)].Add(1) }
func (c *counters) resetRecv(s framing.StatusCode) { c.rstRecv[statusIndex(s)].Add(1) }

// Stats returns a snapshot of the session's counters. It may be called at
// any time, also after the session ended.
func (s *Session) Stats() Stats {
	c := &s.stats
	st := Stats{
		StreamsOpened:   c.opened.Load(),
		StreamsAccepted: c.accepted.Load(),
		StreamsRefused:  c.refused.Load(),
		BytesSent:       atomic.LoadUint64(&c.bytesOut),
		BytesReceived:   atomic.LoadUint64(&c.bytesIn),
		FramesSent:      atomic.LoadUint64(&c.framesOut),
		FramesReceived:  atomic.LoadUint64(&c.framesIn),
		Writes:          atomic.LoadUint64(&c.writes),
		PingsSent:       c.pingsSent.Load(),
		PingsReceived:   c.pingsRecv.Load(),
		RTT:             time.Duration(c.rtt.Load()),
	}
	for i := range c.rstSent {
		st.ResetsSent[i] = c.rstSent[i].Load()
		st.ResetsReceived[i] = c.rstRecv[i].Load()
	}
	return st
}
