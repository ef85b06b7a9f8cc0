package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/session"
	"github.com/spdygo/spdy/stream"
)

// Route says how the front end finds the origin of a request.
type Route int

const (
	// RouteHost routes by host name: a request for NAME.Domain goes to the
	// origin NAME. The path is passed on unchanged.
	RouteHost Route = iota
	// RoutePath routes by path prefix: /o/NAME/rest goes to the origin
	// NAME as /rest (PathPrefix is "/o/" by default).
	RoutePath
)

// String returns "host" or "path".
func (r Route) String() string {
	switch r {
	case RouteHost:
		return "host"
	case RoutePath:
		return "path"
	}
	return "Route(" + strconv.Itoa(int(r)) + ")"
}

// ParseRoute parses "host" or "path".
func ParseRoute(s string) (Route, error) {
	switch s {
	case "host":
		return RouteHost, nil
	case "path":
		return RoutePath, nil
	}
	return 0, fmt.Errorf("proxy: unknown route %q (want host or path)", s)
}

// Defaults of Proxy.
const (
	DefaultPathPrefix       = "/o/"
	DefaultPingInterval     = 15 * time.Second
	DefaultPingTimeout      = 10 * time.Second
	DefaultReplaceGrace     = 5 * time.Minute
	DefaultStallTimeout     = 5 * time.Minute
	DefaultAuthFailureBurst = 10
	DefaultAuthFailureEvery = 6 * time.Second
	// DefaultTunnelMaxWindow caps the growth of each proxied stream's
	// receive window on the proxy (session.Config.MaxWindowSize), so that
	// what the proxy may hold for a client that stops reading is bounded
	// per request. 1 MiB fills 160 Mbit/s at a 50 ms round trip.
	DefaultTunnelMaxWindow = 1 << 20
	// DefaultTunnelFloodLimit and DefaultTunnelFloodRate are the flood
	// bucket of tunnel sessions (session.Config.FloodLimit, FloodRate),
	// ten times a session's defaults: a tunnel carries the cancels of
	// every client of its origin, and both its ends are authenticated.
	DefaultTunnelFloodLimit = 10 * session.DefaultFloodLimit
	DefaultTunnelFloodRate  = 10 * session.DefaultFloodRate
)

// tunnelFlood fills in the tunnel defaults of the flood bucket.
func tunnelFlood(cfg *session.Config) {
	if cfg.FloodLimit == 0 {
		cfg.FloodLimit = DefaultTunnelFloodLimit
	}
	if cfg.FloodRate == 0 {
		cfg.FloodRate = DefaultTunnelFloodRate
	}
}

// TunnelProtocol is the subprotocol of the tunnel handshake, sent in
// X-Stream-Protocol-Version.
const TunnelProtocol = "spdyproxy-tunnel/1"

// Header names of the tunnel handshake. The token travels as
// "Authorization: Bearer TOKEN".
const (
	HeaderOrigin = "Spdyproxy-Origin"
)

// ErrProxyClosed is returned by the Proxy's methods after Close or
// Shutdown.
var ErrProxyClosed = errors.New("proxy: closed")

// Proxy is the public side of the reverse-connection proxy: it takes
// tunnels from origins (TunnelHandler) and carries client requests to them
// (ServeHTTP). The zero value is not usable: Registry must be set. Fields
// must not change once the Proxy serves.
type Proxy struct {
	// Registry holds the origins allowed to connect, with their tokens.
	Registry *Registry

	// Route selects host-name or path-prefix routing.
	Route Route
	// Domain is the parent domain of RouteHost: a request whose host is
	// NAME.Domain (port ignored, case ignored) goes to NAME. Empty means
	// the first label of any host names the origin.
	Domain string
	// PathPrefix is the prefix of RoutePath, with its slashes; default
	// "/o/". It is stripped, with the name, before the request goes on.
	PathPrefix string

	// TrustForwarded keeps the Forwarded and X-Forwarded-* headers a
	// client sent, appending to them; by default they are removed and
	// replaced, since the front end is the edge that sees the client.
	TrustForwarded bool

	// Session configures the tunnel sessions, in which the proxy is the
	// SPDY client. Version is always SPDY/3.1. nil means the defaults of
	// session.Config, except that a zero MaxWindowSize is
	// DefaultTunnelMaxWindow, zero FloodLimit and FloodRate are
	// DefaultTunnelFloodLimit and DefaultTunnelFloodRate, and OpenFailsAtLimit is always set: a request
	// beyond the origin's MAX_CONCURRENT_STREAMS is answered 503 at once.
	Session *session.Config
	// PingInterval is the time between the pings that measure a tunnel's
	// round trip and prove it alive; default DefaultPingInterval, negative
	// means none.
	PingInterval time.Duration
	// PingTimeout closes a tunnel whose ping is not answered in time;
	// default DefaultPingTimeout.
	PingTimeout time.Duration
	// ReplaceGrace is how long requests in flight on a tunnel that was
	// replaced (its origin reconnected) or that the proxy is shutting down
	// may go on; default DefaultReplaceGrace.
	ReplaceGrace time.Duration
	// StallTimeout ends a proxied request on which no body byte has moved
	// in either direction for that long: a client that stopped reading or
	// sending, or an origin that neither reads the upload nor answers. The
	// stream to the origin is reset and the client's connection (or
	// stream) is cut, so neither side holds resources forever. Default
	// DefaultStallTimeout; negative means none.
	StallTimeout time.Duration
	// OriginWait, if positive, is how long a request for a registered
	// origin that is not connected waits for it before the 503 answer.
	// Default 0: the answer is immediate.
	OriginWait time.Duration

	// AuthFailureBurst and AuthFailureEvery limit failed tunnel
	// handshakes per source IP address: AuthFailureBurst failures at once,
	// then one per AuthFailureEvery. A source over its budget is answered
	// 429 without its credentials being checked. Defaults 10 and 6 s.
	AuthFailureBurst int
	AuthFailureEvery time.Duration
	// AllowPlainTunnels accepts tunnels over connections without TLS (for
	// a proxy behind a TLS-terminating load balancer). Default false: such
	// a handshake is answered 403.
	AllowPlainTunnels bool

	// Logger receives structured records: tunnels up and down, failed
	// handshakes, failed requests. nil means none.
	Logger *slog.Logger

	initOnce sync.Once
	domain   string // Domain, lower-case, without a final dot
	limiter  *failureLimiter
	tr       *httpadapter.Transport
	m        metrics

	mu       sync.Mutex
	tunnels  map[string]*tunnel
	old      map[*tunnel]struct{} // replaced tunnels still draining
	changed  chan struct{}        // closed and replaced at every change of tunnels
	closed   bool
	nextID   uint64
	watchers sync.WaitGroup
}

// tunnel is one origin's connection.
type tunnel struct {
	name   string
	id     uint64
	cc     *httpadapter.ClientConn
	remote string
	since  time.Time
	rtt    atomic.Int64 // nanoseconds; 0 before the first ping
	done   chan struct{}
}

func (p *Proxy) init() {
	p.initOnce.Do(func() {
		burst := p.AuthFailureBurst
		if burst <= 0 {
			burst = DefaultAuthFailureBurst
		}
		every := p.AuthFailureEvery
		if every <= 0 {
			every = DefaultAuthFailureEvery
		}
		p.limiter = newFailureLimiter(burst, every)
		p.domain = strings.ToLower(strings.TrimSuffix(p.Domain, "."))
		cfg := session.Config{}
		if p.Session != nil {
			cfg = *p.Session
		}
		cfg.Version = session.V31
		cfg.OpenFailsAtLimit = true // a busy origin is answered 503, not waited for
		if cfg.MaxWindowSize == 0 && cfg.InitialWindowSize <= DefaultTunnelMaxWindow {
			cfg.MaxWindowSize = DefaultTunnelMaxWindow
		}
		tunnelFlood(&cfg)
		if cfg.Logger == nil {
			cfg.Logger = p.Logger
		}
		p.tr = &httpadapter.Transport{
			Version:            session.V31,
			Session:            &cfg,
			DisableCompression: true, // bodies pass through untouched
			IdleConnTimeout:    -1,   // a tunnel idles as long as it likes
			MaxRetries:         -1,
		}
		p.tunnels = make(map[string]*tunnel)
		p.old = make(map[*tunnel]struct{})
		p.changed = make(chan struct{})
	})
}

func (p *Proxy) log() *slog.Logger {
	if p.Logger == nil {
		return discardLogger
	}
	return p.Logger
}

var discardLogger = slog.New(slog.DiscardHandler)

func (p *Proxy) pathPrefix() string {
	if p.PathPrefix == "" {
		return DefaultPathPrefix
	}
	return p.PathPrefix
}

func (p *Proxy) replaceGrace() time.Duration {
	if p.ReplaceGrace <= 0 {
		return DefaultReplaceGrace
	}
	return p.ReplaceGrace
}

// route finds the origin of r and the path to send it, with ok false when
// r does not name one.
func (p *Proxy) route(r *http.Request) (name, path, rawPath string, ok bool) {
	p.init() // p.domain
	switch p.Route {
	case RoutePath:
		prefix := p.pathPrefix()
		rest, found := strings.CutPrefix(r.URL.Path, prefix)
		if !found {
			return "", "", "", false
		}
		name, tail, _ := strings.Cut(rest, "/")
		path = "/" + tail
		if r.URL.RawPath != "" {
			if raw, found := strings.CutPrefix(r.URL.RawPath, prefix); found {
				if _, rtail, ok := strings.Cut(raw, "/"); ok {
					rawPath = "/" + rtail
				} else {
					rawPath = "/"
				}
			}
		}
		return name, path, rawPath, ValidName(name)
	default:
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.ToLower(host), ".")
		label, parent, found := strings.Cut(host, ".")
		if !found || (p.domain != "" && parent != p.domain) {
			return "", "", "", false
		}
		return label, r.URL.Path, r.URL.RawPath, ValidName(label)
	}
}

// current returns the connected tunnel of name, or nil, with the channel
// that is closed at the next change.
func (p *Proxy) current(name string) (*tunnel, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tunnels[name], p.changed
}

// tunnelFor returns the tunnel of name, waiting up to OriginWait (and no
// longer than ctx) for one to connect.
func (p *Proxy) tunnelFor(ctx context.Context, name string) *tunnel {
	t, changed := p.current(name)
	if t != nil || p.OriginWait <= 0 {
		return t
	}
	timer := time.NewTimer(p.OriginWait)
	defer timer.Stop()
	for t == nil {
		select {
		case <-changed:
		case <-timer.C:
			return nil
		case <-ctx.Done():
			return nil
		}
		t, changed = p.current(name)
	}
	return t
}

// ServeHTTP is the front end: it sends r to its origin through the
// origin's tunnel and copies the response back as it arrives.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.init()
	p.m.requests.Add(1)
	name, path, rawPath, ok := p.route(r)
	if !ok || !p.Registry.Known(name) {
		p.m.err(errUnknownOrigin)
		http.Error(w, "unknown origin", http.StatusNotFound)
		return
	}
	t := p.tunnelFor(r.Context(), name)
	if t == nil {
		p.m.err(errNotConnected)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "origin "+name+" is not connected", http.StatusServiceUnavailable)
		return
	}

	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	out := r.Clone(ctx)
	// Clone copies r.Trailer, whose values the body fills only at its
	// end: share r's map so that they reach the origin.
	out.Trailer = r.Trailer
	out.URL.Path, out.URL.RawPath = path, rawPath
	out.URL.Scheme = "https"
	if r.TLS == nil {
		out.URL.Scheme = "http"
	}
	out.URL.Host = r.Host
	p.setForwarded(out, r, name)

	p.m.streams.Add(1)
	defer p.m.streams.Add(-1)
	ex := &exchange{}
	watch := p.watchStall(&ex.watch, w, cancel)
	defer watch.stop()
	ex.cw = countingWriter{ResponseWriter: w, n: &p.m.bytesToClients, p: &p.m, watch: watch}
	if out.Body != nil && out.Body != http.NoBody {
		ex.body = countingBody{ReadCloser: out.Body, n: &p.m.bytesFromClients, watch: watch}
		out.Body = &ex.body
		if watch != nil {
			watch.reading.Store(true)
		}
	}
	ex.rt = retryRoundTripper{p: p, name: name, first: t}
	err := proxyRequest(&ex.rt, &ex.cw, out)
	if err == nil {
		return
	}
	switch k, _ := ex.cw.clientSideEnd(r); k {
	case errStalled:
		p.m.err(errStalled)
		p.log().Warn("proxy: request stalled; ended", "origin", name, "method", r.Method, "path", path, "after", p.stallTimeout())
		http.Error(w, "gateway timeout: origin "+name+" made no progress", http.StatusGatewayTimeout)
		return
	case errClientGone:
		p.m.err(errClientGone)
		// Nothing was written. Returning would let the server answer
		// for us with a complete-looking 200 and an empty body, which a
		// client that only half-closed its connection would read as
		// the origin's response: abort it instead.
		panic(http.ErrAbortHandler)
	}
	if errors.Is(err, session.ErrStreamLimit) {
		p.m.err(errOriginBusy)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "origin "+name+" is busy: too many requests at once", http.StatusServiceUnavailable)
		return
	}
	p.m.err(errBadGateway)
	p.log().Warn("proxy: request failed", "origin", name, "method", r.Method, "path", path, "err", err)
	http.Error(w, "bad gateway: origin "+name+": "+err.Error(), http.StatusBadGateway)
}

func (p *Proxy) stallTimeout() time.Duration {
	if p.StallTimeout == 0 {
		return DefaultStallTimeout
	}
	return p.StallTimeout
}

// exchange holds what one proxied request needs beside the request, in
// one allocation.
type exchange struct {
	watch stallWatch
	cw    countingWriter
	body  countingBody
	rt    retryRoundTripper
}

// errStalledRequest is the cause of a request context ended by the stall
// watch.
var errStalledRequest = errors.New("proxy: no progress within the stall timeout")

// stallWatch ends a request whose bodies stop moving. Progress is one
// atomic store; the timer, armed once, checks it when it fires and arms
// itself again for what is left.
type stallWatch struct {
	d      time.Duration
	last   atomic.Int64 // unix nanoseconds of the last progress
	timer  *time.Timer
	done   atomic.Bool // fired
	w      http.ResponseWriter
	cancel context.CancelCauseFunc

	writing atomic.Bool // a write to the client has begun
	reading atomic.Bool // the request body is being read and has not ended

	mu      sync.Mutex // orders check's use of w before stop's return
	stopped bool
}

// watchStall arms s for w, or returns nil when StallTimeout is negative.
func (p *Proxy) watchStall(s *stallWatch, w http.ResponseWriter, cancel context.CancelCauseFunc) *stallWatch {
	d := p.stallTimeout()
	if d < 0 {
		return nil
	}
	s.d, s.w, s.cancel = d, w, cancel
	s.last.Store(time.Now().UnixNano())
	s.timer = time.AfterFunc(d, s.check)
	return s
}

func (s *stallWatch) check() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	idle := time.Duration(time.Now().UnixNano() - s.last.Load())
	if idle < s.d {
		s.timer.Reset(s.d - idle)
		return
	}
	s.done.Store(true)
	s.cancel(errStalledRequest)
	// Unblock a write to (or read from) a client that stopped taking
	// (or sending) bytes; errors mean the writer cannot, and it is then
	// cut by the cancelled stream alone.
	rc := http.NewResponseController(s.w)
	now := time.Now()
	if s.writing.Load() {
		_ = rc.SetWriteDeadline(now)
	}
	if s.reading.Load() {
		_ = rc.SetReadDeadline(now)
	}
}

// progress records that a body moved.
func (s *stallWatch) progress() {
	if s != nil {
		s.last.Store(time.Now().UnixNano())
	}
}

func (s *stallWatch) fired() bool { return s != nil && s.done.Load() }

// stop disarms the watch; once it returns, w is not used any more.
func (s *stallWatch) stop() {
	if s != nil {
		s.mu.Lock()
		s.stopped = true
		s.timer.Stop()
		s.mu.Unlock()
	}
}

// clientSideEnd tells why a proxied request failed when the cause was not
// the tunnel: errStalled (the stall watch ended it) or errClientGone (the
// client went away: its context ended or a write to it failed); ok is
// false otherwise.
func (w *countingWriter) clientSideEnd(r *http.Request) (k errKind, ok bool) {
	switch {
	case w.watch.fired():
		return errStalled, true
	case r.Context().Err() != nil || w.writeFailed:
		return errClientGone, true
	}
	return 0, false
}

// proxyRequest runs httpadapter.ProxyRequest, counting an aborted
// response: as the client's doing (clientSideEnd) or else as the tunnel's.
func proxyRequest(rt http.RoundTripper, w *countingWriter, r *http.Request) error {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				if k, ok := w.clientSideEnd(r); ok {
					w.p.err(k)
				} else {
					w.p.err(errAborted)
				}
			}
			panic(v)
		}
	}()
	return httpadapter.ProxyRequest(rt, w, r)
}

// retryRoundTripper sends a request on its origin's tunnel, and once more
// on the origin's new tunnel when the first one proved it unprocessed (it
// was going away because the origin reconnected) and the request has no
// body to send again.
type retryRoundTripper struct {
	p     *Proxy
	name  string
	first *tunnel
}

func (rt *retryRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	t := rt.first
	for attempt := 0; ; attempt++ {
		resp, err := t.cc.RoundTrip(req)
		if err == nil || attempt > 0 || !unprocessed(err) || (req.Body != nil && req.Body != http.NoBody) {
			return resp, err
		}
		next, _ := rt.p.current(rt.name)
		if next == nil || next == t {
			return nil, err
		}
		t = next
	}
}

func unprocessed(err error) bool {
	return errors.Is(err, session.ErrNotProcessed) || errors.Is(err, stream.ErrUnprocessed) ||
		errors.Is(err, httpadapter.ErrClientConnUnusable)
}

// forwardedHeaders are removed from incoming requests unless
// TrustForwarded is set.
var forwardedHeaders = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip"}

// setForwarded adds Forwarded (RFC 7239) and X-Forwarded-For, -Host and
// -Proto (and -Prefix for path routing) to out, which r, routed to the
// origin name, is the original of.
func (p *Proxy) setForwarded(out, r *http.Request, name string) {
	if !p.TrustForwarded {
		for _, h := range forwardedHeaders {
			out.Header.Del(h)
		}
	}
	ip := r.RemoteAddr
	if h, _, err := net.SplitHostPort(ip); err == nil {
		ip = h
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	forIP := ip
	if strings.Contains(ip, ":") {
		forIP = `"[` + ip + `]"`
	}
	elem := "for=" + forIP + ";host=" + quoteForwarded(r.Host) + ";proto=" + proto
	if prior := out.Header.Values("Forwarded"); len(prior) > 0 {
		elem = strings.Join(prior, ", ") + ", " + elem
	}
	out.Header.Set("Forwarded", elem)
	if prior := out.Header.Values("X-Forwarded-For"); len(prior) > 0 {
		ip = strings.Join(prior, ", ") + ", " + ip
	}
	out.Header.Set("X-Forwarded-For", ip)
	if out.Header.Get("X-Forwarded-Host") == "" {
		out.Header.Set("X-Forwarded-Host", r.Host)
	}
	if out.Header.Get("X-Forwarded-Proto") == "" {
		out.Header.Set("X-Forwarded-Proto", proto)
	}
	if p.Route == RoutePath {
		out.Header.Set("X-Forwarded-Prefix", p.pathPrefix()+name)
	}
}

// quoteForwarded returns v as a Forwarded token, quoted when it is not one.
func quoteForwarded(v string) string {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return strconv.Quote(v)
		}
	}
	return v
}

// Connected reports whether the origin name has a tunnel.
func (p *Proxy) Connected(name string) bool {
	p.init()
	t, _ := p.current(name)
	return t != nil
}

// WaitConnected waits until the origin name has a tunnel other than the
// ones connected before the call, or ctx ends. With fresh false any tunnel
// will do, including one connected already.
func (p *Proxy) WaitConnected(ctx context.Context, name string, fresh bool) error {
	p.init()
	t0, changed := p.current(name)
	if t0 != nil && !fresh {
		return nil
	}
	for {
		p.mu.Lock()
		closed := p.closed
		p.mu.Unlock()
		if closed {
			return ErrProxyClosed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
		var t *tunnel
		t, changed = p.current(name)
		if t != nil && t != t0 {
			return nil
		}
	}
}

// Disconnect closes the tunnel of name, if any, at once. Requests on it
// fail.
func (p *Proxy) Disconnect(name string) {
	p.init()
	t, _ := p.current(name)
	if t != nil {
		t.cc.Close()
	}
}

// Shutdown stops taking tunnels, sends GOAWAY on every tunnel so that no
// new request starts on it, and waits for the requests in flight to finish
// or ctx to end, when it closes the tunnels that are left. Stop the front
// end's http.Server (its own Shutdown) first, so that no client request
// arrives meanwhile.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.init()
	all := p.closeRegistry()
	var wg sync.WaitGroup
	errs := make([]error, len(all))
	for i, t := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = t.cc.Shutdown(ctx)
			if errs[i] != nil {
				t.cc.Close()
			}
		}()
	}
	wg.Wait()
	p.watchers.Wait()
	return errors.Join(errs...)
}

// closeRegistry marks the proxy closed, wakes the waiters, and returns
// every tunnel, current and draining.
func (p *Proxy) closeRegistry() []*tunnel {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.notifyLocked()
	all := make([]*tunnel, 0, len(p.tunnels)+len(p.old))
	for _, t := range p.tunnels {
		all = append(all, t)
	}
	for t := range p.old {
		all = append(all, t)
	}
	return all
}

// Close closes every tunnel at once and stops taking new ones.
func (p *Proxy) Close() error {
	p.init()
	all := p.closeRegistry()
	for _, t := range all {
		t.cc.Close()
	}
	p.watchers.Wait()
	return nil
}

// countingWriter counts the body bytes written to the client. It keeps
// the ResponseWriter's optional interfaces reachable through Unwrap.
type countingWriter struct {
	http.ResponseWriter
	n           *atomic.Int64
	p           *metrics
	writeFailed bool // a write to the client failed: it went away
	watch       *stallWatch
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if w.watch != nil {
		w.watch.writing.Store(true)
	}
	n, err := w.ResponseWriter.Write(b)
	w.n.Add(int64(n))
	w.watch.progress()
	if err != nil {
		w.writeFailed = true
	}
	return n, err
}

// Flush flushes the underlying writer when it can.
func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap returns the underlying ResponseWriter for http.ResponseController.
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type countingBody struct {
	io.ReadCloser
	n     *atomic.Int64
	watch *stallWatch
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	if n > 0 {
		b.watch.progress()
	}
	if err != nil && b.watch != nil {
		b.watch.reading.Store(false)
	}
	return n, err
}
