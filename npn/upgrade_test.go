package npn

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/session"
)

var (
	execClient = []string{"v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"}
	execServer = []string{"channel.k8s.io", "v2.channel.k8s.io", "v3.channel.k8s.io", "v4.channel.k8s.io"}
)

// upgraded is what the server side of an upgrade saw.
type upgraded struct {
	proto string
	err   error
}

// echoUpgrader returns a handler that upgrades with opts and echoes every
// stream of the session (its streamtype header, then its data) until the
// session ends; each outcome of Upgrade is sent to results.
func echoUpgrader(t *testing.T, opts *UpgradeOptions, results chan<- upgraded) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, proto, err := Upgrade(w, r, opts)
		results <- upgraded{proto, err}
		if err != nil {
			return
		}
		serveEcho(s)
	})
}

// serveEcho answers each stream of s with its streamtype header and its
// data, and returns when s has ended.
func serveEcho(s *session.Session) {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer func() { <-s.Done() }()
	for {
		st, err := s.Accept(context.Background())
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer st.Close()
			st.SetDeadline(time.Now().Add(testTimeout))
			b, err := io.ReadAll(st)
			if err != nil {
				return
			}
			st.Write([]byte(st.Header("streamtype") + ":"))
			st.Write(b)
		}()
	}
}

// roundTrip opens a stream of type typ on s, sends data and returns the
// answer.
func roundTrip(ctx context.Context, s *session.Session, typ, data string) (string, error) {
	st, err := s.Open(ctx, &session.OpenOptions{Headers: []hpackz.Field{{Name: "streamtype", Value: typ}}})
	if err != nil {
		return "", err
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(testTimeout))
	if _, err := st.Write([]byte(data)); err != nil {
		return "", err
	}
	if err := st.CloseWrite(); err != nil {
		return "", err
	}
	b, err := io.ReadAll(st)
	return string(b), err
}

func TestUpgrade(t *testing.T) {
	ctx := testContext(t)
	results := make(chan upgraded, 1)
	srv := httptest.NewServer(echoUpgrader(t, &UpgradeOptions{Protocols: execServer}, results))
	defer srv.Close()
	s, proto, err := DialUpgrade(ctx, srv.URL+"/exec?command=sh", &UpgradeDialOptions{Protocols: execClient, Method: http.MethodPost})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The first of the client's protocols that the server speaks.
	if proto != "v4.channel.k8s.io" {
		t.Fatalf("client: protocol %q", proto)
	}
	if r := <-results; r.err != nil || r.proto != proto {
		t.Fatalf("server: protocol %q, %v", r.proto, r.err)
	}
	if s.Version() != session.V31 || s.Role() != session.Client {
		t.Fatalf("client session %v %v", s.Version(), s.Role())
	}
	for _, typ := range []string{"error", "stdin", "stdout"} {
		got, err := roundTrip(ctx, s, typ, "hello "+typ)
		if err != nil {
			t.Fatal(err)
		}
		if want := typ + ":hello " + typ; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if _, err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestUpgradeRefused(t *testing.T) {
	ctx := testContext(t)
	for _, tc := range []struct {
		name       string
		server     []string
		client     []string
		wantStatus int
		wantErr    error
	}{
		{"no protocol in common", execServer, []string{"v9.channel.k8s.io", "v8.channel.k8s.io"}, 403, ErrNoCommonProtocol},
		{"no protocol offered", execServer, nil, 400, ErrNoProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			results := make(chan upgraded, 1)
			srv := httptest.NewServer(echoUpgrader(t, &UpgradeOptions{Protocols: tc.server}, results))
			defer srv.Close()
			_, _, err := DialUpgrade(ctx, srv.URL, &UpgradeDialOptions{Protocols: tc.client})
			var ue *UpgradeError
			if !errors.As(err, &ue) || ue.StatusCode != tc.wantStatus {
				t.Fatalf("client: %v, want an UpgradeError %d", err, tc.wantStatus)
			}
			if !strings.Contains(err.Error(), "unable to") || !strings.Contains(err.Error(), ue.Status) {
				t.Fatalf("error %q lacks the status or the body's excerpt", err)
			}
			if tc.wantStatus == 403 && !slices.Equal(ue.Accepted, tc.server) {
				t.Fatalf("accepted protocols %q, want %q", ue.Accepted, tc.server)
			}
			if r := <-results; !errors.Is(r.err, tc.wantErr) {
				t.Fatalf("server: %v, want %v", r.err, tc.wantErr)
			}
		})
	}

	t.Run("not an upgrade", func(t *testing.T) {
		results := make(chan upgraded, 3)
		srv := httptest.NewServer(echoUpgrader(t, &UpgradeOptions{Protocols: execServer}, results))
		defer srv.Close()
		for _, h := range []http.Header{
			{},
			{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, HeaderStreamProtocolVersion: {"channel.k8s.io"}},
			{"Upgrade": {"SPDY/3.1"}, HeaderStreamProtocolVersion: {"channel.k8s.io"}},
		} {
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
			req.Header = h
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Fatalf("headers %v: status %d, want 400", h, resp.StatusCode)
			}
			if r := <-results; !errors.Is(r.err, ErrNotUpgrade) {
				t.Fatalf("server: %v", r.err)
			}
		}
	})

	t.Run("no negotiation", func(t *testing.T) {
		results := make(chan upgraded, 1)
		srv := httptest.NewServer(echoUpgrader(t, nil, results))
		defer srv.Close()
		s, proto, err := DialUpgrade(ctx, srv.URL, &UpgradeDialOptions{Protocols: execClient})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if r := <-results; proto != "" || r.err != nil || r.proto != "" {
			t.Fatalf("client %q, server %q %v; want no protocol", proto, r.proto, r.err)
		}
	})

	t.Run("bad 101", func(t *testing.T) {
		for _, resp := range []string{
			"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
			"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v9\r\n\r\n",
		} {
			addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
				if _, err := http.ReadRequest(br); err == nil {
					c.Write([]byte(resp))
				}
			})
			if _, _, err := DialUpgrade(ctx, "http://"+addr, &UpgradeDialOptions{Protocols: execClient}); !errors.Is(err, ErrBadUpgradeResponse) {
				t.Fatalf("response %q: %v, want ErrBadUpgradeResponse", resp, err)
			}
		}
	})
}

// rawServer serves one connection with serve on a loopback listener and
// returns its address. The test waits for serve to return.
func rawServer(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln := listen(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(testTimeout))
		serve(c, bufio.NewReader(c))
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// TestUpgradeServerKeepsBufferedBytes sends the upgrade request and the
// first SPDY frames in one write: the server's HTTP reader holds the frames
// when Upgrade takes the connection over, and the session must read them.
func TestUpgradeServerKeepsBufferedBytes(t *testing.T) {
	results := make(chan upgraded, 1)
	srv := httptest.NewServer(echoUpgrader(t, &UpgradeOptions{Protocols: execServer}, results))
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testTimeout))
	req := "POST /exec HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n" +
		"X-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n"
	frames := newRawFrames(t, session.V3).settings().windowUpdate(0, 1<<20).
		synStream(1, false, hpackz.Field{Name: "streamtype", Value: "stdin"}).
		data(1, true, []byte("typed early")).take()
	if _, err := c.Write(append([]byte(req), frames...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get(HeaderStreamProtocolVersion) != "v4.channel.k8s.io" ||
		resp.Header.Get("Upgrade") != "SPDY/3.1" || resp.Header.Get("Connection") != "Upgrade" {
		t.Fatalf("response %s %v", resp.Status, resp.Header)
	}
	if r := <-results; r.err != nil {
		t.Fatal(r.err)
	}
	// The echo of stream 1, among the session's other frames.
	fr := newFrameReader(br, session.V3)
	var echo []byte
	for range 100 {
		f, _, err := fr.next()
		if err != nil {
			t.Fatalf("reading frames: %v (echo so far %q)", err, echo)
		}
		if d, ok := f.(*framing.DataFrame); ok && d.StreamID == 1 {
			echo = append(echo, d.Data...)
			if d.Flags&framing.FlagFin != 0 {
				break
			}
		}
		if r, ok := f.(*framing.RstStreamFrame); ok {
			t.Fatalf("stream reset: %v", r)
		}
	}
	if string(echo) != "stdin:typed early" {
		t.Fatalf("echo %q", echo)
	}
}

// TestUpgradeClientKeepsBufferedBytes has the server send its first SPDY
// frames in the write of the 101 response: the client's HTTP reader holds
// them when the handshake ends, and the session must read them.
func TestUpgradeClientKeepsBufferedBytes(t *testing.T) {
	ctx := testContext(t)
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Error(err)
			return
		}
		if got := req.Header.Values(HeaderStreamProtocolVersion); !slices.Equal(got, execClient) {
			t.Errorf("X-Stream-Protocol-Version %q, want %q", got, execClient)
		}
		if !hasToken(req.Header["Connection"], "upgrade") || req.Header.Get("Upgrade") != "SPDY/3.1" {
			t.Errorf("request headers %v", req.Header)
		}
		resp := "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v3.channel.k8s.io\r\n\r\n"
		frames := newRawFrames(t, session.V3).settings().windowUpdate(0, 1<<20).
			synStream(2, false, hpackz.Field{Name: "streamtype", Value: "server"}).
			data(2, true, []byte("sent with the 101")).take()
		if _, err := c.Write(append([]byte(resp), frames...)); err != nil {
			t.Error(err)
			return
		}
		// Read until the client closes.
		io.Copy(io.Discard, br)
	})
	s, proto, err := DialUpgrade(ctx, "http://"+addr+"/", &UpgradeDialOptions{Protocols: execClient})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if proto != "v3.channel.k8s.io" {
		t.Fatalf("protocol %q", proto)
	}
	st, err := s.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.SetDeadline(time.Now().Add(testTimeout))
	b, err := io.ReadAll(st)
	if err != nil {
		t.Fatal(err)
	}
	if st.ID() != 2 || st.Header("streamtype") != "server" || string(b) != "sent with the 101" {
		t.Fatalf("stream %d %q: %q", st.ID(), st.Header("streamtype"), b)
	}
}

// TestUpgradeTLS upgrades over TLS to a server that also offers h2 and
// SPDY by ALPN: the client must ask for HTTP/1.1.
func TestUpgradeTLS(t *testing.T) {
	ctx := testContext(t)
	serverTLS, clientTLS := tlsConfigs(t)
	results := make(chan upgraded, 1)
	hs := &http.Server{Handler: echoUpgrader(t, &UpgradeOptions{Protocols: []string{"portforward.k8s.io"}}, results), TLSConfig: serverTLS}
	if err := ConfigureServer(hs, nil); err != nil {
		t.Fatal(err)
	}
	addr := startTLS(t, hs)
	s, proto, err := DialUpgrade(ctx, "https://"+addr+"/portforward", &UpgradeDialOptions{
		Protocols:       []string{"portforward.k8s.io"},
		TLSClientConfig: clientTLS,
		Header:          http.Header{"Authorization": {"Bearer x"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if r := <-results; r.err != nil || proto != "portforward.k8s.io" {
		t.Fatalf("client %q, server %v", proto, r.err)
	}
	got, err := roundTrip(ctx, s, "data", "over tls")
	if err != nil || got != "data:over tls" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// TestUpgradeContext checks that the context ends a handshake the server
// never answers.
func TestUpgradeContext(t *testing.T) {
	ctx, cancel := context.WithCancel(testContext(t))
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := http.ReadRequest(br); err == nil {
			cancel() // the request arrived: give up waiting for the answer
		}
		io.Copy(io.Discard, br)
	})
	_, _, err := DialUpgrade(ctx, "http://"+addr, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestUpgradeDialErrors(t *testing.T) {
	ctx := testContext(t)
	for _, u := range []string{"ftp://127.0.0.1/", "http:///path", "://bad"} {
		if _, _, err := DialUpgrade(ctx, u, nil); err == nil {
			t.Fatalf("%q accepted", u)
		}
	}
}

func TestUpgradeErrorMessage(t *testing.T) {
	e := &UpgradeError{StatusCode: 500, Status: "500 Internal Server Error", Body: []byte("  boom\n\x00\tfailed  " + strings.Repeat("x", 300))}
	msg := e.Error()
	if !strings.HasPrefix(msg, "npn: upgrade refused: 500 Internal Server Error: boom failed xxx") || len(msg) > 300 || strings.ContainsAny(msg, "\n\x00") {
		t.Fatalf("message %q", msg)
	}
	if got := (&UpgradeError{Status: "404 Not Found"}).Error(); got != "npn: upgrade refused: 404 Not Found" {
		t.Fatalf("message %q", got)
	}
}
