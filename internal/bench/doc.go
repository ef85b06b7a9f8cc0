// Package bench compares whole-transport workloads on loopback TCP: plain
// TCP (the physical limit), hashicorp/yamux, xtaci/smux, moby/spdystream
// and this module's SPDY session (SPDY/3.1 and SPDY/3).
//
// Every transport is driven through the same small interface (Mux,
// Stream) by the same workloads: Bulk (one or many streams moving data
// one way), ReqResp (a request and a response on a new stream each time)
// and Idle (the memory and goroutines of idle open streams). Both sides of
// each connection run in this process. The command cmd/muxbench runs them
// all and prints medians and ratios; the package's tests run each workload
// on each transport at tiny sizes and check only that the bytes arrive.
//
// The HTTP workloads (HTTPReqResp, HTTPBulk, HTTPIdle) run one handler
// behind net/http's HTTP/1.1 and HTTP/2 cleartext and behind this module's
// httpadapter over SPDY, driven by an http.Client (see HTTPTransports);
// the command cmd/httpbench runs them. The proxy workloads (proxy.go) put
// the reverse-connection proxy of package proxy against direct HTTP/1.1
// and httputil.ReverseProxy; the command cmd/proxybench runs them.
package bench
