package stream

import (
	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/internal/pool"
)

// Handle is the session's side of a Stream: how the session's loop delivers
// what the peer sent and takes what the application wrote. Its methods are
// for the session that created the stream; an application never needs
// them.
type Handle struct {
	s *Stream
}

// Stream returns the stream the handle drives.
func (h *Handle) Stream() *Stream { return h.s }

// ItemKind says what Handle.Next produced.
type ItemKind uint8

// The kinds of items a stream hands its session, in the order a stream
// sends them.
const (
	ItemNone    ItemKind = iota // nothing to send now
	ItemReply                   // a SYN_REPLY with Fields (and Fin)
	ItemHeaders                 // a HEADERS frame with Fields (and Fin)
	ItemData                    // a DATA frame with Data (and Fin)
	ItemReset                   // a RST_STREAM with Status
)

// Item is one frame a stream wants sent. Data aliases the writer's buffer
// and is valid only during the emit callback of Handle.Next.
type Item struct {
	Kind   ItemKind
	Fields []hpackz.Field
	Data   []byte
	Fin    bool
	Status framing.StatusCode
}

// Work is what Handle.Collect reports.
type Work struct {
	// Consumed is the number of received bytes the application read or
	// discarded since the last Collect: credit to return to the peer.
	Consumed int
	// Send is true when the stream has frames for Next.
	Send bool
	// Reset is true when a RST_STREAM is due at once (Next returns it
	// first).
	Reset bool
	// Closed is true when the application closed the stream.
	Closed bool
}

// Collect returns the stream's pending work and re-arms Sender.Notify.
func (h *Handle) Collect() Work {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notified = false
	w := Work{Consumed: s.consumed, Closed: s.closed, Reset: s.resetReq}
	s.consumed = 0
	w.Send = s.hasSendLocked()
	return w
}

// hasSendLocked reports whether Next has something to return (possibly
// blocked by flow control).
func (s *Stream) hasSendLocked() bool {
	if s.resetReq {
		return true
	}
	if s.resetSent || s.finalized {
		return false
	}
	if s.needReply && s.replyReady {
		return true
	}
	if s.finSent {
		return s.cancelAfter
	}
	return len(s.wbuf) > 0 || s.whdrSet || s.wfin
}

// Next hands the session the stream's next frame by calling emit, which
// must copy what it needs before returning. maxData limits the payload of a
// DATA frame (the smaller of the flow-control windows and the frame size);
// when data is waiting and maxData is 0, nothing is emitted and blocked is
// true. more reports whether another frame is waiting after this one.
func (h *Handle) Next(maxData int, emit func(*Item)) (kind ItemKind, n int, blocked, more bool) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	var it Item
	switch {
	case s.resetReq:
		it = Item{Kind: ItemReset, Status: s.resetCode}
		s.resetReq = false
		s.resetSent = true
		s.cancelAfter = false
		s.needReply = false
		s.wbuf = nil
		s.whdrSet = false
		s.whdr = nil
		s.wfin = false
	case s.resetSent || s.finalized:
		return ItemNone, 0, false, false
	case s.needReply && s.replyReady:
		it = Item{Kind: ItemReply, Fields: s.replyFields}
		s.needReply = false
		s.replyFields = nil
		if s.replyFin || (s.wfin && len(s.wbuf) == 0 && !s.whdrSet) {
			it.Fin = true
			s.finSentLocked()
		}
	case s.finSent:
		if !s.cancelAfter {
			return ItemNone, 0, false, false
		}
		it = Item{Kind: ItemReset, Status: framing.StatusCancel}
		s.cancelAfter = false
		s.resetSent = true
	case len(s.wbuf) > 0:
		if s.needReply {
			return ItemNone, 0, false, false
		}
		if maxData <= 0 {
			return ItemNone, 0, true, true
		}
		n = min(maxData, len(s.wbuf))
		it = Item{Kind: ItemData, Data: s.wbuf[:n]}
		if n == len(s.wbuf) && s.wfin && !s.whdrSet {
			it.Fin = true
		}
		emit(&it)
		s.wbuf = s.wbuf[n:]
		s.wtaken += n
		if len(s.wbuf) == 0 {
			s.wbuf = nil
			s.broadcastLocked()
		}
		if it.Fin {
			s.finSentLocked()
		}
		return ItemData, n, false, s.hasSendLocked()
	case s.whdrSet:
		it = Item{Kind: ItemHeaders, Fields: s.whdr, Fin: s.whdrFin}
		s.whdrSet = false
		s.whdr = nil
		if it.Fin {
			s.finSentLocked()
		}
		s.broadcastLocked()
	case s.wfin:
		it = Item{Kind: ItemData, Fin: true}
		s.finSentLocked()
	default:
		return ItemNone, 0, false, false
	}
	emit(&it)
	return it.Kind, 0, false, s.hasSendLocked()
}

func (s *Stream) finSentLocked() {
	s.finSent = true
	s.sendClosed = true
	s.wfin = false
	if s.writeErr == nil {
		s.writeErr = ErrWriteClosed
	}
}

// AutoReply makes a pending SYN_REPLY (with no headers) ready to send, for
// sessions that reply to every accepted stream at once.
func (h *Handle) AutoReply() {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.needReply && !s.replyReady {
		s.replyReady = true
		s.notifyLocked()
	}
}

// Deliver appends a DATA payload from the pool (package internal/pool) to
// the receive buffer; the stream owns it from then on. It returns false,
// having released the payload, when the application will never read it
// (the stream was closed or reset): the session must then count the bytes
// as consumed at once.
func (h *Handle) Deliver(p []byte) bool {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dataSeen = true
	if s.readShut || s.recvErr != nil {
		pool.Put(p)
		return false
	}
	if len(p) == 0 {
		pool.Put(p)
		return true
	}
	s.recv = append(s.recv, p)
	s.recvLen += len(p)
	s.broadcastLocked()
	return true
}

// Buffered returns the number of received bytes not yet read.
func (h *Handle) Buffered() int {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recvLen
}

// DeliverFin records the peer's FIN: Read returns io.EOF once the buffer
// is drained.
func (h *Handle) DeliverFin() {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recvErr == nil {
		s.recvFin = true
	}
	s.broadcastLocked()
}

// DeliverReply records the headers of the peer's SYN_REPLY.
func (h *Handle) DeliverReply(fields []hpackz.Field) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.headers = append(s.headers, fields...)
	s.gotReply = true
	s.broadcastLocked()
}

// DeliverHeaders records the fields of a HEADERS frame: they extend
// Headers while no DATA has arrived, and Trailers after.
func (h *Handle) DeliverHeaders(fields []hpackz.Field) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dataSeen {
		s.trailers = append(s.trailers, fields...)
	} else {
		s.headers = append(s.headers, fields...)
	}
	s.broadcastLocked()
}

// Fail ends the stream with err: a reset by the peer, a stream error the
// session detected, or the end of the session. Data buffered before a FIN
// stays readable (the stream's data is complete); otherwise the buffer is
// dropped and Read returns err. Writes fail with err. Fail returns the
// number of bytes dropped, which the session returns to its window.
func (h *Handle) Fail(err error) (dropped int) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.recvFin {
		dropped = s.discardLocked()
		if s.recvErr == nil {
			s.recvErr = err
		}
	}
	if s.writeErr == nil || s.writeErr == ErrWriteClosed {
		s.writeErr = err
	}
	s.wbuf = nil
	s.resetReq = false
	s.cancelAfter = false
	s.broadcastLocked()
	return dropped
}

// Finish tells the stream that the session is done with it: nothing more
// is sent or received on the wire. Done's channel is closed.
func (h *Handle) Finish() {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.doneClosed {
		return
	}
	s.finalized = true
	s.doneClosed = true
	s.resetReq = false
	s.cancelAfter = false
	if s.writeErr == nil {
		s.writeErr = ErrWriteClosed
	}
	s.wbuf = nil
	if s.done != nil {
		close(s.done)
	}
	// A deadline timer would keep the stream, its headers and its session
	// alive until it fires (a reset stream is never Closed).
	s.rdl.end()
	s.wdl.end()
	s.broadcastLocked()
}

// Closed reports whether the application has closed or reset the stream,
// so the session may forget it once it has nothing left to send.
func (h *Handle) Closed() bool {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed || s.resetSent
}
