package framing

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStrings(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{Version2.String(), "SPDY/2"},
		{Version3.String(), "SPDY/3"},
		{Version(4).String(), "version 4"},
		{FrameSynStream.String(), "SYN_STREAM"},
		{FrameCredential.String(), "CREDENTIAL"},
		{FrameType(11).String(), "UNKNOWN_TYPE_11"},
		{StatusProtocolError.String(), "PROTOCOL_ERROR"},
		{StatusFrameTooLarge.String(), "FRAME_TOO_LARGE"},
		{StatusCode(0).String(), "STATUS_0"},
		{StatusCode(12).String(), "STATUS_12"},
		{GoAwayOK.String(), "OK"},
		{GoAwayInternalError.String(), "INTERNAL_ERROR"},
		{GoAwayStatus(7).String(), "GOAWAY_7"},
		{SettingInitialWindowSize.String(), "INITIAL_WINDOW_SIZE"},
		{SettingID(0).String(), "SETTING_0"},
		{SettingID(0x020304).String(), "SETTING_131844"},
		{Setting{SettingMaxConcurrentStreams, SettingPersistValue | SettingPersisted | 0x10, 5}.String(),
			"MAX_CONCURRENT_STREAMS=5 PERSIST_VALUE PERSISTED flags=0x10"},
		{(&SynStreamFrame{ctl(3, FrameSynStream, FlagFin|FlagUnidirectional, 12, 2), 1, 3, 0, []byte{1, 2}}).String(),
			"SYN_STREAM v3 stream=2 flags=FIN|UNIDIRECTIONAL len=12 assoc=1 pri=3 slot=0 block=2B"},
		{(&DataFrame{dataHdr(1, FlagFin|FlagDataCompressed|0x80, 3), nil}).String(), "DATA stream=1 flags=FIN|COMPRESSED|0x80 len=3"},
		{(&SettingsFrame{ctl(3, FrameSettings, FlagClearSettings, 4, 0), nil}).String(), "SETTINGS v3 flags=CLEAR_SETTINGS len=4 []"},
		{(&CredentialFrame{ctl(3, FrameCredential, 0, 10, 0), 1, []byte{1}, [][]byte{{2}}}).String(), "CREDENTIAL v3 len=10 slot=1 proof=1B certificates=1"},
		{(&UnknownFrame{ctl(9, 99, 0xff, 1, 0), []byte{1}}).String(), "UNKNOWN_TYPE_99 v9 flags=0xff len=1 payload=1B"},
		{(&NoopFrame{ctl(2, FrameNoop, 0, 0, 0)}).String(), "NOOP v2 len=0"},
		{(&SynReplyFrame{ctl(2, FrameSynReply, FlagFin, 8, 1), []byte{1, 2}}).String(), "SYN_REPLY v2 stream=1 flags=FIN len=8 block=2B"},
		{(&HeadersFrame{ctl(3, FrameHeaders, 0, 6, 1), []byte{1, 2}}).String(), "HEADERS v3 stream=1 len=6 block=2B"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if !StreamID(7).ClientInitiated() || StreamID(8).ClientInitiated() {
		t.Error("ClientInitiated parity")
	}
	if !FlagFin.Has(FlagFin) || Flags(0).Has(FlagFin) || !(FlagFin | FlagUnidirectional).Has(FlagUnidirectional) {
		t.Error("Flags.Has")
	}
	fin := []interface{ StreamEnded() bool }{
		&DataFrame{FrameHeader: FrameHeader{Flags: FlagFin}}, &SynStreamFrame{FrameHeader: FrameHeader{Flags: FlagFin}},
		&SynReplyFrame{FrameHeader: FrameHeader{Flags: FlagFin}}, &HeadersFrame{FrameHeader: FrameHeader{Flags: FlagFin}},
	}
	for _, f := range fin {
		if !f.StreamEnded() {
			t.Errorf("%T.StreamEnded() = false", f)
		}
	}
}

// TestCopyFrame: a copy survives the Framer reusing its frames and buffers.
func TestCopyFrame(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var buf bytes.Buffer
	w := NewFramer(&buf, nil, Version3)
	var written []Frame
	for range 300 {
		f := randomFrame(rng, Version3)
		if err := w.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
		written = append(written, f)
	}
	r := NewFramer(nil, &buf, Version3)
	var copies []Frame
	for range written {
		f, err := r.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		copies = append(copies, CopyFrame(f))
	}
	for i := range written {
		if diff := cmp.Diff(written[i], copies[i], equateEmpty, ignoreLength); diff != "" {
			t.Fatalf("copy %d changed after later reads:\n%s", i, diff)
		}
	}
	if CopyFrame(nil) != nil {
		t.Error("CopyFrame(nil) != nil")
	}
}
