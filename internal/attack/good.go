package attack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spdygo/spdy/httpadapter"
)

// GoodClient is a well-behaved SPDY client (an httpadapter.Transport on a
// connection of its own) that requests the target's small resource and
// ranges of its large one in a loop and checks every answer byte for byte,
// to show that the server keeps serving others while an attack runs.
type GoodClient struct {
	// Target is the server.
	Target *Target
	// Small and Large are the expected bodies of Target.SmallPath and
	// Target.LargePath. When nil, the first answer is the reference: the
	// whole small resource, and the first MiB of the large one.
	Small, Large []byte
	// Interval is the pause between two requests; 0 means 5 ms.
	Interval time.Duration

	tr     *httpadapter.Transport
	small  []byte
	large  []byte
	cancel context.CancelFunc
	done   chan struct{}
	ok     atomic.Int64
	failed atomic.Int64
	mu     sync.Mutex
	errs   []string
}

// GoodStats counts the good client's requests.
type GoodStats struct {
	OK     int64 `json:"ok"`
	Failed int64 `json:"failed"`
	// Errors are the first few failures.
	Errors []string `json:"errors,omitempty"`
}

// maxGoodErrors is how many failures GoodStats keeps.
const maxGoodErrors = 5

// goodRequestTimeout bounds one request of the good client.
const goodRequestTimeout = 30 * time.Second

// referenceLarge is how much of the large resource is the reference when
// GoodClient.Large is nil.
const referenceLarge = 1 << 20

// Start fetches the references (when Small or Large is nil) and starts
// the loop. It fails when the target does not serve the resources.
func (g *GoodClient) Start(ctx context.Context) error {
	g.tr = &httpadapter.Transport{DisableCompression: true}
	if g.Target.TLS != nil {
		g.tr.TLSClientConfig = g.Target.TLS.Clone()
	}
	g.small = g.Small
	if g.small == nil {
		b, _, err := g.get(ctx, g.Target.small(), "")
		if err != nil {
			g.tr.CloseIdleConnections()
			return fmt.Errorf("good client: reference of %s: %w", g.Target.small(), err)
		}
		g.small = b
	}
	g.large = g.Large
	if g.large == nil {
		b, _, err := g.get(ctx, g.Target.large(), fmt.Sprintf("bytes=0-%d", referenceLarge-1))
		if err != nil {
			g.tr.CloseIdleConnections()
			return fmt.Errorf("good client: reference of %s: %w", g.Target.large(), err)
		}
		g.large = b
	}
	if len(g.large) < 2 {
		g.tr.CloseIdleConnections()
		return fmt.Errorf("good client: %s is too small for ranges", g.Target.large())
	}
	lctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	g.done = make(chan struct{})
	go g.loop(lctx)
	return nil
}

func (g *GoodClient) loop(ctx context.Context) {
	defer close(g.done)
	interval := g.Interval
	if interval <= 0 {
		interval = 5 * time.Millisecond
	}
	t := time.NewTimer(interval)
	defer t.Stop()
	for i := 0; ; i++ {
		err := g.once(ctx, i)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			g.failed.Add(1)
			g.mu.Lock()
			if len(g.errs) < maxGoodErrors {
				g.errs = append(g.errs, err.Error())
			}
			g.mu.Unlock()
		} else {
			g.ok.Add(1)
		}
		t.Reset(interval)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// once makes request i: the small resource, or a range of the large one.
func (g *GoodClient) once(ctx context.Context, i int) error {
	if i%2 == 0 {
		b, _, err := g.get(ctx, g.Target.small(), "")
		if err != nil {
			return err
		}
		if !bytes.Equal(b, g.small) {
			return fmt.Errorf("GET %s: %d bytes differ from the %d expected", g.Target.small(), len(b), len(g.small))
		}
		return nil
	}
	n := min(64<<10, len(g.large)/2)
	off := (i / 2 * 7919 * 1021) % (len(g.large) - n)
	rng := fmt.Sprintf("bytes=%d-%d", off, off+n-1)
	b, _, err := g.get(ctx, g.Target.large(), rng)
	if err != nil {
		return err
	}
	if !bytes.Equal(b, g.large[off:off+n]) {
		return fmt.Errorf("GET %s %s: the body differs from the reference", g.Target.large(), rng)
	}
	return nil
}

// get fetches path, with a Range header when rng is set (then the answer
// must be 206), and returns the body.
func (g *GoodClient) get(ctx context.Context, path, rng string) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(ctx, goodRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.Target.scheme()+"://"+g.Target.Addr+path, nil)
	if err != nil {
		return nil, 0, err
	}
	if g.Target.Host != "" {
		req.Host = g.Target.Host
	}
	want := http.StatusOK
	if rng != "" {
		req.Header.Set("Range", rng)
		want = http.StatusPartialContent
	}
	resp, err := g.tr.RoundTrip(req)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: body: %w", path, err)
	}
	if resp.StatusCode != want {
		return nil, resp.StatusCode, fmt.Errorf("GET %s %s: status %d, want %d", path, rng, resp.StatusCode, want)
	}
	if cl := resp.Header.Get("Content-Length"); cl != "" {
		if n, err := strconv.Atoi(cl); err == nil && n != len(b) {
			return nil, resp.StatusCode, fmt.Errorf("GET %s: %d bytes, Content-Length %d", path, len(b), n)
		}
	}
	return b, resp.StatusCode, nil
}

// Stats returns the counts so far.
func (g *GoodClient) Stats() GoodStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return GoodStats{OK: g.ok.Load(), Failed: g.failed.Load(), Errors: append([]string(nil), g.errs...)}
}

// WaitOK waits until n requests succeeded in all, or ctx ends.
func (g *GoodClient) WaitOK(ctx context.Context, n int64) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for g.ok.Load() < n {
		select {
		case <-ctx.Done():
			st := g.Stats()
			return fmt.Errorf("good client: %d requests succeeded, waited for %d (%d failed %q): %w", st.OK, n, st.Failed, st.Errors, ctx.Err())
		case <-g.done:
			return errors.New("good client: stopped")
		case <-t.C:
		}
	}
	return nil
}

// Stop ends the loop, closes the client's connections and returns the
// counts.
func (g *GoodClient) Stop() GoodStats {
	if g.cancel != nil {
		g.cancel()
		<-g.done
	}
	g.tr.CloseIdleConnections()
	return g.Stats()
}

// Sub returns the counts of s minus those of before, with the errors
// that came after.
func (s GoodStats) Sub(before GoodStats) GoodStats {
	d := GoodStats{OK: s.OK - before.OK, Failed: s.Failed - before.Failed}
	if len(s.Errors) > len(before.Errors) {
		d.Errors = s.Errors[len(before.Errors):]
	}
	return d
}
