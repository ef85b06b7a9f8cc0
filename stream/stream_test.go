package stream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/internal/pool"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeSender records notifications.
type fakeSender struct {
	mu sync.Mutex
	n  int
	ch chan struct{}
}

func newFakeSender() *fakeSender { return &fakeSender{ch: make(chan struct{}, 1)} }

func (f *fakeSender) Notify(h *Handle) {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
	select {
	case f.ch <- struct{}{}:
	default:
	}
}

// drain collects every item the stream has, with data frames of at most
// max bytes.
func drain(h *Handle, max int) []Item {
	var items []Item
	for {
		kind, _, blocked, _ := h.Next(max, func(it *Item) {
			c := *it
			c.Data = append([]byte(nil), it.Data...)
			items = append(items, c)
		})
		if kind == ItemNone || blocked {
			return items
		}
	}
}

func newPeerStream(t *testing.T, c Config) (*Stream, *Handle, *fakeSender) {
	t.Helper()
	fs := newFakeSender()
	c.Sender = fs
	if c.ID == 0 {
		c.ID = 1
	}
	s, h := New(c)
	return s, h, fs
}

func TestWriteIsTakenInFrames(t *testing.T) {
	s, h, fs := newPeerStream(t, Config{Local: true})
	msg := bytes.Repeat([]byte("abcdefgh"), 1000)
	done := make(chan error, 1)
	go func() {
		_, err := s.Write(msg)
		done <- err
	}()
	<-fs.ch
	var got []byte
	for len(got) < len(msg) {
		h.Collect()
		for _, it := range drain(h, 1000) {
			if it.Kind != ItemData || len(it.Data) > 1000 || it.Fin {
				t.Fatalf("unexpected item %+v", it)
			}
			got = append(got, it.Data...)
		}
		if len(got) < len(msg) {
			select {
			case <-fs.ch:
			case <-time.After(10 * time.Second):
				t.Fatal("no notification")
			}
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("data differs")
	}
	s.CloseWrite()
	items := drain(h, 1000)
	if len(items) != 1 || items[0].Kind != ItemData || !items[0].Fin || len(items[0].Data) != 0 {
		t.Fatalf("after CloseWrite got %+v, want one empty DATA with FIN", items)
	}
	if _, err := s.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after FIN: %v, want net.ErrClosed", err)
	}
}

func TestBlockedWhenNoWindow(t *testing.T) {
	s, h, fs := newPeerStream(t, Config{Local: true})
	go s.Write([]byte("hello"))
	<-fs.ch
	kind, n, blocked, more := h.Next(0, func(*Item) { t.Fatal("emitted with no window") })
	if kind != ItemNone || n != 0 || !blocked || !more {
		t.Fatalf("Next(0) = %v %d %v %v, want blocked", kind, n, blocked, more)
	}
	s.Reset(framing.StatusCancel)
	items := drain(h, 100)
	if len(items) != 1 || items[0].Kind != ItemReset || items[0].Status != framing.StatusCancel {
		t.Fatalf("after Reset got %+v", items)
	}
}

func TestReplyComesFirst(t *testing.T) {
	s, h, fs := newPeerStream(t, Config{NeedReply: true, Version: hpackz.V3})
	go s.Write([]byte("data"))
	<-fs.ch
	items := drain(h, 100)
	if len(items) != 2 || items[0].Kind != ItemReply || items[1].Kind != ItemData {
		t.Fatalf("got %+v, want reply then data", items)
	}
	if err := s.Reply(nil, false); !errors.Is(err, ErrReplyNotAllowed) {
		t.Fatalf("second Reply: %v", err)
	}
}

func TestReplyRejectsBadFields(t *testing.T) {
	s, _, _ := newPeerStream(t, Config{NeedReply: true, Version: hpackz.V3})
	if err := s.Reply([]hpackz.Field{{Name: "Upper", Value: "x"}}, false); err == nil {
		t.Fatal("Reply accepted an upper-case name")
	}
}

func TestTrailersAfterData(t *testing.T) {
	s, h, fs := newPeerStream(t, Config{NeedReply: true, Version: hpackz.V3})
	errc := make(chan error, 1)
	go func() {
		if _, err := s.Write([]byte("body")); err != nil {
			errc <- err
			return
		}
		errc <- s.SendHeaders([]hpackz.Field{{Name: "grpc-status", Value: "0"}}, true)
	}()
	var items []Item
	for len(items) < 3 {
		select {
		case <-fs.ch:
		case <-time.After(10 * time.Second):
			t.Fatal("no notification")
		}
		h.Collect()
		items = append(items, drain(h, 100)...)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if items[0].Kind != ItemReply || items[1].Kind != ItemData || items[2].Kind != ItemHeaders || !items[2].Fin {
		t.Fatalf("got %+v, want reply, data, headers+FIN", items)
	}
}

func TestReadDeliveredDataThenEOF(t *testing.T) {
	s, h, _ := newPeerStream(t, Config{})
	for _, p := range []string{"hel", "lo"} {
		b := pool.Get(len(p))
		copy(b, p)
		if !h.Deliver(b) {
			t.Fatal("Deliver refused")
		}
	}
	h.DeliverFin()
	got, err := io.ReadAll(s)
	if err != nil || string(got) != "hello" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	if w := h.Collect(); w.Consumed != 5 {
		t.Fatalf("consumed %d, want 5", w.Consumed)
	}
}

func TestFailDropsIncompleteData(t *testing.T) {
	s, h, _ := newPeerStream(t, Config{})
	b := pool.Get(3)
	h.Deliver(b)
	rerr := &ResetError{StreamID: 1, Status: framing.StatusCancel, Remote: true}
	if dropped := h.Fail(rerr); dropped != 3 {
		t.Fatalf("dropped %d, want 3", dropped)
	}
	if _, err := s.Read(make([]byte, 10)); !errors.Is(err, rerr) {
		t.Fatalf("Read: %v, want the reset", err)
	}
}

func TestFailKeepsCompleteData(t *testing.T) {
	s, h, _ := newPeerStream(t, Config{})
	b := pool.Get(3)
	copy(b, "abc")
	h.Deliver(b)
	h.DeliverFin()
	h.Fail(&ResetError{StreamID: 1, Status: framing.StatusCancel, Remote: true})
	got, err := io.ReadAll(s)
	if err != nil || string(got) != "abc" {
		t.Fatalf("ReadAll = %q, %v; data before FIN must stay readable", got, err)
	}
}

func TestCloseWriteAfterPeerFinAndCancel(t *testing.T) {
	s, h, _ := newPeerStream(t, Config{})
	b := pool.Get(1)
	copy(b, "z")
	h.Deliver(b)
	h.DeliverFin()
	h.Fail(&ResetError{StreamID: 1, Status: framing.StatusCancel, Remote: true})
	if _, err := s.Write([]byte("more")); err == nil {
		t.Fatal("Write after the peer's reset succeeded")
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite after the peer's FIN and CANCEL = %v, want nil", err)
	}
	if got, err := io.ReadAll(s); err != nil || string(got) != "z" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
}

func TestCloseWriteAfterCancelWithoutFin(t *testing.T) {
	s, h, _ := newPeerStream(t, Config{})
	h.Fail(&ResetError{StreamID: 1, Status: framing.StatusCancel, Remote: true})
	if err := s.CloseWrite(); err == nil {
		t.Fatal("CloseWrite after a reset with the peer's side unfinished = nil, want the reset")
	}
}

func TestRefusedMatchesUnprocessed(t *testing.T) {
	err := error(&ResetError{StreamID: 1, Status: framing.StatusRefusedStream, Remote: true})
	if !errors.Is(err, ErrUnprocessed) {
		t.Fatal("remote REFUSED_STREAM does not match ErrUnprocessed")
	}
	if errors.Is(&ResetError{Status: framing.StatusRefusedStream}, ErrUnprocessed) {
		t.Fatal("local REFUSED_STREAM matches ErrUnprocessed")
	}
	if errors.Is(&ResetError{Status: framing.StatusCancel, Remote: true}, ErrUnprocessed) {
		t.Fatal("CANCEL matches ErrUnprocessed")
	}
}

func TestReadDeadline(t *testing.T) {
	s, _, _ := newPeerStream(t, Config{})
	s.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	_, err := s.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read: %v, want deadline exceeded", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatal("deadline error is not a net.Error timeout")
	}
	// Extending the deadline makes Read wait again, and data wakes it.
	s.SetReadDeadline(time.Time{})
	errc := make(chan error, 1)
	go func() {
		_, err := s.Read(make([]byte, 1))
		errc <- err
	}()
	s.SetReadDeadline(time.Now().Add(-time.Second)) // in the past: wakes the reader
	if err := <-errc; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("blocked Read after past deadline: %v", err)
	}
}

func TestWriteDeadlineCutsAtFrameBoundary(t *testing.T) {
	s, h, fs := newPeerStream(t, Config{Local: true})
	errc := make(chan error, 1)
	var n int
	go func() {
		var err error
		n, err = s.Write(make([]byte, 100))
		errc <- err
	}()
	<-fs.ch
	h.Collect()
	h.Next(40, func(*Item) {})
	s.SetWriteDeadline(time.Now())
	if err := <-errc; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write: %v, want deadline", err)
	}
	if n != 40 {
		t.Fatalf("Write reported %d bytes, want the 40 taken", n)
	}
	if items := drain(h, 100); len(items) != 0 {
		t.Fatalf("data after the deadline was still sent: %+v", items)
	}
}

func TestCloseWithUnfinishedPeerSendsFinThenCancel(t *testing.T) {
	s, h, _ := newPeerStream(t, Config{Local: true})
	s.Close()
	items := drain(h, 100)
	if len(items) != 2 || items[0].Kind != ItemData || !items[0].Fin || items[1].Kind != ItemReset || items[1].Status != framing.StatusCancel {
		t.Fatalf("Close sent %+v, want FIN then RST CANCEL", items)
	}
	if _, err := s.Read(nil); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
}

func TestCloseAfterPeerFinSendsOnlyFin(t *testing.T) {
	s, h, _ := newPeerStream(t, Config{Local: true})
	h.DeliverFin()
	s.Close()
	items := drain(h, 100)
	if len(items) != 1 || items[0].Kind != ItemData || !items[0].Fin {
		t.Fatalf("Close sent %+v, want just FIN", items)
	}
}

func TestCloseDuringWriteResets(t *testing.T) {
	s, h, fs := newPeerStream(t, Config{Local: true})
	errc := make(chan error, 1)
	go func() {
		_, err := s.Write(make([]byte, 100))
		errc <- err
	}()
	<-fs.ch
	h.Collect()
	h.Next(10, func(*Item) {}) // part of the write is taken
	s.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write: %v, want net.ErrClosed", err)
	}
	items := drain(h, 100)
	if len(items) != 1 || items[0].Kind != ItemReset {
		t.Fatalf("Close during a write sent %+v, want RST CANCEL (never a FIN on truncated data)", items)
	}
}

func TestWaitHeaders(t *testing.T) {
	s, h, _ := newPeerStream(t, Config{Local: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.WaitHeaders(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitHeaders with cancelled ctx: %v", err)
	}
	go h.DeliverReply([]hpackz.Field{{Name: ":status", Value: "200"}})
	hs, err := s.WaitHeaders(context.Background())
	if err != nil || len(hs) != 1 || hs[0].Value != "200" {
		t.Fatalf("WaitHeaders = %v, %v", hs, err)
	}
}

func TestFinishClosesDone(t *testing.T) {
	s, h, _ := newPeerStream(t, Config{})
	select {
	case <-s.Done():
		t.Fatal("Done closed early")
	default:
	}
	h.Finish()
	<-s.Done()
	h.Finish() // twice is fine
}

func TestHeaderLookup(t *testing.T) {
	s, _, _ := newPeerStream(t, Config{Headers: []hpackz.Field{{Name: "a", Value: "1"}, {Name: "b", Value: "2\x003"}}})
	if s.Header("a") != "1" || s.Header("b") != "2\x003" || s.Header("c") != "" {
		t.Fatalf("Header lookups: %q %q %q", s.Header("a"), s.Header("b"), s.Header("c"))
	}
}

// A stream that ended releases its deadline timers, and starts none after:
// a timer holds the stream, its headers and its session until it fires,
// and a reset stream is never closed by its application.
func TestFinishReleasesDeadlineTimers(t *testing.T) {
	s, h, _ := newPeerStream(t, Config{ID: 1})
	s.SetReadDeadline(time.Now().Add(time.Hour))
	s.SetWriteDeadline(time.Now().Add(time.Hour))
	if s.rdl.timer == nil || s.wdl.timer == nil {
		t.Fatal("no timers for the deadlines")
	}
	h.Fail(&ResetError{StreamID: 1, Status: framing.StatusCancel, Remote: true})
	h.Finish()
	s.SetWriteDeadline(time.Now().Add(time.Hour))
	if s.rdl.timer != nil || s.wdl.timer != nil {
		t.Fatal("an ended stream holds deadline timers")
	}
	// A deadline in the past still takes effect.
	s.SetReadDeadline(time.Now().Add(-time.Second))
	if !s.rdl.expired() {
		t.Fatal("past read deadline not expired")
	}
}
