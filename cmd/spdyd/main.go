// Spdyd is a static file server that speaks SPDY/3.1, SPDY/3, SPDY/2 and
// HTTP/1.1 on one plain TCP port, telling them apart by the first bytes of
// each connection, and, with TLS, SPDY, HTTP/2 and HTTP/1.1 chosen by ALPN.
// On the plain port an HTTP/1.1 client may also switch to SPDY/3.1 with
// "Upgrade: SPDY/3.1", or speak HTTP/2 with prior knowledge (h2c).
//
// Usage:
//
//	spdyd [flags]
//
// It serves the files under -root with directory listings, Range requests,
// conditional requests (If-Modified-Since), HEAD and the Content-Type of
// each file, as net/http's FileServer does. Once it listens it prints
// "listening HOST:PORT" on standard output; it logs one line per request on
// standard error and shuts down gracefully on SIGINT or SIGTERM. Run
// "spdyd -h" for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the server could not start or did not stop cleanly
	exitUsage = 2
)

// defaultShutdownTimeout bounds the graceful shutdown.
const defaultShutdownTimeout = 10 * time.Second

// options are spdyd's parsed flags.
type options struct {
	addr            string
	root            string
	tlsCert         string
	tlsKey          string
	selfSigned      bool
	proto           string
	push            bool
	shutdownTimeout time.Duration
	quiet           bool
	maxConns        int
}

// defaultMaxConns is the default of -max-conns. An idle SPDY session
// costs about 50 KB, so the default bounds idle connections to about
// 200 MB.
const defaultMaxConns = 4096

// tls reports whether the server listens with TLS.
func (o *options) tls() bool { return o.selfSigned || o.tlsCert != "" }

const usageText = `usage: spdyd [flags]

Spdyd serves the files under -root over SPDY/3.1, SPDY/3, SPDY/2 and
HTTP/1.1 on one plain TCP port (each connection is told apart by its first
bytes; HTTP/1.1 clients may also "Upgrade: SPDY/3.1", and HTTP/2 with prior
knowledge works too), or with TLS over SPDY, HTTP/2 and HTTP/1.1 chosen by
ALPN.

It prints "listening HOST:PORT" on standard output once it accepts
connections, logs one line per request on standard error (remote address,
method, path, protocol, status, body bytes, duration), and shuts down
gracefully on SIGINT or SIGTERM.

Flags:
`

// newFlagSet returns the flag set of spdyd filling o.
func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("spdyd", flag.ContinueOnError)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "TCP `address` to listen on; port 0 picks a free one")
	fs.StringVar(&o.root, "root", ".", "`directory` to serve")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate `file` (PEM); needs -tls-key")
	fs.StringVar(&o.tlsKey, "tls-key", "", "TLS private key `file` (PEM); needs -tls-cert")
	fs.BoolVar(&o.selfSigned, "tls-self-signed", false, "serve TLS with a certificate for 127.0.0.1, ::1 and localhost generated at start (kept in memory only)")
	fs.StringVar(&o.proto, "proto", "auto", "SPDY `version`: auto, spdy/3.1, spdy/3 or spdy/2. On a plain port, auto reads it from each connection's first frames and a version pins it; with TLS, auto offers all three by ALPN and a version offers only that one")
	fs.BoolVar(&o.push, "push", false, "with an HTML page, push the same-origin assets it links to (<link href>, <script src>, <img src>)")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", defaultShutdownTimeout, "how long a graceful shutdown waits for requests in flight")
	fs.BoolVar(&o.quiet, "q", false, "do not log requests")
	fs.IntVar(&o.maxConns, "max-conns", defaultMaxConns, "most connections served at once; more wait to be accepted; 0 means no limit")
	return fs
}

// errHelp is returned by parseFlags for -h: the usage was printed.
var errHelp = flag.ErrHelp

// usageError is a bad command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// parseFlags parses args. For -h it writes the usage to stdout and returns
// errHelp; a bad command line gives a *usageError.
func parseFlags(args []string, stdout io.Writer) (*options, error) {
	o := new(options)
	fs := newFlagSet(o)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprint(stdout, usageText)
			fs.PrintDefaults()
			fmt.Fprintf(stdout, "\nExit status: %d after a clean shutdown, %d when the server cannot start\nor stop cleanly, %d for a bad command line.\n", exitOK, exitError, exitUsage)
			return nil, errHelp
		}
		return nil, &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, &usageError{fmt.Sprintf("unexpected argument %q (the directory to serve is given with -root)", fs.Arg(0))}
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return nil, &usageError{"-tls-cert and -tls-key go together"}
	}
	if o.selfSigned && o.tlsCert != "" {
		return nil, &usageError{"-tls-self-signed and -tls-cert exclude each other"}
	}
	switch o.proto {
	case "auto", "spdy/3.1", "spdy/3", "spdy/2":
	default:
		return nil, &usageError{fmt.Sprintf("-proto %q: want auto, spdy/3.1, spdy/3 or spdy/2", o.proto)}
	}
	if o.maxConns < 0 {
		return nil, &usageError{"-max-conns must not be negative"}
	}
	if o.shutdownTimeout <= 0 {
		return nil, &usageError{"-shutdown-timeout must be positive"}
	}
	st, err := os.Stat(o.root)
	if err != nil {
		return nil, &usageError{fmt.Sprintf("-root: %v", err)}
	}
	if !st.IsDir() {
		return nil, &usageError{fmt.Sprintf("-root %s: not a directory", o.root)}
	}
	return o, nil
}

// run is spdyd: it serves until ctx is done, then shuts down gracefully,
// and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stdout)
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "spdyd: %v\nusage: spdyd [flags] (spdyd -h lists them)\n", err)
		return exitUsage
	}
	logger := log.New(stderr, "", log.LstdFlags|log.Lmicroseconds)
	d, err := start(o, logger)
	if err != nil {
		fmt.Fprintf(stderr, "spdyd: %v\n", err)
		return exitError
	}
	if _, err := fmt.Fprintf(stdout, "listening %s\n", d.addr()); err != nil {
		d.close()
		fmt.Fprintf(stderr, "spdyd: %v\n", err)
		return exitError
	}
	select {
	case <-ctx.Done():
	case err := <-d.failed:
		d.close()
		fmt.Fprintf(stderr, "spdyd: %v\n", err)
		return exitError
	}
	logger.Printf("shutting down (waiting up to %s for requests in flight)", o.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	if err := d.shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "spdyd: shutdown: %v\n", err)
		return exitError
	}
	logger.Printf("stopped")
	return exitOK
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal ends the process at once
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// describe returns what a server with o speaks, for the start-up log line.
func (o *options) describe() string {
	if o.tls() {
		spdy := "spdy/3.1, spdy/3, spdy/2"
		if o.proto != "auto" {
			spdy = o.proto
		}
		return "TLS with " + spdy + ", h2 and http/1.1 by ALPN"
	}
	if o.proto == "auto" {
		return "plain TCP with SPDY (version read from the first frames), HTTP/1.1 (and Upgrade: SPDY/3.1) and h2c"
	}
	return "plain TCP with " + o.proto + ", HTTP/1.1 (and Upgrade: SPDY/3.1) and h2c"
}
