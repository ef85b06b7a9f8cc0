package session

import (
	"errors"
	"runtime"
	"sort"
	"time"

	"github.com/spdygo/spdy/flowctl"
	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/internal/pool"
	"github.com/spdygo/spdy/stream"
)

// sstream is the loop's record of one stream: the protocol state the
// session needs to judge the peer's frames, and the windows.
type sstream struct {
	id        framing.StreamID
	h         *stream.Handle
	prio      uint8
	local     bool
	assoc     framing.StreamID
	in        flowctl.Inflow
	out       flowctl.Outflow
	replied   bool // a stream we opened: its SYN_REPLY arrived (or none is due)
	remoteFin bool // the peer may send nothing more
	localFin  bool // we may send nothing more
	queued    bool // in a ready queue
	blocked   bool // waiting for window
	gone      bool // removed from the table
	names     map[string]struct{}
}

// ctrlItem is a control frame waiting in the control queue.
type ctrlItem struct {
	typ      framing.FrameType
	id       framing.StreamID
	assoc    framing.StreamID
	prio     uint8
	flags    framing.Flags
	val      uint32
	fields   []hpackz.Field
	settings []framing.Setting
	ss       *sstream // SYN_STREAM: the stream it opens
}

type pingReq struct {
	id   uint32
	sent time.Time
	ch   chan pingResult // nil for the session's own pings
}

type pingResult struct {
	rtt time.Duration
	err error
}

// fifo is a queue of streams.
type fifo struct {
	q    []*sstream
	head int
}

func (f *fifo) push(ss *sstream) { f.q = append(f.q, ss) }

func (f *fifo) pop() *sstream {
	if f.head == len(f.q) {
		return nil
	}
	ss := f.q[f.head]
	f.q[f.head] = nil
	f.head++
	if f.head == len(f.q) {
		f.q = f.q[:0]
		f.head = 0
	}
	return ss
}

func (f *fifo) empty() bool { return f.head == len(f.q) }

type loopState struct {
	streams        map[framing.StreamID]*sstream
	nextID         framing.StreamID
	lastPeerID     framing.StreamID
	nLocal, nPeer  int
	peerMaxStreams uint32
	peerWindow     int32
	enforceIn      bool // check received data against our windows
	enforceOut     bool // honor the peer's stream windows
	sendWin        flowctl.Outflow
	recvWin        flowctl.Inflow

	ctrl  []ctrlItem
	nCtrl int
	// nCtrlPeer counts the queued control frames other than SYN_STREAM.
	nCtrlPeer int
	// pending is the batch being built while the writer is busy.
	pending []byte
	out     outFrames
	ready   [8]fifo
	nReady  int
	blocked map[*sstream]struct{}

	pings    map[uint32]*pingReq
	nextPing uint32
	kaPing   uint32
	kaSent   time.Time
	rtt      time.Duration

	openWaiters []*openReq

	goawaySent     bool
	goawayLastGood framing.StreamID
	goawayRecv     bool
	peerGoAway     *GoAwayError
	draining       bool
	closing        bool
	writeBroken    bool
	writerBusy     bool
	connClosed     bool
	halfClosed     bool // our side of the connection is shut; reading until the peer's end
	graceful       bool // the session ends without error: Close, a drain, the peer's GOAWAY
	readerDone     bool
	writerExited   bool
	closeTimer     *time.Timer
	closeTimerC    <-chan time.Time
	ticker         *time.Ticker
	tickC          <-chan time.Time
	idleSince      time.Time
	invalidFrames  int
	floodTokens    float64   // what is left of Config.FloodLimit
	floodRefilled  time.Time // when floodTokens was last refilled
	recentReset    [1024]framing.StreamID
	recentResetPos int
	peerSettings   []framing.Setting
	hbuf           []byte
	writerExit     chan struct{}
}

// maxInvalidFrames is how many frames for streams that are not open a
// peer may send before the session ends with PROTOCOL_ERROR.
const maxInvalidFrames = 1000

// batchTarget is the size at which the loop stops adding frames to a
// write; a batch goes out as soon as the writer is free.
const batchTarget = 128 << 10

func (s *Session) initLoop() {
	l := &s.l
	l.streams = make(map[framing.StreamID]*sstream)
	l.blocked = make(map[*sstream]struct{})
	l.pings = make(map[uint32]*pingReq)
	l.peerMaxStreams = unlimitedStreams
	l.peerWindow = flowctl.DefaultWindow
	l.writerExit = make(chan struct{})
	if s.role == Client {
		l.nextID, l.nextPing = 1, 1
	} else {
		l.nextID, l.nextPing = 2, 2
	}
	l.enforceIn = (s.version != V2 || s.cfg.V2Compat) && !s.cfg.UnlimitedPeerWindow
	l.enforceOut = l.enforceIn
	if s.version == V31 && l.enforceIn {
		l.sendWin.Init(flowctl.DefaultWindow)
		l.recvWin.Init(flowctl.DefaultWindow, s.cfg.MaxSessionWindowSize)
	} else {
		l.sendWin.InitUnlimited()
		l.recvWin.InitUnlimited()
	}
	l.idleSince = time.Now()
	l.floodTokens, l.floodRefilled = float64(s.cfg.FloodLimit), l.idleSince
	period := time.Duration(0)
	for _, d := range []time.Duration{s.cfg.KeepAlive, s.cfg.IdleTimeout} {
		if d > 0 && (period == 0 || d < period) {
			period = d
		}
	}
	if s.cfg.KeepAlive > 0 && s.cfg.KeepAliveTimeout < period {
		period = s.cfg.KeepAliveTimeout
	}
	if period > 0 {
		period /= 4
		if period < time.Millisecond {
			period = time.Millisecond
		}
		l.ticker = time.NewTicker(period)
		l.tickC = l.ticker.C
	}
}

// run is the loop goroutine.
func (s *Session) run() {
	l := &s.l
	s.sendPreface()
	for {
		s.flush()
		if l.closing && s.finishClose() {
			return
		}
		s.dispatch()
		// Take everything else that is ready before building the next
		// batch, so that frames ready together share one write. Only the
		// loop receives from these channels, so dispatch cannot block.
		for i := 0; i < 128 && s.inputReady(); i++ {
			s.dispatch()
		}
		if !s.l.writerBusy {
			// Let goroutines that are about to hand us frames run first.
			runtime.Gosched()
			for i := 0; i < 128 && s.inputReady(); i++ {
				s.dispatch()
			}
		}
	}
}

// inputReady reports whether an input is waiting in a buffered channel.
func (s *Session) inputReady() bool {
	return len(s.inbound) > 0 || len(s.reqs) > 0 || len(s.wake) > 0 || len(s.writeDone) > 0
}

// dispatch waits for one input of the loop and handles it.
func (s *Session) dispatch() {
	l := &s.l
	// The busy inputs first, without the cost of the full select.
	select {
	case ev, ok := <-s.inbound:
		s.received(ev, ok)
		return
	default:
	}
	select {
	case <-s.wake:
		s.collect()
		return
	default:
	}
	var writerExit <-chan struct{}
	if l.closing && !l.writerExited {
		writerExit = l.writerExit
	}
	select {
	case ev, ok := <-s.inbound:
		s.received(ev, ok)
	case f := <-s.reqs:
		f()
	case <-s.wake:
		s.collect()
	case r := <-s.writeDone:
		s.writeFinished(r)
	case <-l.tickC:
		s.onTick()
	case <-l.closeTimerC:
		l.closeTimerC = nil
		s.closeConn()
	case <-writerExit:
		l.writerExited = true
	}
}

// received handles what the reader sent; ok is false once it has ended
// (after its final event, which already ended the session).
func (s *Session) received(ev inEvent, ok bool) {
	l := &s.l
	if ok {
		s.handle(ev)
		return
	}
	l.readerDone = true
	s.inbound = nil
	if !l.closing {
		s.closeWith(readError(errors.New("reader ended")), false, framing.GoAwayOK)
	}
}

// finishClose advances the end of the session; it returns true when the
// loop may exit.
func (s *Session) finishClose() bool {
	l := &s.l
	if !l.writerBusy && ((l.nCtrl == 0 && len(l.pending) == 0) || l.writeBroken) {
		if l.readerDone || l.writeBroken || !s.shutWrite() {
			s.closeConn()
		}
	}
	if (l.connClosed || l.halfClosed) && !l.writerBusy && s.writeCh != nil {
		close(s.writeCh)
		s.writeCh = nil
	}
	if !l.connClosed || !l.readerDone || !l.writerExited {
		return false
	}
	if l.closeTimer != nil {
		l.closeTimer.Stop()
	}
	if l.ticker != nil {
		l.ticker.Stop()
	}
	// Answer requests that raced with the end, then close done.
	for {
		select {
		case f := <-s.reqs:
			f()
			continue
		default:
		}
		break
	}
	s.notifyMu.Lock()
	s.notified = nil
	s.notifyMu.Unlock()
	close(s.done)
	return true
}

// shutWrite ends our side of the connection once everything is written,
// when the session ends gracefully or with a GOAWAY of ours (a protocol
// error, a flood) and the connection can (TCP, TLS and the wrappers of
// npn), and reports whether our side is shut. The
// connection is then closed when the peer ends its side (the reader
// reaches EOF) or when the close timer fires.
// Closing a TCP socket that still has unread bytes sends a reset, which
// makes the peer's kernel drop what it has not read yet: the last DATA
// frames and the GOAWAY. Reading on until the peer closes avoids that.
func (s *Session) shutWrite() bool {
	l := &s.l
	if l.halfClosed {
		return true
	}
	if l.connClosed || !(l.graceful || l.goawaySent) {
		return false
	}
	cw, ok := s.conn.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return false
	}
	l.halfClosed = true
	return true
}

// closeConn closes the connection once.
func (s *Session) closeConn() {
	if !s.l.connClosed {
		s.l.connClosed = true
		s.conn.Close()
	}
}

// writeFinished handles the writer's report on a batch.
func (s *Session) writeFinished(r writeResult) {
	l := &s.l
	l.writerBusy = false
	pool.Put(r.buf)
	if r.err != nil {
		l.writeBroken = true
		var err error = &TransportError{Op: "write", Err: r.err}
		if isTimeout(r.err) && !l.connClosed {
			err = ErrWriteTimeout
		}
		s.closeWith(err, false, framing.GoAwayOK)
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// sendPreface queues the first frames: SETTINGS, the SPDY/3.1 session
// window and a PING that measures the round trip.
func (s *Session) sendPreface() {
	l := &s.l
	var set []framing.Setting
	set = append(set, framing.Setting{ID: framing.SettingMaxConcurrentStreams, Value: s.cfg.MaxConcurrentStreams})
	if l.enforceIn && s.cfg.InitialWindowSize != flowctl.DefaultWindow {
		set = append(set, framing.Setting{ID: framing.SettingInitialWindowSize, Value: uint32(s.cfg.InitialWindowSize)})
	}
	if s.role == Client {
		for _, p := range s.cfg.PersistedSettings {
			dup := false
			for _, e := range set {
				dup = dup || e.ID == p.ID
			}
			if !dup && p.ID <= 0xffffff {
				set = append(set, framing.Setting{ID: p.ID, Flags: framing.SettingPersisted, Value: p.Value})
			}
		}
	}
	sort.Slice(set, func(i, j int) bool { return set[i].ID < set[j].ID })
	s.queueCtrl(ctrlItem{typ: framing.FrameSettings, settings: set})
	if s.version == V31 && l.enforceIn {
		if d := l.recvWin.GrowTarget(s.cfg.SessionWindowSize); d > 0 {
			s.queueCtrl(ctrlItem{typ: framing.FrameWindowUpdate, id: 0, val: d})
		}
	}
	s.sendPing(&pingReq{})
}

// queueCtrl appends a control frame to the control queue. A peer that
// does not read cannot make the queue grow without bound.
func (s *Session) queueCtrl(c ctrlItem) {
	l := &s.l
	if c.typ != framing.FrameSynStream {
		// SYN_STREAMs come from our own Opens; the limit is for what the
		// peer makes us queue.
		if l.nCtrlPeer >= s.cfg.MaxQueuedControl && !l.closing {
			s.closeWith(ErrControlQueueFull, false, framing.GoAwayInternalError)
			return
		}
		l.nCtrlPeer++
	}
	l.ctrl = append(l.ctrl, c)
	l.nCtrl++
}

// closeWith ends the session with err. With goAway, a GOAWAY with status
// is queued first (unless one was sent). Every stream and pending call
// fails; the connection is closed once the queued frames are written, or
// after closeFlushTimeout.
func (s *Session) closeWith(err error, goAway bool, status framing.GoAwayStatus) {
	l := &s.l
	if l.closing {
		return
	}
	l.closing = true
	s.discard.Store(true)
	var te *TransportError
	if l.goawayRecv && errors.As(err, &te) && te.Op == "read" {
		err = l.peerGoAway // the peer said it was going away, then closed
	}
	l.graceful = err == ErrClosed || (l.peerGoAway != nil && err == error(l.peerGoAway))
	s.setErr(err)
	if s.log != nil && err != ErrClosed {
		s.log.Debug("session ending", "err", err)
	}
	if goAway && !l.goawaySent && !l.writeBroken {
		l.goawaySent = true
		l.goawayLastGood = l.lastPeerID
		s.queueCtrl(ctrlItem{typ: framing.FrameGoAway, id: l.lastPeerID, val: uint32(status)})
	}
	streamErr := err
	for _, ss := range l.streams {
		ss.h.Fail(streamErr)
		ss.gone = true
		ss.h.Finish()
	}
	clear(l.streams)
	l.nLocal, l.nPeer = 0, 0
	for i := range l.ready {
		l.ready[i] = fifo{}
	}
	clear(l.blocked)
	for _, w := range l.openWaiters {
		w.ch <- openResult{err: err}
	}
	l.openWaiters = nil
	for id, p := range l.pings {
		if p.ch != nil {
			p.ch <- pingResult{err: err}
		}
		delete(l.pings, id)
	}
	s.acceptMu.Lock()
	s.acceptQ = nil
	s.acceptMu.Unlock()
	select {
	case s.acceptSig <- struct{}{}:
	default:
	}
	l.closeTimer = time.NewTimer(closeFlushTimeout)
	l.closeTimerC = l.closeTimer.C
	if s.cfg.WriteTimeout > 0 {
		s.conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
	}
}

// connError ends the session because the peer broke a session rule.
func (s *Session) connError(status framing.GoAwayStatus, reason string, cause error) {
	if s.log != nil {
		s.log.Warn("peer protocol error", "reason", reason)
	}
	s.closeWith(&ProtocolError{Status: status, Reason: reason, Err: cause}, true, status)
}

// handle processes one event from the reader.
func (s *Session) handle(ev inEvent) {
	l := &s.l
	if l.closing {
		if ev.data != nil {
			pool.Put(ev.data)
		}
		return
	}
	if ev.err != nil {
		s.handleReadErr(ev)
		return
	}
	if ev.unknown {
		if !s.costly("ignored frames", 1) {
			return
		}
		if ev.typ == framing.FrameSynStream && ev.version != s.wireVersion && ev.id != 0 {
			s.resetStream(ev.id, framing.StatusUnsupportedVersion)
		}
		return
	}
	if !s.costly("large header blocks", headerCost(ev.hdrSize)) {
		return
	}
	switch ev.typ {
	case framing.FrameData:
		s.onData(ev)
	case framing.FrameSynStream:
		s.onSynStream(ev)
	case framing.FrameSynReply:
		s.onSynReply(ev)
	case framing.FrameHeaders:
		s.onHeaders(ev)
	case framing.FrameRstStream:
		s.onRstStream(ev)
	case framing.FrameSettings:
		s.onSettings(ev)
	case framing.FramePing:
		s.onPing(ev)
	case framing.FrameGoAway:
		s.onGoAway(ev)
	case framing.FrameWindowUpdate:
		s.onWindowUpdate(ev)
	}
}

func (s *Session) handleReadErr(ev inEvent) {
	var ce *framing.ConnectionError
	var se *framing.StreamError
	switch {
	case errors.As(ev.err, &ce):
		if errors.As(ce.Err, &se) {
			s.resetStream(se.StreamID, se.Status)
		}
		s.connError(ce.Status, ce.Reason, ce.Err)
	case errors.As(ev.err, &se):
		if ev.typ == framing.FrameData {
			if !s.receiveSession(ev.length) {
				return
			}
		}
		s.invalidFrame()
		s.resetStream(se.StreamID, se.Status)
	default:
		s.closeWith(readError(ev.err), true, framing.GoAwayOK)
	}
}

// invalidFrame counts a frame the peer should not have sent.
func (s *Session) invalidFrame() {
	l := &s.l
	l.invalidFrames++
	if l.invalidFrames > maxInvalidFrames {
		s.connError(framing.GoAwayProtocolError, "too many frames for streams that are not open", nil)
	}
}

// costly takes n tokens from the flood bucket for frames of the kind what
// (see Config.FloodLimit); n of 0 costs nothing. When the bucket is empty
// it ends the session with GOAWAY PROTOCOL_ERROR and reports false.
func (s *Session) costly(what string, n int) bool {
	l := &s.l
	if s.cfg.FloodLimit < 0 || n <= 0 {
		return true
	}
	if l.floodTokens < float64(n) {
		now := time.Now()
		l.floodTokens = min(float64(s.cfg.FloodLimit), l.floodTokens+now.Sub(l.floodRefilled).Seconds()*float64(s.cfg.FloodRate))
		l.floodRefilled = now
		if l.floodTokens < float64(n) {
			s.connError(framing.GoAwayProtocolError, "flood of "+what, ErrFlood)
			return false
		}
	}
	l.floodTokens -= float64(n)
	return true
}

// headerCost is what a header block of size inflated bytes costs in flood
// tokens: one per full 16 KiB.
func headerCost(size int) int { return size >> 14 }

// status maps SPDY/3 stream status codes to SPDY/2's smaller set.
func (s *Session) status(c framing.StatusCode) framing.StatusCode {
	if s.version == V2 && c > framing.StatusFlowControlError {
		return framing.StatusProtocolError
	}
	return c
}

// resetStream sends RST_STREAM for id and ends the stream if it is open:
// a stream error detected by the session.
func (s *Session) resetStream(id framing.StreamID, status framing.StatusCode) {
	l := &s.l
	status = s.status(status)
	s.queueCtrl(ctrlItem{typ: framing.FrameRstStream, id: id, val: uint32(status)})
	s.stats.resetSent(status)
	s.addRecentReset(id)
	if ss := l.streams[id]; ss != nil {
		ss.h.Fail(&stream.ResetError{StreamID: id, Status: status})
		s.removeStream(ss)
	}
}

func (s *Session) addRecentReset(id framing.StreamID) {
	l := &s.l
	l.recentReset[l.recentResetPos] = id
	l.recentResetPos = (l.recentResetPos + 1) % len(l.recentReset)
}

func (s *Session) recentlyReset(id framing.StreamID) bool {
	for _, r := range s.l.recentReset {
		if r == id {
			return true
		}
	}
	return false
}

// peerInitiated reports whether id has the peer's parity.
func (s *Session) peerInitiated(id framing.StreamID) bool {
	return id.ClientInitiated() == (s.role == Server)
}

// neverOpened reports whether no stream id was ever open.
func (s *Session) neverOpened(id framing.StreamID) bool {
	if s.peerInitiated(id) {
		return id > s.l.lastPeerID
	}
	return id >= s.l.nextID
}

// unknownStream answers a frame for a stream that is not open.
func (s *Session) unknownStream(id framing.StreamID) {
	if s.recentlyReset(id) {
		return
	}
	if s.neverOpened(id) {
		s.invalidFrame()
		s.resetStream(id, framing.StatusInvalidStream)
	} else {
		// Not counted against the session: a peer may go on writing to a
		// stream reset longer ago than recentReset remembers (moby/
		// spdystream's writers never learn of a reset).
		s.resetStream(id, framing.StatusProtocolError)
	}
}

// removeStream forgets a stream that ended on the wire.
func (s *Session) removeStream(ss *sstream) {
	l := &s.l
	if ss.gone {
		return
	}
	ss.gone = true
	delete(l.streams, ss.id)
	delete(l.blocked, ss)
	if ss.local {
		l.nLocal--
	} else {
		l.nPeer--
	}
	ss.h.Finish()
	if len(l.streams) == 0 {
		l.idleSince = time.Now()
	}
	s.runOpenWaiters()
	s.checkDrained()
}

// maybeFinish removes a stream once both sides are done.
func (s *Session) maybeFinish(ss *sstream) {
	if ss.localFin && ss.remoteFin {
		s.removeStream(ss)
	}
}

// remoteFinished records the peer's FIN on ss.
func (s *Session) remoteFinished(ss *sstream) {
	ss.remoteFin = true
	ss.h.DeliverFin()
	s.maybeFinish(ss)
}

// headerError answers a header block that failed to decode: the
// compression context is lost (session error) or one stream is (stream
// error). It reports whether the session goes on.
func (s *Session) headerError(id framing.StreamID, err error) bool {
	var ce *hpackz.CompressionError
	var tl *hpackz.TooLargeError
	var tm *hpackz.TooManyFieldsError
	switch {
	case errors.As(err, &ce):
		s.connError(framing.GoAwayProtocolError, "header block decompression failed", err)
		return false
	case errors.As(err, &tl), errors.As(err, &tm):
		s.resetStream(id, framing.StatusFrameTooLarge)
	default:
		s.resetStream(id, framing.StatusProtocolError)
	}
	return true
}

func (s *Session) onSynStream(ev inEvent) {
	l := &s.l
	id := ev.id
	if !s.peerInitiated(id) {
		s.connError(framing.GoAwayProtocolError, "SYN_STREAM with this endpoint's stream id parity", nil)
		return
	}
	if id < l.lastPeerID {
		s.connError(framing.GoAwayProtocolError, "SYN_STREAM id lower than an earlier one", nil)
		return
	}
	if id == l.lastPeerID {
		if ev.hdrErr != nil && !s.headerError(id, ev.hdrErr) {
			return
		}
		s.resetStream(id, framing.StatusProtocolError)
		return
	}
	if l.goawaySent && id > l.goawayLastGood {
		if ev.hdrErr != nil {
			var ce *hpackz.CompressionError
			if errors.As(ev.hdrErr, &ce) {
				s.connError(framing.GoAwayProtocolError, "header block decompression failed", ev.hdrErr)
			}
		}
		return // ignored after our GOAWAY
	}
	l.lastPeerID = id
	if ev.hdrErr != nil {
		s.headerError(id, ev.hdrErr)
		return
	}
	uni := ev.flags.Has(framing.FlagUnidirectional)
	fin := ev.flags.Has(framing.FlagFin)
	if uni && s.role == Server {
		s.resetStream(id, framing.StatusProtocolError)
		return
	}
	if uni && ev.assoc == 0 {
		s.connError(framing.GoAwayProtocolError, "unidirectional SYN_STREAM without an associated stream", nil)
		return
	}
	if s.role == Client && ev.assoc != 0 && s.cfg.RejectPush {
		s.resetStream(id, framing.StatusCancel)
		return
	}
	// Streams waiting in the accept queue count too, reset or not: a peer
	// that opens and resets streams while the application does not accept
	// them (rapid reset) must not grow the queue without bound. Every
	// stream the peer opened is still handed to Accept, reset ones
	// included.
	s.acceptMu.Lock()
	queued := len(s.acceptQ)
	s.acceptMu.Unlock()
	if uint32(l.nPeer) >= s.cfg.MaxConcurrentStreams || uint32(queued) >= s.cfg.MaxConcurrentStreams {
		s.stats.refused.Add(1)
		s.resetStream(id, framing.StatusRefusedStream)
		s.costly("refused streams", 1)
		return
	}
	ss := &sstream{id: id, prio: ev.prio, assoc: ev.assoc, remoteFin: fin, localFin: uni, replied: true}
	if l.enforceIn {
		if s.cfg.InitialWindowSize < flowctl.DefaultWindow {
			// The peer may have opened the stream before reading our
			// SETTINGS: allow the protocol's window (flowctl's slack).
			ss.in.Init(flowctl.DefaultWindow, s.cfg.MaxWindowSize)
			ss.in.AdjustInitial(flowctl.DefaultWindow, s.cfg.InitialWindowSize)
		} else {
			ss.in.Init(s.cfg.InitialWindowSize, s.cfg.MaxWindowSize)
		}
	} else {
		ss.in.InitUnlimited()
	}
	s.initOut(ss)
	st, h := stream.New(stream.Config{
		ID: id, Priority: ev.prio, AssociatedTo: ev.assoc,
		SendClosed: uni, RecvClosed: fin, NeedReply: !uni,
		Headers: ev.fields, Sender: sender{s}, Version: s.version.headers(),
		LocalAddr: s.conn.LocalAddr(), RemoteAddr: s.conn.RemoteAddr(),
	})
	ss.h = h
	l.streams[id] = ss
	l.nPeer++
	s.stats.accepted.Add(1)
	if !uni && !s.cfg.ManualReply {
		h.AutoReply()
	}
	s.acceptMu.Lock()
	s.acceptQ = append(s.acceptQ, st)
	s.acceptMu.Unlock()
	select {
	case s.acceptSig <- struct{}{}:
	default:
	}
	s.maybeFinish(ss)
}

func (s *Session) initOut(ss *sstream) {
	if s.l.enforceOut {
		ss.out.Init(s.l.peerWindow)
	} else {
		ss.out.InitUnlimited()
	}
}

// headerStream returns the open stream a SYN_REPLY or HEADERS frame is
// for, or nil when the frame was answered already: a header block that
// failed to decode (lost compression context, or a bad block on an open
// stream) or a stream that is not open.
func (s *Session) headerStream(ev inEvent) *sstream {
	ss := s.l.streams[ev.id]
	if ev.hdrErr != nil {
		var ce *hpackz.CompressionError
		if errors.As(ev.hdrErr, &ce) || ss != nil {
			s.headerError(ev.id, ev.hdrErr)
			return nil
		}
	}
	if ss == nil {
		s.unknownStream(ev.id)
	}
	return ss
}

func (s *Session) onSynReply(ev inEvent) {
	ss := s.headerStream(ev)
	if ss == nil {
		return
	}
	switch {
	case !ss.local:
		s.invalidFrame()
		s.resetStream(ev.id, framing.StatusInvalidStream)
		return
	case ss.remoteFin:
		s.resetStream(ev.id, framing.StatusStreamAlreadyClosed)
		return
	case ss.replied:
		s.resetStream(ev.id, framing.StatusStreamInUse)
		return
	}
	ss.replied = true
	ss.h.DeliverReply(ev.fields)
	if ev.flags.Has(framing.FlagFin) {
		s.remoteFinished(ss)
	}
}

func (s *Session) onHeaders(ev inEvent) {
	if len(ev.fields) == 0 && ev.hdrErr == nil && !ev.flags.Has(framing.FlagFin) && !s.costly("empty HEADERS frames", 1) {
		return
	}
	ss := s.headerStream(ev)
	if ss == nil {
		return
	}
	if ss.remoteFin {
		s.resetStream(ev.id, framing.StatusStreamAlreadyClosed)
		return
	}
	if ss.local && !ss.replied {
		s.resetStream(ev.id, framing.StatusProtocolError)
		return
	}
	if ss.names == nil {
		ss.names = make(map[string]struct{})
		for _, f := range ss.h.Stream().Headers() {
			ss.names[f.Name] = struct{}{}
		}
	}
	for _, f := range ev.fields {
		if _, dup := ss.names[f.Name]; dup {
			s.resetStream(ev.id, framing.StatusProtocolError)
			return
		}
	}
	for _, f := range ev.fields {
		ss.names[f.Name] = struct{}{}
	}
	ss.h.DeliverHeaders(ev.fields)
	if ev.flags.Has(framing.FlagFin) {
		s.remoteFinished(ss)
	}
}

func (s *Session) onRstStream(ev inEvent) {
	l := &s.l
	status := framing.StatusCode(ev.val)
	s.stats.resetRecv(status)
	if !s.costly("RST_STREAM frames", 1) {
		return
	}
	ss := l.streams[ev.id]
	if ss == nil {
		return
	}
	ss.h.Fail(&stream.ResetError{StreamID: ev.id, Status: status, Remote: true})
	s.removeStream(ss)
	if s.role == Server && ss.local == false && status == framing.StatusCancel {
		// Refusing a request's pushes: stop every push associated to it.
		for _, p := range l.streams {
			if p.local && p.assoc == ev.id {
				s.resetStream(p.id, framing.StatusCancel)
			}
		}
	}
}

func (s *Session) onSettings(ev inEvent) {
	l := &s.l
	if !s.costly("SETTINGS frames", 1) {
		return
	}
	var persist []framing.Setting
	if s.role == Client && ev.flags.Has(framing.FlagClearSettings) && s.cfg.PersistSettings != nil {
		s.cfg.PersistSettings(nil, true)
	}
	var seen [framing.SettingClientCertificateVectorSize + 1]bool
	for _, e := range ev.settings {
		if e.ID == 0 || e.ID > framing.SettingClientCertificateVectorSize {
			continue // unknown ids are ignored
		}
		if seen[e.ID] {
			continue // a receiver uses the first of duplicates
		}
		seen[e.ID] = true
		if s.role == Server && e.Flags&framing.SettingPersisted != 0 {
			// Values a client kept for us describe us, not the client.
			continue
		}
		if s.role == Client && e.Flags&framing.SettingPersistValue != 0 {
			persist = append(persist, e)
		}
		s.recordPeerSetting(e)
		switch e.ID {
		case framing.SettingMaxConcurrentStreams:
			l.peerMaxStreams = e.Value
			s.runOpenWaiters()
		case framing.SettingInitialWindowSize:
			if !l.enforceOut {
				continue
			}
			size, err := flowctl.WindowSize(e.Value)
			if err != nil {
				s.connError(framing.GoAwayProtocolError, "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1", err)
				return
			}
			old := l.peerWindow
			l.peerWindow = size
			for _, ss := range l.streams {
				if ss.localFin {
					continue
				}
				if err := ss.out.AdjustInitial(old, size); err != nil {
					s.resetStream(ss.id, framing.StatusFlowControlError)
					continue
				}
				if size > old {
					s.unblock(ss)
				}
			}
		}
	}
	if len(persist) > 0 && s.cfg.PersistSettings != nil {
		s.cfg.PersistSettings(persist, false)
	}
}

func (s *Session) recordPeerSetting(e framing.Setting) {
	l := &s.l
	for i := range l.peerSettings {
		if l.peerSettings[i].ID == e.ID {
			l.peerSettings[i] = e
			return
		}
	}
	l.peerSettings = append(l.peerSettings, e)
}

func (s *Session) onPing(ev inEvent) {
	l := &s.l
	id := ev.val
	ours := (id%2 == 1) == (s.role == Client)
	if !ours {
		if !s.costly("PING frames", 1) {
			return
		}
		s.stats.pingsRecv.Add(1)
		s.queueCtrl(ctrlItem{typ: framing.FramePing, val: id})
		return
	}
	p := l.pings[id]
	if p == nil {
		s.costly("PING replies to pings not sent", 1)
		return // a reply to a ping we never sent: ignore
	}
	delete(l.pings, id)
	rtt := time.Since(p.sent)
	l.rtt = rtt
	s.stats.rtt.Store(int64(rtt))
	if id == l.kaPing {
		l.kaPing = 0
	}
	if p.ch != nil {
		p.ch <- pingResult{rtt: rtt}
	}
}

func (s *Session) onGoAway(ev inEvent) {
	l := &s.l
	last := ev.val2
	ga := &GoAwayError{LastGoodStreamID: last, Status: framing.GoAwayStatus(ev.val)}
	if l.goawayRecv && last > l.peerGoAway.LastGoodStreamID {
		return // a later GOAWAY may not raise the last-good id
	}
	l.goawayRecv = true
	l.peerGoAway = ga
	for _, ss := range l.streams {
		if ss.local && ss.id > last {
			ss.h.Fail(&GoAwayError{LastGoodStreamID: last, Status: ga.Status, StreamID: ss.id, Unprocessed: true})
			s.removeStream(ss)
		}
	}
	for _, w := range l.openWaiters {
		w.ch <- openResult{err: ErrGoingAway}
	}
	l.openWaiters = nil
	s.checkDrained()
}

// smallWindowUpdate is the delta below which a WINDOW_UPDATE is a costly
// frame (Config.FloodLimit), unless the peer's stream windows are so small
// that it must send such deltas: then the bound is an eighth of its window
// (a peer returns credit in batches of about half its window), but never
// below tinyWindowUpdate, so that a peer cannot make updates of a byte
// free by advertising windows of a few bytes (data dribble).
const (
	smallWindowUpdate = 1024
	tinyWindowUpdate  = 64
)

func (s *Session) onWindowUpdate(ev inEvent) {
	l := &s.l
	small := uint32(smallWindowUpdate)
	if ev.id != 0 {
		small = min(small, max(uint32(max(l.peerWindow, 0))/8, tinyWindowUpdate))
	}
	if ev.val < small && !s.costly("small WINDOW_UPDATE frames", 1) {
		return
	}
	if ev.id == 0 {
		if s.version != V31 {
			return // SPDY/3 has no session window
		}
		if err := l.sendWin.Add(ev.val); err != nil {
			s.connError(framing.GoAwayProtocolError, "session window update invalid or above 2^31-1", err)
			return
		}
		for ss := range l.blocked {
			s.unblock(ss)
		}
		return
	}
	ss := l.streams[ev.id]
	if ss == nil || ss.localFin {
		return
	}
	if err := ss.out.Add(ev.val); err != nil {
		if errors.Is(err, flowctl.ErrWindowOverflow) {
			s.resetStream(ev.id, framing.StatusFlowControlError)
		} else {
			s.resetStream(ev.id, framing.StatusProtocolError)
		}
		return
	}
	s.unblock(ss)
}

// receiveSession accounts n received DATA bytes against the session window
// and returns the credit at once: every stream's buffer is bounded by its
// own window, so the session window never lets one unread stream stall
// the others. It reports whether the session goes on.
func (s *Session) receiveSession(n int) bool {
	l := &s.l
	if err := l.recvWin.Receive(n); err != nil {
		s.connError(framing.GoAwayProtocolError, "DATA exceeds the session window", err)
		return false
	}
	if d := l.recvWin.ConsumeAt(n, time.Since(s.start), l.rtt); d > 0 {
		s.queueCtrl(ctrlItem{typ: framing.FrameWindowUpdate, id: 0, val: d})
	}
	return true
}

func (s *Session) onData(ev inEvent) {
	l := &s.l
	n := ev.length
	if n == 0 && !ev.flags.Has(framing.FlagFin) && !s.costly("empty DATA frames", 1) {
		pool.Put(ev.data)
		return
	}
	if !s.receiveSession(n) {
		pool.Put(ev.data)
		return
	}
	ss := l.streams[ev.id]
	if ss == nil {
		pool.Put(ev.data)
		s.unknownStream(ev.id)
		return
	}
	switch {
	case ss.remoteFin:
		pool.Put(ev.data)
		s.resetStream(ev.id, framing.StatusStreamAlreadyClosed)
		return
	case ss.local && !ss.replied:
		pool.Put(ev.data)
		s.resetStream(ev.id, framing.StatusProtocolError)
		return
	}
	if err := ss.in.Receive(n); err != nil {
		pool.Put(ev.data)
		s.resetStream(ev.id, framing.StatusFlowControlError)
		return
	}
	if !l.enforceIn && ss.h.Buffered()+n > s.cfg.MaxBufferPerStream {
		pool.Put(ev.data)
		s.resetStream(ev.id, framing.StatusFlowControlError)
		return
	}
	if n > 0 && !ss.h.Deliver(ev.data) {
		ss.in.Consume(n) // the application will never read it
	} else if n == 0 {
		pool.Put(ev.data)
	}
	if ev.flags.Has(framing.FlagFin) {
		s.remoteFinished(ss)
	}
}

// collect processes the streams that called Notify.
func (s *Session) collect() {
	l := &s.l
	s.notifyMu.Lock()
	hs := s.notified
	s.notified = nil
	s.notifyMu.Unlock()
	for _, h := range hs {
		w := h.Collect()
		ss := l.streams[h.Stream().ID()]
		if ss == nil || ss.h != h || l.closing {
			continue
		}
		if w.Consumed > 0 && !ss.remoteFin {
			if d := ss.in.ConsumeAt(w.Consumed, time.Since(s.start), l.rtt); d > 0 {
				s.queueCtrl(ctrlItem{typ: framing.FrameWindowUpdate, id: ss.id, val: d})
			}
		}
		if (w.Send || w.Reset) && ss.blocked {
			// What waited for window may be gone (a Write cut by its
			// deadline) and the next frame may need none (a FIN, HEADERS,
			// RST_STREAM): let Next judge again.
			delete(l.blocked, ss)
			ss.blocked = false
		}
		if w.Send || w.Reset {
			s.enqueue(ss)
		}
	}
	if cap(hs) <= 1024 {
		s.notifyMu.Lock()
		if s.notified == nil {
			s.notified = hs[:0]
		}
		s.notifyMu.Unlock()
	}
}

// enqueue puts a stream with frames to send in its priority's queue.
func (s *Session) enqueue(ss *sstream) {
	if ss.queued || ss.gone {
		return
	}
	ss.queued = true
	p := ss.prio
	if p > 7 {
		p = 7
	}
	s.l.ready[p].push(ss)
	s.l.nReady++
}

// unblock requeues a stream that waited for window.
func (s *Session) unblock(ss *sstream) {
	if !ss.blocked {
		return
	}
	if flowctl.Sendable(&ss.out, &s.l.sendWin) <= 0 {
		return
	}
	ss.blocked = false
	delete(s.l.blocked, ss)
	s.enqueue(ss)
}

// runOpenWaiters opens the streams that waited for the peer's limit.
func (s *Session) runOpenWaiters() {
	l := &s.l
	for len(l.openWaiters) > 0 && uint32(l.nLocal) < l.peerMaxStreams && !l.closing {
		req := l.openWaiters[0]
		l.openWaiters[0] = nil
		l.openWaiters = l.openWaiters[1:]
		if req.canceled {
			continue
		}
		s.doOpen(req)
	}
}

// startDrain begins a graceful shutdown.
func (s *Session) startDrain() {
	l := &s.l
	if l.closing {
		return
	}
	if !l.goawaySent {
		l.goawaySent = true
		l.goawayLastGood = l.lastPeerID
		s.queueCtrl(ctrlItem{typ: framing.FrameGoAway, id: l.lastPeerID, val: uint32(framing.GoAwayOK)})
	}
	l.draining = true
	for _, w := range l.openWaiters {
		w.ch <- openResult{err: ErrGoingAway}
	}
	l.openWaiters = nil
	s.checkDrained()
}

// checkDrained closes a draining session once its streams have ended.
func (s *Session) checkDrained() {
	l := &s.l
	if l.closing || len(l.streams) > 0 {
		return
	}
	switch {
	case l.draining:
		s.closeWith(ErrClosed, true, framing.GoAwayOK)
	case l.goawayRecv:
		s.closeWith(l.peerGoAway, true, framing.GoAwayOK)
	}
}

func (s *Session) doOpen(req *openReq) {
	l := &s.l
	if req.canceled {
		return
	}
	fail := func(err error) { req.ch <- openResult{err: err} }
	switch {
	case l.closing:
		fail(s.errOrClosed())
		return
	case l.goawaySent || l.goawayRecv || l.draining:
		fail(ErrGoingAway)
		return
	case l.nextID > framing.MaxStreamID:
		fail(ErrStreamIDsExhausted)
		s.startDrain()
		return
	}
	if req.push {
		p := l.streams[req.opts.AssociatedTo]
		if p == nil || p.local || p.localFin {
			fail(ErrPushNotAllowed)
			return
		}
	}
	if uint32(l.nLocal) >= l.peerMaxStreams {
		if s.cfg.OpenFailsAtLimit {
			fail(ErrStreamLimit)
			return
		}
		l.openWaiters = append(l.openWaiters, req)
		return
	}
	o := &req.opts
	id := l.nextID
	l.nextID += 2
	ss := &sstream{id: id, prio: o.Priority, local: true, assoc: o.AssociatedTo,
		localFin: o.Fin, remoteFin: o.Unidirectional, replied: o.Unidirectional}
	if l.enforceIn {
		ss.in.Init(s.cfg.InitialWindowSize, s.cfg.MaxWindowSize)
	} else {
		ss.in.InitUnlimited()
	}
	s.initOut(ss)
	st, h := stream.New(stream.Config{
		ID: id, Priority: o.Priority, AssociatedTo: o.AssociatedTo, Local: true,
		SendClosed: o.Fin, RecvClosed: o.Unidirectional,
		Sender: sender{s}, Version: s.version.headers(),
		LocalAddr: s.conn.LocalAddr(), RemoteAddr: s.conn.RemoteAddr(),
	})
	ss.h = h
	var flags framing.Flags
	if o.Fin {
		flags |= framing.FlagFin
	}
	if o.Unidirectional {
		flags |= framing.FlagUnidirectional
	}
	l.streams[id] = ss
	l.nLocal++
	s.stats.opened.Add(1)
	s.queueCtrl(ctrlItem{typ: framing.FrameSynStream, id: id, assoc: o.AssociatedTo, prio: o.Priority, flags: flags, fields: o.Headers, ss: ss})
	req.ch <- openResult{st: st}
}

func (s *Session) doPing(req *pingReq) {
	l := &s.l
	if l.closing {
		req.ch <- pingResult{err: s.errOrClosed()}
		return
	}
	if len(l.pings) >= s.cfg.MaxPendingPings {
		req.ch <- pingResult{err: ErrTooManyPings}
		return
	}
	s.sendPing(req)
}

// sendPing queues a PING with a fresh id of our parity.
func (s *Session) sendPing(req *pingReq) {
	l := &s.l
	for {
		id := l.nextPing
		l.nextPing += 2
		if l.nextPing < id { // wrapped
			if s.role == Client {
				l.nextPing = 1
			} else {
				l.nextPing = 2
			}
		}
		if _, used := l.pings[id]; !used && id != 0 {
			req.id = id
			break
		}
	}
	req.sent = time.Now()
	l.pings[req.id] = req
	s.stats.pingsSent.Add(1)
	s.queueCtrl(ctrlItem{typ: framing.FramePing, val: req.id})
}

func (s *Session) cancelPing(req *pingReq) {
	if p := s.l.pings[req.id]; p == req {
		delete(s.l.pings, req.id)
	}
}

// onTick runs the keepalive and idle timers.
func (s *Session) onTick() {
	l := &s.l
	if l.closing {
		return
	}
	now := time.Now()
	if ka := s.cfg.KeepAlive; ka > 0 {
		if l.kaPing != 0 {
			if now.Sub(l.kaSent) > s.cfg.KeepAliveTimeout {
				s.closeWith(ErrKeepAliveTimeout, true, framing.GoAwayOK)
				return
			}
		} else if last := s.start.Add(time.Duration(s.lastRead.Load())); now.Sub(last) >= ka {
			req := &pingReq{}
			s.sendPing(req)
			l.kaPing = req.id
			l.kaSent = now
		}
	}
	if it := s.cfg.IdleTimeout; it > 0 && len(l.streams) == 0 && now.Sub(l.idleSince) >= it {
		s.startDrain()
	}
}
