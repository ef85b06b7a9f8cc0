package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/session"
)

// maxAttempts bounds how many times one request is sent: again on a new
// connection when the server proved it unprocessed (GOAWAY, or a session
// that could take no new request).
const maxAttempts = 3

// run is spdyload: it parses args, runs the load, writes the report to
// stdout and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stdout)
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "spdyload: %v\nusage: spdyload [flags] URL (spdyload -h lists the flags)\n", err)
		return exitUsage
	}
	for _, note := range o.notes {
		fmt.Fprintf(stderr, "spdyload: %s\n", note)
	}
	rep := newRunner(ctx, o).run()
	if o.json {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "spdyload: writing the report: %v\n", err)
		return exitFailed
	}
	return rep.exitCode()
}

// runner is one run of the load.
type runner struct {
	o     *options
	d     *dialer
	ctx   context.Context // the run's: ends on SIGINT or SIGTERM
	stop  context.Context // ends when no new request may start: -d or the signals
	limit int64           // requests to make, -1 for no bound
	taken atomic.Int64
	body  *bodySource
	req   *http.Request // what every request is a copy of, but for its context and body

	retired sync.WaitGroup // shutdowns of connections replaced during the run

	mu       sync.Mutex
	setupErr errorCounts // failures to establish a connection
	failed   int64       // connections that could not be established
}

// newRunner prepares a run of o under ctx.
func newRunner(ctx context.Context, o *options) *runner {
	r := &runner{o: o, d: newDialer(o), ctx: ctx, limit: o.limit(), body: newBodySource(o.bodySize)}
	r.req = &http.Request{
		Method:     o.method,
		URL:        o.url,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     o.header, // shared: the RoundTrippers do not modify it
		Host:       o.host,
		Body:       http.NoBody,
	}
	if r.body.size > 0 {
		r.req.ContentLength = r.body.size
		r.req.GetBody = func() (io.ReadCloser, error) { return r.body.reader(), nil }
	}
	return r
}

// take reserves the next request; false means the run is over.
func (r *runner) take() bool {
	if r.stop.Err() != nil {
		return false
	}
	n := r.taken.Add(1)
	return r.limit < 0 || n <= r.limit
}

// run makes the requests and returns the report.
func (r *runner) run() *report {
	stop, cancel := r.ctx, context.CancelFunc(func() {})
	if r.o.duration > 0 {
		stop, cancel = context.WithTimeout(r.ctx, r.o.duration)
	}
	defer cancel()
	r.stop = stop

	start := time.Now()
	slots := make([]*slot, r.o.conns)
	var workers []*worker
	var wg sync.WaitGroup
	for i := range slots {
		s := &slot{r: r}
		slots[i] = s
		for range r.o.streams {
			w := &worker{r: r, s: s, stats: newStats()}
			workers = append(workers, w)
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.loop()
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)

	// Every request is over: close the connections, gracefully unless
	// the run was interrupted.
	sctx, scancel := context.WithTimeout(r.ctx, r.o.bound())
	defer scancel()
	for _, s := range slots {
		if s.cur != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.cur.shutdown(sctx)
			}()
		}
	}
	wg.Wait()
	r.retired.Wait()

	total := newStats()
	for _, w := range workers {
		total.merge(w.stats)
	}
	return r.report(total, elapsed)
}

// slot is one of the -c connections, with its -m workers: the connection
// in use, replaced when it can take no new request.
type slot struct {
	r *runner

	mu   sync.Mutex
	cur  conn
	dead bool // a connection could not be established: the slot is done
}

// get returns the slot's connection, establishing one when there is none
// or the current one can take no new request; nil means the slot is done.
func (s *slot) get() conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return nil
	}
	if s.cur != nil && s.cur.usable() {
		return s.cur
	}
	r := s.r
	if old := s.cur; old != nil {
		s.cur = nil
		r.retired.Add(1)
		go func() {
			defer r.retired.Done()
			ctx, cancel := context.WithTimeout(r.ctx, r.o.bound())
			defer cancel()
			old.shutdown(ctx)
		}()
	}
	if r.stop.Err() != nil {
		return nil
	}
	c, err := r.d.dial(r.ctx)
	if err != nil {
		s.dead = true
		if r.ctx.Err() == nil { // not the interruption
			r.mu.Lock()
			r.failed++
			r.setupErr.add(errorKind(err), err)
			r.mu.Unlock()
		}
		return nil
	}
	s.cur = c
	return c
}

// end marks the slot done: no new request starts on it.
func (s *slot) end() {
	s.mu.Lock()
	s.dead = true
	s.mu.Unlock()
}

// worker makes requests on its slot's connection, one at a time.
type worker struct {
	r     *runner
	s     *slot
	stats *stats
}

// loop makes requests until the run or the slot is over.
func (w *worker) loop() {
	for w.r.stop.Err() == nil {
		c := w.s.get()
		if c == nil || !w.r.take() {
			return
		}
		w.request(c)
	}
}

// request makes one request on c, and again on a new connection of the
// slot when the server proved it unprocessed.
func (w *worker) request(c conn) {
	w.stats.started++
	for attempt := 1; ; attempt++ {
		res := w.exchange(c)
		if res.err != nil && attempt < maxAttempts && w.r.ctx.Err() == nil && unprocessed(res.err) {
			if next := w.s.get(); next != nil {
				w.stats.retried++
				c = next
				continue
			}
		}
		w.stats.record(res, w.r.ctx.Err() != nil)
		var ce *connectError
		if errors.As(res.err, &ce) {
			w.s.end() // an HTTP/1.1 reconnection failed
		}
		return
	}
}

// unprocessed reports whether err is that of a request the server did not
// process, which may be sent again.
func unprocessed(err error) bool {
	return errors.Is(err, httpadapter.ErrClientConnUnusable) || errors.Is(err, session.ErrNotProcessed)
}

// result is the outcome of one exchange.
type result struct {
	status int
	ttfb   time.Duration // to the response headers
	ttlb   time.Duration // to the end of the body
	body   int64         // response body bytes read
	err    error
}

// exchange sends the request on c and reads the response to its end.
func (w *worker) exchange(c conn) result {
	r := w.r
	if err := c.acquire(r.ctx); err != nil {
		return result{err: err}
	}
	defer c.release()
	ctx := r.ctx
	if r.o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.o.timeout)
		defer cancel()
	}
	req := r.newRequest(ctx)
	start := time.Now()
	resp, err := c.roundTrip(req)
	ttfb := time.Since(start)
	if err != nil {
		return result{err: fmt.Errorf("request: %w", err)}
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	res := result{status: resp.StatusCode, ttfb: ttfb, ttlb: time.Since(start), body: n}
	if err != nil {
		res.err = fmt.Errorf("reading the response body: %w", err)
	}
	return res
}

// newRequest returns the request to send under ctx.
func (r *runner) newRequest(ctx context.Context) *http.Request {
	req := r.req.WithContext(ctx)
	if r.body.size > 0 {
		req.Body = r.body.reader()
	}
	return req
}

// bodySource generates the request bodies: size bytes of a repeating
// pattern, without holding them all.
type bodySource struct {
	size  int64
	block []byte
}

// bodyBlock is the size of the pattern a body repeats.
const bodyBlock = 32 << 10

func newBodySource(size int64) *bodySource {
	b := &bodySource{size: size}
	if size > 0 {
		n := min(size, bodyBlock)
		b.block = make([]byte, n)
		const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789\n"
		for i := range b.block {
			b.block[i] = alphabet[i%len(alphabet)]
		}
	}
	return b
}

// reader returns a new body.
func (b *bodySource) reader() io.ReadCloser {
	return &patternReader{block: b.block, left: b.size}
}

// patternReader reads left bytes of block repeated.
type patternReader struct {
	block []byte
	left  int64
	off   int
}

func (p *patternReader) Read(buf []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(buf) && p.left > 0 {
		k := copy(buf[n:], p.block[p.off:])
		k = int(min(int64(k), p.left))
		n += k
		p.left -= int64(k)
		p.off = (p.off + k) % len(p.block)
	}
	return n, nil
}

func (p *patternReader) Close() error { return nil }
