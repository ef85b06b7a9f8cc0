package npn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/session"
)

type versionKey struct{}

// protoHandler answers with the protocol the request came over: the SPDY
// version of its session, or r.Proto.
var protoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if v, ok := r.Context().Value(versionKey{}).(session.Version); ok {
		fmt.Fprint(w, v.String())
		return
	}
	fmt.Fprint(w, r.Proto)
})

// spdyServer returns an httpadapter.Server that serves protoHandler.
func spdyServer() *httpadapter.Server {
	return &httpadapter.Server{
		Handler: protoHandler,
		BaseContext: func(s *session.Session) context.Context {
			return context.WithValue(context.Background(), versionKey{}, s.Version())
		},
	}
}

// dialSession starts a client session of version v to addr over TCP.
func dialSession(t *testing.T, addr string, cfg *session.Config) *session.Session {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s, err := session.NewClient(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestServeSniffedSPDYAndHTTP1(t *testing.T) {
	ctx := testContext(t)
	ln := listen(t)
	hs := &http.Server{Handler: protoHandler}
	served := make(chan error, 1)
	go func() { served <- ServeSniffed(ln, spdyServer(), hs, nil) }()
	addr := ln.Addr().String()

	for _, tc := range []struct {
		cfg  session.Config
		want string
	}{
		{session.Config{Version: session.V2}, "spdy/2"},
		{session.Config{Version: session.V3}, "spdy/3"},
		// Its session WINDOW_UPDATE follows its SETTINGS.
		{session.Config{Version: session.V31}, "spdy/3.1"},
	} {
		s := dialSession(t, addr, &tc.cfg)
		for i := range 3 { // several requests on one session
			status, body, err := spdyGet(ctx, s, addr, fmt.Sprintf("/%d", i))
			if err != nil {
				t.Fatalf("%v: %v", tc.cfg.Version, err)
			}
			if !strings.HasPrefix(status, "200") || body != tc.want {
				t.Fatalf("%v client: got %q %q, want 200 %q", tc.cfg.Version, status, body, tc.want)
			}
		}
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, body, err := httpGet(ctx, &http.Client{Transport: tr}, "http://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 1 || body != "HTTP/1.1" {
		t.Fatalf("HTTP/1.1 client: got %s %q", resp.Proto, body)
	}

	if err := hs.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("ServeSniffed returned %v, want ErrServerClosed", err)
	}
}

// TestServeSniffedShutdownDrainsSPDY checks that http.Server.Shutdown
// sends GOAWAY to the SPDY sessions of ServeSniffed.
func TestServeSniffedShutdownDrainsSPDY(t *testing.T) {
	ctx := testContext(t)
	ln := listen(t)
	hs := &http.Server{Handler: protoHandler}
	served := make(chan error, 1)
	go func() { served <- ServeSniffed(ln, nil, hs, nil) }()
	s := dialSession(t, ln.Addr().String(), nil)
	if _, body, err := spdyGet(ctx, s, "x", "/"); err != nil || body != "HTTP/1.1" {
		// A nil spdy server serves hs.Handler, which sees SPDY's :version.
		t.Fatalf("got %q, %v", body, err)
	}
	if err := hs.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("ServeSniffed returned %v", err)
	}
	select {
	case <-s.Done():
	case <-ctx.Done():
		t.Fatal("the SPDY session did not end after Shutdown")
	}
	if !errors.Is(s.Err(), session.ErrGoingAway) {
		t.Fatalf("session ended with %v, want a GOAWAY", s.Err())
	}
}

// sniffOne writes first to a new connection to l and returns what the
// SniffListener made of it: the accepted connection (SPDY or HTTP side)
// and the client end.
func sniffOne(t *testing.T, l *SniffListener, first ...[]byte) (net.Conn, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for _, b := range first {
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	type res struct {
		c   net.Conn
		err error
	}
	got := make(chan res, 2)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	for _, ln := range []net.Listener{l.SPDY(), l.HTTP()} {
		go func() {
			// Accept on both sides; the side that gets nothing is
			// unblocked below by a connection that closes at once.
			ac, err := ln.Accept()
			got <- res{ac, err}
		}()
	}
	var accepted net.Conn
	select {
	case r := <-got:
		if r.err != nil {
			t.Fatal(r.err)
		}
		accepted = r.c
	case <-ctx.Done():
		t.Fatal("no connection accepted")
	}
	// Unblock the other Accept with a connection of the other kind.
	other := []byte("GET / HTTP/1.1\r\n\r\n")
	if _, ok := accepted.(*SPDYConn); !ok {
		other = newRawFrames(t, session.V2).settings().take()
	}
	oc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	oc.Write(other)
	r := <-got
	oc.Close()
	if r.err != nil {
		t.Fatal(r.err)
	}
	r.c.Close()
	t.Cleanup(func() { accepted.Close() })
	return accepted, c
}

// readN reads n bytes from c.
func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(testTimeout))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}

func TestSniffVersions(t *testing.T) {
	v3 := func() *rawFrames { return newRawFrames(t, session.V3) }
	get := []hpackz.Field{{Name: ":method", Value: "GET"}, {Name: ":path", Value: "/"}}
	for _, tc := range []struct {
		name   string
		cfg    SniffConfig
		writes [][]byte
		want   session.Version
	}{
		{"v2 settings", SniffConfig{}, [][]byte{newRawFrames(t, session.V2).settings().take()}, session.V2},
		{"v2 syn_stream", SniffConfig{}, [][]byte{newRawFrames(t, session.V2).synStream(1, true, hpackz.Field{Name: "method", Value: "GET"}).take()}, session.V2},
		{"v3 settings, window update", SniffConfig{WindowUpdateWait: testTimeout}, [][]byte{v3().settings().windowUpdate(0, 1<<20).take()}, session.V31},
		{"v3 settings; later write: window update", SniffConfig{WindowUpdateWait: testTimeout}, [][]byte{v3().settings().take(), v3().windowUpdate(0, 1<<20).take()}, session.V31},
		{"v3 window update first", SniffConfig{WindowUpdateWait: testTimeout}, [][]byte{v3().windowUpdate(0, 983040).settings().take()}, session.V31},
		{"v3 settings, ping, window update", SniffConfig{WindowUpdateWait: testTimeout}, [][]byte{v3().settings().ping(1).windowUpdate(0, 1<<20).take()}, session.V31},
		{"v3 settings, syn_stream", SniffConfig{WindowUpdateWait: testTimeout}, [][]byte{v3().settings().synStream(1, true, get...).windowUpdate(0, 1<<20).take()}, session.V3},
		{"v3 settings; later write: syn_stream", SniffConfig{WindowUpdateWait: testTimeout}, [][]byte{v3().settings().take(), v3().synStream(1, true, get...).take()}, session.V3},
		{"v3 stream window update", SniffConfig{WindowUpdateWait: testTimeout}, [][]byte{v3().settings().windowUpdate(1, 100).take()}, session.V3},
		{"v3 syn_stream first", SniffConfig{WindowUpdateWait: testTimeout}, [][]byte{v3().synStream(1, true, get...).take()}, session.V3},
		{"v3 settings alone, no wait", SniffConfig{WindowUpdateWait: -1}, [][]byte{v3().settings().take()}, session.V3},
		{"v3 settings alone, short wait", SniffConfig{WindowUpdateWait: time.Millisecond}, [][]byte{v3().settings().take()}, session.V3},
		{"v3 by configuration", SniffConfig{V3: session.V31, WindowUpdateWait: -1}, [][]byte{v3().settings().take()}, session.V31},
		{"v3 syn_stream by configuration", SniffConfig{V3: session.V31}, [][]byte{v3().synStream(1, true, get...).take()}, session.V31},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewSniffListener(listen(t), &tc.cfg)
			defer l.Close()
			c, _ := sniffOne(t, l, tc.writes...)
			sc, ok := c.(*SPDYConn)
			if !ok {
				t.Fatalf("accepted as HTTP: %T", c)
			}
			if sc.Version() != tc.want {
				t.Fatalf("version %v, want %v", sc.Version(), tc.want)
			}
			want := bytes.Join(tc.writes, nil)
			if got := readN(t, sc, len(want)); !bytes.Equal(got, want) {
				t.Fatal("the bytes read from the SPDY connection are not those written")
			}
		})
	}
}

// TestSniffBytesNotLost checks that a connection's bytes, those the
// sniffer read and those after, reach the side it goes to in order.
func TestSniffBytesNotLost(t *testing.T) {
	l := NewSniffListener(listen(t), &SniffConfig{WindowUpdateWait: testTimeout})
	defer l.Close()
	big := bytes.Repeat([]byte("0123456789abcdef"), 8<<10) // 128 KiB, more than the sniffer reads
	spdyBytes := newRawFrames(t, session.V3).settings().windowUpdate(0, 1<<20).data(1, true, big).take()
	c, _ := sniffOne(t, l, spdyBytes)
	if got := readN(t, c, len(spdyBytes)); !bytes.Equal(got, spdyBytes) {
		t.Fatal("SPDY: bytes lost or reordered")
	}
	httpBytes := append([]byte("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 131072\r\n\r\n"), big...)
	c, _ = sniffOne(t, l, httpBytes[:1], httpBytes[1:])
	if _, ok := c.(*SPDYConn); ok {
		t.Fatal("HTTP/1.1 connection accepted as SPDY")
	}
	if got := readN(t, c, len(httpBytes)); !bytes.Equal(got, httpBytes) {
		t.Fatal("HTTP: bytes lost or reordered")
	}
}

// TestSniffSilentConnection checks that a connection that sends nothing
// holds up neither the other connections nor, past the timeout, its place.
func TestSniffSilentConnection(t *testing.T) {
	ctx := testContext(t)
	t.Run("others go ahead", func(t *testing.T) {
		l := NewSniffListener(listen(t), nil) // a 10 s timeout
		defer l.Close()
		silent, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer silent.Close()
		c, _ := sniffOne(t, l, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		if _, ok := c.(*SPDYConn); ok {
			t.Fatal("HTTP connection accepted as SPDY")
		}
		// Close closes the connection still being sniffed.
		l.Close()
		silent.SetReadDeadline(time.Now().Add(testTimeout))
		if _, err := silent.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("silent connection after Close: read %v, want EOF", err)
		}
	})
	t.Run("timeout frees its place", func(t *testing.T) {
		// One place: the second connection is sniffed only once the
		// silent one timed out and was closed.
		l := NewSniffListener(listen(t), &SniffConfig{Timeout: 50 * time.Millisecond, MaxPending: 1})
		defer l.Close()
		silent, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer silent.Close()
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		c.Write(req)
		accepted := make(chan net.Conn, 1)
		go func() {
			ac, err := l.HTTP().Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- ac
		}()
		select {
		case ac, ok := <-accepted:
			if !ok {
				t.Fatal("Accept failed")
			}
			defer ac.Close()
			if got := readN(t, ac, len(req)); !bytes.Equal(got, req) {
				t.Fatal("bytes lost")
			}
		case <-ctx.Done():
			t.Fatal("the second connection was never accepted")
		}
		silent.SetReadDeadline(time.Now().Add(testTimeout))
		if _, err := silent.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("silent connection: read %v, want EOF after the sniff timeout", err)
		}
	})
}

func TestSniffUnsupportedVersion(t *testing.T) {
	l := NewSniffListener(listen(t), nil)
	defer l.Close()
	bad, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	bad.Write([]byte{0x80, 0x04, 0x00, 0x04, 0, 0, 0, 4, 0, 0, 0, 0})
	bad.SetReadDeadline(time.Now().Add(testTimeout))
	if _, err := bad.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("SPDY/4 connection: read %v, want EOF", err)
	}
	// The next SPDY connection is the first one accepted.
	c, _ := sniffOne(t, l, newRawFrames(t, session.V2).settings().take())
	if sc, ok := c.(*SPDYConn); !ok || sc.Version() != session.V2 {
		t.Fatalf("accepted %T", c)
	}
}

func TestSniffListenerClose(t *testing.T) {
	t.Run("one side", func(t *testing.T) {
		l := NewSniffListener(listen(t), nil)
		defer l.Close()
		if err := l.HTTP().Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := l.HTTP().Accept(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept on a closed side: %v", err)
		}
		h, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		h.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
		h.SetReadDeadline(time.Now().Add(testTimeout))
		if _, err := h.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("HTTP connection to a closed side: read %v, want EOF", err)
		}
		// The SPDY side still works.
		s, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		first := newRawFrames(t, session.V2).settings().take()
		s.Write(first)
		sc, err := l.SPDY().AcceptSPDY()
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		if got := readN(t, sc, len(first)); !bytes.Equal(got, first) {
			t.Fatal("bytes lost")
		}
		// Closing the other side closes the listener.
		l.SPDY().Close()
		if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
			t.Fatal("the underlying listener is still open after both sides closed")
		}
	})
	t.Run("whole", func(t *testing.T) {
		l := NewSniffListener(listen(t), nil)
		errc := make(chan error, 2)
		go func() { _, err := l.SPDY().Accept(); errc <- err }()
		go func() { _, err := l.HTTP().Accept(); errc <- err }()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := <-errc; !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Accept after Close: %v", err)
			}
		}
	})
}

// TestSniffedSessionV31Flow checks that a SPDY/3.1 client detected by its
// session WINDOW_UPDATE gets session window updates back: an upload far
// above the 64 KiB session window completes.
func TestSniffedSessionV31Flow(t *testing.T) {
	ctx := testContext(t)
	l := NewSniffListener(listen(t), nil)
	defer l.Close()
	done := make(chan error, 1)
	go func() {
		c, err := l.SPDY().AcceptSPDY()
		if err != nil {
			done <- err
			return
		}
		s, err := session.NewServer(c, &session.Config{Version: c.Version()})
		if err != nil {
			done <- err
			return
		}
		defer s.Close()
		st, err := s.Accept(ctx)
		if err != nil {
			done <- err
			return
		}
		n, err := io.Copy(io.Discard, st)
		if err == nil && n != 1<<20 {
			err = fmt.Errorf("server read %d bytes", n)
		}
		if err == nil {
			_, err = st.Write([]byte("ok"))
			st.Close()
		}
		<-s.Done() // the client closes
		done <- err
	}()
	s := dialSession(t, l.Addr().String(), &session.Config{Version: session.V31})
	st, err := s.Open(ctx, &session.OpenOptions{Headers: []hpackz.Field{{Name: "x", Value: "y"}}})
	if err != nil {
		t.Fatal(err)
	}
	st.SetDeadline(time.Now().Add(testTimeout))
	if _, err := st.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	st.CloseWrite()
	b, err := io.ReadAll(st)
	if err != nil || string(b) != "ok" {
		t.Fatalf("got %q, %v", b, err)
	}
	s.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestServeSniffedH2C checks that HTTP/2 with prior knowledge reaches the
// http.Server, which serves it when its Protocols allow unencrypted HTTP/2.
func TestServeSniffedH2C(t *testing.T) {
	ctx := testContext(t)
	ln := listen(t)
	hs := &http.Server{Handler: protoHandler, Protocols: new(http.Protocols)}
	hs.Protocols.SetHTTP1(true)
	hs.Protocols.SetUnencryptedHTTP2(true)
	served := make(chan error, 1)
	go func() { served <- ServeSniffed(ln, spdyServer(), hs, nil) }()
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	resp, body, err := httpGet(ctx, &http.Client{Transport: tr}, "http://"+ln.Addr().String()+"/")
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 || body != "HTTP/2.0" {
		t.Fatalf("got %s %q", resp.Proto, body)
	}
	s := dialSession(t, ln.Addr().String(), nil)
	if _, body, err := spdyGet(ctx, s, "x", "/"); err != nil || body != "spdy/3.1" {
		t.Fatalf("SPDY on the same port: %q, %v", body, err)
	}
	tr.CloseIdleConnections()
	hs.Shutdown(ctx)
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
}
