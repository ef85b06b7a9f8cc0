package framing

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
)

// ctlBytes builds a control frame by hand: version, type, flags and a raw
// payload whose length goes in the header.
func ctlBytes(v Version, t FrameType, flags Flags, payload ...byte) []byte {
	n := len(payload)
	b := []byte{0x80 | byte(v>>8), byte(v), byte(t >> 8), byte(t), byte(flags), byte(n >> 16), byte(n >> 8), byte(n)}
	return append(b, payload...)
}

func dataBytes(id uint32, flags Flags, payload ...byte) []byte {
	n := len(payload)
	b := []byte{byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id), byte(flags), byte(n >> 16), byte(n >> 8), byte(n)}
	return append(b, payload...)
}

func u32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestReadRules covers every rule ReadFrame enforces, with the kind of
// error and the status code the protocol prescribes for it.
func TestReadRules(t *testing.T) {
	const (
		ok = iota
		sessionErr
		streamErr
	)
	block := []byte{0x78, 0x9c} // any bytes: blocks are opaque here
	tests := []struct {
		name   string
		in     []byte
		kind   int
		status StatusCode // for stream errors
		id     StreamID   // for stream errors
	}{
		// SYN_STREAM
		{"syn_stream ok", ctlBytes(3, FrameSynStream, FlagFin|FlagUnidirectional, cat(u32(2), u32(1), []byte{0xe0, 0}, block)...), ok, 0, 0},
		{"syn_stream undefined flags ignored", ctlBytes(3, FrameSynStream, 0xfc, cat(u32(1), u32(0), []byte{0, 0})...), ok, 0, 0},
		{"syn_stream stream 0", ctlBytes(3, FrameSynStream, 0, cat(u32(0), u32(0), []byte{0, 0}, block)...), sessionErr, 0, 0},
		{"syn_stream reserved bit only", ctlBytes(3, FrameSynStream, 0, cat(u32(1<<31), u32(0), []byte{0, 0}, block)...), sessionErr, 0, 0},
		{"syn_stream short", ctlBytes(3, FrameSynStream, 0, cat(u32(1), u32(0), []byte{0})...), sessionErr, 0, 0},
		{"syn_stream v2 below 12", ctlBytes(2, FrameSynStream, 0, cat(u32(1), u32(0), []byte{0, 0}, block[:1])...), sessionErr, 0, 0},
		{"syn_stream v2 at 12", ctlBytes(2, FrameSynStream, 0, cat(u32(1), u32(0), []byte{0, 0}, block)...), ok, 0, 0},
		// SYN_REPLY and HEADERS
		{"syn_reply ok", ctlBytes(3, FrameSynReply, FlagFin, cat(u32(1), block)...), ok, 0, 0},
		{"syn_reply stream 0", ctlBytes(3, FrameSynReply, 0, cat(u32(0), block)...), sessionErr, 0, 0},
		{"syn_reply short", ctlBytes(3, FrameSynReply, 0, 0, 0, 1), sessionErr, 0, 0},
		{"syn_reply v2 below 8", ctlBytes(2, FrameSynReply, 0, cat(u32(1), []byte{0, 0, 1})...), sessionErr, 0, 0},
		{"headers ok", ctlBytes(3, FrameHeaders, 0, cat(u32(1), block)...), ok, 0, 0},
		{"headers stream 0", ctlBytes(3, FrameHeaders, 0, cat(u32(0), block)...), sessionErr, 0, 0},
		{"headers v2 below 8", ctlBytes(2, FrameHeaders, 0, cat(u32(1), []byte{0, 0})...), sessionErr, 0, 0},
		// RST_STREAM
		{"rst ok", ctlBytes(3, FrameRstStream, 0, cat(u32(1), u32(5))...), ok, 0, 0},
		{"rst unknown status surfaced", ctlBytes(3, FrameRstStream, 0, cat(u32(1), u32(99))...), ok, 0, 0},
		{"rst length 7", ctlBytes(3, FrameRstStream, 0, cat(u32(1), u32(5))[:7]...), sessionErr, 0, 0},
		{"rst length 9", ctlBytes(3, FrameRstStream, 0, cat(u32(1), u32(5), []byte{0})...), sessionErr, 0, 0},
		{"rst flags", ctlBytes(3, FrameRstStream, 1, cat(u32(1), u32(5))...), sessionErr, 0, 0},
		{"rst stream 0", ctlBytes(3, FrameRstStream, 0, cat(u32(0), u32(5))...), sessionErr, 0, 0},
		{"rst status 0", ctlBytes(3, FrameRstStream, 0, cat(u32(1), u32(0))...), sessionErr, 0, 0},
		// SETTINGS
		{"settings count too high", ctlBytes(3, FrameSettings, 0, cat(u32(2), u32(7), u32(1))...), sessionErr, 0, 0},
		{"settings count too low", ctlBytes(3, FrameSettings, 0, cat(u32(0), u32(7), u32(1))...), sessionErr, 0, 0},
		{"settings huge count", ctlBytes(3, FrameSettings, 0, cat(u32(0xffffffff), u32(7), u32(1))...), sessionErr, 0, 0},
		{"settings short", ctlBytes(3, FrameSettings, 0, 0, 0, 0), sessionErr, 0, 0},
		{"settings unknown id surfaced", ctlBytes(3, FrameSettings, 0, cat(u32(1), u32(0x00abcdef), u32(1))...), ok, 0, 0},
		// NOOP
		{"noop v2 ok", ctlBytes(2, FrameNoop, 0), ok, 0, 0},
		{"noop v2 payload", ctlBytes(2, FrameNoop, 0, 1), sessionErr, 0, 0},
		{"noop v2 flags", ctlBytes(2, FrameNoop, 1), sessionErr, 0, 0},
		{"noop v3 is unknown", ctlBytes(3, FrameNoop, 0, 1, 2), ok, 0, 0},
		// PING
		{"ping id 0 surfaced", ctlBytes(3, FramePing, 0, u32(0)...), ok, 0, 0},
		{"ping length 3", ctlBytes(3, FramePing, 0, 0, 0, 1), sessionErr, 0, 0},
		{"ping flags", ctlBytes(3, FramePing, 1, u32(1)...), sessionErr, 0, 0},
		// GOAWAY
		{"goaway v3 length 4", ctlBytes(3, FrameGoAway, 0, u32(1)...), sessionErr, 0, 0},
		{"goaway v3 length 12", ctlBytes(3, FrameGoAway, 0, cat(u32(1), u32(0), u32(0))...), sessionErr, 0, 0},
		{"goaway v2 length 8 (node)", ctlBytes(2, FrameGoAway, 0, cat(u32(1), u32(1))...), ok, 0, 0},
		{"goaway v2 length 6", ctlBytes(2, FrameGoAway, 0, cat(u32(1), []byte{0, 0})...), sessionErr, 0, 0},
		{"goaway flags", ctlBytes(3, FrameGoAway, 1, cat(u32(1), u32(0))...), sessionErr, 0, 0},
		{"goaway unknown status surfaced", ctlBytes(3, FrameGoAway, 0, cat(u32(1), u32(7))...), ok, 0, 0},
		// WINDOW_UPDATE
		{"window_update session", ctlBytes(3, FrameWindowUpdate, 0, cat(u32(0), u32(1))...), ok, 0, 0},
		{"window_update delta 0", ctlBytes(3, FrameWindowUpdate, 0, cat(u32(5), u32(0))...), streamErr, StatusProtocolError, 5},
		{"window_update delta reserved bit only", ctlBytes(3, FrameWindowUpdate, 0, cat(u32(5), u32(1<<31))...), streamErr, StatusProtocolError, 5},
		{"window_update session delta 0", ctlBytes(3, FrameWindowUpdate, 0, cat(u32(0), u32(0))...), sessionErr, 0, 0},
		{"window_update length 4", ctlBytes(3, FrameWindowUpdate, 0, u32(1)...), sessionErr, 0, 0},
		{"window_update flags", ctlBytes(3, FrameWindowUpdate, 1, cat(u32(1), u32(1))...), sessionErr, 0, 0},
		{"window_update v2 is unknown", ctlBytes(2, FrameWindowUpdate, 0, cat(u32(1), u32(0))...), ok, 0, 0},
		// CREDENTIAL
		{"credential ok", ctlBytes(3, FrameCredential, 0, cat([]byte{0, 1}, u32(2), []byte{9, 9}, u32(1), []byte{7}, u32(0))...), ok, 0, 0},
		{"credential no certificates", ctlBytes(3, FrameCredential, 0, cat([]byte{0, 1}, u32(0))...), ok, 0, 0},
		{"credential slot 0", ctlBytes(3, FrameCredential, 0, cat([]byte{0, 0}, u32(0))...), sessionErr, 0, 0},
		{"credential short", ctlBytes(3, FrameCredential, 0, 0, 1, 0, 0, 0), sessionErr, 0, 0},
		{"credential proof overruns", ctlBytes(3, FrameCredential, 0, cat([]byte{0, 1}, u32(3), []byte{1, 2})...), sessionErr, 0, 0},
		{"credential huge proof length", ctlBytes(3, FrameCredential, 0, cat([]byte{0, 1}, u32(0xffffffff))...), sessionErr, 0, 0},
		{"credential certificate overruns", ctlBytes(3, FrameCredential, 0, cat([]byte{0, 1}, u32(0), u32(5), []byte{1})...), sessionErr, 0, 0},
		{"credential trailing bytes", ctlBytes(3, FrameCredential, 0, cat([]byte{0, 1}, u32(0), []byte{1, 2})...), sessionErr, 0, 0},
		{"credential flags", ctlBytes(3, FrameCredential, 1, cat([]byte{0, 1}, u32(0))...), sessionErr, 0, 0},
		{"credential v2 is unknown", ctlBytes(2, FrameCredential, 0, 1), ok, 0, 0},
		// DATA
		{"data stream 0", dataBytes(0, 0, 1), sessionErr, 0, 0},
		{"data compressed flag", dataBytes(3, FlagDataCompressed, 1), streamErr, StatusProtocolError, 3},
		{"data undefined flags ignored", dataBytes(3, 0xf0|FlagFin, 1), ok, 0, 0},
		{"data reserved bit", dataBytes(1<<31|3, 0, 1), ok, 0, 0},
		// Unknown versions and types
		{"version 1", ctlBytes(1, FrameSynStream, 0, 1, 2, 3), ok, 0, 0},
		{"version 4", ctlBytes(4, FramePing, 0, 1), ok, 0, 0},
		{"type 0", ctlBytes(3, 0, 0), ok, 0, 0},
		{"type 0xffff", ctlBytes(3, 0xffff, 0xff, 1, 2), ok, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A PING after the frame shows whether the Framer stays in step.
			in := cat(tc.in, ctlBytes(3, FramePing, 0, u32(77)...))
			fr := NewFramer(nil, bytes.NewReader(in), Version3)
			f, err := fr.ReadFrame()
			var ce *ConnectionError
			var se *StreamError
			switch tc.kind {
			case ok:
				if err != nil {
					t.Fatalf("ReadFrame: %v", err)
				}
			case sessionErr:
				if !errors.As(err, &ce) || ce.Status != GoAwayProtocolError {
					t.Fatalf("got %v, %v; want a session error PROTOCOL_ERROR", f, err)
				}
				if f != nil {
					t.Errorf("frame returned with a session error: %v", f)
				}
			case streamErr:
				if !errors.As(err, &se) || se.Status != tc.status || se.StreamID != tc.id {
					t.Fatalf("got %v; want a stream error %v on stream %d", err, tc.status, tc.id)
				}
				if f == nil || f.Header().StreamID != tc.id {
					t.Errorf("stream error without its frame: %v", f)
				}
			}
			if err == nil {
				if _, unknown := f.(*UnknownFrame); !unknown && f.Header().Flags&^allowedFlags[f.Header().Type] != 0 {
					t.Errorf("undefined flags kept: %v", f.Header())
				}
			}
			next, err := fr.ReadFrame()
			if err != nil || next.(*PingFrame).ID != 77 {
				t.Errorf("next frame: %v, %v; the Framer lost its place", next, err)
			}
		})
	}
}

func TestReadFields(t *testing.T) {
	// Reserved bits are masked off stream ids, associated ids and deltas.
	f := readOne(t, ctlBytes(3, FrameSynStream, 0, cat(u32(1<<31|5), u32(1<<31|3), []byte{0xff, 9}, []byte{1, 2})...))
	syn := f.(*SynStreamFrame)
	if syn.StreamID != 5 || syn.AssociatedToStreamID != 3 || syn.Priority != 7 || syn.Slot != 9 {
		t.Errorf("v3 SYN_STREAM fields: %+v", syn)
	}
	// SPDY/2: 2-bit priority in the top bits, no slot.
	f = readOne(t, ctlBytes(2, FrameSynStream, 0, cat(u32(5), u32(0), []byte{0xff, 0xff}, []byte{1, 2})...))
	if syn := f.(*SynStreamFrame); syn.Priority != 3 || syn.Slot != 0 {
		t.Errorf("v2 SYN_STREAM fields: %+v", syn)
	}
	f = readOne(t, ctlBytes(3, FrameWindowUpdate, 0, cat(u32(1<<31|9), u32(1<<31|10))...))
	if wu := f.(*WindowUpdateFrame); wu.StreamID != 9 || wu.DeltaWindowSize != 10 {
		t.Errorf("WINDOW_UPDATE fields: %+v", wu)
	}
	f = readOne(t, ctlBytes(3, FrameGoAway, 0, cat(u32(1<<31|9), u32(1))...))
	if ga := f.(*GoAwayFrame); ga.LastGoodStreamID != 9 || ga.StreamID != 0 {
		t.Errorf("GOAWAY fields: %+v", ga)
	}
	// node's 8-byte SPDY/2 GOAWAY keeps its status.
	f = readOne(t, ctlBytes(2, FrameGoAway, 0, cat(u32(3), u32(2))...))
	if ga := f.(*GoAwayFrame); ga.LastGoodStreamID != 3 || ga.Status != GoAwayInternalError {
		t.Errorf("v2 GOAWAY with status: %+v", ga)
	}
	// Duplicate SETTINGS ids: all are surfaced, Value returns the first.
	f = readOne(t, ctlBytes(3, FrameSettings, 0, cat(u32(2), u32(4), u32(10), u32(4), u32(20))...))
	st := f.(*SettingsFrame)
	if len(st.Settings) != 2 {
		t.Fatalf("settings: %v", st.Settings)
	}
	if s, ok := st.Value(SettingMaxConcurrentStreams); !ok || s.Value != 10 {
		t.Errorf("Value = %v, %v; want the first entry", s, ok)
	}
	if _, ok := st.Value(SettingInitialWindowSize); ok {
		t.Error("Value found an absent id")
	}
	// CREDENTIAL fields.
	f = readOne(t, ctlBytes(3, FrameCredential, 0, cat([]byte{0, 2}, u32(2), []byte{9, 8}, u32(1), []byte{7}, u32(0))...))
	cr := f.(*CredentialFrame)
	if cr.Slot != 2 || !bytes.Equal(cr.Proof, []byte{9, 8}) || len(cr.Certificates) != 2 || !bytes.Equal(cr.Certificates[0], []byte{7}) || len(cr.Certificates[1]) != 0 {
		t.Errorf("CREDENTIAL fields: %+v", cr)
	}
}

func TestReadEOF(t *testing.T) {
	frame := ctlBytes(3, FramePing, 0, u32(1)...)
	for n := 0; n < len(frame); n++ {
		fr := NewFramer(nil, bytes.NewReader(frame[:n]), Version3)
		_, err := fr.ReadFrame()
		want := io.ErrUnexpectedEOF
		if n == 0 {
			want = io.EOF
		}
		if err != want {
			t.Errorf("%d bytes: got %v, want %v", n, err, want)
		}
		if _, err2 := fr.ReadFrame(); err2 != err {
			t.Errorf("%d bytes: error not sticky: %v then %v", n, err, err2)
		}
	}
	// One byte at a time is still one frame.
	fr := NewFramer(nil, iotest.OneByteReader(bytes.NewReader(frame)), Version3)
	if f, err := fr.ReadFrame(); err != nil || f.(*PingFrame).ID != 1 {
		t.Errorf("one-byte reader: %v, %v", f, err)
	}
	// A reader error is returned as it is.
	boom := errors.New("boom")
	fr = NewFramer(nil, iotest.ErrReader(boom), Version3)
	if _, err := fr.ReadFrame(); err != boom {
		t.Errorf("reader error: got %v", err)
	}
}

func TestFrameTooLarge(t *testing.T) {
	// A DATA frame over the limit: stream error FRAME_TOO_LARGE, the
	// payload is skipped, the frame's header is returned for accounting,
	// and the next frame is read.
	big := dataBytes(3, 0, make([]byte, 100)...)
	fr := NewFramer(nil, bytes.NewReader(cat(big, dataBytes(5, FlagFin, 1))), Version3)
	fr.MaxDataFrameSize = 99
	f, err := fr.ReadFrame()
	var se *StreamError
	if !errors.As(err, &se) || se.Status != StatusFrameTooLarge || se.StreamID != 3 || !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("got %v, want FRAME_TOO_LARGE on stream 3", err)
	}
	if f.Header().Length != 100 || len(f.(*DataFrame).Data) != 0 {
		t.Errorf("frame with the error: %v", f)
	}
	if f, err := fr.ReadFrame(); err != nil || f.Header().StreamID != 5 {
		t.Errorf("next frame: %v, %v", f, err)
	}
	// SPDY/2 has no FRAME_TOO_LARGE.
	fr = NewFramer(nil, bytes.NewReader(big), Version2)
	fr.MaxDataFrameSize = 99
	if _, err := fr.ReadFrame(); !errors.As(err, &se) || se.Status != StatusProtocolError {
		t.Errorf("v2: got %v, want PROTOCOL_ERROR", err)
	}

	// A header-bearing frame over the limit: its block cannot be inflated,
	// so RST FRAME_TOO_LARGE and then GOAWAY; the Framer stays failed.
	syn := ctlBytes(3, FrameSynStream, 0, cat(u32(7), u32(0), []byte{0, 0}, make([]byte, MinMaxControlFrameSize))...)
	fr = NewFramer(nil, bytes.NewReader(syn), Version3)
	fr.MaxControlFrameSize = 1 // raised to the minimum the protocol requires
	_, err = fr.ReadFrame()
	var ce *ConnectionError
	if !errors.As(err, &ce) || !errors.As(err, &se) || se.StreamID != 7 || se.Status != StatusFrameTooLarge || !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("got %v, want a session error wrapping FRAME_TOO_LARGE on stream 7", err)
	}
	if _, err2 := fr.ReadFrame(); err2 != err {
		t.Errorf("error not sticky: %v", err2)
	}
	// Exactly at the minimum is accepted.
	ok := ctlBytes(3, FrameSynStream, 0, cat(u32(7), u32(0), []byte{0, 0}, make([]byte, MinMaxControlFrameSize-10))...)
	fr = NewFramer(nil, bytes.NewReader(ok), Version3)
	fr.MaxControlFrameSize = 1
	if _, err := fr.ReadFrame(); err != nil {
		t.Errorf("8192-byte SYN_STREAM refused: %v", err)
	}
	// Any other control frame over the limit is a session error.
	set := ctlBytes(3, FrameSettings, 0, make([]byte, DefaultMaxControlFrameSize+1)...)
	_, err = NewFramer(nil, bytes.NewReader(set), Version3).ReadFrame()
	if !errors.As(err, &ce) || errors.As(err, &se) || !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("big SETTINGS: got %v", err)
	}
}

// TestNoAllocationFromLength: a length field without the bytes behind it
// must not make the Framer allocate the length.
func TestNoAllocationFromLength(t *testing.T) {
	hdr := dataBytes(1, 0)
	hdr[5], hdr[6], hdr[7] = 0xff, 0xff, 0xff // 16 MiB claimed
	in := cat(hdr, make([]byte, 100))         // 100 bytes delivered
	fr := NewFramer(nil, bytes.NewReader(in), Version3)
	fr.MaxDataFrameSize = MaxPayloadLen
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := fr.ReadFrame()
	runtime.ReadMemStats(&after)
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 256<<10 {
		t.Errorf("allocated %d bytes for a frame that delivered 100", got)
	}
	if cap(fr.rbuf) > 2*initialReadBuffer {
		t.Errorf("payload buffer grew to %d bytes", cap(fr.rbuf))
	}
	// The same for a SETTINGS count: checked against the length first.
	set := ctlBytes(3, FrameSettings, 0, cat(u32(0x1fffffff), u32(1))...)
	if _, err := NewFramer(nil, bytes.NewReader(set), Version3).ReadFrame(); err == nil {
		t.Error("huge SETTINGS count accepted")
	}
}

func TestDataBufferOwnsPayload(t *testing.T) {
	var wire bytes.Buffer
	w := NewFramer(&wire, nil, Version3)
	w.WriteData(1, false, []byte("first"))
	w.WriteData(1, true, []byte("second"))
	w.WriteData(1, false, make([]byte, 70<<10)) // above the limit: reused buffer
	var given [][]byte
	r := NewFramer(nil, &wire, Version3)
	r.DataBuffer = func(n int) []byte {
		b := make([]byte, n, n+10)
		given = append(given, b)
		return b
	}
	f1, err := r.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	d1 := f1.(*DataFrame).Data
	f2, err := r.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	if string(d1) != "first" || string(f2.(*DataFrame).Data) != "second" {
		t.Fatalf("payloads %q, %q: the first was overwritten", d1, f2.(*DataFrame).Data)
	}
	if len(given) != 2 || &given[0][0] != &d1[0] {
		t.Fatal("payload not read into the supplied buffer")
	}
	f3, err := r.ReadFrame()
	if err != nil || len(f3.(*DataFrame).Data) != 70<<10 {
		t.Fatalf("large frame: %v", err)
	}
	if len(given) != 2 {
		t.Fatal("DataBuffer called for a payload above 64 KiB")
	}
}
