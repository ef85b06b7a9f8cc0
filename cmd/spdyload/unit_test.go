package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/session"
	"github.com/spdygo/spdy/stream"
)

func TestErrorKind(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("request: %w", err) }
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&connectError{kindDial, errors.New("refused")}, kindDial},
		{&connectError{kindTLS, errors.New("bad cert")}, kindTLS},
		{wrap(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused")}), kindDial},
		{wrap(&net.DNSError{Err: "no such host", Name: "x"}), kindDial},
		{wrap(x509.UnknownAuthorityError{}), kindTLS},
		{wrap(context.DeadlineExceeded), kindTimeout},
		{wrap(os.ErrDeadlineExceeded), kindTimeout},
		{wrap(&session.TransportError{Op: "read", Err: os.ErrDeadlineExceeded}), kindTimeout},
		{errors.New("httpadapter: timeout awaiting response headers"), kindTimeout},
		{wrap(&stream.ResetError{StreamID: 1, Status: framing.StatusCancel, Remote: true}), kindReset},
		{wrap(&session.GoAwayError{Status: framing.GoAwayInternalError}), kindGoAway},
		{wrap(&session.ProtocolError{Reason: "bad frame"}), kindProtocol},
		{wrap(&session.TransportError{Op: "read", Err: io.EOF}), kindConnection},
		{wrap(httpadapter.ErrClientConnUnusable), kindConnection},
		{wrap(io.ErrUnexpectedEOF), kindConnection},
		{wrap(net.ErrClosed), kindConnection},
		{errors.New("net/http: malformed HTTP response"), kindProtocol},
		{errors.New("httpadapter: invalid response status \"abc\""), kindProtocol},
		{errors.New("something else"), kindOther},
	} {
		if got := errorKind(tc.err); got != tc.want {
			t.Errorf("errorKind(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := summarize(ds)
	want := latency{Count: 100, Min: 1, Mean: 50.5, P50: 50, P90: 90, P99: 99, Max: 100}
	if got != want {
		t.Errorf("summarize(1..100ms) = %+v, want %+v", got, want)
	}
	if got := summarize([]time.Duration{7 * time.Millisecond}); got != (latency{Count: 1, Min: 7, Mean: 7, P50: 7, P90: 7, P99: 7, Max: 7}) {
		t.Errorf("summarize(7ms) = %+v", got)
	}
	if got := summarize(nil); got != (latency{}) {
		t.Errorf("summarize(nil) = %+v", got)
	}
}

func TestBodySource(t *testing.T) {
	for _, size := range []int64{1, 100, bodyBlock - 1, bodyBlock, bodyBlock + 1, 3*bodyBlock + 17} {
		b := newBodySource(size)
		data, err := io.ReadAll(b.reader())
		if err != nil || int64(len(data)) != size {
			t.Errorf("body of %d: %d bytes, %v", size, len(data), err)
			continue
		}
		for i, c := range data {
			if c != b.block[i%len(b.block)] {
				t.Errorf("body of %d: byte %d is %q", size, i, c)
				break
			}
		}
		again, _ := io.ReadAll(b.reader())
		if string(again) != string(data) {
			t.Errorf("body of %d: a second reader reads another body", size)
		}
	}
}

func TestErrorCountsKeepTheFirst(t *testing.T) {
	var a, b errorCounts
	b.add(kindReset, errors.New("early"))
	a.add(kindReset, errors.New("late"))
	a.add(kindDial, errors.New("dial"))
	a.merge(b)
	if e := a[kindReset]; e.Count != 2 || e.First != "early" {
		t.Errorf("reset: %+v", e)
	}
	if e := a[kindDial]; e.Count != 1 || e.First != "dial" {
		t.Errorf("dial: %+v", e)
	}
}

// sinkRequest keeps the requests of BenchmarkNewRequest on the heap, as
// a RoundTripper does.
var sinkRequest *http.Request

func BenchmarkNewRequest(b *testing.B) {
	for _, args := range [][]string{{"http://127.0.0.1/"}, {"-body", "100", "http://127.0.0.1/"}} {
		b.Run(strings.Join(args, " "), func(b *testing.B) {
			o, err := parseArgs(args, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			r := newRunner(context.Background(), o)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				req := r.newRequest(ctx)
				sinkRequest = req
				if _, err := io.Copy(io.Discard, req.Body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
