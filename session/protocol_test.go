package session

import (
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/stream"
)

// The tests in this file drive a session with a scripted peer (peer_test.go)
// and check the frames it answers with against the error table of the
// protocol digest (spdy3.1.md §4, §5.4, §7.3).

// openStream opens a stream on s and reads its SYN_STREAM at the peer.
func openStream(t *testing.T, s *Session, p *peer, o *OpenOptions) (*stream.Stream, *framing.SynStreamFrame) {
	t.Helper()
	st, err := s.Open(testCtx(t), o)
	if err != nil {
		t.Fatal(err)
	}
	g := p.skipUntil("SYN_STREAM", func(g got) bool {
		switch g.Header().Type {
		case framing.FrameSynStream:
			return true
		case framing.FrameWindowUpdate, framing.FrameSynReply:
			return false // credit, and replies to streams the peer opened
		}
		t.Fatalf("got %v while waiting for SYN_STREAM", g.Frame)
		return false
	})
	syn := g.Frame.(*framing.SynStreamFrame)
	if syn.StreamID != st.ID() {
		t.Fatalf("SYN_STREAM for stream %d, Open returned stream %d", syn.StreamID, st.ID())
	}
	return st, syn
}

// accept returns the next stream the peer opened.
func accept(t *testing.T, s *Session) *stream.Stream {
	t.Helper()
	st, err := s.Accept(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// rawPairs builds an uncompressed SPDY/3 name/value block without checking
// any rule.
func rawPairs(pairs ...string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(pairs)/2))
	for _, s := range pairs {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

// wantReset checks that err is a reset of stream id with status, sent by
// this side (remote false) or by the peer.
func wantReset(t *testing.T, err error, id framing.StreamID, status framing.StatusCode, remote bool) {
	t.Helper()
	var re *stream.ResetError
	if !errors.As(err, &re) || re.StreamID != id || re.Status != status || re.Remote != remote {
		t.Fatalf("error %v, want a reset of stream %d with %v (remote %v)", err, id, status, remote)
	}
}

// wantProtocolError checks that the session ended with a *ProtocolError.
func wantProtocolError(t *testing.T, s *Session) {
	t.Helper()
	<-s.Done()
	var pe *ProtocolError
	if err := s.Err(); !errors.As(err, &pe) || pe.Status != framing.GoAwayProtocolError {
		t.Fatalf("session error %v, want a *ProtocolError with PROTOCOL_ERROR", err)
	}
}

// TestSynStreamErrors covers the SYN_STREAM rows of the validity table
// (§4.1) and of the error table (§7.3), at a server.
func TestSynStreamErrors(t *testing.T) {
	tests := []struct {
		name   string
		cfg    *Config
		script func(t *testing.T, s *Session, p *peer)
	}{
		{"id lower than an earlier one: GOAWAY", nil, func(t *testing.T, s *Session, p *peer) {
			p.synStream(3, 0, 0, 0)
			p.synStream(1, 0, 0, 0)
			p.expectGoAway(3, framing.GoAwayProtocolError)
			wantProtocolError(t, s)
		}},
		{"duplicate id: RST PROTOCOL_ERROR", nil, func(t *testing.T, s *Session, p *peer) {
			p.synStream(1, 0, 0, 0)
			p.synStream(1, 0, 0, 0)
			p.expectRst(1, framing.StatusProtocolError)
			p.syncQuiet()
		}},
		{"server parity: GOAWAY", nil, func(t *testing.T, s *Session, p *peer) {
			p.synStream(2, 0, 0, 0)
			p.expectGoAway(0, framing.GoAwayProtocolError)
			wantProtocolError(t, s)
		}},
		{"server parity after a good stream: GOAWAY", nil, func(t *testing.T, s *Session, p *peer) {
			p.synStream(1, 0, 0, 0)
			p.synStream(4, 0, 0, 0)
			p.expectGoAway(1, framing.GoAwayProtocolError)
			wantProtocolError(t, s)
		}},
		{"id 0: GOAWAY", nil, func(t *testing.T, s *Session, p *peer) {
			p.synStream(0, 0, 0, 0)
			p.expectGoAway(0, framing.GoAwayProtocolError)
			wantProtocolError(t, s)
		}},
		{"over MAX_CONCURRENT_STREAMS: REFUSED_STREAM", &Config{MaxConcurrentStreams: 2}, func(t *testing.T, s *Session, p *peer) {
			p.synStream(1, 0, 0, 0)
			p.synStream(3, 0, 0, 0)
			p.synStream(5, 0, 0, 0, field("refused", "yes"))
			p.expectRst(5, framing.StatusRefusedStream)
			p.syncQuiet()
			if n := s.Stats().StreamsRefused; n != 1 {
				t.Errorf("StreamsRefused = %d, want 1", n)
			}
			// The refusal counts against nothing: once a stream has
			// ended and been accepted (a queued stream holds its place,
			// reset or not), a new one is accepted.
			p.rst(1, framing.StatusCancel)
			p.syncQuiet()
			if st := accept(t, s); st.ID() != 1 {
				t.Fatalf("accepted stream %d, want 1", st.ID())
			}
			p.synStream(7, 0, 0, 0, field("refused", "no"))
			p.syncQuiet()
			var st *stream.Stream
			for _, want := range []framing.StreamID{3, 7} {
				if st = accept(t, s); st.ID() != want {
					t.Fatalf("accepted stream %d, want %d", st.ID(), want)
				}
			}
			// The refused stream's block was inflated: the context is in
			// step.
			if h := st.Headers(); len(h) != 1 || h[0] != field("refused", "no") {
				t.Fatalf("stream 7 headers %v", h)
			}
		}},
		{"unidirectional from a client: RST PROTOCOL_ERROR", nil, func(t *testing.T, s *Session, p *peer) {
			p.synStream(1, 0, 0, framing.FlagUnidirectional)
			p.expectRst(1, framing.StatusProtocolError)
			p.syncQuiet()
		}},
		{"SPDY/2 SYN_STREAM in a SPDY/3 session: RST UNSUPPORTED_VERSION", nil, func(t *testing.T, s *Session, p *peer) {
			p.write(&framing.SynStreamFrame{FrameHeader: framing.FrameHeader{Version: framing.Version2, Type: framing.FrameSynStream, StreamID: 1},
				HeaderBlock: []byte{1, 2, 3}})
			p.expectRst(1, framing.StatusUnsupportedVersion)
			p.syncQuiet()
		}},
		{"version 4 SYN_STREAM: RST UNSUPPORTED_VERSION", nil, func(t *testing.T, s *Session, p *peer) {
			payload := []byte{0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 1, 2, 3}
			p.write(&framing.UnknownFrame{FrameHeader: framing.FrameHeader{Control: true, Version: 4, Type: framing.FrameSynStream}, Payload: payload})
			p.expectRst(5, framing.StatusUnsupportedVersion)
			p.syncQuiet()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, p, _ := scripted(t, Server, tt.cfg)
			tt.script(t, s, p)
		})
	}
}

// TestDuplicateSynStreamKeepsSession checks that the stream error of a
// duplicate SYN_STREAM leaves the session and the compression context
// usable.
func TestDuplicateSynStreamKeepsSession(t *testing.T) {
	s, p, _ := scripted(t, Server, nil)
	p.synStream(1, 0, 0, 0, field("a", "1"))
	p.synStream(1, 0, 0, 0, field("a", "2"))
	p.expectRst(1, framing.StatusProtocolError)
	p.synStream(3, 0, 0, framing.FlagFin, field("b", "3"))
	accept(t, s) // stream 1, reset since
	st := accept(t, s)
	if st.ID() != 3 || len(st.Headers()) != 1 || st.Headers()[0] != field("b", "3") {
		t.Fatalf("stream %d headers %v, want stream 3 with b: 3", st.ID(), st.Headers())
	}
}

// TestSynReplyErrors covers the SYN_REPLY rows (§4.2, §7.3) at a client.
func TestSynReplyErrors(t *testing.T) {
	tests := []struct {
		name   string
		script func(t *testing.T, s *Session, p *peer, st *stream.Stream)
	}{
		{"second SYN_REPLY: STREAM_IN_USE", func(t *testing.T, s *Session, p *peer, st *stream.Stream) {
			p.synReply(1, 0)
			p.synReply(1, 0)
			p.expectRst(1, framing.StatusStreamInUse)
			_, err := st.Read(make([]byte, 1))
			wantReset(t, err, 1, framing.StatusStreamInUse, false)
		}},
		{"SYN_REPLY after the peer's FIN: STREAM_ALREADY_CLOSED", func(t *testing.T, s *Session, p *peer, st *stream.Stream) {
			p.synReply(1, framing.FlagFin)
			p.synReply(1, 0)
			p.expectRst(1, framing.StatusStreamAlreadyClosed)
		}},
		{"SYN_REPLY after DATA with FIN: STREAM_ALREADY_CLOSED", func(t *testing.T, s *Session, p *peer, st *stream.Stream) {
			p.synReply(1, 0)
			p.data(1, true, 3)
			p.synReply(1, 0)
			p.expectRst(1, framing.StatusStreamAlreadyClosed)
		}},
		{"SYN_REPLY for a stream never opened: INVALID_STREAM", func(t *testing.T, s *Session, p *peer, st *stream.Stream) {
			p.synReply(3, 0)
			p.expectRst(3, framing.StatusInvalidStream)
			// Stream 1 is untouched.
			p.synReply(1, framing.FlagFin, field("k", "v"))
			h, err := st.WaitHeaders(testCtx(t))
			if err != nil || len(h) != 1 || h[0] != field("k", "v") {
				t.Fatalf("WaitHeaders = %v, %v", h, err)
			}
		}},
		{"SYN_REPLY for a stream the peer opened: INVALID_STREAM", func(t *testing.T, s *Session, p *peer, st *stream.Stream) {
			p.synStream(2, 0, 0, 0)
			p.synReply(2, 0)
			p.expectRst(2, framing.StatusInvalidStream)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, p, _ := scripted(t, Client, nil)
			st, _ := openStream(t, s, p, nil)
			tt.script(t, s, p, st)
			p.syncQuiet()
		})
	}
}

// TestDataErrors covers the DATA rows of the wrong-state table (§5.4) and
// the error table (§7.3).
func TestDataErrors(t *testing.T) {
	tests := []struct {
		name   string
		role   Role
		script func(t *testing.T, s *Session, p *peer)
	}{
		{"never-opened peer stream: INVALID_STREAM", Server, func(t *testing.T, s *Session, p *peer) {
			p.data(5, false, 10)
			p.expectRst(5, framing.StatusInvalidStream)
		}},
		{"never-opened stream of ours: INVALID_STREAM", Server, func(t *testing.T, s *Session, p *peer) {
			p.data(4, false, 10)
			p.expectRst(4, framing.StatusInvalidStream)
		}},
		{"before SYN_REPLY on our stream: PROTOCOL_ERROR", Client, func(t *testing.T, s *Session, p *peer) {
			st, _ := openStream(t, s, p, nil)
			p.data(1, false, 10)
			p.expectRst(1, framing.StatusProtocolError)
			_, err := st.Read(make([]byte, 1))
			wantReset(t, err, 1, framing.StatusProtocolError, false)
		}},
		{"after the peer's FIN on SYN_STREAM: STREAM_ALREADY_CLOSED", Server, func(t *testing.T, s *Session, p *peer) {
			p.synStream(1, 0, 0, framing.FlagFin)
			p.data(1, false, 10)
			p.expectRst(1, framing.StatusStreamAlreadyClosed)
		}},
		{"after the peer's FIN on DATA: STREAM_ALREADY_CLOSED", Server, func(t *testing.T, s *Session, p *peer) {
			p.synStream(1, 0, 0, 0)
			p.data(1, true, 10)
			p.data(1, false, 10)
			p.expectRst(1, framing.StatusStreamAlreadyClosed)
		}},
		{"after the stream closed: PROTOCOL_ERROR", Client, func(t *testing.T, s *Session, p *peer) {
			st, _ := openStream(t, s, p, &OpenOptions{Fin: true})
			p.synReply(1, framing.FlagFin)
			<-st.Done()
			p.data(1, false, 10)
			p.expectRst(1, framing.StatusProtocolError)
		}},
		{"after a peer stream closed: PROTOCOL_ERROR", Server, func(t *testing.T, s *Session, p *peer) {
			p.synStream(1, 0, 0, framing.FlagFin)
			st := accept(t, s)
			st.CloseWrite()
			p.expectFin(1)
			<-st.Done()
			p.data(1, false, 10)
			p.expectRst(1, framing.StatusProtocolError)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, p, _ := scripted(t, tt.role, nil)
			tt.script(t, s, p)
			p.syncQuiet()
		})
	}
}

// TestTooManyInvalidFrames checks the §5.4 permission to end a session
// whose peer keeps sending frames for streams that are not open.
func TestTooManyInvalidFrames(t *testing.T) {
	s, p, _ := scripted(t, Server, nil)
	for i := 0; i <= maxInvalidFrames; i++ {
		p.data(framing.StreamID(2*i+1), false, 0)
	}
	for i := 0; i < maxInvalidFrames; i++ {
		p.expectRst(framing.StreamID(2*i+1), framing.StatusInvalidStream)
	}
	p.expectGoAway(0, framing.GoAwayProtocolError)
	wantProtocolError(t, s)
}

// TestHeaderBlockErrors covers the header block rows of §7.3: a block that
// inflates but breaks a name/value rule is a stream error, and the
// compression context stays usable.
func TestHeaderBlockErrors(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
	}{
		{"zero-length name", rawPairs("", "v")},
		{"leading NUL in value", rawPairs("a", "\x00b")},
		{"trailing NUL in value", rawPairs("a", "b\x00")},
		{"double NUL in value", rawPairs("a", "b\x00\x00c")},
		{"duplicate name", rawPairs("a", "1", "a", "2")},
		{"upper-case name", rawPairs("Abc", "1")},
		{"count larger than the pairs", append(binary.BigEndian.AppendUint32(nil, 3), rawPairs("a", "1")[4:]...)},
		{"bytes after the last pair", append(rawPairs("a", "1"), 0, 0)},
	}
	for _, tt := range tests {
		t.Run("SYN_STREAM "+tt.name, func(t *testing.T) {
			s, p, _ := scripted(t, Server, nil)
			p.write(&framing.SynStreamFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameSynStream, StreamID: 1}, HeaderBlock: p.rawBlock(tt.raw)})
			p.expectRst(1, framing.StatusProtocolError)
			// The context is still in step: the next block decodes.
			p.synStream(3, 0, 0, framing.FlagFin, field("ok", "yes"))
			st := accept(t, s)
			if st.ID() != 3 || len(st.Headers()) != 1 || st.Headers()[0] != field("ok", "yes") {
				t.Fatalf("accepted stream %d with %v, want stream 3 with ok: yes", st.ID(), st.Headers())
			}
			p.syncQuiet()
		})
		t.Run("HEADERS "+tt.name, func(t *testing.T) {
			s, p, _ := scripted(t, Server, nil)
			p.synStream(1, 0, 0, 0)
			p.write(&framing.HeadersFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameHeaders, StreamID: 1}, HeaderBlock: p.rawBlock(tt.raw)})
			p.expectRst(1, framing.StatusProtocolError)
			p.synStream(3, 0, 0, framing.FlagFin, field("ok", "yes"))
			accept(t, s)
			if st := accept(t, s); st.ID() != 3 || st.Headers()[0] != field("ok", "yes") {
				t.Fatalf("accepted stream %d with %v", st.ID(), st.Headers())
			}
			p.syncQuiet()
		})
	}
	t.Run("SYN_REPLY zero-length name", func(t *testing.T) {
		s, p, _ := scripted(t, Client, nil)
		st, _ := openStream(t, s, p, nil)
		p.write(&framing.SynReplyFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameSynReply, StreamID: 1}, HeaderBlock: p.rawBlock(rawPairs("", "v"))})
		p.expectRst(1, framing.StatusProtocolError)
		_, err := st.WaitHeaders(testCtx(t))
		wantReset(t, err, 1, framing.StatusProtocolError, false)
		p.syncQuiet()
	})
	t.Run("HEADERS repeating a SYN_STREAM header", func(t *testing.T) {
		_, p, _ := scripted(t, Server, nil)
		p.synStream(1, 0, 0, 0, field("a", "1"), field("b", "2"))
		p.headers(1, 0, field("c", "3"))
		p.syncQuiet()
		p.headers(1, 0, field("b", "4"))
		p.expectRst(1, framing.StatusProtocolError)
		p.syncQuiet()
	})
	t.Run("HEADERS repeating an earlier HEADERS header", func(t *testing.T) {
		_, p, _ := scripted(t, Server, nil)
		p.synStream(1, 0, 0, 0, field("a", "1"))
		p.headers(1, 0, field("c", "3"))
		p.headers(1, 0, field("c", "4"))
		p.expectRst(1, framing.StatusProtocolError)
		p.syncQuiet()
	})
}

// TestCompressionFailure covers "inflate failure / compression state lost"
// (§6.3, §7.3): a session error, whatever frame carried the block.
func TestCompressionFailure(t *testing.T) {
	garbage := []byte{0x78, 0xbb, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0xff, 0xff}
	tests := []struct {
		name     string
		role     Role
		lastGood framing.StreamID
		script   func(t *testing.T, s *Session, p *peer)
	}{
		{"SYN_STREAM", Server, 1, func(t *testing.T, s *Session, p *peer) {
			p.write(&framing.SynStreamFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameSynStream, StreamID: 1}, HeaderBlock: garbage})
		}},
		{"SYN_REPLY", Client, 0, func(t *testing.T, s *Session, p *peer) {
			openStream(t, s, p, nil)
			p.write(&framing.SynReplyFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameSynReply, StreamID: 1}, HeaderBlock: garbage})
		}},
		{"SYN_REPLY for an unknown stream", Client, 0, func(t *testing.T, s *Session, p *peer) {
			p.write(&framing.SynReplyFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameSynReply, StreamID: 9}, HeaderBlock: garbage})
		}},
		{"HEADERS", Server, 1, func(t *testing.T, s *Session, p *peer) {
			p.synStream(1, 0, 0, 0)
			p.write(&framing.HeadersFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameHeaders, StreamID: 1}, HeaderBlock: garbage})
		}},
		{"HEADERS for an unknown stream", Server, 0, func(t *testing.T, s *Session, p *peer) {
			p.write(&framing.HeadersFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameHeaders, StreamID: 7}, HeaderBlock: garbage})
		}},
		{"SYN_STREAM after our GOAWAY", Server, 1, func(t *testing.T, s *Session, p *peer) {
			p.synStream(1, 0, 0, 0)
			accept(t, s)
			go s.Shutdown(testCtx(t))
			p.skipUntil("GOAWAY", func(g got) bool { return g.Header().Type == framing.FrameGoAway })
			p.write(&framing.SynStreamFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameSynStream, StreamID: 3}, HeaderBlock: garbage})
			// The session error's GOAWAY is not sent twice; the session
			// closes the connection.
			p.expectEOF()
			wantProtocolError(t, s)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, p, _ := scripted(t, tt.role, nil)
			tt.script(t, s, p)
			select {
			case <-s.Done():
				return // checked by the script
			default:
			}
			p.expectGoAway(tt.lastGood, framing.GoAwayProtocolError)
			wantProtocolError(t, s)
		})
	}
}

// TestRstStreamRules covers §4.3: RST_STREAM with status 0 or for stream 0
// is a session error; a RST_STREAM is never answered with one; after a
// reset nothing more is sent on the stream.
func TestRstStreamRules(t *testing.T) {
	for _, tt := range []struct {
		name   string
		id     framing.StreamID
		status framing.StatusCode
	}{
		{"status 0", 1, 0},
		{"stream 0", 0, framing.StatusCancel},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, p, _ := scripted(t, Server, nil)
			p.synStream(1, 0, 0, 0)
			p.rst(tt.id, tt.status)
			p.expectGoAway(1, framing.GoAwayProtocolError)
			wantProtocolError(t, s)
		})
	}
	t.Run("never answered with RST_STREAM", func(t *testing.T) {
		s, p, _ := scripted(t, Client, nil)
		st, _ := openStream(t, s, p, nil)
		p.rst(1, framing.StatusCancel) // an open stream
		p.rst(1, framing.StatusCancel) // now closed
		p.rst(9, framing.StatusCancel) // never opened, our parity
		p.rst(4, framing.StatusCancel) // never opened, the peer's parity
		p.rst(3, 99)                   // unknown status
		p.syncQuiet()
		_, err := st.Read(make([]byte, 1))
		wantReset(t, err, 1, framing.StatusCancel, true)
		if got := s.Stats().ResetsSent; got != [12]uint64{} {
			t.Errorf("ResetsSent = %v, want none", got)
		}
	})
	t.Run("nothing sent after a reset", func(t *testing.T) {
		s, p, _ := scripted(t, Client, nil)
		st, _ := openStream(t, s, p, nil)
		p.synReply(1, 0)
		p.rst(1, framing.StatusCancel)
		p.syncQuiet()
		if _, err := st.Write([]byte("late")); err == nil {
			t.Fatal("Write after the peer's RST_STREAM succeeded")
		}
		st.CloseWrite()
		st.Close()
		p.syncQuiet()
	})
}

// TestIgnoredFrames covers the "ignore" rows of §7.3: unknown control frame
// types, SPDY/3 frames the 3.1 session has no use for, frames of another
// version other than SYN_STREAM, and WINDOW_UPDATE for unknown streams.
func TestIgnoredFrames(t *testing.T) {
	for _, tt := range []struct {
		name string
		f    framing.Frame
	}{
		{"unknown type", &framing.UnknownFrame{FrameHeader: framing.FrameHeader{Control: true, Version: 3, Type: 0x55}, Payload: []byte{1, 2, 3}}},
		{"type 0xffff", &framing.UnknownFrame{FrameHeader: framing.FrameHeader{Control: true, Version: 3, Type: 0xffff, Flags: 0xff}}},
		{"NOOP type in SPDY/3", &framing.UnknownFrame{FrameHeader: framing.FrameHeader{Control: true, Version: 3, Type: framing.FrameNoop}}},
		{"SPDY/2 PING", &framing.PingFrame{FrameHeader: framing.FrameHeader{Version: framing.Version2, Type: framing.FramePing}, ID: 3}},
		{"SPDY/2 RST_STREAM", &framing.RstStreamFrame{FrameHeader: framing.FrameHeader{Version: framing.Version2, Type: framing.FrameRstStream, StreamID: 1}, Status: framing.StatusCancel}},
		{"version 9 GOAWAY", &framing.UnknownFrame{FrameHeader: framing.FrameHeader{Control: true, Version: 9, Type: framing.FrameGoAway}, Payload: make([]byte, 8)}},
		{"WINDOW_UPDATE for an unknown stream", &framing.WindowUpdateFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameWindowUpdate, StreamID: 5}, DeltaWindowSize: uint32(framing.MaxStreamID)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, p, _ := scripted(t, Server, nil)
			p.synStream(1, 0, 0, 0)
			st := accept(t, s)
			p.write(tt.f)
			p.syncQuiet()
			p.data(1, true, 4)
			if b, err := io.ReadAll(st); err != nil || len(b) != 4 {
				t.Fatalf("stream after the ignored frame: %d bytes, %v", len(b), err)
			}
		})
	}
}

// TestPingRules covers §4.5: a PING of the peer's parity is echoed; one of
// our parity that we never sent is ignored.
func TestPingRules(t *testing.T) {
	for _, role := range []Role{Client, Server} {
		t.Run(role.String(), func(t *testing.T) {
			s, p, _ := scripted(t, role, nil)
			peerID, ourID := uint32(8), uint32(7)
			if role == Server {
				peerID, ourID = 7, 8
			}
			// Ours, never sent: no echo (the next frame is the echo of
			// the sync PING).
			p.write(&framing.PingFrame{ID: ourID + 1000})
			for _, g := range p.sync() {
				if g.Header().Type == framing.FramePing {
					t.Fatalf("answered a PING of its own parity: %v", g.Frame)
				}
			}
			before := s.Stats().PingsReceived
			p.write(&framing.PingFrame{ID: peerID})
			g := p.expect(framing.FramePing)
			if id := g.Frame.(*framing.PingFrame).ID; id != peerID {
				t.Fatalf("echo of PING %d has id %d", peerID, id)
			}
			if n := s.Stats().PingsReceived; n != before+1 {
				t.Errorf("PingsReceived went from %d to %d", before, n)
			}
		})
	}
	t.Run("Ping matches the reply", func(t *testing.T) {
		s, p, _ := scripted(t, Client, nil)
		res := make(chan error, 1)
		go func() {
			_, err := s.Ping(testCtx(t))
			res <- err
		}()
		g := p.expect(framing.FramePing)
		id := g.Frame.(*framing.PingFrame).ID
		if id%2 != 1 {
			t.Fatalf("client PING id %d is even", id)
		}
		p.write(&framing.PingFrame{ID: id + 2}) // not ours: ignored
		p.write(&framing.PingFrame{ID: id})
		if err := <-res; err != nil {
			t.Fatal(err)
		}
	})
}

// TestMalformedFrames covers the framing rows of §7.3 as the session
// answers them: a fixed-size frame of the wrong length, and a header-bearing
// frame too large to be read (its block never inflated), are session
// errors; the latter resets its stream with FRAME_TOO_LARGE first.
func TestMalformedFrames(t *testing.T) {
	for _, tt := range []struct {
		name string
		raw  []byte
	}{
		{"PING of length 5", []byte{0x80, 3, 0, 6, 0, 0, 0, 5, 0, 0, 0, 1, 0}},
		{"RST_STREAM of length 4", []byte{0x80, 3, 0, 3, 0, 0, 0, 4, 0, 0, 0, 1}},
		{"WINDOW_UPDATE of length 4", []byte{0x80, 3, 0, 9, 0, 0, 0, 4, 0, 0, 0, 1}},
		{"GOAWAY of length 4", []byte{0x80, 3, 0, 7, 0, 0, 0, 4, 0, 0, 0, 1}},
		{"SETTINGS count 2 with one entry", []byte{0x80, 3, 0, 4, 0, 0, 0, 12, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 9}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, p, _ := scripted(t, Server, nil)
			if _, err := p.conn.Write(tt.raw); err != nil {
				t.Fatal(err)
			}
			p.expectGoAway(0, framing.GoAwayProtocolError)
			wantProtocolError(t, s)
		})
	}
	t.Run("SYN_STREAM over the control frame limit", func(t *testing.T) {
		s, p, _ := scripted(t, Server, nil)
		big := make([]byte, framing.DefaultMaxControlFrameSize)
		p.write(&framing.SynStreamFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameSynStream, StreamID: 1}, HeaderBlock: big})
		p.expectRst(1, framing.StatusFrameTooLarge)
		p.expectGoAway(0, framing.GoAwayProtocolError)
		wantProtocolError(t, s)
	})
}
