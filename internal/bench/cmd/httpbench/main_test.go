package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRunPrintsEveryTable runs the command at tiny sizes on every
// transport and checks that each workload's table has a row for each.
func TestRunPrintsEveryTable(t *testing.T) {
	var out, log bytes.Buffer
	err := run([]string{"-reps", "1", "-w1-size", "256KiB", "-chunk", "8KiB",
		"-w3-workers", "8", "-w3-dur", "50ms", "-wmem-requests", "20", "-verify", "-timeout", "60s"}, &out, &log)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	s := out.String()
	for _, want := range []string{"W3-http: 8 clients", "W1-http: one response of 256 KiB", "Wmem-http: idle requests", "Targets (ratios to h2c"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	for _, tr := range []string{"http1", "h2c", "spdy31", "spdy3"} {
		if n := strings.Count(s, "| "+tr+" |"); n != 3 {
			t.Errorf("%d %s rows, want 3:\n%s", n, tr, s)
		}
	}
	// Two SPDY transports, three targets each.
	if n := strings.Count(s, "(target "); n != 6 {
		t.Errorf("%d target lines, want 6:\n%s", n, s)
	}
}

// TestBadFlags checks that bad input is refused.
func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-reps", "0"},
		{"-workloads", "w9"},
		{"-transports", "gopher"},
		{"-w1-size", "12XB"},
		{"-wmem-requests", "10,x"},
		{"stray"},
	} {
		var out, log bytes.Buffer
		if err := run(args, &out, &log); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
