package session

import (
	"context"
	"net"
	"testing"

	"golang.org/x/net/nettest"
)

// TestStreamIsNetConn runs x/net/nettest's conformance suite on a pair of
// streams, for every version.
func TestStreamIsNetConn(t *testing.T) {
	for _, v := range []Version{V2, V3, V31} {
		t.Run(v.String(), func(t *testing.T) {
			nettest.TestConn(t, func() (net.Conn, net.Conn, func(), error) {
				c1, c2 := tcpPair(t)
				cs, err := New(c1, Client, &Config{Version: v})
				if err != nil {
					return nil, nil, nil, err
				}
				ss, err := New(c2, Server, &Config{Version: v})
				if err != nil {
					return nil, nil, nil, err
				}
				st, err := cs.Open(context.Background(), nil)
				if err != nil {
					return nil, nil, nil, err
				}
				pst, err := ss.Accept(context.Background())
				if err != nil {
					return nil, nil, nil, err
				}
				stop := func() {
					st.Close()
					pst.Close()
					cs.Close()
					ss.Close()
				}
				return st, pst, stop, nil
			})
		})
	}
}
