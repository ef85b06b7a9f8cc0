// Command streamecho is a SPDY echo server with no HTTP in it: it accepts
// sessions on a TCP listener and, on every stream a peer opens, sends back
// each byte it receives until the peer's FIN, then sends its own FIN. It
// shows the session and stream API at its plainest: a session per
// connection, an Accept loop per session, a goroutine per stream, and a
// graceful shutdown on SIGINT or SIGTERM.
//
//	streamecho -addr 127.0.0.1:8080 -proto spdy/3.1
//
// It prints "listening HOST:PORT" on standard output once it accepts
// connections (with -addr 127.0.0.1:0 the system picks the port), and logs
// sessions and streams on standard error. On a signal it stops listening,
// sends GOAWAY on every session, lets the streams under way finish for at
// most -grace, and exits.
//
// SPDY/3 is the default because it is what moby/spdystream (and so
// Kubernetes) speaks; -unlimited-peer-window serves such peers, which
// ignore flow control.
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
	"sync"
	"syscall"
	"time"

	"github.com/spdygo/spdy/session"
	"github.com/spdygo/spdy/stream"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command: it parses args, serves until ctx ends, and
// returns the exit status (2 for bad usage, 1 for a failure).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("streamecho", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen on this `host:port` (port 0 picks one)")
	proto := fs.String("proto", "spdy/3", "protocol: spdy/3.1, spdy/3 or spdy/2")
	unlimited := fs.Bool("unlimited-peer-window", false, "ignore flow control toward peers that have none (moby/spdystream)")
	grace := fs.Duration("grace", 5*time.Second, "on a signal, let streams under way finish for this long")
	trace := fs.Bool("trace", false, "log every frame read and written")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: streamecho [-addr host:port] [-proto spdy/3.1|spdy/3|spdy/2] [-unlimited-peer-window] [-grace duration] [-trace]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2 // the flag package printed the error and the usage
	}
	usageError := func(err error) int {
		fmt.Fprintln(stderr, "streamecho:", err)
		fs.Usage()
		return 2
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	version, err := session.ParseVersion(*proto)
	if err != nil {
		return usageError(fmt.Errorf("-proto: %v", err))
	}
	if *grace < 0 {
		return usageError(errors.New("-grace must not be negative"))
	}

	level := slog.LevelInfo
	if *trace {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "streamecho:", err)
		return 1
	}
	fmt.Fprintln(stdout, "listening", ln.Addr())
	srv := &server{
		cfg: &session.Config{
			Version:             version,
			UnlimitedPeerWindow: *unlimited,
			Logger:              log,
			TraceFrames:         *trace,
		},
		log:      log,
		grace:    *grace,
		sessions: map[*session.Session]bool{},
	}
	if err := srv.serve(ctx, ln); err != nil {
		log.Error("serve", "err", err)
		return 1
	}
	return 0
}

type server struct {
	cfg   *session.Config
	log   *slog.Logger
	grace time.Duration

	wg       sync.WaitGroup // one per session
	mu       sync.Mutex
	sessions map[*session.Session]bool
}

// serve accepts connections on ln until ctx ends, then shuts every session
// down gracefully and returns once they have all ended.
func (srv *server) serve(ctx context.Context, ln net.Listener) error {
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-stopped:
		}
		ln.Close()
	}()
	var err error
	for {
		var conn net.Conn
		conn, err = ln.Accept()
		if err != nil {
			break
		}
		s, serr := session.NewServer(conn, srv.cfg)
		if serr != nil { // only for a bad Config, which run rules out
			conn.Close()
			srv.log.Error("session", "err", serr)
			continue
		}
		srv.mu.Lock()
		srv.sessions[s] = true
		srv.mu.Unlock()
		srv.wg.Add(1)
		go srv.serveSession(s)
	}
	close(stopped)
	if ctx.Err() != nil {
		err = nil // the listener was closed to stop
	}
	srv.shutdown()
	return err
}

// shutdown sends GOAWAY on every session and waits until they end, closing
// those whose streams take longer than the grace period.
func (srv *server) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), srv.grace)
	defer cancel()
	var shutdowns sync.WaitGroup
	srv.mu.Lock()
	srv.log.Info("shutting down", "sessions", len(srv.sessions))
	for s := range srv.sessions {
		shutdowns.Go(func() {
			if err := s.Shutdown(ctx); err != nil {
				srv.log.Warn("session closed before its streams finished", "remote", s.RemoteAddr().String(), "err", err)
			}
		})
	}
	srv.mu.Unlock()
	shutdowns.Wait()
	srv.wg.Wait()
}

// serveSession accepts the streams of one session and echoes each on its
// own goroutine. It returns once the session and all its streams ended.
func (srv *server) serveSession(s *session.Session) {
	defer srv.wg.Done()
	log := srv.log.With("remote", s.RemoteAddr().String())
	log.Info("session", "proto", s.Version())
	var streams sync.WaitGroup
	for {
		st, err := s.Accept(context.Background())
		if err != nil {
			break // the session ended
		}
		streams.Add(1)
		go func() {
			defer streams.Done()
			echo(st, log)
		}()
	}
	streams.Wait()
	srv.mu.Lock()
	delete(srv.sessions, s)
	srv.mu.Unlock()
	st := s.Stats()
	log.Info("session ended", "err", s.Err(), "streams", st.StreamsAccepted, "bytes_in", st.BytesReceived, "bytes_out", st.BytesSent)
}

// echo copies everything st receives back to it, then finishes it: FIN
// after the echo of the peer's FIN, or a reset if the stream failed.
func echo(st *stream.Stream, log *slog.Logger) {
	n, err := io.Copy(st, st)
	st.Close()
	if err != nil {
		log.Info("stream failed", "id", st.ID(), "bytes", n, "err", err)
		return
	}
	log.Info("stream", "id", st.ID(), "bytes", n)
}
