package attack

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spdygo/spdy/framing"
)

// Attack is one entry of the suite: a hostile peer and the outcome the
// protocol prescribes for it.
type Attack struct {
	// Name is the attack's name on the command line, such as
	// "rapid-reset".
	Name string
	// Summary says what the attacker does.
	Summary string
	// Want says what the server must do.
	Want string
	// run performs the attack, recording what happened in r.
	run func(ctx context.Context, t *Target, o *Options, r *Result)
	// check returns an error when r is not the prescribed outcome.
	check func(r *Result) error
}

// Run performs the attack against t, bounded by ctx, and returns what
// happened. It never panics on what the server sends; a failure to run
// (such as a refused dial) is in Result.Err.
func (a Attack) Run(ctx context.Context, t *Target, o *Options) *Result {
	if o == nil {
		o = &Options{}
	}
	r := newResult(a.Name, t)
	start := time.Now()
	a.run(ctx, t, o, r)
	r.Duration = time.Since(start)
	return r
}

// Check returns nil when r is the outcome the protocol prescribes for the
// attack, and an error saying what differs otherwise.
func (a Attack) Check(r *Result) error {
	if r == nil {
		return fmt.Errorf("%s: no result", a.Name)
	}
	if err := a.check(r); err != nil {
		return fmt.Errorf("%s: want %s; got %s: %w", a.Name, a.Want, r.Outcome(), err)
	}
	return nil
}

// sessionError is the check of an attack that the server must answer with
// a session error: GOAWAY with status on every connection, then the
// connection closed.
func sessionError(status framing.GoAwayStatus) func(*Result) error {
	return func(r *Result) error {
		switch {
		case r.Err != nil:
			return r.Err
		case r.Conns == 0:
			return errNoConn
		case r.GoAways[status] != r.Conns:
			return fmt.Errorf("GOAWAY %v on %d of %d connections", status, r.GoAways[status], r.Conns)
		case r.Closed != r.Conns:
			return fmt.Errorf("the server closed %d of %d connections", r.Closed, r.Conns)
		}
		return nil
	}
}

// streamThenSession is the check of an attack whose first frame is a
// stream error (RST_STREAM rst, once) and whose next is a session error
// (GOAWAY goAway, then the connection closed).
func streamThenSession(rst framing.StatusCode, goAway framing.GoAwayStatus) func(*Result) error {
	session := sessionError(goAway)
	return func(r *Result) error {
		if r.Err != nil {
			return r.Err
		}
		if r.Resets[rst] < 1 {
			return fmt.Errorf("no RST_STREAM %v", rst)
		}
		if n := r.resetsOtherThan(rst); n > 0 {
			return fmt.Errorf("%d RST_STREAM frames with other statuses", n)
		}
		return session(r)
	}
}

// streamError is the check of an attack that the server must answer with
// exactly n RST_STREAM rst and nothing else, its session staying up.
func streamError(rst framing.StatusCode, n func(*Result) int) func(*Result) error {
	return func(r *Result) error {
		want := n(r)
		switch {
		case r.Err != nil:
			return r.Err
		case r.Conns == 0:
			return errNoConn
		case r.Resets[rst] != want:
			return fmt.Errorf("%d RST_STREAM %v, want %d", r.Resets[rst], rst, want)
		case r.resetsOtherThan(rst) > 0:
			return fmt.Errorf("%d RST_STREAM frames with other statuses", r.resetsOtherThan(rst))
		case len(r.GoAways) > 0:
			return fmt.Errorf("GOAWAY on %d connections", r.Conns-r.Alive)
		case r.Alive != r.Conns:
			return fmt.Errorf("%d of %d sessions answer a PING", r.Alive, r.Conns)
		}
		return nil
	}
}

var errNoConn = fmt.Errorf("no connection was made")

var suite = []Attack{
	{
		Name:    "rapid-reset",
		Summary: "open a stream with a valid GET and reset it with CANCEL at once, in a loop",
		Want:    "GOAWAY PROTOCOL_ERROR (flood of resets), connection closed",
		run:     rapidReset,
		check:   sessionError(framing.GoAwayProtocolError),
	},
	{
		Name:    "stream-exhaustion",
		Summary: "open streams beyond MAX_CONCURRENT_STREAMS without resetting any (requests that cannot finish: stream window 0)",
		Want:    "RST_STREAM REFUSED_STREAM for each stream beyond the limit, session up",
		run:     streamExhaustion,
		check: func(r *Result) error {
			if r.Err == nil && r.Beyond <= 0 {
				return fmt.Errorf("no stream was opened beyond the limit")
			}
			return streamError(framing.StatusRefusedStream, func(r *Result) int { return r.Beyond })(r)
		},
	},
	{
		Name:    "settings-flood",
		Summary: "send SETTINGS frames in a loop",
		Want:    "GOAWAY PROTOCOL_ERROR (flood), connection closed",
		run:     settingsFlood,
		check:   sessionError(framing.GoAwayProtocolError),
	},
	{
		Name:    "ping-flood",
		Summary: "send PINGs in a loop without reading the socket",
		Want:    "GOAWAY PROTOCOL_ERROR (flood), connection closed",
		run:     pingFlood,
		check:   sessionError(framing.GoAwayProtocolError),
	},
	{
		Name:    "window-update-flood",
		Summary: "send WINDOW_UPDATE frames of delta 1 for a stream and the session, in a loop",
		Want:    "GOAWAY PROTOCOL_ERROR (flood), connection closed",
		run:     windowUpdateFlood,
		check:   sessionError(framing.GoAwayProtocolError),
	},
	{
		Name:    "window-overflow",
		Summary: "grow a stream's window past 2^31-1, then the session's",
		Want:    "RST_STREAM FLOW_CONTROL_ERROR for the stream, then GOAWAY PROTOCOL_ERROR for the session (spec §8.2, §4.6), connection closed",
		run:     windowOverflow,
		check:   streamThenSession(framing.StatusFlowControlError, framing.GoAwayProtocolError),
	},
	{
		Name:    "empty-data-flood",
		Summary: "send empty DATA frames without FIN on an open stream, in a loop",
		Want:    "GOAWAY PROTOCOL_ERROR (flood), connection closed",
		run:     emptyDataFlood,
		check:   sessionError(framing.GoAwayProtocolError),
	},
	{
		Name:    "empty-headers-flood",
		Summary: "send HEADERS frames with an empty block and no FIN on an open stream, in a loop",
		Want:    "GOAWAY PROTOCOL_ERROR (flood), connection closed",
		run:     emptyHeadersFlood,
		check:   sessionError(framing.GoAwayProtocolError),
	},
	{
		Name:    "zero-window-dribble",
		Summary: "ask for a large response with a 64-byte stream window and take it one byte at a time (WINDOW_UPDATE delta 1 per byte)",
		Want:    "GOAWAY PROTOCOL_ERROR (flood of tiny window updates), connection closed",
		run:     zeroWindowDribble,
		check:   sessionError(framing.GoAwayProtocolError),
	},
	{
		Name:    "header-bomb",
		Summary: "send requests whose ~440-byte header block inflates to 384 KiB, in a loop",
		Want:    "RST_STREAM FRAME_TOO_LARGE for the blocks over 256 KiB (spec §7.3), then GOAWAY PROTOCOL_ERROR (flood of inflated bytes), connection closed",
		run:     headerBomb,
		check:   streamThenSession(framing.StatusFrameTooLarge, framing.GoAwayProtocolError),
	},
	{
		Name:    "header-count",
		Summary: "send requests with 20000 tiny header fields (220 KB inflated, under the size limit), in a loop",
		Want:    "RST_STREAM FRAME_TOO_LARGE (over 1000 fields), then GOAWAY PROTOCOL_ERROR (each field costs 32 bytes to the flood bucket), connection closed",
		run:     headerCount,
		check:   streamThenSession(framing.StatusFrameTooLarge, framing.GoAwayProtocolError),
	},
	{
		Name:    "oversize-control",
		Summary: "send a SYN_STREAM of 68 KiB, above the 64 KiB control frame limit",
		Want:    "RST_STREAM FRAME_TOO_LARGE, then GOAWAY PROTOCOL_ERROR: the block was not inflated (spec §7.3), connection closed",
		run:     oversizeControl,
		check:   streamThenSession(framing.StatusFrameTooLarge, framing.GoAwayProtocolError),
	},
	{
		Name:    "oversize-data",
		Summary: "send a DATA frame one byte larger than the stream window",
		Want:    "RST_STREAM FLOW_CONTROL_ERROR (spec §7.3), session up",
		run:     oversizeData,
		check:   streamError(framing.StatusFlowControlError, func(*Result) int { return 1 }),
	},
	{
		Name:    "truncated-frame",
		Summary: "send the first 108 bytes of a 1008-byte SYN_STREAM, then shut our side of the connection",
		Want:    "the server closes the connection",
		run:     truncatedFrame,
		check:   checkClosed,
	},
	{
		Name:    "slowloris",
		Summary: "open connections that send SETTINGS and the start of a frame, then wait",
		Want:    "the server closes every connection (its keepalive PING goes unanswered)",
		run:     slowloris,
		check:   checkClosed,
	},
	{
		Name:    "idle-connections",
		Summary: "open connections by the thousand that send SETTINGS and then nothing, answering PINGs",
		Want:    "each connection kept (answers a PING after the hold) or closed with GOAWAY OK (idle timeout)",
		run:     idleConnections,
		check:   checkIdle,
	},
	{
		Name:    "many-sessions",
		Summary: "open many sessions at once, each with 4 requests for the small resource",
		Want:    "every request answered to its end, 200 (or 503 from a server at its limit, such as a proxy whose origin has all the streams it allows), every session up, no RST_STREAM, no GOAWAY",
		run:     manySessions,
		check:   checkServed,
	},
}

// checkClosed requires the server to have closed every connection.
func checkClosed(r *Result) error {
	switch {
	case r.Err != nil:
		return r.Err
	case r.Conns == 0:
		return errNoConn
	case r.Closed != r.Conns:
		return fmt.Errorf("the server closed %d of %d connections", r.Closed, r.Conns)
	case r.goAwaysOtherThan(framing.GoAwayOK, framing.GoAwayProtocolError) > 0:
		return fmt.Errorf("GOAWAY with an unexpected status")
	}
	return nil
}

// checkIdle requires every idle connection to be kept or closed by the
// server's idle timeout (GOAWAY OK).
func checkIdle(r *Result) error {
	switch {
	case r.Err != nil:
		return r.Err
	case r.Conns == 0:
		return errNoConn
	case r.goAwaysOtherThan(framing.GoAwayOK) > 0:
		return fmt.Errorf("%d GOAWAY frames with an error status", r.goAwaysOtherThan(framing.GoAwayOK))
	case r.Alive+r.GoAways[framing.GoAwayOK] != r.Conns:
		return fmt.Errorf("%d connections neither kept nor closed with GOAWAY OK", r.Conns-r.Alive-r.GoAways[framing.GoAwayOK])
	}
	return nil
}

// checkServed requires every request of every session to have been
// answered in full, 200 or 503 (busy), and every session to be up.
func checkServed(r *Result) error {
	want := r.Conns * streamsPerSession
	switch {
	case r.Err != nil:
		return r.Err
	case r.Conns == 0:
		return errNoConn
	case len(r.Resets) > 0:
		return fmt.Errorf("RST_STREAM frames")
	case len(r.GoAways) > 0:
		return fmt.Errorf("GOAWAY frames")
	case r.Complete != want || r.HTTPStatus["200"]+r.HTTPStatus["503"] != want:
		return fmt.Errorf("%d of %d requests answered 200 or 503 in full", min(r.Complete, r.HTTPStatus["200"]+r.HTTPStatus["503"]), want)
	case r.Alive != r.Conns:
		return fmt.Errorf("%d of %d sessions answer a PING", r.Alive, r.Conns)
	}
	return nil
}

// Suite returns every attack, in the order the command runs them.
func Suite() []Attack {
	return append([]Attack(nil), suite...)
}

// Lookup returns the attack named name.
func Lookup(name string) (Attack, bool) {
	for _, a := range suite {
		if a.Name == name {
			return a, true
		}
	}
	return Attack{}, false
}

// Names returns the names of the attacks, comma-separated.
func Names() string {
	names := make([]string, len(suite))
	for i, a := range suite {
		names[i] = a.Name
	}
	return strings.Join(names, ", ")
}
