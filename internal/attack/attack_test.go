package attack

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/internal/selfsigned"
	"github.com/spdygo/spdy/npn"
	"github.com/spdygo/spdy/proxy"
	"github.com/spdygo/spdy/session"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hangGuard bounds anything that could hang; it is not a timing
// assertion.
const hangGuard = 60 * time.Second

// The resources of the test servers.
var (
	smallBody = bytes.Repeat([]byte("<p>a small page served to the good client and the attackers</p>\n"), 32)
	largeBody = func() []byte {
		b := make([]byte, 4<<20)
		rand.NewChaCha8([32]byte{1}).Read(b)
		return b
	}()
)

func testHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write(smallBody)
	})
	mux.HandleFunc("/large", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "large.bin", time.Time{}, bytes.NewReader(largeBody))
	})
	return mux
}

// startServer serves testHandler with an httpadapter.Server over plain TCP
// (prior knowledge) on loopback.
func startServer(t *testing.T, cfg *session.Config) *Target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httpadapter.Server{Handler: testHandler(), Session: cfg}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return &Target{Addr: ln.Addr().String(), SmallPath: "/small", LargePath: "/large"}
}

// startProxy runs a proxy whose TLS front end serves SPDY by ALPN (npn.
// ConfigureServer) with an httpadapter.Server configured by cfg, and an
// origin "home" serving testHandler through a tunnel.
func startProxy(t *testing.T, cfg *session.Config) *Target {
	t.Helper()
	cert, pool, err := selfsigned.Loopback("attack test")
	if err != nil {
		t.Fatal(err)
	}
	const token = "a-token-for-the-attack-tests"
	reg := proxy.NewRegistry()
	if err := reg.Add("home", token); err != nil {
		t.Fatal(err)
	}
	p := &proxy.Proxy{Registry: reg, Route: proxy.RoutePath}
	tunnelLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tunnel := p.NewTunnelServer(&tls.Config{Certificates: []tls.Certificate{cert}})
	tunnelDone := make(chan error, 1)
	go func() { tunnelDone <- tunnel.ServeTLS(tunnelLn, "", "") }()

	spdy := &httpadapter.Server{Handler: p, Session: cfg}
	front := &http.Server{Handler: p, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	if err := npn.ConfigureServer(front, spdy); err != nil {
		t.Fatal(err)
	}
	frontLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	frontDone := make(chan error, 1)
	go func() { frontDone <- front.ServeTLS(frontLn, "", "") }()

	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := proxy.PinnedTLSConfig(proxy.Fingerprint(leaf))
	if err != nil {
		t.Fatal(err)
	}
	c := &proxy.Connector{ProxyURL: "https://" + tunnelLn.Addr().String(), Name: "home", Token: token,
		TLSConfig: pinned, Handler: testHandler()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		front.Close()
		<-frontDone
		spdy.Close()
		cancel()
		<-done
		tunnel.Close()
		<-tunnelDone
		p.Close()
	})
	wctx, wcancel := context.WithTimeout(ctx, hangGuard)
	defer wcancel()
	if err := p.WaitConnected(wctx, "home", false); err != nil {
		t.Fatalf("origin did not connect: %v", err)
	}
	return &Target{Addr: frontLn.Addr().String(), TLS: &tls.Config{RootCAs: pool},
		SmallPath: "/o/home/small", LargePath: "/o/home/large"}
}

// testCase is how the tests run one attack of the suite.
type testCase struct {
	// server adjusts the server's session configuration.
	server func(c *session.Config)
	// proxy also runs the attack against the proxy's front end.
	proxy bool
	// opts size the attack (Scale is testScale unless set).
	opts Options
	// heapMiB bounds the growth of heap plus goroutine stacks over the
	// baseline, for the whole process (servers, attacker, good client).
	heapMiB int
	// goroutines bounds the growth of the goroutine count.
	goroutines int
	// more makes further assertions on the result.
	more func(t *testing.T, r *Result)
}

// testScale shrinks the connection and stream counts of the attacks.
const testScale = 0.05

// The default bounds of a test case.
const (
	defaultHeapMiB    = 48
	defaultGoroutines = 200
)

var cases = map[string]testCase{
	"rapid-reset":       {proxy: true},
	"stream-exhaustion": {proxy: true, more: wantBeyond, goroutines: 600},
	"settings-flood":    {},
	"ping-flood":        {proxy: true},
	"window-update-flood": {more: func(t *testing.T, r *Result) {
		// A server without a budget would take all of them.
		o := testOpts(Options{})
		if r.Frames >= int64(o.floodCap()) {
			t.Errorf("the server took all %d frames", r.Frames)
		}
	}},
	"window-overflow":     {},
	"empty-data-flood":    {},
	"empty-headers-flood": {},
	"zero-window-dribble": {proxy: true},
	"header-bomb":         {proxy: true},
	"header-count": {
		// Each block costs the server a few milliseconds (tens with the
		// race detector), and the default budget refills 100 tokens a
		// second, 7 such blocks: a slow server never runs dry. A small
		// budget that barely refills shows the limit at any speed; the
		// command runs against the defaults.
		server:  func(c *session.Config) { c.FloodLimit, c.FloodRate = 200, 1 },
		heapMiB: 64,
	},
	"oversize-control": {},
	"oversize-data":    {proxy: true},
	"truncated-frame":  {},
	"slowloris": {
		proxy:  true,
		server: func(c *session.Config) { c.KeepAlive, c.KeepAliveTimeout = 200*time.Millisecond, time.Second },
		opts:   Options{Wait: hangGuard},
		more: func(t *testing.T, r *Result) {
			if n := r.GoAways[framing.GoAwayOK]; n != r.Conns {
				t.Errorf("GOAWAY OK on %d of %d connections, want all (keepalive timeout)", n, r.Conns)
			}
		},
	},
	"idle-connections": {
		server: func(c *session.Config) { c.IdleTimeout = 300 * time.Millisecond },
		opts:   Options{Hold: hangGuard},
		more: func(t *testing.T, r *Result) {
			if n := r.GoAways[framing.GoAwayOK]; n != r.Conns || r.Closed != r.Conns {
				t.Errorf("GOAWAY OK on %d and closed %d of %d connections, want all (idle timeout)", n, r.Closed, r.Conns)
			}
		},
		goroutines: 600,
	},
	"many-sessions": {proxy: true, goroutines: 600, more: func(t *testing.T, r *Result) {
		// The test servers are far from their limits: no 503.
		if n := r.HTTPStatus["200"]; n != r.Conns*streamsPerSession {
			t.Errorf("%d of %d requests answered 200", n, r.Conns*streamsPerSession)
		}
	}},
}

func wantBeyond(t *testing.T, r *Result) {
	if r.Beyond < 10 {
		t.Errorf("only %d streams beyond the limit", r.Beyond)
	}
}

func testOpts(o Options) Options {
	if o.Scale == 0 {
		o.Scale = testScale
	}
	return o
}

// TestAttacks runs every attack of the suite against an in-process
// httpadapter.Server, and a subset against the proxy's front end, with a
// good client beside each, and checks the outcome the protocol prescribes,
// that the good client got only correct answers, that memory and
// goroutines stayed bounded, and that the server let go of the attacker's
// connections.
func TestAttacks(t *testing.T) {
	for _, a := range Suite() {
		tc, ok := cases[a.Name]
		if !ok {
			t.Errorf("attack %s has no test case", a.Name)
			continue
		}
		cfg := func() *session.Config {
			c := &session.Config{MaxConcurrentStreams: 100}
			if tc.server != nil {
				tc.server(c)
			}
			return c
		}
		t.Run(a.Name+"/server", func(t *testing.T) {
			runCase(t, a, tc, startServer(t, cfg()))
		})
		if tc.proxy {
			t.Run(a.Name+"/proxy", func(t *testing.T) {
				runCase(t, a, tc, startProxy(t, cfg()))
			})
		}
	}
	for name := range cases {
		if _, ok := Lookup(name); !ok {
			t.Errorf("test case %s names no attack", name)
		}
	}
}

func runCase(t *testing.T, a Attack, tc testCase, target *Target) {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	g := &GoodClient{Target: target, Small: smallBody, Large: largeBody}
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	opts := testOpts(tc.opts)
	m := &RuntimeMeter{}
	rep := RunAttack(ctx, a, target, RunConfig{Options: &opts, Meter: m, Good: g, Timeout: hangGuard})
	r, u := rep.Result, rep.Usage
	t.Logf("%s: %s in %v, %d frames, %d bytes; %s", r.Attack, r.Outcome(), r.Duration.Round(time.Millisecond), r.Frames, r.Bytes, r.Note)
	t.Logf("peak heap+stacks %.1f MiB over a baseline of %.1f MiB, peak goroutines %d over %d; good client %d ok, %d failed",
		mib(u.PeakHeap-u.BaseHeap), mib(u.BaseHeap), u.PeakGoroutines-u.BaseGoroutines, u.BaseGoroutines, rep.Good.OK, rep.Good.Failed)
	if rep.CheckErr != nil {
		t.Error(rep.CheckErr)
	}
	if tc.more != nil {
		tc.more(t, r)
	}
	if rep.GoodErr != nil {
		t.Error(rep.GoodErr)
	}
	if rep.Good.Failed > 0 {
		t.Errorf("the good client failed %d times: %q", rep.Good.Failed, rep.Good.Errors)
	}
	heap := tc.heapMiB
	if heap == 0 {
		heap = defaultHeapMiB
	}
	if grew := u.PeakHeap - u.BaseHeap; u.PeakHeap > u.BaseHeap && grew > uint64(heap)<<20 {
		t.Errorf("heap and stacks grew by %.1f MiB, bound %d MiB", mib(grew), heap)
	}
	gr := tc.goroutines
	if gr == 0 {
		gr = defaultGoroutines
	}
	if grew := u.PeakGoroutines - u.BaseGoroutines; grew > gr {
		t.Errorf("%d more goroutines at the peak, bound %d", grew, gr)
	}
	// The server lets go of the attacker's sessions: the goroutine count
	// comes back to the baseline (the good client still runs).
	limit := u.BaseGoroutines + 20
	for deadline := time.Now().Add(hangGuard); runtime.NumGoroutine() > limit; {
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines remain after the attack, baseline %d", runtime.NumGoroutine(), u.BaseGoroutines)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// TestCheckFails makes sure the checks can fail: a server without limits
// (an echo of nothing) would give these results.
func TestCheckFails(t *testing.T) {
	quiet := &Result{Conns: 1, Alive: 1}
	for _, a := range Suite() {
		if a.Name == "idle-connections" {
			// Kept alive is one of its right outcomes; closed without
			// GOAWAY is not.
			if err := a.Check(&Result{Conns: 1, Closed: 1}); err == nil {
				t.Errorf("%s: a connection closed without GOAWAY passes", a.Name)
			}
			continue
		}
		if err := a.Check(quiet); err == nil {
			t.Errorf("%s: a session that shrugged it off passes the check", a.Name)
		}
	}
	if err := (Attack{}).Check(nil); err == nil {
		t.Error("a nil result passes")
	}
	a, _ := Lookup("rapid-reset")
	ok := &Result{Conns: 1, Closed: 1, GoAways: map[framing.GoAwayStatus]int{framing.GoAwayProtocolError: 1}}
	if err := a.Check(ok); err != nil {
		t.Errorf("the prescribed outcome fails: %v", err)
	}
	ok.Err = errors.New("dial failed")
	if err := a.Check(ok); err == nil {
		t.Error("a result with an error passes")
	}
}

// TestUndefendedServerFails runs floods against a server whose flood
// budget is off: the suite must see that it took them all. The floods run
// unpaced, as fast as the socket takes them.
func TestUndefendedServerFails(t *testing.T) {
	for _, name := range []string{"settings-flood", "rapid-reset", "empty-data-flood"} {
		t.Run(name, func(t *testing.T) {
			a, _ := Lookup(name)
			target := startServer(t, &session.Config{MaxConcurrentStreams: 100, FloodLimit: -1})
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			opts := testOpts(Options{Unpaced: true})
			r := a.Run(ctx, target, &opts)
			t.Logf("%s: %s; %s", name, r.Outcome(), r.Note)
			if err := a.Check(r); err == nil {
				t.Errorf("a server without a flood budget passes %s", name)
			}
			if r.Alive != 1 {
				t.Errorf("the session did not survive: %s", r.Outcome())
			}
		})
	}
}
