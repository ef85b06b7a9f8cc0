package framing

import (
	"encoding/binary"
	"fmt"
)

// WriteFrame writes any frame, as one Write call. A control frame is
// written with its header's Version, or with the Framer's version when that
// is 0. The header's Length is ignored (it is computed) and so is its
// Control bit (it follows from the frame's type).
//
// Frames that break the protocol's rules are refused with an error wrapping
// [ErrInvalidWrite], unless AllowIllegalWrites is set.
func (f *Framer) WriteFrame(fr Frame) error {
	b, err := f.AppendFrame(f.wbuf[:0], fr)
	if err != nil {
		return err
	}
	return f.flush(b)
}

// AppendFrame appends the wire form of fr to dst, with the rules and
// version defaulting of [Framer.WriteFrame], and returns the extended
// buffer. It writes nothing to the Framer's writer.
func (f *Framer) AppendFrame(dst []byte, fr Frame) ([]byte, error) {
	h := fr.Header()
	v := h.Version
	if v == 0 {
		v = f.version
	}
	switch fr := fr.(type) {
	case *DataFrame:
		return f.appendData(dst, h.StreamID, h.Flags, fr.Data)
	case *SynStreamFrame:
		return f.appendSynStream(dst, v, h.StreamID, fr.AssociatedToStreamID, fr.Priority, fr.Slot, h.Flags, fr.HeaderBlock)
	case *SynReplyFrame:
		return f.appendBlockFrame(dst, v, FrameSynReply, h.StreamID, h.Flags, fr.HeaderBlock)
	case *HeadersFrame:
		return f.appendBlockFrame(dst, v, FrameHeaders, h.StreamID, h.Flags, fr.HeaderBlock)
	case *RstStreamFrame:
		return f.appendRstStream(dst, v, h.StreamID, h.Flags, fr.Status)
	case *SettingsFrame:
		return f.appendSettings(dst, v, h.Flags, fr.Settings)
	case *NoopFrame:
		return f.appendNoop(dst, v, h.Flags)
	case *PingFrame:
		return f.appendPing(dst, v, h.Flags, fr.ID)
	case *GoAwayFrame:
		return f.appendGoAway(dst, v, h.Flags, fr.LastGoodStreamID, fr.Status)
	case *WindowUpdateFrame:
		return f.appendWindowUpdate(dst, v, h.StreamID, h.Flags, fr.DeltaWindowSize)
	case *CredentialFrame:
		return f.appendCredential(dst, v, h.Flags, fr)
	case *UnknownFrame:
		if h.Version > 0x7fff {
			return dst, fmt.Errorf("framing: cannot encode version %d in 15 bits", h.Version)
		}
		if len(fr.Payload) > MaxPayloadLen {
			return dst, fmt.Errorf("framing: %v payload of %d bytes exceeds %d", h.Type, len(fr.Payload), MaxPayloadLen)
		}
		dst = appendControlHeader(dst, h.Version, h.Type, h.Flags, len(fr.Payload))
		return append(dst, fr.Payload...), nil
	}
	return dst, fmt.Errorf("framing: cannot write frame of type %T", fr)
}

// WriteData writes a DATA frame; fin ends the sender's side of the stream.
func (f *Framer) WriteData(id StreamID, fin bool, data []byte) error {
	b, err := f.AppendData(f.wbuf[:0], id, fin, data)
	return f.flushOrFail(b, err)
}

// AppendData appends a DATA frame to dst and returns the extended buffer,
// with the rules of [Framer.WriteData]. A writer that coalesces many frames
// into one system call builds its batch with it, copying each payload once.
func (f *Framer) AppendData(dst []byte, id StreamID, fin bool, data []byte) ([]byte, error) {
	var flags Flags
	if fin {
		flags = FlagFin
	}
	return f.appendData(dst, id, flags, data)
}

// WriteSynStream writes a SYN_STREAM frame that opens stream id with the
// given compressed header block. flags may hold FlagFin and
// FlagUnidirectional; priority is 0 (highest) to 3 in SPDY/2 and to 7 in
// SPDY/3. To set the SPDY/3 credential slot, use WriteFrame.
func (f *Framer) WriteSynStream(id, associatedTo StreamID, priority uint8, flags Flags, headerBlock []byte) error {
	b, err := f.appendSynStream(f.wbuf[:0], f.version, id, associatedTo, priority, 0, flags, headerBlock)
	return f.flushOrFail(b, err)
}

// WriteSynReply writes a SYN_REPLY frame; flags may hold FlagFin.
func (f *Framer) WriteSynReply(id StreamID, flags Flags, headerBlock []byte) error {
	b, err := f.appendBlockFrame(f.wbuf[:0], f.version, FrameSynReply, id, flags, headerBlock)
	return f.flushOrFail(b, err)
}

// WriteHeaders writes a HEADERS frame; flags may hold FlagFin.
func (f *Framer) WriteHeaders(id StreamID, flags Flags, headerBlock []byte) error {
	b, err := f.appendBlockFrame(f.wbuf[:0], f.version, FrameHeaders, id, flags, headerBlock)
	return f.flushOrFail(b, err)
}

// WriteRstStream writes a RST_STREAM frame.
func (f *Framer) WriteRstStream(id StreamID, status StatusCode) error {
	b, err := f.appendRstStream(f.wbuf[:0], f.version, id, 0, status)
	return f.flushOrFail(b, err)
}

// WriteSettings writes a SETTINGS frame; flags may hold FlagClearSettings.
// The protocol asks for entries in ascending id order and no id twice; the
// Framer writes them in the order given.
func (f *Framer) WriteSettings(flags Flags, settings ...Setting) error {
	b, err := f.appendSettings(f.wbuf[:0], f.version, flags, settings)
	return f.flushOrFail(b, err)
}

// WriteNoop writes a SPDY/2 NOOP frame.
func (f *Framer) WriteNoop() error {
	b, err := f.appendNoop(f.wbuf[:0], f.version, 0)
	return f.flushOrFail(b, err)
}

// WritePing writes a PING frame.
func (f *Framer) WritePing(id uint32) error {
	b, err := f.appendPing(f.wbuf[:0], f.version, 0, id)
	return f.flushOrFail(b, err)
}

// WriteGoAway writes a GOAWAY frame. SPDY/2 has no status field: in SPDY/2
// status is not sent.
func (f *Framer) WriteGoAway(lastGood StreamID, status GoAwayStatus) error {
	b, err := f.appendGoAway(f.wbuf[:0], f.version, 0, lastGood, status)
	return f.flushOrFail(b, err)
}

// WriteWindowUpdate writes a WINDOW_UPDATE frame (SPDY/3 and later); id 0
// updates the SPDY/3.1 session window.
func (f *Framer) WriteWindowUpdate(id StreamID, delta uint32) error {
	b, err := f.appendWindowUpdate(f.wbuf[:0], f.version, id, 0, delta)
	return f.flushOrFail(b, err)
}

func (f *Framer) flushOrFail(b []byte, err error) error {
	if err != nil {
		return err
	}
	return f.flush(b)
}

// flush writes one frame with one Write call and keeps the buffer.
func (f *Framer) flush(b []byte) error {
	f.wbuf = b[:0]
	_, err := f.w.Write(b)
	return err
}

// appendControlHeader appends the 8-byte header of a control frame.
func appendControlHeader(dst []byte, v Version, t FrameType, flags Flags, length int) []byte {
	return append(dst,
		0x80|byte(v>>8), byte(v), byte(t>>8), byte(t),
		byte(flags), byte(length>>16), byte(length>>8), byte(length))
}

func append32(dst []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(dst, v) }

// checkVersion refuses to write control frame t in version v.
func (f *Framer) checkVersion(v Version, t FrameType) error {
	if !v.known() {
		return invalidWrite(t, "unsupported version %d", v)
	}
	if !typeInVersion(t, v) && !f.AllowIllegalWrites {
		return invalidWrite(t, "not defined in %v", v)
	}
	return nil
}

// checkCommon applies the rules shared by every frame: the payload fits in
// 24 bits (always), the flags are defined for the type, and the stream id
// is in range and non-zero when the frame is about a stream (unless
// illegal writes are allowed).
func (f *Framer) checkCommon(t FrameType, flags Flags, id StreamID, zeroIDOK bool, payload int) error {
	if payload > MaxPayloadLen {
		return invalidWrite(t, "payload of %d bytes exceeds %d", payload, MaxPayloadLen)
	}
	if id > MaxStreamID {
		return invalidWrite(t, "stream id %d exceeds 31 bits", id)
	}
	if f.AllowIllegalWrites {
		return nil
	}
	if flags&^allowedFlags[t] != 0 {
		return invalidWrite(t, "undefined flags %#02x", uint8(flags&^allowedFlags[t]))
	}
	if id == 0 && !zeroIDOK {
		return invalidWrite(t, "stream id 0")
	}
	return nil
}

func (f *Framer) appendData(dst []byte, id StreamID, flags Flags, data []byte) ([]byte, error) {
	if err := f.checkCommon(FrameData, flags, id, false, len(data)); err != nil {
		return dst, err
	}
	n := len(data)
	dst = append(dst, byte(id>>24), byte(id>>16), byte(id>>8), byte(id),
		byte(flags), byte(n>>16), byte(n>>8), byte(n))
	return append(dst, data...), nil
}

func (f *Framer) appendSynStream(dst []byte, v Version, id, assoc StreamID, pri, slot uint8, flags Flags, block []byte) ([]byte, error) {
	if err := f.checkVersion(v, FrameSynStream); err != nil {
		return dst, err
	}
	if err := f.checkCommon(FrameSynStream, flags, id, false, 10+len(block)); err != nil {
		return dst, err
	}
	if assoc > MaxStreamID {
		return dst, invalidWrite(FrameSynStream, "associated stream id %d exceeds 31 bits", assoc)
	}
	var priByte, slotByte byte
	if v == Version2 {
		if pri > 3 || slot != 0 {
			return dst, invalidWrite(FrameSynStream, "priority %d (max 3) or slot %d (none) in SPDY/2", pri, slot)
		}
		if len(block) < 2 && !f.AllowIllegalWrites {
			return dst, invalidWrite(FrameSynStream, "header block of %d bytes", len(block))
		}
		priByte = pri << 6
	} else {
		if pri > 7 {
			return dst, invalidWrite(FrameSynStream, "priority %d exceeds 7", pri)
		}
		priByte, slotByte = pri<<5, slot
	}
	dst = appendControlHeader(dst, v, FrameSynStream, flags, 10+len(block))
	dst = append32(dst, uint32(id))
	dst = append32(dst, uint32(assoc))
	dst = append(dst, priByte, slotByte)
	return append(dst, block...), nil
}

// appendBlockFrame appends SYN_REPLY or HEADERS, which share a layout:
// stream id, 16 unused bits in SPDY/2 only, then the header block.
func (f *Framer) appendBlockFrame(dst []byte, v Version, t FrameType, id StreamID, flags Flags, block []byte) ([]byte, error) {
	if err := f.checkVersion(v, t); err != nil {
		return dst, err
	}
	fixed := 4
	if v == Version2 {
		fixed = 6
		if len(block) < 2 && !f.AllowIllegalWrites {
			return dst, invalidWrite(t, "header block of %d bytes", len(block))
		}
	}
	if err := f.checkCommon(t, flags, id, false, fixed+len(block)); err != nil {
		return dst, err
	}
	dst = appendControlHeader(dst, v, t, flags, fixed+len(block))
	dst = append32(dst, uint32(id))
	if v == Version2 {
		dst = append(dst, 0, 0)
	}
	return append(dst, block...), nil
}

func (f *Framer) appendRstStream(dst []byte, v Version, id StreamID, flags Flags, status StatusCode) ([]byte, error) {
	if err := f.checkVersion(v, FrameRstStream); err != nil {
		return dst, err
	}
	if err := f.checkCommon(FrameRstStream, flags, id, false, 8); err != nil {
		return dst, err
	}
	if status == 0 && !f.AllowIllegalWrites {
		return dst, invalidWrite(FrameRstStream, "status 0")
	}
	dst = appendControlHeader(dst, v, FrameRstStream, flags, 8)
	dst = append32(dst, uint32(id))
	return append32(dst, uint32(status)), nil
}

func (f *Framer) appendSettings(dst []byte, v Version, flags Flags, settings []Setting) ([]byte, error) {
	if err := f.checkVersion(v, FrameSettings); err != nil {
		return dst, err
	}
	if len(settings) > (MaxPayloadLen-4)/8 {
		return dst, invalidWrite(FrameSettings, "%d entries do not fit in one frame", len(settings))
	}
	n := 4 + 8*len(settings)
	if err := f.checkCommon(FrameSettings, flags, 0, true, n); err != nil {
		return dst, err
	}
	for _, s := range settings {
		if s.ID > maxSettingID {
			return dst, invalidWrite(FrameSettings, "setting id %d exceeds 24 bits", s.ID)
		}
	}
	dst = appendControlHeader(dst, v, FrameSettings, flags, n)
	dst = append32(dst, uint32(len(settings)))
	for _, s := range settings {
		id := uint32(s.ID)
		if v == Version2 {
			// SPDY/2: 24-bit id little-endian, then the flags.
			dst = append(dst, byte(id), byte(id>>8), byte(id>>16), byte(s.Flags))
		} else {
			dst = append(dst, byte(s.Flags), byte(id>>16), byte(id>>8), byte(id))
		}
		dst = append32(dst, s.Value)
	}
	return dst, nil
}

func (f *Framer) appendNoop(dst []byte, v Version, flags Flags) ([]byte, error) {
	if err := f.checkVersion(v, FrameNoop); err != nil {
		return dst, err
	}
	if err := f.checkCommon(FrameNoop, flags, 0, true, 0); err != nil {
		return dst, err
	}
	return appendControlHeader(dst, v, FrameNoop, flags, 0), nil
}

func (f *Framer) appendPing(dst []byte, v Version, flags Flags, id uint32) ([]byte, error) {
	if err := f.checkVersion(v, FramePing); err != nil {
		return dst, err
	}
	if err := f.checkCommon(FramePing, flags, 0, true, 4); err != nil {
		return dst, err
	}
	return append32(appendControlHeader(dst, v, FramePing, flags, 4), id), nil
}

func (f *Framer) appendGoAway(dst []byte, v Version, flags Flags, lastGood StreamID, status GoAwayStatus) ([]byte, error) {
	if err := f.checkVersion(v, FrameGoAway); err != nil {
		return dst, err
	}
	if lastGood > MaxStreamID {
		return dst, invalidWrite(FrameGoAway, "last-good stream id %d exceeds 31 bits", lastGood)
	}
	n := 8
	if v == Version2 {
		n = 4
	}
	if err := f.checkCommon(FrameGoAway, flags, 0, true, n); err != nil {
		return dst, err
	}
	dst = append32(appendControlHeader(dst, v, FrameGoAway, flags, n), uint32(lastGood))
	if v == Version2 {
		return dst, nil
	}
	return append32(dst, uint32(status)), nil
}

func (f *Framer) appendWindowUpdate(dst []byte, v Version, id StreamID, flags Flags, delta uint32) ([]byte, error) {
	if err := f.checkVersion(v, FrameWindowUpdate); err != nil {
		return dst, err
	}
	if err := f.checkCommon(FrameWindowUpdate, flags, id, true, 8); err != nil {
		return dst, err
	}
	if delta > streamIDMask {
		return dst, invalidWrite(FrameWindowUpdate, "delta %d exceeds 31 bits", delta)
	}
	if delta == 0 && !f.AllowIllegalWrites {
		return dst, invalidWrite(FrameWindowUpdate, "delta 0")
	}
	dst = appendControlHeader(dst, v, FrameWindowUpdate, flags, 8)
	dst = append32(dst, uint32(id))
	return append32(dst, delta), nil
}

func (f *Framer) appendCredential(dst []byte, v Version, flags Flags, fr *CredentialFrame) ([]byte, error) {
	if err := f.checkVersion(v, FrameCredential); err != nil {
		return dst, err
	}
	n := 6 + len(fr.Proof)
	for _, c := range fr.Certificates {
		n += 4 + len(c)
	}
	if err := f.checkCommon(FrameCredential, flags, 0, true, n); err != nil {
		return dst, err
	}
	if fr.Slot == 0 && !f.AllowIllegalWrites {
		return dst, invalidWrite(FrameCredential, "slot 0")
	}
	dst = appendControlHeader(dst, v, FrameCredential, flags, n)
	dst = append(dst, byte(fr.Slot>>8), byte(fr.Slot))
	dst = append32(dst, uint32(len(fr.Proof)))
	dst = append(dst, fr.Proof...)
	for _, c := range fr.Certificates {
		dst = append32(dst, uint32(len(c)))
		dst = append(dst, c...)
	}
	return dst, nil
}
