package flowctl_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/spdygo/spdy/flowctl"
)

func newInflow(size, maxSize int32) *flowctl.Inflow {
	var f flowctl.Inflow
	f.Init(size, maxSize)
	return &f
}

// checkInflow verifies the documented identity
// Available + Buffered + Pending = Target.
func checkInflow(t *testing.T, f *flowctl.Inflow) {
	t.Helper()
	if f.Unlimited() {
		return
	}
	if a, b, p, tg := int64(f.Available()), int64(f.Buffered()), int64(f.Pending()), int64(f.Target()); a+b+p != tg {
		t.Fatalf("Available %d + Buffered %d + Pending %d != Target %d", a, b, p, tg)
	}
}

func TestInflowInitial(t *testing.T) {
	var zero flowctl.Inflow
	if err := zero.Receive(1); !errors.Is(err, flowctl.ErrFlowControlViolation) {
		t.Errorf("zero Inflow: Receive(1) = %v, want a violation", err)
	}
	f := newInflow(flowctl.DefaultWindow, 0)
	if f.Available() != 64*kib || f.Target() != 64*kib || f.Buffered() != 0 || f.Pending() != 0 || f.Unlimited() {
		t.Errorf("after Init: Available %d Target %d Buffered %d Pending %d Unlimited %v",
			f.Available(), f.Target(), f.Buffered(), f.Pending(), f.Unlimited())
	}
	mustPanic(t, "Init(-1)", func() { newInflow(-1, 0) })
}

func TestInflowReceive(t *testing.T) {
	tests := []struct {
		name      string
		frames    []int
		wantErr   error // of the last frame
		wantAvail int32
	}{
		{name: "one frame", frames: []int{1000}, wantAvail: 64*kib - 1000},
		{name: "exactly the window", frames: []int{64 * kib}, wantAvail: 0},
		{name: "window in pieces", frames: []int{16 * kib, 16 * kib, 32 * kib}, wantAvail: 0},
		{name: "one byte more than the window", frames: []int{64*kib + 1}, wantErr: flowctl.ErrFlowControlViolation, wantAvail: 64 * kib},
		{name: "one byte after the window", frames: []int{64 * kib, 1}, wantErr: flowctl.ErrFlowControlViolation, wantAvail: 0},
		{name: "empty frame on an empty window", frames: []int{64 * kib, 0}, wantAvail: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newInflow(flowctl.DefaultWindow, 0)
			var err error
			for i, n := range tt.frames {
				err = f.Receive(n)
				if i < len(tt.frames)-1 && err != nil {
					t.Fatalf("Receive(%d): %v", n, err)
				}
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Receive: %v, want %v", err, tt.wantErr)
			}
			if got := f.Available(); got != tt.wantAvail {
				t.Errorf("Available = %d, want %d", got, tt.wantAvail)
			}
			checkInflow(t, f)
		})
	}
	f := newInflow(flowctl.DefaultWindow, 0)
	mustPanic(t, "Receive(-1)", func() { _ = f.Receive(-1) })
}

// TestInflowSessionCountsStreams follows the receive procedure of the
// package documentation: every DATA frame counts against the session
// window, so two streams within their own windows can still overrun it.
func TestInflowSessionCountsStreams(t *testing.T) {
	sess := newInflow(flowctl.DefaultWindow, 0)
	s1, s3 := newInflow(flowctl.DefaultWindow, 0), newInflow(flowctl.DefaultWindow, 0)
	receive := func(st *flowctl.Inflow, n int) (sessErr, streamErr error) {
		if sessErr = sess.Receive(n); sessErr != nil {
			return sessErr, nil
		}
		return nil, st.Receive(n)
	}
	if se, ste := receive(s1, 40*kib); se != nil || ste != nil {
		t.Fatalf("stream 1, 40 KiB: %v, %v", se, ste)
	}
	if se, ste := receive(s3, 24*kib); se != nil || ste != nil {
		t.Fatalf("stream 3, 24 KiB: %v, %v", se, ste)
	}
	if sess.Available() != 0 || s1.Available() != 24*kib || s3.Available() != 40*kib {
		t.Fatalf("Available: session %d, stream 1 %d, stream 3 %d", sess.Available(), s1.Available(), s3.Available())
	}
	// Stream 3 still has 40 KiB of window, but the session has none.
	if se, _ := receive(s3, 1); !errors.Is(se, flowctl.ErrFlowControlViolation) {
		t.Errorf("stream 3, 1 byte over the session window: %v, want a session violation", se)
	}
	// Reading stream 1 returns credit to both windows, in separate updates.
	if u := s1.Consume(40 * kib); u != 40*kib {
		t.Errorf("stream 1 update = %d, want 40 KiB", u)
	}
	if u := sess.Consume(40 * kib); u != 40*kib {
		t.Errorf("session update = %d, want 40 KiB", u)
	}
	if se, ste := receive(s3, 1); se != nil || ste != nil {
		t.Errorf("stream 3 after the session update: %v, %v", se, ste)
	}
	checkInflow(t, sess)
	checkInflow(t, s1)
	checkInflow(t, s3)
}

func TestInflowBatching(t *testing.T) {
	type step struct {
		receive, consume int
		want             uint32
	}
	tests := []struct {
		name  string
		size  int32
		steps []step
	}{
		{name: "one update per half window", size: 64 * kib, steps: []step{
			{receive: 64 * kib},
			{consume: 8 * kib}, {consume: 8 * kib}, {consume: 8 * kib},
			{consume: 8*kib - 1},
			{consume: 1, want: 32 * kib},
			{consume: 16 * kib}, {consume: 16 * kib, want: 32 * kib},
		}},
		{name: "accumulated credit goes out in one update", size: 64 * kib, steps: []step{
			{receive: 30 * kib}, {consume: 30 * kib},
			{receive: 30 * kib}, {consume: 30 * kib, want: 60 * kib},
		}},
		{name: "a slow reader gets no small updates", size: 64 * kib, steps: []step{
			{receive: 64 * kib},
			{consume: 1}, {consume: 100}, {consume: 4 * kib}, {consume: 16 * kib},
			{consume: 12*kib - 101, want: 32 * kib},
		}},
		{name: "large window", size: 1 << 20, steps: []step{
			{receive: 1 << 19}, {consume: 1<<19 - 1}, {consume: 1, want: 1 << 19},
		}},
		{name: "tiny window", size: 1, steps: []step{
			{receive: 1}, {consume: 1, want: 1},
		}},
		{name: "empty window", size: 0, steps: []step{
			{receive: 0}, {consume: 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newInflow(tt.size, 0)
			for i, s := range tt.steps {
				if s.receive != 0 || s.consume == 0 {
					if err := f.Receive(s.receive); err != nil {
						t.Fatalf("step %d: Receive(%d): %v", i, s.receive, err)
					}
					continue
				}
				if got := f.Consume(s.consume); got != s.want {
					t.Fatalf("step %d: Consume(%d) = %d, want %d", i, s.consume, got, s.want)
				}
				checkInflow(t, f)
			}
		})
	}
	f := newInflow(flowctl.DefaultWindow, 0)
	mustPanic(t, "Consume without data", func() { f.Consume(1) })
	mustPanic(t, "Consume(-1)", func() { f.Consume(-1) })
}

// TestInflowDiscardedCredit covers spec §8.3.1: DATA for an unknown or reset
// stream, and data a reset stream never delivered, still count against the
// session window and their credit goes back to it.
func TestInflowDiscardedCredit(t *testing.T) {
	sess := newInflow(flowctl.DefaultWindow, 0)

	// DATA for a stream that no longer exists: counted, then discarded.
	if err := sess.Receive(20 * kib); err != nil {
		t.Fatal(err)
	}
	if u := sess.Consume(20 * kib); u != 0 {
		t.Fatalf("update after 20 KiB = %d, want 0 (below half the window)", u)
	}

	// A stream buffers 16 KiB, the application reads 4 KiB, then resets it.
	st := newInflow(flowctl.DefaultWindow, 0)
	if err := sess.Receive(16 * kib); err != nil {
		t.Fatal(err)
	}
	if err := st.Receive(16 * kib); err != nil {
		t.Fatal(err)
	}
	if u := sess.Consume(4 * kib); u != 0 {
		t.Fatalf("update after 24 KiB = %d, want 0", u)
	}
	st.Consume(4 * kib)
	if st.Buffered() != 12*kib {
		t.Fatalf("stream Buffered = %d, want 12 KiB", st.Buffered())
	}
	if u := sess.Consume(st.Buffered()); u != 36*kib {
		t.Fatalf("session update after the reset = %d, want 36 KiB", u)
	}
	if sess.Available() != 64*kib || sess.Buffered() != 0 {
		t.Errorf("session: Available %d Buffered %d, want the whole window back", sess.Available(), sess.Buffered())
	}

	// A stream-level violation: the session still counts the frame, and
	// its credit is returned since nothing will read it.
	st2 := newInflow(1000, 0)
	if err := sess.Receive(2000); err != nil {
		t.Fatal(err)
	}
	if err := st2.Receive(2000); !errors.Is(err, flowctl.ErrFlowControlViolation) {
		t.Fatalf("stream Receive(2000) on a 1000-byte window: %v", err)
	}
	sess.Consume(2000)
	if sess.Buffered() != 0 || sess.Pending() != 2000 {
		t.Errorf("session: Buffered %d Pending %d, want 0 and 2000", sess.Buffered(), sess.Pending())
	}
	checkInflow(t, sess)
}

func TestInflowGrowTarget(t *testing.T) {
	// The SPDY/3.1 session window: node opens it to 1 MiB with
	// WINDOW_UPDATE(0, 983040).
	f := newInflow(flowctl.DefaultWindow, 0)
	if u := f.GrowTarget(1 << 20); u != 983040 {
		t.Fatalf("GrowTarget(1 MiB) = %d, want 983040", u)
	}
	if f.Target() != 1<<20 || f.Available() != 1<<20 {
		t.Fatalf("Target %d Available %d, want 1 MiB", f.Target(), f.Available())
	}
	if u := f.GrowTarget(1 << 19); u != 0 || f.Target() != 1<<20 {
		t.Errorf("GrowTarget(smaller) = %d, Target %d; want no change", u, f.Target())
	}
	// Pending credit goes out with the growth.
	if err := f.Receive(100 * kib); err != nil {
		t.Fatal(err)
	}
	if u := f.Consume(100 * kib); u != 0 {
		t.Fatalf("Consume = %d, want 0 (below half of 1 MiB)", u)
	}
	if u := f.GrowTarget(2 << 20); u != 1<<20+100*kib {
		t.Errorf("GrowTarget(2 MiB) = %d, want 1 MiB + 100 KiB", u)
	}
	if u := f.GrowTarget(flowctl.MaxWindow); u != flowctl.MaxWindow-2<<20 || f.Available() != flowctl.MaxWindow {
		t.Errorf("GrowTarget(MaxWindow) = %d, Available %d", u, f.Available())
	}
	checkInflow(t, f)
}

// consumeWindows drives f through rounds: in each, the peer fills the whole
// target window, the application reads it in 16 KiB pieces, each read taking
// perRead, and every update is assumed to reach the peer at once. It returns
// the targets seen after each round.
func consumeWindows(t *testing.T, f *flowctl.Inflow, rounds int, perRead, rtt time.Duration) []int32 {
	t.Helper()
	var now time.Duration
	var targets []int32
	for range rounds {
		if err := f.Receive(int(f.Available())); err != nil {
			t.Fatal(err)
		}
		for f.Buffered() > 0 {
			now += perRead
			f.ConsumeAt(min(16*kib, f.Buffered()), now, rtt)
			checkInflow(t, f)
		}
		targets = append(targets, f.Target())
	}
	return targets
}

func TestInflowAutoTune(t *testing.T) {
	const rtt = 50 * time.Millisecond
	tests := []struct {
		name    string
		maxSize int32
		perRead time.Duration
		rtt     time.Duration
		want    []int32 // Target after each round
	}{
		// Half a window (2 reads of 16 KiB) in 2 ms, far under 2 RTT: the
		// first update starts the epoch, later ones double up to the cap.
		// Each round has at least two updates.
		{"fast reader grows to the cap", 256 * kib, time.Millisecond, rtt,
			[]int32{128 * kib, 256 * kib, 256 * kib}},
		{"no cap, no growth", 0, time.Millisecond, rtt,
			[]int32{64 * kib, 64 * kib, 64 * kib}},
		{"cap not a power-of-two multiple", 100 * kib, time.Millisecond, rtt,
			[]int32{100 * kib, 100 * kib}},
		// 32 KiB in 2*60 ms > 2 RTT: the reader, not the window, limits.
		{"slow reader does not grow", 1 << 20, 60 * time.Millisecond, rtt,
			[]int32{64 * kib, 64 * kib, 64 * kib}},
		// Just under and just over the rule elapsed*target < 4*rtt*consumed.
		// 32 KiB in 2*(rtt-1): grows to 128 KiB. Then 64 KiB in
		// 4*(rtt-1) is the same rate, too slow for a 128 KiB window.
		{"boundary: just fast enough", 1 << 20, rtt - 1, rtt,
			[]int32{128 * kib, 128 * kib}},
		{"boundary: just too slow", 1 << 20, rtt, rtt,
			[]int32{64 * kib, 64 * kib, 64 * kib}},
		{"unknown RTT turns tuning off", 1 << 20, time.Millisecond, 0,
			[]int32{64 * kib, 64 * kib, 64 * kib}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newInflow(flowctl.DefaultWindow, tt.maxSize)
			got := consumeWindows(t, f, len(tt.want), tt.perRead, tt.rtt)
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("targets = %v, want %v", got, tt.want)
				}
			}
		})
	}

	t.Run("growth goes out with the update", func(t *testing.T) {
		f := newInflow(flowctl.DefaultWindow, 1<<20)
		if err := f.Receive(64 * kib); err != nil {
			t.Fatal(err)
		}
		if u := f.ConsumeAt(32*kib, time.Millisecond, rtt); u != 32*kib {
			t.Fatalf("first update = %d, want 32 KiB", u)
		}
		if u := f.ConsumeAt(32*kib, 2*time.Millisecond, rtt); u != 32*kib+64*kib {
			t.Fatalf("second update = %d, want 32 KiB + 64 KiB of growth", u)
		}
		if f.Target() != 128*kib || f.Available() != 128*kib {
			t.Errorf("Target %d Available %d, want 128 KiB", f.Target(), f.Available())
		}
	})

	t.Run("clock going backwards", func(t *testing.T) {
		f := newInflow(flowctl.DefaultWindow, 1<<20)
		if err := f.Receive(64 * kib); err != nil {
			t.Fatal(err)
		}
		f.ConsumeAt(32*kib, time.Hour, rtt)
		f.ConsumeAt(32*kib, 0, rtt) // treated as no time elapsed
		if f.Target() != 128*kib {
			t.Errorf("Target = %d, want 128 KiB", f.Target())
		}
	})

	t.Run("huge clock values do not wrap", func(t *testing.T) {
		f := newInflow(flowctl.DefaultWindow, 1<<20)
		if err := f.Receive(64 * kib); err != nil {
			t.Fatal(err)
		}
		f.ConsumeAt(32*kib, 0, math.MaxInt64)
		f.ConsumeAt(32*kib, math.MaxInt64, math.MaxInt64)
		if f.Target() != 128*kib {
			t.Errorf("Target = %d, want 128 KiB (32 KiB in MaxInt64 ns < 4*MaxInt64 ns)", f.Target())
		}
		checkInflow(t, f)
	})
}

func TestInflowAdjustInitial(t *testing.T) {
	t.Run("decrease accepts data sent under the old window", func(t *testing.T) {
		// The peer sent 60 KiB; we lower the initial window to 16 KiB. The
		// peer may still send the last 4 KiB of the old window.
		f := newInflow(flowctl.DefaultWindow, 0)
		if err := f.Receive(60 * kib); err != nil {
			t.Fatal(err)
		}
		if err := f.AdjustInitial(64*kib, 16*kib); err != nil {
			t.Fatal(err)
		}
		if f.Available() != -44*kib || f.Target() != 16*kib {
			t.Fatalf("Available %d Target %d, want -44 KiB and 16 KiB", f.Available(), f.Target())
		}
		if err := f.Receive(4 * kib); err != nil {
			t.Fatalf("4 KiB sent under the old window: %v", err)
		}
		if err := f.Receive(1); !errors.Is(err, flowctl.ErrFlowControlViolation) {
			t.Fatalf("1 byte beyond the old window: %v, want a violation", err)
		}
		checkInflow(t, f)
		// Reading everything returns credit until both sides agree on 16 KiB.
		var total uint32
		for f.Buffered() > 0 {
			total += f.Consume(min(8*kib, f.Buffered()))
			checkInflow(t, f)
		}
		if total != 64*kib || f.Available() != 16*kib || f.Pending() != 0 {
			t.Errorf("returned %d, Available %d Pending %d; want 64 KiB, 16 KiB, 0", total, f.Available(), f.Pending())
		}
	})

	t.Run("a later increase shrinks the allowance", func(t *testing.T) {
		f := newInflow(flowctl.DefaultWindow, 0)
		for _, c := range [][2]int32{{64 * kib, 16 * kib}, {16 * kib, 32 * kib}} {
			if err := f.AdjustInitial(c[0], c[1]); err != nil {
				t.Fatal(err)
			}
		}
		// The peer may be using 64 KiB (not seen either), 16 KiB or 32 KiB.
		if err := f.Receive(64 * kib); err != nil {
			t.Fatalf("64 KiB: %v", err)
		}
		if err := f.Receive(1); !errors.Is(err, flowctl.ErrFlowControlViolation) {
			t.Fatalf("64 KiB + 1: %v, want a violation", err)
		}
		if f.Available() != -32*kib {
			t.Errorf("Available = %d, want -32 KiB", f.Available())
		}
	})

	t.Run("new stream opened by the peer during a decrease", func(t *testing.T) {
		f := newInflow(flowctl.DefaultWindow, 0)
		if err := f.AdjustInitial(flowctl.DefaultWindow, 8*kib); err != nil {
			t.Fatal(err)
		}
		if err := f.Receive(64 * kib); err != nil {
			t.Errorf("data under the old window: %v", err)
		}
		if f.Available() != -56*kib || f.Target() != 8*kib {
			t.Errorf("Available %d Target %d", f.Available(), f.Target())
		}
	})

	tests := []struct {
		name      string
		size      int32
		old, new  int32
		wantErr   error
		wantAvail int32
	}{
		{"increase", 64 * kib, 64 * kib, 1 << 20, nil, 1 << 20},
		{"increase to exactly 2^31-1", 64 * kib, 64 * kib, math.MaxInt32, nil, math.MaxInt32},
		{"increase overflows", 128 * kib, 64 * kib, math.MaxInt32, flowctl.ErrWindowOverflow, 128 * kib},
		{"negative size", 64 * kib, 64 * kib, -1, flowctl.ErrInvalidWindowSize, 64 * kib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newInflow(tt.size, 0)
			if err := f.AdjustInitial(tt.old, tt.new); !errors.Is(err, tt.wantErr) {
				t.Errorf("AdjustInitial(%d, %d): %v, want %v", tt.old, tt.new, err, tt.wantErr)
			}
			if got := f.Available(); got != tt.wantAvail {
				t.Errorf("Available = %d, want %d", got, tt.wantAvail)
			}
			checkInflow(t, f)
		})
	}
}

func TestInflowUnlimited(t *testing.T) {
	var f flowctl.Inflow
	f.InitUnlimited()
	if !f.Unlimited() {
		t.Fatal("Unlimited = false")
	}
	for range 3 {
		if err := f.Receive(flowctl.MaxWindow); err != nil {
			t.Fatalf("Receive: %v", err)
		}
	}
	if f.Buffered() != 3*flowctl.MaxWindow {
		t.Errorf("Buffered = %d", f.Buffered())
	}
	if u := f.Consume(f.Buffered()); u != 0 {
		t.Errorf("Consume = %d, want no update", u)
	}
	if err := f.Receive(10); err != nil {
		t.Fatal(err)
	}
	if u := f.ConsumeAt(10, time.Second, time.Millisecond); u != 0 {
		t.Errorf("ConsumeAt = %d, want no update", u)
	}
	if u := f.GrowTarget(1 << 20); u != 0 {
		t.Errorf("GrowTarget = %d, want no update", u)
	}
	if err := f.AdjustInitial(64*kib, 0); err != nil {
		t.Errorf("AdjustInitial: %v", err)
	}
	mustPanic(t, "Consume more than buffered", func() { f.Consume(1) })
}

// TestInflowUpdateCap reaches a pending credit above MaxWindow (a window
// lowered to 0 by SETTINGS, then grown back to the maximum) and checks that
// no WINDOW_UPDATE delta exceeds MaxWindow: the rest stays pending and goes
// out with the next update.
func TestInflowUpdateCap(t *testing.T) {
	const half = flowctl.MaxWindow / 2
	f := newInflow(flowctl.MaxWindow, 0)
	if err := f.Receive(flowctl.MaxWindow); err != nil {
		t.Fatal(err)
	}
	if u := f.Consume(half - 1); u != 0 {
		t.Fatalf("Consume below the threshold = %d", u)
	}
	if err := f.AdjustInitial(flowctl.MaxWindow, 0); err != nil {
		t.Fatal(err)
	}
	if f.Available() != -flowctl.MaxWindow {
		t.Fatalf("Available = %d, want -MaxWindow", f.Available())
	}
	if u := f.GrowTarget(flowctl.MaxWindow); u != flowctl.MaxWindow {
		t.Fatalf("GrowTarget = %d, want MaxWindow", u)
	}
	if f.Pending() != half-1 || f.Available() != 0 {
		t.Fatalf("Pending %d Available %d, want %d and 0", f.Pending(), f.Available(), half-1)
	}
	checkInflow(t, f)
	if u := f.Consume(f.Buffered()); u != flowctl.MaxWindow {
		t.Fatalf("next update = %d, want MaxWindow", u)
	}
	if f.Available() != flowctl.MaxWindow || f.Pending() != 0 {
		t.Errorf("Available %d Pending %d, want MaxWindow and 0", f.Available(), f.Pending())
	}
	checkInflow(t, f)
}
