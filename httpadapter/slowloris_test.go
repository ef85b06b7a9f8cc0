package httpadapter

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/spdygo/spdy/session"
)

// A Server's sessions ping a client that has sent nothing for
// DefaultServerKeepAlive, and end sessions without streams after
// DefaultServerIdleTimeout, unless told otherwise; negative values turn
// them off.
func TestServerSessionDefaults(t *testing.T) {
	var s Server
	c := s.sessionConfig(session.V3)
	if c.KeepAlive != DefaultServerKeepAlive || c.IdleTimeout != DefaultServerIdleTimeout || !c.ManualReply || c.Version != session.V3 {
		t.Fatalf("default server session config: KeepAlive %v IdleTimeout %v ManualReply %v Version %v", c.KeepAlive, c.IdleTimeout, c.ManualReply, c.Version)
	}
	s.Session = &session.Config{KeepAlive: -1, IdleTimeout: time.Hour}
	c = s.sessionConfig(0)
	if c.KeepAlive != -1 || c.IdleTimeout != time.Hour {
		t.Fatalf("configured: KeepAlive %v IdleTimeout %v", c.KeepAlive, c.IdleTimeout)
	}
}

// Slowloris: a client that sends part of a frame and waits cannot answer
// the server's keepalive PING (its next bytes would continue the frame),
// so the server ends the session and closes the connection. So does a
// client that connects and never sends a byte.
func TestSlowlorisCutOff(t *testing.T) {
	for _, tc := range []struct {
		name    string
		partial []byte
	}{
		{"partial frame header", []byte{0x80, 0x03, 0x00}},
		{"partial SYN_STREAM", []byte{0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x01}},
		{"nothing", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c1, c2 := tcpPair(t)
			defer c1.Close()
			srv := &Server{Session: &session.Config{KeepAlive: 20 * time.Millisecond, KeepAliveTimeout: 50 * time.Millisecond}}
			done := make(chan error, 1)
			go func() { done <- srv.ServeConn(c2, &ServeConnOpts{Version: session.V3}) }()
			if _, err := c1.Write(tc.partial); err != nil {
				t.Fatal(err)
			}
			// The server's preface and PING arrive; then the connection
			// ends. The deadline only guards against a hang.
			c1.SetReadDeadline(time.Now().Add(time.Minute))
			n, err := io.Copy(io.Discard, c1)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("server still holds the connection after %d bytes: %v", n, err)
			}
			select {
			case err := <-done:
				if !errors.Is(err, session.ErrKeepAliveTimeout) {
					t.Fatalf("ServeConn: %v, want ErrKeepAliveTimeout", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("ServeConn did not return")
			}
		})
	}
}
