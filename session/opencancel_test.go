package session

import (
	"context"
	"io"
	"testing"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
)

// An Open whose context ends while the open still waits in the loop's
// queue leaves no stream behind: the loop opens it anyway, and Open must
// reset it rather than return and forget it (a proxied client that left
// at that moment held an origin handler and a stream slot for good).
func TestOpenCanceledLeavesNoStream(t *testing.T) {
	c1, c2 := tcpPair(t)
	cs, err := New(c1, Client, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	ss, err := New(c2, Server, &Config{MaxConcurrentStreams: 100000, FloodLimit: -1}) // every open is reset
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	go func() {
		for {
			st, err := ss.Accept(context.Background())
			if err != nil {
				return
			}
			go io.Copy(io.Discard, st)
		}
	}()
	canceled := 0
	for range 2000 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // Open may still queue the open before it sees the end
		st, err := cs.Open(ctx, &OpenOptions{Headers: []hpackz.Field{field("a", "b")}})
		if err == nil {
			st.Reset(framing.StatusCancel)
		} else {
			canceled++
		}
	}
	t.Logf("%d of 2000 opens canceled", canceled)
	// A reset stream leaves the table once its RST_STREAM is written.
	waitFor(t, "every stream to end", func() bool {
		var open int
		onLoop(t, cs, func() { open = len(cs.l.streams) })
		return open == 0
	})
}
