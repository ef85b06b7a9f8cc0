package session

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/stream"
)

// compatPeer is a scripted peer that writes and reads raw frames.
type compatPeer struct {
	t    *testing.T
	conn net.Conn
	fr   *framing.Framer
	enc  *hpackz.Encoder
}

func newCompatPeer(t *testing.T, conn net.Conn, v framing.Version) *compatPeer {
	hv := hpackz.V3
	if v == framing.Version2 {
		hv = hpackz.V2
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // a bound, not an assertion
	return &compatPeer{t: t, conn: conn, fr: framing.NewFramer(conn, bufio.NewReader(conn), v), enc: hpackz.NewEncoder(hv, nil)}
}

func (p *compatPeer) block(fields ...hpackz.Field) []byte {
	p.t.Helper()
	b, err := p.enc.AppendBlock(nil, fields)
	if err != nil {
		p.t.Fatal(err)
	}
	return b
}

func (p *compatPeer) check(err error) {
	p.t.Helper()
	if err != nil {
		p.t.Fatal(err)
	}
}

// next reads frames until keep returns true for one, and returns it. A
// frame is only valid until the next read.
func (p *compatPeer) next(what string, keep func(framing.Frame) bool) framing.Frame {
	p.t.Helper()
	for i := 0; i < 10000; i++ {
		f, err := p.fr.ReadFrame()
		if err != nil {
			p.t.Fatalf("reading frames until %s: %v", what, err)
		}
		if keep(f) {
			return f
		}
	}
	p.t.Fatalf("no %s in 10000 frames", what)
	return nil
}

// v2WindowUpdate reports whether f is a SPDY/2 control frame of type
// WINDOW_UPDATE, which package framing reads as unknown, and returns its
// stream id and delta.
func v2WindowUpdate(f framing.Frame) (framing.StreamID, uint32, bool) {
	u, ok := f.(*framing.UnknownFrame)
	if !ok || u.Version != framing.Version2 || u.Type != framing.FrameWindowUpdate || len(u.Payload) != 8 {
		return 0, 0, false
	}
	return framing.StreamID(binary.BigEndian.Uint32(u.Payload[0:4])), binary.BigEndian.Uint32(u.Payload[4:8]), true
}

func (p *compatPeer) writeV2WindowUpdate(id framing.StreamID, delta uint32) {
	p.t.Helper()
	payload := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(id)), delta)
	p.check(p.fr.WriteFrame(&framing.UnknownFrame{
		FrameHeader: framing.FrameHeader{Control: true, Version: framing.Version2, Type: framing.FrameWindowUpdate},
		Payload:     payload,
	}))
}

// TestV2Compat checks the SPDY/2 dialect of Config.V2Compat: WINDOW_UPDATE
// frames sent as the application reads, the peer's windows honored, and an
// 8-byte GOAWAY; and that without it SPDY/2 stays as its draft defines it.
func TestV2Compat(t *testing.T) {
	c1, c2 := tcpPair(t)
	s, err := New(c1, Server, &Config{Version: V2, V2Compat: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := newCompatPeer(t, c2, framing.Version2)
	defer c2.Close()

	// The peer allows 1000 bytes per stream, then opens a stream and sends
	// a full 64 KiB window of data.
	p.check(p.fr.WriteSettings(0, framing.Setting{ID: framing.SettingInitialWindowSize, Value: 1000}))
	p.check(p.fr.WriteSynStream(1, 0, 0, 0, p.block(hpackz.Field{Name: "x", Value: "y"})))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := s.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 16<<10)
	for range 4 {
		p.check(p.fr.WriteData(1, false, chunk))
	}
	// Reading it makes the session return credit with SPDY/2
	// WINDOW_UPDATE frames (the SYN_REPLY comes first).
	if _, err := io.ReadFull(st, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	var credit uint32
	p.next("credit for 64 KiB", func(f framing.Frame) bool {
		if id, d, ok := v2WindowUpdate(f); ok && id == 1 {
			credit += d
		}
		return credit >= 32<<10
	})

	// The session sends 1000 bytes, then waits for the peer's window.
	writeErr := make(chan error, 1)
	go func() {
		_, err := st.Write(make([]byte, 3000))
		writeErr <- err
	}()
	got := 0
	readData := func(want int) {
		t.Helper()
		for got < want {
			p.next("DATA", func(f framing.Frame) bool {
				d, ok := f.(*framing.DataFrame)
				if ok && got+len(d.Data) > want {
					t.Fatalf("DATA of %d bytes after %d: window of %d exceeded", len(d.Data), got, want)
				}
				if ok {
					got += len(d.Data)
				}
				return ok
			})
		}
	}
	readData(1000)
	// Nothing more until the peer opens the window: a PING's reply comes
	// before any DATA.
	p.check(p.fr.WritePing(1))
	p.next("PING reply", func(f framing.Frame) bool {
		if _, ok := f.(*framing.DataFrame); ok {
			t.Fatal("DATA sent beyond the peer's window")
		}
		pf, ok := f.(*framing.PingFrame)
		return ok && pf.ID == 1
	})
	p.writeV2WindowUpdate(1, 2000)
	readData(3000)
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}

	// The GOAWAY has SPDY/3's 8 bytes.
	s.Close()
	f := p.next("GOAWAY", func(f framing.Frame) bool { _, ok := f.(*framing.GoAwayFrame); return ok })
	if n := f.Header().Length; n != 8 {
		t.Errorf("GOAWAY of %d bytes, want 8", n)
	}
}

// TestV2WithoutCompat checks that a plain SPDY/2 session writes the draft's
// 4-byte GOAWAY and ignores WINDOW_UPDATE frames.
func TestV2WithoutCompat(t *testing.T) {
	c1, c2 := tcpPair(t)
	s, err := New(c1, Server, &Config{Version: V2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := newCompatPeer(t, c2, framing.Version2)
	defer c2.Close()
	// A window of 1000 and an update mean nothing in SPDY/2: 3000 bytes
	// arrive in one frame.
	p.check(p.fr.WriteSettings(0, framing.Setting{ID: framing.SettingInitialWindowSize, Value: 1000}))
	p.check(p.fr.WriteSynStream(1, 0, 0, 0, p.block(hpackz.Field{Name: "x", Value: "y"})))
	p.writeV2WindowUpdate(1, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := s.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	go st.Write(make([]byte, 3000))
	p.next("DATA", func(f framing.Frame) bool {
		d, ok := f.(*framing.DataFrame)
		if ok && len(d.Data) != 3000 {
			t.Errorf("DATA of %d bytes, want 3000 at once", len(d.Data))
		}
		return ok
	})
	s.Close()
	f := p.next("GOAWAY", func(f framing.Frame) bool { _, ok := f.(*framing.GoAwayFrame); return ok })
	if n := f.Header().Length; n != 4 {
		t.Errorf("GOAWAY of %d bytes, want 4", n)
	}
}

// TestImplicitUnidirectionalPush checks that a client with
// Config.ImplicitUnidirectionalPush takes a SYN_STREAM naming an associated
// stream as a push even without FLAG_UNIDIRECTIONAL, so it sends no
// SYN_REPLY for it; and that without the option it is a bidirectional
// stream, answered with a SYN_REPLY.
func TestImplicitUnidirectionalPush(t *testing.T) {
	for _, implicit := range []bool{true, false} {
		name := map[bool]string{true: "implicit", false: "explicit"}[implicit]
		t.Run(name, func(t *testing.T) {
			c1, c2 := tcpPair(t)
			s, err := New(c1, Client, &Config{Version: V3, ImplicitUnidirectionalPush: implicit})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			p := newCompatPeer(t, c2, framing.Version3)
			defer c2.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			parent, err := s.Open(ctx, &OpenOptions{Fin: true, Headers: []hpackz.Field{{Name: ":path", Value: "/"}}})
			if err != nil {
				t.Fatal(err)
			}
			defer parent.Close()
			p.next("SYN_STREAM", func(f framing.Frame) bool { _, ok := f.(*framing.SynStreamFrame); return ok })
			p.check(p.fr.WriteSynReply(1, 0, p.block(hpackz.Field{Name: ":status", Value: "200"})))
			// A push as node sends it: no FLAG_UNIDIRECTIONAL.
			p.check(p.fr.WriteSynStream(2, 1, 0, 0, p.block(hpackz.Field{Name: ":path", Value: "/pushed"}, hpackz.Field{Name: ":status", Value: "200"})))
			p.check(p.fr.WriteData(2, true, []byte("pushed")))
			pushed, err := s.Accept(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if pushed.AssociatedTo() != 1 {
				t.Errorf("pushed stream associated to %d, want 1", pushed.AssociatedTo())
			}
			body, err := io.ReadAll(pushed)
			if err != nil || string(body) != "pushed" {
				t.Fatalf("pushed body %q, %v", body, err)
			}
			_, werr := pushed.Write([]byte("x"))
			if implicit != errors.Is(werr, stream.ErrWriteClosed) {
				t.Errorf("Write on the pushed stream: %v", werr)
			}
			pushed.Close()
			// Everything the client sends about stream 2 comes before the
			// reply to this PING.
			p.check(p.fr.WritePing(2))
			replied := false
			p.next("PING reply", func(f framing.Frame) bool {
				if r, ok := f.(*framing.SynReplyFrame); ok && r.StreamID == 2 {
					replied = true
				}
				pf, ok := f.(*framing.PingFrame)
				return ok && pf.ID == 2
			})
			if replied == implicit {
				t.Errorf("SYN_REPLY for the push sent: %v, want %v", replied, !implicit)
			}
		})
	}
}
