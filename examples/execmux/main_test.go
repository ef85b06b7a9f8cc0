package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"go.uber.org/goleak"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/session"
	"github.com/spdygo/spdy/stream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe for concurrent writers and readers.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed at the next Write
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return b.b.Write(p)
}

// waitFor waits until the buffer holds s, and reports whether it did
// before ctx ended.
func (b *syncBuffer) waitFor(ctx context.Context, s string) bool {
	for {
		b.mu.Lock()
		if strings.Contains(b.b.String(), s) {
			b.mu.Unlock()
			return true
		}
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// failWriter fails every Write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("terminal gone") }

// connect returns a client session to a Server over loopback TCP, and the
// server's log. Both end with the test.
func connect(t *testing.T, srv *Server, v session.Version) (*session.Session, *syncBuffer) {
	t.Helper()
	log := &syncBuffer{}
	srv.Logger = slog.New(slog.NewTextHandler(log, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	served := make(chan struct{})
	go func() {
		defer close(served)
		conn, err := ln.Accept()
		ln.Close() // only now: closing it earlier would reset a connection it still queues
		if err != nil {
			return
		}
		s, err := session.NewServer(conn, &session.Config{Version: v})
		if err != nil {
			conn.Close()
			return
		}
		srv.ServeSession(s)
		s.Close()
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := session.NewClient(conn, &session.Config{Version: v})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		<-served
	})
	return c, log
}

// testContext bounds a test's requests, so that a protocol bug fails the
// test instead of hanging it.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestStdoutStderrSeparate(t *testing.T) {
	for _, v := range []session.Version{session.V2, session.V3, session.V31} {
		t.Run(v.String(), func(t *testing.T) {
			c, _ := connect(t, &Server{}, v)
			var stdout, stderr bytes.Buffer
			err := Exec(testContext(t), c, "r1", Request{
				Command: []string{"route"},
				Stdin:   strings.NewReader("one\n2>two\nthree\n2>four\n"),
				Stdout:  &stdout, Stderr: &stderr,
			})
			if err != nil {
				t.Fatal(err)
			}
			if stdout.String() != "one\nthree\n" || stderr.String() != "two\nfour\n" {
				t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
			}
		})
	}
}

// TestStdinEOF sends stdin in pieces and then ends it: cat and upper can
// only finish when the client's CloseWrite reaches them as EOF.
func TestStdinEOF(t *testing.T) {
	c, _ := connect(t, &Server{}, session.V31)
	for _, cmd := range []string{"cat", "upper"} {
		pr, pw := io.Pipe()
		want := bytes.Repeat([]byte("flow-controlled data "), 20000) // 420 KB, several windows
		go func() {
			for chunk := range slices.Chunk(want, 7000) {
				pw.Write(chunk)
			}
			pw.Close()
		}()
		var stdout bytes.Buffer
		if err := Exec(testContext(t), c, cmd, Request{Command: []string{cmd}, Stdin: pr, Stdout: &stdout}); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		if cmd == "upper" {
			want = bytes.ToUpper(want)
		}
		if !bytes.Equal(stdout.Bytes(), want) {
			t.Errorf("%s: %d bytes out, want %d", cmd, stdout.Len(), len(want))
		}
	}
}

func TestResize(t *testing.T) {
	c, log := connect(t, &Server{}, session.V3)
	sizes := make(chan Size)
	go func() {
		for _, sz := range []Size{{80, 24}, {132, 43}, {1, 1}} {
			sizes <- sz
		}
		close(sizes)
	}()
	var stdout bytes.Buffer
	if err := Exec(testContext(t), c, "w", Request{Command: []string{"winsize"}, Stdout: &stdout, Resize: sizes}); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "80x24\n132x43\n1x1\n" {
		t.Errorf("stdout %q", stdout.String())
	}
	if !strings.Contains(log.String(), "msg=resize requestid=w command=winsize width=132 height=43") {
		t.Errorf("server log:\n%s", log)
	}
}

func TestExitStatus(t *testing.T) {
	c, _ := connect(t, &Server{}, session.V31)
	ctx := testContext(t)
	var stdout, stderr bytes.Buffer
	if err := Exec(ctx, c, "1", Request{Command: []string{"echo", "a", "", "b c"}, Stdout: &stdout}); err != nil {
		t.Errorf("echo: %v", err)
	}
	if stdout.String() != "a  b c\n" {
		t.Errorf("echo: %q", stdout.String())
	}
	err := Exec(ctx, c, "2", Request{Command: []string{"fail", "3", "out", "of", "luck"}, Stdout: &stdout, Stderr: &stderr})
	var exit *ExitError
	if !errors.As(err, &exit) || exit.ExitCode != 3 || exit.Message != "" || stderr.String() != "out of luck\n" {
		t.Errorf("fail: %v, stderr %q", err, stderr.String())
	}
	err = Exec(ctx, c, "3", Request{Command: []string{"rm", "-rf", "/"}})
	if !errors.As(err, &exit) || exit.ExitCode != 127 || exit.Message != `unknown command "rm"` {
		t.Errorf("unknown command: %v", err)
	}
	// A client whose stdin fails resets the stream: the command's Read fails.
	err = Exec(ctx, c, "3b", Request{Command: []string{"cat"}, Stdin: iotest.ErrReader(errors.New("disk on fire")), Stdout: &stdout})
	if !errors.As(err, &exit) || exit.ExitCode != 1 {
		t.Errorf("cat of a failing stdin: %v", err)
	}
	// A client whose stdout fails stops the command's writes.
	err = Exec(ctx, c, "3c", Request{Command: []string{"cat"}, Stdin: strings.NewReader(strings.Repeat("x", 1<<20)), Stdout: failWriter{}})
	if err == nil || !strings.Contains(err.Error(), "terminal gone") {
		t.Errorf("cat to a failing stdout: %v", err)
	}
	// Custom commands replace the built-in ones.
	c, _ = connect(t, &Server{Commands: map[string]Command{"true": func(context.Context, IO) int { return 0 }}}, session.V31)
	if err := Exec(ctx, c, "4", Request{Command: []string{"true"}}); err != nil {
		t.Errorf("true: %v", err)
	}
	if err := Exec(ctx, c, "5", Request{Command: []string{"cat"}}); !errors.As(err, &exit) || exit.ExitCode != 127 {
		t.Errorf("cat without built-ins: %v", err)
	}
	if err := Exec(ctx, c, "6", Request{}); err == nil {
		t.Error("empty command accepted")
	}
}

// TestConcurrentRequests runs requests at once on one session: the
// request ids keep their streams apart.
func TestConcurrentRequests(t *testing.T) {
	c, _ := connect(t, &Server{}, session.V31)
	ctx := testContext(t)
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- func() error {
				in := strings.Repeat(fmt.Sprintf("request %d\n", i), 1000)
				var stdout bytes.Buffer
				if err := Exec(ctx, c, fmt.Sprint(i), Request{Command: []string{"upper"}, Stdin: strings.NewReader(in), Stdout: &stdout}); err != nil {
					return err
				}
				if stdout.String() != strings.ToUpper(in) {
					return fmt.Errorf("request %d: wrong output", i)
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

// TestCancel gives up on a command that waits for stdin: Exec returns, and
// the reset streams end the command on the server.
func TestCancel(t *testing.T) {
	c, log := connect(t, &Server{}, session.V31)
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(testContext(t))
	var stdout syncBuffer
	done := make(chan error, 1)
	go func() { done <- Exec(ctx, c, "c", Request{Command: []string{"cat"}, Stdin: pr, Stdout: &stdout}) }()
	pw.Write([]byte("partial"))
	if !stdout.waitFor(testContext(t), "partial") {
		t.Fatalf("cat never echoed; log:\n%s", log)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Exec after cancel: %v", err)
	}
	if !log.waitFor(testContext(t), "msg=exit requestid=c command=cat code=1") {
		t.Errorf("the command did not end; log:\n%s", log)
	}
}

// open opens one raw stream of the protocol.
func open(t *testing.T, c *session.Session, fin bool, fields ...hpackz.Field) *stream.Stream {
	t.Helper()
	st, err := c.Open(testContext(t), &session.OpenOptions{Headers: fields, Fin: fin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// wantReset reads st until it fails, and checks that the server reset it.
func wantReset(t *testing.T, what string, st *stream.Stream) {
	t.Helper()
	_, err := io.Copy(io.Discard, st)
	var re *stream.ResetError
	if !errors.As(err, &re) || re.Status != framing.StatusProtocolError || !re.Remote {
		t.Errorf("%s: %v, want a reset with PROTOCOL_ERROR", what, err)
	}
}

func TestBadStreams(t *testing.T) {
	c, log := connect(t, &Server{StreamTimeout: 20 * time.Millisecond}, session.V31)
	typ := func(v string) hpackz.Field { return hpackz.Field{Name: "streamtype", Value: v} }
	id := func(v string) hpackz.Field { return hpackz.Field{Name: "requestid", Value: v} }
	cmd := hpackz.Field{Name: "command", Value: `["cat"]`}

	wantReset(t, "unknown type", open(t, c, true, typ("stdout2"), id("a")))
	wantReset(t, "no request id", open(t, c, true, typ("stdout")))

	// A second stdout in one request is refused; the request still runs.
	out := open(t, c, true, typ("stdout"), id("b"))
	wantReset(t, "duplicate", open(t, c, true, typ("stdout"), id("b")))
	errStream := open(t, c, true, typ("error"), id("b"), cmd, hpackz.Field{Name: "streams", Value: "stdout"})
	if status, err := io.ReadAll(errStream); err != nil || string(status) != "{\"exitCode\":0}\n" {
		t.Errorf("status %q, %v", status, err)
	}
	if _, err := io.ReadAll(out); err != nil {
		t.Errorf("stdout: %v", err)
	}

	wantReset(t, "bad announcement", open(t, c, true, typ("error"), id("d"), cmd, hpackz.Field{Name: "streams", Value: "stdin,tty"}))

	// A request whose announced stdin never comes is given up.
	wantReset(t, "incomplete", open(t, c, true, typ("error"), id("e"), cmd, hpackz.Field{Name: "streams", Value: "stdin"}))

	// A command that is not a JSON array.
	errStream = open(t, c, true, typ("error"), id("f"), hpackz.Field{Name: "command", Value: "cat"})
	if status, err := io.ReadAll(errStream); err != nil || !strings.Contains(string(status), `"exitCode":127`) {
		t.Errorf("status %q, %v", status, err)
	}
	for _, want := range []string{"stream refused", "duplicate stream", "bad request", "request incomplete", "bad command"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// TestCommandLine runs the command's server and client modes in-process.
func TestCommandLine(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var serverLog syncBuffer
	status := make(chan int, 1)
	go func() {
		status <- run(ctx, []string{"-listen", "127.0.0.1:0"}, nil, pw, &serverLog)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		cancel()
		t.Fatalf("first line %q, %v", line, err)
	}
	go io.Copy(io.Discard, pr)
	defer func() {
		cancel()
		if code := <-status; code != 0 {
			t.Errorf("server exit status %d; log:\n%s", code, serverLog.String())
		}
	}()

	for _, tc := range []struct {
		args           []string
		stdin          string
		code           int
		stdout, stderr string
	}{
		{[]string{"upper"}, "hello\n", 0, "HELLO\n", ""},
		{[]string{"-no-stdin", "cat"}, "ignored", 0, "", ""},
		{[]string{"-size", "100x30", "winsize"}, "", 0, "100x30\n", ""},
		{[]string{"-proto", "spdy/3.1", "fail", "7", "seven"}, "", 7, "", "seven\n"},
		{[]string{"nosuchcommand"}, "", 127, "", "execmux: unknown command \"nosuchcommand\"\n"},
	} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"-connect", addr}, tc.args...)
		code := run(context.Background(), args, strings.NewReader(tc.stdin), &stdout, &stderr)
		if code != tc.code || stdout.String() != tc.stdout || stderr.String() != tc.stderr {
			t.Errorf("%q: status %d, stdout %q, stderr %q; want %d, %q, %q", tc.args, code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
		}
	}
}

func TestBadUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "give exactly one of -listen and -connect"},
		{[]string{"-listen", "127.0.0.1:0", "-connect", "127.0.0.1:1"}, 2, "exactly one"},
		{[]string{"-connect", "127.0.0.1:1"}, 2, "execmux: no command"},
		{[]string{"-connect", "127.0.0.1:1", "-size", "80", "cat"}, 2, `-size "80" is not WxH`},
		{[]string{"-connect", "127.0.0.1:1", "-size", "80x99999", "cat"}, 2, "is not WxH"},
		{[]string{"-listen", "127.0.0.1:0", "cat"}, 2, "-listen takes no command"},
		{[]string{"-proto", "h2", "-listen", "127.0.0.1:0"}, 2, "execmux: -proto:"},
		{[]string{"-bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"-listen", "127.0.0.1:notaport"}, 1, "execmux: listen tcp"},
		{[]string{"-h"}, 0, "usage: execmux"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, nil, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.msg) || stdout.Len() > 0 {
			t.Errorf("%q: status %d, stdout %q, stderr:\n%s\nwant status %d and %q", tc.args, code, stdout.String(), stderr.String(), tc.code, tc.msg)
		}
	}
}
