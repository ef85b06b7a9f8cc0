package bench

import (
	"errors"
	"testing"
)

func eachHTTPTransport(t *testing.T, f func(t *testing.T, tr HTTPTransport)) {
	for _, tr := range HTTPTransports() {
		t.Run(tr.Name, func(t *testing.T) { f(t, tr) })
	}
}

// TestHTTPRequests is W3-http at a small size: every response is checked
// against its request.
func TestHTTPRequests(t *testing.T) {
	eachHTTPTransport(t, func(t *testing.T, tr HTTPTransport) {
		r, err := HTTPReqResp(tr, HTTPReqRespParams{Workers: 8, ReqSize: 100, RespSize: 1024, Ops: 200, Timeout: limit})
		if err != nil {
			t.Fatal(err)
		}
		if r.Ops != 200 {
			t.Fatalf("%d requests done", r.Ops)
		}
		if tr.Multiplexed && r.Conns != 1 {
			t.Fatalf("%d connections for a multiplexed transport", r.Conns)
		}
		// HTTP/1.1's pool may dial more connections than it has clients
		// (a request that finds none idle dials while another is being
		// put back), so only the multiplexers have an exact count.
		if r.Conns < 1 {
			t.Fatalf("%d connections", r.Conns)
		}
	})
}

// TestHTTPBulk is W1-http at a small size: large enough that windows must
// grow; every byte is checked.
func TestHTTPBulk(t *testing.T) {
	eachHTTPTransport(t, func(t *testing.T, tr HTTPTransport) {
		const size = 3<<20 + 17
		r, err := HTTPBulk(tr, HTTPBulkParams{Size: size, Chunk: 32 << 10, Verify: true, Timeout: limit})
		if err != nil {
			t.Fatal(err)
		}
		if r.Bytes != size {
			t.Fatalf("received %d bytes", r.Bytes)
		}
	})
}

// TestHTTPIdle is Wmem-http at a small size: every request is in flight at
// once, and each response then carries its own index.
func TestHTTPIdle(t *testing.T) {
	eachHTTPTransport(t, func(t *testing.T, tr HTTPTransport) {
		r, err := HTTPIdle(tr, HTTPIdleParams{Requests: 100, Timeout: limit})
		if err != nil {
			t.Fatal(err)
		}
		if r.Streams != 100 {
			t.Fatalf("%d requests", r.Streams)
		}
		if !tr.Multiplexed && r.Conns < 100 {
			t.Fatalf("%d connections for 100 requests in flight", r.Conns)
		}
		if tr.Multiplexed && r.Conns != 1 {
			t.Fatalf("%d connections for a multiplexed transport", r.Conns)
		}
	})
}

// TestHTTPIdleFileLimit checks that HTTP/1.1 refuses a count of idle
// requests the file limit cannot hold, instead of failing half-way.
func TestHTTPIdleFileLimit(t *testing.T) {
	tr, err := LookupHTTP("http1")
	if err != nil {
		t.Fatal(err)
	}
	n := int(fdLimit()/2) + 1
	if _, err := HTTPIdle(tr[0], HTTPIdleParams{Requests: n, Timeout: limit}); !errors.Is(err, ErrNotEnoughFiles) {
		t.Fatalf("HTTPIdle(%d requests) = %v, want ErrNotEnoughFiles", n, err)
	}
}

// TestLookupHTTP checks the transport selection of the command's flag.
func TestLookupHTTP(t *testing.T) {
	ts, err := LookupHTTP("spdy31,h2c")
	if err != nil || len(ts) != 2 || ts[0].Name != "h2c" || ts[1].Name != "spdy31" {
		t.Fatalf("LookupHTTP = %v, %v", ts, err)
	}
	if _, err := LookupHTTP("spdy2000"); err == nil {
		t.Fatal("unknown transport accepted")
	}
	all, err := LookupHTTP("all")
	if err != nil || len(all) != len(HTTPTransports()) {
		t.Fatalf("LookupHTTP(all) = %d transports, %v", len(all), err)
	}
}
