package framing

import (
	"fmt"
	"strings"
)

// FrameHeaderLen is the size of every frame header in bytes.
const FrameHeaderLen = 8

// MaxPayloadLen is the largest payload a frame can carry: the length field
// has 24 bits.
const MaxPayloadLen = 1<<24 - 1

// FrameHeader is what every frame has in common.
type FrameHeader struct {
	// Control is true for control frames and false for DATA frames.
	Control bool
	// Version is the protocol version of a control frame; 0 for DATA, which
	// carries none.
	Version Version
	// Type is the type of a control frame, or FrameData.
	Type FrameType
	// Flags are the frame's flags. ReadFrame clears bits the frame type
	// does not define (receivers ignore them), except in UnknownFrame.
	Flags Flags
	// Length is the payload length in bytes, as it was on the wire. It is
	// ignored when a frame is written: the Framer computes it.
	Length uint32
	// StreamID is the stream the frame is about: from the header of a DATA
	// frame, from the payload of SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS
	// and WINDOW_UPDATE (where 0 means the session window). It is 0 for
	// every other frame.
	StreamID StreamID
}

// Header returns h itself; it makes every frame type that embeds a
// FrameHeader satisfy most of [Frame].
func (h FrameHeader) Header() FrameHeader { return h }

func (h FrameHeader) String() string {
	var b strings.Builder
	b.WriteString(h.Type.String())
	if h.Control {
		fmt.Fprintf(&b, " v%d", h.Version)
	}
	if h.hasStream() {
		fmt.Fprintf(&b, " stream=%d", h.StreamID)
	}
	if h.Flags != 0 {
		b.WriteString(" flags=")
		b.WriteString(h.flagString())
	}
	fmt.Fprintf(&b, " len=%d", h.Length)
	return b.String()
}

// hasStream reports whether the frame type names a stream.
func (h FrameHeader) hasStream() bool {
	switch h.Type {
	case FrameData, FrameSynStream, FrameSynReply, FrameRstStream, FrameHeaders, FrameWindowUpdate:
		return !h.Control || h.Version.known()
	}
	return false
}

func (h FrameHeader) flagString() string {
	var parts []string
	rest := h.Flags
	name := func(f Flags, s string) {
		if rest&f != 0 {
			parts = append(parts, s)
			rest &^= f
		}
	}
	switch h.Type {
	case FrameData:
		name(FlagFin, "FIN")
		name(FlagDataCompressed, "COMPRESSED")
	case FrameSynStream:
		name(FlagFin, "FIN")
		name(FlagUnidirectional, "UNIDIRECTIONAL")
	case FrameSynReply, FrameHeaders:
		name(FlagFin, "FIN")
	case FrameSettings:
		name(FlagClearSettings, "CLEAR_SETTINGS")
	}
	if rest != 0 {
		parts = append(parts, fmt.Sprintf("%#02x", uint8(rest)))
	}
	return strings.Join(parts, "|")
}

// Frame is one of the frame types of this package: *DataFrame,
// *SynStreamFrame, *SynReplyFrame, *RstStreamFrame, *SettingsFrame,
// *NoopFrame, *PingFrame, *GoAwayFrame, *HeadersFrame, *WindowUpdateFrame,
// *CredentialFrame or *UnknownFrame.
//
// A Frame returned by [Framer.ReadFrame] is owned by the Framer and valid
// only until the next call to ReadFrame; use [CopyFrame] to keep one.
type Frame interface {
	Header() FrameHeader
	String() string
	frame()
}

// DataFrame carries stream data. Its StreamID is in the header.
type DataFrame struct {
	FrameHeader
	Data []byte
}

// SynStreamFrame opens a stream.
type SynStreamFrame struct {
	FrameHeader
	// AssociatedToStreamID is 0 for an independent stream, or the stream a
	// server push belongs to.
	AssociatedToStreamID StreamID
	// Priority is 0 (highest) to 3 in SPDY/2 and 0 to 7 in SPDY/3.
	Priority uint8
	// Slot is the CREDENTIAL slot of SPDY/3 (0 for none); unused in SPDY/2
	// and SPDY/3.1.
	Slot uint8
	// HeaderBlock is the compressed name/value block, opaque to this
	// package (see package hpackz).
	HeaderBlock []byte
}

// SynReplyFrame accepts a stream.
type SynReplyFrame struct {
	FrameHeader
	HeaderBlock []byte
}

// RstStreamFrame ends a stream abnormally.
type RstStreamFrame struct {
	FrameHeader
	Status StatusCode
}

// SettingsFrame carries connection parameters.
type SettingsFrame struct {
	FrameHeader
	// Settings are the entries in wire order, duplicates included.
	Settings []Setting
}

// Value returns the first entry for id: a frame must not repeat an id, and
// a receiver that finds duplicates uses the first.
func (f *SettingsFrame) Value(id SettingID) (Setting, bool) {
	for _, s := range f.Settings {
		if s.ID == id {
			return s, true
		}
	}
	return Setting{}, false
}

// NoopFrame is the SPDY/2 NOOP frame; receivers ignore it.
type NoopFrame struct {
	FrameHeader
}

// PingFrame measures round trips and liveness. Clients initiate odd ids,
// servers even ids.
type PingFrame struct {
	FrameHeader
	ID uint32
}

// GoAwayFrame ends a session: the sender accepts no stream above
// LastGoodStreamID.
type GoAwayFrame struct {
	FrameHeader
	LastGoodStreamID StreamID
	// Status is the reason (SPDY/3 and later). A SPDY/2 GOAWAY has no status
	// field, except that some peers send the 8-byte SPDY/3 layout in SPDY/2
	// too; the Framer reads both and writes the 4-byte SPDY/2 layout.
	Status GoAwayStatus
}

// HeadersFrame carries additional headers for a stream, such as trailers.
type HeadersFrame struct {
	FrameHeader
	HeaderBlock []byte
}

// WindowUpdateFrame grants flow-control credit. Its StreamID is 0 for the
// SPDY/3.1 session window.
type WindowUpdateFrame struct {
	FrameHeader
	DeltaWindowSize uint32
}

// CredentialFrame is the SPDY/3 client-certificate frame. SPDY/3.1 removed it;
// receivers may ignore it. The Framer parses it so that it can be surfaced
// and never crashes on it.
type CredentialFrame struct {
	FrameHeader
	Slot         uint16
	Proof        []byte
	Certificates [][]byte // DER certificates
}

// UnknownFrame is a control frame of a type, or of a version, that this
// package does not know. The protocol says to ignore such frames.
type UnknownFrame struct {
	FrameHeader
	Payload []byte
}

func (*DataFrame) frame()         {}
func (*SynStreamFrame) frame()    {}
func (*SynReplyFrame) frame()     {}
func (*RstStreamFrame) frame()    {}
func (*SettingsFrame) frame()     {}
func (*NoopFrame) frame()         {}
func (*PingFrame) frame()         {}
func (*GoAwayFrame) frame()       {}
func (*HeadersFrame) frame()      {}
func (*WindowUpdateFrame) frame() {}
func (*CredentialFrame) frame()   {}
func (*UnknownFrame) frame()      {}

// StreamEnded reports whether the frame carries FLAG_FIN.
func (f *DataFrame) StreamEnded() bool { return f.Flags.Has(FlagFin) }

// StreamEnded reports whether the frame carries FLAG_FIN.
func (f *SynStreamFrame) StreamEnded() bool { return f.Flags.Has(FlagFin) }

// StreamEnded reports whether the frame carries FLAG_FIN.
func (f *SynReplyFrame) StreamEnded() bool { return f.Flags.Has(FlagFin) }

// StreamEnded reports whether the frame carries FLAG_FIN.
func (f *HeadersFrame) StreamEnded() bool { return f.Flags.Has(FlagFin) }

func (f *DataFrame) String() string { return f.FrameHeader.String() }

func (f *SynStreamFrame) String() string {
	return fmt.Sprintf("%v assoc=%d pri=%d slot=%d block=%dB", f.FrameHeader, f.AssociatedToStreamID, f.Priority, f.Slot, len(f.HeaderBlock))
}

func (f *SynReplyFrame) String() string {
	return fmt.Sprintf("%v block=%dB", f.FrameHeader, len(f.HeaderBlock))
}

func (f *RstStreamFrame) String() string { return fmt.Sprintf("%v status=%v", f.FrameHeader, f.Status) }

func (f *SettingsFrame) String() string {
	s := make([]string, len(f.Settings))
	for i, e := range f.Settings {
		s[i] = e.String()
	}
	return fmt.Sprintf("%v [%s]", f.FrameHeader, strings.Join(s, ", "))
}

func (f *NoopFrame) String() string { return f.FrameHeader.String() }

func (f *PingFrame) String() string { return fmt.Sprintf("%v id=%d", f.FrameHeader, f.ID) }

func (f *GoAwayFrame) String() string {
	return fmt.Sprintf("%v last_good=%d status=%v", f.FrameHeader, f.LastGoodStreamID, f.Status)
}

func (f *HeadersFrame) String() string {
	return fmt.Sprintf("%v block=%dB", f.FrameHeader, len(f.HeaderBlock))
}

func (f *WindowUpdateFrame) String() string {
	return fmt.Sprintf("%v delta=%d", f.FrameHeader, f.DeltaWindowSize)
}

func (f *CredentialFrame) String() string {
	return fmt.Sprintf("%v slot=%d proof=%dB certificates=%d", f.FrameHeader, f.Slot, len(f.Proof), len(f.Certificates))
}

func (f *UnknownFrame) String() string {
	return fmt.Sprintf("%v payload=%dB", f.FrameHeader, len(f.Payload))
}

// CopyFrame returns a deep copy of f that does not share memory with the
// Framer that read it.
func CopyFrame(f Frame) Frame {
	clone := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		return append([]byte{}, b...)
	}
	switch f := f.(type) {
	case *DataFrame:
		c := *f
		c.Data = clone(f.Data)
		return &c
	case *SynStreamFrame:
		c := *f
		c.HeaderBlock = clone(f.HeaderBlock)
		return &c
	case *SynReplyFrame:
		c := *f
		c.HeaderBlock = clone(f.HeaderBlock)
		return &c
	case *RstStreamFrame:
		c := *f
		return &c
	case *SettingsFrame:
		c := *f
		c.Settings = append([]Setting(nil), f.Settings...)
		return &c
	case *NoopFrame:
		c := *f
		return &c
	case *PingFrame:
		c := *f
		return &c
	case *GoAwayFrame:
		c := *f
		return &c
	case *HeadersFrame:
		c := *f
		c.HeaderBlock = clone(f.HeaderBlock)
		return &c
	case *WindowUpdateFrame:
		c := *f
		return &c
	case *CredentialFrame:
		c := *f
		c.Proof = clone(f.Proof)
		if f.Certificates != nil {
			c.Certificates = make([][]byte, len(f.Certificates))
			for i, cert := range f.Certificates {
				c.Certificates[i] = clone(cert)
			}
		}
		return &c
	case *UnknownFrame:
		c := *f
		c.Payload = clone(f.Payload)
		return &c
	}
	return nil
}
