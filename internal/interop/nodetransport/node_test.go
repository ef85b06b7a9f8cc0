package nodetransport

import (
	"testing"
	"time"

	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/internal/interop/nodepeer"
	"github.com/spdygo/spdy/session"
)

// testTimeout bounds every wait of the tests on node or on a session, so
// that a broken peer fails a test instead of hanging it. It is a bound, not
// an assertion about speed.
const testTimeout = 60 * time.Second

// startNode runs `node peer.js args...`, stopped when the test ends.
func startNode(t *testing.T, args ...string) *nodepeer.Proc {
	t.Helper()
	return nodepeer.Start(t, nodepeer.Dir(t, "node's spdy-transport"), append([]string{"peer.js"}, args...)...)
}

// versions are the protocols tested, with the names of subtests.
var versions = []session.Version{session.V2, session.V3, session.V31}

// nodeVersion is the version argument of spdy-transport's
// connection.start.
func nodeVersion(v session.Version) string {
	switch v {
	case session.V2:
		return "2"
	case session.V3:
		return "3"
	}
	return "3.1"
}

// names are the header names of the HTTP fields that differ between
// SPDY/2 and SPDY/3.
type names struct {
	method, path, version, host, scheme, status string
}

func headerNames(v session.Version) names {
	if v == session.V2 {
		return names{"method", "url", "version", "host", "scheme", "status"}
	}
	return names{":method", ":path", ":version", ":host", ":scheme", ":status"}
}

// request returns the header block of a request as node expects it: it
// refuses a SYN_STREAM without a method and a path.
func request(v session.Version, method, path string, extra ...hpackz.Field) []hpackz.Field {
	n := headerNames(v)
	f := []hpackz.Field{
		{Name: n.method, Value: method},
		{Name: n.path, Value: path},
		{Name: n.version, Value: "HTTP/1.1"},
		{Name: n.host, Value: "127.0.0.1"},
		{Name: n.scheme, Value: "http"},
	}
	return append(f, extra...)
}

// response returns the header block of a reply; node's client resets a
// stream whose reply has no status.
func response(v session.Version, status string, extra ...hpackz.Field) []hpackz.Field {
	n := headerNames(v)
	f := []hpackz.Field{{Name: n.status, Value: status}, {Name: n.version, Value: "HTTP/1.1"}}
	return append(f, extra...)
}

// header returns the value of the field named name, and whether it is
// there.
func header(fields []hpackz.Field, name string) (string, bool) {
	for _, f := range fields {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}
