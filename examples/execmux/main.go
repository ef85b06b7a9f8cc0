// Command execmux runs commands remotely over a SPDY session, in the way
// Kubernetes' exec does: a custom protocol over streams, with no HTTP in
// it.
//
//	execmux -listen 127.0.0.1:8080
//	echo hello | execmux -connect 127.0.0.1:8080 upper
//	execmux -connect 127.0.0.1:8080 -size 80x24 -no-stdin winsize
//
// The server runs only its built-in commands (cat, upper, echo, route,
// fail and winsize), so that it behaves the same on every system; the
// client exits with the command's exit status.
//
// # Protocol
//
// The client opens every stream; each carries a streamtype header naming
// its role and a requestid header naming the request it belongs to, so that
// one session can carry many requests at once.
//
//   - error: opened first, with FIN (the client sends nothing on it). Its
//     command header holds the command and its arguments as a JSON array,
//     and its streams header lists, comma-separated, the other streams
//     the client opens for the request. When the command has ended the
//     server sends a JSON Status ({"exitCode":0}) and FIN.
//   - stdin: what the client writes is the command's standard input; the
//     client's FIN (Stream.CloseWrite) is its end of file.
//   - stdout, stderr: opened with FIN; the server writes the command's
//     output and ends each with FIN before it sends the status.
//   - resize: the client writes one JSON Size ({"width":80,"height":24})
//     per change of its terminal, and FIN when there will be no more.
//
// The server runs the command once the error stream and every stream it
// announced have arrived, and resets them all with PROTOCOL_ERROR if that
// takes longer than 30 seconds. A stream with an unknown type, without
// requestid, or a second one of a type in a request is reset. A client
// that resets its streams ends the command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spdygo/spdy/session"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole command; it returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("execmux", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "serve on this `host:port` (port 0 picks one)")
	connect := fs.String("connect", "", "run a command on the server at this `host:port`")
	proto := fs.String("proto", "spdy/3.1", "protocol: spdy/3.1, spdy/3 or spdy/2")
	size := fs.String("size", "", "client: send this terminal size (`WxH`, e.g. 80x24)")
	noStdin := fs.Bool("no-stdin", false, "client: send no standard input")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: execmux -listen host:port\n       execmux -connect host:port [-size WxH] [-no-stdin] command [arg ...]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usage := func(msg string) int {
		fmt.Fprintln(stderr, "execmux:", msg)
		fs.Usage()
		return 2
	}
	version, err := session.ParseVersion(*proto)
	if err != nil {
		return usage("-proto: " + err.Error())
	}
	cfg := &session.Config{Version: version}
	switch {
	case (*listen == "") == (*connect == ""):
		return usage("give exactly one of -listen and -connect")
	case *listen != "":
		if fs.NArg() > 0 || *size != "" || *noStdin {
			return usage("-listen takes no command, -size or -no-stdin")
		}
		return serve(ctx, *listen, cfg, stdout, stderr)
	}
	if fs.NArg() == 0 {
		return usage("no command")
	}
	var sizes chan Size
	if *size != "" {
		w, h, ok := strings.Cut(*size, "x")
		width, werr := strconv.ParseUint(w, 10, 16)
		height, herr := strconv.ParseUint(h, 10, 16)
		if !ok || werr != nil || herr != nil {
			return usage(fmt.Sprintf("-size %q is not WxH", *size))
		}
		// A terminal would send a size on every SIGWINCH; this one is fixed.
		sizes = make(chan Size, 1)
		sizes <- Size{Width: uint16(width), Height: uint16(height)}
		close(sizes)
	}
	if *noStdin {
		stdin = nil
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", *connect)
	if err != nil {
		fmt.Fprintln(stderr, "execmux:", err)
		return 1
	}
	s, err := session.NewClient(conn, cfg)
	if err != nil {
		conn.Close()
		fmt.Fprintln(stderr, "execmux:", err)
		return 1
	}
	defer s.Close()
	err = Exec(ctx, s, "1", Request{Command: fs.Args(), Stdin: stdin, Stdout: stdout, Stderr: stderr, Resize: sizes})
	var exit *ExitError
	switch {
	case errors.As(err, &exit):
		if exit.Message != "" {
			fmt.Fprintln(stderr, "execmux:", exit.Message)
		}
		return exit.ExitCode
	case err != nil:
		fmt.Fprintln(stderr, "execmux:", err)
		return 1
	}
	return 0
}

// serve accepts sessions on addr until ctx ends, then shuts them down.
func serve(ctx context.Context, addr string, cfg *session.Config, stdout, stderr io.Writer) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(stderr, "execmux:", err)
		return 1
	}
	fmt.Fprintln(stdout, "listening", ln.Addr())
	log := slog.New(slog.NewTextHandler(stderr, nil))
	srv := &Server{Logger: log}
	stopped := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	context.AfterFunc(ctx, func() { ln.Close() })
	var sessions sync.WaitGroup
	var acceptErr error
	for {
		conn, err := ln.Accept()
		if err != nil {
			acceptErr = err
			break
		}
		s, err := session.NewServer(conn, cfg)
		if err != nil {
			conn.Close()
			continue
		}
		sessions.Go(func() { srv.ServeSession(s) })
		sessions.Go(func() {
			select {
			case <-ctx.Done(): // GOAWAY; the requests under way may finish
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				s.Shutdown(sctx)
			case <-s.Done():
			}
		})
	}
	failed := stopped.Err() == nil
	cancel() // shuts the sessions down if the listener failed
	sessions.Wait()
	if failed {
		fmt.Fprintln(stderr, "execmux:", acceptErr)
		return 1
	}
	return 0
}
