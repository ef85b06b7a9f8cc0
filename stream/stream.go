package stream

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/internal/pool"
)

// Sender is the session side of a stream: what a Stream calls when it has
// work for the session. A session implements it; package stream does not
// know sessions.
type Sender interface {
	// Notify tells the session that the stream has something for it:
	// frames to send, read credit to return, a reset or a close. It must
	// not block. The session answers by calling Handle.Collect and
	// Handle.Next from its loop. A stream calls Notify at most once until
	// the session has called Collect.
	Notify(h *Handle)
}

// Config describes a stream being created by a session.
type Config struct {
	ID           framing.StreamID
	Priority     uint8
	AssociatedTo framing.StreamID
	// Local is true for a stream this side opened (SYN_STREAM sent).
	Local bool
	// SendClosed is true when this side may never send: a unidirectional
	// stream the peer opened, or a stream opened with FIN.
	SendClosed bool
	// RecvClosed is true when the peer may never send: a unidirectional
	// stream this side opened, or a peer stream whose SYN_STREAM had FIN.
	RecvClosed bool
	// NeedReply is true for a bidirectional stream the peer opened: the
	// first frame this side sends on it must be SYN_REPLY.
	NeedReply bool
	// Headers are the fields of the SYN_STREAM that opened the stream.
	Headers []hpackz.Field
	// Version is the header block format, used to check the fields given
	// to Reply and SendHeaders before they are queued.
	Version hpackz.Version
	// Sender receives the stream's notifications.
	Sender Sender
	// LocalAddr and RemoteAddr are the addresses of the session's
	// connection, reported by the Stream's methods of the same names.
	LocalAddr, RemoteAddr net.Addr
}

// Stream is one SPDY stream as a net.Conn: Read returns the DATA the peer
// sends, until its FIN (io.EOF); Write sends DATA, subject to flow control;
// CloseWrite sends FIN; Close ends both directions; Reset ends the stream
// abruptly with RST_STREAM. Deadlines work as for any net.Conn: a Read or
// Write past its deadline fails with an error that matches
// os.ErrDeadlineExceeded, and calls after Close fail with an error that
// matches net.ErrClosed.
//
// Streams are created by a session (session.Session's Open and Accept).
// All methods are safe for concurrent use.
type Stream struct {
	id         framing.StreamID
	priority   uint8
	assoc      framing.StreamID
	local      bool
	hver       hpackz.Version
	sender     Sender
	laddr      net.Addr
	raddr      net.Addr
	h          Handle
	rdl, wdl   deadline
	done       chan struct{} // closed when the session is done with the stream; made on demand
	doneClosed bool

	mu sync.Mutex
	ch chan struct{} // closed and dropped on every state change (broadcast)

	// receive side
	recv      [][]byte // chunks from the pool, in order
	recvOff   int      // read offset in recv[0]
	recvLen   int      // bytes buffered
	recvFin   bool     // the peer's FIN arrived
	recvErr   error    // why no more data will come (reset, session end)
	consumed  int      // bytes read or discarded, not yet collected
	headers   []hpackz.Field
	gotReply  bool // headers from the peer's SYN_STREAM or SYN_REPLY are in
	dataSeen  bool
	trailers  []hpackz.Field
	readShut  bool // Close: discard what arrives
	notified  bool
	writing   bool // a Write, Reply or SendHeaders holds the writer slot
	closed    bool // Close was called
	finalized bool // the session finished the stream

	// send side
	needReply   bool // a SYN_REPLY must be sent before anything else
	replyReady  bool // ... and may be sent now
	replyFields []hpackz.Field
	replyFin    bool
	wbuf        []byte // data of the Write in progress not yet taken
	wtaken      int
	whdr        []hpackz.Field // HEADERS waiting to be sent
	whdrSet     bool
	whdrFin     bool
	wfin        bool  // FIN requested
	finSent     bool  // FIN handed to the session
	sendClosed  bool  // this side may not send (FIN sent or receive-only)
	writeErr    error // why writes fail
	resetCode   framing.StatusCode
	resetReq    bool // send RST_STREAM resetCode now
	cancelAfter bool // send RST_STREAM CANCEL after the FIN
	resetSent   bool
}

// New creates a stream and the handle its session drives it with.
func New(c Config) (*Stream, *Handle) {
	s := &Stream{
		id:         c.ID,
		priority:   c.Priority,
		assoc:      c.AssociatedTo,
		local:      c.Local,
		hver:       c.Version,
		sender:     c.Sender,
		laddr:      c.LocalAddr,
		raddr:      c.RemoteAddr,
		recvFin:    c.RecvClosed,
		sendClosed: c.SendClosed,
		finSent:    c.SendClosed,
		needReply:  c.NeedReply,
		headers:    c.Headers,
		gotReply:   !c.Local,
	}
	if c.SendClosed {
		s.writeErr = ErrWriteClosed
	}
	s.h.s = s
	return s, &s.h
}

// ID returns the stream id.
func (s *Stream) ID() framing.StreamID { return s.id }

// Priority returns the priority given in the SYN_STREAM: 0 is the highest,
// 7 (SPDY/3) or 3 (SPDY/2) the lowest.
func (s *Stream) Priority() uint8 { return s.priority }

// AssociatedTo returns the stream this one is associated to (the request a
// server push belongs to), or 0.
func (s *Stream) AssociatedTo() framing.StreamID { return s.assoc }

// Local reports whether this side opened the stream.
func (s *Stream) Local() bool { return s.local }

// LocalAddr returns the local address of the session's connection.
func (s *Stream) LocalAddr() net.Addr { return s.laddr }

// RemoteAddr returns the remote address of the session's connection.
func (s *Stream) RemoteAddr() net.Addr { return s.raddr }

// Done returns a channel that is closed when the stream has ended on the
// wire: both sides sent FIN, or it was reset, or the session ended. Data
// received before may still be waiting to be read.
func (s *Stream) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		s.done = make(chan struct{})
		if s.doneClosed {
			close(s.done)
		}
	}
	return s.done
}

// Headers returns the headers the peer sent when opening the stream
// (SYN_STREAM) or accepting it (SYN_REPLY), followed by those of HEADERS
// frames received before any DATA. It is nil for a stream this side opened
// until the SYN_REPLY has arrived; see WaitHeaders. The caller must not
// modify the result.
func (s *Stream) Headers() []hpackz.Field {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.headers
}

// Header returns the value of the first field named name in Headers, or
// "" if there is none. Several values of one field are joined with NUL
// bytes (see hpackz.Field.Values).
func (s *Stream) Header(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.headers {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// Trailers returns the headers of HEADERS frames that arrived after DATA.
// They are complete once Read has returned io.EOF. The caller must not
// modify the result.
func (s *Stream) Trailers() []hpackz.Field {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trailers
}

// WaitHeaders waits until the peer's SYN_REPLY has arrived on a stream this
// side opened (at once for any other stream) and returns Headers. It fails
// if ctx ends first or the stream ends without a reply.
func (s *Stream) WaitHeaders(ctx context.Context) ([]hpackz.Field, error) {
	s.mu.Lock()
	for {
		if s.gotReply {
			h := s.headers
			s.mu.Unlock()
			return h, nil
		}
		if err := s.recvErrLocked(); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		if s.recvFin {
			s.mu.Unlock()
			return nil, io.ErrUnexpectedEOF
		}
		ch := s.waitLocked()
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		s.mu.Lock()
	}
}

// recvErrLocked is the error that ends reading, if any.
func (s *Stream) recvErrLocked() error {
	if s.closed {
		return ErrClosed
	}
	return s.recvErr
}

// waitLocked returns a channel closed at the next change of state.
func (s *Stream) waitLocked() <-chan struct{} {
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// broadcastLocked wakes every waiter.
func (s *Stream) broadcastLocked() {
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// notifyLocked asks the session to call Collect, once.
func (s *Stream) notifyLocked() {
	if !s.notified && (!s.finalized || s.consumed > 0 || s.resetReq) {
		s.notified = true
		s.sender.Notify(&s.h)
	}
}

// Read reads the DATA the peer sent. It returns io.EOF after the peer's
// FIN and all data before it have been read; a *ResetError if the stream
// was reset; the session's error if the session ended first.
func (s *Stream) Read(p []byte) (int, error) {
	s.mu.Lock()
	for {
		if s.closed {
			s.mu.Unlock()
			return 0, ErrClosed
		}
		if s.rdl.expired() {
			s.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		}
		if s.recvLen > 0 {
			if len(p) == 0 {
				s.mu.Unlock()
				return 0, nil
			}
			n := s.readLocked(p)
			s.consumed += n
			s.notifyLocked()
			s.mu.Unlock()
			return n, nil
		}
		if s.recvFin {
			s.mu.Unlock()
			return 0, io.EOF
		}
		if s.recvErr != nil {
			err := s.recvErr
			s.mu.Unlock()
			return 0, err
		}
		if len(p) == 0 {
			s.mu.Unlock()
			return 0, nil
		}
		ch := s.waitLocked()
		s.mu.Unlock()
		select {
		case <-ch:
		case <-s.rdl.wait():
		}
		s.mu.Lock()
	}
}

// Ready reports whether a Read would return at once: data is buffered, or
// reading has ended (the peer's FIN, a reset, the end of the session, or
// Close). A copy loop can use it to flush what it wrote only when the peer
// has paused.
func (s *Stream) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed || s.recvLen > 0 || s.recvFin || s.recvErr != nil || s.rdl.expired()
}

// readLocked copies buffered data into p, releasing drained chunks.
func (s *Stream) readLocked(p []byte) int {
	n := 0
	for n < len(p) && len(s.recv) > 0 {
		c := s.recv[0]
		m := copy(p[n:], c[s.recvOff:])
		n += m
		s.recvOff += m
		if s.recvOff == len(c) {
			pool.Put(c)
			s.recv[0] = nil
			s.recv = s.recv[1:]
			s.recvOff = 0
		}
	}
	if len(s.recv) == 0 {
		s.recv = nil
	}
	s.recvLen -= n
	return n
}

// discardLocked drops buffered data and returns how much there was.
func (s *Stream) discardLocked() int {
	n := s.recvLen
	for i, c := range s.recv {
		pool.Put(c)
		s.recv[i] = nil
	}
	s.recv = nil
	s.recvOff = 0
	s.recvLen = 0
	return n
}

// Write sends p as DATA. It blocks until the session has taken all of p
// for sending, which flow control may delay; it returns early with an
// error if the deadline passes, the stream is reset or closed, or the
// session ends. What was taken before an error is sent whole; the rest
// never is. The first Write on a stream the peer opened sends the
// SYN_REPLY first if Reply was not called.
func (s *Stream) Write(p []byte) (int, error) {
	if err := s.acquireWrite(); err != nil {
		return 0, err
	}
	defer s.releaseWrite()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writeErrLocked(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	s.readyReplyLocked()
	s.wbuf = p
	s.wtaken = 0
	s.notifyLocked()
	for len(s.wbuf) > 0 {
		if err := s.writeErrLocked(); err != nil {
			s.wbuf = nil
			return s.wtaken, err
		}
		s.waitWriteLocked()
	}
	if s.wtaken < len(p) { // cut short by Close, Reset or the session
		err := s.writeErrLocked()
		if err == nil {
			err = ErrClosed
		}
		return s.wtaken, err
	}
	return s.wtaken, nil
}

// writeErrLocked is the error that stops writing, if any.
func (s *Stream) writeErrLocked() error {
	if err := s.stopErrLocked(); err != nil {
		return err
	}
	if s.wfin || s.sendClosed {
		return ErrWriteClosed
	}
	return nil
}

// stopErrLocked is the error that ends a write already handed to the
// session: Close, a reset or the session's end, or the write deadline.
func (s *Stream) stopErrLocked() error {
	switch {
	case s.closed:
		return ErrClosed
	case s.writeErr != nil:
		return s.writeErr
	case s.wdl.expired():
		return os.ErrDeadlineExceeded
	}
	return nil
}

// waitWriteLocked waits, with s.mu released, for a change of state or the
// write deadline.
func (s *Stream) waitWriteLocked() {
	ch := s.waitLocked()
	s.mu.Unlock()
	select {
	case <-ch:
	case <-s.wdl.wait():
	}
	s.mu.Lock()
}

// acquireWrite takes the writer slot, which orders concurrent Write,
// Reply and SendHeaders calls.
func (s *Stream) acquireWrite() error {
	s.mu.Lock()
	for s.writing {
		if err := s.writeErrLocked(); err != nil {
			s.mu.Unlock()
			return err
		}
		s.waitWriteLocked()
	}
	s.writing = true
	s.mu.Unlock()
	return nil
}

func (s *Stream) releaseWrite() {
	s.mu.Lock()
	s.writing = false
	s.broadcastLocked() // another writer may be waiting for the slot
	s.mu.Unlock()
}

// readyReplyLocked lets a pending SYN_REPLY go out with the next frame.
func (s *Stream) readyReplyLocked() {
	if s.needReply {
		s.replyReady = true
	}
}

// Reply sends the SYN_REPLY that accepts a stream the peer opened, with
// the given headers; fin also ends this side at once. It may be called
// once, before any Write; without it, the first Write, CloseWrite or Close
// (or the session itself, unless configured otherwise) sends an empty
// reply. It returns ErrReplyNotAllowed on a stream that takes no reply.
func (s *Stream) Reply(fields []hpackz.Field, fin bool) error {
	if err := s.checkFields(fields); err != nil {
		return err
	}
	if err := s.acquireWrite(); err != nil {
		return err
	}
	defer s.releaseWrite()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.needReply {
		return ErrReplyNotAllowed
	}
	if err := s.writeErrLocked(); err != nil {
		return err
	}
	s.replyFields = fields
	s.replyReady = true
	if fin {
		s.replyFin = true
		s.wfin = true
	}
	s.notifyLocked()
	return nil
}

// SendHeaders sends a HEADERS frame with fields, after all data written so
// far; fin ends this side with it (trailers). It waits until the session
// has taken the frame, like Write.
func (s *Stream) SendHeaders(fields []hpackz.Field, fin bool) error {
	if err := s.checkFields(fields); err != nil {
		return err
	}
	if err := s.acquireWrite(); err != nil {
		return err
	}
	defer s.releaseWrite()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writeErrLocked(); err != nil {
		return err
	}
	s.readyReplyLocked()
	s.whdr = fields
	s.whdrSet = true
	s.whdrFin = fin
	if fin {
		s.wfin = true
	}
	s.notifyLocked()
	for s.whdrSet {
		if err := s.stopErrLocked(); err != nil {
			s.whdrSet = false
			s.whdr = nil
			return err
		}
		s.waitWriteLocked()
	}
	return nil
}

// CloseWrite ends this side of the stream: a FIN follows the data already
// written. Reading goes on until the peer's FIN. It does not wait.
//
// A peer that has sent its FIN may reset the stream with CANCEL to say it
// wants nothing more (a server that answered without reading the whole
// request does). CloseWrite then returns nil: the exchange is complete and
// nothing more is sent. Write still reports the reset.
func (s *Stream) CloseWrite() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.writeErr != nil && !s.sendClosed {
		if s.declinedAfterFinLocked() {
			return nil
		}
		return s.writeErr
	}
	if s.wfin || s.sendClosed {
		return nil
	}
	s.readyReplyLocked()
	s.wfin = true
	s.notifyLocked()
	s.broadcastLocked()
	return nil
}

// declinedAfterFinLocked reports whether the peer reset the stream with
// CANCEL after its FIN: its side was complete and it declined the rest of
// ours.
func (s *Stream) declinedAfterFinLocked() bool {
	var re *ResetError
	return s.recvFin && errors.As(s.writeErr, &re) && re.Remote && re.Status == framing.StatusCancel
}

// Close ends the stream in both directions and releases its buffers. It
// sends FIN after the data already taken for sending; if a Write was cut
// short it resets the stream with CANCEL instead, so the peer never takes a
// truncated stream for a complete one. If the peer has not finished
// sending, a RST_STREAM CANCEL follows the FIN to tell it to stop. Data
// that arrives afterwards is discarded. Pending calls return ErrClosed.
func (s *Stream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.readShut = true
	s.consumed += s.discardLocked()
	s.rdl.stop()
	s.wdl.stop()
	if !s.resetReq && !s.resetSent && s.writeErr == nil && !s.finalized {
		switch {
		case len(s.wbuf) > 0 || s.whdrSet:
			s.resetReq, s.resetCode = true, framing.StatusCancel
		default:
			s.readyReplyLocked()
			if !s.sendClosed {
				s.wfin = true
			}
			if !s.recvFin && s.recvErr == nil {
				s.cancelAfter = true
				if s.sendClosed && s.finSent {
					s.resetReq, s.resetCode = true, framing.StatusCancel
					s.cancelAfter = false
				}
			}
		}
	}
	s.wbuf = nil
	s.notifyLocked()
	s.broadcastLocked()
	return nil
}

// Reset ends the stream at once with RST_STREAM and the given status
// (CANCEL is the usual one). Buffered data is dropped and pending calls
// fail with a *ResetError. Reset after the stream ended does nothing.
func (s *Stream) Reset(status framing.StatusCode) error {
	if status == 0 {
		status = framing.StatusCancel
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finalized || s.resetReq || s.resetSent {
		return nil
	}
	err := &ResetError{StreamID: s.id, Status: status}
	s.resetReq, s.resetCode = true, status
	s.cancelAfter = false
	s.consumed += s.discardLocked()
	if s.recvErr == nil {
		s.recvErr = err
	}
	s.recvFin = false
	s.readShut = true
	if s.writeErr == nil {
		s.writeErr = err
	}
	s.wbuf = nil
	s.notifyLocked()
	s.broadcastLocked()
	return nil
}

// SetDeadline sets the read and write deadlines.
func (s *Stream) SetDeadline(t time.Time) error {
	s.SetReadDeadline(t)
	s.SetWriteDeadline(t)
	return nil
}

// SetReadDeadline sets the deadline for Read calls, including one that is
// blocked now. The zero time means none.
func (s *Stream) SetReadDeadline(t time.Time) error {
	s.rdl.set(t)
	return nil
}

// SetWriteDeadline sets the deadline for Write, Reply and SendHeaders
// calls, including one that is blocked now. The zero time means none.
func (s *Stream) SetWriteDeadline(t time.Time) error {
	s.wdl.set(t)
	return nil
}

var _ net.Conn = (*Stream)(nil)

// checkFields reports fields that cannot be sent in a header block of the
// stream's version, so that the caller gets the error rather than the
// stream being reset later.
func (s *Stream) checkFields(fields []hpackz.Field) error {
	if len(fields) == 0 || s.hver == 0 {
		return nil
	}
	return hpackz.CheckFields(s.hver, fields)
}
