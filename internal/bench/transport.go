package bench

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
)

// Stream is what the workloads need of one multiplexed stream (or, for
// plain TCP, of one connection): reading, writing, a half-close that
// sends the end of this direction, and a full close.
type Stream interface {
	io.ReadWriter
	// CloseWrite ends this direction; the peer's Read returns io.EOF once
	// it has read everything before it. Reading goes on.
	CloseWrite() error
	// Close ends the stream in both directions.
	Close() error
}

// Mux is one side of a multiplexed connection.
type Mux interface {
	// Open starts a stream toward the peer.
	Open() (Stream, error)
	// Accept waits for the next stream the peer opens.
	Accept() (Stream, error)
}

// Pair is both ends of one loopback connection running a transport.
type Pair struct {
	Client, Server Mux

	closeOnce sync.Once
	closeFn   func() error
	closeErr  error
}

// Close ends both sides and waits until the transport's goroutines have
// been told to stop. It is safe to call more than once and from any
// goroutine; it unblocks every pending call on the pair's streams.
func (p *Pair) Close() error {
	p.closeOnce.Do(func() { p.closeErr = p.closeFn() })
	return p.closeErr
}

// Options tune a pair for a workload.
type Options struct {
	// MaxStreams is how many streams may be open at once in each
	// direction; transports whose limit is lower by default raise it.
	MaxStreams int
	// SPDYFrameSize, when positive, is the session's Config.MaxFrameSize
	// (the largest DATA frame it writes); other transports ignore it.
	SPDYFrameSize int
}

// Transport creates loopback pairs of one kind.
type Transport struct {
	// Name identifies the transport in flags and tables.
	Name string
	// Desc says what the transport is, with its version.
	Desc string
	// Multiplexed is false for plain TCP, where each stream is a new
	// connection.
	Multiplexed bool
	// New starts a pair over a fresh loopback TCP connection.
	New func(o Options) (*Pair, error)
}

// Transports lists every transport the harness knows, plain TCP first.
func Transports() []Transport {
	return []Transport{
		{Name: "tcp", Desc: "plain TCP over loopback (a new connection per stream)", New: newTCP},
		{Name: "yamux", Desc: "github.com/hashicorp/yamux v0.1.2, default config", Multiplexed: true, New: newYamux},
		{Name: "smux", Desc: "github.com/xtaci/smux v1.5.58, default config (protocol v1)", Multiplexed: true, New: newSmux},
		{Name: "spdystream", Desc: "github.com/moby/spdystream v0.5.1 (SPDY/3, no flow control)", Multiplexed: true, New: newSpdystream},
		{Name: "spdy31", Desc: "github.com/spdygo/spdy/session, SPDY/3.1, default config", Multiplexed: true, New: newSPDY(31)},
		{Name: "spdy3", Desc: "github.com/spdygo/spdy/session, SPDY/3 (no session window), default config", Multiplexed: true, New: newSPDY(3)},
	}
}

// Lookup returns the transports named in a comma-separated list, in the
// order of Transports; "all" names every one.
func Lookup(names string) ([]Transport, error) {
	return lookup(Transports(), func(t Transport) string { return t.Name }, names, "transport")
}

// lookup returns the members of all named in a comma-separated list, in
// the order of all; "" or "all" names every one. kind names the sort of
// member in the error about an unknown name.
func lookup[T any](all []T, name func(T) string, names, kind string) ([]T, error) {
	if names == "" || names == "all" {
		return all, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(names, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !slices.ContainsFunc(all, func(t T) bool { return name(t) == n }) {
			return nil, fmt.Errorf("unknown %s %q", kind, n)
		}
		want[n] = true
	}
	var out []T
	for _, t := range all {
		if want[name(t)] {
			out = append(out, t)
		}
	}
	return out, nil
}

// tcpPair returns both ends of a fresh loopback TCP connection.
func tcpPair() (client, server *net.TCPConn, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		ln.Close()
		<-ch
		return nil, nil, err
	}
	r := <-ch
	if r.err != nil {
		c.Close()
		return nil, nil, r.err
	}
	return c.(*net.TCPConn), r.c.(*net.TCPConn), nil
}

// closeAll closes every closer and returns the first error that is not
// about an already-closed connection.
func closeAll(cs ...io.Closer) error {
	var first error
	for _, c := range cs {
		if err := c.Close(); err != nil && first == nil && !errors.Is(err, net.ErrClosed) {
			first = err
		}
	}
	return first
}
