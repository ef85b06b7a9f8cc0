package flowctl_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/spdygo/spdy/flowctl"
)

const kib = 1 << 10

func newOutflow(size int32) *flowctl.Outflow {
	var f flowctl.Outflow
	f.Init(size)
	return &f
}

func unlimitedOutflow() *flowctl.Outflow {
	var f flowctl.Outflow
	f.InitUnlimited()
	return &f
}

// mustPanic runs f and fails the test unless it panics with a message that
// starts with "flowctl:".
func mustPanic(t *testing.T, name string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("%s: no panic", name)
			return
		}
		if s, ok := r.(string); !ok || !strings.HasPrefix(s, "flowctl: ") {
			t.Errorf("%s: panic %v, want a string starting with \"flowctl: \"", name, r)
		}
	}()
	f()
}

func TestConstants(t *testing.T) {
	if flowctl.DefaultWindow != 65536 {
		t.Errorf("DefaultWindow = %d, want 65536", flowctl.DefaultWindow)
	}
	if flowctl.MaxWindow != math.MaxInt32 {
		t.Errorf("MaxWindow = %d, want 2^31-1", flowctl.MaxWindow)
	}
}

func TestErrors(t *testing.T) {
	for _, err := range []error{flowctl.ErrWindowOverflow, flowctl.ErrFlowControlViolation,
		flowctl.ErrInvalidDelta, flowctl.ErrInvalidWindowSize} {
		if s := err.Error(); !strings.HasPrefix(s, "flowctl: ") || strings.ToLower(s) != s {
			t.Errorf("error %q: want lowercase, starting with \"flowctl: \"", s)
		}
		if wrapped := fmt.Errorf("stream 1: %w", err); !errors.Is(wrapped, err) {
			t.Errorf("errors.Is(wrapped %v) = false", err)
		}
	}
}

func TestWindowSize(t *testing.T) {
	tests := []struct {
		v       uint32
		want    int32
		wantErr error
	}{
		{0, 0, nil},
		{65536, 65536, nil},
		{1 << 20, 1 << 20, nil},
		{math.MaxInt32, math.MaxInt32, nil},
		{1 << 31, 0, flowctl.ErrInvalidWindowSize},
		{math.MaxUint32, 0, flowctl.ErrInvalidWindowSize},
	}
	for _, tt := range tests {
		got, err := flowctl.WindowSize(tt.v)
		if got != tt.want || !errors.Is(err, tt.wantErr) {
			t.Errorf("WindowSize(%d) = %d, %v; want %d, %v", tt.v, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestOutflowInitial(t *testing.T) {
	var zero flowctl.Outflow
	if got := zero.Available(); got != 0 {
		t.Errorf("zero Outflow: Available = %d, want 0", got)
	}
	st, sess := newOutflow(flowctl.DefaultWindow), newOutflow(flowctl.DefaultWindow)
	if got := st.Available(); got != 64*kib {
		t.Errorf("Available = %d, want 65536", got)
	}
	if got := flowctl.Sendable(st, sess); got != 64*kib {
		t.Errorf("Sendable = %d, want 65536", got)
	}
	if st.Unlimited() {
		t.Error("Unlimited = true after Init")
	}
	mustPanic(t, "Init(-1)", func() { newOutflow(-1) })
}

func TestOutflowTake(t *testing.T) {
	tests := []struct {
		name      string
		size      int32
		adjustTo  int32 // if non-zero, AdjustInitial(size, adjustTo) before taking
		takes     []int
		want      int32
		wantPanic bool
	}{
		{name: "part", size: 64 * kib, takes: []int{1000}, want: 64*kib - 1000},
		{name: "exactly to zero", size: 64 * kib, takes: []int{16 * kib, 16 * kib, 32 * kib}, want: 0},
		{name: "zero on zero window", size: 64 * kib, takes: []int{64 * kib, 0}, want: 0},
		{name: "zero on negative window", size: 64 * kib, adjustTo: 16 * kib, takes: []int{60 * kib, 0}, want: -44 * kib},
		{name: "one more than available", size: 64 * kib, takes: []int{64*kib + 1}, want: 64 * kib, wantPanic: true},
		{name: "after reaching zero", size: 64 * kib, takes: []int{64 * kib, 1}, want: 0, wantPanic: true},
		{name: "on negative window", size: 64 * kib, adjustTo: 1, takes: []int{2 * kib, 1}, want: 1 - 2*kib, wantPanic: true},
		{name: "negative", size: 64 * kib, takes: []int{-1}, want: 64 * kib, wantPanic: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newOutflow(tt.size)
			for i, n := range tt.takes {
				if i == 1 && tt.adjustTo != 0 {
					if err := f.AdjustInitial(tt.size, tt.adjustTo); err != nil {
						t.Fatalf("AdjustInitial: %v", err)
					}
				}
				if tt.wantPanic && i == len(tt.takes)-1 {
					mustPanic(t, fmt.Sprintf("Take(%d)", n), func() { f.Take(n) })
				} else {
					f.Take(n)
				}
			}
			if got := f.Available(); got != tt.want {
				t.Errorf("Available = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestOutflowAdd(t *testing.T) {
	tests := []struct {
		name    string
		taken   int // taken from a DefaultWindow window before the updates
		deltas  []uint32
		want    int32
		wantErr error // of the last delta
	}{
		{name: "one byte", deltas: []uint32{1}, want: 64*kib + 1},
		{name: "refill after draining", taken: 64 * kib, deltas: []uint32{32 * kib}, want: 32 * kib},
		{name: "exactly 2^31-1", deltas: []uint32{math.MaxInt32 - 64*kib}, want: math.MaxInt32},
		{name: "2^31 overflows", deltas: []uint32{math.MaxInt32 - 64*kib + 1}, want: 64 * kib, wantErr: flowctl.ErrWindowOverflow},
		{name: "at the maximum, one more", deltas: []uint32{math.MaxInt32 - 64*kib, 1}, want: math.MaxInt32, wantErr: flowctl.ErrWindowOverflow},
		{name: "max delta on a drained window", taken: 64 * kib, deltas: []uint32{math.MaxInt32}, want: math.MaxInt32},
		// NEG-wu-overflow-pair: +0x7fffffff on the default window already
		// overflows; the window is left as it was.
		{name: "NEG-wu-overflow-pair first", deltas: []uint32{0x7fffffff}, want: 64 * kib, wantErr: flowctl.ErrWindowOverflow},
		{name: "delta 0", deltas: []uint32{0}, want: 64 * kib, wantErr: flowctl.ErrInvalidDelta},
		{name: "delta 2^31", deltas: []uint32{1 << 31}, want: 64 * kib, wantErr: flowctl.ErrInvalidDelta},
		{name: "delta 2^32-1", deltas: []uint32{math.MaxUint32}, want: 64 * kib, wantErr: flowctl.ErrInvalidDelta},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newOutflow(flowctl.DefaultWindow)
			f.Take(tt.taken)
			var err error
			for i, d := range tt.deltas {
				err = f.Add(d)
				if i < len(tt.deltas)-1 && err != nil {
					t.Fatalf("Add(%d): %v", d, err)
				}
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Add: error %v, want %v", err, tt.wantErr)
			}
			if got := f.Available(); got != tt.want {
				t.Errorf("Available = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestNegWUOverflowPair replays the spec vector NEG-wu-overflow-pair on a
// stream window and on the session window: the first update overflows, for
// either kind of window (RST_STREAM or GOAWAY is the caller's answer).
func TestNegWUOverflowPair(t *testing.T) {
	for _, kind := range []string{"stream 1", "session (stream 0)"} {
		f := newOutflow(flowctl.DefaultWindow)
		if err := f.Add(0x7fffffff); !errors.Is(err, flowctl.ErrWindowOverflow) {
			t.Errorf("%s: first update: %v, want ErrWindowOverflow", kind, err)
		}
		if err := f.Add(1); err != nil || f.Available() != 64*kib+1 {
			t.Errorf("%s: second update: %v, Available %d; the rejected update must leave the window unchanged", kind, err, f.Available())
		}
	}
}

func TestOutflowAdjustInitial(t *testing.T) {
	t.Run("spec example: 60 KiB sent, then 16 KiB", func(t *testing.T) {
		st, sess := newOutflow(flowctl.DefaultWindow), newOutflow(flowctl.DefaultWindow)
		st.Take(60 * kib)
		sess.Take(60 * kib)
		if err := st.AdjustInitial(64*kib, 16*kib); err != nil {
			t.Fatal(err)
		}
		if got := st.Available(); got != -44*kib {
			t.Fatalf("Available = %d, want -44 KiB", got)
		}
		steps := []struct {
			delta        uint32
			wantAvail    int32
			wantSendable int
		}{
			{40 * kib, -4 * kib, 0},
			{4 * kib, 0, 0},
			{1, 1, 1},
			{8 * kib, 8*kib + 1, 4 * kib}, // now limited by the session window
		}
		for _, s := range steps {
			if err := st.Add(s.delta); err != nil {
				t.Fatalf("Add(%d): %v", s.delta, err)
			}
			if got := st.Available(); got != s.wantAvail {
				t.Errorf("after +%d: Available = %d, want %d", s.delta, got, s.wantAvail)
			}
			if got := flowctl.Sendable(st, sess); got != s.wantSendable {
				t.Errorf("after +%d: Sendable = %d, want %d", s.delta, got, s.wantSendable)
			}
		}
	})

	tests := []struct {
		name     string
		taken    int
		added    uint32
		old, new int32
		want     int32
		wantErr  error
	}{
		{name: "increase", old: 64 * kib, new: 1 << 20, want: 1 << 20},
		{name: "decrease to zero", old: 64 * kib, new: 0, want: 0},
		{name: "decrease below zero", taken: 64 * kib, old: 64 * kib, new: 0, want: -64 * kib},
		{name: "increase to exactly 2^31-1", old: 64 * kib, new: math.MaxInt32, want: math.MaxInt32},
		{name: "increase overflows", added: 1000, old: 64 * kib, new: math.MaxInt32, want: 64*kib + 1000, wantErr: flowctl.ErrWindowOverflow},
		{name: "negative new", old: 64 * kib, new: -1, want: 64 * kib, wantErr: flowctl.ErrInvalidWindowSize},
		{name: "negative old", old: -1, new: 64 * kib, want: 64 * kib, wantErr: flowctl.ErrInvalidWindowSize},
		{name: "no change", old: 64 * kib, new: 64 * kib, want: 64 * kib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newOutflow(flowctl.DefaultWindow)
			f.Take(tt.taken)
			if tt.added != 0 {
				if err := f.Add(tt.added); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.AdjustInitial(tt.old, tt.new); !errors.Is(err, tt.wantErr) {
				t.Errorf("AdjustInitial(%d, %d): %v, want %v", tt.old, tt.new, err, tt.wantErr)
			}
			if got := f.Available(); got != tt.want {
				t.Errorf("Available = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestOutflowUnlimited(t *testing.T) {
	f := unlimitedOutflow()
	if !f.Unlimited() || f.Available() != flowctl.MaxWindow {
		t.Fatalf("Unlimited %v, Available %d", f.Unlimited(), f.Available())
	}
	f.Take(flowctl.MaxWindow)
	f.Take(1 << 20)
	if err := f.Add(0x7fffffff); err != nil {
		t.Errorf("Add(0x7fffffff): %v; an unlimited window cannot overflow", err)
	}
	if err := f.Add(0); !errors.Is(err, flowctl.ErrInvalidDelta) {
		t.Errorf("Add(0): %v, want ErrInvalidDelta", err)
	}
	if err := f.AdjustInitial(64*kib, 0); err != nil {
		t.Errorf("AdjustInitial: %v", err)
	}
	if err := f.AdjustInitial(-1, 0); !errors.Is(err, flowctl.ErrInvalidWindowSize) {
		t.Errorf("AdjustInitial(-1, 0): %v, want ErrInvalidWindowSize", err)
	}
	if f.Available() != flowctl.MaxWindow {
		t.Errorf("Available = %d after use, want MaxWindow", f.Available())
	}
	mustPanic(t, "Take(-1)", func() { f.Take(-1) })
}

func TestSendable(t *testing.T) {
	negative := newOutflow(16 * kib)
	negative.Take(16 * kib)
	if err := negative.AdjustInitial(16*kib, 0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		stream, sess *flowctl.Outflow
		want         int
	}{
		{"stream smaller", newOutflow(1000), newOutflow(64 * kib), 1000},
		{"session smaller", newOutflow(64 * kib), newOutflow(1000), 1000},
		{"session empty", newOutflow(64 * kib), newOutflow(0), 0},
		{"stream negative", negative, newOutflow(64 * kib), 0},
		{"SPDY/3: unlimited session", newOutflow(5000), unlimitedOutflow(), 5000},
		{"SPDY/2: both unlimited", unlimitedOutflow(), unlimitedOutflow(), flowctl.MaxWindow},
	}
	for _, tt := range tests {
		if got := flowctl.Sendable(tt.stream, tt.sess); got != tt.want {
			t.Errorf("%s: Sendable = %d, want %d", tt.name, got, tt.want)
		}
	}
}
