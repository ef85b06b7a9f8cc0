package spdystreamsession

import (
	"io"
	"testing"

	"github.com/moby/spdystream"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/stream"
)

// TestWritesAfterReset: spdystream's Write does not fail after the other
// side reset the stream, so its applications (kubelet's output copiers,
// for one) go on writing to streams we reset. Our session remembers only
// the last few streams it reset and answers DATA for older ones with
// RST_STREAM; that DATA must not count as the peer's protocol violations
// that end the session. The test resets more streams than the session
// remembers and has spdystream write to them in turn, more frames in all
// than the session tolerates for streams that never existed.
func TestWritesAfterReset(t *testing.T) {
	const zombies, rounds = 65, 16
	for _, sd := range sides {
		for _, op := range openers {
			t.Run(sd.String()+"/"+op.String(), func(t *testing.T) {
				p := newPeers(t, sd, nil)
				ctx := testContext(t)
				ours := make([]*stream.Stream, zombies)
				theirs := make([]*spdystream.Stream, zombies)
				for i := range zombies {
					ours[i], theirs[i] = p.open(t, ctx, op, nil, nil)
					exchange(t, ours[i], theirs[i])
				}
				for i := range zombies {
					if err := ours[i].Reset(framing.StatusCancel); err != nil {
						t.Fatalf("Reset: %v", err)
					}
					// spdystream's Read returns EOF once the reset arrived.
					if n, err := theirs[i].Read(make([]byte, 1)); err != io.EOF {
						t.Fatalf("spdystream Read after our reset = %d, %v; want EOF", n, err)
					}
				}
				for range rounds {
					for _, st := range theirs {
						if _, err := st.Write([]byte("z")); err != nil {
							t.Fatalf("spdystream Write: %v", err)
						}
					}
				}
				if _, err := p.ours.Ping(ctx); err != nil {
					t.Fatalf("Ping after spdystream wrote to reset streams: %v", err)
				}
				if err := p.ours.Err(); err != nil {
					t.Fatalf("session ended: %v", err)
				}
				st := p.ours.Stats()
				if n := st.ResetsSent[framing.StatusCancel]; n != zombies {
					t.Errorf("%d CANCEL resets sent, want %d", n, zombies)
				}
				if n := st.ResetsSent[framing.StatusProtocolError]; n > zombies*rounds {
					t.Errorf("%d PROTOCOL_ERROR resets sent for %d frames", n, zombies*rounds)
				}
				t.Logf("RST_STREAM PROTOCOL_ERROR sent for %d of the %d DATA frames on reset streams", st.ResetsSent[framing.StatusProtocolError], zombies*rounds)
				o, th := p.open(t, ctx, op, nil, nil)
				exchange(t, o, th)
			})
		}
	}
}
