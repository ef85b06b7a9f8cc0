package bench

import "github.com/xtaci/smux"

type smuxMux struct{ s *smux.Session }

func (m smuxMux) Open() (Stream, error) {
	st, err := m.s.OpenStream()
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (m smuxMux) Accept() (Stream, error) {
	st, err := m.s.AcceptStream()
	if err != nil {
		return nil, err
	}
	return st, nil
}

func newSmux(Options) (*Pair, error) {
	cc, sc, err := tcpPair()
	if err != nil {
		return nil, err
	}
	cfg := smux.DefaultConfig()
	cs, err := smux.Client(cc, cfg)
	if err != nil {
		closeAll(cc, sc)
		return nil, err
	}
	ss, err := smux.Server(sc, cfg)
	if err != nil {
		closeAll(cs, sc)
		return nil, err
	}
	return &Pair{Client: smuxMux{cs}, Server: smuxMux{ss}, closeFn: func() error {
		return closeAll(cs, ss)
	}}, nil
}
