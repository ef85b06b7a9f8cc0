package nodepeer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Event is one line a node script printed: a JSON object whose "event"
// field names it.
type Event struct {
	// Name is the value of the "event" field ("unparsed" for a line
	// that is not a JSON object).
	Name string
	// Raw is the whole line.
	Raw json.RawMessage
}

// Decode unmarshals the event's JSON into v, failing the test on error.
func (e Event) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(e.Raw, v); err != nil {
		t.Fatalf("node event %s: %v", e.Raw, err)
	}
}

// Proc is a running node script.
type Proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr lockedBuffer

	mu      sync.Mutex
	events  []Event
	changed chan struct{} // closed and replaced when an event arrives
	exited  chan struct{} // closed when the process has exited
	waitErr error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Start runs `node args...` in dir and stops it when the test ends: it
// closes its stdin (the scripts exit when it ends), waits a bounded time,
// then kills it. When the test failed, the script's output is logged.
func Start(t testing.TB, dir string, args ...string) *Proc {
	t.Helper()
	p := &Proc{t: t, changed: make(chan struct{}), exited: make(chan struct{})}
	p.cmd = exec.Command("node", args...)
	p.cmd.Dir = dir
	p.cmd.Stderr = &p.stderr
	p.cmd.WaitDelay = 5 * time.Second
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting node: %v", err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		for sc.Scan() {
			line := append([]byte(nil), sc.Bytes()...)
			var head struct {
				Event string `json:"event"`
			}
			if json.Unmarshal(line, &head) != nil {
				head.Event = "unparsed"
			}
			p.mu.Lock()
			p.events = append(p.events, Event{Name: head.Event, Raw: line})
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		<-scanned // Wait closes stdout: read everything first
		err := p.cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stdin.Close()
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("node %s: stdout:\n%s\nstderr:\n%s", strings.Join(args, " "), p.Dump(), p.Stderr())
		}
	})
	return p
}

// Dump returns every event printed so far, one per line.
func (p *Proc) Dump() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, e := range p.events {
		b.Write(e.Raw)
		b.WriteByte('\n')
	}
	return b.String()
}

// Stderr returns what the script wrote to stderr so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

// All returns the events printed so far.
func (p *Proc) All() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Event(nil), p.events...)
}

// Wait returns the first event named name for which match (if not nil)
// returns true, waiting for it until ctx ends or node exits; either fails
// the test.
func (p *Proc) Wait(ctx context.Context, name string, match func(Event) bool) Event {
	p.t.Helper()
	for seen := 0; ; {
		p.mu.Lock()
		evs, changed := p.events[seen:], p.changed
		seen = len(p.events)
		p.mu.Unlock()
		for _, e := range evs {
			if e.Name == name && (match == nil || match(e)) {
				return e
			}
		}
		select {
		case <-changed:
		case <-p.exited:
			p.mu.Lock()
			more := len(p.events) > seen
			p.mu.Unlock()
			if !more {
				p.t.Fatalf("node exited (%v) before printing event %q", p.ExitErr(), name)
			}
		case <-ctx.Done():
			p.t.Fatalf("waiting for node event %q: %v", name, ctx.Err())
		}
	}
}

// WaitExit waits until node has exited and returns its exit error; the
// end of ctx first fails the test.
func (p *Proc) WaitExit(ctx context.Context) error {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.ExitErr()
	case <-ctx.Done():
		p.t.Fatalf("waiting for node to exit: %v", ctx.Err())
		return nil
	}
}

// Exited is closed when the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// ExitErr returns the error of the process's exit, nil while it runs.
func (p *Proc) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}
