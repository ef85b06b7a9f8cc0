package httpadapter

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/session"
	"github.com/spdygo/spdy/stream"
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

// A client that stops reading a response leaves its stream's window shut:
// the handler's Write fails after StallTimeout, and the stream is reset,
// so that the client cannot hold the handler for as long as it keeps the
// session alive.
func TestStallTimeoutEndsStuckResponse(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	werr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := w.Write(big)
		werr <- err
	})
	ts := startServer(t, session.V31, h, &serverOpts{server: func(s *Server) { s.StallTimeout = 50 * time.Millisecond }})
	st := ts.open(request{path: "/big"}) // and never read
	select {
	case err := <-werr:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("handler's Write: %v, want a deadline error", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the handler's Write is still blocked")
	}
	// The client finds the stream reset after the bytes its window let in.
	st.SetReadDeadline(time.Now().Add(time.Minute))
	_, err := io.Copy(io.Discard, st)
	var re *stream.ResetError
	if !errors.As(err, &re) {
		t.Fatalf("client read: %v, want a reset", err)
	}
}

// A client that reads slowly but steadily is not cut off: each chunk of
// the response is written within StallTimeout, though the whole takes
// longer than that.
func TestStallTimeoutSparesSlowReader(t *testing.T) {
	const stall = time.Second
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<17) // 2 MiB
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(big) })
	ts := startServer(t, session.V31, h, &serverOpts{server: func(s *Server) { s.StallTimeout = stall }})
	st := ts.open(request{path: "/big"})
	start := time.Now()
	var got bytes.Buffer
	buf := make([]byte, 32<<10)
	for {
		st.SetReadDeadline(time.Now().Add(time.Minute))
		n, err := st.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", got.Len(), err)
		}
		time.Sleep(time.Duration(n) * stall / (1 << 20)) // about 1 MiB per stall
	}
	if !bytes.Equal(got.Bytes(), big) {
		t.Fatalf("got %d bytes, want %d", got.Len(), len(big))
	}
	t.Logf("read %d bytes in %v with StallTimeout %v", got.Len(), time.Since(start).Round(time.Millisecond), stall)
}

// A client that stops sending its request body (slow POST) cannot hold
// the handler: its body Read fails after StallTimeout.
func TestStallTimeoutEndsStuckUpload(t *testing.T) {
	rerr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		rerr <- err
	})
	ts := startServer(t, session.V31, h, &serverOpts{server: func(s *Server) { s.StallTimeout = 50 * time.Millisecond }})
	st := ts.open(request{method: "POST", path: "/upload", open: true})
	if _, err := st.Write([]byte("the start of a body that never ends")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-rerr:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("handler's body read: %v, want a deadline error", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the handler's body read is still blocked")
	}
	st.Reset(framing.StatusCancel) // the test is done with the stream
}

// A client that sends its body slowly but steadily is not cut off: each
// Read gets bytes within StallTimeout, though the whole takes longer.
func TestStallTimeoutSparesSlowUpload(t *testing.T) {
	const stall = 500 * time.Millisecond
	got := make(chan int, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			got <- -1
			return
		}
		got <- len(b)
	})
	ts := startServer(t, session.V31, h, &serverOpts{server: func(s *Server) { s.StallTimeout = stall }})
	st := ts.open(request{method: "POST", path: "/upload", open: true})
	const chunks = 40 // 40 × 25 ms: twice the stall timeout in all
	for range chunks {
		if _, err := st.Write(bytes.Repeat([]byte("x"), 1024)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(stall / 20)
	}
	st.CloseWrite()
	if n := <-got; n != chunks*1024 {
		t.Fatalf("handler read %d bytes, want %d", n, chunks*1024)
	}
}
