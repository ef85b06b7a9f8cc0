package nodehttp

import (
	"io"
	"net"
	"sync"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/session"
)

// tapSet records the SYN_STREAM frames that pushes arrive in, as read by
// the connections it wraps: what node put on the wire, before our session
// acted on it.
type tapSet struct {
	v session.Version

	mu     sync.Mutex
	pushes []tappedPush
	seen   chan struct{} // closed and replaced when a push is recorded
	wg     sync.WaitGroup
}

// tappedPush is a pushed SYN_STREAM: its stream id and decoded headers.
type tappedPush struct {
	id      framing.StreamID
	assoc   framing.StreamID
	headers []hpackz.Field
}

// wrap returns conn with its reads copied to a frame parser.
func (s *tapSet) wrap(conn net.Conn) net.Conn {
	pr, pw := io.Pipe()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer pr.Close()
		s.parse(pr)
	}()
	return &tapConn{Conn: conn, pw: pw}
}

// wait waits until the parsers of every wrapped connection have ended
// (they end when their connection is closed).
func (s *tapSet) wait() { s.wg.Wait() }

func (s *tapSet) parse(r io.Reader) {
	fv := framing.Version3
	hv := hpackz.V3
	if s.v == session.V2 {
		fv, hv = framing.Version2, hpackz.V2
	}
	fr := framing.NewFramer(io.Discard, r, fv)
	dec := hpackz.NewDecoder(hv, nil)
	for {
		f, err := fr.ReadFrame()
		if _, ok := err.(*framing.StreamError); err != nil && !ok {
			io.Copy(io.Discard, r) // keep the connection reading
			return
		}
		var block []byte
		switch f := f.(type) {
		case *framing.SynStreamFrame:
			block = f.HeaderBlock
		case *framing.SynReplyFrame:
			block = f.HeaderBlock
		case *framing.HeadersFrame:
			block = f.HeaderBlock
		default:
			continue
		}
		// Every block goes through the decoder, to keep its context.
		fields, err := dec.AppendFields(nil, block)
		if err != nil {
			io.Copy(io.Discard, r)
			return
		}
		if syn, ok := f.(*framing.SynStreamFrame); ok && syn.AssociatedToStreamID != 0 {
			s.mu.Lock()
			s.pushes = append(s.pushes, tappedPush{id: syn.StreamID, assoc: syn.AssociatedToStreamID, headers: fields})
			if s.seen != nil {
				close(s.seen)
				s.seen = nil
			}
			s.mu.Unlock()
		}
	}
}

// next returns the pushes recorded so far and a channel closed when one
// more is.
func (s *tapSet) next() ([]tappedPush, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = make(chan struct{})
	}
	return append([]tappedPush(nil), s.pushes...), s.seen
}

// tapConn copies what it reads into a pipe.
type tapConn struct {
	net.Conn
	pw   *io.PipeWriter
	once sync.Once
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.pw.Write(p[:n])
	}
	if err != nil {
		c.pw.CloseWithError(err)
	}
	return n, err
}

func (c *tapConn) Close() error {
	c.once.Do(func() { c.pw.Close() })
	return c.Conn.Close()
}
