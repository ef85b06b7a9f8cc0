// Spdyorigin is the origin side of the reverse-connection proxy: it dials
// a spdyproxy's tunnel port over TLS, authenticates with its name and
// token, and serves the proxy's requests over that connection, from a
// directory or by passing them to a local HTTP server. It keeps the tunnel
// alive with pings and dials again, with jittered exponential backoff,
// whenever it breaks.
//
// Usage:
//
//	spdyorigin -proxy HOST:PORT -name NAME (-root DIR | -upstream URL) [flags]
//
// The token is given with -token or, better (command lines are visible to
// other users), in the environment variable SPDYORIGIN_TOKEN. The proxy's
// certificate is verified against the system's roots, a CA file (-ca) or a
// pinned SHA-256 fingerprint (-pin, as spdyproxy prints it for its
// self-signed certificate); -insecure turns verification off, for tests
// only. It stops gracefully on SIGINT or SIGTERM. Run "spdyorigin -h" for
// the flags.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spdygo/spdy/proxy"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // rejected by the proxy, or a configuration that cannot work
	exitUsage = 2
)

// TokenEnv is the environment variable that holds the token when -token is
// not given.
const TokenEnv = "SPDYORIGIN_TOKEN"

type options struct {
	proxyAddr string
	name      string
	token     string
	root      string
	upstream  *url.URL
	ca        string
	pin       string
	insecure  bool
	quiet     bool
	verbose   bool
}

const usageText = `usage: spdyorigin -proxy HOST:PORT -name NAME (-root DIR | -upstream URL) [flags]

Spdyorigin dials the tunnel port of a spdyproxy, authenticates as NAME with
its token (-token, or the environment variable SPDYORIGIN_TOKEN), and serves
the requests the proxy sends: the files under -root, or whatever the local
HTTP server at -upstream answers. It reconnects by itself, with jittered
exponential backoff, and stops gracefully on SIGINT or SIGTERM.

Flags:
`

func newFlagSet(o *options, upstream *string) *flag.FlagSet {
	fs := flag.NewFlagSet("spdyorigin", flag.ContinueOnError)
	fs.StringVar(&o.proxyAddr, "proxy", "", "the proxy's tunnel `address`, HOST:PORT or https://HOST:PORT/")
	fs.StringVar(&o.name, "name", "", "this origin's `name` in the proxy's origins file")
	fs.StringVar(&o.token, "token", "", "this origin's `token` (default: $"+TokenEnv+")")
	fs.StringVar(&o.root, "root", "", "serve the files under this `directory`")
	fs.StringVar(upstream, "upstream", "", "pass requests to the HTTP server at this `URL`")
	fs.StringVar(&o.ca, "ca", "", "verify the proxy against the CA certificates in this PEM `file`")
	fs.StringVar(&o.pin, "pin", "", "accept only the proxy certificate with this SHA-256 `fingerprint` (hex)")
	fs.BoolVar(&o.insecure, "insecure", false, "do not verify the proxy's certificate (tests only)")
	fs.BoolVar(&o.quiet, "q", false, "do not log requests")
	fs.BoolVar(&o.verbose, "v", false, "log debug records")
	return fs
}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func parseFlags(args []string, stdout io.Writer, getenv func(string) string) (*options, error) {
	o := new(options)
	var upstream string
	fs := newFlagSet(o, &upstream)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprint(stdout, usageText)
			fs.PrintDefaults()
			fmt.Fprintf(stdout, "\nExit status: %d after a clean stop, %d when the proxy rejects the name or\ntoken or the origin cannot start, %d for a bad command line.\n", exitOK, exitError, exitUsage)
			return nil, flag.ErrHelp
		}
		return nil, &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if o.proxyAddr == "" {
		return nil, &usageError{"-proxy is required"}
	}
	if !proxy.ValidName(o.name) {
		return nil, &usageError{fmt.Sprintf("-name %q: want a DNS label (a-z, 0-9, '-')", o.name)}
	}
	if o.token == "" {
		o.token = getenv(TokenEnv)
	}
	if o.token == "" {
		return nil, &usageError{"no token: set -token or $" + TokenEnv}
	}
	if (o.root == "") == (upstream == "") {
		return nil, &usageError{"give exactly one of -root and -upstream"}
	}
	if upstream != "" {
		u, err := url.Parse(upstream)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, &usageError{fmt.Sprintf("-upstream %q: want an http:// or https:// URL", upstream)}
		}
		o.upstream = u
	}
	if o.root != "" {
		st, err := os.Stat(o.root)
		if err != nil {
			return nil, &usageError{fmt.Sprintf("-root: %v", err)}
		}
		if !st.IsDir() {
			return nil, &usageError{fmt.Sprintf("-root %s: not a directory", o.root)}
		}
	}
	n := 0
	for _, set := range []bool{o.ca != "", o.pin != "", o.insecure} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, &usageError{"-ca, -pin and -insecure exclude each other"}
	}
	return o, nil
}

// tlsConfig returns how the proxy is verified.
func (o *options) tlsConfig() (*tls.Config, error) {
	switch {
	case o.pin != "":
		return proxy.PinnedTLSConfig(o.pin)
	case o.insecure:
		return &tls.Config{InsecureSkipVerify: true}, nil
	case o.ca != "":
		pem, err := os.ReadFile(o.ca)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca %s: no PEM certificate", o.ca)
		}
		return &tls.Config{RootCAs: pool}, nil
	}
	return nil, nil
}

// handler returns what serves the proxy's requests.
func (o *options) handler() http.Handler {
	if o.root != "" {
		return http.FileServer(http.Dir(o.root))
	}
	u := o.upstream
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			// Keep what the proxy said about the client.
			for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Prefix"} {
				if v := r.In.Header.Values(h); len(v) > 0 {
					r.Out.Header[h] = v
				}
			}
		},
		FlushInterval: -1, // stream as the upstream writes
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	o, err := parseFlags(args, stdout, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "spdyorigin: %v\nusage: spdyorigin -proxy HOST:PORT -name NAME (-root DIR | -upstream URL) (spdyorigin -h lists the flags)\n", err)
		return exitUsage
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	tlsConf, err := o.tlsConfig()
	if err != nil {
		fmt.Fprintf(stderr, "spdyorigin: %v\n", err)
		return exitError
	}
	h := o.handler()
	if !o.quiet {
		h = logRequests(logger, h)
	}
	c := &proxy.Connector{
		ProxyURL:  o.proxyAddr,
		Name:      o.name,
		Token:     o.token,
		Handler:   h,
		TLSConfig: tlsConf,
		Logger:    logger,
		OnConnect: func() { fmt.Fprintf(stdout, "connected %s as %s\n", o.proxyAddr, o.name) },
	}
	err = c.Run(ctx)
	if ctx.Err() != nil {
		logger.Info("stopped")
		return exitOK
	}
	fmt.Fprintf(stderr, "spdyorigin: %v\n", err)
	return exitError
}

// logRequests logs one record per request.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next.ServeHTTP(w, r)
		logger.Info("request", "method", r.Method, "uri", r.URL.RequestURI(), "client", r.Header.Get("X-Forwarded-For"),
			"duration", time.Since(start).Round(time.Microsecond))
	})
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}
