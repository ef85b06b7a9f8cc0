package bench

import (
	"net"
	"net/http"
	"sync"

	"github.com/moby/spdystream"
)

// spdystreamMux is one side of a moby/spdystream connection. Accepted
// streams are replied to in the handler, before their DATA is handled
// (spdystream drops DATA that arrives on a stream it has not replied to),
// and queued for Accept without blocking the frame worker.
type spdystreamMux struct {
	c *spdystream.Connection

	mu     sync.Mutex
	queue  []*spdystream.Stream
	sig    chan struct{}
	served chan struct{} // closed when Serve returns
}

// spdystreamStream maps the half-close: spdystream's Close sends an empty
// DATA+FIN and reading goes on.
type spdystreamStream struct{ *spdystream.Stream }

func (s spdystreamStream) CloseWrite() error { return s.Stream.Close() }

// Close is a no-op after CloseWrite: spdystream forgets a stream once both
// sides sent FIN.
func (s spdystreamStream) Close() error {
	if s.Stream.IsFinished() {
		return nil
	}
	return s.Stream.Close()
}

func (m *spdystreamMux) handle(st *spdystream.Stream) {
	if err := st.SendReply(http.Header{}, false); err != nil {
		st.Reset()
		return
	}
	m.mu.Lock()
	m.queue = append(m.queue, st)
	m.mu.Unlock()
	select {
	case m.sig <- struct{}{}:
	default:
	}
}

func (m *spdystreamMux) Open() (Stream, error) {
	st, err := m.c.CreateStream(http.Header{}, nil, false)
	if err != nil {
		return nil, err
	}
	return spdystreamStream{st}, nil
}

func (m *spdystreamMux) Accept() (Stream, error) {
	for {
		m.mu.Lock()
		if len(m.queue) > 0 {
			st := m.queue[0]
			m.queue[0] = nil
			m.queue = m.queue[1:]
			m.mu.Unlock()
			return spdystreamStream{st}, nil
		}
		m.mu.Unlock()
		select {
		case <-m.sig:
		case <-m.served:
			return nil, net.ErrClosed
		}
	}
}

func newSpdystreamMux(conn net.Conn, server bool) (*spdystreamMux, error) {
	c, err := spdystream.NewConnection(conn, server)
	if err != nil {
		return nil, err
	}
	m := &spdystreamMux{c: c, sig: make(chan struct{}, 1), served: make(chan struct{})}
	go func() {
		defer close(m.served)
		c.Serve(m.handle)
	}()
	return m, nil
}

func newSpdystream(Options) (*Pair, error) {
	cc, sc, err := tcpPair()
	if err != nil {
		return nil, err
	}
	cm, err := newSpdystreamMux(cc, false)
	if err != nil {
		closeAll(cc, sc)
		return nil, err
	}
	sm, err := newSpdystreamMux(sc, true)
	if err != nil {
		closeAll(cc, sc)
		<-cm.served
		return nil, err
	}
	return &Pair{Client: cm, Server: sm, closeFn: func() error {
		// spdystream's own Close waits for every stream to finish, without
		// a limit by default: end the connections instead, which ends Serve
		// and every stream.
		err := closeAll(cc, sc)
		<-cm.served
		<-sm.served
		return err
	}}, nil
}
