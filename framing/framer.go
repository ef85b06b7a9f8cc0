package framing

import (
	"encoding/binary"
	"errors"
	"io"
)

// Default and minimum read limits. See [Framer.MaxControlFrameSize] and
// [Framer.MaxDataFrameSize].
const (
	// DefaultMaxControlFrameSize is the default limit on the payload of a
	// control frame read: 64 KiB, eight times the 8192 bytes every receiver
	// must accept, and far above any real header block (a browser request
	// with large cookies compresses to a few KiB).
	DefaultMaxControlFrameSize = 64 << 10
	// MinMaxControlFrameSize is the smallest control frame limit allowed:
	// the protocol requires every receiver to accept 8192-byte control
	// frames.
	MinMaxControlFrameSize = 8192
	// DefaultMaxDataFrameSize is the default limit on the payload of a DATA
	// frame read: 1 MiB. Flow-controlled peers never send more than the
	// window they were given (64 KiB unless the receiver advertises more);
	// the limit matters for SPDY/2 and for peers without flow control, which
	// size DATA frames by their own write calls.
	DefaultMaxDataFrameSize = 1 << 20
)

// initialReadBuffer is how much payload buffer is allocated before any
// payload byte has arrived; the buffer grows only as bytes arrive.
const initialReadBuffer = 4 << 10

// A Framer reads and writes SPDY frames of every version.
//
// Reading decodes whatever version each control frame carries, so one
// Framer can read a capture of any session; writing uses the version given
// to [NewFramer] unless a frame passed to [Framer.WriteFrame] names its own.
// Header blocks stay opaque, compressed bytes (see package hpackz).
//
// Frames are read with exact-size reads from the reader, never past the end
// of a frame; wrap a net.Conn in a bufio.Reader for fewer system calls. Each
// frame is written with a single Write call; give the Framer a bufio.Writer
// to coalesce many frames into one system call.
//
// A Framer is not safe for concurrent use, but reading and writing may
// happen on different goroutines at the same time.
type Framer struct {
	// MaxControlFrameSize limits the payload of control frames read. Zero
	// means DefaultMaxControlFrameSize; values below MinMaxControlFrameSize
	// are raised to it; values above MaxPayloadLen are lowered to it.
	MaxControlFrameSize int
	// MaxDataFrameSize limits the payload of DATA frames read. Zero means
	// DefaultMaxDataFrameSize; values above MaxPayloadLen are lowered to it.
	// A session should set it to the largest receive window it advertises.
	MaxDataFrameSize int
	// AllowIllegalWrites lets the Framer write frames that break the rules
	// of the protocol (stream id 0, undefined flags, status 0, ...), for
	// testing peers. Frames that cannot be encoded at all (a payload over
	// MaxPayloadLen, a field wider than its wire width) are still refused.
	AllowIllegalWrites bool
	// DataBuffer, when set, supplies the buffer that the payload of each
	// DATA frame of at most 64 KiB is read into, instead of the Framer's
	// reused buffer: it is called with the payload length and must return
	// a slice of at least that length. The DataFrame's Data is then that
	// buffer, which the Framer never touches again, so the caller can keep
	// it without copying. Larger payloads use the reused buffer as usual.
	DataBuffer func(n int) []byte

	r       io.Reader
	w       io.Writer
	version Version

	readErr error // sticky: the reader is no longer at a frame boundary
	hdr     [FrameHeaderLen]byte
	rbuf    []byte // payload buffer, reused from frame to frame
	wbuf    []byte // write buffer, reused from frame to frame

	// One frame of each type, reused by ReadFrame.
	data     DataFrame
	syn      SynStreamFrame
	reply    SynReplyFrame
	rst      RstStreamFrame
	settings SettingsFrame
	noop     NoopFrame
	ping     PingFrame
	goAway   GoAwayFrame
	headers  HeadersFrame
	window   WindowUpdateFrame
	cred     CredentialFrame
	unknown  UnknownFrame
}

// NewFramer returns a Framer that writes frames of version v to w and reads
// frames from r. Either may be nil when the Framer is used in one direction
// only. Writes fail if v is not Version2 or Version3.
func NewFramer(w io.Writer, r io.Reader, v Version) *Framer {
	return &Framer{w: w, r: r, version: v}
}

// Version returns the version the Framer writes.
func (f *Framer) Version() Version { return f.version }

func (f *Framer) maxControl() uint32 {
	switch n := f.MaxControlFrameSize; {
	case n == 0:
		return DefaultMaxControlFrameSize
	case n < MinMaxControlFrameSize:
		return MinMaxControlFrameSize
	case n > MaxPayloadLen:
		return MaxPayloadLen
	default:
		return uint32(n)
	}
}

func (f *Framer) maxData() uint32 {
	switch n := f.MaxDataFrameSize; {
	case n <= 0:
		return DefaultMaxDataFrameSize
	case n > MaxPayloadLen:
		return MaxPayloadLen
	default:
		return uint32(n)
	}
}

const streamIDMask = 1<<31 - 1

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

// streamID reads a 31-bit stream id, ignoring the reserved top bit.
func streamID(b []byte) StreamID { return StreamID(be32(b) & streamIDMask) }

// ReadFrame reads the next frame.
//
// The frame and every byte slice in it belong to the Framer and stay valid
// only until the next call to ReadFrame; use [CopyFrame] to keep a frame.
//
// Errors:
//   - io.EOF when the reader ends cleanly between frames, and
//     io.ErrUnexpectedEOF when it ends inside one; other errors of the
//     reader are returned as they are. These are sticky.
//   - A [*StreamError] when a frame breaks a rule confined to one stream.
//     The frame is returned too, fully read (a DATA frame over the size
//     limit is returned with its payload discarded), so that the caller can
//     still account for it; the caller resets the stream and reads on.
//   - A [*ConnectionError] when a frame breaks a rule of the session; the
//     caller sends GOAWAY and closes. Reading may continue afterwards (a
//     dumper can show the rest of a capture) unless the frame was too large
//     to be read, which leaves the Framer failing with the same error.
//
// Frames of versions or types this package does not know are returned as
// [*UnknownFrame]; the protocol says to ignore them.
func (f *Framer) ReadFrame() (Frame, error) {
	if f.readErr != nil {
		return nil, f.readErr
	}
	if _, err := io.ReadFull(f.r, f.hdr[:]); err != nil {
		f.readErr = err
		return nil, err
	}
	h := f.hdr[:]
	fh := FrameHeader{
		Flags:  Flags(h[4]),
		Length: uint32(h[5])<<16 | uint32(h[6])<<8 | uint32(h[7]),
	}
	if h[0]&0x80 == 0 {
		fh.Type = FrameData
		fh.StreamID = streamID(h[0:4])
		return f.readData(fh)
	}
	fh.Control = true
	fh.Version = Version(be16(h[0:2]) & 0x7fff)
	fh.Type = FrameType(be16(h[2:4]))
	if fh.Length > f.maxControl() {
		return nil, f.controlTooLarge(fh)
	}
	p, err := f.readPayload(fh.Length)
	if err != nil {
		return nil, err
	}
	return f.parseControl(fh, p)
}

func (f *Framer) readData(fh FrameHeader) (Frame, error) {
	if fh.Length > f.maxData() {
		// Discard the payload so the next frame can be read: the caller
		// still has to count it against the session window.
		if _, err := io.CopyN(io.Discard, f.r, int64(fh.Length)); err != nil {
			f.readErr = noEOF(err)
			return nil, f.readErr
		}
		f.data = DataFrame{FrameHeader: fh}
		if fh.StreamID == 0 {
			return nil, connError("DATA frame on stream 0")
		}
		se := streamError(fh.StreamID, f.tooLargeStatus(f.version), "DATA payload of %d bytes exceeds the limit of %d", fh.Length, f.maxData())
		se.Err = ErrFrameTooLarge
		return &f.data, se
	}
	var p []byte
	var err error
	if f.DataBuffer != nil && fh.Length <= maxDataBufferPayload {
		p = f.DataBuffer(int(fh.Length))[:fh.Length]
		if _, err = io.ReadFull(f.r, p); err != nil {
			f.readErr = noEOF(err)
			return nil, f.readErr
		}
	} else if p, err = f.readPayload(fh.Length); err != nil {
		return nil, err
	}
	f.data = DataFrame{FrameHeader: fh, Data: p}
	if fh.StreamID == 0 {
		return nil, connError("DATA frame on stream 0")
	}
	if fh.Flags&FlagDataCompressed != 0 {
		return &f.data, streamError(fh.StreamID, StatusProtocolError, "DATA frame with the unsupported compressed flag")
	}
	f.data.Flags &= allowedFlags[FrameData]
	return &f.data, nil
}

// maxDataBufferPayload is the largest DATA payload read into a buffer
// from Framer.DataBuffer: the buffer is allocated before the payload
// arrives, so its size is kept small.
const maxDataBufferPayload = 64 << 10

// tooLargeStatus is FRAME_TOO_LARGE, which SPDY/2 lacks.
func (f *Framer) tooLargeStatus(v Version) StatusCode {
	if v == Version2 {
		return StatusProtocolError
	}
	return StatusFrameTooLarge
}

// controlTooLarge builds the error for a control frame over the limit. The
// payload is not read, so the Framer is left failing.
func (f *Framer) controlTooLarge(fh FrameHeader) error {
	err := &ConnectionError{
		Status: GoAwayProtocolError,
		Reason: "control frame " + fh.Type.String() + " exceeds the size limit",
		Err:    ErrFrameTooLarge,
	}
	if fh.Version.known() && (fh.Type == FrameSynStream || fh.Type == FrameSynReply || fh.Type == FrameHeaders) {
		// Its header block cannot be inflated, so the compression context
		// is lost: reset the stream, then end the session.
		var id [4]byte
		if _, rerr := io.ReadFull(f.r, id[:]); rerr == nil {
			if sid := streamID(id[:]); sid != 0 {
				err.Err = &StreamError{StreamID: sid, Status: f.tooLargeStatus(fh.Version), Reason: err.Reason, Err: ErrFrameTooLarge}
			}
		}
	}
	f.readErr = err
	return err
}

// readPayload reads n payload bytes into the reusable buffer. A buffer
// larger than the one at hand grows only as bytes arrive, so a length field
// alone never makes the Framer allocate more than twice what the peer sent.
func (f *Framer) readPayload(n uint32) ([]byte, error) {
	size := int(n)
	if cap(f.rbuf) >= size {
		b := f.rbuf[:size]
		if _, err := io.ReadFull(f.r, b); err != nil {
			f.readErr = noEOF(err)
			return nil, f.readErr
		}
		return b, nil
	}
	b := f.rbuf[:0]
	for len(b) < size {
		if len(b) == cap(b) {
			grow := max(2*cap(b), initialReadBuffer)
			nb := make([]byte, len(b), min(grow, size))
			copy(nb, b)
			b = nb
		}
		m, err := io.ReadFull(f.r, b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err != nil {
			f.rbuf = b[:0]
			f.readErr = noEOF(err)
			return nil, f.readErr
		}
	}
	f.rbuf = b
	return b, nil
}

// noEOF turns io.EOF inside a frame into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (f *Framer) parseControl(fh FrameHeader, p []byte) (Frame, error) {
	if !fh.Version.known() || !typeInVersion(fh.Type, fh.Version) {
		f.unknown = UnknownFrame{FrameHeader: fh, Payload: p}
		return &f.unknown, nil
	}
	// Frames that define no flags must carry none; in the others, undefined
	// bits are ignored, and cleared so that what is read can be written.
	allowed := allowedFlags[fh.Type]
	if allowed == 0 && fh.Flags != 0 {
		return nil, connError("%v frame with flags %#02x, want 0", fh.Type, uint8(fh.Flags))
	}
	fh.Flags &= allowed
	v2 := fh.Version == Version2
	switch fh.Type {
	case FrameSynStream:
		need := 10
		if v2 {
			need = 12 // the SPDY/2 draft requires room for the block's count
		}
		if len(p) < need {
			return nil, connError("SYN_STREAM payload of %d bytes, want at least %d", len(p), need)
		}
		fh.StreamID = streamID(p[0:4])
		if fh.StreamID == 0 {
			return nil, connError("SYN_STREAM for stream 0")
		}
		fr := &f.syn
		*fr = SynStreamFrame{FrameHeader: fh, AssociatedToStreamID: streamID(p[4:8]), HeaderBlock: p[10:]}
		if v2 {
			fr.Priority = p[8] >> 6
		} else {
			fr.Priority = p[8] >> 5
			fr.Slot = p[9]
		}
		return fr, nil

	case FrameSynReply, FrameHeaders:
		need, off := 4, 4
		if v2 {
			need, off = 8, 6 // stream id, 16 unused bits, then the block
		}
		if len(p) < need {
			return nil, connError("%v payload of %d bytes, want at least %d", fh.Type, len(p), need)
		}
		fh.StreamID = streamID(p[0:4])
		if fh.StreamID == 0 {
			return nil, connError("%v for stream 0", fh.Type)
		}
		if fh.Type == FrameSynReply {
			f.reply = SynReplyFrame{FrameHeader: fh, HeaderBlock: p[off:]}
			return &f.reply, nil
		}
		f.headers = HeadersFrame{FrameHeader: fh, HeaderBlock: p[off:]}
		return &f.headers, nil

	case FrameRstStream:
		if len(p) != 8 {
			return nil, connError("RST_STREAM payload of %d bytes, want 8", len(p))
		}
		fh.StreamID = streamID(p[0:4])
		f.rst = RstStreamFrame{FrameHeader: fh, Status: StatusCode(be32(p[4:8]))}
		switch {
		case fh.StreamID == 0:
			return nil, connError("RST_STREAM for stream 0")
		case f.rst.Status == 0:
			return nil, connError("RST_STREAM with status 0")
		}
		return &f.rst, nil

	case FrameSettings:
		if len(p) < 4 {
			return nil, connError("SETTINGS payload of %d bytes, want at least 4", len(p))
		}
		n := be32(p[0:4])
		if uint64(len(p)) != 4+8*uint64(n) {
			return nil, connError("SETTINGS with %d entries in a payload of %d bytes", n, len(p))
		}
		// n is now bounded by the bytes actually read.
		s := f.settings.Settings[:0]
		for e := p[4:]; len(e) >= 8; e = e[8:] {
			var st Setting
			if v2 {
				// SPDY/2: 24-bit id little-endian, then the flags.
				st.ID = SettingID(uint32(e[0]) | uint32(e[1])<<8 | uint32(e[2])<<16)
				st.Flags = SettingFlags(e[3])
			} else {
				st.Flags = SettingFlags(e[0])
				st.ID = SettingID(uint32(e[1])<<16 | uint32(e[2])<<8 | uint32(e[3]))
			}
			st.Value = be32(e[4:8])
			s = append(s, st)
		}
		f.settings = SettingsFrame{FrameHeader: fh, Settings: s}
		return &f.settings, nil

	case FrameNoop:
		if len(p) != 0 {
			return nil, connError("NOOP payload of %d bytes, want 0", len(p))
		}
		f.noop = NoopFrame{FrameHeader: fh}
		return &f.noop, nil

	case FramePing:
		if len(p) != 4 {
			return nil, connError("PING payload of %d bytes, want 4", len(p))
		}
		f.ping = PingFrame{FrameHeader: fh, ID: be32(p)}
		return &f.ping, nil

	case FrameGoAway:
		// SPDY/2 defines a 4-byte GOAWAY; node's spdy-transport sends the
		// 8-byte SPDY/3 layout in SPDY/2 too, so both are accepted.
		if !(len(p) == 8 || v2 && len(p) == 4) {
			return nil, connError("GOAWAY payload of %d bytes, want 8", len(p))
		}
		f.goAway = GoAwayFrame{FrameHeader: fh, LastGoodStreamID: streamID(p[0:4])}
		if len(p) == 8 {
			f.goAway.Status = GoAwayStatus(be32(p[4:8]))
		}
		return &f.goAway, nil

	case FrameWindowUpdate:
		if len(p) != 8 {
			return nil, connError("WINDOW_UPDATE payload of %d bytes, want 8", len(p))
		}
		fh.StreamID = streamID(p[0:4])
		f.window = WindowUpdateFrame{FrameHeader: fh, DeltaWindowSize: be32(p[4:8]) & streamIDMask}
		if f.window.DeltaWindowSize == 0 {
			if fh.StreamID == 0 {
				return nil, connError("WINDOW_UPDATE with delta 0 for the session")
			}
			return &f.window, streamError(fh.StreamID, StatusProtocolError, "WINDOW_UPDATE with delta 0")
		}
		return &f.window, nil

	case FrameCredential:
		return f.parseCredential(fh, p)
	}
	panic("unreachable")
}

// typeInVersion reports whether version v defines control frame type t.
func typeInVersion(t FrameType, v Version) bool {
	switch t {
	case FrameSynStream, FrameSynReply, FrameRstStream, FrameSettings, FramePing, FrameGoAway, FrameHeaders:
		return true
	case FrameNoop:
		return v == Version2
	case FrameWindowUpdate, FrameCredential:
		return v == Version3
	}
	return false
}

// parseCredential parses slot (16), proof length (32), proof, then
// certificates as length (32) + DER until the end of the payload.
func (f *Framer) parseCredential(fh FrameHeader, p []byte) (Frame, error) {
	if len(p) < 6 {
		return nil, connError("CREDENTIAL payload of %d bytes, want at least 6", len(p))
	}
	slot := be16(p[0:2])
	if slot == 0 {
		return nil, connError("CREDENTIAL for slot 0")
	}
	proofLen := be32(p[2:6])
	rest := p[6:]
	if uint64(proofLen) > uint64(len(rest)) {
		return nil, connError("CREDENTIAL proof of %d bytes in %d remaining", proofLen, len(rest))
	}
	proof := rest[:proofLen]
	rest = rest[proofLen:]
	certs := f.cred.Certificates[:0]
	for len(rest) > 0 {
		if len(rest) < 4 {
			return nil, connError("CREDENTIAL with %d trailing bytes", len(rest))
		}
		n := be32(rest[0:4])
		rest = rest[4:]
		if uint64(n) > uint64(len(rest)) {
			return nil, connError("CREDENTIAL certificate of %d bytes in %d remaining", n, len(rest))
		}
		certs = append(certs, rest[:n])
		rest = rest[n:]
	}
	f.cred = CredentialFrame{FrameHeader: fh, Slot: slot, Proof: proof, Certificates: certs}
	return &f.cred, nil
}
