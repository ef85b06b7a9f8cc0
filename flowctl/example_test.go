package flowctl_test

import (
	"errors"
	"fmt"

	"github.com/spdygo/spdy/flowctl"
)

// A SPDY/3.1 client uploads to a server on stream 1. The client tracks its
// send windows with Outflows, the server its receive windows with Inflows.
// The server lowers its initial window while data is in flight, which makes
// the client's stream window negative until the server's updates raise it.
func Example() {
	// Client (sender): stream 1 and session send windows.
	var stOut, sessOut flowctl.Outflow
	stOut.Init(flowctl.DefaultWindow)
	sessOut.Init(flowctl.DefaultWindow)

	// Server (receiver): stream 1 and session receive windows. The session
	// window is opened to 1 MiB at once with WINDOW_UPDATE(0).
	var stIn, sessIn flowctl.Inflow
	stIn.Init(flowctl.DefaultWindow, 0)
	sessIn.Init(flowctl.DefaultWindow, 0)
	if d := sessIn.GrowTarget(1 << 20); d != 0 {
		fmt.Println("server: WINDOW_UPDATE(0)", d)
		_ = sessOut.Add(d)
	}

	// The client sends 60 KiB in 4 KiB DATA frames; the server receives
	// them (session window first, then the stream's).
	for range 15 {
		n := min(4096, flowctl.Sendable(&stOut, &sessOut))
		stOut.Take(n)
		sessOut.Take(n)
		if sessIn.Receive(n) != nil || stIn.Receive(n) != nil {
			fmt.Println("server: flow-control violation")
		}
	}
	fmt.Println("client: may send", flowctl.Sendable(&stOut, &sessOut))

	// The server lowers SETTINGS_INITIAL_WINDOW_SIZE to 16 KiB; the client
	// applies new - old to the open stream: 16 KiB - 60 KiB = -44 KiB.
	_ = stIn.AdjustInitial(64<<10, 16<<10)
	_ = stOut.AdjustInitial(64<<10, 16<<10)
	fmt.Println("client: stream window", stOut.Available(), "may send", flowctl.Sendable(&stOut, &sessOut))

	// An empty DATA frame with FIN could still be sent; more data could
	// not. The server's application reads the 60 KiB in 8 KiB pieces; the
	// credit is batched into a few WINDOW_UPDATEs.
	for read := 0; read < 60<<10; read += 8 << 10 {
		n := min(8<<10, stIn.Buffered())
		if d := stIn.Consume(n); d != 0 {
			fmt.Println("server: WINDOW_UPDATE(1)", d)
			_ = stOut.Add(d)
			fmt.Println("client: stream window", stOut.Available())
		}
		if d := sessIn.Consume(n); d != 0 {
			fmt.Println("server: WINDOW_UPDATE(0)", d)
			_ = sessOut.Add(d)
		}
	}
	fmt.Println("client: may send", flowctl.Sendable(&stOut, &sessOut))

	// The server still tolerates what the client could have sent under the
	// old 64 KiB window had it not seen the SETTINGS yet (12 KiB plus the
	// 48 KiB decrease), but no more: a frame beyond that is a violation,
	// answered with RST_STREAM FLOW_CONTROL_ERROR.
	err := stIn.Receive(60<<10 + 1)
	if errors.Is(err, flowctl.ErrFlowControlViolation) {
		fmt.Println("server:", err)
	}

	// Output:
	// server: WINDOW_UPDATE(0) 983040
	// client: may send 4096
	// client: stream window -45056 may send 0
	// server: WINDOW_UPDATE(1) 8192
	// client: stream window -36864
	// server: WINDOW_UPDATE(1) 8192
	// client: stream window -28672
	// server: WINDOW_UPDATE(1) 8192
	// client: stream window -20480
	// server: WINDOW_UPDATE(1) 8192
	// client: stream window -12288
	// server: WINDOW_UPDATE(1) 8192
	// client: stream window -4096
	// server: WINDOW_UPDATE(1) 8192
	// client: stream window 4096
	// server: WINDOW_UPDATE(1) 8192
	// client: stream window 12288
	// client: may send 12288
	// server: flowctl: data exceeds the receive window
}

// Windows the negotiated version does not have are unlimited, so the same
// sending code serves SPDY/3.1, SPDY/3 (no session window) and SPDY/2 (no
// windows at all, as with a peer like moby/spdystream that ignores them).
func ExampleOutflow_InitUnlimited() {
	for _, version := range []string{"spdy/3.1", "spdy/3", "spdy/2"} {
		var stream, session flowctl.Outflow
		switch version {
		case "spdy/3.1":
			stream.Init(flowctl.DefaultWindow)
			session.Init(flowctl.DefaultWindow)
		case "spdy/3":
			stream.Init(flowctl.DefaultWindow)
			session.InitUnlimited()
		case "spdy/2":
			stream.InitUnlimited()
			session.InitUnlimited()
		}
		stream.Take(1000)
		session.Take(1000)
		fmt.Println(version, flowctl.Sendable(&stream, &session))
	}
	// Output:
	// spdy/3.1 64536
	// spdy/3 64536
	// spdy/2 2147483647
}
