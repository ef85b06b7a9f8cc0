package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// HTTPResult is the outcome of one run of an HTTP workload on one
// transport.
type HTTPResult struct {
	Result
	// Conns is the number of connections the server accepted during the
	// run, the warm-up included.
	Conns int64
}

// ErrNotEnoughFiles is the error of an idle-request run that would need
// more file descriptors than the process may open (HTTP/1.1 holds two per
// request in flight: the client's and the server's end of a connection).
var ErrNotEnoughFiles = errors.New("not enough file descriptors for a connection per request")

// httpHandler serves the HTTP workloads, the same handler for every
// transport:
//
//	POST /rr      a request body of reqSize bytes; the response is respSize
//	              bytes derived from it (fillResp)
//	GET  /bulk    bulkSize bytes of the pattern of seed 1, in writes of chunk
//	GET  /idle/K  the headers at once (flushed), then nothing until release
//	              is closed; the body is K as 8 big-endian bytes
type httpHandler struct {
	reqSize, respSize int
	bulkSize          int64
	chunk             int
	verify            bool
	release           chan struct{}
	releaseOnce       sync.Once

	waiting atomic.Int64 // idle handlers past their headers
	wg      sync.WaitGroup
	bufs    sync.Pool

	mu  sync.Mutex
	err error // the first thing the handler found wrong
}

func newHTTPHandler() *httpHandler {
	h := &httpHandler{release: make(chan struct{}), chunk: 32 << 10}
	h.bufs.New = func() any { return &rrBufs{req: make([]byte, h.reqSize), resp: make([]byte, h.respSize)} }
	return h
}

type rrBufs struct{ req, resp []byte }

func (h *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.wg.Add(1)
	defer h.wg.Done()
	switch {
	case r.URL.Path == "/rr" && r.Method == http.MethodPost:
		h.serveRR(w, r)
	case r.URL.Path == "/bulk" && r.Method == http.MethodGet:
		h.serveBulk(w)
	case strings.HasPrefix(r.URL.Path, "/idle/") && r.Method == http.MethodGet:
		h.serveIdle(w, r)
	default:
		h.fail(w, fmt.Errorf("unexpected request %s %s", r.Method, r.URL.Path))
	}
}

// fail records the first error of the server side and answers 500.
func (h *httpHandler) fail(w http.ResponseWriter, err error) {
	h.mu.Lock()
	if h.err == nil {
		h.err = err
	}
	h.mu.Unlock()
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// failure returns the first error the handler found.
func (h *httpHandler) failure() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return fmt.Errorf("server: %w", h.err)
	}
	return nil
}

func (h *httpHandler) serveRR(w http.ResponseWriter, r *http.Request) {
	b := h.bufs.Get().(*rrBufs)
	defer h.bufs.Put(b)
	if _, err := io.ReadFull(r.Body, b.req); err != nil {
		h.fail(w, fmt.Errorf("read request body: %w", err))
		return
	}
	if err := expectEOF(r.Body, "body"); err != nil {
		h.fail(w, fmt.Errorf("end of request body: %w", err))
		return
	}
	fillResp(b.resp, b.req)
	hdr := w.Header()
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("Content-Length", strconv.Itoa(len(b.resp)))
	w.Write(b.resp)
}

func (h *httpHandler) serveBulk(w http.ResponseWriter) {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("Content-Length", strconv.FormatInt(h.bulkSize, 10))
	buf := make([]byte, h.chunk)
	if !h.verify {
		fillPattern(buf, 1, 0)
	}
	for off := int64(0); off < h.bulkSize; {
		b := buf[:min(int64(len(buf)), h.bulkSize-off)]
		if h.verify {
			fillPattern(b, 1, off)
		}
		n, err := w.Write(b)
		off += int64(n)
		if err != nil {
			return // the client went away; it reports the short body
		}
	}
}

func (h *httpHandler) serveIdle(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.ParseUint(strings.TrimPrefix(r.URL.Path, "/idle/"), 10, 64)
	if err != nil {
		h.fail(w, fmt.Errorf("bad idle path %q", r.URL.Path))
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("Content-Length", "8")
	w.WriteHeader(http.StatusOK)
	h.waiting.Add(1) // before the client can see the headers
	if err := http.NewResponseController(w).Flush(); err != nil {
		h.fail(w, fmt.Errorf("flush: %w", err))
		return
	}
	select {
	case <-h.release:
	case <-r.Context().Done():
		return
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	w.Write(b[:])
}

// stop closes the pair and waits, within a bound, until every handler
// has returned.
func (h *httpHandler) stop(p *HTTPPair) error {
	h.unblock()
	err := p.Close()
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		if err == nil {
			err = errors.New("handlers still running 10 s after the server closed")
		}
	}
	return err
}

// finish ends a run whose requests ended with err: it stops the pair
// and returns the first of err, a handler's failure and the stop's error,
// prefixed with the transport's name, or nil.
func (h *httpHandler) finish(pair *HTTPPair, name string, err error) error {
	if err == nil {
		err = h.failure()
	}
	if serr := h.stop(pair); err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// unblock releases the idle handlers.
func (h *httpHandler) unblock() { h.releaseOnce.Do(func() { close(h.release) }) }

// checkStatus fails on a response that is not 200 OK, quoting the start
// of its body.
func checkStatus(resp *http.Response) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	return fmt.Errorf("status %s: %q", resp.Status, b)
}

// httpRun bounds a run in time: when it expires, or at the first error,
// the pair closes, which unblocks every request.
func httpRun(p *HTTPPair, timeout time.Duration) (*group, func()) {
	return timedGroup(func() { p.Close() }, timeout)
}

// HTTPReqRespParams describe HTTP request/response traffic: Workers
// goroutines share one http.Client and each sends a POST of ReqSize bytes
// and reads a response of RespSize bytes, again until Ops requests are
// done in all or Duration has passed.
type HTTPReqRespParams struct {
	Workers  int
	ReqSize  int
	RespSize int
	Duration time.Duration
	Ops      int64 // 0: no limit but Duration
	Timeout  time.Duration
}

// HTTPReqResp runs HTTP request/response traffic (W3-http). Every
// response is derived from its request and checked.
func HTTPReqResp(t HTTPTransport, p HTTPReqRespParams) (HTTPResult, error) {
	if p.ReqSize < 1 || p.RespSize < 1 || p.Workers < 1 {
		return HTTPResult{}, errors.New("workers and sizes must be positive")
	}
	h := newHTTPHandler()
	h.reqSize, h.respSize = p.ReqSize, p.RespSize
	pair, err := t.New(h, HTTPOptions{MaxStreams: p.Workers, Conns: p.Workers})
	if err != nil {
		return HTTPResult{}, err
	}
	defer h.stop(pair)
	g, stopTimer := httpRun(pair, p.Timeout)
	defer stopTimer()

	url := pair.URL + "/rr"
	// One request first, so that the multiplexed transports have their
	// connection before the workers start (net/http's HTTP/2 client dials
	// more than one when many requests find none).
	if err := doHTTPReq(pair.Client, url, 0xffffffff, make([]byte, p.ReqSize), make([]byte, p.RespSize)); err != nil {
		return HTTPResult{}, fmt.Errorf("%s: warm-up: %w", t.Name, err)
	}
	var ops, budget atomic.Int64
	budget.Store(p.Ops)
	start := time.Now()
	cpu0 := cpuTime()
	deadline := start.Add(p.Duration)
	for w := 0; w < p.Workers; w++ {
		g.run(func() error {
			req := make([]byte, p.ReqSize)
			resp := make([]byte, p.RespSize)
			for seq := uint32(0); ; seq++ {
				if p.Ops > 0 && budget.Add(-1) < 0 {
					return nil
				}
				if p.Duration > 0 && time.Now().After(deadline) {
					return nil
				}
				if err := doHTTPReq(pair.Client, url, uint32(w)<<24|seq&0xffffff, req, resp); err != nil {
					return err
				}
				ops.Add(1)
			}
		})
	}
	err = g.wait()
	res := HTTPResult{Result: Result{Elapsed: time.Since(start), CPU: cpuTime() - cpu0, Ops: ops.Load()}, Conns: pair.Conns()}
	if err := h.finish(pair, t.Name, err); err != nil {
		return res, err
	}
	if p.Ops > 0 && p.Duration == 0 && res.Ops != p.Ops {
		return res, fmt.Errorf("%s: %d requests done, want %d", t.Name, res.Ops, p.Ops)
	}
	return res, nil
}

func doHTTPReq(c *http.Client, url string, seed uint32, req, resp []byte) error {
	fillPattern(req, seed, 0)
	hr, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(req))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/octet-stream")
	res, err := c.Do(hr)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if err := checkStatus(res); err != nil {
		return err
	}
	if res.ContentLength != int64(len(resp)) {
		return fmt.Errorf("response content-length %d, want %d", res.ContentLength, len(resp))
	}
	if _, err := io.ReadFull(res.Body, resp); err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if err := expectEOF(res.Body, "body"); err != nil {
		return fmt.Errorf("end of response: %w", err)
	}
	return checkResp(resp, req)
}

// HTTPBulkParams describe one response of Size bytes, written by the
// handler and read by the client in pieces of Chunk bytes.
type HTTPBulkParams struct {
	Size  int64
	Chunk int
	// Verify checks every received byte (otherwise only the count).
	Verify  bool
	Timeout time.Duration
}

// HTTPBulk runs one large response (W1-http).
func HTTPBulk(t HTTPTransport, p HTTPBulkParams) (HTTPResult, error) {
	if p.Chunk <= 0 {
		p.Chunk = 32 << 10
	}
	h := newHTTPHandler()
	h.bulkSize, h.chunk, h.verify = p.Size, p.Chunk, p.Verify
	pair, err := t.New(h, HTTPOptions{MaxStreams: 1, Conns: 1})
	if err != nil {
		return HTTPResult{}, err
	}
	defer h.stop(pair)
	g, stopTimer := httpRun(pair, p.Timeout)
	defer stopTimer()

	var received atomic.Int64
	start := time.Now()
	cpu0 := cpuTime()
	g.run(func() error {
		res, err := pair.Client.Get(pair.URL + "/bulk")
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if err := checkStatus(res); err != nil {
			return err
		}
		buf := make([]byte, p.Chunk)
		var off int64
		for {
			n, err := res.Body.Read(buf)
			if n > 0 {
				if off+int64(n) > p.Size {
					return fmt.Errorf("more than %d bytes", p.Size)
				}
				if p.Verify {
					if err := checkPattern(buf[:n], 1, off); err != nil {
						return err
					}
				}
				off += int64(n)
				received.Store(off)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("read at %d: %w", off, err)
			}
		}
		if off != p.Size {
			return fmt.Errorf("%d bytes, want %d", off, p.Size)
		}
		return nil
	})
	err = g.wait()
	res := HTTPResult{Result: Result{Elapsed: time.Since(start), CPU: cpuTime() - cpu0, Bytes: received.Load()}, Conns: pair.Conns()}
	return res, h.finish(pair, t.Name, err)
}

// HTTPIdleParams describe idle requests in flight: Requests requests
// whose handlers sent the response headers and wait.
type HTTPIdleParams struct {
	Requests int
	Timeout  time.Duration
}

// fdLimit returns the process's limit of open files.
func fdLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return rl.Cur
}

// HTTPIdle measures what idle requests in flight cost (Wmem-http): the
// client sends Requests GETs whose handlers write the response headers,
// flush and wait; once every response's headers have arrived, it measures
// the growth of the in-use heap, of goroutine stacks and of the goroutine
// count, both sides in this process, after a garbage collection. Then the
// handlers are released and every response body is checked.
func HTTPIdle(t HTTPTransport, p HTTPIdleParams) (HTTPResult, error) {
	if p.Requests < 1 {
		return HTTPResult{}, errors.New("requests must be positive")
	}
	if !t.Multiplexed && uint64(2*p.Requests+256) > fdLimit() {
		return HTTPResult{}, fmt.Errorf("%w: %d requests need %d, the limit is %d", ErrNotEnoughFiles, p.Requests, 2*p.Requests+256, fdLimit())
	}
	h := newHTTPHandler()
	h.reqSize, h.respSize = 1, 1
	pair, err := t.New(h, HTTPOptions{MaxStreams: p.Requests + 16, Conns: p.Requests + 16})
	if err != nil {
		return HTTPResult{}, err
	}
	defer h.stop(pair)
	g, stopTimer := httpRun(pair, p.Timeout)
	defer stopTimer()

	// One request first, so that what every connection allocates once
	// (buffers, compression contexts) is not counted per request.
	if err := doHTTPReq(pair.Client, pair.URL+"/rr", 1, make([]byte, 1), make([]byte, 1)); err != nil {
		return HTTPResult{}, fmt.Errorf("%s: warm-up: %w", t.Name, err)
	}
	resps := make([]*http.Response, p.Requests)
	heap0, stack0, gr0 := settle()

	start := time.Now()
	g.each(len(resps), 16, func(i int) error {
		res, err := pair.Client.Get(pair.URL + "/idle/" + strconv.Itoa(i))
		if err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
		resps[i] = res
		if err := checkStatus(res); err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
		return nil
	})
	err = g.wait()
	elapsed := time.Since(start)
	if err == nil && h.waiting.Load() != int64(p.Requests) {
		err = fmt.Errorf("%d handlers waiting, want %d", h.waiting.Load(), p.Requests)
	}
	if err != nil {
		h.stop(pair)
		return HTTPResult{}, fmt.Errorf("%s: %w", t.Name, err)
	}
	heap1, stack1, gr1 := settle()
	n := float64(p.Requests)
	res := HTTPResult{
		Result: Result{
			Elapsed:             elapsed,
			Streams:             p.Requests,
			HeapPerStream:       float64(int64(heap1)-int64(heap0)) / n,
			StackPerStream:      float64(int64(stack1)-int64(stack0)) / n,
			GoroutinesPerStream: float64(gr1-gr0) / n,
		},
		Conns: pair.Conns(),
	}

	// Release the handlers; every response must carry its own index.
	h.unblock()
	g.each(len(resps), 16, func(i int) error {
		err := readIdleBody(resps[i], uint64(i))
		resps[i].Body.Close()
		if err != nil {
			return fmt.Errorf("response %d: %w", i, err)
		}
		return nil
	})
	err = h.finish(pair, t.Name, g.wait())
	runtime.KeepAlive(resps)
	return res, err
}

func readIdleBody(res *http.Response, want uint64) error {
	var b [8]byte
	if _, err := io.ReadFull(res.Body, b[:]); err != nil {
		return err
	}
	if got := binary.BigEndian.Uint64(b[:]); got != want {
		return fmt.Errorf("body of request %d", got)
	}
	return expectEOF(res.Body, "body")
}
