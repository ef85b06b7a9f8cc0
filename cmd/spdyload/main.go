// Spdyload is a load generator for SPDY and HTTP/1.1 servers, in the style
// of h2load: it sends one URL many times over several connections, many
// streams at once on each, and reports throughput, latency, status codes
// and errors.
//
// Usage:
//
//	spdyload [flags] URL
//
// Each of the -c connections is one session of its own: a SPDY ClientConn
// over its own TCP or TLS connection, carrying up to -m requests at once as
// concurrent streams. The requests of -n are shared out among the
// connections as they become free, so a slower connection takes fewer.
//
// The protocol is chosen by -proto. With auto (the default), an https://
// URL negotiates spdy/3.1, spdy/3, spdy/2 or http/1.1 by ALPN, and an
// http:// URL speaks SPDY/3.1 with prior knowledge. A SPDY version offers
// only that version in ALPN (the run fails to connect when the server picks
// another), or, for http://, speaks it with prior knowledge. http/1.1 speaks
// HTTP/1.1 on each connection; HTTP/1.1 has no multiplexing, so a
// connection carries one request at a time and -m is taken as 1 (use -c for
// more concurrency). A connection on which ALPN chose http/1.1 also carries
// one request at a time, its -m requests waiting their turn outside the
// measured time. node's spdy servers speak SPDY/2 with SPDY/3's GOAWAY and
// flow control: -v2compat speaks it so.
//
// The run ends when -n requests are done, or, with -d, when the duration
// has passed (counted from the start, connection setup included): then no
// new request starts, and those in flight finish and are counted. With -d,
// -n bounds the run only when given explicitly. SIGINT or SIGTERM stops the
// run: requests in flight are cancelled (counted as aborted) and the report
// is printed all the same.
//
// Every response body is read to its end and its bytes counted. A request
// succeeds when its whole response arrived with a status below 500; it fails
// with a 5xx status or an error. A connection that goes away (GOAWAY) is
// replaced by a new one; requests the server proved unprocessed are sent
// again on it. A connection that cannot be established ends its share of
// the run; the others carry on.
//
// The report, on standard output, gives the time taken, the requests
// (total, started, done, succeeded, failed, errored, aborted, and retried:
// sent again after the server proved them unprocessed), requests and
// megabytes (10^6 bytes) per second of response bodies and of all bytes
// received, the status classes, the traffic, the connections opened (by
// protocol) and failed, errors by kind (dial, tls, timeout, reset, goaway,
// connection, protocol, other) with the first message of each, and the
// time to the first byte (response headers) and to the last byte of the
// requests done: min, mean, p50, p90, p99 and max. -json prints the same
// report as one JSON object.
//
// Exit status: 0 when every request started succeeded and every connection
// was established, 1 when a request failed or a connection could not be
// established, 2 for a bad command line, 130 when interrupted. Run
// "spdyload -h" for the flags.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// main runs spdyload with the command line and exits with its status. The
// first SIGINT or SIGTERM stops the run and prints the report; a second
// ends the process at once.
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal ends the process at once
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
