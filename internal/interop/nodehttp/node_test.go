package nodehttp

import (
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spdygo/spdy/internal/interop/nodepeer"
	"github.com/spdygo/spdy/session"
)

// testTimeout bounds every wait of a test on node or on our side, so that
// a broken peer fails a test instead of hanging it. It is a bound, not an
// assertion about speed.
const testTimeout = 120 * time.Second

// The sizes of the scenario, the same in http.js.
const (
	bigSize    = 10 << 20  // a download, checked by SHA-256
	uploadSize = 5 << 20   // an upload echoed back
	pushSize   = 256 << 10 // a pushed body, past the 64 KiB windows
	rangeSize  = 1 << 20   // the resource of /range; byte i is i % 251
	concurrent = 100       // requests at once on one session
)

// startNode runs `node http.js args...`, stopped when the test ends.
func startNode(t *testing.T, args ...string) *nodepeer.Proc {
	t.Helper()
	return nodepeer.Start(t, nodepeer.Dir(t, "node's spdy"), append([]string{"http.js"}, args...)...)
}

// mode is how a connection reaches SPDY: plain TCP with prior knowledge,
// or TLS with ALPN.
type mode struct {
	name string
	tls  bool
}

var modes = []mode{{"plain", false}, {"tls", true}}

var versions = []session.Version{session.V2, session.V3, session.V31}

// alpn returns the ALPN id of v, which is also node's name of the
// protocol.
func alpn(v session.Version) string {
	switch v {
	case session.V2:
		return "spdy/2"
	case session.V3:
		return "spdy/3"
	}
	return "spdy/3.1"
}

// nodeVersion is how node-spdy reports v (req.spdyVersion).
func nodeVersion(v session.Version) string {
	switch v {
	case session.V2:
		return "2"
	case session.V3:
		return "3"
	}
	return "3.1"
}

// rangeBody is the resource of /range on both sides: byte i is i % 251.
func rangeBody() []byte {
	b := make([]byte, rangeSize)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// headerValues returns the values node reported for a header: node gives
// a string, an array, or (for a multi-valued header through node-spdy's
// HTTP emulation) an array holding an array.
func headerValues(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}
	}
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) != nil {
		return nil
	}
	var out []string
	for _, a := range arr {
		out = append(out, headerValues(a)...)
	}
	return out
}

// tlog writes log lines to the test's log.
type tlog struct{ t *testing.T }

func (l tlog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// debugLogger returns a logger into the test's log when -v is given with
// NODEHTTP_TRACE=1 in the environment, else nil.
func debugLogger(t *testing.T) *slog.Logger {
	if os.Getenv("NODEHTTP_TRACE") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
