package session

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/internal/syncbuf"
)

// syncBuffer is a buffer safe for concurrent use.
type syncBuffer = syncbuf.Buffer

func TestTraceFramesLogsBothDirections(t *testing.T) {
	var logs syncBuffer
	lg := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cs, ss := pair(t, &Config{Logger: lg, TraceFrames: true}, nil)
	go echoServer(ss)
	st, err := cs.Open(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Write([]byte("hi"))
	st.CloseWrite()
	if _, err := io.ReadAll(st); err != nil {
		t.Fatal(err)
	}
	cs.Close()
	out := logs.String()
	for _, want := range []string{"dir=out frame=\"SYN_STREAM", "dir=in frame=\"SYN_REPLY", "dir=out frame=\"DATA", "dir=in frame=\"DATA", "dir=out frame=\"SETTINGS", "dir=in frame=\"SETTINGS"} {
		if !strings.Contains(out, want) {
			t.Errorf("trace lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

func TestStatsCount(t *testing.T) {
	cs, ss := pair(t, nil, nil)
	go echoServer(ss)
	for i := 0; i < 3; i++ {
		st, err := cs.Open(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		st.Write(make([]byte, 1000))
		st.CloseWrite()
		io.ReadAll(st)
	}
	st, _ := cs.Open(context.Background(), nil)
	st.Reset(framing.StatusCancel)
	if _, err := cs.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := cs.Stats()
	if c.StreamsOpened != 4 || c.BytesSent != 3000 || c.BytesReceived != 3000 {
		t.Fatalf("client stats %+v", c)
	}
	if c.ResetsSent[framing.StatusCancel] != 1 {
		t.Fatalf("client sent %d CANCEL resets, want 1", c.ResetsSent[framing.StatusCancel])
	}
	if c.RTT <= 0 || c.PingsSent < 2 || c.FramesSent == 0 || c.Writes == 0 || c.Writes > c.FramesSent {
		t.Fatalf("client stats %+v", c)
	}
	// The server saw the reset once it read it.
	deadline := time.Now().Add(10 * time.Second)
	for ss.Stats().ResetsReceived[framing.StatusCancel] != 1 {
		if time.Now().After(deadline) {
			t.Fatal("server never counted the reset")
		}
		time.Sleep(time.Millisecond)
	}
	if s := ss.Stats(); s.StreamsAccepted != 4 || s.PingsReceived < 2 {
		t.Fatalf("server stats %+v", s)
	}
}

// TestReceiveWindowGrows checks that a stream whose reader keeps up gets a
// larger window than the initial 64 KiB. The round-trip estimate is set
// very high so that any reading rate counts as fast: growth is then decided
// by the data alone, not by the machine's speed.
func TestReceiveWindowGrows(t *testing.T) {
	cs, ss := pair(t, nil, nil)
	if _, err := ss.Ping(context.Background()); err != nil { // the first estimate is in
		t.Fatal(err)
	}
	onLoop(t, ss, func() { ss.l.rtt = time.Hour })
	var target int32
	done := make(chan error, 1)
	go func() {
		st, err := ss.Accept(context.Background())
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(io.Discard, st)
		done <- err
	}()
	st, err := cs.Open(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Stop short of FIN so the stream is still in the table.
	if _, err := st.Write(make([]byte, 8<<20)); err != nil {
		t.Fatal(err)
	}
	// Wait until everything arrived, then end the copy with FIN.
	for i := 0; ; i++ {
		var got int32
		onLoop(t, ss, func() {
			if e := ss.l.streams[st.ID()]; e != nil {
				got = e.in.Target()
			}
		})
		if got > 64<<10 {
			target = got
			break
		}
		if i > 10000 {
			t.Fatalf("stream window still %d after 8 MiB read at once", got)
		}
		time.Sleep(time.Millisecond)
	}
	st.CloseWrite()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if target <= 64<<10 {
		t.Fatalf("window target %d, want growth above 64 KiB", target)
	}
}

func TestIdleTimeoutShutsDown(t *testing.T) {
	cs, ss := pair(t, nil, &Config{IdleTimeout: 20 * time.Millisecond})
	// A stream keeps the session busy; once it ends the session may idle.
	go echoServer(ss)
	st, err := cs.Open(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Write([]byte("x"))
	st.CloseWrite()
	if b, err := io.ReadAll(st); err != nil || string(b) != "x" {
		t.Fatalf("echo %q, %v", b, err)
	}
	<-ss.Done()
	if err := ss.Err(); !errors.Is(err, ErrClosed) {
		t.Fatalf("idle server ended with %v, want ErrClosed", err)
	}
	<-cs.Done()
	var ga *GoAwayError
	if err := cs.Err(); !errors.As(err, &ga) || ga.Status != framing.GoAwayOK || ga.LastGoodStreamID != st.ID() {
		t.Fatalf("client ended with %v, want GOAWAY OK naming stream %d", err, st.ID())
	}
}

func TestKeepAlivePingsHealthyPeer(t *testing.T) {
	cs, _ := pair(t, &Config{KeepAlive: 5 * time.Millisecond}, nil)
	// Wait for several keepalive pings to be answered: the session stays up.
	for i := 0; cs.Stats().PingsSent < 5; i++ {
		if i > 10000 {
			t.Fatal("no keepalive pings sent")
		}
		time.Sleep(time.Millisecond)
	}
	if err := cs.Err(); err != nil {
		t.Fatalf("session with an answering peer ended: %v", err)
	}
	if _, err := cs.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}
