package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestUpgradeStalledMaxTime: with -upgrade, a server that reads the
// request and never answers is given up on when -m runs out, however long
// the dial itself may take.
func TestUpgradeStalledMaxTime(t *testing.T) {
	saved := dialTimeout
	dialTimeout = 10 * waitLimit // only -m can end the handshake
	defer func() { dialTimeout = saved }()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	requested := make(chan error, 1)
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			requested <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(waitLimit))
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err == nil && req.Header.Get("Upgrade") == "" {
			err = io.ErrUnexpectedEOF
		}
		requested <- err
		io.Copy(io.Discard, br) // no answer, until the client closes
	}()

	done := make(chan result, 1)
	go func() { done <- spdycat(t, "", "-m", "0.2", "-upgrade", "http://"+ln.Addr().String()+"/") }()
	select {
	case r := <-done:
		if r.code != exitTimeout || !strings.HasPrefix(r.stderr, "spdycat: timed out") {
			t.Errorf("stalled upgrade: %v", r)
		}
	case <-time.After(waitLimit):
		t.Fatal("spdycat did not give up on a stalled upgrade when -m ran out")
	}
	if err := <-requested; err != nil {
		t.Errorf("the server read no upgrade request: %v", err)
	}
	<-served // spdycat closed the connection
}
