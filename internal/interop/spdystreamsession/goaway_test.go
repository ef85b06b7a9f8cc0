package spdystreamsession

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/moby/spdystream/spdy"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/session"
	"github.com/spdygo/spdy/stream"
)

// exchange sends one message each way on an established stream.
func exchange(t *testing.T, ours *stream.Stream, theirs io.ReadWriter) {
	t.Helper()
	if _, err := ours.Write([]byte("ours")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(theirs, buf); err != nil || string(buf) != "ours" {
		t.Fatalf("spdystream Read = %q, %v", buf, err)
	}
	if _, err := theirs.Write([]byte("them")); err != nil {
		t.Fatalf("spdystream Write: %v", err)
	}
	if _, err := io.ReadFull(ours, buf); err != nil || string(buf) != "them" {
		t.Fatalf("Read = %q, %v", buf, err)
	}
}

// waitServed waits until spdystream's Serve has returned.
func (p *peers) waitServed(t *testing.T) {
	t.Helper()
	select {
	case <-p.served:
	case <-time.After(waitLimit):
		t.Fatal("spdystream's Serve did not return")
	}
	select {
	case <-p.theirs.CloseChan():
	default:
		t.Error("spdystream's CloseChan is open after Serve returned")
	}
}

// waitEnded waits until our session has ended.
func (p *peers) waitEnded(t *testing.T) {
	t.Helper()
	select {
	case <-p.ours.Done():
	case <-time.After(waitLimit):
		t.Fatal("our session did not end")
	}
}

// wantGoAwayOK waits for the GOAWAY spdystream read from us and checks
// that it is OK and names lastGood as the last good stream.
func (p *peers) wantGoAwayOK(t *testing.T, lastGood framing.StreamID) {
	t.Helper()
	g := p.tap.wait(t, "our GOAWAY", func(f spdy.Frame) bool {
		_, ok := f.(*spdy.GoAwayFrame)
		return ok
	}).(*spdy.GoAwayFrame)
	if g.LastGoodStreamId != spdy.StreamId(lastGood) || g.Status != spdy.GoAwayOK {
		t.Errorf("spdystream read GOAWAY last-good %d status %d, want %d OK", g.LastGoodStreamId, g.Status, lastGood)
	}
}

// TestOurShutdown: after a stream spdystream opened has finished, our
// Shutdown sends GOAWAY OK naming that stream as the last good one, and
// spdystream ends its connection.
func TestOurShutdown(t *testing.T) {
	for _, sd := range sides {
		t.Run(sd.String(), func(t *testing.T) {
			p := newPeers(t, sd, &options{tap: true})
			ctx := testContext(t)
			ours, theirs := p.open(t, ctx, byTheirs, nil, nil)
			exchange(t, ours, theirs)
			if err := theirs.Close(); err != nil {
				t.Fatal(err)
			}
			if err := ours.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if n, err := ours.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("Read = %d, %v; want EOF", n, err)
			}
			waitDone(t, ours)
			if err := p.ours.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if err := p.ours.Err(); !errors.Is(err, session.ErrClosed) {
				t.Errorf("Err = %v, want ErrClosed", err)
			}
			p.wantGoAwayOK(t, ours.ID())
			p.waitServed(t)
		})
	}
}

// TestOurShutdownOpenStream: spdystream does not drain after a GOAWAY (its
// Serve stops reading and it closes the connection), so our Shutdown with
// a stream open ends when the connection does, and the stream fails on
// our side and reads EOF on spdystream's.
func TestOurShutdownOpenStream(t *testing.T) {
	for _, sd := range sides {
		t.Run(sd.String(), func(t *testing.T) {
			p := newPeers(t, sd, &options{tap: true})
			ctx := testContext(t)
			ours, theirs := p.open(t, ctx, byTheirs, nil, nil)
			exchange(t, ours, theirs)
			done := make(chan error, 1)
			go func() { done <- p.ours.Shutdown(ctx) }()
			p.wantGoAwayOK(t, ours.ID())
			p.waitServed(t)
			if n, err := theirs.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("spdystream Read = %d, %v; want EOF", n, err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Shutdown: %v", err)
				}
			case <-time.After(waitLimit):
				t.Fatal("Shutdown did not return after spdystream closed the connection")
			}
			_, err := ours.Read(make([]byte, 1))
			var te *session.TransportError
			if !errors.As(err, &te) {
				t.Errorf("our Read after the connection ended = %v, want a *session.TransportError", err)
			}
			t.Logf("session error: %v", p.ours.Err())
		})
	}
}

// TestOurClose: our Close sends GOAWAY OK; spdystream ends its
// connection and its open stream reads EOF; ours fails with ErrClosed.
func TestOurClose(t *testing.T) {
	for _, sd := range sides {
		for _, op := range openers {
			t.Run(sd.String()+"/"+op.String(), func(t *testing.T) {
				p := newPeers(t, sd, &options{tap: true})
				ctx := testContext(t)
				ours, theirs := p.open(t, ctx, op, nil, nil)
				exchange(t, ours, theirs)
				if err := p.ours.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				want := framing.StreamID(0)
				if op == byTheirs {
					want = ours.ID()
				}
				p.wantGoAwayOK(t, want)
				p.waitServed(t)
				if n, err := theirs.Read(make([]byte, 1)); err != io.EOF {
					t.Errorf("spdystream Read = %d, %v; want EOF", n, err)
				}
				if _, err := ours.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
					t.Errorf("our Read after Close = %v, want net.ErrClosed", err)
				}
				if err := p.ours.Err(); !errors.Is(err, session.ErrClosed) {
					t.Errorf("Err = %v, want ErrClosed", err)
				}
			})
		}
	}
}

// TestTheirClose: spdystream's Close sends GOAWAY and waits for its
// streams. A stream it had received goes on to its end; a stream we opened
// that it never processed fails as unprocessed; Open fails with
// ErrGoingAway; once the last stream ends our session ends with a
// *session.GoAwayError.
func TestTheirClose(t *testing.T) {
	for _, sd := range sides {
		t.Run(sd.String(), func(t *testing.T) {
			p := newPeers(t, sd, &options{gate: true})
			ctx := testContext(t)
			a, theirA := p.open(t, ctx, byOurs, nil, nil)
			exchange(t, a, theirA)

			// Hold back what our session reads so that we open b before
			// we see the GOAWAY; spdystream ignores b's SYN_STREAM.
			p.gate.pause()
			if err := p.theirs.Close(); err != nil {
				t.Fatalf("spdystream Close: %v", err)
			}
			b, err := p.ours.Open(ctx, nil)
			if err != nil {
				t.Fatalf("Open before the GOAWAY arrived: %v", err)
			}
			p.gate.resume()

			// Data spdystream sends after its GOAWAY still flows on a.
			if _, err := theirA.Write([]byte("after goaway")); err != nil {
				t.Fatalf("spdystream Write: %v", err)
			}
			buf := make([]byte, len("after goaway"))
			if _, err := io.ReadFull(a, buf); err != nil || string(buf) != "after goaway" {
				t.Fatalf("Read = %q, %v", buf, err)
			}
			_, err = b.Read(buf)
			var ga *session.GoAwayError
			if !errors.Is(err, session.ErrNotProcessed) || !errors.As(err, &ga) || ga.LastGoodStreamID != a.ID() || ga.StreamID != b.ID() {
				t.Errorf("Read on the unprocessed stream = %v, want an unprocessed *session.GoAwayError with last-good %d", err, a.ID())
			}
			if _, err := p.ours.Open(ctx, nil); !errors.Is(err, session.ErrGoingAway) {
				t.Errorf("Open after GOAWAY = %v, want ErrGoingAway", err)
			}

			// a ends in both directions; then spdystream closes the
			// connection and our session ends.
			if err := theirA.Close(); err != nil {
				t.Fatalf("spdystream Close stream: %v", err)
			}
			if n, err := a.Read(buf); err != io.EOF {
				t.Errorf("Read = %d, %v; want EOF", n, err)
			}
			if err := a.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if n, err := theirA.Read(buf); err != io.EOF {
				t.Errorf("spdystream Read = %d, %v; want EOF", n, err)
			}
			waitDone(t, a)
			p.waitEnded(t)
			ga = nil
			if err := p.ours.Err(); !errors.As(err, &ga) || ga.LastGoodStreamID != a.ID() || ga.Status != framing.GoAwayOK {
				t.Errorf("session Err = %v, want *session.GoAwayError with last-good %d, OK", err, a.ID())
			}
			p.waitServed(t)
		})
	}
}

// TestTheirResetAndClose closes the spdystream connection as Kubernetes'
// client-go does (reset every stream, then Close): our stream fails with
// the peer's RST_STREAM CANCEL and the session with a
// *session.GoAwayError.
func TestTheirResetAndClose(t *testing.T) {
	for _, sd := range sides {
		for _, op := range openers {
			t.Run(sd.String()+"/"+op.String(), func(t *testing.T) {
				p := newPeers(t, sd, nil)
				ctx := testContext(t)
				ours, theirs := p.open(t, ctx, op, nil, nil)
				exchange(t, ours, theirs)
				if err := theirs.Reset(); err != nil {
					t.Fatalf("spdystream Reset: %v", err)
				}
				if err := p.theirs.Close(); err != nil {
					t.Fatalf("spdystream Close: %v", err)
				}
				wantTheirCancel(t, ours)
				p.waitEnded(t)
				var ga *session.GoAwayError
				if err := p.ours.Err(); !errors.As(err, &ga) || ga.Status != framing.GoAwayOK {
					t.Errorf("session Err = %v, want *session.GoAwayError OK", err)
				}
				p.waitServed(t)
			})
		}
	}
}

// TestTheirConnectionDrops cuts spdystream's end of the TCP connection
// without a GOAWAY: our open stream and our session fail with a
// *session.TransportError.
func TestTheirConnectionDrops(t *testing.T) {
	for _, sd := range sides {
		t.Run(sd.String(), func(t *testing.T) {
			p := newPeers(t, sd, nil)
			ctx := testContext(t)
			ours, theirs := p.open(t, ctx, byTheirs, nil, nil)
			exchange(t, ours, theirs)
			p.theirC.Close()
			_, err := ours.Read(make([]byte, 1))
			var te *session.TransportError
			if !errors.As(err, &te) {
				t.Errorf("Read = %v, want a *session.TransportError", err)
			}
			p.waitEnded(t)
			if err := p.ours.Err(); !errors.As(err, &te) {
				t.Errorf("session Err = %v, want a *session.TransportError", err)
			}
			if _, err := p.ours.Open(ctx, nil); err == nil {
				t.Error("Open on an ended session succeeded")
			}
			p.waitServed(t)
		})
	}
}
