package faultnet

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"time"
)

// ErrCut is the error of the calls of a direction that a Conn cut, and of
// every call once a Close cut closed the connection.
var ErrCut = errors.New("faultnet: connection cut")

// Direction is one direction of a Conn, seen from the side it wraps.
type Direction int

const (
	// Reads are the bytes the wrapped side reads: what its peer sent.
	Reads Direction = iota
	// Writes are the bytes the wrapped side writes to its peer.
	Writes
)

// String returns "reads" or "writes".
func (d Direction) String() string {
	switch d {
	case Reads:
		return "reads"
	case Writes:
		return "writes"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// Action is what happens to a direction at its cut point.
type Action int

const (
	// Close closes the whole connection right after the direction has
	// passed its bytes: later calls of both directions fail with ErrCut,
	// and the peer sees the connection end (a FIN, or a reset when bytes
	// it sent are left unread).
	Close Action = iota
	// Stall passes no further byte of the direction and closes nothing:
	// its calls block until the Conn is closed, the direction's deadline
	// passes (they then fail as a real connection's do, with an error
	// matching os.ErrDeadlineExceeded) or another Cut changes the
	// direction. A CloseWrite of a stalled write direction is lost on the
	// way: it returns nil and the peer sees nothing. The bytes the peer
	// sends to a stalled reader wait in the kernel's buffers.
	Stall
	// HalfClose ends the direction cleanly. At the writer, the Conn shuts
	// its writing side (CloseWrite: the peer reads io.EOF) and later
	// writes fail with ErrCut; at the reader, Read returns io.EOF as if
	// the peer had shut its side. The other direction goes on working.
	HalfClose
	// Blackhole kills the link both ways without telling anyone, as a
	// pulled cable or a NAT that forgot the connection does: from the cut
	// point on, no byte passes in either direction, calls block as with
	// Stall, and Close and CloseWrite do not reach the peer (the socket
	// stays open until Release), so that each side has to find out by
	// itself, with its own timeouts.
	Blackhole
)

// String returns the action's name in lower case.
func (a Action) String() string {
	switch a {
	case Close:
		return "close"
	case Stall:
		return "stall"
	case HalfClose:
		return "halfclose"
	case Blackhole:
		return "blackhole"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// gate is the state of one direction.
type gate struct {
	n        int64 // bytes passed
	limit    int64 // bytes allowed; negative means no limit
	action   Action
	cut      bool // the action took effect (Close, HalfClose)
	reached  bool
	hit      chan struct{} // closed when n reaches limit
	record   bool
	rec      []byte
	deadline time.Time
	changed  chan struct{} // closed and replaced when limit or deadline change
}

// Conn is a net.Conn that passes the bytes of each direction through a
// counter and cuts a direction at the point Cut sets. Its methods are safe
// for concurrent use, as a net.Conn's are; Read and Write each should be
// called by one goroutine at a time.
type Conn struct {
	net.Conn

	mu         sync.Mutex
	g          [2]gate
	cutClosed  bool          // a Close cut closed the connection
	userClosed bool          // Close was called
	blackhole  bool          // a Blackhole cut took effect
	held       bool          // Close was called in a blackhole: the socket is kept
	released   bool          // the socket was closed
	done       chan struct{} // closed at the first close of either kind
	closedCh   chan struct{} // closed by Close
}

// Wrap returns c wrapped in a Conn with no cut: every byte passes until
// Cut says otherwise.
func Wrap(c net.Conn) *Conn {
	fc := &Conn{Conn: c, done: make(chan struct{}), closedCh: make(chan struct{})}
	for i := range fc.g {
		fc.g[i] = gate{limit: -1, hit: make(chan struct{}), changed: make(chan struct{})}
	}
	return fc
}

// NetConn returns the wrapped connection.
func (c *Conn) NetConn() net.Conn { return c.Conn }

// Cut arms the fault of direction d: it passes n bytes in all, counted
// from the start of the connection, and then takes action a. If n bytes
// have passed already, the action takes effect at once. A later Cut of the
// same direction replaces an earlier one that has not taken effect (a
// stall may be turned into another action, or lifted with a negative n).
func (c *Conn) Cut(d Direction, n int64, a Action) {
	c.mu.Lock()
	g := &c.g[d]
	g.limit, g.action = n, a
	c.changedLocked(d)
	var todo func()
	if n >= 0 && g.n >= n {
		todo = c.reachLocked(d)
	}
	c.mu.Unlock()
	if todo != nil {
		todo()
	}
}

// Record makes the Conn keep a copy of the bytes that pass in direction d
// from now on, for Recorded.
func (c *Conn) Record(d Direction) {
	c.mu.Lock()
	c.g[d].record = true
	c.mu.Unlock()
}

// Recorded returns a copy of the bytes recorded in direction d.
func (c *Conn) Recorded(d Direction) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.g[d].rec)
}

// Count returns how many bytes have passed in direction d.
func (c *Conn) Count(d Direction) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.g[d].n
}

// Hit returns a channel that is closed once direction d has reached its
// cut point: its n bytes have passed (or a call found none may pass) and
// its action has taken effect.
func (c *Conn) Hit(d Direction) <-chan struct{} { return c.g[d].hit }

// Closed returns a channel that is closed when Close is called: the sign
// that the Conn's user gave up on it. A Close cut does not close it.
func (c *Conn) Closed() <-chan struct{} { return c.closedCh }

// Read reads from the wrapped connection, passing at most the bytes the
// direction has left before its cut point.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		if err := c.check(Reads); err != nil {
			return 0, err
		}
		return c.Conn.Read(p)
	}
	for {
		k, err := c.grant(Reads, len(p))
		if err != nil {
			return 0, err
		}
		if k == 0 {
			if err := c.stall(Reads); err != nil {
				return 0, err
			}
			continue
		}
		n, err := c.Conn.Read(p[:k])
		n = c.passed(Reads, p[:n])
		if err != nil {
			err = c.translate(Reads, err)
		}
		if n == 0 && err == nil {
			continue // what arrived lies beyond the cut point
		}
		return n, err
	}
}

// Write writes to the wrapped connection the bytes the direction has left
// before its cut point, and then does what the cut says with the rest.
func (c *Conn) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		k, err := c.grant(Writes, len(p)-done)
		if err != nil {
			return done, err
		}
		if k == 0 {
			if err := c.stall(Writes); err != nil {
				return done, err
			}
			continue
		}
		m, err := c.Conn.Write(p[done : done+k])
		c.passed(Writes, p[done:done+m])
		done += m
		if err != nil {
			return done, c.translate(Writes, err)
		}
	}
	if len(p) == 0 {
		if err := c.check(Writes); err != nil {
			return 0, err
		}
	}
	return done, nil
}

// Close closes the connection and wakes the calls that a stall blocks. In a
// blackhole the wrapped socket stays open (the peer must not learn of the
// close) until Release.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.userClosed {
		c.mu.Unlock()
		return fmt.Errorf("faultnet: close: %w", net.ErrClosed)
	}
	c.userClosed = true
	close(c.closedCh)
	c.closeDoneLocked()
	hold := c.blackhole
	c.held = hold
	release := !hold && !c.released
	c.released = c.released || release
	c.mu.Unlock()
	if release {
		return c.Conn.Close()
	}
	return nil
}

// Release closes the wrapped socket if a blackhole kept it open after
// Close; otherwise it does nothing. Tests call it once they have checked
// that both sides ended by themselves.
func (c *Conn) Release() error {
	c.mu.Lock()
	release := c.held && !c.released
	c.released = c.released || release
	c.mu.Unlock()
	if release {
		return c.Conn.Close()
	}
	return nil
}

// CloseWrite shuts the writing side of the wrapped connection (the peer
// reads io.EOF) when it has one, as *net.TCPConn does. A stalled write
// direction or a blackhole loses it: it returns nil and nothing is sent.
func (c *Conn) CloseWrite() error {
	c.mu.Lock()
	g := &c.g[Writes]
	lost := c.blackhole || (g.action == Stall && g.reached && g.limit >= 0)
	closed := c.userClosed || c.cutClosed
	c.mu.Unlock()
	if closed {
		return c.opError(Writes, net.ErrClosed)
	}
	if lost {
		return nil
	}
	cw, ok := c.Conn.(interface{ CloseWrite() error })
	if !ok {
		return fmt.Errorf("faultnet: %T has no CloseWrite", c.Conn)
	}
	return cw.CloseWrite()
}

// SetDeadline sets both deadlines, of the wrapped connection and of the
// calls a stall blocks.
func (c *Conn) SetDeadline(t time.Time) error {
	c.setDeadline(Reads, t)
	c.setDeadline(Writes, t)
	return c.Conn.SetDeadline(t)
}

// SetReadDeadline sets the read deadline, of the wrapped connection and of
// the reads a stall blocks.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.setDeadline(Reads, t)
	return c.Conn.SetReadDeadline(t)
}

// SetWriteDeadline sets the write deadline, of the wrapped connection and
// of the writes a stall blocks.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.setDeadline(Writes, t)
	return c.Conn.SetWriteDeadline(t)
}

func (c *Conn) setDeadline(d Direction, t time.Time) {
	c.mu.Lock()
	c.g[d].deadline = t
	c.changedLocked(d)
	c.mu.Unlock()
}

// changedLocked wakes the calls of d that a stall blocks, so that they
// look at the gate again.
func (c *Conn) changedLocked(d Direction) {
	close(c.g[d].changed)
	c.g[d].changed = make(chan struct{})
}

func (c *Conn) closeDoneLocked() {
	select {
	case <-c.done:
	default:
		close(c.done)
	}
}

func (c *Conn) opError(d Direction, err error) error {
	op := "read"
	if d == Writes {
		op = "write"
	}
	return &net.OpError{Op: op, Net: "faultnet", Source: c.Conn.LocalAddr(), Addr: c.Conn.RemoteAddr(), Err: err}
}

// errLocked is the error of a call of d that may not go on, or nil.
func (c *Conn) errLocked(d Direction) error {
	switch {
	case c.userClosed:
		return c.opError(d, net.ErrClosed)
	case c.cutClosed:
		return c.opError(d, ErrCut)
	case c.g[d].cut && d == Reads:
		return io.EOF // HalfClose at the reader
	case c.g[d].cut:
		return c.opError(d, ErrCut)
	}
	return nil
}

// check returns the error of a call of d that may not go on, or nil.
func (c *Conn) check(d Direction) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errLocked(d)
}

// grant returns how many of want bytes of d may pass now: 0 means that
// the call must stall.
func (c *Conn) grant(d Direction, want int) (int, error) {
	c.mu.Lock()
	if err := c.errLocked(d); err != nil {
		c.mu.Unlock()
		return 0, err
	}
	g := &c.g[d]
	if g.limit < 0 {
		c.mu.Unlock()
		return want, nil
	}
	if left := g.limit - g.n; left > 0 {
		c.mu.Unlock()
		return int(min(int64(want), left)), nil
	}
	todo := c.reachLocked(d)
	err := c.errLocked(d)
	c.mu.Unlock()
	if todo != nil {
		todo()
	}
	return 0, err
}

// passed counts the bytes b of d that went through the wrapped connection
// and returns how many of them may be delivered: for reads, those beyond
// a cut point set meanwhile are dropped. At the cut point the action takes
// effect.
func (c *Conn) passed(d Direction, b []byte) int {
	c.mu.Lock()
	g := &c.g[d]
	n := len(b)
	if d == Reads && g.limit >= 0 {
		n = int(max(0, min(int64(n), g.limit-g.n)))
	}
	g.n += int64(n)
	if g.record {
		g.rec = append(g.rec, b[:n]...)
	}
	var todo func()
	if g.limit >= 0 && g.n >= g.limit {
		todo = c.reachLocked(d)
	}
	c.mu.Unlock()
	if todo != nil {
		todo()
	}
	return n
}

// reachLocked records that d reached its cut point and puts its action
// into effect, returning what must be done to the wrapped connection
// without the lock.
func (c *Conn) reachLocked(d Direction) func() {
	g := &c.g[d]
	if !g.reached {
		g.reached = true
		close(g.hit)
	}
	switch g.action {
	case Stall:
		return nil
	case Blackhole:
		if !c.blackhole {
			c.blackhole = true
			for i := range c.g {
				o := &c.g[i]
				o.limit, o.action = o.n, Stall
				o.reached = true
				select {
				case <-o.hit:
				default:
					close(o.hit)
				}
				c.changedLocked(Direction(i))
			}
		}
		return nil
	}
	if g.cut || c.cutClosed || c.userClosed {
		return nil
	}
	g.cut = true
	c.changedLocked(d)
	switch {
	case g.action == Close:
		c.cutClosed = true
		c.closeDoneLocked()
		c.released = true
		return func() { c.Conn.Close() }
	case d == Writes: // HalfClose
		return func() {
			if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
		}
	}
	return nil // HalfClose at the reader: Read returns io.EOF from now on
}

// stall blocks a call of d at its cut point until the connection closes,
// the deadline passes or the gate changes; it returns nil when the call
// should look at the gate again.
func (c *Conn) stall(d Direction) error {
	c.mu.Lock()
	if err := c.errLocked(d); err != nil {
		c.mu.Unlock()
		return err
	}
	dl, changed := c.g[d].deadline, c.g[d].changed
	c.mu.Unlock()
	var expired <-chan time.Time
	if !dl.IsZero() {
		wait := time.Until(dl)
		if wait <= 0 {
			return c.opError(d, os.ErrDeadlineExceeded)
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-c.done:
		return c.check(d)
	case <-changed:
		return nil
	case <-expired:
		return c.opError(d, os.ErrDeadlineExceeded)
	}
}

// translate turns the error of the wrapped connection that a Close cut
// closed into ErrCut.
func (c *Conn) translate(d Direction, err error) error {
	c.mu.Lock()
	cut := c.cutClosed && !c.userClosed
	c.mu.Unlock()
	if cut && errors.Is(err, net.ErrClosed) {
		return c.opError(d, ErrCut)
	}
	return err
}
