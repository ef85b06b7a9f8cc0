package nodetransport

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/internal/interop/nodepeer"
	"github.com/spdygo/spdy/session"
	"github.com/spdygo/spdy/stream"
)

// TestNodeClientOurServer runs a spdy-transport client against our server
// session. The client runs a fixed scenario (see ../node/peer.js) and
// prints what it got; our server checks what it received.
func TestNodeClientOurServer(t *testing.T) {
	for _, v := range versions {
		t.Run(strings.ReplaceAll(v.String(), "/", ""), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
			node := startNode(t, "client", "--port", port, "--version", nodeVersion(v), "--size", strconv.Itoa(bigBody))

			ln.(*net.TCPListener).SetDeadline(time.Now().Add(testTimeout))
			conn, err := ln.Accept()
			if err != nil {
				t.Fatalf("accepting node's connection: %v", err)
			}
			cfg := config(t, v)
			cfg.ManualReply = true // node resets streams whose reply has no status
			sess, err := session.NewServer(conn, cfg)
			if err != nil {
				conn.Close()
				t.Fatal(err)
			}
			defer sess.Close()
			srv := &serverRun{t: t, ctx: ctx, sess: sess, v: v, echoes: map[string]serverEcho{}, shutdown: make(chan error, 1)}
			srv.serve()

			var res nodeResult
			node.Wait(ctx, "result", nil).Decode(t, &res)
			if err := node.WaitExit(ctx); err != nil {
				t.Errorf("node client exited with %v", err)
			}
			select {
			case <-sess.Done():
			case <-ctx.Done():
				t.Fatal("session still running after node exited")
			}
			srv.wg.Wait()
			select {
			case err := <-srv.shutdown:
				if err != nil {
					t.Errorf("Shutdown: %v", err)
				}
			default:
				t.Error("the session ended before Shutdown was called")
			}
			if err := sess.Err(); !errors.Is(err, session.ErrClosed) {
				t.Errorf("session ended with %v, want ErrClosed after Shutdown", err)
			}
			srv.check(node, &res)
		})
	}
}

// nodeResult is what the node client printed at the end of its scenario.
type nodeResult struct {
	Done, Timeout, ClosedEarly bool
	Echo                       nodeRequest
	Concurrent                 []nodeRequest
	Ping                       string
	ServerPing                 nodeRequest
	Reset                      nodeRequest
	Hold                       nodeRequest
	Drain                      nodeRequest
	Push                       struct {
		Parent   nodeRequest
		Promises []struct {
			ID              framing.StreamID
			Path            string
			Headers         map[string]any
			Status          int
			ResponseHeaders map[string]any
			BodyBytes       int
			BodySha256      string
			Error           *string
		}
	}
}

// nodeRequest is one stream the node client opened.
type nodeRequest struct {
	ID           framing.StreamID
	SentBytes    int
	SentSha256   string
	Status       int
	Headers      map[string]any
	Trailers     map[string]any
	BodyBytes    int
	BodySha256   string
	BodyText     string
	FirstData    string
	Goaway       string
	GoawayLastID framing.StreamID `json:"goawayLastId"`
	Error        *string
}

type serverEcho struct {
	id      framing.StreamID
	headers []hpackz.Field
	bytes   int
	sha256  string
}

type serverRun struct {
	t    *testing.T
	ctx  context.Context
	sess *session.Session
	v    session.Version
	wg   sync.WaitGroup

	mu       sync.Mutex
	echoes   map[string]serverEcho // by x-test
	pingErr  error
	pinged   bool
	holdErr  error
	pushSum  string
	pushSize int
	drainSum string
	shutdown chan error // Shutdown's result
}

// fail reports a failure seen by a stream handler; handlers end before
// the test does.
func (s *serverRun) fail(format string, args ...any) { s.t.Errorf(format, args...) }

// serve accepts the streams node opens, each on its own goroutine, until
// the session ends.
func (s *serverRun) serve() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			st, err := s.sess.Accept(context.Background())
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer st.Close()
				st.SetDeadline(time.Now().Add(testTimeout))
				s.handle(st)
			}()
		}
	}()
}

func (s *serverRun) handle(st *stream.Stream) {
	n := headerNames(s.v)
	h := st.Headers()
	path, _ := header(h, n.path)
	method, _ := header(h, n.method)
	switch path {
	case "/echo":
		tag, _ := header(h, "x-test")
		if err := st.Reply(response(s.v, "200 OK",
			hpackz.Field{Name: "x-echo-test", Value: tag},
			hpackz.Field{Name: "x-seen-method", Value: method}), false); err != nil {
			s.fail("echo %s: Reply: %v", tag, err)
			return
		}
		hash := sha256.New()
		buf := make([]byte, 24<<10)
		total := 0
		for {
			k, err := st.Read(buf)
			if k > 0 {
				hash.Write(buf[:k])
				total += k
				if _, werr := st.Write(buf[:k]); werr != nil {
					s.fail("echo %s: Write: %v", tag, werr)
					return
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				s.fail("echo %s: Read: %v", tag, err)
				return
			}
		}
		// node ignores FIN on HEADERS frames: trailers, then an empty
		// DATA with FIN.
		if err := st.SendHeaders([]hpackz.Field{{Name: "x-trailer", Value: "done"}}, false); err != nil {
			s.fail("echo %s: SendHeaders: %v", tag, err)
		}
		if err := st.CloseWrite(); err != nil {
			s.fail("echo %s: CloseWrite: %v", tag, err)
		}
		s.mu.Lock()
		s.echoes[tag] = serverEcho{id: st.ID(), headers: h, bytes: total, sha256: hex.EncodeToString(hash.Sum(nil))}
		s.mu.Unlock()
		<-st.Done()

	case "/ping":
		// Ping node, then reply with FIN in the SYN_REPLY.
		_, err := s.sess.Ping(s.ctx)
		s.mu.Lock()
		s.pinged, s.pingErr = true, err
		s.mu.Unlock()
		if err := st.Reply(response(s.v, "200 OK", hpackz.Field{Name: "x-ping", Value: "pong"}), true); err != nil {
			s.fail("ping: Reply: %v", err)
		}
		<-st.Done()

	case "/reset":
		st.Reply(response(s.v, "200 OK"), false)
		st.Write([]byte("partial"))
		st.Reset(framing.StatusInternalError)

	case "/hold":
		st.Reply(response(s.v, "200 OK"), false)
		st.Write([]byte("held"))
		_, err := io.Copy(io.Discard, st)
		s.mu.Lock()
		s.holdErr = err
		s.mu.Unlock()

	case "/push":
		body := make([]byte, bigBody/4)
		rand.Read(body)
		sum := sha256.Sum256(body)
		fields := []hpackz.Field{
			{Name: n.method, Value: "GET"},
			{Name: n.path, Value: "/pushed.txt"},
			{Name: n.scheme, Value: "http"},
			{Name: n.host, Value: "127.0.0.1"},
			// node needs the status in the pushed SYN_STREAM itself.
			{Name: n.status, Value: "200"},
			{Name: n.version, Value: "HTTP/1.1"},
			{Name: "content-type", Value: "application/octet-stream"},
			{Name: "x-sha256", Value: hex.EncodeToString(sum[:])},
		}
		p, err := s.sess.Push(s.ctx, st.ID(), fields, 0)
		if err != nil {
			s.fail("Push: %v", err)
			return
		}
		s.mu.Lock()
		s.pushSum, s.pushSize = hex.EncodeToString(sum[:]), len(body)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer p.Close()
			p.SetDeadline(time.Now().Add(testTimeout))
			if _, err := p.Write(body); err != nil {
				s.fail("push: Write: %v", err)
			}
			if err := p.CloseWrite(); err != nil {
				s.fail("push: CloseWrite: %v", err)
			}
			<-p.Done()
		}()
		st.Reply(response(s.v, "200 OK", hpackz.Field{Name: "x-pushed-id", Value: strconv.Itoa(int(p.ID()))}), false)
		st.Write([]byte("parent body"))
		st.CloseWrite()
		<-st.Done()

	case "/drain":
		// Shut down gracefully with this stream open: node finishes its
		// side once it has the GOAWAY, and our body follows.
		st.Reply(response(s.v, "200 OK"), false)
		go func() { s.shutdown <- s.sess.Shutdown(s.ctx) }()
		got, err := io.ReadAll(st)
		if err != nil || string(got) != "go" {
			s.fail("/drain: read %q, %v; want go", got, err)
			return
		}
		body := make([]byte, bigBody/4)
		rand.Read(body)
		sum := sha256.Sum256(body)
		s.mu.Lock()
		s.drainSum = hex.EncodeToString(sum[:])
		s.mu.Unlock()
		if _, err := st.Write(body); err != nil {
			s.fail("/drain: Write after GOAWAY: %v", err)
		}
		st.CloseWrite()
		<-st.Done()

	default:
		s.fail("node opened a stream for %q (headers %v)", path, h)
		st.Reset(framing.StatusRefusedStream)
	}
}

// check compares what node reported with what our server sent and saw.
func (s *serverRun) check(node *nodepeer.Proc, res *nodeResult) {
	t := s.t
	if !res.Done || res.Timeout || res.ClosedEarly {
		t.Fatalf("node's scenario did not finish: done=%v timeout=%v closedEarly=%v", res.Done, res.Timeout, res.ClosedEarly)
	}
	n := headerNames(s.v)
	s.mu.Lock()
	defer s.mu.Unlock()

	checkEcho := func(name, tag, method string, r nodeRequest) {
		t.Helper()
		if r.Error != nil || r.Status != 200 {
			t.Errorf("%s: node got status %d, error %v", name, r.Status, deref(r.Error))
		}
		if r.SentSha256 == "" || r.BodySha256 != r.SentSha256 || r.BodyBytes != r.SentBytes {
			t.Errorf("%s: node got %d bytes (sha256 %s) back for %d sent (sha256 %s)", name, r.BodyBytes, r.BodySha256, r.SentBytes, r.SentSha256)
		}
		if r.Headers["x-echo-test"] != tag || r.Headers["x-seen-method"] != method {
			t.Errorf("%s: node got reply headers %v", name, r.Headers)
		}
		if r.Trailers["x-trailer"] != "done" {
			t.Errorf("%s: node got trailers %v, want x-trailer: done", name, r.Trailers)
		}
		e, ok := s.echoes[tag]
		if !ok {
			t.Errorf("%s: our server saw no echo stream tagged %q", name, tag)
			return
		}
		if e.bytes != r.SentBytes || e.sha256 != r.SentSha256 {
			t.Errorf("%s: our server received %d bytes (sha256 %s), node sent %d (sha256 %s)", name, e.bytes, e.sha256, r.SentBytes, r.SentSha256)
		}
		if m, _ := header(e.headers, n.method); m != method {
			t.Errorf("%s: our server saw method %q, want %s", name, m, method)
		}
		if host, _ := header(e.headers, n.host); host != "127.0.0.1" {
			t.Errorf("%s: our server saw host %q (headers %v)", name, host, e.headers)
		}
	}
	checkEcho("echo", "from-node", "POST", res.Echo)
	if e := s.echoes["from-node"]; e.headers != nil {
		// node sends a list as NUL-separated values.
		if c, _ := header(e.headers, "set-cookie"); c != "c=1\x00d=2" {
			t.Errorf("echo: set-cookie %q, want c=1\\x00d=2", c)
		}
	}
	if len(res.Concurrent) != 4 {
		t.Errorf("node ran %d concurrent echoes, want 4", len(res.Concurrent))
	}
	for i, r := range res.Concurrent {
		checkEcho("concurrent echo "+strconv.Itoa(i), "concurrent-"+strconv.Itoa(i), "PUT", r)
	}

	if res.Ping != "pong" {
		t.Errorf("node's ping: %q", res.Ping)
	}
	if !s.pinged || s.pingErr != nil {
		t.Errorf("our ping of node: done %v, error %v", s.pinged, s.pingErr)
	}
	if r := res.ServerPing; r.Status != 200 || r.Headers["x-ping"] != "pong" || r.Error != nil {
		t.Errorf("/ping: node got status %d, headers %v, error %v", r.Status, r.Headers, deref(r.Error))
	}

	if r := res.Reset; deref(r.Error) != "Got RST: INTERNAL_ERROR" {
		t.Errorf("/reset: node's stream error %q, want our RST INTERNAL_ERROR", deref(r.Error))
	}
	var re *stream.ResetError
	if !errors.As(s.holdErr, &re) || !re.Remote || re.Status != framing.StatusCancel {
		t.Errorf("/hold: our read error %v, want node's RST CANCEL", s.holdErr)
	}
	if res.Hold.FirstData != "held" {
		t.Errorf("/hold: node read %q first, want held", res.Hold.FirstData)
	}

	pp := res.Push.Parent
	if pp.Status != 200 || pp.BodyText != "parent body" || pp.Error != nil {
		t.Errorf("/push: node got status %d, body %q, error %v", pp.Status, pp.BodyText, deref(pp.Error))
	}
	if len(res.Push.Promises) != 1 {
		t.Fatalf("/push: node got %d pushes, want 1", len(res.Push.Promises))
	}
	p := res.Push.Promises[0]
	if p.Path != "/pushed.txt" || p.Status != 200 || p.Error != nil {
		t.Errorf("/push: node got a push of %q, status %d, error %v", p.Path, p.Status, deref(p.Error))
	}
	if p.BodyBytes != s.pushSize || p.BodySha256 != s.pushSum {
		t.Errorf("/push: node got %d bytes (sha256 %s), we pushed %d (sha256 %s)", p.BodyBytes, p.BodySha256, s.pushSize, s.pushSum)
	}
	if id, _ := strconv.Atoi(pp.headerString("x-pushed-id")); framing.StreamID(id) != p.ID {
		t.Errorf("/push: pushed stream %d, our reply named %q", p.ID, pp.headerString("x-pushed-id"))
	}

	if d := res.Drain; d.Goaway != "OK" || d.Status != 200 || d.Error != nil || d.BodySha256 != s.drainSum {
		t.Errorf("/drain: node saw GOAWAY %q, status %d, error %v, body sha256 %s (want %s)", d.Goaway, d.Status, deref(d.Error), d.BodySha256, s.drainSum)
	} else if d.GoawayLastID != d.ID || d.ID == 0 {
		t.Errorf("/drain: our GOAWAY named stream %d as the last good one, want the open stream %d", d.GoawayLastID, d.ID)
	}

	sessionUpdates := 0
	for _, e := range node.All() {
		switch e.Name {
		case "error", "stream-error":
			if !strings.Contains(string(e.Raw), "Got RST: INTERNAL_ERROR") {
				t.Errorf("node reported %s", e.Raw)
			}
		case "session-window":
			sessionUpdates++
		}
	}
	// Session credit flows in SPDY/3.1 only.
	if s.v == session.V31 && sessionUpdates == 0 {
		t.Errorf("node got no session WINDOW_UPDATE from our SPDY/3.1 server")
	}
	if s.v != session.V31 && sessionUpdates != 0 {
		t.Errorf("node got %d session WINDOW_UPDATEs from our %v server", sessionUpdates, s.v)
	}
}

func (r nodeRequest) headerString(name string) string {
	v, _ := r.Headers[name].(string)
	return v
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
