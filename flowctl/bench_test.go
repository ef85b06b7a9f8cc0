package flowctl_test

import (
	"testing"
	"time"

	"github.com/spdygo/spdy/flowctl"
)

// The benchmarks measure the per-DATA-frame work of a session loop. Every
// iteration handles one frame of frameSize bytes.
const frameSize = 8 << 10

// BenchmarkSend: size a frame, take it from the stream and session windows,
// and apply the WINDOW_UPDATEs that come back.
func BenchmarkSend(b *testing.B) {
	var st, sess flowctl.Outflow
	st.Init(flowctl.DefaultWindow)
	sess.Init(flowctl.DefaultWindow)
	b.ReportAllocs()
	for b.Loop() {
		n := min(frameSize, flowctl.Sendable(&st, &sess))
		if n == 0 {
			if st.Add(flowctl.DefaultWindow) != nil || sess.Add(flowctl.DefaultWindow) != nil {
				b.Fatal("overflow")
			}
			continue
		}
		st.Take(n)
		sess.Take(n)
	}
}

// BenchmarkReceive: account a DATA frame against the session and stream
// windows, consume it, and produce the batched WINDOW_UPDATEs.
func BenchmarkReceive(b *testing.B) {
	var st, sess flowctl.Inflow
	st.Init(flowctl.DefaultWindow, 0)
	sess.Init(flowctl.DefaultWindow, 0)
	b.ReportAllocs()
	var updates uint64
	for b.Loop() {
		if sess.Receive(frameSize) != nil || st.Receive(frameSize) != nil {
			b.Fatal("violation")
		}
		updates += uint64(st.Consume(frameSize)) + uint64(sess.Consume(frameSize))
	}
	if updates == 0 {
		b.Fatal("no updates")
	}
}

// BenchmarkReceiveTuned is BenchmarkReceive with auto-tuning.
func BenchmarkReceiveTuned(b *testing.B) {
	var st, sess flowctl.Inflow
	st.Init(flowctl.DefaultWindow, 16<<20)
	sess.Init(flowctl.DefaultWindow, 16<<20)
	b.ReportAllocs()
	var now time.Duration
	for b.Loop() {
		now += time.Microsecond
		if sess.Receive(frameSize) != nil || st.Receive(frameSize) != nil {
			b.Fatal("violation")
		}
		st.ConsumeAt(frameSize, now, time.Millisecond)
		sess.ConsumeAt(frameSize, now, time.Millisecond)
	}
}

// TestHotPathAllocs pins what the benchmarks report: the per-frame
// operations allocate nothing.
func TestHotPathAllocs(t *testing.T) {
	var stOut, sessOut flowctl.Outflow
	stOut.Init(flowctl.DefaultWindow)
	sessOut.Init(flowctl.DefaultWindow)
	var stIn, sessIn flowctl.Inflow
	stIn.Init(flowctl.DefaultWindow, 1<<20)
	sessIn.Init(flowctl.DefaultWindow, 1<<20)
	var now time.Duration
	allocs := testing.AllocsPerRun(1000, func() {
		n := min(frameSize, flowctl.Sendable(&stOut, &sessOut))
		stOut.Take(n)
		sessOut.Take(n)
		if err := sessIn.Receive(n); err != nil {
			t.Fatal(err)
		}
		if err := stIn.Receive(n); err != nil {
			t.Fatal(err)
		}
		now += time.Millisecond
		if d := stIn.ConsumeAt(n, now, 10*time.Millisecond); d != 0 {
			if err := stOut.Add(d); err != nil {
				t.Fatal(err)
			}
		}
		if d := sessIn.ConsumeAt(n, now, 10*time.Millisecond); d != 0 {
			if err := sessOut.Add(d); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per frame, want 0", allocs)
	}
	if stIn.Target() <= flowctl.DefaultWindow {
		t.Errorf("Target = %d: the loop did not exercise auto-tuning", stIn.Target())
	}
}
