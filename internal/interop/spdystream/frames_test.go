package spdystream

import (
	"bytes"
	"testing"

	ss "github.com/moby/spdystream/spdy"
	"github.com/spdygo/spdy/framing"
)

// TestTheirFramerReadsOurFrames writes every frame type spdystream knows
// without header blocks and has spdystream's framer read them.
func TestTheirFramerReadsOurFrames(t *testing.T) {
	var wire bytes.Buffer
	ours := framing.NewFramer(&wire, nil, framing.Version3)
	steps := []struct {
		write func() error
		check func(ss.Frame) bool
	}{
		{func() error { return ours.WriteData(3, true, []byte("payload")) }, func(f ss.Frame) bool {
			d, ok := f.(*ss.DataFrame)
			return ok && d.StreamId == 3 && d.Flags == ss.DataFlagFin && string(d.Data) == "payload"
		}},
		{func() error { return ours.WriteRstStream(5, framing.StatusRefusedStream) }, func(f ss.Frame) bool {
			r, ok := f.(*ss.RstStreamFrame)
			return ok && r.StreamId == 5 && r.Status == ss.RefusedStream
		}},
		{func() error {
			return ours.WriteSettings(0, framing.Setting{ID: framing.SettingMaxConcurrentStreams, Value: 100},
				framing.Setting{ID: framing.SettingInitialWindowSize, Flags: framing.SettingPersistValue, Value: 1 << 20})
		}, func(f ss.Frame) bool {
			s, ok := f.(*ss.SettingsFrame)
			return ok && len(s.FlagIdValues) == 2 &&
				s.FlagIdValues[0] == ss.SettingsFlagIdValue{Id: ss.SettingsMaxConcurrentStreams, Value: 100} &&
				s.FlagIdValues[1] == ss.SettingsFlagIdValue{Flag: ss.FlagSettingsPersistValue, Id: ss.SettingsInitialWindowSize, Value: 1 << 20}
		}},
		{func() error { return ours.WritePing(7) }, func(f ss.Frame) bool {
			p, ok := f.(*ss.PingFrame)
			return ok && p.Id == 7
		}},
		{func() error { return ours.WriteWindowUpdate(9, 4096) }, func(f ss.Frame) bool {
			w, ok := f.(*ss.WindowUpdateFrame)
			return ok && w.StreamId == 9 && w.DeltaWindowSize == 4096
		}},
		{func() error { return ours.WriteGoAway(11, framing.GoAwayInternalError) }, func(f ss.Frame) bool {
			g, ok := f.(*ss.GoAwayFrame)
			return ok && g.LastGoodStreamId == 11 && g.Status == ss.GoAwayInternalError
		}},
	}
	theirs, err := ss.NewFramer(nil, &wire)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range steps {
		if err := s.write(); err != nil {
			t.Fatalf("step %d: write: %v", i, err)
		}
		f, err := theirs.ReadFrame()
		if err != nil {
			t.Fatalf("step %d: spdystream ReadFrame: %v", i, err)
		}
		if !s.check(f) {
			t.Errorf("step %d: spdystream read %#v", i, f)
		}
	}
}

// TestOurFramerReadsTheirFrames is the other direction.
func TestOurFramerReadsTheirFrames(t *testing.T) {
	var wire bytes.Buffer
	theirs, err := ss.NewFramer(&wire, nil)
	if err != nil {
		t.Fatal(err)
	}
	frames := []ss.Frame{
		&ss.DataFrame{StreamId: 3, Flags: ss.DataFlagFin, Data: []byte("payload")},
		&ss.RstStreamFrame{StreamId: 5, Status: ss.Cancel},
		&ss.SettingsFrame{FlagIdValues: []ss.SettingsFlagIdValue{{Id: ss.SettingsInitialWindowSize, Value: 65536}}},
		&ss.PingFrame{Id: 2},
		&ss.WindowUpdateFrame{StreamId: 0, DeltaWindowSize: 1 << 20},
		&ss.GoAwayFrame{LastGoodStreamId: 13, Status: ss.GoAwayProtocolError},
	}
	for _, f := range frames {
		if err := theirs.WriteFrame(f); err != nil {
			t.Fatalf("spdystream WriteFrame(%#v): %v", f, err)
		}
	}
	ours := framing.NewFramer(nil, &wire, framing.Version3)
	want := []string{
		"DATA stream=3 flags=FIN len=7",
		"RST_STREAM v3 stream=5 len=8 status=CANCEL",
		"SETTINGS v3 len=12 [INITIAL_WINDOW_SIZE=65536]",
		"PING v3 len=4 id=2",
		"WINDOW_UPDATE v3 stream=0 len=8 delta=1048576",
		"GOAWAY v3 len=8 last_good=13 status=PROTOCOL_ERROR",
	}
	for i, w := range want {
		f, err := ours.ReadFrame()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if f.String() != w {
			t.Errorf("frame %d: got %q, want %q", i, f, w)
		}
	}
}
