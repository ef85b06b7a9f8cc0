package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spdygo/spdy/internal/selfsigned"
	"github.com/spdygo/spdy/internal/syncbuf"
	"github.com/spdygo/spdy/proxy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hangGuard bounds waits that would otherwise hang; it measures nothing.
const hangGuard = 60 * time.Second

// testProxy is a proxy.Proxy in this process with a TLS tunnel endpoint
// and a plain front end on loopback.
type testProxy struct {
	p          *proxy.Proxy
	frontURL   string
	tunnelAddr string
	caFile     string
	pin        string
}

func newTestProxy(t *testing.T, origins map[string]string) *testProxy {
	t.Helper()
	cert, _, err := selfsigned.Loopback("spdyorigin test")
	if err != nil {
		t.Fatal(err)
	}
	reg := proxy.NewRegistry()
	for name, tok := range origins {
		if err := reg.Add(name, tok); err != nil {
			t.Fatal(err)
		}
	}
	p := &proxy.Proxy{Registry: reg, Route: proxy.RoutePath}
	tunnelLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := p.NewTunnelServer(&tls.Config{Certificates: []tls.Certificate{cert}})
	frontLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &http.Server{Handler: p}
	go ts.ServeTLS(tunnelLn, "", "")
	go fs.Serve(frontLn)
	t.Cleanup(func() {
		fs.Close()
		ts.Close()
		p.Close()
	})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.Certificate[0])
	return &testProxy{p: p, frontURL: "http://" + frontLn.Addr().String(), tunnelAddr: tunnelLn.Addr().String(), caFile: caFile, pin: hex.EncodeToString(sum[:])}
}

// runOrigin runs spdyorigin with args until the proxy has its tunnel.
func runOrigin(t *testing.T, tp *testProxy, name string, env map[string]string, args ...string) (stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	var stderr bytes.Buffer
	getenv := func(k string) string { return env[k] }
	go func() { code <- run(ctx, args, io.Discard, &stderr, getenv) }()
	wctx, wcancel := context.WithTimeout(context.Background(), hangGuard)
	defer wcancel()
	connected := make(chan error, 1)
	go func() { connected <- tp.p.WaitConnected(wctx, name, false) }()
	select {
	case err := <-connected:
		if err != nil {
			cancel()
			<-code
			t.Fatalf("origin did not connect: %v\n%s", err, stderr.String())
		}
	case c := <-code:
		wcancel()
		<-connected
		cancel()
		t.Fatalf("spdyorigin exited with %d before connecting:\n%s", c, stderr.String())
	}
	var once sync.Once
	var result int
	stop = func() int {
		once.Do(func() {
			cancel()
			result = <-code
		})
		return result
	}
	t.Cleanup(func() { stop() })
	return stop
}

func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestServeRootWithCA(t *testing.T) {
	const token = "root-token-0123456789"
	tp := newTestProxy(t, map[string]string{"files": token})
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello through the tunnel"), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := runOrigin(t, tp, "files", map[string]string{TokenEnv: token},
		"-proxy", tp.tunnelAddr, "-name", "files", "-root", root, "-ca", tp.caFile, "-q")
	if code, body := fetch(t, tp.frontURL+"/o/files/hello.txt"); code != 200 || body != "hello through the tunnel" {
		t.Fatalf("got %d %q", code, body)
	}
	if code, body := fetch(t, tp.frontURL+"/o/files/"); code != 200 || !strings.Contains(body, "hello.txt") {
		t.Fatalf("listing: %d %q", code, body)
	}
	if c := stop(); c != exitOK {
		t.Fatalf("exit %d after a signal, want %d", c, exitOK)
	}
}

func TestServeUpstreamWithPin(t *testing.T) {
	const token = "upstream-token-0123456789"
	tp := newTestProxy(t, map[string]string{"app": token})
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "upstream saw %s for %s", r.URL.Path, r.Header.Get("X-Forwarded-For"))
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go up.Serve(ln)
	defer up.Close()
	runOrigin(t, tp, "app", nil, "-proxy", "https://"+tp.tunnelAddr+"/", "-name", "app", "-token", token,
		"-upstream", "http://"+ln.Addr().String(), "-pin", tp.pin, "-q")
	if code, body := fetch(t, tp.frontURL+"/o/app/api/v1"); code != 200 || body != "upstream saw /api/v1 for 127.0.0.1" {
		t.Fatalf("got %d %q", code, body)
	}
}

func TestWrongTokenExits(t *testing.T) {
	tp := newTestProxy(t, map[string]string{"home": "right-token-0123456789"})
	var stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	code := run(ctx, []string{"-proxy", tp.tunnelAddr, "-name", "home", "-token", "wrong-token-0123456789", "-root", t.TempDir(), "-pin", tp.pin}, io.Discard, &stderr, func(string) string { return "" })
	if code != exitError || !strings.Contains(stderr.String(), "rejected") {
		t.Fatalf("exit %d, stderr %q; want %d and a rejection", code, stderr.String(), exitError)
	}
}

func TestBadCertificateIsRetriedNotAccepted(t *testing.T) {
	const token = "home-token-0123456789"
	tp := newTestProxy(t, map[string]string{"home": token})
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	var stderr syncBuffer
	// A wrong pin: the handshake must fail every time, and the origin
	// never connects.
	go func() {
		code <- run(ctx, []string{"-proxy", tp.tunnelAddr, "-name", "home", "-token", token, "-root", t.TempDir(), "-pin", strings.Repeat("ab", 32)}, io.Discard, &stderr, func(string) string { return "" })
	}()
	deadline := time.Now().Add(hangGuard)
	for !strings.Contains(stderr.String(), "does not match the pin") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	connected := tp.p.Connected("home")
	cancel()
	if c := <-code; c != exitOK {
		t.Fatalf("exit %d", c)
	}
	if connected || !strings.Contains(stderr.String(), "does not match the pin") {
		t.Fatalf("connected=%v with a wrong pin; stderr:\n%s", connected, stderr.String())
	}
}

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	env := func(string) string { return "" }
	for _, args := range [][]string{
		{},
		{"-proxy", "p:1", "-name", "Bad_Name", "-token", "t", "-root", dir},
		{"-proxy", "p:1", "-name", "ok", "-root", dir},
		{"-proxy", "p:1", "-name", "ok", "-token", "t"},
		{"-proxy", "p:1", "-name", "ok", "-token", "t", "-root", dir, "-upstream", "http://x"},
		{"-proxy", "p:1", "-name", "ok", "-token", "t", "-upstream", "ftp://x"},
		{"-proxy", "p:1", "-name", "ok", "-token", "t", "-root", dir, "-insecure", "-pin", "00"},
		{"-proxy", "p:1", "-name", "ok", "-token", "t", "-root", filepath.Join(dir, "missing")},
	} {
		var errb bytes.Buffer
		if code := run(context.Background(), args, io.Discard, &errb, env); code != exitUsage {
			t.Errorf("spdyorigin %q: exit %d, want %d; stderr %q", args, code, exitUsage, errb.String())
		}
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &out, io.Discard, env); code != exitOK || !strings.Contains(out.String(), TokenEnv) {
		t.Fatalf("-h: exit %d, %q", code, out.String())
	}
}

// syncBuffer is a buffer safe for concurrent use.
type syncBuffer = syncbuf.Buffer

// TestRealProcesses builds spdyproxy and spdyorigin and runs them as
// processes: P with an origins file and a self-signed certificate, C
// pinning it, and clients (net/http, and curl when installed) fetching
// through P.
func TestRealProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	bin := t.TempDir()
	for _, cmd := range []string{"spdyproxy", "spdyorigin"} {
		b := exec.Command("go", "build", "-o", filepath.Join(bin, cmd), "../"+cmd)
		if out, err := b.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", cmd, err, out)
		}
	}
	const token = "process-token-0123456789"
	origins := filepath.Join(bin, "origins")
	if err := os.WriteFile(origins, []byte("media "+proxy.TokenDigest(token)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	video := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	if err := os.WriteFile(filepath.Join(root, "clip.mp4"), video, 0o644); err != nil {
		t.Fatal(err)
	}

	pcmd := exec.Command(filepath.Join(bin, "spdyproxy"), "-origins", origins, "-front", "127.0.0.1:0", "-tunnel", "127.0.0.1:0", "-q")
	pout, err := pcmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var perr syncBuffer
	pcmd.Stderr = &perr
	if err := pcmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		pcmd.Process.Signal(syscall.SIGTERM)
		pcmd.Wait()
	}()
	lines := map[string]string{}
	sc := bufio.NewScanner(pout)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		lines[k] = v
		if k == "certificate" {
			break
		}
	}
	go io.Copy(io.Discard, pout)
	pin := strings.TrimPrefix(lines["certificate"], "sha256 ")
	if lines["front"] == "" || lines["tunnel"] == "" || pin == "" {
		t.Fatalf("spdyproxy printed %v; stderr:\n%s", lines, perr.String())
	}

	ccmd := exec.Command(filepath.Join(bin, "spdyorigin"), "-proxy", lines["tunnel"], "-name", "media", "-root", root, "-pin", pin, "-q")
	ccmd.Env = append(os.Environ(), TokenEnv+"="+token)
	cout, err := ccmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var cerr syncBuffer
	ccmd.Stderr = &cerr
	if err := ccmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ccmd.Process.Signal(syscall.SIGTERM)
		ccmd.Wait()
	}()
	csc := bufio.NewScanner(cout)
	if !csc.Scan() || !strings.HasPrefix(csc.Text(), "connected ") {
		t.Fatalf("spdyorigin printed %q; stderr:\n%s", csc.Text(), cerr.String())
	}
	go io.Copy(io.Discard, cout)

	url := lines["front"] + "/o/media/clip.mp4"
	// The origin prints "connected" when it has the 101; the proxy
	// registers the tunnel right after writing it, so the first request
	// may still find the origin not connected (503). Poll, bounded.
	code, body := fetch(t, url)
	for deadline := time.Now().Add(hangGuard); code == http.StatusServiceUnavailable && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		code, body = fetch(t, url)
	}
	if code != 200 || body != string(video) {
		t.Fatalf("GET %s: %d, %d bytes", url, code, len(body))
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Log("curl is not installed; the net/http client alone was used")
		return
	}
	out, err := exec.Command(curl, "-sS", "-r", "100-199", "-A", "VLC/3.0.18 LibVLC/3.0.18", url).Output()
	if err != nil || !bytes.Equal(out, video[100:200]) {
		t.Fatalf("curl range: %v, %q", err, out)
	}
	out, err = exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", url).Output()
	if err != nil || string(out) != fmt.Sprintf("200 %d", len(video)) {
		t.Fatalf("curl whole: %v, %q", err, out)
	}
}
