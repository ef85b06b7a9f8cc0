package nodetransport

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/internal/interop/nodepeer"
	"github.com/spdygo/spdy/session"
	"github.com/spdygo/spdy/stream"
)

// bigBody is the size of the bodies that cross flow control: well past the
// 64 KiB initial window of every stream and of the SPDY/3.1 session.
const bigBody = 1 << 20

// serverModes are the node servers our client is tested against. In plain
// TCP a node server learns the version from the first frame, which says 3
// for both SPDY/3 and SPDY/3.1; with autoSpdy31 it switches to 3.1 when it
// receives a session WINDOW_UPDATE, and also sends session window updates
// to SPDY/2 and SPDY/3 clients. Without it a SPDY/3.1 client never gets
// session credit from node (and stalls after 64 KiB of uploads), so
// SPDY/3.1 is tested with autoSpdy31 only.
var serverModes = []struct {
	name    string
	version session.Version
	auto31  bool
}{
	{"spdy2", session.V2, false},
	{"spdy2+autoSpdy31", session.V2, true},
	{"spdy3", session.V3, false},
	{"spdy3+autoSpdy31", session.V3, true},
	{"spdy3.1+autoSpdy31", session.V31, true},
}

// TestOurClientNodeServer runs our client session against a spdy-transport
// server: streams with headers and large bodies both ways, concurrent
// streams, trailers, pings both ways, resets both ways, a server push, and
// the GOAWAY at the end.
func TestOurClientNodeServer(t *testing.T) {
	for _, m := range serverModes {
		t.Run(m.name, func(t *testing.T) {
			args := []string{"server"}
			if m.auto31 {
				args = append(args, "--auto-spdy31")
			}
			node := startNode(t, args...)
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			var ls struct{ Port int }
			node.Wait(ctx, "listening", nil).Decode(t, &ls)

			conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(ls.Port)))
			if err != nil {
				t.Fatal(err)
			}
			sess, err := session.NewClient(conn, config(t, m.version))
			if err != nil {
				conn.Close()
				t.Fatal(err)
			}
			defer sess.Close()
			c := &clientRun{t: t, ctx: ctx, node: node, sess: sess, v: m.version}

			c.echo(bigBody, "one")
			c.concurrentEchoes(4, bigBody/4)
			c.download(bigBody)
			c.ping()
			c.nodePings()
			c.nodeResets()
			c.weReset()
			c.push(bigBody / 4)
			c.versionSeen()
			c.close()
		})
	}
}

// trace (-frames) logs every frame our sessions read and write.
var trace = flag.Bool("frames", false, "log every frame of our sessions")

// config is the session configuration of both directions' tests.
func config(t *testing.T, v session.Version) *session.Config {
	// node's spdy-transport needs both: see the Config docs.
	c := &session.Config{Version: v, V2Compat: true, ImplicitUnidirectionalPush: true}
	if *trace {
		c.Logger = slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.TraceFrames = true
	}
	return c
}

// tlog writes log lines to the test's log.
type tlog struct{ t *testing.T }

func (l tlog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

type clientRun struct {
	t    *testing.T
	ctx  context.Context
	node *nodepeer.Proc
	sess *session.Session
	v    session.Version
}

// open opens a stream and fails the test if it cannot.
func (c *clientRun) open(o *session.OpenOptions) *stream.Stream {
	c.t.Helper()
	st, err := c.sess.Open(c.ctx, o)
	if err != nil {
		c.t.Fatalf("Open %v: %v", o.Headers, err)
	}
	st.SetDeadline(time.Now().Add(testTimeout))
	return st
}

// replyHeaders waits for the SYN_REPLY of st and checks its status.
func (c *clientRun) replyHeaders(st *stream.Stream, status string) []hpackz.Field {
	c.t.Helper()
	h, err := st.WaitHeaders(c.ctx)
	if err != nil {
		c.t.Fatalf("stream %d: WaitHeaders: %v", st.ID(), err)
	}
	if got, _ := header(h, headerNames(c.v).status); got != status {
		c.t.Errorf("stream %d: status %q, want %q (headers %v)", st.ID(), got, status, h)
	}
	return h
}

type echoedEvent struct {
	ID     framing.StreamID
	Bytes  int
	Sha256 string
}

// startEcho opens an echo stream and sends n random bytes on it, then
// half-closes it; it returns the stream, the body's digest and a channel
// with the sender's error.
func (c *clientRun) startEcho(n int, tag string) (*stream.Stream, [32]byte, chan error) {
	c.t.Helper()
	body := make([]byte, n)
	rand.Read(body)
	st := c.open(&session.OpenOptions{Headers: request(c.v, "POST", "/echo",
		hpackz.Field{Name: "x-test", Value: tag},
		hpackz.Field{Name: "x-multi", Value: "a\x00b"})})
	sent := make(chan error, 1)
	go func() {
		// Several writes of odd sizes, then the half-close.
		for off := 0; off < len(body); {
			end := min(off+20000, len(body))
			if _, err := st.Write(body[off:end]); err != nil {
				sent <- err
				return
			}
			off = end
		}
		sent <- st.CloseWrite()
	}()
	return st, sha256.Sum256(body), sent
}

// finishEcho reads the echo of a stream started by startEcho and checks
// the body, the reply headers, the trailers and what node saw.
func (c *clientRun) finishEcho(st *stream.Stream, want [32]byte, n int, sent chan error, tag string) {
	c.t.Helper()
	h := c.replyHeaders(st, "200 OK")
	got, err := io.ReadAll(st)
	if err != nil {
		c.t.Fatalf("stream %d: reading the echo: %v", st.ID(), err)
	}
	if err := <-sent; err != nil {
		c.t.Fatalf("stream %d: sending: %v", st.ID(), err)
	}
	if len(got) != n || sha256.Sum256(got) != want {
		c.t.Errorf("stream %d: echo of %d bytes differs from the %d bytes sent", st.ID(), len(got), n)
	}
	for _, w := range []hpackz.Field{
		{Name: "x-echo-test", Value: tag},
		{Name: "x-seen-method", Value: "POST"},
		{Name: "x-seen-multi", Value: "a, b"}, // node joins received values with ", "
		{Name: "set-cookie", Value: "a=1\x00b=2"},
	} {
		if v, _ := header(h, w.Name); v != w.Value {
			c.t.Errorf("stream %d: reply header %s = %q, want %q", st.ID(), w.Name, v, w.Value)
		}
	}
	if v, _ := header(st.Trailers(), "x-trailer"); v != "done" {
		c.t.Errorf("stream %d: trailers %v, want x-trailer: done", st.ID(), st.Trailers())
	}
	var ev echoedEvent
	c.node.Wait(c.ctx, "echoed", func(e nodepeer.Event) bool {
		var x echoedEvent
		e.Decode(c.t, &x)
		return x.ID == st.ID()
	}).Decode(c.t, &ev)
	if ev.Bytes != n || ev.Sha256 != hex.EncodeToString(want[:]) {
		c.t.Errorf("stream %d: node received %d bytes (sha256 %s), want %d", st.ID(), ev.Bytes, ev.Sha256, n)
	}
	st.Close()
}

// echo sends n bytes on one stream and checks that node echoes them.
func (c *clientRun) echo(n int, tag string) {
	c.t.Helper()
	st, want, sent := c.startEcho(n, tag)
	c.finishEcho(st, want, n, sent, tag)
}

// concurrentEchoes runs k echo streams at once.
func (c *clientRun) concurrentEchoes(k, n int) {
	c.t.Helper()
	type run struct {
		st   *stream.Stream
		want [32]byte
		sent chan error
		tag  string
	}
	var runs []run
	for i := range k {
		tag := "concurrent-" + strconv.Itoa(i)
		st, want, sent := c.startEcho(n, tag)
		runs = append(runs, run{st, want, sent, tag})
	}
	// Streams are read one after the other: the others wait with full
	// windows meanwhile, which flow control must allow.
	for _, r := range runs {
		c.finishEcho(r.st, r.want, n, r.sent, r.tag)
	}
}

// download fetches n bytes that node sends after its reply.
func (c *clientRun) download(n int) {
	c.t.Helper()
	st := c.open(&session.OpenOptions{Fin: true, Headers: request(c.v, "GET", "/download",
		hpackz.Field{Name: "x-size", Value: strconv.Itoa(n)})})
	defer st.Close()
	h := c.replyHeaders(st, "200 OK")
	got, err := io.ReadAll(st)
	if err != nil {
		c.t.Fatalf("download: %v", err)
	}
	sum := sha256.Sum256(got)
	if want, _ := header(h, "x-sha256"); len(got) != n || hex.EncodeToString(sum[:]) != want {
		c.t.Errorf("download: %d bytes with sha256 %x, want %d bytes with %s", len(got), sum, n, want)
	}
}

// ping measures a round trip to node.
func (c *clientRun) ping() {
	c.t.Helper()
	before := c.sess.Stats().PingsSent
	if _, err := c.sess.Ping(c.ctx); err != nil {
		c.t.Fatalf("Ping: %v", err)
	}
	if got := c.sess.Stats().PingsSent; got <= before {
		c.t.Errorf("PingsSent %d after a ping, was %d", got, before)
	}
	c.node.Wait(c.ctx, "ping", func(e nodepeer.Event) bool {
		var p struct {
			Role string
			Ack  bool
		}
		e.Decode(c.t, &p)
		return p.Role == "server" && !p.Ack
	})
}

// nodePings has node ping us before it replies.
func (c *clientRun) nodePings() {
	c.t.Helper()
	before := c.sess.Stats().PingsReceived
	st := c.open(&session.OpenOptions{Fin: true, Headers: request(c.v, "GET", "/ping")})
	defer st.Close()
	h := c.replyHeaders(st, "200 OK")
	if v, _ := header(h, "x-ping"); v != "pong" {
		c.t.Errorf("node's ping: x-ping %q, want pong", v)
	}
	if _, err := io.ReadAll(st); err != nil {
		c.t.Errorf("node's ping: reading: %v", err)
	}
	if got := c.sess.Stats().PingsReceived; got <= before {
		c.t.Errorf("PingsReceived %d after node's ping, was %d", got, before)
	}
}

// nodeResets has node reply, send a little and reset with INTERNAL_ERROR.
func (c *clientRun) nodeResets() {
	c.t.Helper()
	st := c.open(&session.OpenOptions{Fin: true, Headers: request(c.v, "GET", "/reset")})
	defer st.Close()
	c.replyHeaders(st, "200 OK")
	_, err := io.ReadAll(st)
	var re *stream.ResetError
	if !errors.As(err, &re) || !re.Remote || re.Status != framing.StatusInternalError {
		c.t.Errorf("stream reset by node: read error %v, want a remote reset with INTERNAL_ERROR", err)
	}
}

// weReset resets a stream that node holds open.
func (c *clientRun) weReset() {
	c.t.Helper()
	st := c.open(&session.OpenOptions{Headers: request(c.v, "POST", "/hold")})
	c.replyHeaders(st, "200 OK")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(st, buf); err != nil || string(buf) != "held" {
		c.t.Fatalf("held stream: read %q, %v", buf, err)
	}
	if err := st.Reset(framing.StatusCancel); err != nil {
		c.t.Fatalf("Reset: %v", err)
	}
	id := st.ID()
	c.node.Wait(c.ctx, "rst", func(e nodepeer.Event) bool {
		var r struct {
			Role string
			ID   framing.StreamID
			Code string
		}
		e.Decode(c.t, &r)
		return r.Role == "server" && r.ID == id && r.Code == "CANCEL"
	})
}

// push requests a resource that node answers with a push of n bytes.
func (c *clientRun) push(n int) {
	c.t.Helper()
	parent := c.open(&session.OpenOptions{Fin: true, Headers: request(c.v, "GET", "/push",
		hpackz.Field{Name: "x-size", Value: strconv.Itoa(n)})})
	defer parent.Close()
	pushed, err := c.sess.Accept(c.ctx)
	if err != nil {
		c.t.Fatalf("Accept (push): %v", err)
	}
	defer pushed.Close()
	pushed.SetDeadline(time.Now().Add(testTimeout))
	if pushed.AssociatedTo() != parent.ID() {
		c.t.Errorf("pushed stream %d associated to %d, want %d", pushed.ID(), pushed.AssociatedTo(), parent.ID())
	}
	if pushed.ID()%2 != 0 {
		c.t.Errorf("pushed stream id %d is odd", pushed.ID())
	}
	hn := headerNames(c.v)
	ph := pushed.Headers()
	for _, w := range []hpackz.Field{
		{Name: hn.path, Value: "/pushed.txt"},
		{Name: hn.status, Value: "200"}, // pushes carry the bare code
		{Name: "x-pushed", Value: "yes"},
		{Name: "content-type", Value: "application/octet-stream"},
	} {
		if v, _ := header(ph, w.Name); v != w.Value {
			c.t.Errorf("pushed stream: header %s = %q, want %q (headers %v)", w.Name, v, w.Value, ph)
		}
	}
	body, err := io.ReadAll(pushed)
	sum := sha256.Sum256(body)
	if want, _ := header(ph, "x-sha256"); err != nil || len(body) != n || hex.EncodeToString(sum[:]) != want {
		c.t.Errorf("pushed stream: %d bytes with sha256 %x, %v; want %d bytes with %s", len(body), sum, err, n, want)
	}
	h := c.replyHeaders(parent, "200 OK")
	if v, _ := header(h, "x-pushed-id"); v != strconv.Itoa(int(pushed.ID())) {
		c.t.Errorf("parent: x-pushed-id %q, want %d", v, pushed.ID())
	}
	pb, err := io.ReadAll(parent)
	if err != nil || string(pb) != "parent body" {
		c.t.Errorf("parent: body %q, %v", pb, err)
	}
}

// versionSeen checks the versions node's connection went through: the
// version of the first frame, then 3.1 once a SPDY/3.1 client's session
// WINDOW_UPDATE arrived (with autoSpdy31).
func (c *clientRun) versionSeen() {
	c.t.Helper()
	var seen []string
	for _, e := range c.node.All() {
		if e.Name == "version" {
			var v struct{ Version float64 }
			e.Decode(c.t, &v)
			seen = append(seen, strconv.FormatFloat(v.Version, 'f', -1, 64))
		}
	}
	want := map[session.Version]string{session.V2: "2", session.V3: "3", session.V31: "3 3.1"}[c.v]
	if got := strings.Join(seen, " "); got != want {
		c.t.Errorf("node's connection went through versions %q, want %q", got, want)
	}
}

// close ends the session and checks that node took the GOAWAY and closed
// without an error.
func (c *clientRun) close() {
	c.t.Helper()
	if err := c.sess.Close(); err != nil {
		c.t.Errorf("Close: %v", err)
	}
	c.node.Wait(c.ctx, "goaway", func(e nodepeer.Event) bool {
		var g struct{ Role, Code string }
		e.Decode(c.t, &g)
		return g.Role == "server" && g.Code == "OK"
	})
	var cl struct{ Error *string }
	c.node.Wait(c.ctx, "close", nil).Decode(c.t, &cl)
	for _, e := range c.node.All() {
		if e.Name == "error" || e.Name == "stream-error" && !bytes.Contains(e.Raw, []byte("Got RST")) {
			c.t.Errorf("node reported %s", e.Raw)
		}
	}
}
