package kubeupgrade

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine, ours or spdystream's, outlives
// the tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
