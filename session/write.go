package session

import (
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/spdygo/spdy/flowctl"
	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/internal/pool"
	"github.com/spdygo/spdy/stream"
)

// writeLoop performs the writes the loop prepares, one batch at a time.
func (s *Session) writeLoop() {
	defer close(s.l.writerExit)
	for b := range s.writeCh {
		if s.cfg.WriteTimeout > 0 {
			s.conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		}
		_, err := s.conn.Write(b)
		s.writeDone <- writeResult{buf: b, err: err}
	}
}

// flush builds the next batch of frames and hands it to the writer when
// the writer is free: control frames first, in order, then DATA and the
// other stream frames by priority, one frame per stream in turn. While the
// writer is busy the batch keeps filling, up to batchTarget, so that the
// next write carries everything that became ready meanwhile.
func (s *Session) flush() {
	l := &s.l
	if l.connClosed || l.writeBroken || s.writeCh == nil {
		return
	}
	if (l.nCtrl > 0 || (l.nReady > 0 && !l.closing)) && len(l.pending) < batchTarget {
		if l.pending == nil {
			l.pending = pool.Get(256 << 10)[:0]
		}
		l.pending = s.appendCtrl(l.pending)
		if !l.closing {
			l.pending = s.appendStreams(l.pending)
		}
	}
	if l.writerBusy || l.pending == nil {
		return
	}
	buf := l.pending
	l.pending = nil
	if len(buf) == 0 {
		pool.Put(buf)
		return
	}
	atomic.AddUint64(&s.stats.writes, 1)
	l.writerBusy = true
	s.writeCh <- buf
}

// appendCtrl appends every queued control frame.
func (s *Session) appendCtrl(buf []byte) []byte {
	l := &s.l
	for i := range l.ctrl {
		c := &l.ctrl[i]
		buf = s.appendCtrlItem(buf, c)
		*c = ctrlItem{}
	}
	l.ctrl = l.ctrl[:0]
	if cap(l.ctrl) > 1024 {
		l.ctrl = nil
	}
	l.nCtrl = 0
	l.nCtrlPeer = 0
	return buf
}

func (s *Session) appendCtrlItem(buf []byte, c *ctrlItem) []byte {
	var f framing.Frame
	var err error
	o := &s.l.out
	switch c.typ {
	case framing.FrameSynStream:
		if c.ss.gone {
			return buf // failed before it was announced (GOAWAY, session end)
		}
		block, berr := s.encoder().AppendBlock(s.l.hbuf[:0], c.fields)
		if berr != nil {
			// The fields were checked by Open; only a block too large for
			// a frame gets here. The stream was never announced.
			c.ss.h.Fail(berr)
			s.removeStream(c.ss)
			return buf
		}
		s.l.hbuf = block[:0]
		o.syn = framing.SynStreamFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameSynStream, Flags: c.flags, StreamID: c.id},
			AssociatedToStreamID: c.assoc, Priority: c.prio, HeaderBlock: block}
		f = &o.syn
	case framing.FrameRstStream:
		o.rst = framing.RstStreamFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameRstStream, StreamID: c.id}, Status: framing.StatusCode(c.val)}
		f = &o.rst
	case framing.FrameSettings:
		f = &framing.SettingsFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameSettings, Flags: c.flags}, Settings: c.settings}
	case framing.FramePing:
		o.ping = framing.PingFrame{FrameHeader: framing.FrameHeader{Type: framing.FramePing}, ID: c.val}
		f = &o.ping
	case framing.FrameGoAway:
		f = &framing.GoAwayFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameGoAway}, LastGoodStreamID: c.id, Status: framing.GoAwayStatus(c.val)}
		if s.v2Compat() {
			f = v2CompatFrame(framing.FrameGoAway, 0, uint32(c.id), c.val)
		}
	case framing.FrameWindowUpdate:
		o.wu = framing.WindowUpdateFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameWindowUpdate, StreamID: c.id}, DeltaWindowSize: c.val}
		f = &o.wu
		if s.v2Compat() {
			f = v2CompatFrame(framing.FrameWindowUpdate, c.id, uint32(c.id), c.val)
		}
	default:
		return buf
	}
	buf, err = s.appendFrame(buf, f)
	if err != nil {
		if s.log != nil {
			s.log.Error("frame not written", "frame", f.String(), "err", err)
		}
		return buf
	}
	if c.typ == framing.FrameSynStream {
		s.maybeFinish(c.ss) // opened with FIN and unidirectional
	}
	return buf
}

// v2CompatFrame returns a SPDY/2 control frame of type t with SPDY/3's
// 8-byte payload of two 32-bit words (GOAWAY, WINDOW_UPDATE), which the
// SPDY/2 framing does not write; see Config.V2Compat. id only labels the
// frame in traces.
func v2CompatFrame(t framing.FrameType, id framing.StreamID, a, b uint32) framing.Frame {
	p := binary.BigEndian.AppendUint32(make([]byte, 0, 8), a)
	p = binary.BigEndian.AppendUint32(p, b)
	return &framing.UnknownFrame{FrameHeader: framing.FrameHeader{Control: true, Version: framing.Version2, Type: t, StreamID: id}, Payload: p}
}

// appendStreams appends stream frames by priority until the batch is full
// or no stream can send.
func (s *Session) appendStreams(buf []byte) []byte {
	l := &s.l
	for len(buf) < batchTarget && l.nReady > 0 {
		ss := s.nextReady()
		if ss == nil {
			break
		}
		if ss.gone {
			continue
		}
		maxData := s.cfg.MaxFrameSize
		if w := flowctl.Sendable(&ss.out, &l.sendWin); w < maxData {
			maxData = w
		}
		var fin bool
		var failed error
		kind, n, blocked, more := ss.h.Next(maxData, func(it *stream.Item) {
			fin = it.Fin
			buf, failed = s.appendItem(buf, ss, it)
		})
		if n > 0 {
			ss.out.Take(n)
			l.sendWin.Take(n)
			atomic.AddUint64(&s.stats.bytesOut, uint64(n))
		}
		switch {
		case failed != nil:
			// A header block that cannot be encoded: reset the stream.
			s.resetStream(ss.id, framing.StatusInternalError)
			continue
		case kind == stream.ItemReset:
			s.addRecentReset(ss.id)
			s.removeStream(ss)
			continue
		case fin:
			ss.localFin = true
			s.maybeFinish(ss)
		}
		if ss.gone {
			continue
		}
		switch {
		case blocked:
			ss.blocked = true
			l.blocked[ss] = struct{}{}
		case more:
			s.enqueue(ss)
		}
	}
	return buf
}

// nextReady pops the first stream of the highest priority with frames.
func (s *Session) nextReady() *sstream {
	l := &s.l
	for p := range l.ready {
		if ss := l.ready[p].pop(); ss != nil {
			l.nReady--
			ss.queued = false
			return ss
		}
	}
	l.nReady = 0
	return nil
}

// appendItem appends the frame for one stream item.
func (s *Session) appendItem(buf []byte, ss *sstream, it *stream.Item) ([]byte, error) {
	var flags framing.Flags
	if it.Fin {
		flags = framing.FlagFin
	}
	var f framing.Frame
	o := &s.l.out
	switch it.Kind {
	case stream.ItemData:
		out, err := s.wfr.AppendData(buf, ss.id, it.Fin, it.Data)
		if err != nil {
			return buf, err
		}
		atomic.AddUint64(&s.stats.framesOut, 1)
		if s.trace {
			s.log.Debug("frame", "dir", "out", "frame", (&framing.DataFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameData, Flags: flags, StreamID: ss.id, Length: uint32(len(it.Data))}}).String())
		}
		return out, nil
	case stream.ItemReply, stream.ItemHeaders:
		block, err := s.encoder().AppendBlock(s.l.hbuf[:0], it.Fields)
		if err != nil {
			return buf, err
		}
		s.l.hbuf = block[:0]
		if it.Kind == stream.ItemReply {
			o.reply = framing.SynReplyFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameSynReply, Flags: flags, StreamID: ss.id}, HeaderBlock: block}
			f = &o.reply
		} else {
			o.headers = framing.HeadersFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameHeaders, Flags: flags, StreamID: ss.id}, HeaderBlock: block}
			f = &o.headers
		}
	case stream.ItemReset:
		status := s.status(it.Status)
		s.stats.resetSent(status)
		o.rst = framing.RstStreamFrame{FrameHeader: framing.FrameHeader{Type: framing.FrameRstStream, StreamID: ss.id}, Status: status}
		f = &o.rst
	default:
		return buf, nil
	}
	return s.appendFrame(buf, f)
}

// appendFrame appends the control frame f to buf, counts it and traces
// it. On error buf is returned unchanged.
func (s *Session) appendFrame(buf []byte, f framing.Frame) ([]byte, error) {
	out, err := s.wfr.AppendFrame(buf, f)
	if err != nil {
		return buf, err
	}
	atomic.AddUint64(&s.stats.framesOut, 1)
	if s.trace {
		setLength(f, len(out)-len(buf)-framing.FrameHeaderLen)
		s.logFrame("out", f)
	}
	return out, nil
}

// outFrames are the loop's reusable frame values for writing, so that
// writing a control frame allocates nothing. Each is only used between
// being filled and being appended.
type outFrames struct {
	syn     framing.SynStreamFrame
	reply   framing.SynReplyFrame
	headers framing.HeadersFrame
	rst     framing.RstStreamFrame
	ping    framing.PingFrame
	wu      framing.WindowUpdateFrame
}

// setLength fills in the payload length of a frame written, for traces.
func setLength(f framing.Frame, n int) {
	l := uint32(n)
	switch f := f.(type) {
	case *framing.SynStreamFrame:
		f.Length = l
	case *framing.SynReplyFrame:
		f.Length = l
	case *framing.HeadersFrame:
		f.Length = l
	case *framing.RstStreamFrame:
		f.Length = l
	case *framing.SettingsFrame:
		f.Length = l
	case *framing.PingFrame:
		f.Length = l
	case *framing.GoAwayFrame:
		f.Length = l
	case *framing.WindowUpdateFrame:
		f.Length = l
	case *framing.UnknownFrame:
		f.Length = l
	}
}

func (s *Session) logFrame(dir string, f framing.Frame) {
	s.log.Debug("frame", "dir", dir, "frame", f.String())
}

// encoder returns the header encoder, made at the first block sent: an idle
// session holds no deflate state (about 75 KB).
func (s *Session) encoder() *hpackz.Encoder {
	if s.enc == nil {
		s.enc = hpackz.NewEncoder(s.cfg.Version.headers(), &hpackz.EncoderOptions{Level: s.cfg.HeaderCompression, Sensitive: s.cfg.SensitiveHeader})
	}
	return s.enc
}
