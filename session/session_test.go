package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/stream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tcpPair returns two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- nil
			return
		}
		ch <- c
	}()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c2 := <-ch
	if c2 == nil {
		t.Fatal("accept failed")
	}
	return c1, c2
}

// pair returns a client and a server session over loopback TCP, closed at
// the end of the test.
func pair(t testing.TB, ccfg, scfg *Config) (*Session, *Session) {
	t.Helper()
	c1, c2 := tcpPair(t)
	cs, err := New(c1, Client, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := New(c2, Server, scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs.Close()
		ss.Close()
	})
	return cs, ss
}

// echoServer accepts streams and echoes each until FIN.
func echoServer(s *Session) {
	for {
		st, err := s.Accept(context.Background())
		if err != nil {
			return
		}
		go func() {
			io.Copy(st, st)
			st.Close()
		}()
	}
}

func TestEchoAllVersions(t *testing.T) {
	for _, v := range []Version{V2, V3, V31} {
		t.Run(v.String(), func(t *testing.T) {
			cs, ss := pair(t, &Config{Version: v}, &Config{Version: v})
			go echoServer(ss)
			ctx := context.Background()
			msg := make([]byte, 300<<10) // over several windows
			rand.Read(msg)
			st, err := cs.Open(ctx, &OpenOptions{Headers: []hpackz.Field{{Name: "x", Value: "y"}}})
			if err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() {
				_, err := st.Write(msg)
				if err == nil {
					err = st.CloseWrite()
				}
				errc <- err
			}()
			got, err := io.ReadAll(st)
			if err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, msg) {
				t.Fatalf("echo returned %d bytes, want %d equal", len(got), len(msg))
			}
			st.Close()
		})
	}
}

func TestManyConcurrentStreams(t *testing.T) {
	cs, ss := pair(t, nil, nil)
	go echoServer(ss)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			st, err := cs.Open(context.Background(), &OpenOptions{Priority: uint8(i % 8)})
			if err != nil {
				errs <- err
				return
			}
			defer st.Close()
			msg := bytes.Repeat([]byte{byte(i)}, 1000+i*100)
			go func() { st.Write(msg); st.CloseWrite() }()
			got, err := io.ReadAll(st)
			if err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(got, msg) {
				errs <- errors.New("mismatch")
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestPing(t *testing.T) {
	cs, ss := pair(t, nil, nil)
	for _, s := range []*Session{cs, ss} {
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.Ping(context.Background()); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
}

func TestShutdownDrains(t *testing.T) {
	cs, ss := pair(t, nil, nil)
	st, err := cs.Open(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sst, err := ss.Accept(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ss.Shutdown(context.Background()) }()
	// New streams fail after the GOAWAY arrives; the open one still works.
	if _, err := sst.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	sst.CloseWrite()
	buf := make([]byte, 5)
	if _, err := io.ReadFull(st, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("read %q, %v", buf, err)
	}
	st.CloseWrite()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	<-cs.Done()
	if _, err := cs.Open(context.Background(), nil); err == nil {
		t.Fatal("Open after GOAWAY succeeded")
	}
}

func TestCloseFailsStreams(t *testing.T) {
	cs, ss := pair(t, nil, nil)
	st, err := cs.Open(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ss.Accept(context.Background()); err != nil {
		t.Fatal(err)
	}
	readErr := make(chan error, 1)
	go func() {
		_, err := st.Read(make([]byte, 1))
		readErr <- err
	}()
	ss.Close()
	if err := <-readErr; err == nil {
		t.Fatal("Read returned no error after the peer closed")
	}
	<-cs.Done()
	var ga *GoAwayError
	if err := cs.Err(); !errors.As(err, &ga) {
		t.Fatalf("client error %v, want a GoAwayError", err)
	}
}

func TestReset(t *testing.T) {
	cs, ss := pair(t, nil, nil)
	st, _ := cs.Open(context.Background(), nil)
	sst, err := ss.Accept(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st.Reset(framing.StatusCancel)
	_, err = sst.Read(make([]byte, 1))
	var re *stream.ResetError
	if !errors.As(err, &re) || re.Status != framing.StatusCancel || !re.Remote {
		t.Fatalf("Read error %v, want remote CANCEL", err)
	}
	_ = time.Second
}

func TestGoAwayErrorMatchesGoingAway(t *testing.T) {
	err := error(&GoAwayError{LastGoodStreamID: 3})
	if !errors.Is(err, ErrGoingAway) {
		t.Fatal("GoAwayError does not match ErrGoingAway")
	}
	if errors.Is(err, ErrNotProcessed) {
		t.Fatal("a processed stream matches ErrNotProcessed")
	}
	if !errors.Is(&GoAwayError{Unprocessed: true}, ErrNotProcessed) {
		t.Fatal("an unprocessed stream does not match ErrNotProcessed")
	}
}

// TestStalledReaderStallsOnlyItsStream fills one stream whose reader never
// reads, then moves much more than every window on another stream of the
// same session: the unread stream holds only its own window.
func TestStalledReaderStallsOnlyItsStream(t *testing.T) {
	for _, v := range []Version{V3, V31} {
		t.Run(v.String(), func(t *testing.T) {
			cs, ss := pair(t, &Config{Version: v}, &Config{Version: v})
			ctx := context.Background()
			stalled, err := cs.Open(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			sst, err := ss.Accept(ctx) // never read
			if err != nil {
				t.Fatal(err)
			}
			// Fill the stalled stream's window: this write can only finish
			// in part.
			stalled.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
			n, err := stalled.Write(make([]byte, 1<<20))
			if err == nil || n > DefaultInitialWindowSize {
				t.Fatalf("write to an unread stream: %d bytes, %v; want at most one window and a deadline", n, err)
			}
			// Another stream moves 16 MiB, far more than the session window.
			st, err := cs.Open(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			other, err := ss.Accept(ctx)
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				st.Write(make([]byte, 16<<20))
				st.CloseWrite()
			}()
			got, err := io.Copy(io.Discard, other)
			if err != nil || got != 16<<20 {
				t.Fatalf("second stream moved %d bytes, %v", got, err)
			}
			sst.Close()
		})
	}
}
