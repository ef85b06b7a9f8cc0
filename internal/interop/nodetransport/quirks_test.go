package nodetransport

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/internal/interop/nodepeer"
	"github.com/spdygo/spdy/session"
	"github.com/spdygo/spdy/stream"
)

// dialNode starts a node server and connects a client session to it.
func dialNode(t *testing.T, ctx context.Context, cfg *session.Config) (*nodepeer.Proc, *session.Session) {
	t.Helper()
	node := startNode(t, "server")
	var ls struct{ Port int }
	node.Wait(ctx, "listening", nil).Decode(t, &ls)
	conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(ls.Port)))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := session.NewClient(conn, cfg)
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	return node, sess
}

// TestNodeQuirkV2GoAway pins why Config.V2Compat exists: node fails the
// connection on the 4-byte GOAWAY that the SPDY/2 draft defines.
func TestNodeQuirkV2GoAway(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	node, sess := dialNode(t, ctx, &session.Config{Version: session.V2})
	// A round trip first, so that node has read our preface.
	if _, err := sess.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	sess.Close()
	var e struct{ Message string }
	node.Wait(ctx, "error", nil).Decode(t, &e)
	if e.Message != "GOAWAY OOB" {
		t.Errorf("node's error %q, want GOAWAY OOB", e.Message)
	}
}

// TestNodeQuirkGoAwayAbortsOurStreams pins a limit of graceful shutdown
// toward a node server: node compares the last-good id of a GOAWAY it
// receives with every stream, its own and ours, and so aborts the streams
// our client opened (RST_STREAM CANCEL) instead of finishing them. The
// other way round, our server's GOAWAY lets node's streams finish (the
// /drain step of TestNodeClientOurServer).
func TestNodeQuirkGoAwayAbortsOurStreams(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	node, sess := dialNode(t, ctx, config(t, session.V3))
	c := &clientRun{t: t, ctx: ctx, node: node, sess: sess, v: session.V3}
	st, _, sent := c.startEcho(bigBody, "drain")
	defer st.Close()
	// The GOAWAY goes out ahead of the body, which needs many window
	// updates from node: node has it while the stream is open.
	shut := make(chan error, 1)
	go func() { shut <- sess.Shutdown(ctx) }()
	_, err := io.ReadAll(st)
	var re *stream.ResetError
	if !errors.As(err, &re) || !re.Remote || re.Status != framing.StatusCancel {
		t.Errorf("reading the open stream after our GOAWAY: %v, want node's RST CANCEL", err)
	}
	<-sent
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	var se struct{ Message string }
	node.Wait(ctx, "stream-error", nil).Decode(t, &se)
	if !strings.Contains(se.Message, "GOAWAY") {
		t.Errorf("node's stream error %q, want its abort after GOAWAY", se.Message)
	}
}
