package kubeupgrade

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/npn"
	"github.com/spdygo/spdy/session"
	"github.com/spdygo/spdy/stream"
)

// ourUpgradeServer is an http.Server whose handler switches to SPDY with
// npn.Upgrade and serves port-forward streams as kubelet does: each
// "data" stream is echoed (the forwarded port is an echo server), and each
// "error" stream is closed, empty, once the data stream of its requestID
// has finished.
type ourUpgradeServer struct {
	t     *testing.T
	addr  string
	v     session.Version
	ctx   context.Context
	close context.CancelFunc

	wg      sync.WaitGroup
	results chan upgradeResult
}

// upgradeResult is what our handler saw of one upgraded connection.
type upgradeResult struct {
	protocol string
	err      error // of Upgrade (the 400 and 403 answers) or of a stream
	ping     error // our PING to the client
	streams  []streamSeen
}

type streamSeen struct {
	typ, port, requestID string
	echoed               int
}

var ourProtocols = []string{portForwardProtocol, "v4.channel.k8s.io"}

func startOurUpgradeServer(t *testing.T, useTLS bool, v session.Version) (*ourUpgradeServer, *tls.Config) {
	t.Helper()
	s := &ourUpgradeServer{t: t, v: v, results: make(chan upgradeResult, 4)}
	s.ctx, s.close = context.WithCancel(context.Background())
	addr, cert := serveHTTP(t, s, useTLS, s.close, &s.wg)
	s.addr = addr
	if cert == nil {
		return s, nil
	}
	return s, &tls.Config{RootCAs: cert.Pool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}}
}

func (s *ourUpgradeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.wg.Add(1)
	defer s.wg.Done()
	sess, proto, err := npn.Upgrade(w, r, &npn.UpgradeOptions{Protocols: ourProtocols, Session: ourConfig(s.v)})
	if err != nil {
		s.report(upgradeResult{err: err})
		return
	}
	defer sess.Close()
	res := upgradeResult{protocol: proto}
	stop := context.AfterFunc(s.ctx, func() { sess.Close() })
	defer stop()

	var mu sync.Mutex
	pairs := map[string]chan struct{}{} // requestID -> closed when its data stream is done
	pair := func(id string) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		if pairs[id] == nil {
			pairs[id] = make(chan struct{})
		}
		return pairs[id]
	}
	pinged := make(chan error, 1)
	go func() {
		_, err := sess.Ping(s.ctx)
		pinged <- err
	}()
	var swg sync.WaitGroup
	for {
		st, err := sess.Accept(s.ctx)
		if err != nil {
			break // the client's GOAWAY, or the end of the session
		}
		seen := streamSeen{typ: st.Header("streamtype"), port: st.Header("port"), requestID: st.Header("requestid")}
		swg.Add(1)
		go func() {
			defer swg.Done()
			var err error
			switch seen.typ {
			case streamTypeData:
				seen.echoed, err = echo(st)
				close(pair(seen.requestID))
			case streamTypeError:
				err = closeAfter(s.ctx, st, pair(seen.requestID), sess.Done())
			default:
				st.Reset(framing.StatusRefusedStream)
				err = fmt.Errorf("unexpected stream type %q", seen.typ)
			}
			mu.Lock()
			res.streams = append(res.streams, seen)
			if err != nil && res.err == nil {
				res.err = err
			}
			mu.Unlock()
		}()
	}
	swg.Wait()
	res.ping = <-pinged
	s.report(res)
}

// echo copies the stream back to its sender until its FIN, then closes
// its side.
func echo(st *stream.Stream) (int, error) {
	n, err := io.Copy(st, st)
	if err != nil {
		st.Close()
		return int(n), fmt.Errorf("echo: %w", err)
	}
	return int(n), st.CloseWrite()
}

// closeAfter reads the error stream (the client half-closes it at once)
// and closes it when its data stream is done.
func closeAfter(ctx context.Context, st *stream.Stream, done <-chan struct{}, sessDone <-chan struct{}) error {
	b, err := io.ReadAll(st)
	if err != nil || len(b) != 0 {
		st.Close()
		return fmt.Errorf("error stream: read %q, %v", b, err)
	}
	select {
	case <-done:
	case <-sessDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	return st.CloseWrite()
}

func (s *ourUpgradeServer) report(r upgradeResult) {
	select {
	case s.results <- r:
	default:
	}
}

func (s *ourUpgradeServer) result(t *testing.T, ctx context.Context) upgradeResult {
	t.Helper()
	select {
	case r := <-s.results:
		return r
	case <-ctx.Done():
		t.Fatal("our handler did not finish")
		return upgradeResult{}
	}
}

// kubeDial upgrades a connection to addr as client-go's SpdyRoundTripper
// does: it writes the request with Connection: Upgrade, Upgrade: SPDY/3.1
// and one X-Stream-Protocol-Version per subprotocol, reads the response
// with http.ReadResponse, and on 101 starts a spdystream client connection
// on the connection, wrapped so that bytes the reader had buffered are
// read first. Any other response is returned with its body read.
func kubeDial(ctx context.Context, addr string, clientTLS *tls.Config, protocols []string, upgradeHeaders bool) (*spdyPeer, *http.Response, []byte, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, nil, err
	}
	conn := raw
	scheme := "http"
	if clientTLS != nil {
		tc := tls.Client(raw, clientTLS.Clone())
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, nil, nil, err
		}
		conn, scheme = tc, "https"
	}
	req, err := http.NewRequest(http.MethodPost, scheme+"://"+addr+"/api/v1/namespaces/ns/pods/pod/portforward", nil)
	if err != nil {
		raw.Close()
		return nil, nil, nil, err
	}
	if upgradeHeaders {
		req.Header.Set(headerConnection, headerUpgrade)
		req.Header.Set(headerUpgrade, headerSpdy31)
	}
	for _, p := range protocols {
		req.Header.Add(headerProtocolVersion, p)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, nil, nil, err
	}
	// The response and the first SPDY frame after it reach the HTTP
	// reader in one read, so that the reader holds bytes of the session
	// when the response is parsed: the wrapping below must hand them on.
	br := bufio.NewReader(&coalescingConn{Conn: conn})
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, nil, nil, err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols && br.Buffered() == 0 {
		conn.Close()
		return nil, resp, nil, errors.New("no SPDY bytes were buffered with the 101 response")
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		conn.Close()
		return nil, resp, body, nil
	}
	// client-go's check of the 101 (SpdyRoundTripper.NewConnection).
	if !strings.Contains(strings.ToLower(resp.Header.Get(headerConnection)), "upgrade") ||
		!strings.Contains(strings.ToLower(resp.Header.Get(headerUpgrade)), strings.ToLower(headerSpdy31)) {
		conn.Close()
		return nil, resp, nil, fmt.Errorf("unable to upgrade connection: %v", resp.Header)
	}
	conn.SetDeadline(time.Time{})
	p, err := newSpdyPeer(&bufConn{Conn: conn, br: br}, conn, false)
	if err != nil {
		conn.Close()
		return nil, resp, nil, err
	}
	return p, resp, nil, nil
}

// coalescingConn holds its first Read until it has the end of an HTTP
// response head and, after a 101, the whole first frame that follows it,
// and returns them together.
type coalescingConn struct {
	net.Conn
	held []byte
	done bool
}

func (c *coalescingConn) Read(p []byte) (int, error) {
	if !c.done {
		c.done = true
		buf := make([]byte, 4096)
		for !c.complete() {
			n, err := c.Conn.Read(buf)
			c.held = append(c.held, buf[:n]...)
			if err != nil {
				break
			}
		}
	}
	if len(c.held) > 0 {
		n := copy(p, c.held)
		c.held = c.held[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// complete reports whether held has a response head and, for a 101, a
// whole SPDY frame after it.
func (c *coalescingConn) complete() bool {
	end := bytes.Index(c.held, []byte("\r\n\r\n"))
	if end < 0 {
		return false
	}
	if !bytes.HasPrefix(c.held, []byte("HTTP/1.1 101")) {
		return true
	}
	rest := c.held[end+4:]
	if len(rest) < 8 {
		return false
	}
	length := int(rest[5])<<16 | int(rest[6])<<8 | int(rest[7])
	return len(rest) >= 8+length
}

// TestKubeClientOurServer runs the client-go-style client against our
// npn.Upgrade server, over plain TCP and TLS, with our session speaking
// SPDY/3 or SPDY/3.1 after the upgrade: port-forward's subprotocol is
// negotiated, 8 requests each open an error and a data stream (headers
// streamType, port, requestID) that our side accepts; 1 MiB per data
// stream is echoed back while the client pings (spdystream's Ping, as
// client-go's keepalive does) and our server pings it; our server closes
// each error stream empty once its data stream is done; the client then
// closes as client-go does (every stream reset, then GOAWAY), which ends
// our handler's session.
func TestKubeClientOurServer(t *testing.T) {
	const (
		requests = 8
		size     = 1 << 20
		pings    = 5
	)
	for _, useTLS := range []bool{false, true} {
		for _, v := range upgradeVersions {
			name := "plain/" + versionName(v)
			if useTLS {
				name = "tls/" + versionName(v)
			}
			t.Run(name, func(t *testing.T) {
				ctx := testContext(t)
				s, clientTLS := startOurUpgradeServer(t, useTLS, v)
				p, resp, body, err := kubeDial(ctx, s.addr, clientTLS, []string{portForwardProtocol}, true)
				if err != nil {
					t.Fatalf("upgrade: %v", err)
				}
				if p == nil {
					t.Fatalf("upgrade answered %s: %q", resp.Status, body)
				}
				defer p.close()
				if got := resp.Header.Get(headerProtocolVersion); got != portForwardProtocol {
					t.Errorf("101 names %s %q", headerProtocolVersion, got)
				}

				pingErrs := make(chan error, 1)
				go func() {
					for range pings {
						if rtt, err := p.sc.Ping(); err != nil || rtt <= 0 {
							pingErrs <- fmt.Errorf("spdystream Ping: %v, %v", rtt, err)
							return
						}
					}
					pingErrs <- nil
				}()

				var wg sync.WaitGroup
				errs := make(chan error, 2*requests)
				for i := range requests {
					wg.Add(1)
					go func() {
						defer wg.Done()
						errs <- portForward(p, i, payload(uint64(i), size))
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Error(err)
					}
				}
				if err := <-pingErrs; err != nil {
					t.Error(err)
				}
				if err := p.close(); err != nil {
					t.Error(err)
				}

				res := s.result(t, ctx)
				if res.err != nil {
					t.Errorf("our server: %v", res.err)
				}
				if res.ping != nil {
					t.Errorf("our server's Ping: %v", res.ping)
				}
				if res.protocol != portForwardProtocol {
					t.Errorf("our server chose %q", res.protocol)
				}
				if len(res.streams) != 2*requests {
					t.Errorf("our server accepted %d streams, want %d", len(res.streams), 2*requests)
				}
				for _, st := range res.streams {
					if st.port != "8080" || st.requestID == "" || (st.typ == streamTypeData && st.echoed != size) {
						t.Errorf("stream %+v", st)
					}
				}
			})
		}
	}

	t.Run("403-no-common-protocol", func(t *testing.T) {
		ctx := testContext(t)
		s, _ := startOurUpgradeServer(t, false, session.V31)
		p, resp, body, err := kubeDial(ctx, s.addr, nil, []string{"v9.example.com"}, true)
		if err != nil || p != nil {
			t.Fatalf("upgrade: %v (session %v), want a 403", err, p != nil)
		}
		if resp.StatusCode != http.StatusForbidden || !slices.Equal(resp.Header[headerAcceptedProtocols], ourProtocols) {
			t.Errorf("%s, %s %q (body %q), want 403 naming %q", resp.Status, headerAcceptedProtocols, resp.Header[headerAcceptedProtocols], body, ourProtocols)
		}
		if res := s.result(t, ctx); !errors.Is(res.err, npn.ErrNoCommonProtocol) {
			t.Errorf("Upgrade: %v", res.err)
		}
	})
	t.Run("400-no-upgrade-headers", func(t *testing.T) {
		ctx := testContext(t)
		s, _ := startOurUpgradeServer(t, false, session.V31)
		p, resp, body, err := kubeDial(ctx, s.addr, nil, []string{portForwardProtocol}, false)
		if err != nil || p != nil {
			t.Fatalf("upgrade: %v (session %v), want a 400", err, p != nil)
		}
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "missing upgrade headers") {
			t.Errorf("%s %q, want 400", resp.Status, body)
		}
		if res := s.result(t, ctx); !errors.Is(res.err, npn.ErrNotUpgrade) {
			t.Errorf("Upgrade: %v", res.err)
		}
	})
	t.Run("400-no-protocol", func(t *testing.T) {
		ctx := testContext(t)
		s, _ := startOurUpgradeServer(t, false, session.V31)
		p, resp, body, err := kubeDial(ctx, s.addr, nil, nil, true)
		if err != nil || p != nil {
			t.Fatalf("upgrade: %v (session %v), want a 400", err, p != nil)
		}
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s %q, want 400", resp.Status, body)
		}
		if res := s.result(t, ctx); !errors.Is(res.err, npn.ErrNoProtocol) {
			t.Errorf("Upgrade: %v", res.err)
		}
	})
}

// portForward runs one port-forward request as client-go does: an error
// stream, half-closed at once, then a data stream, both with the port and
// the requestID; it sends data, half-closes, and checks the echo and that
// the error stream ends empty.
func portForward(p *spdyPeer, id int, data []byte) error {
	h := func(typ string) http.Header {
		h := http.Header{}
		h.Set(headerStreamType, typ)
		h.Set("port", "8080")
		h.Set("requestID", strconv.Itoa(id))
		return h
	}
	errSt, err := p.create(h(streamTypeError))
	if err != nil {
		return fmt.Errorf("request %d: error stream: %w", id, err)
	}
	if err := errSt.Close(); err != nil {
		return err
	}
	errC := readAll(errSt)
	dataSt, err := p.create(h(streamTypeData))
	if err != nil {
		return fmt.Errorf("request %d: data stream: %w", id, err)
	}
	back := readAll(dataSt)
	if _, err := dataSt.Write(data); err != nil {
		return fmt.Errorf("request %d: writing: %w", id, err)
	}
	if err := dataSt.Close(); err != nil {
		return err
	}
	r := <-back
	if r.err != nil || string(r.b) != string(data) {
		return fmt.Errorf("request %d: echo of %d bytes: %d back, same %v, error %v", id, len(data), len(r.b), string(r.b) == string(data), r.err)
	}
	if e := <-errC; e.err != nil || len(e.b) != 0 {
		return fmt.Errorf("request %d: error stream read %q, %v; want it closed empty", id, e.b, e.err)
	}
	return nil
}
