package session

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/internal/pool"
)

// inEvent is one frame read from the peer, as the reader hands it to the
// loop: plain values, the DATA payload in a pool buffer, the header block
// already decoded (blocks must be decoded in the order they are read).
type inEvent struct {
	typ      framing.FrameType
	version  framing.Version
	flags    framing.Flags
	id       framing.StreamID
	assoc    framing.StreamID
	prio     uint8
	val      uint32 // RST/GOAWAY status, PING id, WINDOW_UPDATE delta
	val2     framing.StreamID
	length   int    // DATA payload length as on the wire
	data     []byte // DATA payload, from the pool (nil if discarded)
	fields   []hpackz.Field
	hdrErr   error // decoding the header block failed
	hdrSize  int   // the header block's size as the flood bucket counts it (decodeBlock)
	settings []framing.Setting
	unknown  bool  // a control frame of another version or unknown type
	err      error // a frame-level error from framing, or the read error
	final    bool  // err ends reading
}

// readLoop reads frames until the connection fails and hands them to the
// loop. It owns the read side of the Framer and the header Decoder.
func (s *Session) readLoop(br *bufio.Reader) {
	defer close(s.inbound)
	// No SPDY frame starts with "HTTP/" (a control frame starts with the
	// bit 0x80; a DATA frame would name a stream the peer cannot have).
	if b, err := br.Peek(len(httpPrefix)); err == nil && string(b) == httpPrefix {
		s.lastRead.Store(int64(time.Since(s.start)))
		s.inbound <- inEvent{err: ErrPeerSpeaksHTTP, final: true}
		return
	}
	fr := s.rfr
	for {
		if s.discard.Load() {
			drainInput(br)
			return
		}
		f, err := fr.ReadFrame()
		var ev inEvent
		if err != nil {
			var se *framing.StreamError
			var ce *framing.ConnectionError
			switch {
			case errors.As(err, &ce):
				ev = inEvent{err: err, final: true}
			case errors.As(err, &se) && f != nil:
				ev = inEvent{err: err}
				h := f.Header()
				ev.typ, ev.flags, ev.id = h.Type, h.Flags, h.StreamID
				if d, ok := f.(*framing.DataFrame); ok {
					ev.length = int(d.Length)
				}
			default:
				ev = inEvent{err: err, final: true}
			}
			s.lastRead.Store(int64(time.Since(s.start)))
			s.inbound <- ev
			if ev.final {
				if ce != nil {
					drainInput(br) // the loop answers with GOAWAY
				}
				return
			}
			continue
		}
		atomic.AddUint64(&s.stats.framesIn, 1)
		s.lastRead.Store(int64(time.Since(s.start)))
		if s.trace {
			s.logFrame("in", f)
		}
		ev = s.toEvent(f)
		s.inbound <- ev
	}
}

// drainInput reads and drops what the peer still sends, until it closes or
// the session closes the connection: the session is ending, and closing
// with unread bytes would make the kernel reset the connection and drop
// the GOAWAY and the frames before it.
func drainInput(br *bufio.Reader) { io.Copy(io.Discard, br) }

// httpPrefix starts every HTTP/1.x response.
const httpPrefix = "HTTP/"

// toEvent turns a frame into an event, decoding its header block.
func (s *Session) toEvent(f framing.Frame) inEvent {
	h := f.Header()
	ev := inEvent{typ: h.Type, version: h.Version, flags: h.Flags, id: h.StreamID}
	if h.Control && h.Version != s.wireVersion {
		ev.unknown = true
		if u, ok := f.(*framing.UnknownFrame); ok && len(u.Payload) >= 4 {
			ev.id = framing.StreamID(uint32(u.Payload[0])<<24|uint32(u.Payload[1])<<16|uint32(u.Payload[2])<<8|uint32(u.Payload[3])) & framing.MaxStreamID
		}
		return ev
	}
	switch f := f.(type) {
	case *framing.DataFrame:
		ev.length = len(f.Data)
		if cap(f.Data) > 0 && len(f.Data) <= 64<<10 {
			ev.data = f.Data // read into a pool buffer (Framer.DataBuffer)
		} else {
			b := pool.Get(len(f.Data))
			copy(b, f.Data)
			ev.data = b
		}
		atomic.AddUint64(&s.stats.bytesIn, uint64(len(f.Data)))
	case *framing.SynStreamFrame:
		ev.assoc, ev.prio = f.AssociatedToStreamID, f.Priority
		if ev.assoc != 0 && s.role == Client && s.cfg.ImplicitUnidirectionalPush {
			ev.flags |= framing.FlagUnidirectional
		}
		s.decodeBlock(&ev, f.HeaderBlock)
	case *framing.SynReplyFrame:
		s.decodeBlock(&ev, f.HeaderBlock)
	case *framing.HeadersFrame:
		s.decodeBlock(&ev, f.HeaderBlock)
	case *framing.RstStreamFrame:
		ev.val = uint32(f.Status)
	case *framing.SettingsFrame:
		ev.settings = append([]framing.Setting(nil), f.Settings...)
	case *framing.PingFrame:
		ev.val = f.ID
	case *framing.GoAwayFrame:
		ev.val = uint32(f.Status)
		ev.val2 = f.LastGoodStreamID
	case *framing.WindowUpdateFrame:
		ev.val = f.DeltaWindowSize
	case *framing.UnknownFrame:
		ev.unknown = true
		if h.Type == framing.FrameWindowUpdate && s.v2Compat() && len(f.Payload) == 8 {
			// SPDY/2 has no WINDOW_UPDATE: Config.V2Compat reads SPDY/3's
			// layout. A delta of 0 is ignored with the other unknown frames.
			p := f.Payload
			ev.id = framing.StreamID(binary.BigEndian.Uint32(p[0:4])) & framing.MaxStreamID
			ev.val = binary.BigEndian.Uint32(p[4:8]) & uint32(framing.MaxStreamID)
			ev.unknown = ev.val == 0
		}
	default: // NOOP, CREDENTIAL
		ev.unknown = true
	}
	return ev
}

// fieldOverhead is what each name/value pair adds to a header block's
// size in the flood bucket's measure, HTTP/2's 32 bytes: a block of many
// tiny pairs costs its receiver more than its bytes.
const fieldOverhead = 32

// decodeBlock decodes a header block into ev, with its size as the flood
// bucket measures it (see Config.FloodLimit).
func (s *Session) decodeBlock(ev *inEvent, block []byte) {
	if s.dec == nil {
		// Made at the first block: an idle session holds no inflate
		// window (about 33 KB).
		s.dec = hpackz.NewDecoder(s.cfg.Version.headers(), &hpackz.DecoderOptions{MaxBlockSize: s.cfg.MaxHeaderBlockSize, MaxFields: s.cfg.MaxHeaderFields})
	}
	ev.fields, ev.hdrErr = s.dec.AppendFields(nil, block)
	var tl *hpackz.TooLargeError
	var tm *hpackz.TooManyFieldsError
	switch {
	case ev.hdrErr == nil:
		for _, f := range ev.fields {
			ev.hdrSize += len(f.Name) + len(f.Value) + fieldOverhead
		}
	case errors.As(ev.hdrErr, &tl):
		ev.hdrSize = tl.Size
	case errors.As(ev.hdrErr, &tm):
		ev.hdrSize = tm.Size + fieldOverhead*tm.Fields
	}
}

// v2Compat reports whether the session speaks SPDY/2 with the departures
// of Config.V2Compat.
func (s *Session) v2Compat() bool { return s.version == V2 && s.cfg.V2Compat }

// readError turns a failed read into the session's error.
func readError(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.EOF
	}
	return &TransportError{Op: "read", Err: err}
}
