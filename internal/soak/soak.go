package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/internal/selfsigned"
	"github.com/spdygo/spdy/npn"
	"github.com/spdygo/spdy/proxy"
	"github.com/spdygo/spdy/session"
)

// config is what a run does. The zero value of a field means its default
// (see defaults).
type config struct {
	Duration time.Duration // how long the clients run
	Interval time.Duration // time between report lines
	Warmup   time.Duration // samples up to this time are not judged for growth
	Clients  int           // concurrent clients
	Origins  int           // origins, each with its own Connector
	Seed     uint64        // seed of the clients' choices
	JSON     bool          // JSON report lines instead of a table

	FileSize       int64         // bytes of each origin's movie
	ReconnectEvery time.Duration // time between disruptions of an origin's tunnel
	SPDYShare      int           // SPDY clients sharing one connection
	RequestTimeout time.Duration // hang guard of one request
	Drain          time.Duration // time requests in flight at the end may take
	MaxBackoff     time.Duration // Connector.MaxBackoff
	QuietTimeout   time.Duration // bound of the wait for the end state

	Logger     *slog.Logger // the proxy's and the connectors' records; nil: none
	ProfileDir string       // if set, heap profile and goroutine dumps go there
}

// Defaults of config.
const (
	defaultDuration       = 10 * time.Minute
	defaultInterval       = time.Minute
	defaultClients        = 24
	defaultOrigins        = 3
	defaultSeed           = 1
	defaultFileSize       = 48 << 20
	defaultReconnectEvery = 20 * time.Second
	defaultSPDYShare      = 4
	defaultRequestTimeout = 2 * time.Minute
	defaultDrain          = 30 * time.Second
	defaultMaxBackoff     = 2 * time.Second
	defaultQuietTimeout   = 15 * time.Second
	// quietSettle is how long the end state's goroutines are awaited down
	// to their number before the clients started, before the allowance
	// applies.
	quietSettle = 2 * time.Second
	// warmupFraction of the duration is the default warm-up, and at least
	// one interval.
	warmupFraction = 0.2
)

// defaults fills the zero fields of c and checks the others.
func (c *config) defaults() error {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&c.Duration, defaultDuration)
	set(&c.Interval, defaultInterval)
	set(&c.ReconnectEvery, defaultReconnectEvery)
	set(&c.RequestTimeout, defaultRequestTimeout)
	set(&c.Drain, defaultDrain)
	set(&c.MaxBackoff, defaultMaxBackoff)
	set(&c.QuietTimeout, defaultQuietTimeout)
	if c.Warmup == 0 {
		c.Warmup = max(time.Duration(float64(c.Duration)*warmupFraction), c.Interval)
	}
	if c.Clients == 0 {
		c.Clients = defaultClients
	}
	if c.Origins == 0 {
		c.Origins = defaultOrigins
	}
	if c.FileSize == 0 {
		c.FileSize = defaultFileSize
	}
	if c.SPDYShare == 0 {
		c.SPDYShare = defaultSPDYShare
	}
	switch {
	case c.Duration < 0 || c.Interval < 0 || c.Warmup < 0 || c.ReconnectEvery < 0 || c.RequestTimeout < 0 ||
		c.Drain < 0 || c.MaxBackoff < 0 || c.QuietTimeout < 0:
		return errors.New("durations must not be negative")
	case c.Clients < 1 || c.Clients > 10000:
		return fmt.Errorf("-clients %d: want 1 to 10000", c.Clients)
	case c.Origins < 1 || c.Origins > 100:
		return fmt.Errorf("-origins %d: want 1 to 100", c.Origins)
	case c.FileSize < 1<<20 || c.FileSize > 1<<34:
		return fmt.Errorf("file size %d: want 1 MiB to 16 GiB", c.FileSize)
	case c.SPDYShare < 1:
		return fmt.Errorf("SPDY clients per connection %d: want at least 1", c.SPDYShare)
	case c.Warmup >= c.Duration:
		return fmt.Errorf("-warmup %v must be shorter than -duration %v", c.Warmup, c.Duration)
	case c.Duration-c.Warmup < 2*c.Interval:
		return fmt.Errorf("-duration %v leaves fewer than 2 intervals of %v after the warm-up of %v: growth cannot be judged", c.Duration, c.Interval, c.Warmup)
	}
	return nil
}

// report is the outcome of a run.
type report struct {
	Samples    []sample          `json:"-"`
	Quiet      quiescence        `json:"quiescence"`
	Verdict    verdict           `json:"verdict"`
	Expected   map[string]uint64 `json:"expected_errors"`
	Unexpected map[string]uint64 `json:"unexpected_errors"`
	Examples   []string          `json:"unexpected_examples,omitempty"`

	Started     uint64 `json:"requests_started"`
	OK          uint64 `json:"requests_ok"`
	Cancelled   uint64 `json:"cancelled"`
	Bytes       uint64 `json:"bytes"`
	Disconnects uint64 `json:"disconnects"`
	Restarts    uint64 `json:"restarts"`
	Reconnects  uint64 `json:"reconnects"`
	// FrontSPDYSessions counts the SPDY sessions the front end served.
	FrontSPDYSessions uint64            `json:"front_spdy_sessions"`
	ProxyErrors       map[string]uint64 `json:"proxy_errors"`
	Interrupted       bool              `json:"interrupted"`
}

// origin is one origin: its Connector (restarted now and then) and the
// state the clients consult to tell a failure the disruption caused.
type origin struct {
	k            int
	name, token  string
	handler      http.Handler
	mu           sync.Mutex
	down         bool
	epoch        uint64
	conn         *proxy.Connector
	cancel       context.CancelFunc
	done         chan error
	runningSince time.Time
}

// snapshot returns what a request records when it starts.
func (o *origin) snapshot() (epoch uint64, down bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.epoch, o.down
}

// disturbed reports whether the origin was disrupted at any time since the
// snapshot (epoch, down) was taken.
func (o *origin) disturbed(epoch uint64, down bool) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return down || o.down || o.epoch != epoch
}

// setDown starts or ends a disruption. Both move the epoch, so that a
// request that saw either edge counts as disturbed.
func (o *origin) setDown(down bool) {
	o.mu.Lock()
	o.down = down
	o.epoch++
	o.mu.Unlock()
}

// sessions tracks the front end's SPDY sessions.
type sessions struct {
	mu    sync.Mutex
	live  map[*session.Session]struct{}
	total uint64
	ended uint64 // streams accepted by sessions that ended
}

func (t *sessions) add(s *session.Session) {
	t.mu.Lock()
	t.live[s] = struct{}{}
	t.total++
	t.mu.Unlock()
}

// snapshot returns the live sessions and the streams all of them accepted.
func (t *sessions) snapshot() (live int, streams uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	streams = t.ended
	for s := range t.live {
		st := s.Stats()
		select {
		case <-s.Done():
			t.ended += st.StreamsAccepted
			delete(t.live, s)
		default:
			live++
		}
		streams += st.StreamsAccepted
	}
	return live, streams
}

// soak is a running soak: the proxy, its front ends, the origins, the
// clients.
type soak struct {
	cfg config
	c   *counters

	p        *proxy.Proxy
	pool     *x509.CertPool
	pinned   *tls.Config
	tunnel   string // the tunnel endpoint's URL
	plainURL string // front end: HTTP/1.1 and SPDY (sniffed) on plain TCP
	tlsURL   string // front end: SPDY/3.1 and HTTP/1.1 by ALPN over TLS

	web, webTLS, tunnelSrv *http.Server
	spdy                   *httpadapter.Server
	serving                sync.WaitGroup
	serveErr               chan error

	front        sessions
	origins      []*origin
	originActive atomic.Int64

	// stop ends the clients' loops (no new requests); hard ends the
	// requests still in flight when the drain time is over.
	stop, hard             context.Context
	stopCancel, hardCancel context.CancelFunc

	transports []interface{ CloseIdleConnections() }
}

// run runs a soak as cfg says, writing its report to out, and returns it.
// The error is for a soak that could not start or report; the verdict is in
// the report.
func run(ctx context.Context, cfg config, out io.Writer) (*report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	s := &soak{cfg: cfg, c: newCounters(), serveErr: make(chan error, 4)}
	s.front.live = map[*session.Session]struct{}{}
	s.stop, s.stopCancel = context.WithCancel(context.Background())
	s.hard, s.hardCancel = context.WithCancel(context.Background())
	defer s.stopCancel()
	defer s.hardCancel()
	if err := s.startProxy(); err != nil {
		s.shutdown()
		return nil, err
	}
	if err := s.startOrigins(); err != nil {
		s.shutdown()
		return nil, err
	}
	rep, err := s.drive(ctx, out)
	s.shutdown()
	if err != nil {
		return nil, err
	}
	select {
	case err := <-s.serveErr:
		rep.Verdict.fail("a server stopped: %v", err)
	default:
	}
	if err := writeSummary(out, rep, cfg.JSON); err != nil {
		return rep, err
	}
	return rep, nil
}

// startProxy starts the proxy, its tunnel endpoint and both front ends on
// loopback.
func (s *soak) startProxy() error {
	cert, pool, err := selfsigned.Loopback("soak proxy")
	if err != nil {
		return fmt.Errorf("soak: certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return fmt.Errorf("soak: certificate: %w", err)
	}
	if s.pinned, err = proxy.PinnedTLSConfig(proxy.Fingerprint(leaf)); err != nil {
		return fmt.Errorf("soak: pinning: %w", err)
	}
	s.pool = pool
	reg := proxy.NewRegistry()
	for k := range s.cfg.Origins {
		o := &origin{k: k, name: fmt.Sprintf("origin-%d", k+1), token: fmt.Sprintf("soak-token-of-origin-%d-0123456789", k+1)}
		if err := reg.Add(o.name, o.token); err != nil {
			return fmt.Errorf("soak: registering %s: %w", o.name, err)
		}
		o.handler = originHandler(k, o.name, s.cfg.FileSize, &s.originActive)
		s.origins = append(s.origins, o)
	}
	s.p = &proxy.Proxy{Registry: reg, Route: proxy.RoutePath, Logger: s.cfg.Logger}
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}

	listen := func() (net.Listener, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("soak: listening: %w", err)
		}
		return ln, nil
	}
	tunnelLn, err := listen()
	if err != nil {
		return err
	}
	s.tunnelSrv = s.p.NewTunnelServer(tlsConf.Clone())
	s.tunnel = "https://" + tunnelLn.Addr().String()
	s.goServe(func() error { return s.tunnelSrv.ServeTLS(tunnelLn, "", "") })

	s.spdy = &httpadapter.Server{
		Handler: s.p,
		Logger:  s.cfg.Logger,
		BaseContext: func(sess *session.Session) context.Context {
			s.front.add(sess)
			return context.Background()
		},
	}
	plainLn, err := listen()
	if err != nil {
		return err
	}
	s.web = &http.Server{Handler: s.p, ReadHeaderTimeout: 30 * time.Second, ErrorLog: quietLog()}
	s.plainURL = "http://" + plainLn.Addr().String()
	s.goServe(func() error { return npn.ServeSniffed(plainLn, s.spdy, s.web, nil) })

	tlsLn, err := listen()
	if err != nil {
		return err
	}
	s.webTLS = &http.Server{Handler: s.p, TLSConfig: tlsConf.Clone(), ReadHeaderTimeout: 30 * time.Second, ErrorLog: quietLog()}
	if err := npn.ConfigureServer(s.webTLS, s.spdy, session.V31); err != nil {
		tlsLn.Close()
		return fmt.Errorf("soak: configuring the TLS front end: %w", err)
	}
	s.tlsURL = "https://" + tlsLn.Addr().String()
	s.goServe(func() error { return s.webTLS.ServeTLS(tlsLn, "", "") })
	return nil
}

// quietLog is the error log of the front ends: net/http logs a line for
// every connection a cancelling client cuts during a TLS handshake, which
// is expected here.
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

// goServe runs a server loop, keeping an error other than a close.
func (s *soak) goServe(serve func() error) {
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			select {
			case s.serveErr <- err:
			default:
			}
		}
	}()
}

// startOrigins starts every origin's Connector and waits for its tunnel.
func (s *soak) startOrigins() error {
	for _, o := range s.origins {
		s.startConnector(o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.QuietTimeout)
	defer cancel()
	for _, o := range s.origins {
		if err := s.p.WaitConnected(ctx, o.name, false); err != nil {
			return fmt.Errorf("soak: origin %s did not connect: %w", o.name, err)
		}
	}
	return nil
}

// startConnector starts a new Connector for o.
func (s *soak) startConnector(o *origin) {
	c := &proxy.Connector{
		ProxyURL:   s.tunnel,
		Name:       o.name,
		Token:      o.token,
		Handler:    o.handler,
		TLSConfig:  s.pinned.Clone(),
		MaxBackoff: s.cfg.MaxBackoff,
		Logger:     s.cfg.Logger,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	o.conn, o.cancel, o.done, o.runningSince = c, cancel, done, time.Now()
}

// stopConnector stops o's Connector and waits for its Run to return.
func (s *soak) stopConnector(o *origin) {
	if o.cancel == nil {
		return
	}
	o.cancel()
	if err := <-o.done; err != nil && !errors.Is(err, context.Canceled) {
		s.c.fail("connector", fmt.Sprintf("%s: Run returned %v", o.name, err))
	}
	o.cancel = nil
}

// waitTunnel waits until the proxy has a tunnel of name that completed
// its handshake after since, for at most timeout.
func (s *soak) waitTunnel(name string, since time.Time, timeout time.Duration) bool {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	end := time.After(timeout)
	for {
		for _, ts := range s.p.Stats().Tunnels {
			if ts.Origin == name && ts.Since.After(since) {
				return true
			}
		}
		select {
		case <-t.C:
		case <-end:
			return false
		}
	}
}

// chaos disrupts one origin every ReconnectEvery, in turn, until stop:
// alternately it closes the origin's tunnel at the proxy (the Connector
// dials again) and restarts the origin's Connector. A disruption lasts
// until the proxy has the origin's new tunnel.
func (s *soak) chaos() {
	t := time.NewTicker(s.cfg.ReconnectEvery)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-s.stop.Done():
			return
		case <-t.C:
		}
		o := s.origins[i%len(s.origins)]
		o.setDown(true)
		since := time.Now()
		if i%2 == 0 {
			s.p.Disconnect(o.name)
			s.c.disconnects.Add(1)
		} else {
			s.stopConnector(o)
			s.startConnector(o)
			s.c.restarts.Add(1)
		}
		if s.waitTunnel(o.name, since, s.cfg.QuietTimeout) {
			s.c.reconnects.Add(1)
			o.setDown(false)
		} else {
			s.c.fail(kindNotBack, fmt.Sprintf("%s had no new tunnel %v after its disruption", o.name, s.cfg.QuietTimeout))
			// The origin stays marked down: what fails on it is counted
			// as the disruption's, and the run has failed already.
		}
	}
}

// drive runs the clients and the chaos, samples every interval, stops
// the clients and waits for the end state.
func (s *soak) drive(ctx context.Context, out io.Writer) (*report, error) {
	cfg := s.cfg
	// A moment for the goroutines of the tunnels' handshakes to end.
	time.Sleep(100 * time.Millisecond)
	before := runtime.NumGoroutine()
	heapBefore := liveHeap()
	if cfg.ProfileDir != "" {
		s.writeProfile("goroutines-before.txt", "goroutine", 2)
		s.writeProfile("heap-before.pprof", "heap", 0)
	}

	clients := s.newClients()
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Go(cl.loop)
	}
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		s.chaos()
	}()

	if !cfg.JSON {
		if _, err := fmt.Fprintf(out, "soak: %d clients, %d origins, %d MiB movie, a disruption every %v, seed %d; %v, a line every %v, warm-up %v (w)\n%s",
			cfg.Clients, cfg.Origins, cfg.FileSize>>20, cfg.ReconnectEvery, cfg.Seed, cfg.Duration, cfg.Interval, cfg.Warmup, tableHeader); err != nil {
			s.stopCancel()
			s.hardCancel()
			wg.Wait()
			<-chaosDone
			return nil, fmt.Errorf("soak: writing the report: %w", err)
		}
	}
	rep := &report{}
	start := time.Now()
	prev := sample{}
	prevAt := start
	var werr error
	for k := 1; ; k++ {
		at := start.Add(time.Duration(k) * cfg.Interval)
		if at.After(start.Add(cfg.Duration)) {
			break
		}
		timer := time.NewTimer(time.Until(at))
		select {
		case <-ctx.Done():
			rep.Interrupted = true
		case <-timer.C:
		}
		timer.Stop()
		if rep.Interrupted {
			break
		}
		now := time.Now()
		// The warm-up is judged by the sample's scheduled time, so that a
		// sample due at its end belongs to it however late it is taken.
		smp := s.sample(now.Sub(start), now.Sub(prevAt), prev)
		smp.WarmUp = time.Duration(k)*cfg.Interval <= cfg.Warmup
		prev, prevAt = smp, now
		rep.Samples = append(rep.Samples, smp)
		if werr == nil {
			werr = writeLine(out, smp, cfg.JSON)
		}
		if cfg.ProfileDir != "" {
			// Taken just after the sample's collection: its heap figures.
			s.writeProfile(fmt.Sprintf("heap-%03d.pprof", k), "heap", 0)
		}
	}

	// Stop: no new requests; those in flight have Drain to finish.
	s.stopCancel()
	drained := make(chan struct{})
	go func() {
		wg.Wait()
		close(drained)
	}()
	drainTimer := time.NewTimer(cfg.Drain)
	select {
	case <-drained:
	case <-drainTimer.C:
		s.hardCancel()
		<-drained
	}
	drainTimer.Stop()
	<-chaosDone
	rep.Quiet = s.quiesce(before)
	rep.Quiet.HeapBefore, rep.Quiet.HeapAfter = heapBefore, liveHeap()
	if cfg.ProfileDir != "" {
		s.writeProfile("goroutines.txt", "goroutine", 2)
		s.writeProfile("heap-end.pprof", "heap", 0)
	}

	expected, unexpected := s.c.errorCounts()
	s.c.mu.Lock()
	rep.Examples = append([]string(nil), s.c.examples...)
	s.c.mu.Unlock()
	rep.Expected, rep.Unexpected = expected, unexpected
	rep.Started, rep.OK, rep.Cancelled, rep.Bytes = s.c.started.Load(), s.c.ok.Load(), s.c.cancelled.Load(), s.c.bytes.Load()
	rep.Disconnects, rep.Restarts, rep.Reconnects = s.c.disconnects.Load(), s.c.restarts.Load(), s.c.reconnects.Load()
	s.front.mu.Lock()
	rep.FrontSPDYSessions = s.front.total
	s.front.mu.Unlock()
	rep.ProxyErrors = maps.Clone(s.p.Stats().Errors)
	rep.Verdict = judge(rep.Samples, cfg.Clients, unexpected, rep.Examples, rep.Quiet)
	if rep.Interrupted {
		rep.Verdict.fail("interrupted after %d of %d intervals", len(rep.Samples), int(cfg.Duration/cfg.Interval))
	}
	if werr != nil {
		return rep, fmt.Errorf("soak: writing the report: %w", werr)
	}
	return rep, nil
}

// sample measures the state at elapsed, dt after prev.
func (s *soak) sample(elapsed, dt time.Duration, prev sample) sample {
	rss, inuse, alloc := memory()
	st := s.p.Stats()
	live, fstreams := s.front.snapshot()
	var tstreams uint64
	for _, t := range st.Tunnels {
		tstreams += t.Session.StreamsOpened
	}
	exp, unexp := s.c.errorCounts()
	smp := sample{
		Elapsed:       elapsed,
		ElapsedS:      elapsed.Seconds(),
		RSS:           rss,
		HeapInuse:     inuse,
		HeapAlloc:     alloc,
		Goroutines:    runtime.NumGoroutine(),
		ProxyStreams:  st.StreamsOpen,
		OriginActive:  s.originActive.Load(),
		ClientActive:  s.c.active.Load(),
		FrontSessions: live,
		FrontStreams:  fstreams,
		Tunnels:       st.OriginsConnected,
		TunnelStreams: tstreams,
		Started:       s.c.started.Load(),
		OK:            s.c.ok.Load(),
		Cancelled:     s.c.cancelled.Load(),
		Expected:      exp,
		Unexpected:    unexp,
		Disconnects:   s.c.disconnects.Load(),
		Restarts:      s.c.restarts.Load(),
		Reconnects:    s.c.reconnects.Load(),
		ProxyErrors:   maps.Clone(st.Errors),
		Bytes:         s.c.bytes.Load(),
	}
	if secs := dt.Seconds(); secs > 0 {
		smp.MBps = float64(smp.Bytes-prev.Bytes) / 1e6 / secs
		done := smp.OK + smp.Cancelled - prev.OK - prev.Cancelled
		smp.ReqPerSec = float64(done) / secs
	}
	return smp
}

// quiesce closes the clients' idle connections and waits, for at most
// QuietTimeout, until the goroutines are back to about their number before
// the clients started and nothing is open.
func (s *soak) quiesce(before int) quiescence {
	for _, t := range s.transports {
		t.CloseIdleConnections()
	}
	q := quiescence{GoroutinesBefore: before}
	start := time.Now()
	for {
		q.GoroutinesAfter = runtime.NumGoroutine()
		q.ProxyStreams = s.p.Stats().StreamsOpen
		q.OriginActive = s.originActive.Load()
		q.FrontSessions, _ = s.front.snapshot()
		closed := q.ProxyStreams == 0 && q.OriginActive == 0 && q.FrontSessions == 0
		q.Reached = closed && q.GoroutinesAfter <= before+quietAllowance
		// The exact number is awaited for a while, so that the report
		// shows what remains rather than what was still ending.
		waited := time.Since(start)
		if (closed && q.GoroutinesAfter <= before) || (q.Reached && waited > quietSettle) || waited > s.cfg.QuietTimeout {
			return q
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeProfile writes the named runtime profile into the profile directory.
func (s *soak) writeProfile(file, name string, debug int) {
	f, err := os.Create(filepath.Join(s.cfg.ProfileDir, file))
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup(name).WriteTo(f, debug); err != nil {
		fmt.Fprintf(os.Stderr, "soak: writing %s: %v\n", file, err)
	}
}

// shutdown stops everything the soak started and waits for it.
func (s *soak) shutdown() {
	s.stopCancel()
	s.hardCancel()
	for _, t := range s.transports {
		t.CloseIdleConnections()
	}
	for _, o := range s.origins {
		s.stopConnector(o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, hs := range []*http.Server{s.web, s.webTLS} {
		if hs != nil {
			if err := hs.Shutdown(ctx); err != nil {
				hs.Close()
			}
		}
	}
	if s.spdy != nil {
		s.spdy.Close()
	}
	if s.tunnelSrv != nil {
		s.tunnelSrv.Close()
	}
	if s.p != nil {
		s.p.Close()
	}
	s.serving.Wait()
}

// writeSummary writes the totals and the verdict.
func writeSummary(w io.Writer, rep *report, asJSON bool) error {
	if asJSON {
		js, err := json.Marshal(struct {
			Summary *report `json:"summary"`
		}{rep})
		if err != nil {
			return fmt.Errorf("soak: encoding the summary: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", js)
		return err
	}
	var err error
	p := func(format string, a ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, a...)
		}
	}
	p("requests: %d started, %d ok, %d cancelled by their clients; %.1f GB read\n", rep.Started, rep.OK, rep.Cancelled, float64(rep.Bytes)/1e9)
	p("disruptions: %d disconnects, %d connector restarts, %d reconnections; %d front-end SPDY sessions\n", rep.Disconnects, rep.Restarts, rep.Reconnects, rep.FrontSPDYSessions)
	p("expected errors: %s\n", kinds(rep.Expected))
	p("unexpected errors: %s\n", kinds(rep.Unexpected))
	p("proxy errors: %s\n", kinds(rep.ProxyErrors))
	for _, n := range rep.Verdict.Notes {
		p("%s\n", n)
	}
	if rep.Verdict.Pass {
		p("PASS\n")
	} else {
		p("FAIL\n")
		for _, r := range rep.Verdict.Reasons {
			p("  %s\n", r)
		}
	}
	return err
}
