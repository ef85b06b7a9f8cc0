package bench

import (
	"net"
	"sync"
)

// tcpMux is plain TCP seen as a multiplexer: every stream is a new
// loopback connection, so the numbers are the physical limit (and, for
// request workloads, the cost of a TCP handshake per request).
type tcpMux struct {
	ln     net.Listener
	addr   string
	accept bool // the accepting side

	mu    sync.Mutex
	conns map[*tcpStream]struct{}
	done  bool
}

type tcpStream struct {
	*net.TCPConn
	m *tcpMux
}

func (s *tcpStream) Close() error {
	s.m.mu.Lock()
	delete(s.m.conns, s)
	s.m.mu.Unlock()
	return s.TCPConn.Close()
}

func (m *tcpMux) track(c net.Conn) (Stream, error) {
	tc := c.(*net.TCPConn)
	tc.SetNoDelay(true)
	s := &tcpStream{TCPConn: tc, m: m}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done {
		tc.Close()
		return nil, net.ErrClosed
	}
	m.conns[s] = struct{}{}
	return s, nil
}

func (m *tcpMux) Open() (Stream, error) {
	c, err := net.Dial("tcp", m.addr)
	if err != nil {
		return nil, err
	}
	return m.track(c)
}

func (m *tcpMux) Accept() (Stream, error) {
	c, err := m.ln.Accept()
	if err != nil {
		return nil, err
	}
	return m.track(c)
}

func (m *tcpMux) closeAll() {
	m.mu.Lock()
	m.done = true
	cs := m.conns
	m.conns = nil
	m.mu.Unlock()
	for s := range cs {
		s.TCPConn.Close()
	}
}

func newTCP(Options) (*Pair, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &tcpMux{ln: ln, addr: ln.Addr().String(), conns: map[*tcpStream]struct{}{}}
	s := &tcpMux{ln: ln, addr: ln.Addr().String(), accept: true, conns: map[*tcpStream]struct{}{}}
	return &Pair{Client: c, Server: s, closeFn: func() error {
		err := ln.Close()
		c.closeAll()
		s.closeAll()
		return err
	}}, nil
}
