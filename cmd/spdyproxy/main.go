// Spdyproxy is the public side of a reverse-connection proxy: origins
// behind NAT (spdyorigin, or any program using proxy.Connector) dial its
// tunnel port over TLS and keep the connection; clients send ordinary HTTP
// (HTTP/1.1, HTTP/2 over TLS, or SPDY) to its front end, and each request
// travels to its origin as a SPDY/3.1 stream.
//
// Usage:
//
//	spdyproxy -origins FILE [flags]
//	spdyproxy -demo
//
// The origins file has one origin per line, "NAME TOKEN" or
// "NAME sha256:HEX" (the SHA-256 of the token, so that the proxy does not
// store it); '#' starts a comment line. Requests are routed by path,
// /o/NAME/..., or with -route host by host name, NAME.DOMAIN.
//
// Once it listens, spdyproxy prints one line per listener on standard
// output ("front http://HOST:PORT", "front-tls https://HOST:PORT",
// "tunnel HOST:PORT", "metrics http://HOST:PORT/metrics"), and with a
// self-signed certificate a line "certificate sha256 HEX" that origins pin
// with spdyorigin -pin. It logs in log/slog's text format on standard
// error and shuts down gracefully on SIGINT or SIGTERM.
//
// With -demo it runs an embedded origin named "demo" as well, serving a
// small built-in site (an HTML page, an image and a large media-like file
// that supports Range requests) through a real tunnel on 127.0.0.1, checks
// that a request goes through, and prints the URLs to open. Run
// "spdyproxy -h" for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spdygo/spdy/proxy"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the proxy could not start or did not stop cleanly
	exitUsage = 2
)

// options are spdyproxy's parsed flags.
type options struct {
	front           string
	frontTLS        string
	tunnel          string
	tlsCert         string
	tlsKey          string
	origins         string
	route           string
	domain          string
	metrics         string
	demo            bool
	shutdownTimeout time.Duration
	quiet           bool
	verbose         bool
	maxConns        int
	set             map[string]bool // flags given on the command line
}

// defaultMaxConns is the default of -max-conns, per front end. An idle
// SPDY session costs about 50 KB, so the default bounds idle connections
// to about 200 MB per front end.
const defaultMaxConns = 4096

const usageText = `usage: spdyproxy -origins FILE [flags]
       spdyproxy -demo

Spdyproxy carries client requests to origins that dial in to it. Origins
(spdyorigin) connect to -tunnel over TLS and authenticate with their name
and token from -origins; clients use -front (plain: HTTP/1.1, SPDY and h2c,
told apart by the first bytes) or -front-tls (SPDY, HTTP/2 and HTTP/1.1 by
ALPN). Requests go to origin NAME by path (/o/NAME/...) or, with
-route host, by host name (NAME.DOMAIN).

The origins file has one origin per line: "NAME TOKEN", or
"NAME sha256:HEX" with the SHA-256 of the token in hex; lines starting with
'#' are comments.

Once ready it prints "front URL", "front-tls URL", "tunnel HOST:PORT",
"metrics URL" and, for a self-signed certificate, "certificate sha256 HEX"
on standard output. -demo also runs an embedded origin "demo" with a small
sample site and prints the URLs to open.

Flags:
`

// newFlagSet returns the flag set of spdyproxy filling o.
func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("spdyproxy", flag.ContinueOnError)
	fs.StringVar(&o.front, "front", "127.0.0.1:8080", "plain TCP `address` of the front end (HTTP/1.1, SPDY, h2c); empty for none; port 0 picks one")
	fs.StringVar(&o.frontTLS, "front-tls", "", "TLS `address` of the front end (SPDY, HTTP/2, HTTP/1.1 by ALPN); empty for none")
	fs.StringVar(&o.tunnel, "tunnel", "127.0.0.1:8443", "TLS `address` origins dial")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate `file` (PEM) of -tunnel and -front-tls; without it a self-signed one is generated (for local use)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "TLS private key `file` (PEM); needs -tls-cert")
	fs.StringVar(&o.origins, "origins", "", "origins `file`: NAME TOKEN (or NAME sha256:HEX) per line")
	fs.StringVar(&o.route, "route", "path", "routing: path (/o/NAME/...) or host (NAME.DOMAIN)")
	fs.StringVar(&o.domain, "domain", "", "parent `domain` of -route host; empty means the first label of any host")
	fs.StringVar(&o.metrics, "metrics", "", "`address` of the metrics (/metrics) and health (/healthz) endpoints; empty for none")
	fs.BoolVar(&o.demo, "demo", false, "run an embedded origin with a sample site and print the URLs to open")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a graceful shutdown waits for requests in flight")
	fs.BoolVar(&o.quiet, "q", false, "do not log requests")
	fs.IntVar(&o.maxConns, "max-conns", defaultMaxConns, "most client connections each front end serves at once; more wait to be accepted; 0 means no limit")
	fs.BoolVar(&o.verbose, "v", false, "log debug records (sessions, retries)")
	return fs
}

// usageError is a bad command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// parseFlags parses args. For -h it writes the usage to stdout and returns
// flag.ErrHelp; a bad command line gives a *usageError.
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
			fmt.Fprintf(stdout, "\nExit status: %d after a clean shutdown, %d when the proxy cannot start\nor stop cleanly, %d for a bad command line.\n", exitOK, exitError, exitUsage)
			return nil, flag.ErrHelp
		}
		return nil, &usageError{err.Error()}
	}
	o.set = make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	if fs.NArg() > 0 {
		return nil, &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return nil, &usageError{"-tls-cert and -tls-key go together"}
	}
	if o.origins == "" && !o.demo {
		return nil, &usageError{"-origins is required (or -demo)"}
	}
	if _, err := proxy.ParseRoute(o.route); err != nil {
		return nil, &usageError{fmt.Sprintf("-route %q: want path or host", o.route)}
	}
	if o.front == "" && o.frontTLS == "" {
		return nil, &usageError{"no front end: set -front or -front-tls"}
	}
	if o.tunnel == "" {
		return nil, &usageError{"-tunnel is required"}
	}
	if o.maxConns < 0 {
		return nil, &usageError{"-max-conns must not be negative"}
	}
	if o.shutdownTimeout <= 0 {
		return nil, &usageError{"-shutdown-timeout must be positive"}
	}
	return o, nil
}

// run is spdyproxy: it serves until ctx is done, then shuts down
// gracefully, and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "spdyproxy: %v\nusage: spdyproxy -origins FILE [flags] (spdyproxy -h lists them)\n", err)
		return exitUsage
	}
	logger := newLogger(stderr, o.verbose)
	d, err := start(o, logger)
	if err != nil {
		fmt.Fprintf(stderr, "spdyproxy: %v\n", err)
		return exitError
	}
	if err := d.announce(stdout); err != nil {
		d.close()
		fmt.Fprintf(stderr, "spdyproxy: %v\n", err)
		return exitError
	}
	if o.demo {
		if err := d.startDemo(ctx, stdout); err != nil {
			d.close()
			fmt.Fprintf(stderr, "spdyproxy: demo: %v\n", err)
			return exitError
		}
	}
	select {
	case <-ctx.Done():
	case err := <-d.failed:
		d.close()
		fmt.Fprintf(stderr, "spdyproxy: %v\n", err)
		return exitError
	}
	logger.Info("shutting down", "grace", o.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	if err := d.shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "spdyproxy: shutdown: %v\n", err)
		return exitError
	}
	logger.Info("stopped")
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
