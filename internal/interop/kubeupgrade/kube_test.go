package kubeupgrade

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/spdystream"

	"github.com/spdygo/spdy/internal/interop/testcert"
	"github.com/spdygo/spdy/session"
)

// waitLimit bounds every wait of a test for the other side. It is a
// bound, not an assertion about speed.
const waitLimit = 60 * time.Second

// The names Kubernetes uses (k8s.io/apimachinery/pkg/util/httpstream).
const (
	headerConnection         = "Connection"
	headerUpgrade            = "Upgrade"
	headerProtocolVersion    = "X-Stream-Protocol-Version"
	headerAcceptedProtocols  = "X-Accepted-Stream-Protocol-Versions"
	headerSpdy31             = "SPDY/3.1"
	headerStreamType         = "streamType"
	streamTypeError          = "error"
	streamTypeStdin          = "stdin"
	streamTypeStdout         = "stdout"
	streamTypeData           = "data"
	portForwardProtocol      = "portforward.k8s.io"
	execSuccessStatus        = `{"metadata":{},"status":"Success"}`
	createStreamReplyTimeout = 30 * time.Second // client-go waits this long for a SYN_REPLY
)

// Exec subprotocols: kubelet's, most preferred first, and what client-go
// offers (it prefers v5, which kubelet here does not speak).
var (
	serverExecProtocols = []string{"v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"}
	clientExecProtocols = []string{"v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"}
)

// upgradeVersions are the versions our session speaks after the upgrade:
// the token says SPDY/3.1, and spdystream frames SPDY/3 without flow
// control, which both sessions tolerate with UnlimitedPeerWindow.
var upgradeVersions = []session.Version{session.V3, session.V31}

func versionName(v session.Version) string {
	if v == session.V3 {
		return "spdy3"
	}
	return "spdy3.1"
}

// ourConfig is our session's configuration toward spdystream, which has
// no flow control.
func ourConfig(v session.Version) *session.Config {
	return &session.Config{Version: v, UnlimitedPeerWindow: true}
}

// handshake negotiates the subprotocol as Kubernetes' httpstream.Handshake
// does: the first of the client's X-Stream-Protocol-Version values that the
// server speaks. With none in common it answers 403 with the server's
// list in X-Accepted-Stream-Protocol-Versions; it returns an error without
// answering when the client offered none (the caller answers 400).
func handshake(w http.ResponseWriter, r *http.Request, server []string) (string, bool, error) {
	client := r.Header[http.CanonicalHeaderKey(headerProtocolVersion)]
	if len(client) == 0 {
		return "", false, fmt.Errorf("unable to upgrade: %s is required", headerProtocolVersion)
	}
	for _, c := range client {
		for _, s := range server {
			if c == s {
				w.Header().Add(headerProtocolVersion, c)
				return c, false, nil
			}
		}
	}
	for _, s := range server {
		w.Header().Add(headerAcceptedProtocols, s)
	}
	err := fmt.Errorf("unable to upgrade: unable to negotiate protocol: client supports %v, server accepts %v", client, server)
	http.Error(w, err.Error(), http.StatusForbidden)
	return "", true, err
}

// isUpgrade is the check of Kubernetes' SPDY upgrader.
func isUpgrade(r *http.Request) bool {
	return strings.Contains(strings.ToLower(r.Header.Get(headerConnection)), "upgrade") &&
		strings.Contains(strings.ToLower(r.Header.Get(headerUpgrade)), strings.ToLower(headerSpdy31))
}

// bufConn is Kubernetes' connWrapper: it reads first what the HTTP
// reader had buffered past the handshake.
type bufConn struct {
	net.Conn
	br *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) {
	if c.br != nil && c.br.Buffered() > 0 {
		return c.br.Read(p)
	}
	c.br = nil
	return c.Conn.Read(p)
}

// spdyPeer is a spdystream connection with the streams it has seen, closed
// as Kubernetes' connection.Close does: every stream reset, then GOAWAY
// and the end of the connection.
type spdyPeer struct {
	sc       *spdystream.Connection
	raw      net.Conn
	served   chan struct{}
	incoming chan *spdystream.Stream

	mu      sync.Mutex
	streams []*spdystream.Stream
	closed  bool
}

// newSpdyPeer starts a spdystream connection on conn. Streams the other
// side opens are replied to with empty headers (as kubelet's handler does
// before it looks at them) and queued on incoming.
func newSpdyPeer(conn net.Conn, raw net.Conn, server bool) (*spdyPeer, error) {
	sc, err := spdystream.NewConnection(conn, server)
	if err != nil {
		return nil, err
	}
	p := &spdyPeer{sc: sc, raw: raw, served: make(chan struct{}), incoming: make(chan *spdystream.Stream, 64)}
	go func() {
		defer close(p.served)
		sc.Serve(p.handle)
	}()
	return p, nil
}

func (p *spdyPeer) handle(st *spdystream.Stream) {
	p.track(st)
	if err := st.SendReply(http.Header{}, false); err != nil {
		return
	}
	select {
	case p.incoming <- st:
	default:
		st.Reset()
	}
}

func (p *spdyPeer) track(st *spdystream.Stream) {
	p.mu.Lock()
	p.streams = append(p.streams, st)
	p.mu.Unlock()
}

// create opens a stream as client-go does: it waits for the reply.
func (p *spdyPeer) create(h http.Header) (*spdystream.Stream, error) {
	st, err := p.sc.CreateStream(h, nil, false)
	if err != nil {
		return nil, err
	}
	p.track(st)
	if err := st.WaitTimeout(createStreamReplyTimeout); err != nil {
		return nil, fmt.Errorf("waiting for the reply to stream %d: %w", st.Identifier(), err)
	}
	return st, nil
}

// close resets every stream, closes the connection (GOAWAY) and waits
// for spdystream's goroutines to end.
func (p *spdyPeer) close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	sts := append([]*spdystream.Stream(nil), p.streams...)
	p.mu.Unlock()
	for _, st := range sts {
		st.Reset()
	}
	p.sc.Close()
	var err error
	select {
	case <-p.served:
	case <-time.After(waitLimit):
		err = errors.New("spdystream's Serve did not return")
	}
	if werr := p.sc.Wait(waitLimit); werr == spdystream.ErrTimeout && err == nil {
		err = errors.New("spdystream's shutdown did not finish")
	}
	p.raw.Close()
	return err
}

// upperLetters returns n pseudo-random lower-case letters and newlines,
// the input of the exec "command" (tr a-z A-Z).
func upperLetters(seed uint64, n int) []byte {
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}))
	b := make([]byte, n)
	for i := range b {
		if r.IntN(64) == 0 {
			b[i] = '\n'
		} else {
			b[i] = byte('a' + r.IntN(26))
		}
	}
	return b
}

// payload returns n pseudo-random bytes.
func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 1}))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// testContext bounds a test's calls.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// toUpper is the exec "command".
func toUpper(b []byte) []byte { return bytes.ToUpper(b) }

// readAll reads r to its end in a goroutine and delivers the result.
func readAll(r io.Reader) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		b, err := io.ReadAll(r)
		ch <- readResult{b, err}
	}()
	return ch
}

type readResult struct {
	b   []byte
	err error
}

// serveHTTP serves h with net/http on a listener on 127.0.0.1, over TLS
// with a certificate made for the test when useTLS, until the test ends:
// then it calls stop, closes the server, and waits for Serve to return
// and for wg (the handlers, whose hijacked connections Close leaves
// alone). It returns the listener's address and, with TLS, the
// certificate (nil without).
func serveHTTP(t *testing.T, h http.Handler, useTLS bool, stop func(), wg *sync.WaitGroup) (string, *testcert.Cert) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	var cert *testcert.Cert
	served := make(chan error, 1)
	if useTLS {
		cert = testcert.New(t)
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert.Pair}}
		go func() { served <- hs.ServeTLS(ln, "", "") }()
	} else {
		go func() { served <- hs.Serve(ln) }()
	}
	t.Cleanup(func() {
		stop()
		hs.Close()
		<-served
		wg.Wait()
	})
	return ln.Addr().String(), cert
}
