module github.com/spdygo/spdy/internal/bench

go 1.26.0

replace github.com/spdygo/spdy => ../..

require (
	github.com/hashicorp/yamux v0.1.2
	github.com/moby/spdystream v0.5.1
	github.com/spdygo/spdy v0.0.0-00010101000000-000000000000
	github.com/xtaci/smux v1.5.58
)

require go.uber.org/goleak v1.3.0
