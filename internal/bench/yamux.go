package bench

import (
	"io"

	"github.com/hashicorp/yamux"
)

type yamuxMux struct{ s *yamux.Session }

// yamuxStream maps the half-close: yamux's Close only ends this
// direction (it sends FIN and reading goes on).
type yamuxStream struct{ *yamux.Stream }

func (s yamuxStream) CloseWrite() error { return s.Stream.Close() }
func (s yamuxStream) Close() error      { return s.Stream.Close() }

func (m yamuxMux) Open() (Stream, error) {
	st, err := m.s.OpenStream()
	if err != nil {
		return nil, err
	}
	return yamuxStream{st}, nil
}

func (m yamuxMux) Accept() (Stream, error) {
	st, err := m.s.AcceptStream()
	if err != nil {
		return nil, err
	}
	return yamuxStream{st}, nil
}

func newYamux(Options) (*Pair, error) {
	cc, sc, err := tcpPair()
	if err != nil {
		return nil, err
	}
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	cs, err := yamux.Client(cc, cfg)
	if err != nil {
		closeAll(cc, sc)
		return nil, err
	}
	ss, err := yamux.Server(sc, cfg)
	if err != nil {
		closeAll(cs, sc)
		return nil, err
	}
	return &Pair{Client: yamuxMux{cs}, Server: yamuxMux{ss}, closeFn: func() error {
		return closeAll(cs, ss)
	}}, nil
}
