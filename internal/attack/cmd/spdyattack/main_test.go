package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spdygo/spdy/httpadapter"
	"github.com/spdygo/spdy/internal/syncbuf"
)

// helperEnv makes the test binary act as a stand-in for spdyd or
// spdyproxy (chosen by its flags), so that the -spawn path runs without
// building the real ones.
const helperEnv = "SPDYATTACK_TEST_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(helperServer(os.Args[1:]))
	}
	goleak.VerifyTestMain(m)
}

// helperServer serves a site over SPDY/3.1 with prior knowledge on
// 127.0.0.1 and announces itself as spdyd does ("listening ADDR"), or, with
// -demo, as spdyproxy does ("front http://ADDR", then "demo origin ...");
// it stops on SIGTERM.
func helperServer(args []string) int {
	demo := false
	root := ""
	for i, a := range args {
		switch a {
		case "-demo":
			demo = true
		case "-root":
			if i+1 < len(args) {
				root = args[i+1]
			}
		}
	}
	mux := http.NewServeMux()
	if demo {
		media := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		mux.HandleFunc("/o/demo/", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/o/demo/media/sample.bin" {
				http.ServeContent(w, r, "sample.bin", time.Time{}, bytes.NewReader(media))
				return
			}
			w.Write([]byte("the demo site\n"))
		})
	} else {
		mux.Handle("/", http.FileServer(http.Dir(root)))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &httpadapter.Server{Handler: mux}
	go srv.Serve(ln)
	if demo {
		fmt.Printf("front http://%s\ntunnel 127.0.0.1:1\n", ln.Addr())
		fmt.Printf("demo origin \"demo\" is connected through the tunnel; open:\n")
	} else {
		fmt.Printf("listening %s\n", ln.Addr())
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	srv.Close()
	return 0
}

// startTarget serves a small and a large resource with an
// httpadapter.Server on loopback.
func startTarget(t *testing.T) string {
	t.Helper()
	large := bytes.Repeat([]byte("abcdefghijklmnop"), 1<<17) // 2 MiB
	mux := http.NewServeMux()
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("a small page\n")) })
	mux.HandleFunc("/large", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "large", time.Time{}, bytes.NewReader(large))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httpadapter.Server{Handler: mux}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().String()
}

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr syncbuf.Buffer
	code := run(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// decode reads the JSON lines of -json.
func decode(t *testing.T, out string) []map[string]any {
	t.Helper()
	var reps []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		reps = append(reps, m)
	}
	return reps
}

// TestTarget attacks an in-process server through the command's code
// path, sampling this process through /proc with -pid, with the good
// client, and reads the JSON reports.
func TestTarget(t *testing.T) {
	addr := startTarget(t)
	code, out, errOut := runCmd(t, "-target", addr, "-small", "/small", "-large", "/large",
		"-attack", "settings-flood,oversize-data", "-n", "0.05", "-good", "-pid", fmt.Sprint(os.Getpid()), "-json")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	reps := decode(t, out)
	if len(reps) != 2 {
		t.Fatalf("%d reports, want 2:\n%s", len(reps), out)
	}
	for _, r := range reps {
		res := r["result"].(map[string]any)
		if r["pass"] != true {
			t.Errorf("%v did not pass: %v", res["attack"], r)
		}
		u, ok := r["usage"].(map[string]any)
		if !ok || u["peak_rss_mib"].(float64) <= 0 || u["samples"].(float64) < 1 {
			t.Errorf("%v: no usage sampled: %v", res["attack"], r["usage"])
		}
		g, ok := r["good"].(map[string]any)
		if !ok || g["ok"].(float64) < 1 {
			t.Errorf("%v: the good client made no request: %v", res["attack"], r["good"])
		}
	}
	if res := reps[0]["result"].(map[string]any); res["attack"] != "settings-flood" || !strings.Contains(res["outcome"].(string), "GOAWAY PROTOCOL_ERROR") {
		t.Errorf("first report: %v", res)
	}
}

// TestTable prints the table for one attack, and fails (exit 1) when the
// outcome is not the prescribed one: a slowloris given one second, while
// the server's keepalive waits a minute, sees no connection closed.
func TestTable(t *testing.T) {
	addr := startTarget(t)
	code, out, errOut := runCmd(t, "-target", addr, "-small", "/small", "-large", "/large", "-attack", "window-overflow", "-n", "0.05")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"ATTACK", "window-overflow", "ok", "RST FLOW_CONTROL_ERROR x1", "GOAWAY PROTOCOL_ERROR"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCmd(t, "-target", addr, "-small", "/small", "-large", "/large", "-attack", "slowloris", "-wait", "1s", "-n", "0.02")
	if code != exitFail || !strings.Contains(out, "FAIL") || !strings.Contains(out, "failures:") {
		t.Errorf("exit %d for an outcome that is not the prescribed one:\n%s", code, out)
	}
}

// TestSpawn runs the -spawn path with stand-ins for the two servers.
func TestSpawn(t *testing.T) {
	t.Setenv(helperEnv, "1")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	old := build
	build = func(ctx context.Context, dir string) (string, string, error) { return self, self, nil }
	defer func() { build = old }()
	code, out, errOut := runCmd(t, "-spawn", "-attack", "settings-flood,many-sessions", "-n", "0.05", "-json")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	reps := decode(t, out)
	labels := map[string]int{}
	for _, r := range reps {
		labels[r["target_label"].(string)]++
		if r["pass"] != true {
			t.Errorf("did not pass: %v", r)
		}
		if u, ok := r["usage"].(map[string]any); !ok || u["peak_rss_mib"].(float64) <= 0 {
			t.Errorf("no usage of the spawned process: %v", r)
		}
		if g, ok := r["good"].(map[string]any); !ok || g["ok"].(float64) < 1 {
			t.Errorf("no good client: %v", r)
		}
	}
	if labels["spdyd"] != 2 || labels["spdyproxy"] != 2 {
		t.Errorf("reports per server: %v", labels)
	}
	if !strings.Contains(errOut, "spdyd (pid ") || !strings.Contains(errOut, "spdyproxy (pid ") {
		t.Errorf("no start lines:\n%s", errOut)
	}
}

// TestSite checks the site spdyd serves under -spawn.
func TestSite(t *testing.T) {
	dir := t.TempDir()
	if err := writeSite(dir); err != nil {
		t.Fatal(err)
	}
	small, err := os.ReadFile(filepath.Join(dir, smallName))
	if err != nil || len(small) < 4000 || len(small) > 64<<10 {
		t.Errorf("small page: %d bytes, %v", len(small), err)
	}
	st, err := os.Stat(filepath.Join(dir, largeName))
	if err != nil || st.Size() != largeSize {
		t.Errorf("large file: %v, %v", st, err)
	}
}

func TestUsage(t *testing.T) {
	code, out, _ := runCmd(t, "-h")
	if code != exitOK || !strings.Contains(out, "-spawn") || !strings.Contains(out, "rapid-reset") || !strings.Contains(out, "Exit status") {
		t.Errorf("-h: exit %d\n%s", code, out)
	}
	bad := []struct {
		args []string
		want string
	}{
		{nil, "-target HOST:PORT or -spawn is required"},
		{[]string{"-spawn", "-target", "127.0.0.1:1"}, "exclude each other"},
		{[]string{"-target", "nohost"}, "want host:port"},
		{[]string{"-target", "127.0.0.1:1", "-n", "0"}, "-n 0"},
		{[]string{"-target", "127.0.0.1:1", "-attack", "nonesuch"}, `unknown attack "nonesuch"`},
		{[]string{"-target", "127.0.0.1:1", "-insecure"}, "-insecure goes with -tls"},
		{[]string{"-target", "127.0.0.1:1", "-small", "page"}, "must start with /"},
		{[]string{"-spawn", "-pid", "12"}, "-pid goes with -target"},
		{[]string{"-target", "127.0.0.1:1", "extra"}, "unexpected argument"},
		{[]string{"-bogus"}, "flag provided but not defined"},
	}
	for _, b := range bad {
		code, _, errOut := runCmd(t, b.args...)
		if code != exitUsage || !strings.Contains(errOut, b.want) || !strings.Contains(errOut, "usage:") {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", b.args, code, errOut, exitUsage, b.want)
		}
	}
}

// TestUnreachable reports a target that refuses connections as a failure.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	code, out, _ := runCmd(t, "-target", addr, "-attack", "settings-flood")
	if code != exitFail || !strings.Contains(out, "FAIL") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}
