package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spdygo/spdy/internal/syncbuf"
	"github.com/spdygo/spdy/proxy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hangGuard bounds waits that would otherwise hang; it measures nothing.
const hangGuard = 60 * time.Second

// syncBuffer is a buffer safe for concurrent use.
type syncBuffer = syncbuf.Buffer

// running is spdyproxy started by run in this process.
type running struct {
	t      *testing.T
	cancel context.CancelFunc
	code   chan int
	lines  map[string]string // first word of each announced line → the rest
	stdout *bufio.Reader
	stderr *syncBuffer
	done   bool
}

// startProxy runs spdyproxy with args and waits until it printed the line
// starting with until.
func startProxy(t *testing.T, until string, args ...string) *running {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{t: t, cancel: cancel, code: make(chan int, 1), lines: map[string]string{}, stdout: bufio.NewReader(pr), stderr: new(syncBuffer)}
	go func() {
		code := run(ctx, args, pw, r.stderr)
		pw.Close()
		r.code <- code
	}()
	t.Cleanup(func() { r.stop() })
	lineCh := make(chan error, 1)
	go func() {
		for {
			line, err := r.stdout.ReadString('\n')
			if err != nil {
				lineCh <- fmt.Errorf("spdyproxy ended before %q: %v\nstderr:\n%s", until, err, r.stderr.String())
				return
			}
			k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
			if _, seen := r.lines[k]; !seen {
				r.lines[k] = v
			}
			if strings.HasPrefix(line, until) {
				lineCh <- nil
				go io.Copy(io.Discard, r.stdout)
				return
			}
		}
	}()
	select {
	case err := <-lineCh:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(hangGuard):
		t.Fatalf("spdyproxy printed no %q line; stderr:\n%s", until, r.stderr.String())
	}
	return r
}

// stop cancels the run and returns its exit status.
func (r *running) stop() int {
	r.cancel()
	select {
	case code := <-r.code:
		r.code <- code
		return code
	case <-time.After(hangGuard):
		panic("spdyproxy did not stop")
	}
}

func get(t *testing.T, c *http.Client, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return resp, body
}

func TestDemo(t *testing.T) {
	r := startProxy(t, "press", "-demo", "-front", "127.0.0.1:0", "-tunnel", "127.0.0.1:0", "-metrics", "127.0.0.1:0", "-q")
	front := r.lines["front"]
	if !strings.HasPrefix(front, "http://127.0.0.1:") {
		t.Fatalf("front line %q", front)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	base := front + "/o/demo/"

	resp, body := get(t, c, base)
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("spdy.png")) {
		t.Fatalf("home page: %s %q", resp.Status, body)
	}
	resp, body = get(t, c, base+"spdy.png")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(body, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("image: %s %s %d bytes", resp.Status, resp.Header.Get("Content-Type"), len(body))
	}
	resp, body = get(t, c, base+"files/")
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("readme.txt")) {
		t.Fatalf("listing: %s %q", resp.Status, body)
	}
	resp, part := get(t, c, base+"media/sample.bin", "Range", "bytes=1048570-1048589")
	if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 1048570-1048589/%d", demoMediaSize) || len(part) != 20 {
		t.Fatalf("range: %s %q %d bytes", resp.Status, resp.Header.Get("Content-Range"), len(part))
	}
	// The file is one random MiB repeated: the span across the first
	// boundary equals the same span one MiB later.
	_, again := get(t, c, base+"media/sample.bin", "Range", "bytes=2097146-2097165")
	if !bytes.Equal(part, again) {
		t.Fatalf("media bytes differ between repeats: %x vs %x", part, again)
	}
	resp, whole := get(t, c, base+"media/sample.bin")
	if resp.StatusCode != 200 || len(whole) != demoMediaSize || !bytes.Equal(whole[1048570:1048590], part) {
		t.Fatalf("whole file: %s, %d bytes", resp.Status, len(whole))
	}

	resp, body = get(t, c, r.lines["metrics"])
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("spdyproxy_origins_connected 1\n")) {
		t.Fatalf("metrics: %s\n%s", resp.Status, body)
	}
	health := strings.TrimSuffix(r.lines["metrics"], "/metrics") + "/healthz?origin=demo"
	if resp, body = get(t, c, health); resp.StatusCode != 200 {
		t.Fatalf("health: %s %q", resp.Status, body)
	}
	if code := r.stop(); code != exitOK {
		t.Fatalf("exit status %d; stderr:\n%s", code, r.stderr.String())
	}
}

func TestOriginsFileAndConnector(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "origins")
	token := "a-long-enough-token-for-home"
	content := "# test origins\nhome " + token + "\nother " + proxy.TokenDigest("other-token-0123456789") + "\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startProxy(t, "certificate", "-origins", file, "-front", "127.0.0.1:0", "-front-tls", "127.0.0.1:0", "-tunnel", "127.0.0.1:0", "-q")
	pin := r.lines["certificate"]
	pin = strings.TrimPrefix(pin, "sha256 ")
	tlsConf, err := proxy.PinnedTLSConfig(pin)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, token string
	}{{"home", token}, {"other", "other-token-0123456789"}} {
		c := &proxy.Connector{
			ProxyURL:  r.lines["tunnel"],
			Name:      tc.name,
			Token:     tc.token,
			TLSConfig: tlsConf.Clone(),
			Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				fmt.Fprintf(w, "%s says %s", tc.name, req.URL.Path)
			}),
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			<-done
		})
	}
	tr := &http.Transport{TLSClientConfig: tlsConf.Clone(), ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	for _, base := range []string{r.lines["front"], r.lines["front-tls"]} {
		for _, name := range []string{"home", "other"} {
			var resp *http.Response
			var body []byte
			// The origins connect on their own; until they do the answer
			// is 503. Poll, bounded.
			deadline := time.Now().Add(hangGuard)
			for {
				resp, body = get(t, c, base+"/o/"+name+"/x/y")
				if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if want := name + " says /x/y"; resp.StatusCode != 200 || string(body) != want {
				t.Fatalf("%s: %s %q, want %q", base, resp.Status, body, want)
			}
			if strings.HasPrefix(base, "https") && resp.ProtoMajor != 2 {
				t.Fatalf("TLS front end spoke %s, want HTTP/2", resp.Proto)
			}
		}
	}
	if resp, _ := get(t, c, r.lines["front"]+"/o/nobody/"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown origin: %s", resp.Status)
	}
	// A wrong token is refused.
	bad := &proxy.Connector{ProxyURL: r.lines["tunnel"], Name: "home", Token: "wrong-token-0123456789", TLSConfig: tlsConf, Handler: http.NotFoundHandler()}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if err := bad.Run(ctx); !errors.Is(err, proxy.ErrUnauthorized) {
		t.Fatalf("wrong token: Run = %v, want ErrUnauthorized", err)
	}
	if code := r.stop(); code != exitOK {
		t.Fatalf("exit status %d; stderr:\n%s", code, r.stderr.String())
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-route", "sideways", "-demo"},
		{"-tls-cert", "x.pem", "-demo"},
		{"-front", "", "-demo"},
		{"-demo", "extra"},
		{"-nosuchflag"},
		{"-demo", "-max-conns", "-1"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != exitUsage {
			t.Errorf("spdyproxy %q: exit %d, want %d; stderr %q", args, code, exitUsage, errb.String())
		}
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &out, io.Discard); code != exitOK || !strings.Contains(out.String(), "-origins") {
		t.Fatalf("-h: exit %d, %q", code, out.String())
	}
	var errb bytes.Buffer
	if code := run(context.Background(), []string{"-origins", filepath.Join(t.TempDir(), "missing")}, io.Discard, &errb); code != exitError {
		t.Fatalf("missing origins file: exit %d, want %d (%s)", code, exitError, errb.String())
	}
}

// Shutdown stops the demo origin, and close (after a failed shutdown)
// stops it again: the second stop must not wait for an end already seen.
func TestDemoOriginStopsTwice(t *testing.T) {
	o := &demoOrigin{cancel: func() {}, done: make(chan error, 1)}
	o.done <- nil
	stopped := make(chan struct{})
	go func() {
		o.stop()
		o.stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(hangGuard):
		t.Fatal("the second stop hangs")
	}
}
