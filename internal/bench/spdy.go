package bench

import (
	"context"

	"github.com/spdygo/spdy/session"
)

type spdyMux struct{ s *session.Session }

func (m spdyMux) Open() (Stream, error) {
	st, err := m.s.Open(context.Background(), nil)
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (m spdyMux) Accept() (Stream, error) {
	st, err := m.s.Accept(context.Background())
	if err != nil {
		return nil, err
	}
	return st, nil
}

// newSPDY returns the constructor of this module's session at a version
// (3 or 31), default configuration except the stream limit.
func newSPDY(version int) func(Options) (*Pair, error) {
	v := session.V31
	if version == 3 {
		v = session.V3
	}
	return func(o Options) (*Pair, error) {
		cc, sc, err := tcpPair()
		if err != nil {
			return nil, err
		}
		cfg := &session.Config{Version: v, MaxFrameSize: o.SPDYFrameSize}
		if o.MaxStreams > session.DefaultMaxConcurrentStreams {
			cfg.MaxConcurrentStreams = uint32(o.MaxStreams)
		}
		cs, err := session.NewClient(cc, cfg)
		if err != nil {
			closeAll(cc, sc)
			return nil, err
		}
		ss, err := session.NewServer(sc, cfg)
		if err != nil {
			closeAll(cs, sc)
			return nil, err
		}
		return &Pair{Client: spdyMux{cs}, Server: spdyMux{ss}, closeFn: func() error {
			return closeAll(cs, ss)
		}}, nil
	}
}
