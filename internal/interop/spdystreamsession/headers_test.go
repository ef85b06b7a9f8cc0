package spdystreamsession

import (
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/moby/spdystream/spdy"

	"github.com/spdygo/spdy/hpackz"
)

// TestHeaders checks every header block between the two, with our session
// in either role and either side opening the stream: the SYN_STREAM's
// headers (including a multi-valued and an empty one), the SYN_REPLY's
// (sent with spdystream's SendReply, or with our Stream.Reply under
// Config.ManualReply), HEADERS before DATA and HEADERS+FIN after it
// (trailers), in both directions.
func TestHeaders(t *testing.T) {
	for _, sd := range sides {
		for _, op := range openers {
			t.Run(sd.String()+"/"+op.String(), func(t *testing.T) {
				testHeaders(t, sd, op)
			})
		}
	}
}

func testHeaders(t *testing.T, sd side, op opener) {
	o := &options{tap: true}
	if op == byOurs {
		o.replyHeader = http.Header{"X-Reply": {"theirs"}, "X-Multi-Reply": {"m1", "m2"}}
	} else {
		cfg := ourConfig()
		cfg.ManualReply = true
		o.cfg = cfg
	}
	p := newPeers(t, sd, o)
	ctx := testContext(t)
	fields := []hpackz.Field{{Name: "x-a", Value: "1"}, {Name: "x-multi", Value: "v1\x00v2"}, {Name: "streamtype", Value: "stdout"}, {Name: "x-empty", Value: ""}}
	header := http.Header{"X-A": {"1"}, "X-Multi": {"v1", "v2"}, "Streamtype": {"stdout"}, "X-Empty": {""}}
	ours, theirs := p.open(t, ctx, op, fields, header)
	defer ours.Close()

	// Stream ids: odd from the client, even from the server (spdystream's
	// server opens bidirectional streams too).
	ourOpens := op == byOurs
	wantOdd := (sd == ourClient) == ourOpens
	if odd := ours.ID()%2 == 1; odd != wantOdd {
		t.Errorf("stream id %d: odd = %v, want %v", ours.ID(), odd, wantOdd)
	}
	if theirs.Identifier() != uint32(ours.ID()) {
		t.Fatalf("spdystream's stream id %d, ours %d", theirs.Identifier(), ours.ID())
	}

	if op == byOurs {
		h := theirs.Headers()
		if h.Get("X-A") != "1" || !slices.Equal(h.Values("X-Multi"), []string{"v1", "v2"}) || h.Get("Streamtype") != "stdout" || !slices.Equal(h.Values("X-Empty"), []string{""}) || len(h) != 4 {
			t.Errorf("spdystream got SYN_STREAM headers %v", h)
		}
		got := ours.Headers()
		if !hasField(got, "x-reply", "theirs") || !hasField(got, "x-multi-reply", "m1\x00m2") || len(got) != 2 {
			t.Errorf("we got SYN_REPLY headers %v", got)
		}
	} else {
		got := ours.Headers()
		for _, f := range fields {
			if !hasField(got, f.Name, f.Value) {
				t.Errorf("we got SYN_STREAM headers %v, missing %v", got, f)
			}
		}
		if len(got) != len(fields) {
			t.Errorf("we got SYN_STREAM headers %v", got)
		}
		if err := ours.Reply([]hpackz.Field{{Name: "x-reply", Value: "ours"}, {Name: "x-multi-reply", Value: "m1\x00m2"}}, false); err != nil {
			t.Fatalf("Reply: %v", err)
		}
		if err := theirs.WaitTimeout(waitLimit); err != nil {
			t.Fatalf("spdystream Wait for our reply: %v", err)
		}
		// spdystream drops SYN_REPLY headers; its framer shows what arrived.
		id := spdy.StreamId(ours.ID())
		f := p.tap.wait(t, "our SYN_REPLY", func(f spdy.Frame) bool {
			r, ok := f.(*spdy.SynReplyFrame)
			return ok && r.StreamId == id
		}).(*spdy.SynReplyFrame)
		if h := f.Headers; h.Get("X-Reply") != "ours" || !slices.Equal(h.Values("X-Multi-Reply"), []string{"m1", "m2"}) || len(h) != 2 || f.CFHeader.Flags != 0 {
			t.Errorf("spdystream read SYN_REPLY headers %v, flags %#x", h, f.CFHeader.Flags)
		}
	}

	// HEADERS from us, before any DATA.
	if err := ours.SendHeaders([]hpackz.Field{{Name: "x-mid", Value: "ours"}}, false); err != nil {
		t.Fatalf("SendHeaders: %v", err)
	}
	h, err := theirs.ReceiveHeader()
	if err != nil || h.Get("X-Mid") != "ours" || len(h) != 1 {
		t.Errorf("spdystream ReceiveHeader = %v, %v", h, err)
	}

	// From spdystream: HEADERS, DATA, then trailers with FIN.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := theirs.SendHeader(http.Header{"X-Mid-Theirs": {"t"}}, false); err != nil {
			t.Errorf("spdystream SendHeader: %v", err)
			return
		}
		if _, err := theirs.Write([]byte("their body")); err != nil {
			t.Errorf("spdystream Write: %v", err)
			return
		}
		if err := theirs.SendHeader(http.Header{"X-Trailer": {"theirs"}}, true); err != nil {
			t.Errorf("spdystream SendHeader with FIN: %v", err)
		}
	}()
	body, err := io.ReadAll(io.LimitReader(ours, 1<<10))
	wg.Wait()
	if err != nil || string(body) != "their body" {
		t.Errorf("our Read = %q, %v", body, err)
	}
	if got := ours.Headers(); !hasField(got, "x-mid-theirs", "t") {
		t.Errorf("our Headers %v lack the HEADERS frame sent before DATA", got)
	}
	if got := ours.Trailers(); len(got) != 1 || !hasField(got, "x-trailer", "theirs") {
		t.Errorf("our Trailers = %v", got)
	}

	// From us: DATA, then trailers with FIN.
	if _, err := ours.Write([]byte("our body")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := ours.SendHeaders([]hpackz.Field{{Name: "x-trailer", Value: "ours"}}, true); err != nil {
		t.Fatalf("SendHeaders with FIN: %v", err)
	}
	buf := make([]byte, len("our body"))
	if _, err := io.ReadFull(theirs, buf); err != nil || string(buf) != "our body" {
		t.Errorf("spdystream Read = %q, %v", buf, err)
	}
	h, err = theirs.ReceiveHeader()
	if err != nil || h.Get("X-Trailer") != "ours" || len(h) != 1 {
		t.Errorf("spdystream ReceiveHeader (trailers) = %v, %v", h, err)
	}
	if n, err := theirs.Read(buf); err != io.EOF {
		t.Errorf("spdystream Read after our trailers = %d, %v; want EOF", n, err)
	}
	waitDone(t, ours)
}

// TestBothSidesOpen has both implementations open streams on one session
// at once, each echoed by the other side.
func TestBothSidesOpen(t *testing.T) {
	const n = 20
	for _, sd := range sides {
		t.Run(sd.String(), func(t *testing.T) {
			p := newPeers(t, sd, &options{handler: theirEcho})
			ctx := testContext(t)
			var echoes sync.WaitGroup
			echoes.Add(1)
			go func() {
				defer echoes.Done()
				ourEchoServer(ctx, p.ours, n, &echoes)
			}()
			var wg sync.WaitGroup
			errs := make(chan error, 2*n)
			for i := range n {
				wg.Add(2)
				go func() {
					defer wg.Done()
					if err := ourRoundTrip(ctx, p.ours, i); err != nil {
						errs <- err
					}
				}()
				go func() {
					defer wg.Done()
					if err := theirRoundTrip(p, n+i); err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			echoes.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if st := p.ours.Stats(); st.StreamsOpened != n || st.StreamsAccepted != n {
				t.Errorf("opened %d, accepted %d; want %d each", st.StreamsOpened, st.StreamsAccepted, n)
			}
		})
	}
}
