package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Result is the outcome of one run of a workload on one transport.
type Result struct {
	// Elapsed is the wall time of the measured part.
	Elapsed time.Duration
	// Bytes is the payload received and checked (Bulk).
	Bytes int64
	// Ops is the number of requests or open/close cycles done (ReqResp).
	Ops int64
	// CPU is the user+system time of the whole process during the run.
	CPU time.Duration
	// Streams is the number of idle streams held open (Idle).
	Streams int
	// HeapPerStream is the growth of the in-use heap per idle stream,
	// both sides of the connection together (Idle).
	HeapPerStream float64
	// StackPerStream is the growth of goroutine stacks per idle stream,
	// both sides together (Idle).
	StackPerStream float64
	// GoroutinesPerStream is the growth of the goroutine count per idle
	// stream, both sides together (Idle).
	GoroutinesPerStream float64
}

// Throughput returns the payload rate in bytes per second.
func (r Result) Throughput() float64 { return float64(r.Bytes) / r.Elapsed.Seconds() }

// Rate returns the operations per second.
func (r Result) Rate() float64 { return float64(r.Ops) / r.Elapsed.Seconds() }

// CPUPerGB returns the process CPU seconds spent per 10^9 payload bytes.
func (r Result) CPUPerGB() float64 { return r.CPU.Seconds() / (float64(r.Bytes) / 1e9) }

// ErrTimeout is the error of a run cut short by its time limit.
var ErrTimeout = errors.New("bench: run exceeded its time limit")

// group runs the goroutines of one run; the first error stops the pair,
// which unblocks every other goroutine.
type group struct {
	wg       sync.WaitGroup
	mu       sync.Mutex
	err      error
	stopOnce sync.Once
	stop     func()
	stopping atomic.Bool // the run is over: errors from here on are expected
}

func newGroup(p *Pair, timeout time.Duration) (*group, func()) {
	return timedGroup(func() { p.Close() }, timeout)
}

// timedGroup returns a group that calls stop at its first error, and
// fails with ErrTimeout once timeout has passed unless the returned
// function is called first.
func timedGroup(stop func(), timeout time.Duration) (*group, func()) {
	g := &group{stop: stop}
	t := time.AfterFunc(timeout, func() { g.fail(ErrTimeout) })
	return g, func() { t.Stop() }
}

func (g *group) run(f func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(); err != nil && !g.stopping.Load() {
			g.fail(err)
		}
	}()
}

func (g *group) fail(err error) {
	g.mu.Lock()
	if g.err == nil {
		g.err = err
	}
	g.mu.Unlock()
	g.stopOnce.Do(g.stop)
}

// each runs f on every index below n in workers goroutines of g, each
// goroutine taking the next index not yet taken; it stops at the first
// error of a goroutine.
func (g *group) each(n, workers int, f func(i int) error) {
	var next atomic.Int64
	for range min(workers, n) {
		g.run(func() error {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return nil
				}
				if err := f(i); err != nil {
					return err
				}
			}
		})
	}
}

// wait waits for every goroutine started so far and returns the first
// error of the run.
func (g *group) wait() error {
	g.wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// patternByte is the content of byte off of the stream with the given
// seed: verifying it detects lost, duplicated, reordered and mixed-up data.
func patternByte(seed uint32, off int64) byte {
	return byte((uint64(off)*0x9E3779B97F4A7C15 + uint64(seed)*0xBF58476D1CE4E5B9 + uint64(off)>>13) >> 56)
}

func fillPattern(b []byte, seed uint32, off int64) {
	for i := range b {
		b[i] = patternByte(seed, off+int64(i))
	}
}

func checkPattern(b []byte, seed uint32, off int64) error {
	for i := range b {
		if b[i] != patternByte(seed, off+int64(i)) {
			return fmt.Errorf("stream %d: byte %d is %#x, want %#x", seed, off+int64(i), b[i], patternByte(seed, off+int64(i)))
		}
	}
	return nil
}

// expectEOF reads once more and fails unless r, a stream or a body
// (what, in the error), ends there.
func expectEOF(r io.Reader, what string) error {
	var one [1]byte
	for i := 0; i < 16; i++ { // empty reads are allowed, a few times
		n, err := r.Read(one[:])
		if n > 0 {
			return errors.New("more data than expected")
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return fmt.Errorf("no end of %s after 16 empty reads", what)
}

// BulkParams describe a bulk transfer: Streams concurrent streams, each
// moving Size bytes from the client to the server in writes of Chunk
// bytes.
type BulkParams struct {
	Streams int
	Size    int64
	Chunk   int
	// SPDYFrameSize is passed to the transport (see Options).
	SPDYFrameSize int
	// Verify checks every received byte (otherwise only the count).
	Verify  bool
	Timeout time.Duration
}

// Bulk runs a bulk transfer (W1 with one stream, W2 with many). Each
// client stream sends an 8-byte header (its index), then Size bytes, then
// half-closes; the server reads to the end, checks the count (and, with
// Verify, every byte), half-closes, and the client waits for that end.
func Bulk(t Transport, p BulkParams) (Result, error) {
	if p.Chunk <= 0 {
		p.Chunk = 32 << 10
	}
	pair, err := t.New(Options{MaxStreams: p.Streams, SPDYFrameSize: p.SPDYFrameSize})
	if err != nil {
		return Result{}, err
	}
	defer pair.Close()
	g, stopTimer := newGroup(pair, p.Timeout)
	defer stopTimer()
	var received atomic.Int64

	start := time.Now()
	cpu0 := cpuTime()
	g.run(func() error {
		for i := 0; i < p.Streams; i++ {
			st, err := pair.Server.Accept()
			if err != nil {
				return fmt.Errorf("accept: %w", err)
			}
			g.run(func() error {
				n, err := recvBulk(st, p)
				received.Add(n)
				return err
			})
		}
		return nil
	})
	for i := 0; i < p.Streams; i++ {
		g.run(func() error { return sendBulk(pair.Client, uint32(i), p) })
	}
	err = g.wait()
	res := Result{Elapsed: time.Since(start), CPU: cpuTime() - cpu0, Bytes: received.Load()}
	if err != nil {
		return res, fmt.Errorf("%s: %w", t.Name, err)
	}
	if want := p.Size * int64(p.Streams); res.Bytes != want {
		return res, fmt.Errorf("%s: received %d bytes, want %d", t.Name, res.Bytes, want)
	}
	return res, nil
}

func sendBulk(m Mux, seed uint32, p BulkParams) error {
	st, err := m.Open()
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer st.Close()
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:], seed)
	if _, err := st.Write(hdr[:]); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	buf := make([]byte, p.Chunk)
	if !p.Verify {
		fillPattern(buf, seed, 0)
	}
	for off := int64(0); off < p.Size; {
		b := buf[:min(int64(len(buf)), p.Size-off)]
		if p.Verify {
			fillPattern(b, seed, off)
		}
		n, err := st.Write(b)
		off += int64(n)
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	if err := st.CloseWrite(); err != nil {
		return fmt.Errorf("close write: %w", err)
	}
	if err := expectEOF(st, "stream"); err != nil {
		return fmt.Errorf("waiting for the end of the reply: %w", err)
	}
	return nil
}

func recvBulk(st Stream, p BulkParams) (int64, error) {
	defer st.Close()
	var hdr [8]byte
	if _, err := io.ReadFull(st, hdr[:]); err != nil {
		return 0, fmt.Errorf("read header: %w", err)
	}
	seed := binary.BigEndian.Uint32(hdr[:])
	buf := make([]byte, p.Chunk)
	var off int64
	for {
		n, err := st.Read(buf)
		if n > 0 {
			if off+int64(n) > p.Size {
				return off, fmt.Errorf("stream %d: more than %d bytes", seed, p.Size)
			}
			if p.Verify {
				if err := checkPattern(buf[:n], seed, off); err != nil {
					return off, err
				}
			}
			off += int64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return off, fmt.Errorf("stream %d: read at %d: %w", seed, off, err)
		}
	}
	if off != p.Size {
		return off, fmt.Errorf("stream %d: %d bytes, want %d", seed, off, p.Size)
	}
	if err := st.CloseWrite(); err != nil {
		return off, fmt.Errorf("close write: %w", err)
	}
	return off, nil
}

// ReqRespParams describe request/response traffic: Workers goroutines
// each open a stream, send ReqSize bytes and half-close, read RespSize
// bytes and the end of the stream, and close it; again until Ops requests
// are done in all or Duration has passed.
type ReqRespParams struct {
	Workers  int
	ReqSize  int
	RespSize int
	Duration time.Duration
	Ops      int64 // 0: no limit but Duration
	Timeout  time.Duration
}

// ReqResp runs request/response traffic on new streams (W3, W5). Every
// response is derived from its request and checked.
func ReqResp(t Transport, p ReqRespParams) (Result, error) {
	if p.ReqSize < 1 || p.RespSize < 1 {
		return Result{}, errors.New("request and response sizes must be positive")
	}
	pair, err := t.New(Options{MaxStreams: p.Workers})
	if err != nil {
		return Result{}, err
	}
	defer pair.Close()
	g, stopTimer := newGroup(pair, p.Timeout)
	defer stopTimer()

	g.run(func() error {
		for {
			st, err := pair.Server.Accept()
			if err != nil {
				return fmt.Errorf("accept: %w", err)
			}
			g.run(func() error { return serveReq(st, p) })
		}
	})
	var ops, budget atomic.Int64
	budget.Store(p.Ops)
	var workers sync.WaitGroup
	start := time.Now()
	cpu0 := cpuTime()
	deadline := start.Add(p.Duration)
	for w := 0; w < p.Workers; w++ {
		workers.Add(1)
		g.run(func() error {
			defer workers.Done()
			req := make([]byte, p.ReqSize)
			resp := make([]byte, p.RespSize)
			for seq := uint32(0); ; seq++ {
				if p.Ops > 0 && budget.Add(-1) < 0 {
					return nil
				}
				if p.Duration > 0 && time.Now().After(deadline) {
					return nil
				}
				if err := doReq(pair.Client, uint32(w)<<24|seq&0xffffff, req, resp); err != nil {
					return err
				}
				ops.Add(1)
			}
		})
	}
	workers.Wait()
	res := Result{Elapsed: time.Since(start), CPU: cpuTime() - cpu0, Ops: ops.Load()}
	g.stopping.Store(true)
	pair.Close()
	if err := g.wait(); err != nil {
		return res, fmt.Errorf("%s: %w", t.Name, err)
	}
	if p.Ops > 0 && p.Duration == 0 && res.Ops != p.Ops {
		return res, fmt.Errorf("%s: %d requests done, want %d", t.Name, res.Ops, p.Ops)
	}
	return res, nil
}

// fillResp writes the response derived from req into resp: byte i is
// req[i mod len(req)] ^ byte(7i). It is cheap next to a round trip, and
// cheaper than a division per byte.
func fillResp(resp, req []byte) {
	j := 0
	for i := range resp {
		resp[i] = req[j] ^ byte(i*7)
		if j++; j == len(req) {
			j = 0
		}
	}
}

// checkResp reports the first byte of resp that is not derived from req.
func checkResp(resp, req []byte) error {
	j := 0
	for i := range resp {
		if want := req[j] ^ byte(i*7); resp[i] != want {
			return fmt.Errorf("response byte %d is %#x, want %#x", i, resp[i], want)
		}
		if j++; j == len(req) {
			j = 0
		}
	}
	return nil
}

func doReq(m Mux, seed uint32, req, resp []byte) error {
	fillPattern(req, seed, 0)
	st, err := m.Open()
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer st.Close()
	if _, err := st.Write(req); err != nil {
		return fmt.Errorf("write request: %w", err)
	}
	if err := st.CloseWrite(); err != nil {
		return fmt.Errorf("close write: %w", err)
	}
	if _, err := io.ReadFull(st, resp); err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if err := expectEOF(st, "stream"); err != nil {
		return fmt.Errorf("end of response: %w", err)
	}
	return checkResp(resp, req)
}

func serveReq(st Stream, p ReqRespParams) error {
	defer st.Close()
	req := make([]byte, p.ReqSize)
	if _, err := io.ReadFull(st, req); err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	if err := expectEOF(st, "stream"); err != nil {
		return fmt.Errorf("end of request: %w", err)
	}
	resp := make([]byte, p.RespSize)
	fillResp(resp, req)
	if _, err := st.Write(resp); err != nil {
		return fmt.Errorf("write response: %w", err)
	}
	return st.CloseWrite()
}

// IdleParams describe idle streams: Streams streams opened by the client,
// accepted by the server and held open without traffic.
type IdleParams struct {
	Streams int
	// Verify sends 4 bytes on every stream after measuring and checks that
	// each arrives on its own accepted stream.
	Verify  bool
	Timeout time.Duration
}

// Idle measures what idle open streams cost (W4): the growth of the
// in-use heap, of goroutine stacks and of the goroutine count, with both
// sides of the connection in this process, after a garbage collection.
func Idle(t Transport, p IdleParams) (Result, error) {
	if !t.Multiplexed {
		return Result{}, errors.New("idle streams are measured for multiplexers only")
	}
	pair, err := t.New(Options{MaxStreams: p.Streams + 16})
	if err != nil {
		return Result{}, err
	}
	defer pair.Close()
	g, stopTimer := newGroup(pair, p.Timeout)
	defer stopTimer()

	// One exchange first, so that what every connection allocates once
	// (buffers, pools) is not counted per stream.
	if err := warmUp(pair, g); err != nil {
		return Result{}, fmt.Errorf("%s: warm-up: %w", t.Name, err)
	}
	cs := make([]Stream, p.Streams)
	ss := make([]Stream, p.Streams)
	heap0, stack0, gr0 := settle()

	start := time.Now()
	g.run(func() error {
		for i := range ss {
			st, err := pair.Server.Accept()
			if err != nil {
				return fmt.Errorf("accept %d: %w", i, err)
			}
			ss[i] = st
		}
		return nil
	})
	g.run(func() error {
		for i := range cs {
			st, err := pair.Client.Open()
			if err != nil {
				return fmt.Errorf("open %d: %w", i, err)
			}
			cs[i] = st
		}
		return nil
	})
	if err := g.wait(); err != nil {
		return Result{}, fmt.Errorf("%s: %w", t.Name, err)
	}
	elapsed := time.Since(start)
	heap1, stack1, gr1 := settle()
	n := float64(p.Streams)
	res := Result{
		Elapsed:             elapsed,
		Streams:             p.Streams,
		HeapPerStream:       float64(int64(heap1)-int64(heap0)) / n,
		StackPerStream:      float64(int64(stack1)-int64(stack0)) / n,
		GoroutinesPerStream: float64(gr1-gr0) / n,
	}
	if p.Verify {
		if err := verifyIdle(pair, g, cs, ss); err != nil {
			return res, fmt.Errorf("%s: %w", t.Name, err)
		}
	}
	runtime.KeepAlive(cs)
	runtime.KeepAlive(ss)
	return res, nil
}

// warmUp exchanges one byte each way on one new stream of the pair.
func warmUp(pair *Pair, g *group) error {
	g.run(func() error {
		st, err := pair.Server.Accept()
		if err != nil {
			return err
		}
		defer st.Close()
		var b [1]byte
		if _, err := io.ReadFull(st, b[:]); err != nil {
			return err
		}
		if _, err := st.Write(b[:]); err != nil {
			return err
		}
		return st.CloseWrite()
	})
	g.run(func() error {
		st, err := pair.Client.Open()
		if err != nil {
			return err
		}
		defer st.Close()
		if _, err := st.Write([]byte{0x5a}); err != nil {
			return err
		}
		if err := st.CloseWrite(); err != nil {
			return err
		}
		var b [1]byte
		if _, err := io.ReadFull(st, b[:]); err != nil {
			return err
		}
		if b[0] != 0x5a {
			return fmt.Errorf("echo is %#x, want 0x5a", b[0])
		}
		return expectEOF(st, "stream")
	})
	return g.wait()
}

// settle lets the transports' goroutines finish what they were doing (a
// bounded number of short pauses until the goroutine count stops
// changing), collects garbage and returns the in-use heap, the stack
// in use and the goroutine count.
func settle() (heap, stack uint64, goroutines int) {
	prev, same := -1, 0
	for i := 0; i < 100 && same < 3; i++ {
		time.Sleep(20 * time.Millisecond)
		n := runtime.NumGoroutine()
		if n == prev {
			same++
		} else {
			same = 0
		}
		prev = n
	}
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.StackInuse, runtime.NumGoroutine()
}

func verifyIdle(pair *Pair, g *group, cs, ss []Stream) error {
	seen := make([]atomic.Bool, len(cs))
	var dup atomic.Int64
	for _, st := range ss {
		g.run(func() error {
			var b [4]byte
			if _, err := io.ReadFull(st, b[:]); err != nil {
				return fmt.Errorf("read on idle stream: %w", err)
			}
			i := binary.BigEndian.Uint32(b[:])
			if int(i) >= len(seen) || seen[i].Swap(true) {
				dup.Add(1)
			}
			return nil
		})
	}
	g.run(func() error {
		for i, st := range cs {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], uint32(i))
			if _, err := st.Write(b[:]); err != nil {
				return fmt.Errorf("write on idle stream %d: %w", i, err)
			}
		}
		return nil
	})
	if err := g.wait(); err != nil {
		return err
	}
	if dup.Load() != 0 {
		return fmt.Errorf("%d idle streams got another stream's bytes", dup.Load())
	}
	for i := range seen {
		if !seen[i].Load() {
			return fmt.Errorf("idle stream %d got nothing", i)
		}
	}
	return nil
}
