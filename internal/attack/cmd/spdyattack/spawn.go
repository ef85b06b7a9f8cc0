package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spdygo/spdy/internal/attack"
)

// buildFunc builds spdyd and spdyproxy into dir and returns their paths.
type buildFunc func(ctx context.Context, dir string) (spdyd, spdyproxy string, err error)

// build is the buildFunc of -spawn; tests replace it.
var build buildFunc = builder

// builder builds the module's cmd/spdyd and cmd/spdyproxy with the go
// command.
func builder(ctx context.Context, dir string) (string, string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", "", fmt.Errorf("finding the go command: %w", err)
	}
	out, err := exec.CommandContext(ctx, goTool, "env", "GOMOD").Output()
	if err != nil {
		return "", "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", "", errors.New("not inside the module: run spdyattack -spawn from the repository")
	}
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", dir+string(filepath.Separator), "./cmd/spdyd", "./cmd/spdyproxy")
	cmd.Dir = filepath.Dir(mod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build ./cmd/spdyd ./cmd/spdyproxy: %w\n%s", err, out)
	}
	return filepath.Join(dir, "spdyd"), filepath.Join(dir, "spdyproxy"), nil
}

// The resources of the site spdyd serves.
const (
	smallName = "small.html"
	largeName = "large.bin"
	largeSize = 16 << 20
)

// writeSite writes spdyd's site into dir.
func writeSite(dir string) error {
	var small bytes.Buffer
	small.WriteString("<!doctype html>\n<title>spdyattack</title>\n")
	for i := 0; small.Len() < 4000; i++ {
		fmt.Fprintf(&small, "<p>line %d of the page the good client checks</p>\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, smallName), small.Bytes(), 0o644); err != nil {
		return err
	}
	large := make([]byte, largeSize)
	rand.NewChaCha8([32]byte{'s', 'p', 'd', 'y'}).Read(large)
	return os.WriteFile(filepath.Join(dir, largeName), large, 0o644)
}

// startTimeout bounds a server's start.
const startTimeout = time.Minute

// stopTimeout bounds a server's graceful stop, after which it is killed.
const stopTimeout = 20 * time.Second

// proc is a server process started for the attacks.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stderr *tail
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// readyFunc reads a line of a server's standard output and returns the
// address it announced, if any, and whether the server is ready.
type readyFunc func(line string) (addr string, ready bool)

// startProc starts path with args and waits until ready says so; it
// returns the process and the address announced.
func startProc(ctx context.Context, name, path string, args []string, ready readyFunc) (*proc, string, error) {
	p := &proc{name: name, cmd: exec.Command(path, args...), stderr: &tail{max: 64 << 10}, exited: make(chan struct{})}
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting %s: %w", name, err)
	}
	type announce struct{ addr string }
	readyCh := make(chan announce, 1)
	go func() {
		sc := bufio.NewScanner(out)
		addr := ""
		sent := false
		for sc.Scan() {
			if sent {
				continue
			}
			a, ok := ready(sc.Text())
			if a != "" {
				addr = a
			}
			if ok {
				readyCh <- announce{addr}
				sent = true
			}
		}
		io.Copy(io.Discard, out)
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case a := <-readyCh:
		if a.addr == "" {
			p.stop()
			return nil, "", fmt.Errorf("%s announced no address", name)
		}
		return p, a.addr, nil
	case <-p.exited:
		return nil, "", fmt.Errorf("%s exited at start: %v\n%s", name, p.err, p.stderr.String())
	case <-timer.C:
		p.stop()
		return nil, "", fmt.Errorf("%s did not become ready in %v\n%s", name, startTimeout, p.stderr.String())
	case <-ctx.Done():
		p.stop()
		return nil, "", ctx.Err()
	}
}

// alive returns an error when the process has exited.
func (p *proc) alive() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited during the attacks: %v\n%s", p.name, p.err, p.stderr.String())
	default:
		return nil
	}
}

// stop ends the process gracefully (SIGTERM), killing it after
// stopTimeout.
func (p *proc) stop() error {
	select {
	case <-p.exited:
		return p.err
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-p.exited:
		return p.err
	case <-timer.C:
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not stop in %v: killed", p.name, stopTimeout)
	}
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// server describes how to start one of the servers and where its
// resources are.
type server struct {
	name       string
	args       func(o *options, siteDir string) []string
	ready      readyFunc
	small      string
	large      string
	executable func(spdyd, spdyproxy string) string
}

var servers = []server{
	{
		name: "spdyd",
		args: func(o *options, siteDir string) []string {
			a := []string{"-addr", "127.0.0.1:0", "-root", siteDir, "-q"}
			if o.tls {
				a = append(a, "-tls-self-signed")
			}
			return a
		},
		ready: func(line string) (string, bool) {
			if addr, ok := strings.CutPrefix(line, "listening "); ok {
				return strings.TrimSpace(addr), true
			}
			return "", false
		},
		small:      "/" + smallName,
		large:      "/" + largeName,
		executable: func(spdyd, _ string) string { return spdyd },
	},
	{
		name: "spdyproxy",
		args: func(o *options, _ string) []string {
			if o.tls {
				return []string{"-demo", "-front", "", "-front-tls", "127.0.0.1:0", "-tunnel", "127.0.0.1:0", "-q"}
			}
			return []string{"-demo", "-front", "127.0.0.1:0", "-tunnel", "127.0.0.1:0", "-q"}
		},
		ready: func(line string) (string, bool) {
			for _, prefix := range []string{"front http://", "front-tls https://"} {
				if addr, ok := strings.CutPrefix(line, prefix); ok {
					return strings.TrimSpace(addr), false
				}
			}
			// The demo origin's line comes once its tunnel is up and a
			// request went through.
			return "", strings.HasPrefix(line, "demo origin")
		},
		small:      "/o/demo/",
		large:      "/o/demo/media/sample.bin",
		executable: func(_, spdyproxy string) string { return spdyproxy },
	},
}

// runSpawn builds the servers, and for each starts it, runs the attacks
// at o's size with sampling and the good client, and stops it.
func runSpawn(ctx context.Context, o *options, build buildFunc, progress io.Writer) ([]*attack.Report, error) {
	dir, err := os.MkdirTemp("", "spdyattack-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(progress, "spdyattack: building spdyd and spdyproxy\n")
	spdyd, spdyproxy, err := build(ctx, dir)
	if err != nil {
		return nil, err
	}
	siteDir := filepath.Join(dir, "site")
	if err := os.Mkdir(siteDir, 0o755); err != nil {
		return nil, err
	}
	if err := writeSite(siteDir); err != nil {
		return nil, err
	}
	var reps []*attack.Report
	for _, s := range servers {
		r, err := spawnAndAttack(ctx, o, s, s.executable(spdyd, spdyproxy), siteDir, progress)
		reps = append(reps, r...)
		if err != nil {
			return reps, err
		}
	}
	return reps, nil
}

func spawnAndAttack(ctx context.Context, o *options, s server, path, siteDir string, progress io.Writer) ([]*attack.Report, error) {
	p, addr, err := startProc(ctx, s.name, path, s.args(o, siteDir), s.ready)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "spdyattack: %s (pid %d) listens on %s\n", s.name, p.cmd.Process.Pid, addr)
	t := &attack.Target{Addr: addr, SmallPath: s.small, LargePath: s.large}
	if o.tls {
		t.TLS = &tls.Config{InsecureSkipVerify: true} // the servers' own self-signed certificates
	}
	reps, err := attackSite(ctx, o, site{label: s.name, target: t, pid: p.cmd.Process.Pid}, true, progress)
	if aerr := p.alive(); aerr != nil {
		return reps, aerr
	}
	if serr := p.stop(); serr != nil && err == nil {
		var ee *exec.ExitError
		if !errors.As(serr, &ee) || ee.ExitCode() != 0 {
			err = fmt.Errorf("%s: stop: %w\n%s", s.name, serr, p.stderr.String())
		}
	}
	return reps, err
}
