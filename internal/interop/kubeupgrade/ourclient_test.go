package kubeupgrade

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/spdystream"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/npn"
	"github.com/spdygo/spdy/session"
	"github.com/spdygo/spdy/stream"
)

// kubeServer serves exec over SPDY as kubelet does (and the API server,
// which proxies it): net/http answers the upgrade, the hijacked
// connection becomes a spdystream server connection, the client's streams
// are replied to with empty headers and sorted by their streamType, the
// server pings the client, runs the "command" (tr a-z A-Z from stdin to
// stdout), writes the exec status to the error stream, and closes the
// connection as kubelet does: every stream reset, then GOAWAY.
type kubeServer struct {
	t    *testing.T
	url  string
	done chan struct{} // closed when the test ends

	wg      sync.WaitGroup
	results chan kubeExec
}

// kubeExec is what the server saw of one exec session.
type kubeExec struct {
	protocol string
	headers  map[string]http.Header // by streamType
	stdin    int                    // bytes read from stdin
	ping     error                  // the server's PING to the client
	err      error
}

func startKubeServer(t *testing.T, useTLS bool) (*kubeServer, *tls.Config) {
	t.Helper()
	k := &kubeServer{t: t, done: make(chan struct{}), results: make(chan kubeExec, 4)}
	addr, cert := serveHTTP(t, k, useTLS, func() { close(k.done) }, &k.wg)
	if cert == nil {
		k.url = "http://" + addr
		return k, nil
	}
	k.url = "https://" + addr
	return k, &tls.Config{RootCAs: cert.Pool}
}

func (k *kubeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.wg.Add(1)
	defer k.wg.Done()
	// Kubernetes negotiates the subprotocol first, then upgrades.
	proto, answered, err := handshake(w, r, serverExecProtocols)
	if err != nil {
		if !answered {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, err.Error())
		}
		return
	}
	if !isUpgrade(r) {
		http.Error(w, fmt.Sprintf("unable to upgrade: missing upgrade headers in request: %#v", r.Header), http.StatusBadRequest)
		return
	}
	w.Header().Add(headerConnection, headerUpgrade)
	w.Header().Add(headerUpgrade, headerSpdy31)
	w.WriteHeader(http.StatusSwitchingProtocols)
	raw, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		k.report(kubeExec{protocol: proto, err: fmt.Errorf("hijack: %w", err)})
		return
	}
	p, err := newSpdyPeer(&bufConn{Conn: raw, br: brw.Reader}, raw, true)
	if err != nil {
		raw.Close()
		k.report(kubeExec{protocol: proto, err: err})
		return
	}
	res := kubeExec{protocol: proto, headers: map[string]http.Header{}}
	res.err = k.exec(p, &res)
	if err := p.close(); err != nil && res.err == nil {
		res.err = err
	}
	k.report(res)
}

func (k *kubeServer) report(r kubeExec) {
	select {
	case k.results <- r:
	default:
	}
}

// exec waits for the error, stdin and stdout streams (in any order, as
// kubelet does), pings the client and runs the command.
func (k *kubeServer) exec(p *spdyPeer, res *kubeExec) error {
	streams := map[string]*spdystream.Stream{}
	timeout := time.NewTimer(createStreamReplyTimeout)
	defer timeout.Stop()
	for len(streams) < 3 {
		select {
		case st := <-p.incoming:
			typ := st.Headers().Get(headerStreamType)
			res.headers[typ] = st.Headers()
			switch typ {
			case streamTypeError, streamTypeStdin, streamTypeStdout:
				streams[typ] = st
			default:
				st.Reset()
			}
		case <-timeout.C:
			return fmt.Errorf("the client opened %d of the 3 exec streams", len(streams))
		case <-k.done:
			return errors.New("the test ended")
		}
	}
	_, res.ping = p.sc.Ping()
	in, out, errSt := streams[streamTypeStdin], streams[streamTypeStdout], streams[streamTypeError]
	buf := make([]byte, 32<<10)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			res.stdin += n
			if _, werr := out.Write(toUpper(buf[:n])); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading stdin: %w", err)
		}
	}
	if err := out.Close(); err != nil {
		return err
	}
	if _, err := errSt.Write([]byte(execSuccessStatus)); err != nil {
		return err
	}
	return errSt.Close()
}

// TestOurClientKubeServer runs npn.DialUpgrade against the Kubernetes-style
// exec server, over plain TCP and TLS, with our session speaking SPDY/3 or
// SPDY/3.1 after the upgrade: the subprotocol is negotiated from
// client-go's list, the client opens the exec streams (error, stdin,
// stdout) and waits for their empty replies, 4 MiB go through the
// "command" and back, both sides ping, and the server's kubelet-style
// close (streams reset after their FIN and the status, then GOAWAY) leaves
// the whole output and the status readable.
func TestOurClientKubeServer(t *testing.T) {
	const size = 4 << 20
	for _, useTLS := range []bool{false, true} {
		for _, v := range upgradeVersions {
			name := "plain/" + versionName(v)
			if useTLS {
				name = "tls/" + versionName(v)
			}
			t.Run(name, func(t *testing.T) {
				ctx := testContext(t)
				k, clientTLS := startKubeServer(t, useTLS)
				sess, proto, err := npn.DialUpgrade(ctx, k.url+"/exec/ns/pod/container", &npn.UpgradeDialOptions{
					Protocols:       clientExecProtocols,
					Method:          http.MethodPost,
					TLSClientConfig: clientTLS,
					Session:         ourConfig(v),
				})
				if err != nil {
					t.Fatalf("DialUpgrade: %v", err)
				}
				defer sess.Close()
				if proto != "v4.channel.k8s.io" {
					t.Errorf("negotiated %q, want v4.channel.k8s.io (client-go's first that kubelet speaks)", proto)
				}
				// client-go's order: error, stdin, stdout; each waits for
				// its reply.
				open := func(typ string) *stream.Stream {
					st, err := sess.Open(ctx, &session.OpenOptions{Headers: []hpackz.Field{{Name: "streamtype", Value: typ}}})
					if err != nil {
						t.Fatalf("Open %s: %v", typ, err)
					}
					h, err := st.WaitHeaders(ctx)
					if err != nil {
						t.Fatalf("the reply to %s: %v", typ, err)
					}
					if len(h) != 0 {
						t.Errorf("the reply to %s has headers %v, want none", typ, h)
					}
					return st
				}
				errSt := open(streamTypeError)
				stdin := open(streamTypeStdin)
				stdout := open(streamTypeStdout)
				outC, errC := readAll(stdout), readAll(errSt)
				in := upperLetters(1, size)
				if _, err := stdin.Write(in); err != nil {
					t.Fatalf("writing stdin: %v", err)
				}
				if err := stdin.CloseWrite(); err != nil {
					t.Fatal(err)
				}
				if rtt, err := sess.Ping(ctx); err != nil || rtt <= 0 {
					t.Errorf("our Ping: %v, %v", rtt, err)
				}
				out := <-outC
				if out.err != nil || string(out.b) != string(toUpper(in)) {
					t.Errorf("stdout: %d bytes (want %d) the command's output: %v; error %v", len(out.b), size, string(out.b) == string(toUpper(in)), out.err)
				}
				status := <-errC
				if status.err != nil || string(status.b) != execSuccessStatus {
					t.Errorf("error stream: %q, %v; want the success status", status.b, status.err)
				}
				var res kubeExec
				select {
				case res = <-k.results:
				case <-ctx.Done():
					t.Fatal("the server did not finish")
				}
				if res.err != nil {
					t.Errorf("server: %v", res.err)
				}
				if res.protocol != proto || res.stdin != size || res.ping != nil {
					t.Errorf("server: protocol %q, %d bytes of stdin, ping %v", res.protocol, res.stdin, res.ping)
				}
				if got := res.headers[streamTypeStdin].Get(headerStreamType); got != streamTypeStdin {
					t.Errorf("spdystream read the stdin stream's headers %v", res.headers[streamTypeStdin])
				}
				// kubelet's close ends the session with GOAWAY.
				select {
				case <-sess.Done():
				case <-ctx.Done():
					t.Fatal("the session did not end after the server closed")
				}
				var ga *session.GoAwayError
				if err := sess.Err(); !errors.As(err, &ga) || ga.Status != framing.GoAwayOK || ga.LastGoodStreamID != stdout.ID() {
					t.Errorf("session ended with %v, want spdystream's GOAWAY OK naming the last stream", err)
				}
			})
		}
	}

	t.Run("403-no-common-protocol", func(t *testing.T) {
		ctx := testContext(t)
		k, _ := startKubeServer(t, false)
		_, _, err := npn.DialUpgrade(ctx, k.url+"/exec", &npn.UpgradeDialOptions{Protocols: []string{"v9.example.com"}, Session: ourConfig(session.V31)})
		var ue *npn.UpgradeError
		if !errors.As(err, &ue) || ue.StatusCode != http.StatusForbidden {
			t.Fatalf("DialUpgrade: %v, want a 403 UpgradeError", err)
		}
		if !slices.Equal(ue.Accepted, serverExecProtocols) {
			t.Errorf("Accepted %q, want the server's %q", ue.Accepted, serverExecProtocols)
		}
		if !strings.Contains(string(ue.Body), "unable to negotiate protocol") {
			t.Errorf("body %q", ue.Body)
		}
	})
	t.Run("400-no-protocol", func(t *testing.T) {
		ctx := testContext(t)
		k, _ := startKubeServer(t, false)
		_, _, err := npn.DialUpgrade(ctx, k.url+"/exec", &npn.UpgradeDialOptions{Session: ourConfig(session.V31)})
		var ue *npn.UpgradeError
		if !errors.As(err, &ue) || ue.StatusCode != http.StatusBadRequest || !strings.Contains(string(ue.Body), headerProtocolVersion+" is required") {
			t.Fatalf("DialUpgrade without subprotocols: %v, want kubelet's 400", err)
		}
	})
	t.Run("400-no-upgrade-headers", func(t *testing.T) {
		// The peer's own check, with a plain HTTP request (our client
		// always sends the headers): what DialUpgrade gets from a server
		// that a proxy reached without them.
		ctx := testContext(t)
		k, _ := startKubeServer(t, false)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.url+"/exec", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(headerProtocolVersion, "v4.channel.k8s.io")
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		defer c.CloseIdleConnections()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "missing upgrade headers") {
			t.Errorf("%s %q", resp.Status, body)
		}
	})
}
