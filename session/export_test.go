package session

import (
	"context"
	"testing"

	"github.com/spdygo/spdy/framing"
)

// onLoop runs f on the session's loop and waits for it.
func onLoop(t testing.TB, s *Session, f func()) {
	t.Helper()
	done := make(chan struct{})
	if err := s.runOnLoop(context.Background(), func() { f(); close(done) }); err != nil {
		t.Fatalf("session ended: %v", err)
	}
	select {
	case <-done:
	case <-s.done:
		t.Fatalf("session ended: %v", s.Err())
	}
}

// setNextStreamID makes id the next stream id the session opens.
func setNextStreamID(t testing.TB, s *Session, id framing.StreamID) {
	t.Helper()
	onLoop(t, s, func() { s.l.nextID = id })
}

// blockedStreams returns how many streams wait for flow-control window.
func blockedStreams(t testing.TB, s *Session) int {
	t.Helper()
	var n int
	onLoop(t, s, func() { n = len(s.l.blocked) })
	return n
}

// openWaiters returns how many Open calls wait for the peer's stream limit.
func openWaiters(t testing.TB, s *Session) int {
	t.Helper()
	var n int
	onLoop(t, s, func() { n = len(s.l.openWaiters) })
	return n
}

// collectNow makes the loop take the work streams signaled (read credit,
// frames), as it does when woken.
func collectNow(t testing.TB, s *Session) {
	t.Helper()
	onLoop(t, s, s.collect)
}
