module github.com/spdygo/spdy/internal/soak

go 1.26.0

replace github.com/spdygo/spdy => ../..

require (
	github.com/spdygo/spdy v0.0.0-00010101000000-000000000000
	go.uber.org/goleak v1.3.0
)
