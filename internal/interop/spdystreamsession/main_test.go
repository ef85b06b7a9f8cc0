package spdystreamsession

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine, ours or spdystream's, outlives
// the tests. Each test also checks for leaks of its own (see newPeers).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
