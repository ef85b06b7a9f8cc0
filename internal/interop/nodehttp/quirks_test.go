package nodehttp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/internal/interop/nodepeer"
	"github.com/spdygo/spdy/session"
)

// TestNodeQuirkEmulationWrites pins node-spdy#369, which http.js patches
// for every other test: with node-spdy's socket emulation as published,
// an upload through node's http module and the spdy agent fails on Node 12
// and later. The agent uploads 5 MiB three times (each on a session of its
// own), unpatched, to our server and to node-spdy's own server (unpatched
// too): it fails against both, so the failure is node's, not ours. (The
// cause, explained in http.js: node's net.Socket reads whether a handle
// write completes later from a process-wide slot that handle-thing never
// fills, so write callbacks run twice, and handle-thing's writev drops
// every second chunk.) With the patch the same uploads succeed: the
// "upload" step of TestNodeClientOurServer.
func TestNodeQuirkEmulationWrites(t *testing.T) {
	const tries = 3
	run := func(t *testing.T, port int) {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		node := startNode(t, "upload", "--unpatched", "--port", strconv.Itoa(port),
			"--protocol", "spdy/3.1", "--tries", strconv.Itoa(tries))
		node.Wait(ctx, "done", nil)
		failed := 0
		for _, e := range node.All() {
			if e.Name != "upload" {
				continue
			}
			var r stepResult
			var extra struct{ Hung bool }
			e.Decode(t, &r)
			e.Decode(t, &extra)
			if extra.Hung || r.Error != "" || r.Status != 200 || r.Bytes != r.SentBytes || r.Sha256 != r.SentSha256 {
				failed++
				t.Logf("unpatched upload failed as node-spdy#369 predicts: %s", e.Raw)
			}
		}
		if failed == 0 {
			t.Errorf("all %d unpatched uploads succeeded: node-spdy#369 no longer shows on this node (%s); revisit the patch in http.js", tries, nodeVersionString(t))
		}
	}
	t.Run("our-server", func(t *testing.T) {
		s := startOurServer(t, mode{"plain", false}, session.V31)
		run(t, s.port)
	})
	t.Run("node-server", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		srv := startNode(t, "server", "--protocol", "spdy/3.1", "--unpatched")
		var ls struct{ Port int }
		srv.Wait(ctx, "listening", nil).Decode(t, &ls)
		run(t, ls.Port)
	})
}

// nodeVersionString returns `node --version`.
func nodeVersionString(t *testing.T) string {
	p := nodepeer.Start(t, nodepeer.Dir(t, "node's spdy"), "--version")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	p.WaitExit(ctx)
	return p.Stderr() + p.Dump()
}

// TestNodeQuirkPlainPushSchemeHTTPS pins why a node server's pushes need
// the scheme patch of http.js (?scheme=http) over plain TCP: node-spdy's
// res.push, and spdy-transport's pushPromise under it, label every push
// :scheme https (scheme in SPDY/2) whatever the connection, with no way to
// say otherwise. Our Transport takes a push only for the origin of its
// request, so it refuses these (RST_STREAM CANCEL) on an http:// origin;
// over TLS the label is right and the push is received
// (TestOurClientNodeServer/tls/*/push).
func TestNodeQuirkPlainPushSchemeHTTPS(t *testing.T) {
	for _, v := range versions {
		t.Run(alpn(v), func(t *testing.T) {
			c := startOurClient(t, mode{"plain", false}, v, true)
			resp, body := c.do(t, "GET", fmt.Sprintf("/push?size=%d", pushSize), nil, nil)
			if resp.StatusCode != 200 || string(body) != `<script src="/pushed.js"></script>` {
				t.Errorf("GET /push: %s %q", resp.Status, body)
			}
			var ps struct{ ID int }
			c.node.Wait(c.ctx, "pushed", nil).Decode(t, &ps)
			// What node sent: the tap parsed the SYN_STREAM.
			var push *tappedPush
			for push == nil {
				got, more := c.taps.next()
				for i := range got {
					if int(got[i].id) == ps.ID {
						push = &got[i]
					}
				}
				if push == nil {
					select {
					case <-more:
					case <-c.ctx.Done():
						t.Fatalf("the push SYN_STREAM %d was not seen", ps.ID)
					}
				}
			}
			name := ":scheme"
			if v == session.V2 {
				name = "scheme"
			}
			if got := fieldValue(push.headers, name); got != "https" {
				t.Errorf("node pushed %s %q on plain TCP, want its https label", name, got)
			}
			// What our Transport did with it.
			c.node.Wait(c.ctx, "rst", func(e nodepeer.Event) bool {
				var r struct {
					ID   int
					Code string
				}
				e.Decode(t, &r)
				return r.ID == ps.ID && r.Code == "CANCEL"
			})
			select {
			case p := <-c.pushes:
				t.Errorf("PushHandler got a push of %s", p.url)
			default:
			}
		})
	}
}

// fieldValue returns the value of the field named name, or "".
func fieldValue(fields []hpackz.Field, name string) string {
	for _, f := range fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// TestNodeQuirkV2EmptyHeaderValue pins a difference in SPDY/2: node sends
// a header whose value is empty as it is, in every version, but the SPDY/2
// draft forbids empty values (a PROTOCOL_ERROR for the stream), and our
// session follows it. In SPDY/3 and 3.1 empty values are legal and arrive.
// The other tests' node handlers send no empty value.
func TestNodeQuirkV2EmptyHeaderValue(t *testing.T) {
	for _, v := range versions {
		t.Run(alpn(v), func(t *testing.T) {
			c := startOurClient(t, mode{"plain", false}, v, false)
			req, err := http.NewRequestWithContext(c.ctx, "GET", c.base+"/empty", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.client.Do(req)
			if v == session.V2 {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("GET /empty in SPDY/2: %s, want the stream reset for its empty value", resp.Status)
				}
				c.node.Wait(c.ctx, "rst", func(e nodepeer.Event) bool {
					var r struct{ Code string }
					e.Decode(t, &r)
					return r.Code == "PROTOCOL_ERROR"
				})
				return
			}
			if err != nil {
				t.Fatalf("GET /empty: %v", err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(b) != "empty" {
				t.Errorf("body %q, %v", b, err)
			}
			if vv, ok := resp.Header["X-Empty"]; !ok || len(vv) != 1 || vv[0] != "" {
				t.Errorf("X-Empty %q (present %v), want one empty value", vv, ok)
			}
		})
	}
}
