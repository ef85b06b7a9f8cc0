package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/spdygo/spdy/internal/bench"
)

func TestMain(m *testing.M) {
	bench.ProxyChild() // the test binary is also the front-end process of mem
	goleak.VerifyTestMain(m)
}

// TestRunTiny runs every workload on every path, and one variant of P,
// at tiny sizes: every run must succeed and every downloaded byte is
// checked. Ratios are printed, not checked.
func TestRunTiny(t *testing.T) {
	var out, log bytes.Buffer
	err := run([]string{"-reps", "1", "-size", "8MiB", "-chunk", "64KiB", "-verify",
		"-workers", "8", "-ops", "200", "-streams", "50", "-variants", "win=1MiB,wbuf=64KiB", "-timeout", "60s"}, &out, &log)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	s := out.String()
	for _, want := range []string{"Download: one response of 8 MiB", "Small requests: 8 clients, 100 B POST body -> 1024 B response (200 requests per run)",
		"Memory per request held open", "download MB/s, proxy vs direct", "small requests/s, proxy vs revproxy"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "Failed runs") || strings.Contains(log.String(), "FAILED") {
		t.Errorf("a run failed:\n%s\n%s", s, log.String())
	}
	for name, n := range map[string]int{"direct": 2, "revproxy": 2, "proxy": 3, "proxy win=1MiB,wbuf=64KiB": 3} {
		if got := strings.Count(s, "| "+name+" |"); got != n {
			t.Errorf("%d %q rows, want %d:\n%s", got, name, n, s)
		}
	}
	if n := strings.Count(s, "(target "); n != 2 {
		t.Errorf("%d target lines, want 2:\n%s", n, s)
	}
}

// TestBadFlags checks that bad input is refused.
func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-reps", "0"},
		{"-workloads", "upload"},
		{"-paths", "nginx"},
		{"-size", "12XB"},
		{"-streams", "10,x"},
		{"-variants", "win=1MiB;window=2MiB"},
		{"-variants", ","},
		{"-ops", "-1"},
		{"stray"},
	} {
		var out, log bytes.Buffer
		if err := run(args, &out, &log); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
