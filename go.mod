module github.com/spdygo/spdy

go 1.26
