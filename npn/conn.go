package npn

import (
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

// newBufConn returns c with buffered (copied) ahead of its unread bytes, or
// c itself when nothing was buffered.
func newBufConn(c net.Conn, buffered []byte) *bufConn {
	bc := &bufConn{Conn: c}
	if len(buffered) > 0 {
		bc.buf = append([]byte(nil), buffered...)
	}
	return bc
}

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

// NetConn returns the underlying connection.
func (c *bufConn) NetConn() net.Conn { return c.Conn }
