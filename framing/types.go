package framing

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is the protocol version carried in every control frame header.
// SPDY/3.1 uses Version3 on the wire, exactly as SPDY/3 does; only
// negotiation or configuration tells the two apart.
type Version uint16

const (
	Version2 Version = 2 // SPDY/2
	Version3 Version = 3 // SPDY/3 and SPDY/3.1
)

// String returns "SPDY/2", "SPDY/3", or "version N" for other values.
func (v Version) String() string {
	switch v {
	case Version2:
		return "SPDY/2"
	case Version3:
		return "SPDY/3"
	}
	return "version " + strconv.Itoa(int(v))
}

func (v Version) known() bool { return v == Version2 || v == Version3 }

// FrameType is the type of a control frame. DATA frames have no type on the
// wire; FrameData stands for them in a [FrameHeader].
type FrameType uint16

const (
	FrameData         FrameType = 0  // DATA (not a control type)
	FrameSynStream    FrameType = 1  // SYN_STREAM
	FrameSynReply     FrameType = 2  // SYN_REPLY
	FrameRstStream    FrameType = 3  // RST_STREAM
	FrameSettings     FrameType = 4  // SETTINGS
	FrameNoop         FrameType = 5  // NOOP (SPDY/2 only)
	FramePing         FrameType = 6  // PING
	FrameGoAway       FrameType = 7  // GOAWAY
	FrameHeaders      FrameType = 8  // HEADERS
	FrameWindowUpdate FrameType = 9  // WINDOW_UPDATE (SPDY/3 and later)
	FrameCredential   FrameType = 10 // CREDENTIAL (SPDY/3 only)
)

var frameTypeNames = [...]string{
	FrameData:         "DATA",
	FrameSynStream:    "SYN_STREAM",
	FrameSynReply:     "SYN_REPLY",
	FrameRstStream:    "RST_STREAM",
	FrameSettings:     "SETTINGS",
	FrameNoop:         "NOOP",
	FramePing:         "PING",
	FrameGoAway:       "GOAWAY",
	FrameHeaders:      "HEADERS",
	FrameWindowUpdate: "WINDOW_UPDATE",
	FrameCredential:   "CREDENTIAL",
}

// String returns the protocol name of t, such as "SYN_STREAM", or
// "UNKNOWN_TYPE_n".
func (t FrameType) String() string {
	if int(t) < len(frameTypeNames) {
		return frameTypeNames[t]
	}
	return "UNKNOWN_TYPE_" + strconv.Itoa(int(t))
}

// Flags are the 8 flag bits of a frame header. Their meaning depends on the
// frame type.
type Flags uint8

const (
	// FlagFin ends the sender's side of a stream (DATA, SYN_STREAM,
	// SYN_REPLY, HEADERS).
	FlagFin Flags = 0x01
	// FlagUnidirectional marks a SYN_STREAM whose recipient may not send.
	FlagUnidirectional Flags = 0x02
	// FlagClearSettings asks a client to drop every persisted setting
	// (SETTINGS frames).
	FlagClearSettings Flags = 0x01
	// FlagDataCompressed is the SPDY/2-era per-frame DATA compression flag.
	// No SPDY version defines it any more; a DATA frame carrying it is
	// rejected with a stream error.
	FlagDataCompressed Flags = 0x02
)

// Has reports whether f contains all the bits of v.
func (f Flags) Has(v Flags) bool { return f&v == v }

// allowedFlags is the set of defined flags for each control frame type.
// Undefined bits in frames that define some flags are ignored on read and
// refused on write; frames that define none must carry 0 (see readControl).
var allowedFlags = [...]Flags{
	FrameData:         FlagFin,
	FrameSynStream:    FlagFin | FlagUnidirectional,
	FrameSynReply:     FlagFin,
	FrameRstStream:    0,
	FrameSettings:     FlagClearSettings,
	FrameNoop:         0,
	FramePing:         0,
	FrameGoAway:       0,
	FrameHeaders:      FlagFin,
	FrameWindowUpdate: 0,
	FrameCredential:   0,
}

// StreamID identifies a stream. Clients open odd ids and servers even ids;
// 0 is never a stream (in WINDOW_UPDATE it names the session window).
type StreamID uint32

// MaxStreamID is the largest stream id: ids are 31 bits.
const MaxStreamID StreamID = 1<<31 - 1

// ClientInitiated reports whether id is odd, the parity of client streams.
func (id StreamID) ClientInitiated() bool { return id&1 == 1 }

// StatusCode is the status of a RST_STREAM frame, the code of a stream
// error.
type StatusCode uint32

const (
	StatusProtocolError       StatusCode = 1  // generic error; only when nothing more specific fits
	StatusInvalidStream       StatusCode = 2  // frame for a stream that is not active
	StatusRefusedStream       StatusCode = 3  // refused before any processing; safe to retry
	StatusUnsupportedVersion  StatusCode = 4  // the recipient does not speak the version
	StatusCancel              StatusCode = 5  // the stream is no longer needed (or a push is refused)
	StatusInternalError       StatusCode = 6  // a local failure unrelated to the protocol
	StatusFlowControlError    StatusCode = 7  // the peer broke flow control
	StatusStreamInUse         StatusCode = 8  // a second SYN_REPLY (SPDY/3 and later)
	StatusStreamAlreadyClosed StatusCode = 9  // DATA or SYN_REPLY after the peer's FIN (SPDY/3 and later)
	StatusInvalidCredentials  StatusCode = 10 // missing or invalid credentials (SPDY/3 only)
	StatusFrameTooLarge       StatusCode = 11 // a frame larger than the recipient supports (SPDY/3 and later)
)

var statusNames = [...]string{
	StatusProtocolError:       "PROTOCOL_ERROR",
	StatusInvalidStream:       "INVALID_STREAM",
	StatusRefusedStream:       "REFUSED_STREAM",
	StatusUnsupportedVersion:  "UNSUPPORTED_VERSION",
	StatusCancel:              "CANCEL",
	StatusInternalError:       "INTERNAL_ERROR",
	StatusFlowControlError:    "FLOW_CONTROL_ERROR",
	StatusStreamInUse:         "STREAM_IN_USE",
	StatusStreamAlreadyClosed: "STREAM_ALREADY_CLOSED",
	StatusInvalidCredentials:  "INVALID_CREDENTIALS",
	StatusFrameTooLarge:       "FRAME_TOO_LARGE",
}

// String returns the protocol name of c, such as "REFUSED_STREAM", or
// "STATUS_n" for codes no version defines.
func (c StatusCode) String() string {
	if c != 0 && uint64(c) < uint64(len(statusNames)) {
		return statusNames[c]
	}
	return "STATUS_" + strconv.FormatUint(uint64(c), 10)
}

// GoAwayStatus is the status of a GOAWAY frame (SPDY/3 and later; SPDY/2
// GOAWAY frames carry none).
type GoAwayStatus uint32

const (
	GoAwayOK            GoAwayStatus = 0 // normal shutdown
	GoAwayProtocolError GoAwayStatus = 1 // the peer broke the protocol
	GoAwayInternalError GoAwayStatus = 2 // a local failure
)

// String returns "OK", "PROTOCOL_ERROR", "INTERNAL_ERROR" or "GOAWAY_n".
func (s GoAwayStatus) String() string {
	switch s {
	case GoAwayOK:
		return "OK"
	case GoAwayProtocolError:
		return "PROTOCOL_ERROR"
	case GoAwayInternalError:
		return "INTERNAL_ERROR"
	}
	return "GOAWAY_" + strconv.FormatUint(uint64(s), 10)
}

// SettingID identifies a setting in a SETTINGS frame (24 bits on the wire).
type SettingID uint32

const (
	SettingUploadBandwidth             SettingID = 1 // sender's upload capacity, KiB/s
	SettingDownloadBandwidth           SettingID = 2 // sender's download capacity, KiB/s
	SettingRoundTripTime               SettingID = 3 // sender's expected round trip, ms
	SettingMaxConcurrentStreams        SettingID = 4 // streams the receiver may open toward the sender
	SettingCurrentCwnd                 SettingID = 5 // sender's TCP congestion window
	SettingDownloadRetransRate         SettingID = 6 // retransmitted bytes / total bytes
	SettingInitialWindowSize           SettingID = 7 // initial window of streams the receiver sends on
	SettingClientCertificateVectorSize SettingID = 8 // CREDENTIAL vector size (SPDY/3 only)
	maxSettingID                       SettingID = 1<<24 - 1
)

var settingNames = [...]string{
	SettingUploadBandwidth:             "UPLOAD_BANDWIDTH",
	SettingDownloadBandwidth:           "DOWNLOAD_BANDWIDTH",
	SettingRoundTripTime:               "ROUND_TRIP_TIME",
	SettingMaxConcurrentStreams:        "MAX_CONCURRENT_STREAMS",
	SettingCurrentCwnd:                 "CURRENT_CWND",
	SettingDownloadRetransRate:         "DOWNLOAD_RETRANS_RATE",
	SettingInitialWindowSize:           "INITIAL_WINDOW_SIZE",
	SettingClientCertificateVectorSize: "CLIENT_CERTIFICATE_VECTOR_SIZE",
}

// String returns the protocol name of id without its SETTINGS_ prefix, or
// "SETTING_n" for unknown ids.
func (id SettingID) String() string {
	if id != 0 && uint64(id) < uint64(len(settingNames)) {
		return settingNames[id]
	}
	return "SETTING_" + strconv.FormatUint(uint64(id), 10)
}

// SettingFlags are the per-entry flags of a SETTINGS frame.
type SettingFlags uint8

const (
	// SettingPersistValue: a server asks the client to remember the value.
	SettingPersistValue SettingFlags = 0x01
	// SettingPersisted: a client returns a value a server asked it to keep.
	SettingPersisted SettingFlags = 0x02
)

// Setting is one entry of a SETTINGS frame.
type Setting struct {
	ID    SettingID
	Flags SettingFlags
	Value uint32
}

// String returns "ID=value", with the flags appended when set.
func (s Setting) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v=%d", s.ID, s.Value)
	if s.Flags&SettingPersistValue != 0 {
		b.WriteString(" PERSIST_VALUE")
	}
	if s.Flags&SettingPersisted != 0 {
		b.WriteString(" PERSISTED")
	}
	if other := s.Flags &^ (SettingPersistValue | SettingPersisted); other != 0 {
		fmt.Fprintf(&b, " flags=%#02x", uint8(other))
	}
	return b.String()
}
