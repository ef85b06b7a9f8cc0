package session

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/spdygo/spdy/framing"
)

// A session that ends gracefully while the peer is still sending must not
// reset the connection: closing a TCP socket with unread bytes sends RST,
// and the peer's kernel then drops what the peer had not read yet (the
// session's last DATA frames and its GOAWAY). The session shuts its side
// and reads on until the peer's end, so the peer reads the GOAWAY and a
// clean EOF.
func TestGracefulEndReadsUntilPeerEnd(t *testing.T) {
	for _, v := range []Version{V3, V31} {
		t.Run(v.String(), func(t *testing.T) {
			s, p, _ := scripted(t, Server, &Config{Version: v})
			// The peer's GOAWAY and, in the same write, a burst of frames
			// the session has no reason to read once it is ending.
			var buf bytes.Buffer
			fr := framing.NewFramer(&buf, nil, v.wire())
			if err := fr.WriteGoAway(0, framing.GoAwayOK); err != nil {
				t.Fatal(err)
			}
			for i := range 40000 {
				if err := fr.WritePing(uint32(2*i + 2)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := p.conn.Write(buf.Bytes()); err != nil {
				t.Fatal(err)
			}
			p.conn.SetReadDeadline(time.Now().Add(peerTimeout))
			sawGoAway := false
			for {
				g, err := p.tryRead()
				if err != nil {
					if !errors.Is(err, io.EOF) {
						t.Fatalf("the session's end reached the peer as %v, want GOAWAY then EOF", err)
					}
					break
				}
				if g.Header().Type == framing.FrameGoAway {
					sawGoAway = true
				}
			}
			if !sawGoAway {
				t.Fatal("no GOAWAY before EOF")
			}
			p.conn.Close()
			<-s.Done()
		})
	}
}

// A client that takes an HTTP/1.1 server for a SPDY one (prior knowledge
// to the wrong port) gets a clear error at once, instead of a session that
// reads the status line as the header of a DATA frame of megabytes and
// waits for them.
func TestPeerSpeaksHTTP(t *testing.T) {
	c1, c2 := tcpPair(t)
	defer c2.Close()
	go func() {
		// What an HTTP/1.1 server answers to bytes it cannot parse; it
		// then keeps the connection open.
		c2.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
	}()
	s, err := New(c1, Client, &Config{Version: V31})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	select {
	case <-s.Done():
	case <-testCtx(t).Done():
		t.Fatal("the session is still waiting for the rest of a DATA frame that is an HTTP status line")
	}
	if err := s.Err(); !errors.Is(err, ErrPeerSpeaksHTTP) {
		t.Fatalf("session ended with %v, want ErrPeerSpeaksHTTP", err)
	}
	if _, err := s.Open(testCtx(t), nil); !errors.Is(err, ErrPeerSpeaksHTTP) {
		t.Fatalf("Open: %v, want ErrPeerSpeaksHTTP", err)
	}
}
