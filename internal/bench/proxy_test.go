package bench

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// The test binary is also the front-end process of ProxyIdle.
func init() { ProxyChild() }

// testVariant exercises every way a variant changes P: session settings
// on both ends and the origin's write buffer.
var (
	testVariant  = ProxyVariant{Window: 256 << 10, SessionWindow: 4 << 20, FrameSize: 16 << 10, WriteBuffer: 64 << 10}
	testSwitches = ProxyVariant{StoredHeaders: true, Plain: true, NoFlush: true}
)

func eachProxyPath(t *testing.T, f func(t *testing.T, tr HTTPTransport)) {
	for _, tr := range append(ProxyPaths(), ProxyPath(testVariant), ProxyPath(testSwitches)) {
		t.Run(tr.Name, func(t *testing.T) { f(t, tr) })
	}
}

// TestProxyBulk is the download at a small size on every path: large
// enough for windows to grow; every byte is checked.
func TestProxyBulk(t *testing.T) {
	eachProxyPath(t, func(t *testing.T, tr HTTPTransport) {
		const size = 3<<20 + 17
		r, err := HTTPBulk(tr, HTTPBulkParams{Size: size, Chunk: 64 << 10, Verify: true, Timeout: limit})
		if err != nil {
			t.Fatal(err)
		}
		if r.Bytes != size {
			t.Fatalf("received %d bytes", r.Bytes)
		}
	})
}

// TestProxyRequests sends small requests on every path; every response
// is checked against its request.
func TestProxyRequests(t *testing.T) {
	eachProxyPath(t, func(t *testing.T, tr HTTPTransport) {
		r, err := HTTPReqResp(tr, HTTPReqRespParams{Workers: 8, ReqSize: 100, RespSize: 1024, Ops: 200, Timeout: limit})
		if err != nil {
			t.Fatal(err)
		}
		if r.Ops != 200 {
			t.Fatalf("%d requests done", r.Ops)
		}
		if r.Conns < 1 {
			t.Fatalf("the front end accepted %d connections", r.Conns)
		}
	})
}

// TestProxyIdle holds requests open through each front end in its own
// process; each response then carries its own index.
func TestProxyIdle(t *testing.T) {
	for _, p := range []ProxyIdleParams{
		{FrontEnd: PathProxy},
		{FrontEnd: PathProxy, Variant: testVariant},
		{FrontEnd: PathProxy, Variant: ProxyVariant{Plain: true, StoredHeaders: true}},
		{FrontEnd: PathRevProxy},
	} {
		t.Run(p.FrontEnd+" "+p.Variant.String(), func(t *testing.T) {
			p.Requests, p.Timeout = 50, limit
			r, err := ProxyIdle(p)
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests != 50 {
				t.Fatalf("%d requests", r.Requests)
			}
			// An HTTP/1.1 client holds a connection per request in flight,
			// and the front end's net/http server a goroutine for each.
			if r.Conns < 50 {
				t.Fatalf("the front end accepted %d connections for 50 requests in flight", r.Conns)
			}
			if r.Front.Goroutines < 1 {
				t.Fatalf("%.2f front-end goroutines per request in flight, want at least the connection's", r.Front.Goroutines)
			}
			t.Logf("front end per request: heap %.0f B, stack %.0f B, %.2f goroutines; the rest: heap %.0f B, stack %.0f B, %.2f goroutines",
				r.Front.Heap, r.Front.Stack, r.Front.Goroutines, r.Rest.Heap, r.Rest.Stack, r.Rest.Goroutines)
		})
	}
}

// TestProxyIdleBadParams checks that ProxyIdle refuses what cannot run.
func TestProxyIdleBadParams(t *testing.T) {
	for _, p := range []ProxyIdleParams{
		{FrontEnd: PathProxy, Requests: 0},
		{FrontEnd: "nginx", Requests: 1},
		{FrontEnd: PathRevProxy, Variant: ProxyVariant{Window: 1 << 20}, Requests: 1},
		{FrontEnd: PathProxy, Variant: ProxyVariant{NoFlush: true}, Requests: 1},
	} {
		if _, err := ProxyIdle(p); err == nil {
			t.Errorf("ProxyIdle(%+v) succeeded", p)
		}
	}
	if _, err := ProxyIdle(ProxyIdleParams{FrontEnd: PathProxy, Requests: 1, Exe: "/nonexistent/program", Timeout: limit}); err == nil || errors.Is(err, ErrNotEnoughFiles) {
		t.Errorf("a missing front-end program: %v", err)
	}
}

// TestProxyChildRefusesBadConfig checks that the front-end process says
// why it cannot start.
func TestProxyChildRefusesBadConfig(t *testing.T) {
	for _, spec := range []string{`{`, `{"front_end":"nginx"}`, `{"front_end":"revproxy","origin":"::"}`, `{"front_end":"proxy","variant":"win=x"}`} {
		var out bytes.Buffer
		if err := runProxyChild(spec, strings.NewReader(""), &out); err == nil {
			t.Errorf("runProxyChild(%s) succeeded", spec)
		}
	}
	// A program that is not a front end fails to start as one.
	if _, err := startChild("/bin/true", childConfig{FrontEnd: PathProxy}); err == nil {
		t.Error("startChild(/bin/true) succeeded")
	}
}

func TestParseProxyVariant(t *testing.T) {
	v, err := ParseProxyVariant(" noflush,win=1MiB, maxwin=32MiB,swin=16MiB,maxswin=128MiB,plain,frame=16KiB,wbuf=64KiB,stored,maxstreams=5000 ")
	if err != nil {
		t.Fatal(err)
	}
	want := ProxyVariant{Window: 1 << 20, MaxWindow: 32 << 20, SessionWindow: 16 << 20, MaxSessionWindow: 128 << 20, FrameSize: 16 << 10, MaxStreams: 5000, WriteBuffer: 64 << 10,
		StoredHeaders: true, Plain: true, NoFlush: true}
	if v != want {
		t.Fatalf("got %+v, want %+v", v, want)
	}
	if s := v.String(); s != "win=1MiB,maxwin=32MiB,swin=16MiB,maxswin=128MiB,frame=16KiB,maxstreams=5000,wbuf=64KiB,stored,plain,noflush" {
		t.Fatalf("String() = %q", s)
	}
	if again, err := ParseProxyVariant(v.String()); err != nil || again != v {
		t.Fatalf("round trip: %+v, %v", again, err)
	}
	if v, err := ParseProxyVariant(""); err != nil || v != (ProxyVariant{}) || v.String() != "" || v.session() != nil {
		t.Fatalf("empty spec: %+v, %v", v, err)
	}
	if ProxyPath(ProxyVariant{}).Name != PathProxy || ProxyPath(want).Name != "proxy "+want.String() {
		t.Fatal("path names")
	}
	if v, err := ParseProxyVariant("stored"); err != nil || v.session() == nil || v.session().HeaderCompression == 0 {
		t.Fatalf("stored: %+v, %v", v, err)
	}
	for _, bad := range []string{"win", "win=", "win=2GiB", "window=1MiB", "wbuf=0", "win=1MiB,,frame=x", "plain=1", "noflush=yes"} {
		if _, err := ParseProxyVariant(bad); err == nil {
			t.Errorf("ParseProxyVariant(%q) succeeded", bad)
		}
	}
}

func TestLookupProxyPaths(t *testing.T) {
	ps, err := LookupProxyPaths("revproxy,direct")
	if err != nil || len(ps) != 2 || ps[0].Name != PathDirect || ps[1].Name != PathRevProxy {
		t.Fatalf("got %v, %v", ps, err)
	}
	if _, err := LookupProxyPaths("nginx"); err == nil {
		t.Fatal("unknown path accepted")
	}
}
