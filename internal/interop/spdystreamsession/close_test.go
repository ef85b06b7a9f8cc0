package spdystreamsession

import (
	"errors"
	"io"
	"net"
	"testing"

	"github.com/moby/spdystream"
	"github.com/moby/spdystream/spdy"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/session"
	"github.com/spdygo/spdy/stream"
)

// TestHalfClose checks half-close across the two: our CloseWrite is EOF
// to spdystream, spdystream's Close (a half-close: empty DATA+FIN) is EOF
// to us, and in both orders the other direction keeps working until its
// own FIN.
func TestHalfClose(t *testing.T) {
	for _, sd := range sides {
		for _, op := range openers {
			for _, oursFirst := range []bool{true, false} {
				name := sd.String() + "/" + op.String() + "/theirs-fin-first"
				if oursFirst {
					name = sd.String() + "/" + op.String() + "/ours-fin-first"
				}
				t.Run(name, func(t *testing.T) {
					p := newPeers(t, sd, nil)
					ctx := testContext(t)
					ours, theirs := p.open(t, ctx, op, nil, nil)
					defer ours.Close()
					if oursFirst {
						if _, err := ours.Write([]byte("before fin")); err != nil {
							t.Fatalf("Write: %v", err)
						}
						if err := ours.CloseWrite(); err != nil {
							t.Fatalf("CloseWrite: %v", err)
						}
						if _, err := ours.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
							t.Errorf("Write after CloseWrite = %v, want net.ErrClosed", err)
						}
						got, err := io.ReadAll(io.LimitReader(theirs, 1<<10))
						if err != nil || string(got) != "before fin" {
							t.Errorf("spdystream read %q, %v; want our data, then EOF", got, err)
						}
						if _, err := theirs.Write([]byte("after your fin")); err != nil {
							t.Fatalf("spdystream Write: %v", err)
						}
						if err := theirs.Close(); err != nil {
							t.Fatalf("spdystream Close: %v", err)
						}
						got, err = io.ReadAll(io.LimitReader(ours, 1<<10))
						if err != nil || string(got) != "after your fin" {
							t.Errorf("we read %q, %v; want spdystream's data, then EOF", got, err)
						}
					} else {
						if _, err := theirs.Write([]byte("before fin")); err != nil {
							t.Fatalf("spdystream Write: %v", err)
						}
						if err := theirs.Close(); err != nil {
							t.Fatalf("spdystream Close: %v", err)
						}
						got, err := io.ReadAll(io.LimitReader(ours, 1<<10))
						if err != nil || string(got) != "before fin" {
							t.Errorf("we read %q, %v; want spdystream's data, then EOF", got, err)
						}
						if _, err := ours.Write([]byte("after your fin")); err != nil {
							t.Fatalf("Write: %v", err)
						}
						if err := ours.CloseWrite(); err != nil {
							t.Fatalf("CloseWrite: %v", err)
						}
						got, err = io.ReadAll(io.LimitReader(theirs, 1<<10))
						if err != nil || string(got) != "after your fin" {
							t.Errorf("spdystream read %q, %v; want our data, then EOF", got, err)
						}
					}
					waitDone(t, ours)
					if st := p.ours.Stats(); st.ResetsSent != [12]uint64{} || st.ResetsReceived != [12]uint64{} {
						t.Errorf("resets sent %v, received %v; want none", st.ResetsSent, st.ResetsReceived)
					}
				})
			}
		}
	}
}

// rstFrom returns the RST_STREAM spdystream read for id.
func (p *peers) rstFrom(t *testing.T, id framing.StreamID) *spdy.RstStreamFrame {
	t.Helper()
	return p.tap.wait(t, "our RST_STREAM", func(f spdy.Frame) bool {
		r, ok := f.(*spdy.RstStreamFrame)
		return ok && r.StreamId == spdy.StreamId(id)
	}).(*spdy.RstStreamFrame)
}

// TestOurReset: our Reset reaches spdystream as RST_STREAM with our status;
// spdystream ends the stream (its Read returns EOF, as it does for every
// reset) and forgets it.
func TestOurReset(t *testing.T) {
	for _, sd := range sides {
		for _, op := range openers {
			t.Run(sd.String()+"/"+op.String(), func(t *testing.T) {
				p := newPeers(t, sd, &options{tap: true})
				ctx := testContext(t)
				ours, theirs := p.open(t, ctx, op, nil, nil)
				exchange(t, ours, theirs)
				if err := ours.Reset(framing.StatusCancel); err != nil {
					t.Fatalf("Reset: %v", err)
				}
				var re *stream.ResetError
				if _, err := ours.Read(make([]byte, 1)); !errors.As(err, &re) || re.Remote || re.Status != framing.StatusCancel {
					t.Errorf("our Read after Reset = %v, want our own *stream.ResetError CANCEL", err)
				}
				if r := p.rstFrom(t, ours.ID()); r.Status != spdy.Cancel {
					t.Errorf("spdystream read RST_STREAM status %d, want CANCEL", r.Status)
				}
				if n, err := theirs.Read(make([]byte, 1)); err != io.EOF {
					t.Errorf("spdystream Read after our reset = %d, %v; want EOF", n, err)
				}
				if op == byOurs {
					// spdystream removes a reset stream before its Read
					// returns; FindStream waits only for ids it has not
					// received yet, which this one is not.
					if st := p.theirs.FindStream(uint32(ours.ID())); st != nil {
						t.Errorf("spdystream still has stream %d after our reset", ours.ID())
					}
				}
				waitDone(t, ours)
				if st := p.ours.Stats(); st.ResetsSent[framing.StatusCancel] != 1 {
					t.Errorf("ResetsSent = %v, want one CANCEL", st.ResetsSent)
				}
			})
		}
	}
}

// TestOurRefusal: with Config.ManualReply, our Reset before replying is
// what spdystream's Wait reports as ErrReset.
func TestOurRefusal(t *testing.T) {
	for _, sd := range sides {
		t.Run(sd.String(), func(t *testing.T) {
			cfg := ourConfig()
			cfg.ManualReply = true
			p := newPeers(t, sd, &options{cfg: cfg, tap: true})
			ctx := testContext(t)
			theirs := p.create(t, nil)
			ours, err := p.ours.Accept(ctx)
			if err != nil {
				t.Fatalf("Accept: %v", err)
			}
			if err := ours.Reset(framing.StatusRefusedStream); err != nil {
				t.Fatalf("Reset: %v", err)
			}
			if err := theirs.WaitTimeout(waitLimit); err != spdystream.ErrReset {
				t.Errorf("spdystream Wait = %v, want ErrReset", err)
			}
			if r := p.rstFrom(t, ours.ID()); r.Status != spdy.RefusedStream {
				t.Errorf("spdystream read RST_STREAM status %d, want REFUSED_STREAM", r.Status)
			}
			// Frames arrive in order: a SYN_REPLY would have come first.
			p.tap.mu.Lock()
			for _, f := range p.tap.frames {
				if r, ok := f.(*spdy.SynReplyFrame); ok && r.StreamId == spdy.StreamId(ours.ID()) {
					t.Error("spdystream read a SYN_REPLY for the refused stream")
				}
			}
			p.tap.mu.Unlock()
			waitDone(t, ours)
		})
	}
}

// wantTheirCancel checks that ours, reset by spdystream, fails Read with
// the peer's RST_STREAM CANCEL and Write with a *stream.ResetError.
func wantTheirCancel(t *testing.T, ours *stream.Stream) {
	t.Helper()
	var re *stream.ResetError
	if _, err := ours.Read(make([]byte, 1)); !errors.As(err, &re) || !re.Remote || re.Status != framing.StatusCancel || re.StreamID != ours.ID() {
		t.Errorf("Read = %v, want the peer's RST_STREAM CANCEL", err)
	}
	if _, err := ours.Write([]byte("x")); !errors.As(err, &re) {
		t.Errorf("Write after the peer's reset = %v, want a *stream.ResetError", err)
	}
}

// TestTheirReset: spdystream's Reset (RST_STREAM CANCEL) fails our Read
// and Write with the peer's *stream.ResetError, whoever opened the stream.
func TestTheirReset(t *testing.T) {
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
				wantTheirCancel(t, ours)
				waitDone(t, ours)
				if st := p.ours.Stats(); st.ResetsReceived[framing.StatusCancel] != 1 || st.ResetsSent != [12]uint64{} {
					t.Errorf("resets received %v, sent %v; want one CANCEL received", st.ResetsReceived, st.ResetsSent)
				}
				// The session goes on.
				ours2, theirs2 := p.open(t, ctx, op, nil, nil)
				exchange(t, ours2, theirs2)
			})
		}
	}
}

// TestTheirRefusal: spdystream's Refuse (RST_STREAM REFUSED_STREAM) on a
// stream we opened fails it as unprocessed, safe to retry.
func TestTheirRefusal(t *testing.T) {
	for _, sd := range sides {
		t.Run(sd.String(), func(t *testing.T) {
			p := newPeers(t, sd, &options{handler: func(st *spdystream.Stream) { st.Refuse() }})
			ctx := testContext(t)
			ours, err := p.ours.Open(ctx, nil)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			_, err = ours.WaitHeaders(ctx)
			var re *stream.ResetError
			if !errors.Is(err, session.ErrNotProcessed) || !errors.As(err, &re) || re.Status != framing.StatusRefusedStream || !re.Remote {
				t.Errorf("WaitHeaders = %v, want the peer's REFUSED_STREAM, matching ErrNotProcessed", err)
			}
			waitDone(t, ours)
		})
	}
}
