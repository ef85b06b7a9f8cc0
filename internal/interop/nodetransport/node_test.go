package nodetransport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/internal/interop/nodepeer"
	"github.com/spdygo/spdy/session"
)

// testTimeout bounds every wait of the tests on node or on a session, so
// that a broken peer fails a test instead of hanging it. It is a bound, not
// an assertion about speed.
const testTimeout = 60 * time.Second

var (
	installOnce sync.Once
	installDir  string
	installErr  error
)

// nodeDir returns the directory of the node peer, with the packages of its
// package-lock.json installed. The test is skipped only when node or npm is
// not installed.
func nodeDir(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed; the interop tests with node's spdy-transport need node and npm", tool)
		}
	}
	installOnce.Do(func() {
		installDir, installErr = filepath.Abs(filepath.Join("..", "node"))
		if installErr == nil {
			installErr = install(installDir)
		}
	})
	if installErr != nil {
		t.Fatal(installErr)
	}
	return installDir
}

// install runs `npm ci` in dir unless every dependency that package.json
// pins is installed at its pinned version (under a lock shared with the
// other packages that run node).
func install(dir string) error {
	return nodepeer.Install(dir)
}

// event is one line the node peer printed: a JSON object whose "event"
// field names it.
type event struct {
	Name string
	Raw  json.RawMessage
}

// decode unmarshals the event's JSON into v.
func (e event) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(e.Raw, v); err != nil {
		t.Fatalf("node event %s: %v", e.Raw, err)
	}
}

// nodeProc is a running node peer.
type nodeProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr lockedBuffer

	mu      sync.Mutex
	events  []event
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

// startNode runs `node peer.js args...` and stops it when the test ends:
// it closes its stdin, waits a bounded time, then kills it.
func startNode(t *testing.T, args ...string) *nodeProc {
	t.Helper()
	dir := nodeDir(t)
	p := &nodeProc{t: t, changed: make(chan struct{}), exited: make(chan struct{})}
	p.cmd = exec.Command("node", append([]string{"peer.js"}, args...)...)
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
			p.events = append(p.events, event{Name: head.Event, Raw: line})
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
			t.Logf("node %s: stdout:\n%s\nstderr:\n%s", strings.Join(args, " "), p.dump(), p.stderr.String())
		}
	})
	return p
}

// dump returns every event printed so far, one per line.
func (p *nodeProc) dump() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, e := range p.events {
		b.Write(e.Raw)
		b.WriteByte('\n')
	}
	return b.String()
}

// all returns the events printed so far.
func (p *nodeProc) all() []event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]event(nil), p.events...)
}

// wait returns the first event named name for which match (if not nil)
// returns true, waiting for it until ctx ends or node exits.
func (p *nodeProc) wait(ctx context.Context, name string, match func(event) bool) event {
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
				p.t.Fatalf("node exited (%v) before printing event %q", p.exitErr(), name)
			}
		case <-ctx.Done():
			p.t.Fatalf("waiting for node event %q: %v", name, ctx.Err())
		}
	}
}

// waitExit waits until node has exited and returns its exit error.
func (p *nodeProc) waitExit(ctx context.Context) error {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.exitErr()
	case <-ctx.Done():
		p.t.Fatalf("waiting for node to exit: %v", ctx.Err())
		return nil
	}
}

func (p *nodeProc) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// versions are the protocols tested, with the names of subtests.
var versions = []session.Version{session.V2, session.V3, session.V31}

// nodeVersion is the version argument of spdy-transport's
// connection.start.
func nodeVersion(v session.Version) string {
	switch v {
	case session.V2:
		return "2"
	case session.V3:
		return "3"
	}
	return "3.1"
}

// names are the header names of the HTTP fields that differ between
// SPDY/2 and SPDY/3.
type names struct {
	method, path, version, host, scheme, status string
}

func headerNames(v session.Version) names {
	if v == session.V2 {
		return names{"method", "url", "version", "host", "scheme", "status"}
	}
	return names{":method", ":path", ":version", ":host", ":scheme", ":status"}
}

// request returns the header block of a request as node expects it: it
// refuses a SYN_STREAM without a method and a path.
func request(v session.Version, method, path string, extra ...hpackz.Field) []hpackz.Field {
	n := headerNames(v)
	f := []hpackz.Field{
		{Name: n.method, Value: method},
		{Name: n.path, Value: path},
		{Name: n.version, Value: "HTTP/1.1"},
		{Name: n.host, Value: "127.0.0.1"},
		{Name: n.scheme, Value: "http"},
	}
	return append(f, extra...)
}

// response returns the header block of a reply; node's client resets a
// stream whose reply has no status.
func response(v session.Version, status string, extra ...hpackz.Field) []hpackz.Field {
	n := headerNames(v)
	f := []hpackz.Field{{Name: n.status, Value: status}, {Name: n.version, Value: "HTTP/1.1"}}
	return append(f, extra...)
}

// header returns the value of the field named name, and whether it is
// there.
func header(fields []hpackz.Field, name string) (string, bool) {
	for _, f := range fields {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}
