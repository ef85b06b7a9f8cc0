package framing

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWriteRules: every illegal frame is refused with ErrInvalidWrite, and
// written when AllowIllegalWrites is set (except what cannot be encoded).
func TestWriteRules(t *testing.T) {
	big := make([]byte, MaxPayloadLen)
	tests := []struct {
		name      string
		v         Version
		write     func(*Framer) error
		encodable bool // still refused with AllowIllegalWrites when false
	}{
		{"data stream 0", 3, func(f *Framer) error { return f.WriteData(0, false, nil) }, true},
		{"data stream id over 31 bits", 3, func(f *Framer) error { return f.WriteData(1<<31, false, nil) }, false},
		{"data payload over 24 bits", 3, func(f *Framer) error { return f.WriteData(1, false, append(big, 0)) }, false},
		{"data compressed flag", 3, func(f *Framer) error {
			return f.WriteFrame(&DataFrame{FrameHeader: FrameHeader{StreamID: 1, Flags: FlagDataCompressed}})
		}, true},
		{"syn_stream stream 0", 3, func(f *Framer) error { return f.WriteSynStream(0, 0, 0, 0, []byte{1, 2}) }, true},
		{"syn_stream priority 8", 3, func(f *Framer) error { return f.WriteSynStream(1, 0, 8, 0, []byte{1, 2}) }, false},
		{"syn_stream v2 priority 4", 2, func(f *Framer) error { return f.WriteSynStream(1, 0, 4, 0, []byte{1, 2}) }, false},
		{"syn_stream v2 slot", 2, func(f *Framer) error {
			return f.WriteFrame(&SynStreamFrame{FrameHeader: FrameHeader{StreamID: 1}, Slot: 1, HeaderBlock: []byte{1, 2}})
		}, false},
		{"syn_stream v2 short block", 2, func(f *Framer) error { return f.WriteSynStream(1, 0, 0, 0, []byte{1}) }, true},
		{"syn_stream undefined flag", 3, func(f *Framer) error { return f.WriteSynStream(1, 0, 0, 0x04, nil) }, true},
		{"syn_stream assoc over 31 bits", 3, func(f *Framer) error { return f.WriteSynStream(1, 1<<31, 0, 0, nil) }, false},
		{"syn_reply stream 0", 3, func(f *Framer) error { return f.WriteSynReply(0, 0, nil) }, true},
		{"syn_reply unidirectional", 3, func(f *Framer) error { return f.WriteSynReply(1, FlagUnidirectional, nil) }, true},
		{"headers v2 short block", 2, func(f *Framer) error { return f.WriteHeaders(1, 0, nil) }, true},
		{"rst status 0", 3, func(f *Framer) error { return f.WriteRstStream(1, 0) }, true},
		{"rst stream 0", 3, func(f *Framer) error { return f.WriteRstStream(0, StatusCancel) }, true},
		{"settings id over 24 bits", 3, func(f *Framer) error { return f.WriteSettings(0, Setting{ID: 1 << 24}) }, false},
		{"settings undefined flag", 3, func(f *Framer) error { return f.WriteSettings(2) }, true},
		{"noop in v3", 3, func(f *Framer) error { return f.WriteNoop() }, true},
		{"window_update in v2", 2, func(f *Framer) error { return f.WriteWindowUpdate(1, 1) }, true},
		{"window_update delta 0", 3, func(f *Framer) error { return f.WriteWindowUpdate(1, 0) }, true},
		{"window_update delta over 31 bits", 3, func(f *Framer) error { return f.WriteWindowUpdate(1, 1<<31) }, false},
		{"goaway last-good over 31 bits", 3, func(f *Framer) error { return f.WriteGoAway(1<<31, 0) }, false},
		{"ping flags", 3, func(f *Framer) error {
			return f.WriteFrame(&PingFrame{FrameHeader: FrameHeader{Flags: 1}})
		}, true},
		{"credential in v2", 2, func(f *Framer) error { return f.WriteFrame(&CredentialFrame{Slot: 1}) }, true},
		{"credential slot 0", 3, func(f *Framer) error { return f.WriteFrame(&CredentialFrame{}) }, true},
		{"unsupported version", 4, func(f *Framer) error { return f.WritePing(1) }, false},
		{"unknown frame version over 15 bits", 3, func(f *Framer) error {
			return f.WriteFrame(&UnknownFrame{FrameHeader: FrameHeader{Version: 0x8000, Type: 20}})
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			f := NewFramer(&buf, nil, tc.v)
			err := tc.write(f)
			if err == nil {
				t.Fatal("illegal frame written")
			}
			if tc.encodable && !errors.Is(err, ErrInvalidWrite) {
				t.Errorf("error %v does not wrap ErrInvalidWrite", err)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes with an error", buf.Len())
			}
			f.AllowIllegalWrites = true
			err = tc.write(f)
			if tc.encodable && (err != nil || buf.Len() == 0) {
				t.Errorf("AllowIllegalWrites: %v (%d bytes)", err, buf.Len())
			}
			if !tc.encodable && err == nil {
				t.Error("AllowIllegalWrites wrote a frame that cannot be encoded")
			}
		})
	}
	// Largest legal payload is accepted.
	if err := NewFramer(discard{}, nil, Version3).WriteData(1, false, big); err != nil {
		t.Errorf("largest DATA frame: %v", err)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestWriteIllegalReadsBack: frames written with AllowIllegalWrites are
// rejected by a reader as the protocol prescribes (a scripted peer relies
// on this pairing).
func TestWriteIllegalReadsBack(t *testing.T) {
	var buf bytes.Buffer
	w := NewFramer(&buf, nil, Version3)
	w.AllowIllegalWrites = true
	if err := w.WriteRstStream(3, 0); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteWindowUpdate(3, 0); err != nil {
		t.Fatal(err)
	}
	r := NewFramer(nil, &buf, Version3)
	var ce *ConnectionError
	if _, err := r.ReadFrame(); !errors.As(err, &ce) {
		t.Errorf("RST_STREAM status 0: %v", err)
	}
	var se *StreamError
	if _, err := r.ReadFrame(); !errors.As(err, &se) || se.StreamID != 3 {
		t.Errorf("WINDOW_UPDATE delta 0: %v", err)
	}
}

// randomFrame returns a valid frame of version v chosen by rng; its
// Length is left 0 (the reader fills it in).
func randomFrame(rng *rand.Rand, v Version) Frame {
	bytesN := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	id := func() StreamID { return StreamID(rng.Uint32N(uint32(MaxStreamID)) + 1) }
	ctlH := func(t FrameType, flags Flags, sid StreamID) FrameHeader {
		return FrameHeader{Control: true, Version: v, Type: t, Flags: flags, StreamID: sid}
	}
	minBlock := 0
	if v == Version2 {
		minBlock = 2
	}
	block := func() []byte { return bytesN(minBlock + rng.IntN(300)) }
	types := []FrameType{FrameData, FrameSynStream, FrameSynReply, FrameRstStream, FrameSettings, FramePing, FrameGoAway, FrameHeaders, 20}
	if v == Version2 {
		types = append(types, FrameNoop)
	} else {
		types = append(types, FrameWindowUpdate, FrameCredential)
	}
	switch t := types[rng.IntN(len(types))]; t {
	case FrameData:
		return &DataFrame{FrameHeader{Type: FrameData, Flags: Flags(rng.IntN(2)), StreamID: id()}, bytesN(rng.IntN(2000))}
	case FrameSynStream:
		maxPri, slot := 8, uint8(rng.IntN(256))
		if v == Version2 {
			maxPri, slot = 4, 0
		}
		return &SynStreamFrame{ctlH(t, Flags(rng.IntN(4)), id()), StreamID(rng.Uint32N(uint32(MaxStreamID) + 1)), uint8(rng.IntN(maxPri)), slot, block()}
	case FrameSynReply:
		return &SynReplyFrame{ctlH(t, Flags(rng.IntN(2)), id()), block()}
	case FrameHeaders:
		return &HeadersFrame{ctlH(t, Flags(rng.IntN(2)), id()), block()}
	case FrameRstStream:
		return &RstStreamFrame{ctlH(t, 0, id()), StatusCode(rng.Uint32N(20) + 1)}
	case FrameSettings:
		s := make([]Setting, rng.IntN(10))
		for i := range s {
			s[i] = Setting{SettingID(rng.Uint32N(1 << 24)), SettingFlags(rng.Uint32()), rng.Uint32()}
		}
		return &SettingsFrame{ctlH(t, Flags(rng.IntN(2)), 0), s}
	case FrameNoop:
		return &NoopFrame{ctlH(t, 0, 0)}
	case FramePing:
		return &PingFrame{ctlH(t, 0, 0), rng.Uint32()}
	case FrameGoAway:
		status := GoAwayStatus(rng.Uint32N(4))
		if v == Version2 {
			status = 0
		}
		return &GoAwayFrame{ctlH(t, 0, 0), StreamID(rng.Uint32N(uint32(MaxStreamID) + 1)), status}
	case FrameWindowUpdate:
		return &WindowUpdateFrame{ctlH(t, 0, StreamID(rng.Uint32N(uint32(MaxStreamID)+1))), rng.Uint32N(uint32(MaxStreamID)) + 1}
	case FrameCredential:
		certs := make([][]byte, rng.IntN(4))
		for i := range certs {
			certs[i] = bytesN(rng.IntN(50))
		}
		return &CredentialFrame{ctlH(t, 0, 0), uint16(rng.IntN(0xffff) + 1), bytesN(rng.IntN(40)), certs}
	default:
		return &UnknownFrame{ctlH(t, Flags(rng.Uint32()), 0), bytesN(rng.IntN(100))}
	}
}

// TestRoundTripProperty writes random frames of every type and version and
// reads them back, many per stream so buffers are reused.
func TestRoundTripProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, v := range []Version{Version2, Version3} {
		var buf bytes.Buffer
		w := NewFramer(&buf, nil, v)
		var want []Frame
		for range 2000 {
			f := randomFrame(rng, v)
			if err := w.WriteFrame(f); err != nil {
				t.Fatalf("%v: WriteFrame(%v): %v", v, f, err)
			}
			want = append(want, f)
		}
		r := NewFramer(nil, &buf, v)
		for i, wf := range want {
			got, err := r.ReadFrame()
			if err != nil {
				t.Fatalf("%v frame %d (%v): %v", v, i, wf, err)
			}
			if diff := cmp.Diff(wf, got, equateEmpty, ignoreLength); diff != "" {
				t.Fatalf("%v frame %d: (-wrote +read)\n%s", v, i, diff)
			}
			if got.Header().Length == 0 && wf.Header().Type != FrameNoop && wf.Header().Type != FrameData {
				if _, ok := wf.(*UnknownFrame); !ok {
					t.Fatalf("frame %d read with length 0: %v", i, got)
				}
			}
		}
	}
}

// ignoreLength ignores FrameHeader.Length, which writers compute.
var ignoreLength = cmp.FilterPath(func(p cmp.Path) bool {
	return p.Last().String() == ".Length"
}, cmp.Ignore())

// TestZeroAllocs: reading and writing DATA and the fixed-size control
// frames allocates nothing once the Framer's buffers exist.
func TestZeroAllocs(t *testing.T) {
	var stream bytes.Buffer
	w := NewFramer(&stream, nil, Version3)
	payload := make([]byte, 16<<10)
	settings := []Setting{{SettingMaxConcurrentStreams, 0, 100}, {SettingInitialWindowSize, 0, 1 << 20}}
	writes := map[string]func() error{
		"data":          func() error { return w.WriteData(1, false, payload) },
		"ping":          func() error { return w.WritePing(2) },
		"rst_stream":    func() error { return w.WriteRstStream(3, StatusCancel) },
		"window_update": func() error { return w.WriteWindowUpdate(0, 1<<20) },
		"settings":      func() error { return w.WriteSettings(0, settings...) },
		"goaway":        func() error { return w.WriteGoAway(7, GoAwayOK) },
	}
	for name, write := range writes {
		stream.Reset()
		if err := write(); err != nil { // warm up the buffers
			t.Fatal(err)
		}
		wire := bytes.Clone(stream.Bytes())
		stream.Grow(len(wire))
		if n := testing.AllocsPerRun(100, func() {
			stream.Reset()
			if err := write(); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("write %s: %v allocs/op", name, n)
		}
		src := bytes.NewReader(wire)
		r := NewFramer(nil, src, Version3)
		if _, err := r.ReadFrame(); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() {
			src.Reset(wire)
			if _, err := r.ReadFrame(); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("read %s: %v allocs/op", name, n)
		}
	}
}

func TestAppendData(t *testing.T) {
	fr := NewFramer(nil, nil, Version3)
	b, err := fr.AppendData([]byte{0xaa}, 1, true, []byte("hello"))
	if err != nil || !bytes.Equal(b, append([]byte{0xaa}, vector(t, "DATA-1-FIN-hello")...)) {
		t.Errorf("AppendData = % x, %v", b, err)
	}
	if _, err := fr.AppendData(nil, 0, false, nil); !errors.Is(err, ErrInvalidWrite) {
		t.Errorf("AppendData on stream 0: %v", err)
	}
	if n := testing.AllocsPerRun(100, func() { b, _ = fr.AppendData(b[:0], 1, false, []byte("x")) }); n != 0 {
		t.Errorf("AppendData: %v allocs/op", n)
	}
}
