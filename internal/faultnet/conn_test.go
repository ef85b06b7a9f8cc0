package faultnet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// watchdog bounds every wait of the tests; it detects hangs and is not a
// measure of speed.
const watchdog = 10 * time.Second

// pair returns the two ends of a loopback TCP connection, closed at the
// end of the test.
func pair(t *testing.T) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			c = nil
		}
		accepted <- c
	}()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	select {
	case b = <-accepted:
	case <-time.After(watchdog):
		t.Fatal("accept did not return")
	}
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() {
		a.Close()
		b.Close()
	})
	return a, b
}

// readAll reads c until an error, with a read deadline of watchdog as a
// hang guard, and returns the bytes and the error.
func readAll(t *testing.T, c net.Conn) ([]byte, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(watchdog))
	var out []byte
	buf := make([]byte, 1000)
	for {
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, err
		}
	}
}

// returns runs f in a goroutine and returns the channel its error comes on.
func returns(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

func await(t *testing.T, what string, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(watchdog):
		t.Fatalf("%s did not return", what)
		return nil
	}
}

// blocked checks that ch has no value yet: the call behind it is still
// blocked. A call that has not reached its block yet passes too; the checks
// that follow it do not depend on it.
func blocked(t *testing.T, what string, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("%s returned %v; it should block", what, err)
	case <-time.After(20 * time.Millisecond):
	}
}

func pattern(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i>>8)
	}
	return p
}

func TestNoCutPassesEverything(t *testing.T) {
	a, b := pair(t)
	fa := Wrap(a)
	fa.Record(Writes)
	fa.Record(Reads)
	msg := pattern(100 << 10)
	werr := returns(func() error {
		_, err := fa.Write(msg)
		return err
	})
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(b, got); err != nil {
		t.Fatal(err)
	}
	if err := await(t, "Write", werr); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("the peer read other bytes than were written")
	}
	if _, err := b.Write([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, 5)
	if _, err := io.ReadFull(fa, reply); err != nil || string(reply) != "reply" {
		t.Fatalf("read %q, %v", reply, err)
	}
	if fa.Count(Writes) != int64(len(msg)) || fa.Count(Reads) != 5 {
		t.Errorf("counts %d and %d, want %d and 5", fa.Count(Writes), fa.Count(Reads), len(msg))
	}
	if !bytes.Equal(fa.Recorded(Writes), msg) || string(fa.Recorded(Reads)) != "reply" {
		t.Error("the recordings differ from the bytes that passed")
	}
	if fa.NetConn() != a {
		t.Error("NetConn is not the wrapped connection")
	}
}

func TestCutWritesClose(t *testing.T) {
	a, b := pair(t)
	fa := Wrap(a)
	fa.Cut(Writes, 1000, Close)
	n, err := fa.Write(pattern(3000))
	if n != 1000 || !errors.Is(err, ErrCut) {
		t.Fatalf("Write = %d, %v; want 1000 and ErrCut", n, err)
	}
	select {
	case <-fa.Hit(Writes):
	default:
		t.Error("Hit(Writes) is not closed after the cut")
	}
	got, err := readAll(t, b)
	if !bytes.Equal(got, pattern(3000)[:1000]) {
		t.Errorf("the peer read %d bytes, want the first 1000", len(got))
	}
	if err != io.EOF {
		t.Errorf("the peer's read ended with %v, want io.EOF", err)
	}
	if _, err := fa.Read(make([]byte, 1)); !errors.Is(err, ErrCut) {
		t.Errorf("Read after the cut: %v, want ErrCut", err)
	}
	if _, err := fa.Write([]byte("x")); !errors.Is(err, ErrCut) {
		t.Errorf("Write after the cut: %v, want ErrCut", err)
	}
	select {
	case <-fa.Closed():
		t.Error("Closed is closed by the cut; only Close should close it")
	default:
	}
	if err := fa.Close(); err != nil {
		t.Errorf("Close after the cut: %v", err)
	}
	if _, err := fa.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close: %v, want net.ErrClosed", err)
	}
}

// A cut at an exact write boundary takes effect as soon as the bytes
// before it have passed, without another call.
func TestCutAtBoundaryActsAtOnce(t *testing.T) {
	a, b := pair(t)
	fa := Wrap(a)
	fa.Cut(Writes, 10, Close)
	if n, err := fa.Write(pattern(10)); n != 10 || err != nil {
		t.Fatalf("Write = %d, %v; want 10 and nil", n, err)
	}
	got, err := readAll(t, b)
	if len(got) != 10 || err != io.EOF {
		t.Fatalf("the peer read %d bytes and %v, want 10 and io.EOF", len(got), err)
	}
}

func TestCutReadsClose(t *testing.T) {
	a, b := pair(t)
	fb := Wrap(b)
	fb.Cut(Reads, 1500, Close)
	if _, err := a.Write(pattern(4000)); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, fb)
	if !bytes.Equal(got, pattern(4000)[:1500]) || !errors.Is(err, ErrCut) {
		t.Fatalf("read %d bytes and %v, want 1500 and ErrCut", len(got), err)
	}
	// The peer sees the connection end.
	if _, err := readAll(t, a); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the peer's read: %v, want the end of the connection", err)
	}
}

func TestCutReadsAfterThePointActsAtOnce(t *testing.T) {
	a, b := pair(t)
	fb := Wrap(b)
	if _, err := a.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(fb, buf); err != nil {
		t.Fatal(err)
	}
	fb.Cut(Reads, 3, HalfClose) // 5 bytes passed already
	select {
	case <-fb.Hit(Reads):
	default:
		t.Fatal("a cut point already passed did not take effect at once")
	}
	if _, err := fb.Read(buf); err != io.EOF {
		t.Fatalf("Read = %v, want io.EOF", err)
	}
}

func TestCutWritesStall(t *testing.T) {
	a, b := pair(t)
	fa := Wrap(a)
	fa.Cut(Writes, 100, Stall)
	w1 := returns(func() error {
		n, err := fa.Write(pattern(300))
		if n != 100 {
			return errors.New("the stalled Write reported other than the 100 bytes that passed")
		}
		return err
	})
	got := make([]byte, 100)
	if _, err := io.ReadFull(b, got); err != nil || !bytes.Equal(got, pattern(300)[:100]) {
		t.Fatalf("the peer read %v, %v", got, err)
	}
	blocked(t, "the stalled Write", w1)
	// Nothing more arrives, and a CloseWrite is lost on the way.
	if err := fa.CloseWrite(); err != nil {
		t.Errorf("CloseWrite on a stalled direction: %v", err)
	}
	b.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	if n, err := b.Read(make([]byte, 10)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the peer read %d bytes, %v past a stall", n, err)
	}
	// A deadline ends the stalled Write as a real connection's would.
	fa.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
	err := await(t, "the stalled Write after its deadline", w1)
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("the stalled Write: %v, want a timeout", err)
	}
	// Close ends the next one.
	fa.SetWriteDeadline(time.Time{})
	w2 := returns(func() error {
		_, err := fa.Write([]byte("more"))
		return err
	})
	blocked(t, "the second stalled Write", w2)
	fa.Close()
	if err := await(t, "the stalled Write after Close", w2); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("the stalled Write after Close: %v, want net.ErrClosed", err)
	}
	select {
	case <-fa.Closed():
	default:
		t.Error("Closed is not closed after Close")
	}
}

func TestCutReadsStall(t *testing.T) {
	a, b := pair(t)
	fb := Wrap(b)
	fb.Cut(Reads, 10, Stall)
	if _, err := a.Write(pattern(50)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 10)
	if _, err := io.ReadFull(fb, got); err != nil || !bytes.Equal(got, pattern(50)[:10]) {
		t.Fatalf("read %v, %v", got, err)
	}
	r := returns(func() error {
		_, err := fb.Read(make([]byte, 10))
		return err
	})
	blocked(t, "the stalled Read", r)
	// Writes still work.
	if _, err := fb.Write([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	fb.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
	if err := await(t, "the stalled Read", r); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the stalled Read: %v, want a timeout", err)
	}
	// A deadline in the past fails at once.
	if _, err := fb.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline: %v", err)
	}
	// Lifting the cut lets the rest through.
	fb.SetReadDeadline(time.Time{})
	fb.Cut(Reads, -1, Stall)
	rest := make([]byte, 40)
	if _, err := io.ReadFull(fb, rest); err != nil || !bytes.Equal(rest, pattern(50)[10:]) {
		t.Fatalf("after the lift: %v, %v", rest, err)
	}
}

// A stall that another Cut turns into a close wakes its blocked call.
func TestStallTurnedIntoClose(t *testing.T) {
	a, _ := pair(t)
	fa := Wrap(a)
	fa.Cut(Reads, 0, Stall)
	r := returns(func() error {
		_, err := fa.Read(make([]byte, 1))
		return err
	})
	blocked(t, "the stalled Read", r)
	fa.Cut(Reads, 0, Close)
	if err := await(t, "the stalled Read", r); !errors.Is(err, ErrCut) {
		t.Fatalf("the stalled Read: %v, want ErrCut", err)
	}
}

func TestCutWritesHalfClose(t *testing.T) {
	a, b := pair(t)
	fa := Wrap(a)
	fa.Cut(Writes, 7, HalfClose)
	if n, err := fa.Write([]byte("0123456789")); n != 7 || !errors.Is(err, ErrCut) {
		t.Fatalf("Write = %d, %v; want 7 and ErrCut", n, err)
	}
	got, err := readAll(t, b)
	if string(got) != "0123456" || err != io.EOF {
		t.Fatalf("the peer read %q, %v; want \"0123456\" and io.EOF", got, err)
	}
	// The other direction still works.
	if _, err := b.Write([]byte("back")); err != nil {
		t.Fatal(err)
	}
	back := make([]byte, 4)
	if _, err := io.ReadFull(fa, back); err != nil || string(back) != "back" {
		t.Fatalf("read %q, %v", back, err)
	}
}

func TestCutReadsHalfClose(t *testing.T) {
	a, b := pair(t)
	fb := Wrap(b)
	fb.Cut(Reads, 4, HalfClose)
	if _, err := a.Write([]byte("abcdefgh")); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, fb)
	if string(got) != "abcd" || err != io.EOF {
		t.Fatalf("read %q, %v; want \"abcd\" and io.EOF", got, err)
	}
	if _, err := fb.Write([]byte("still")); err != nil {
		t.Fatalf("Write after a half-close of the reads: %v", err)
	}
	still := make([]byte, 5)
	if _, err := io.ReadFull(a, still); err != nil || string(still) != "still" {
		t.Fatalf("the peer read %q, %v", still, err)
	}
}

func TestCloseWritePassesThrough(t *testing.T) {
	a, b := pair(t)
	fa := Wrap(a)
	if _, err := fa.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	if err := fa.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, b)
	if string(got) != "bye" || err != io.EOF {
		t.Fatalf("the peer read %q, %v; want \"bye\" and io.EOF", got, err)
	}
	p1, _ := net.Pipe()
	defer p1.Close()
	if err := Wrap(p1).CloseWrite(); err == nil {
		t.Error("CloseWrite of a connection without one returned nil")
	}
}

func TestBlackhole(t *testing.T) {
	a, b := pair(t)
	fa := Wrap(a)
	fa.Cut(Writes, 5, Blackhole)
	if _, err := b.Write([]byte("early")); err != nil {
		t.Fatal(err)
	}
	early := make([]byte, 5)
	if _, err := io.ReadFull(fa, early); err != nil {
		t.Fatal(err)
	}
	w := returns(func() error {
		_, err := fa.Write([]byte("0123456789"))
		return err
	})
	first := make([]byte, 5)
	if _, err := io.ReadFull(b, first); err != nil || string(first) != "01234" {
		t.Fatalf("the peer read %q, %v", first, err)
	}
	select { // both directions are cut
	case <-fa.Hit(Reads):
	case <-time.After(watchdog):
		t.Fatal("the blackhole did not cut the reads")
	}
	if _, err := b.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	r := returns(func() error {
		_, err := fa.Read(make([]byte, 4))
		return err
	})
	blocked(t, "the Write into the blackhole", w)
	blocked(t, "the Read from the blackhole", r)
	if err := fa.CloseWrite(); err != nil {
		t.Errorf("CloseWrite in a blackhole: %v", err)
	}
	if err := fa.Close(); err != nil {
		t.Fatal(err)
	}
	for what, ch := range map[string]<-chan error{"Write": w, "Read": r} {
		if err := await(t, what, ch); !errors.Is(err, net.ErrClosed) {
			t.Errorf("%s after Close: %v, want net.ErrClosed", what, err)
		}
	}
	// The peer learns nothing of the close...
	b.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	if n, err := b.Read(make([]byte, 10)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the peer read %d bytes, %v from a blackhole", n, err)
	}
	// ...until Release.
	if err := fa.Release(); err != nil {
		t.Fatal(err)
	}
	// (A reset, since "late" was left unread, or a FIN.)
	if _, err := readAll(t, b); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("after Release the peer read %v, want the end of the connection", err)
	}
}

func TestListenerAndDialer(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan *Conn, 1)
	ln := &Listener{Listener: raw, OnAccept: func(c *Conn) { c.Record(Reads); accepted <- c }}
	defer ln.Close()
	served := returns(func() error {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = io.Copy(io.Discard, c)
		return err
	})
	dialed := make(chan *Conn, 1)
	d := &Dialer{OnDial: func(c *Conn) { c.Cut(Writes, 3, Close); dialed <- c }}
	c, err := d.DialContext(context.Background(), "tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if fc := <-dialed; fc != c {
		t.Fatal("OnDial got another connection than DialContext returned")
	}
	if _, err := c.Write([]byte("abcdef")); !errors.Is(err, ErrCut) {
		t.Fatalf("Write = %v, want ErrCut", err)
	}
	if err := await(t, "the server", served); err != nil {
		t.Fatal(err)
	}
	if got := (<-accepted).Recorded(Reads); string(got) != "abc" {
		t.Fatalf("the server read %q, want \"abc\"", got)
	}
	if _, err := (&Dialer{}).DialContext(context.Background(), "tcp", "127.0.0.1:1"); err == nil {
		t.Error("a dial to a closed port succeeded")
	}
}

func TestFrameBoundaries(t *testing.T) {
	frame := func(payload int) []byte {
		f := make([]byte, FrameHeaderLen+payload)
		f[0] = 0x80 // a control frame; the length is all that counts
		f[5], f[6], f[7] = byte(payload>>16), byte(payload>>8), byte(payload)
		return f
	}
	hs := []byte("HTTP/1.1 101 Switching Protocols\r\n\r\n")
	var b []byte
	b = append(b, hs...)
	b = append(b, frame(0)...)
	b = append(b, frame(12)...)
	b = append(b, frame(70000)...) // a 24-bit length
	whole := len(b)
	start := int64(len(hs))
	want := []int64{start, start + 8, start + 28, int64(whole)}
	if got := FrameBoundaries(b, len(hs)); !slices.Equal(got, want) {
		t.Errorf("FrameBoundaries = %v, want %v", got, want)
	}
	// A frame cut short ends the list at its start.
	partial := append(slices.Clone(b), frame(100)[:50]...)
	if got := FrameBoundaries(partial, len(hs)); !slices.Equal(got, want) {
		t.Errorf("with a partial frame: %v, want %v", got, want)
	}
	// So does a header cut short.
	if got := FrameBoundaries(append(slices.Clone(b), 0x80, 3), len(hs)); !slices.Equal(got, want) {
		t.Errorf("with a partial header: %v, want %v", got, want)
	}
	if got := FrameBoundaries(nil, 0); !slices.Equal(got, []int64{0}) {
		t.Errorf("FrameBoundaries(nil) = %v, want [0]", got)
	}
}

func TestOffsets(t *testing.T) {
	a, b := Offsets(7, 50, 1000), Offsets(7, 50, 1000)
	if !slices.Equal(a, b) {
		t.Fatal("the same seed gave other offsets")
	}
	if slices.Equal(a, Offsets(8, 50, 1000)) {
		t.Error("another seed gave the same offsets")
	}
	for _, o := range a {
		if o < 0 || o >= 1000 {
			t.Fatalf("offset %d out of [0, 1000)", o)
		}
	}
	if Offsets(1, 0, 10) != nil || Offsets(1, 3, 0) != nil {
		t.Error("Offsets without a count or a span is not empty")
	}
}

func TestThin(t *testing.T) {
	pts := []int64{0, 10, 20, 30, 40, 50, 60, 70, 80, 90}
	if got := Thin(pts, 4); !slices.Equal(got, []int64{0, 30, 60, 90}) {
		t.Errorf("Thin(4) = %v", got)
	}
	if got := Thin(pts, 20); !slices.Equal(got, pts) {
		t.Errorf("Thin(20) = %v", got)
	}
	if got := Thin(pts, 1); !slices.Equal(got, []int64{90}) {
		t.Errorf("Thin(1) = %v", got)
	}
	if got := Thin(pts, 0); got != nil {
		t.Errorf("Thin(0) = %v", got)
	}
}

func TestNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Reads.String(), "reads"}, {Writes.String(), "writes"}, {Direction(5).String(), "Direction(5)"},
		{Close.String(), "close"}, {Stall.String(), "stall"}, {HalfClose.String(), "halfclose"},
		{Blackhole.String(), "blackhole"}, {Action(9).String(), "Action(9)"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
