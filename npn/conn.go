package npn

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
)

// bufConn is a net.Conn whose first reads return bytes that were already
// read from it (by a sniffer or an HTTP reader) before the rest of the
// connection.
type bufConn struct {
	net.Conn

	mu  sync.Mutex
	buf []byte // unread bytes read earlier; nil once drained
}

// newBufConn returns c with buffered (copied) ahead of its unread bytes.
// Over a *tls.Conn the result also has its ConnectionState method.
func newBufConn(c net.Conn, buffered []byte) net.Conn {
	bc := &bufConn{Conn: c}
	if len(buffered) > 0 {
		bc.buf = append([]byte(nil), buffered...)
	}
	if tc, ok := c.(*tls.Conn); ok {
		return &tlsBufConn{bufConn: bc, tc: tc}
	}
	return bc
}

// tlsBufConn is a bufConn over TLS.
type tlsBufConn struct {
	*bufConn
	tc *tls.Conn
}

// ConnectionState returns the state of the TLS connection.
func (c *tlsBufConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// Read returns the buffered bytes first, then reads the connection.
func (c *bufConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.buf) > 0 {
		n := copy(p, c.buf)
		c.buf = c.buf[n:]
		if len(c.buf) == 0 {
			c.buf = nil
		}
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}

// CloseWrite shuts the writing side of the underlying connection, when it
// has one to shut (TCP, TLS).
func (c *bufConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// NetConn returns the underlying connection.
func (c *bufConn) NetConn() net.Conn { return c.Conn }
