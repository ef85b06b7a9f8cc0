package faultnet

import (
	"context"
	"net"
)

// Listener is a net.Listener whose accepted connections are Conns.
type Listener struct {
	net.Listener
	// OnAccept, if set, is called with each accepted Conn before Accept
	// returns it, for example to Record or Cut it.
	OnAccept func(*Conn)
}

// Accept waits for the next connection and returns it wrapped in a Conn.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	fc := Wrap(c)
	if l.OnAccept != nil {
		l.OnAccept(fc)
	}
	return fc, nil
}

// Dialer dials connections and returns them wrapped in Conns. Its
// DialContext fits the DialContext fields of net/http's Transport and of
// this module's.
type Dialer struct {
	// Dial dials the connection to wrap; nil means a net.Dialer's
	// DialContext.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// OnDial, if set, is called with each dialed Conn before DialContext
	// returns it.
	OnDial func(*Conn)
}

// DialContext dials addr on network and wraps the connection in a Conn.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	dial := d.Dial
	if dial == nil {
		var nd net.Dialer
		dial = nd.DialContext
	}
	c, err := dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	fc := Wrap(c)
	if d.OnDial != nil {
		d.OnDial(fc)
	}
	return fc, nil
}
