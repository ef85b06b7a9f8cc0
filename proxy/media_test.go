package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// handlerRecord is what the origin saw of one request.
type handlerRecord struct {
	written  int64
	writeErr error
	// ctxDone reports that the request's context was done once the
	// response could not be written whole (true when it could).
	ctxDone bool
}

// trackingHandler counts the requests its handler serves, keyed by their
// X-Req-Id header, and the bytes it wrote to each.
type trackingHandler struct {
	next http.Handler

	mu      sync.Mutex
	started int
	ended   map[string]handlerRecord
}

type countingResponseWriter struct {
	http.ResponseWriter
	n   int64
	err error
}

func (w *countingResponseWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, err
}

func (w *countingResponseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (h *trackingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.started++
	h.mu.Unlock()
	cw := &countingResponseWriter{ResponseWriter: w}
	h.next.ServeHTTP(cw, r)
	rec := handlerRecord{written: cw.n, writeErr: cw.err, ctxDone: true}
	if cw.err != nil {
		// The stream is gone: its context must end too, so that a
		// handler that waits on it (rather than writing) stops as well.
		select {
		case <-r.Context().Done():
		case <-time.After(hangGuard):
			rec.ctxDone = false
		}
	}
	h.mu.Lock()
	h.ended[r.Header.Get("X-Req-Id")] = rec
	h.mu.Unlock()
}

func (h *trackingHandler) counts() (started, ended int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.started, len(h.ended)
}

// mediaRequest is one request of the media-client simulation.
type mediaRequest struct {
	first, last int // the span asked for; last -1 means to the end ("bytes=N-")
	cancelAfter int // 0: read it all; otherwise cancel after that many bytes
}

// TestMediaClientsRangesAndCancels is many media players at once: 200
// concurrent Range requests of random spans over one 24 MiB media file, a random
// quarter of them cancelled in the middle of their body, as players do when
// they seek.
func TestMediaClientsRangesAndCancels(t *testing.T) {
	const (
		fileSize = 24 << 20
		requests = 200
		maxSpan  = 1 << 20
		// A cancelled request asks for at least this much, more than the
		// stream window and the socket buffers hold (about 5 MiB here),
		// so that its cancel reaches an origin that is still writing.
		cancelledSpan = 16 << 20
	)
	s := newSite(t)
	s.write(t, "media/long.mkv", pseudoRandom(6, fileSize))
	file := s.files["media/long.mkv"]
	track := &trackingHandler{next: siteHandler(s), ended: make(map[string]handlerRecord)}
	e := newEnv(t, &Proxy{Route: RoutePath})
	e.connect("home", track)
	tr := &http.Transport{MaxIdleConnsPerHost: requests, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr}

	rng := rand.New(rand.NewPCG(20240301, 7))
	reqs := make([]mediaRequest, requests)
	cancelled := 0
	for i := range reqs {
		if rng.IntN(4) == 0 {
			first := rng.IntN(fileSize - cancelledSpan)
			last := -1
			if rng.IntN(2) == 0 {
				last = first + cancelledSpan + rng.IntN(fileSize-first-cancelledSpan)
			}
			reqs[i] = mediaRequest{first: first, last: last, cancelAfter: 1 + rng.IntN(96<<10)}
			cancelled++
			continue
		}
		first := rng.IntN(fileSize)
		last := first + rng.IntN(min(maxSpan, fileSize-first))
		if rng.IntN(8) == 0 {
			first, last = fileSize-1-rng.IntN(maxSpan), -1 // a tail, as a player reading an index at the end
		}
		reqs[i] = mediaRequest{first: first, last: last}
	}

	var wg sync.WaitGroup
	errs := make([]error, requests)
	start := make(chan struct{})
	for i, mr := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fetchSpan(c, e.FrontURL+"/o/home/media/long.mkv", i, mr, file)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d (%+v): %v", i, reqs[i], err)
		}
	}

	// Every request ends on the proxy, including the cancelled ones, and
	// every handler on the origin returns.
	waitFor(t, "the proxy's open streams to drop to 0", func() bool { return e.p.Stats().StreamsOpen == 0 })
	waitFor(t, "every origin handler to return", func() bool {
		_, ended := track.counts()
		return ended == requests
	})
	started, _ := track.counts()
	if started != requests {
		t.Errorf("the origin served %d requests, want %d", started, requests)
	}
	cutShort := 0
	for i, mr := range reqs {
		rec, ok := track.ended[strconv.Itoa(i)]
		if !ok {
			t.Errorf("request %d: the origin has no record of it", i)
			continue
		}
		if !rec.ctxDone {
			t.Errorf("request %d: its response failed (%v) but its context did not end", i, rec.writeErr)
		}
		if mr.cancelAfter == 0 {
			if want := int64(spanLen(mr, fileSize)); rec.writeErr != nil || rec.written != want {
				t.Errorf("request %d (%+v): the origin wrote %d bytes (%v), want %d", i, mr, rec.written, rec.writeErr, want)
			}
			continue
		}
		if rec.writeErr != nil {
			cutShort++
		}
	}
	// Some cancelled request must have stopped its origin handler: its span
	// is larger than what the windows and socket buffers on the way hold.
	if cutShort == 0 {
		t.Errorf("none of the %d cancelled requests stopped its origin handler early", cancelled)
	}
	st := e.p.Stats()
	if st.Requests != requests {
		t.Errorf("Stats().Requests = %d, want %d", st.Requests, requests)
	}
	// A cancel is the client's doing, not a failure of the tunnel. Every
	// origin handler cut short had its stream reset by a proxy that saw
	// its client go; a request whose response was all on its way when the
	// client cancelled ended normally on the proxy.
	if st.Errors["response_aborted"] != 0 || st.Errors["bad_gateway"] != 0 {
		t.Errorf("errors %v: the tunnel failed", st.Errors)
	}
	if gone := st.Errors["client_gone"]; gone < uint64(cutShort) || gone > uint64(cancelled) {
		t.Errorf("client_gone = %d, want from %d (origin handlers cut short) to %d (cancelled requests)", gone, cutShort, cancelled)
	}
	t.Logf("%d requests, %d cancelled, %d of them cut the origin's response short; %d bytes to clients; errors %v",
		requests, cancelled, cutShort, st.BytesToClients, st.Errors)
}

func spanLen(mr mediaRequest, size int) int {
	if mr.last < 0 {
		return size - mr.first
	}
	return mr.last - mr.first + 1
}

// fetchSpan asks for the span of mr and checks every byte it gets against
// file; a request to be cancelled is cancelled after its first cancelAfter
// bytes, which are checked too.
func fetchSpan(c *http.Client, url string, id int, mr mediaRequest, file []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	rng := fmt.Sprintf("bytes=%d-", mr.first)
	last := len(file) - 1
	if mr.last >= 0 {
		rng += strconv.Itoa(mr.last)
		last = mr.last
	}
	req.Header.Set("Range", rng)
	req.Header.Set("User-Agent", vlcAgent)
	req.Header.Set("X-Req-Id", strconv.Itoa(id))
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	wantCR := fmt.Sprintf("bytes %d-%d/%d", mr.first, last, len(file))
	if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != wantCR {
		return fmt.Errorf("got %s, Content-Range %q; want 206, %q", resp.Status, resp.Header.Get("Content-Range"), wantCR)
	}
	want := file[mr.first : last+1]
	if mr.cancelAfter == 0 {
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			return fmt.Errorf("after %d bytes: %w", len(got), err)
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("got %d bytes, want the %d of the span, equal", len(got), len(want))
		}
		return nil
	}
	prefix := make([]byte, mr.cancelAfter)
	if _, err := io.ReadFull(resp.Body, prefix); err != nil {
		return fmt.Errorf("reading the first %d bytes: %w", len(prefix), err)
	}
	if !bytes.Equal(prefix, want[:len(prefix)]) {
		return fmt.Errorf("the first %d bytes differ from the file's", len(prefix))
	}
	cancel()
	// What is still buffered may be read, but the body must end in the
	// cancellation, not a clean end of a short body.
	n, err := io.Copy(io.Discard, resp.Body)
	if !errors.Is(err, context.Canceled) {
		if err == nil && int(n)+len(prefix) == len(want) {
			return nil // the whole span had arrived before the cancel
		}
		return fmt.Errorf("after the cancel, the body gave %d more bytes and %v, want context.Canceled", n, err)
	}
	return nil
}
