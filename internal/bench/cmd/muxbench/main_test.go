package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRunPrintsEveryTable runs the command at tiny sizes on three
// transports and checks that each workload's table has a row for each.
func TestRunPrintsEveryTable(t *testing.T) {
	var out, log bytes.Buffer
	err := run([]string{"-reps", "1", "-transports", "tcp,yamux,spdy31",
		"-w1-size", "256KiB", "-w2-streams", "3", "-w2-size", "40KiB", "-chunk", "8KiB",
		"-w3-dur", "50ms", "-w5-dur", "50ms", "-w4-streams", "20", "-verify", "-timeout", "60s"}, &out, &log)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	s := out.String()
	for _, want := range []string{"W1: one stream moving 256 KiB", "W2: 3 concurrent streams of 40 KiB", "W3: 64 workers", "W4: idle", "W5: 16 workers"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	// tcp has no W4 row: 4 tables with three rows, one with two.
	if n := strings.Count(s, "| spdy31 |"); n != 5 {
		t.Errorf("%d spdy31 rows, want 5:\n%s", n, s)
	}
	if n := strings.Count(s, "| tcp |"); n != 4 {
		t.Errorf("%d tcp rows, want 4:\n%s", n, s)
	}
}

// TestBadFlags checks that bad input is refused.
func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-reps", "0"},
		{"-workloads", "w9"},
		{"-transports", "carrier-pigeon"},
		{"-w1-size", "12XB"},
		{"-w4-streams", "10,x"},
		{"stray"},
	} {
		var out, log bytes.Buffer
		if err := run(args, &out, &log); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
