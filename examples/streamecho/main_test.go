package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/internal/syncbuf"
	"github.com/spdygo/spdy/session"
)

// TestMain runs the command itself when the test binary is started as a
// child by the tests below, and checks for leaked goroutines otherwise.
func TestMain(m *testing.M) {
	if os.Getenv("STREAMECHO_RUN_MAIN") == "1" {
		os.Args = append([]string{"streamecho"}, strings.Fields(os.Getenv("STREAMECHO_ARGS"))...)
		main()
		return
	}
	goleak.VerifyTestMain(m)
}

// syncBuffer is a buffer safe for concurrent use.
type syncBuffer = syncbuf.Buffer

// started is a running command: its address, its log, and how to stop it.
type started struct {
	addr   string
	stderr *syncBuffer
	cancel context.CancelFunc
	status chan int
}

// start runs the command in-process with args and -addr 127.0.0.1:0, and
// returns once it listens. The command is stopped at the end of the test.
func start(t *testing.T, args ...string) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	sv := &started{stderr: &syncBuffer{}, cancel: cancel, status: make(chan int, 1)}
	go func() {
		code := run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), pw, sv.stderr)
		pw.Close()
		sv.status <- code
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no listening line: %v; log:\n%s", err, sv.stderr)
	}
	go io.Copy(io.Discard, pr) // nothing more is expected; never block the command
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if !ok {
		cancel()
		t.Fatalf("first line %q", line)
	}
	sv.addr = addr
	t.Cleanup(func() {
		cancel()
		<-sv.status
	})
	return sv
}

// stop ends the command as a signal would and returns its exit status.
func (sv *started) stop() int {
	sv.cancel()
	code := <-sv.status
	sv.status <- code // for the cleanup
	return code
}

func dial(t *testing.T, addr string, cfg *session.Config) *session.Session {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s, err := session.NewClient(conn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// pattern returns n bytes that differ from stream to stream.
func pattern(seed, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed*2654435761 + 1)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// echoStreams opens n streams on s at once, sends size bytes on each
// (more than a window, so flow control takes part) and checks that
// exactly those bytes come back before the FIN.
func echoStreams(t *testing.T, s *session.Session, n, size int) {
	t.Helper()
	ctx := context.Background()
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- func() error {
				st, err := s.Open(ctx, &session.OpenOptions{Priority: uint8(i % 4)})
				if err != nil {
					return err
				}
				defer st.Close()
				want := pattern(i, size)
				wrote := make(chan error, 1)
				go func() {
					_, err := st.Write(want)
					if err == nil {
						err = st.CloseWrite()
					}
					wrote <- err
				}()
				got, err := io.ReadAll(st)
				if werr := <-wrote; werr != nil {
					return fmt.Errorf("stream %d: write: %w", st.ID(), werr)
				}
				if err != nil {
					return fmt.Errorf("stream %d: read: %w", st.ID(), err)
				}
				if !bytes.Equal(got, want) {
					return fmt.Errorf("stream %d: echoed %d bytes, want the %d sent", st.ID(), len(got), len(want))
				}
				return nil
			}()
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestEcho(t *testing.T) {
	for _, tc := range []struct {
		proto     string
		unlimited bool
	}{
		{"spdy/3", false},
		{"spdy/3.1", false},
		{"spdy/2", false},
		{"spdy/3", true},
	} {
		t.Run(fmt.Sprintf("%s/unlimited=%v", tc.proto, tc.unlimited), func(t *testing.T) {
			args := []string{"-proto", tc.proto}
			if tc.unlimited {
				args = append(args, "-unlimited-peer-window")
			}
			sv := start(t, args...)
			v, err := session.ParseVersion(tc.proto)
			if err != nil {
				t.Fatal(err)
			}
			c := dial(t, sv.addr, &session.Config{Version: v, UnlimitedPeerWindow: tc.unlimited})
			echoStreams(t, c, 6, 200<<10)
			// An empty stream is echoed as an empty stream.
			st, err := c.Open(context.Background(), &session.OpenOptions{Fin: true})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := io.ReadAll(st); err != nil || len(got) != 0 {
				t.Errorf("empty stream: %q, %v", got, err)
			}
			st.Close()
			c.Close()
			if code := sv.stop(); code != 0 {
				t.Errorf("exit status %d; log:\n%s", code, sv.stderr)
			}
			log := sv.stderr.String()
			for _, want := range []string{"msg=session ", "proto=" + tc.proto + "\n", "id=1 bytes=204800", "msg=\"session ended\"", "streams=7"} {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q:\n%s", want, log)
				}
			}
		})
	}
}

// TestShutdownLetsStreamsFinish stops the command while a stream is under
// way: new streams are refused, the open one is still served to its end,
// and the session ends with GOAWAY OK, not a broken connection.
func TestShutdownLetsStreamsFinish(t *testing.T) {
	sv := start(t, "-proto", "spdy/3.1")
	c := dial(t, sv.addr, &session.Config{Version: session.V31})
	ctx := context.Background()
	st, err := c.Open(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Write([]byte("before ")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("before "))
	if _, err := io.ReadFull(st, buf); err != nil {
		t.Fatal(err)
	}

	status := make(chan int, 1)
	go func() { status <- sv.stop() }()
	// Wait for the GOAWAY: until it arrives, streams still open (and are
	// echoed, or refused as unprocessed if they cross the GOAWAY).
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		probe, err := c.Open(ctx, &session.OpenOptions{Fin: true})
		if errors.Is(err, session.ErrGoingAway) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		probe.Close()
		if i == 10000 || time.Now().After(deadline) {
			t.Fatal("no GOAWAY after the command was stopped")
		}
		time.Sleep(time.Millisecond)
	}

	if _, err := st.Write([]byte("after")); err != nil {
		t.Fatal(err)
	}
	st.CloseWrite()
	rest, err := io.ReadAll(st)
	if err != nil || string(rest) != "after" {
		t.Errorf("after the GOAWAY the stream echoed %q, %v", rest, err)
	}
	if code := <-status; code != 0 {
		t.Errorf("exit status %d; log:\n%s", code, sv.stderr)
	}
	<-c.Done()
	var ga *session.GoAwayError
	if !errors.As(c.Err(), &ga) || ga.Status != framing.GoAwayOK {
		t.Errorf("client session ended with %v, want GOAWAY OK", c.Err())
	}
	if log := sv.stderr.String(); strings.Contains(log, "closed before its streams finished") {
		t.Errorf("a session was cut short:\n%s", log)
	}
}

// TestShutdownGraceBounded stops the command while a peer keeps a stream
// open forever: the grace period ends it.
func TestShutdownGraceBounded(t *testing.T) {
	sv := start(t, "-grace", "10ms")
	c := dial(t, sv.addr, &session.Config{Version: session.V3})
	st, err := c.Open(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.Write([]byte("x"))
	io.ReadFull(st, make([]byte, 1)) // the server has the stream
	if code := sv.stop(); code != 0 {
		t.Errorf("exit status %d", code)
	}
	if log := sv.stderr.String(); !strings.Contains(log, "closed before its streams finished") {
		t.Errorf("log:\n%s", log)
	}
	<-c.Done()
}

func TestBadUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"-proto", "spdy/4"}, 2, "streamecho: -proto:"},
		{[]string{"-nosuchflag"}, 2, "flag provided but not defined: -nosuchflag"},
		{[]string{"extra"}, 2, `streamecho: unexpected argument "extra"`},
		{[]string{"-grace", "-1s"}, 2, "-grace must not be negative"},
		{[]string{"-addr", "127.0.0.1:notaport"}, 1, "streamecho: listen tcp"},
		{[]string{"-h"}, 0, "usage: streamecho"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("%q: status %d, stderr:\n%s\nwant status %d and %q", tc.args, code, stderr.String(), tc.code, tc.msg)
		}
		if stdout.Len() > 0 {
			t.Errorf("%q: stdout %q", tc.args, stdout.String())
		}
	}
}

// child starts the test binary as the command with args.
func child(t *testing.T, args string) (*exec.Cmd, *bytes.Buffer, io.Reader) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STREAMECHO_RUN_MAIN=1", "STREAMECHO_ARGS="+args)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stderr, stdout
}

// TestProcess runs the command as a process: a bad flag makes it exit with
// status 2, and SIGTERM stops a running server with status 0.
func TestProcess(t *testing.T) {
	cmd, stderr, _ := child(t, "-proto bogus")
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "streamecho: -proto:") {
		t.Errorf("bad flag: %v, stderr:\n%s", err, stderr)
	}

	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		return // no SIGTERM to send
	}
	cmd, stderr, stdout := child(t, "-addr 127.0.0.1:0")
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("first line %q, %v; stderr:\n%s", line, err, stderr)
	}
	c := dial(t, addr, &session.Config{Version: session.V3})
	echoStreams(t, c, 2, 1000)
	c.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v; stderr:\n%s", err, stderr)
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Errorf("stderr:\n%s", stderr)
	}
}
