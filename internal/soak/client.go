package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/spdygo/spdy/httpadapter"
)

// clientKind is how a client reaches the front end.
type clientKind int

const (
	http1Plain clientKind = iota // HTTP/1.1 over TCP
	spdyPlain                    // SPDY/3.1 over TCP with prior knowledge (sniffed)
	http1TLS                     // HTTP/1.1 over TLS
	spdyTLS                      // SPDY/3.1 over TLS, negotiated by ALPN
	numKinds
)

func (k clientKind) String() string {
	return [...]string{"http1", "spdy", "http1-tls", "spdy-tls"}[k]
}

func (k clientKind) isSPDY() bool { return k == spdyPlain || k == spdyTLS }

// client is one simulated media client: a player, a browser, a phone app.
type client struct {
	s    *soak
	id   int
	kind clientKind
	rt   http.RoundTripper
	base string
	rnd  *rand.Rand
	buf  []byte
	v    verifier
}

// errFallback is the error of a SPDY client's fallback round tripper: the
// TLS front end must always negotiate SPDY with it.
var errFallback = errors.New("the TLS front end did not negotiate SPDY")

type noFallback struct{}

func (noFallback) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	return nil, errFallback
}

// newClients makes cfg.Clients clients, the kinds in turn. HTTP/1.1
// clients have a transport each (a player's connection); SPDY clients of a
// kind share a transport, and so one session, SPDYShare at a time.
func (s *soak) newClients() []*client {
	dial := (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	tlsConf := &tls.Config{RootCAs: s.pool}
	shared := map[clientKind]*httpadapter.Transport{}
	sharing := map[clientKind]int{}
	var out []*client
	for i := range s.cfg.Clients {
		kind := clientKind(i % int(numKinds))
		c := &client{
			s:    s,
			id:   i,
			kind: kind,
			rnd:  rand.New(rand.NewPCG(s.cfg.Seed, uint64(i))),
			buf:  make([]byte, 32<<10),
		}
		switch kind {
		case http1Plain, http1TLS:
			t := &http.Transport{
				DialContext:         dial,
				DisableCompression:  true,
				MaxIdleConnsPerHost: 2,
				IdleConnTimeout:     90 * time.Second,
			}
			c.base = s.plainURL
			if kind == http1TLS {
				t.TLSClientConfig = tlsConf.Clone()
				c.base = s.tlsURL
			}
			s.transports = append(s.transports, t)
			c.rt = t
		case spdyPlain, spdyTLS:
			t := shared[kind]
			if t == nil || sharing[kind] == s.cfg.SPDYShare {
				t = &httpadapter.Transport{DialContext: dial, DisableCompression: true, Fallback: noFallback{}}
				if kind == spdyTLS {
					t.TLSClientConfig = tlsConf.Clone()
				}
				shared[kind], sharing[kind] = t, 0
				s.transports = append(s.transports, t)
			}
			sharing[kind]++
			c.rt = t
			c.base = s.plainURL
			if kind == spdyTLS {
				c.base = s.tlsURL
			}
		}
		out = append(out, c)
	}
	return out
}

// request is one request and what its response must be.
type request struct {
	o        *origin
	path     string
	rangeHdr string
	inm      string // If-None-Match

	status       int
	contentRange string // "" means none expected
	length       int64  // body length; -1 means not known in advance
	lengthHeader bool   // Content-Length must equal length
	body         []byte // the exact body, or nil for a pattern
	salt         uint64 // pattern of the body, from offset off
	off          int64

	cancelAfter int64 // cancel once this many bytes were read; -1 never
	closeBody   bool  // cancel by closing the body instead of the context
	slowChunk   int   // read at most this many bytes at a time, pausing
	slowPause   time.Duration
}

// result is how a request ended.
type result int

const (
	resOK result = iota
	resCancelled
	resFailed  // an error; counted
	resStopped // the run ended
)

// loop runs the client's sessions of media use until the run stops.
func (c *client) loop() {
	for c.s.stop.Err() == nil {
		o := c.s.origins[c.rnd.IntN(len(c.s.origins))]
		var r result
		switch n := c.rnd.IntN(100); {
		case n < 22:
			r = c.player(o)
		case n < 40:
			r = c.safari(o)
		case n < 48:
			r = c.tail(o)
		case n < 54:
			r = c.full(o)
		case n < 72:
			r = c.browse(o)
		case n < 86:
			r = c.live(o)
		default:
			r = c.slow(o)
		}
		if r == resFailed {
			// Retry-After: 1, as players do, roughly.
			c.pause(time.Duration(200+c.rnd.IntN(800)) * time.Millisecond)
		}
	}
}

// pause waits for d or the end of the run.
func (c *client) pause(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.s.stop.Done():
	}
}

// movie returns a request for the bytes [first, last] of o's movie
// (last -1: to its end) with a Range header, or the whole movie without
// one when first is -1.
func (c *client) movie(o *origin, first, last int64) *request {
	size := c.s.cfg.FileSize
	r := &request{o: o, path: "/movie.mp4", salt: movieSalt + uint64(o.k), cancelAfter: -1, lengthHeader: true}
	switch {
	case first < 0:
		r.status, r.length = http.StatusOK, size
		return r
	case last < 0:
		r.rangeHdr = fmt.Sprintf("bytes=%d-", first)
		last = size - 1
	default:
		r.rangeHdr = fmt.Sprintf("bytes=%d-%d", first, last)
	}
	r.status = http.StatusPartialContent
	r.contentRange = fmt.Sprintf("bytes %d-%d/%d", first, last, size)
	r.off, r.length = first, last-first+1
	return r
}

// cancelAt makes r cancel after n bytes, unless that is its whole body.
func (c *client) cancelAt(r *request, n int64) {
	if n >= r.length {
		return
	}
	r.cancelAfter = n
	r.closeBody = c.rnd.IntN(2) == 0
}

func (c *client) between(lo, hi int64) int64 { return lo + c.rnd.Int64N(hi-lo+1) }

// player is VLC: "bytes=0-", read the start, cut it, then seek with
// open-ended ranges a few times, the last of them sometimes to the end.
func (c *client) player(o *origin) result {
	size := c.s.cfg.FileSize
	r := c.movie(o, 0, -1)
	c.cancelAt(r, c.between(64<<10, min(4<<20, size/2)))
	if res := c.do(r); res != resOK && res != resCancelled {
		return res
	}
	for range 1 + c.rnd.IntN(3) {
		if c.s.stop.Err() != nil {
			return resStopped
		}
		off := c.rnd.Int64N(size)
		r := c.movie(o, off, -1)
		if size-off > 2<<20 || c.rnd.IntN(4) != 0 {
			c.cancelAt(r, c.between(16<<10, 2<<20))
		}
		if res := c.do(r); res != resOK && res != resCancelled {
			return res
		}
	}
	return resOK
}

// safari is Safari's player: a probe of "bytes=0-1", then closed ranges.
func (c *client) safari(o *origin) result {
	size := c.s.cfg.FileSize
	if res := c.do(c.movie(o, 0, 1)); res != resOK {
		return res
	}
	off := c.rnd.Int64N(size / 2)
	for range 2 + c.rnd.IntN(4) {
		if c.s.stop.Err() != nil {
			return resStopped
		}
		n := c.between(64<<10, 2<<20)
		last := min(off+n-1, size-1)
		r := c.movie(o, off, last)
		if c.rnd.IntN(10) == 0 {
			c.cancelAt(r, c.rnd.Int64N(r.length))
		}
		if res := c.do(r); res != resOK && res != resCancelled {
			return res
		}
		if off = last + 1; off >= size {
			break
		}
	}
	return resOK
}

// tail reads the end of the movie with a suffix range, as players do to
// find an index at the end of a file.
func (c *client) tail(o *origin) result {
	size := c.s.cfg.FileSize
	n := c.between(1<<10, 1<<20)
	r := c.movie(o, size-n, -1)
	r.rangeHdr = fmt.Sprintf("bytes=-%d", n)
	return c.do(r)
}

// full downloads the whole movie and checks every byte.
func (c *client) full(o *origin) result { return c.do(c.movie(o, -1, -1)) }

// page returns a request for o's page, sometimes conditional.
func (c *client) page(o *origin) *request {
	body := page(o.name)
	r := &request{o: o, path: "/page", status: http.StatusOK, body: body, length: int64(len(body)), lengthHeader: true, cancelAfter: -1}
	if c.rnd.IntN(3) == 0 {
		r.inm = fmt.Sprintf("\"page-%s\"", o.name)
		r.status, r.body, r.length = http.StatusNotModified, nil, 0
		r.lengthHeader = false
	}
	return r
}

// browse is a browser showing the library: the page, then the page again
// and thumbnails (small ranges of the movie), several at once over SPDY,
// one after the other over HTTP/1.1.
func (c *client) browse(o *origin) result {
	if res := c.do(c.page(o)); res != resOK {
		return res
	}
	n := 2 + c.rnd.IntN(6)
	reqs := make([]*request, n)
	for i := range reqs {
		if i == 0 {
			reqs[i] = c.page(o)
			continue
		}
		off := c.rnd.Int64N(c.s.cfg.FileSize - 256<<10)
		reqs[i] = c.movie(o, off, off+c.between(4<<10, 128<<10)-1)
	}
	if !c.kind.isSPDY() {
		for _, r := range reqs {
			if res := c.do(r); res != resOK {
				return res
			}
		}
		return resOK
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i, r := range reqs {
		sub := &client{s: c.s, id: c.id, kind: c.kind, rt: c.rt, base: c.base,
			rnd: rand.New(rand.NewPCG(c.rnd.Uint64(), c.rnd.Uint64())), buf: make([]byte, 32<<10)}
		wg.Go(func() { results[i] = sub.do(r) })
	}
	wg.Wait()
	for _, res := range results {
		if res != resOK {
			return res
		}
	}
	return resOK
}

// live follows a live stream: small chunks flushed by the origin one by
// one; sometimes the viewer leaves before its end.
func (c *client) live(o *origin) result {
	chunks, size := 5+c.rnd.IntN(36), 1<<10+c.rnd.IntN(15<<10)
	delay := time.Duration(5+c.rnd.IntN(36)) * time.Millisecond
	r := &request{
		o:           o,
		path:        fmt.Sprintf("/stream?chunks=%d&size=%d&delay=%v", chunks, size, delay),
		status:      http.StatusOK,
		length:      int64(chunks * size),
		salt:        streamSalt + uint64(o.k),
		cancelAfter: -1,
	}
	if c.rnd.IntN(5) == 0 {
		c.cancelAt(r, c.rnd.Int64N(r.length))
	}
	return c.do(r)
}

// slow reads a range in small pieces with pauses, as a client on a slow
// link does; it sometimes gives up.
func (c *client) slow(o *origin) result {
	size := c.s.cfg.FileSize
	n := c.between(512<<10, 3<<20)
	off := c.rnd.Int64N(size - n)
	r := c.movie(o, off, off+n-1)
	r.slowChunk = int(c.between(4<<10, 16<<10))
	r.slowPause = time.Duration(1+c.rnd.IntN(8)) * time.Millisecond
	if c.rnd.IntN(4) == 0 {
		c.cancelAt(r, c.rnd.Int64N(n))
	}
	return c.do(r)
}

// do sends r and reads and checks its response.
func (c *client) do(r *request) result {
	epoch, down := r.o.snapshot()
	ctx, cancel := context.WithTimeout(c.s.hard, c.s.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/o/"+r.o.name+r.path, nil)
	if err != nil {
		c.s.c.fail("request", err.Error())
		return resFailed
	}
	if r.rangeHdr != "" {
		req.Header.Set("Range", r.rangeHdr)
	}
	if r.inm != "" {
		req.Header.Set("If-None-Match", r.inm)
	}
	fail := func(kind string, err error) result {
		return c.failed(ctx, r, epoch, down, kind, err)
	}
	c.s.c.started.Add(1)
	c.s.c.active.Add(1)
	defer c.s.c.active.Add(-1)
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		return fail(kindTransport, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != r.status {
		return fail(kindStatus+strconv.Itoa(resp.StatusCode), fmt.Errorf("%s %s: status %d, want %d", r.path, r.rangeHdr, resp.StatusCode, r.status))
	}
	if got := resp.Header.Get("Content-Range"); got != r.contentRange {
		return fail(kindBadHeader, fmt.Errorf("%s %s: Content-Range %q, want %q", r.path, r.rangeHdr, got, r.contentRange))
	}
	if r.lengthHeader && resp.ContentLength != r.length {
		return fail(kindBadHeader, fmt.Errorf("%s %s: Content-Length %d, want %d", r.path, r.rangeHdr, resp.ContentLength, r.length))
	}
	c.v = verifier{salt: r.salt, off: r.off, want: c.v.want}
	var n int64
	for {
		if r.cancelAfter >= 0 && n >= r.cancelAfter {
			if r.closeBody {
				resp.Body.Close()
			} else {
				cancel()
			}
			c.s.c.cancelled.Add(1)
			return resCancelled
		}
		want := len(c.buf)
		if r.slowChunk > 0 {
			want = min(want, r.slowChunk)
		}
		if r.cancelAfter >= 0 {
			want = int(min(int64(want), r.cancelAfter-n))
		}
		m, rerr := resp.Body.Read(c.buf[:want])
		if m > 0 {
			c.s.c.bytes.Add(uint64(m))
			got := c.buf[:m]
			if n+int64(m) > r.length && r.length >= 0 {
				return fail(kindLongBody, fmt.Errorf("%s %s: more than %d bytes", r.path, r.rangeHdr, r.length))
			}
			if r.body != nil {
				if string(got) != string(r.body[n:n+int64(m)]) {
					return fail(kindWrongBytes, fmt.Errorf("%s: bytes %d to %d differ", r.path, n, n+int64(m)))
				}
			} else if err := c.v.check(got); err != nil {
				return fail(kindWrongBytes, fmt.Errorf("%s %s: %w", r.path, r.rangeHdr, err))
			}
			n += int64(m)
		}
		if rerr == io.EOF {
			if n != r.length {
				return fail(kindShortBody, fmt.Errorf("%s %s: the body ended after %d of %d bytes", r.path, r.rangeHdr, n, r.length))
			}
			c.s.c.ok.Add(1)
			return resOK
		}
		if rerr != nil {
			return fail(kindBody, fmt.Errorf("%s %s after %d bytes: %w", r.path, r.rangeHdr, n, rerr))
		}
		if r.slowPause > 0 {
			t := time.NewTimer(r.slowPause)
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
	}
}

// failed counts a failed request: as expected when the run's end cut it or
// its origin was disrupted while it ran (unless its bytes were wrong, which
// nothing excuses), as unexpected otherwise.
func (c *client) failed(ctx context.Context, r *request, epoch uint64, down bool, kind string, err error) result {
	switch {
	case c.s.hard.Err() != nil:
		c.s.c.expect(kindCutAtEnd)
		return resStopped
	case kind == kindWrongBytes || kind == kindShortBody || kind == kindLongBody || kind == kindBadHeader:
	case ctx.Err() != nil:
		kind = kindTimeout
	case r.o.disturbed(epoch, down):
		c.s.c.expect(kindReconnect + ":" + kind)
		return resFailed
	}
	c.s.c.fail(kind, fmt.Sprintf("%s client %d, %s: %v", c.kind, c.id, r.o.name, err))
	return resFailed
}
