package framing

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// equateEmpty treats nil and empty slices alike.
var equateEmpty = cmpopts.EquateEmpty()

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func vector(t testing.TB, name string) []byte {
	t.Helper()
	s, ok := specVectors[name]
	if !ok {
		t.Fatalf("no vector %q", name)
	}
	return unhex(t, s)
}

// ctl builds the header of a control frame as ReadFrame reports it.
func ctl(v Version, typ FrameType, flags Flags, length uint32, id StreamID) FrameHeader {
	return FrameHeader{Control: true, Version: v, Type: typ, Flags: flags, Length: length, StreamID: id}
}

func dataHdr(id StreamID, flags Flags, length uint32) FrameHeader {
	return FrameHeader{Type: FrameData, Flags: flags, Length: length, StreamID: id}
}

// readOne reads exactly one frame from b and requires nothing after it.
func readOne(t *testing.T, b []byte) Frame {
	t.Helper()
	fr := NewFramer(nil, bytes.NewReader(b), Version3)
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatalf("ReadFrame: %v", err)
	}
	f = CopyFrame(f)
	if _, err := fr.ReadFrame(); err != io.EOF {
		t.Fatalf("after the frame: got %v, want io.EOF", err)
	}
	return f
}

// TestSpecVectors reads every canonical vector and writes the expected frame
// back, byte for byte.
func TestSpecVectors(t *testing.T) {
	block := func(name string, off int) []byte { return vector(t, name)[FrameHeaderLen+off:] }
	tests := []struct {
		name string
		want Frame
	}{
		{"PING-v3-1", &PingFrame{ctl(3, FramePing, 0, 4, 0), 1}},
		{"PING-v3-2", &PingFrame{ctl(3, FramePing, 0, 4, 0), 2}},
		{"PING-v3-12345678", &PingFrame{ctl(3, FramePing, 0, 4, 0), 0x12345678}},
		{"PING-v2-1", &PingFrame{ctl(2, FramePing, 0, 4, 0), 1}},
		{"RST-v3-1-PROTOCOL", &RstStreamFrame{ctl(3, FrameRstStream, 0, 8, 1), StatusProtocolError}},
		{"RST-v3-max-INTERNAL", &RstStreamFrame{ctl(3, FrameRstStream, 0, 8, MaxStreamID), StatusInternalError}},
		{"RST-v3-3-CANCEL", &RstStreamFrame{ctl(3, FrameRstStream, 0, 8, 3), StatusCancel}},
		{"RST-v3-5-FLOW", &RstStreamFrame{ctl(3, FrameRstStream, 0, 8, 5), StatusFlowControlError}},
		{"RST-v3-9-REFUSED", &RstStreamFrame{ctl(3, FrameRstStream, 0, 8, 9), StatusRefusedStream}},
		{"RST-v2-1-PROTOCOL", &RstStreamFrame{ctl(2, FrameRstStream, 0, 8, 1), StatusProtocolError}},
		{"SET-v3-IWS-persist", &SettingsFrame{ctl(3, FrameSettings, 0, 12, 0), []Setting{{SettingInitialWindowSize, SettingPersistValue, 0x0a0b0c0d}}}},
		{"SET-v2-IWS-persist", &SettingsFrame{ctl(2, FrameSettings, 0, 12, 0), []Setting{{SettingInitialWindowSize, SettingPersistValue, 0x0a0b0c0d}}}},
		{"SET-v3-020304", &SettingsFrame{ctl(3, FrameSettings, 0, 12, 0), []Setting{{0x020304, SettingPersistValue, 0x0a0b0c0d}}}},
		{"SET-v2-020304", &SettingsFrame{ctl(2, FrameSettings, 0, 12, 0), []Setting{{0x020304, SettingPersistValue, 0x0a0b0c0d}}}},
		{"SET-v3-MCS-IWS", &SettingsFrame{ctl(3, FrameSettings, 0, 20, 0), []Setting{{SettingMaxConcurrentStreams, 0, 100}, {SettingInitialWindowSize, 0, 65536}}}},
		{"SET-v2-MCS-IWS", &SettingsFrame{ctl(2, FrameSettings, 0, 20, 0), []Setting{{SettingMaxConcurrentStreams, 0, 100}, {SettingInitialWindowSize, 0, 65536}}}},
		{"SET-v3-empty", &SettingsFrame{ctl(3, FrameSettings, 0, 4, 0), []Setting{}}},
		{"SET-v3-clear-persisted", &SettingsFrame{ctl(3, FrameSettings, FlagClearSettings, 12, 0), []Setting{{SettingMaxConcurrentStreams, SettingPersisted, 1000}}}},
		{"WU-v3-1-1", &WindowUpdateFrame{ctl(3, FrameWindowUpdate, 0, 8, 1), 1}},
		{"WU-v3-1-max", &WindowUpdateFrame{ctl(3, FrameWindowUpdate, 0, 8, 1), 0x7fffffff}},
		{"WU-v3-1-64k", &WindowUpdateFrame{ctl(3, FrameWindowUpdate, 0, 8, 1), 65536}},
		{"WU-v31-session-1M", &WindowUpdateFrame{ctl(3, FrameWindowUpdate, 0, 8, 0), 1 << 20}},
		{"GA-v3-0-OK", &GoAwayFrame{ctl(3, FrameGoAway, 0, 8, 0), 0, GoAwayOK}},
		{"GA-v2-0", &GoAwayFrame{ctl(2, FrameGoAway, 0, 4, 0), 0, GoAwayOK}},
		{"GA-v3-max-INTERNAL", &GoAwayFrame{ctl(3, FrameGoAway, 0, 8, 0), MaxStreamID, GoAwayInternalError}},
		{"GA-v2-max", &GoAwayFrame{ctl(2, FrameGoAway, 0, 4, 0), MaxStreamID, GoAwayOK}},
		{"GA-v3-7-PROTOCOL", &GoAwayFrame{ctl(3, FrameGoAway, 0, 8, 0), 7, GoAwayProtocolError}},
		{"DATA-1-FIN-hello", &DataFrame{dataHdr(1, FlagFin, 5), []byte("hello")}},
		{"DATA-1-FIN-empty", &DataFrame{dataHdr(1, FlagFin, 0), []byte{}}},
		{"DATA-2-empty", &DataFrame{dataHdr(2, 0, 0), []byte{}}},
		{"NOOP-v2", &NoopFrame{ctl(2, FrameNoop, 0, 0, 0)}},
		{"SYN-v3-uncompressed", &SynStreamFrame{ctl(3, FrameSynStream, 0, 0x2a, 1), 0, 7, 0, block("SYN-v3-uncompressed", 10)}},
		{"ZV3-SYN-chromium", &SynStreamFrame{ctl(3, FrameSynStream, 0, 0x37, 1), 0, 4, 0, block("ZV3-SYN-chromium", 10)}},
		{"ZV3-SYN-chromium-simd", &SynStreamFrame{ctl(3, FrameSynStream, 0, 0x32, 1), 0, 4, 0, block("ZV3-SYN-chromium-simd", 10)}},
		{"ZV3-SYN-chromium-2012", &SynStreamFrame{ctl(3, FrameSynStream, 0, 0x27, 1), 0, 4, 0, block("ZV3-SYN-chromium-2012", 10)}},
		{"ZV3-REPLY-chromium", &SynReplyFrame{ctl(3, FrameSynReply, 0, 0x31, 1), block("ZV3-REPLY-chromium", 4)}},
		{"ZV3-HEADERS-chromium", &HeadersFrame{ctl(3, FrameHeaders, 0, 0x31, 1), block("ZV3-HEADERS-chromium", 4)}},
		{"ZV3-SYN-spdystream", &SynStreamFrame{ctl(3, FrameSynStream, 0, 0x28, 1), 0, 4, 0, block("ZV3-SYN-spdystream", 10)}},
		{"ZV2-SYN-chromium", &SynStreamFrame{ctl(2, FrameSynStream, 0, 0x36, 1), 0, 2, 0, block("ZV2-SYN-chromium", 10)}},
		{"ZV2-SYN-chromium-2012", &SynStreamFrame{ctl(2, FrameSynStream, 0, 0x25, 1), 0, 2, 0, block("ZV2-SYN-chromium-2012", 10)}},
		{"ZV2-REPLY-chromium", &SynReplyFrame{ctl(2, FrameSynReply, 0, 0x32, 1), block("ZV2-REPLY-chromium", 6)}},
		{"ZV2-HEADERS-chromium", &HeadersFrame{ctl(2, FrameHeaders, 0, 0x32, 1), block("ZV2-HEADERS-chromium", 6)}},
		{"ZV3-SYN-browser", &SynStreamFrame{ctl(3, FrameSynStream, FlagFin, 0x41a, 1), 0, 0, 0, block("ZV3-SYN-browser", 10)}},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen[tc.name] = true
			wire := vector(t, tc.name)
			got := readOne(t, wire)
			if diff := cmp.Diff(tc.want, got, equateEmpty); diff != "" {
				t.Errorf("ReadFrame mismatch (-want +got):\n%s", diff)
			}
			// Write with the frame's own version through a Framer of the
			// other version: the frame's version wins.
			other := Version3
			if tc.want.Header().Version == Version3 {
				other = Version2
			}
			var buf bytes.Buffer
			if err := NewFramer(&buf, nil, other).WriteFrame(tc.want); err != nil {
				t.Fatalf("WriteFrame: %v", err)
			}
			if !bytes.Equal(buf.Bytes(), wire) {
				t.Errorf("WriteFrame wrote\n% x\nwant\n% x", buf.Bytes(), wire)
			}
			if sb, ok := got.(*SynStreamFrame); ok && strings.HasPrefix(tc.name, "Z") {
				// Section 8 blocks are whole zlib blocks: header first,
				// sync-flush marker last.
				if !bytes.HasSuffix(sb.HeaderBlock, []byte{0, 0, 0xff, 0xff}) {
					t.Errorf("header block does not end with the sync flush: % x", sb.HeaderBlock)
				}
			}
		})
	}
	for name := range specVectors {
		if !seen[name] && !strings.HasPrefix(name, "NEG-") {
			t.Errorf("vector %s is not tested", name)
		}
	}
}

// TestSpecVectorsTyped writes each vector through the typed Write methods
// of a Framer of the vector's version.
func TestSpecVectorsTyped(t *testing.T) {
	tests := []struct {
		name  string
		v     Version
		write func(*Framer) error
	}{
		{"PING-v3-1", 3, func(f *Framer) error { return f.WritePing(1) }},
		{"PING-v2-1", 2, func(f *Framer) error { return f.WritePing(1) }},
		{"RST-v3-max-INTERNAL", 3, func(f *Framer) error { return f.WriteRstStream(MaxStreamID, StatusInternalError) }},
		{"RST-v2-1-PROTOCOL", 2, func(f *Framer) error { return f.WriteRstStream(1, StatusProtocolError) }},
		{"SET-v3-020304", 3, func(f *Framer) error { return f.WriteSettings(0, Setting{0x020304, SettingPersistValue, 0x0a0b0c0d}) }},
		{"SET-v2-020304", 2, func(f *Framer) error { return f.WriteSettings(0, Setting{0x020304, SettingPersistValue, 0x0a0b0c0d}) }},
		{"SET-v2-MCS-IWS", 2, func(f *Framer) error {
			return f.WriteSettings(0, Setting{SettingMaxConcurrentStreams, 0, 100}, Setting{SettingInitialWindowSize, 0, 65536})
		}},
		{"SET-v3-empty", 3, func(f *Framer) error { return f.WriteSettings(0) }},
		{"SET-v3-clear-persisted", 3, func(f *Framer) error {
			return f.WriteSettings(FlagClearSettings, Setting{SettingMaxConcurrentStreams, SettingPersisted, 1000})
		}},
		{"WU-v31-session-1M", 3, func(f *Framer) error { return f.WriteWindowUpdate(0, 1<<20) }},
		{"WU-v3-1-max", 3, func(f *Framer) error { return f.WriteWindowUpdate(1, 0x7fffffff) }},
		{"GA-v3-7-PROTOCOL", 3, func(f *Framer) error { return f.WriteGoAway(7, GoAwayProtocolError) }},
		{"GA-v2-max", 2, func(f *Framer) error { return f.WriteGoAway(MaxStreamID, GoAwayOK) }},
		{"DATA-1-FIN-hello", 3, func(f *Framer) error { return f.WriteData(1, true, []byte("hello")) }},
		{"DATA-2-empty", 2, func(f *Framer) error { return f.WriteData(2, false, nil) }},
		{"NOOP-v2", 2, func(f *Framer) error { return f.WriteNoop() }},
		{"ZV3-SYN-chromium", 3, func(f *Framer) error {
			return f.WriteSynStream(1, 0, 4, 0, vector(t, "ZV3-SYN-chromium")[18:])
		}},
		{"ZV2-SYN-chromium", 2, func(f *Framer) error {
			return f.WriteSynStream(1, 0, 2, 0, vector(t, "ZV2-SYN-chromium")[18:])
		}},
		{"ZV3-REPLY-chromium", 3, func(f *Framer) error { return f.WriteSynReply(1, 0, vector(t, "ZV3-REPLY-chromium")[12:]) }},
		{"ZV2-REPLY-chromium", 2, func(f *Framer) error { return f.WriteSynReply(1, 0, vector(t, "ZV2-REPLY-chromium")[14:]) }},
		{"ZV3-HEADERS-chromium", 3, func(f *Framer) error { return f.WriteHeaders(1, 0, vector(t, "ZV3-HEADERS-chromium")[12:]) }},
		{"ZV2-HEADERS-chromium", 2, func(f *Framer) error { return f.WriteHeaders(1, 0, vector(t, "ZV2-HEADERS-chromium")[14:]) }},
		{"ZV3-SYN-browser", 3, func(f *Framer) error {
			return f.WriteSynStream(1, 0, 0, FlagFin, vector(t, "ZV3-SYN-browser")[18:])
		}},
	}
	for _, tc := range tests {
		var buf bytes.Buffer
		if err := tc.write(NewFramer(&buf, nil, tc.v)); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if want := vector(t, tc.name); !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%s: wrote\n% x\nwant\n% x", tc.name, buf.Bytes(), want)
		}
	}
}

// TestNegativeVectors checks the section 10 vectors.
func TestNegativeVectors(t *testing.T) {
	wantConnErr := func(name string) {
		t.Helper()
		_, err := NewFramer(nil, bytes.NewReader(vector(t, name)), Version3).ReadFrame()
		var ce *ConnectionError
		if !errors.As(err, &ce) || ce.Status != GoAwayProtocolError {
			t.Errorf("%s: got %v, want a session error PROTOCOL_ERROR", name, err)
		}
	}
	wantConnErr("NEG-short-syn")
	wantConnErr("NEG-long-ping")
	wantConnErr("NEG-rst-status0")

	// An unknown control type is surfaced, its payload skipped, and the
	// next frame is read normally.
	in := append(vector(t, "NEG-unknown-type"), vector(t, "PING-v3-1")...)
	fr := NewFramer(nil, bytes.NewReader(in), Version3)
	f, err := fr.ReadFrame()
	want := &UnknownFrame{ctl(3, 11, 0, 2, 0), []byte{0xd4, 0x74}}
	if err != nil || !cmp.Equal(f, Frame(want), equateEmpty) {
		t.Errorf("NEG-unknown-type: got %v, %v; want %v", f, err, want)
	}
	if f, err := fr.ReadFrame(); err != nil || f.(*PingFrame).ID != 1 {
		t.Errorf("frame after the unknown one: %v, %v", f, err)
	}

	// The overflow pair is two valid frames: overflow is a flow-control
	// matter (package flowctl), not a framing one.
	fr = NewFramer(nil, bytes.NewReader(vector(t, "NEG-wu-overflow-pair")), Version3)
	for _, delta := range []uint32{0x7fffffff, 1} {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if wu := f.(*WindowUpdateFrame); wu.StreamID != 1 || wu.DeltaWindowSize != delta {
			t.Errorf("got %v, want delta %d", wu, delta)
		}
	}
}
