package spdystreamsession

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/moby/spdystream"

	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/session"
)

const concurrentStreams = 100

// payload is stream i's data: 0 bytes for stream 0, then sizes spread
// up to 192 KiB.
func payload(i int) []byte {
	n := 0
	if i > 0 {
		n = 1 + (i*7919)%(192<<10)
	}
	return newPattern(uint32(i) + 1).bytes(n)
}

// writeChunks writes b in chunks of an odd size, so that frames of every
// length cross the wire.
func writeChunks(w io.Writer, b []byte) error {
	for len(b) > 0 {
		n := min(len(b), 5003)
		if _, err := w.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// theirEcho is a spdystream handler that replies and echoes the stream
// until its FIN, then half-closes.
func theirEcho(st *spdystream.Stream) {
	if err := st.SendReply(http.Header{}, false); err != nil {
		return
	}
	go func() {
		io.Copy(st, st)
		st.Close()
	}()
}

// TestConcurrentEcho runs 100 streams at once, each echoed by the other
// implementation, with our session in either role and either side opening
// the streams; every byte is compared.
func TestConcurrentEcho(t *testing.T) {
	for _, sd := range sides {
		for _, op := range openers {
			t.Run(sd.String()+"/"+op.String(), func(t *testing.T) {
				var o options
				if op == byOurs {
					o.handler = theirEcho
				}
				p := newPeers(t, sd, &o)
				ctx := testContext(t)
				var echoes sync.WaitGroup
				if op == byTheirs {
					echoes.Add(1)
					go func() {
						defer echoes.Done()
						ourEchoServer(ctx, p.ours, concurrentStreams, &echoes)
					}()
				}
				errs := make(chan error, concurrentStreams)
				var wg sync.WaitGroup
				for i := range concurrentStreams {
					wg.Add(1)
					go func() {
						defer wg.Done()
						var err error
						if op == byOurs {
							err = ourRoundTrip(ctx, p.ours, i)
						} else {
							err = theirRoundTrip(p, i)
						}
						if err != nil {
							errs <- fmt.Errorf("stream %d: %w", i, err)
						}
					}()
				}
				wg.Wait()
				echoes.Wait()
				close(errs)
				for err := range errs {
					t.Error(err)
				}
				st := p.ours.Stats()
				if op == byOurs && st.StreamsOpened != concurrentStreams {
					t.Errorf("StreamsOpened = %d, want %d", st.StreamsOpened, concurrentStreams)
				}
				if op == byTheirs && st.StreamsAccepted != concurrentStreams {
					t.Errorf("StreamsAccepted = %d, want %d", st.StreamsAccepted, concurrentStreams)
				}
			})
		}
	}
}

// ourRoundTrip opens a stream from our side, writes stream i's payload
// while reading the echo, and compares.
func ourRoundTrip(ctx context.Context, s *session.Session, i int) error {
	want := payload(i)
	st, err := s.Open(ctx, &session.OpenOptions{Headers: []hpackz.Field{{Name: "x-index", Value: strconv.Itoa(i)}}})
	if err != nil {
		return err
	}
	defer st.Close()
	werr := make(chan error, 1)
	go func() {
		err := writeChunks(st, want)
		if err == nil {
			err = st.CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(io.LimitReader(st, int64(len(want))+1))
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("echo differs: got %d bytes, want %d", len(got), len(want))
	}
	return nil
}

// theirRoundTrip is ourRoundTrip from spdystream's side, as Kubernetes'
// client does it: create, wait for the reply, write, half-close.
func theirRoundTrip(p *peers, i int) error {
	want := payload(i)
	st, err := p.theirs.CreateStream(http.Header{"X-Index": {strconv.Itoa(i)}}, nil, false)
	if err != nil {
		return err
	}
	p.track(st)
	if err := st.WaitTimeout(waitLimit); err != nil {
		return fmt.Errorf("wait for reply: %w", err)
	}
	werr := make(chan error, 1)
	go func() {
		err := writeChunks(st, want)
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		werr <- err
	}()
	got, err := io.ReadAll(io.LimitReader(st, int64(len(want))+1))
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("echo differs: got %d bytes, want %d", len(got), len(want))
	}
	return nil
}

// ourEchoServer accepts n streams and echoes each until its FIN.
func ourEchoServer(ctx context.Context, s *session.Session, n int, wg *sync.WaitGroup) {
	for range n {
		st, err := s.Accept(ctx)
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			io.Copy(st, st)
			st.Close()
		}()
	}
}

const bulkSize = 64 << 20

// TestBulk64MiB sends 64 MiB each way at once on one stream, checked by
// SHA-256, with our session in either role and either side opening it.
func TestBulk64MiB(t *testing.T) {
	for _, sd := range sides {
		for _, op := range openers {
			t.Run(sd.String()+"/"+op.String(), func(t *testing.T) {
				p := newPeers(t, sd, &options{watchdog: 5 * time.Minute})
				ctx := testContext(t)
				ours, theirs := p.open(t, ctx, op, nil, nil)
				defer ours.Close()
				start := time.Now()
				var wg sync.WaitGroup
				var ourSent, ourGot, theirSent, theirGot digest
				wg.Add(4)
				go func() { // ours → spdystream, in 1 MiB writes cut into frames by our session
					defer wg.Done()
					ourSent = sendPattern(ours, 1, 1<<20, ours.CloseWrite)
				}()
				go func() { // spdystream → ours, one 256 KiB DATA frame per write
					defer wg.Done()
					theirSent = sendPattern(theirs, 2, 256<<10, theirs.Close)
				}()
				go func() {
					defer wg.Done()
					theirGot = receive(theirs)
				}()
				go func() {
					defer wg.Done()
					ourGot = receive(ours)
				}()
				wg.Wait()
				elapsed := time.Since(start)
				check := func(dir string, sent, got digest) {
					if sent.err != nil {
						t.Errorf("%s: write: %v", dir, sent.err)
					}
					if got.err != nil {
						t.Errorf("%s: read: %v", dir, got.err)
					}
					if sent.n != bulkSize || got.n != bulkSize {
						t.Errorf("%s: sent %d bytes, received %d, want %d", dir, sent.n, got.n, bulkSize)
					}
					if sent.sum != got.sum {
						t.Errorf("%s: SHA-256 of the received data differs from the sent", dir)
					}
				}
				check("ours to spdystream", ourSent, theirGot)
				check("spdystream to ours", theirSent, ourGot)
				t.Logf("%d MiB each way in %v", bulkSize>>20, elapsed.Round(time.Millisecond))
				waitDone(t, ours)
			})
		}
	}
}

type digest struct {
	n   int
	sum [sha256.Size]byte
	err error
}

// sendPattern writes bulkSize bytes of the pattern seeded with seed in
// writes of chunk bytes, then calls end, and returns what it wrote.
func sendPattern(w io.Writer, seed uint32, chunk int, end func() error) digest {
	pat := newPattern(seed)
	h := sha256.New()
	buf := make([]byte, chunk)
	var d digest
	for d.n < bulkSize {
		b := buf[:min(chunk, bulkSize-d.n)]
		pat.fill(b)
		h.Write(b)
		n, err := w.Write(b)
		d.n += n
		if err != nil {
			d.err = err
			break
		}
	}
	if err := end(); err != nil && d.err == nil {
		d.err = err
	}
	h.Sum(d.sum[:0])
	return d
}

// receive reads to EOF, at most a little more than bulkSize.
func receive(r io.Reader) digest {
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(r, bulkSize+1))
	d := digest{n: int(n), err: err}
	h.Sum(d.sum[:0])
	return d
}
