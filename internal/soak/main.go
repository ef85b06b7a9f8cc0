// Command soak is the long run of the proxy (make soak): in one process on
// 127.0.0.1 it runs a proxy.Proxy with a plain front end (HTTP/1.1 and
// SPDY, sniffed) and a TLS one (SPDY/3.1 and HTTP/1.1 by ALPN), several
// origins connected through proxy.Connector, and many media clients issuing
// Range requests, cancelling, reading slowly and checking every byte, while
// the origins' tunnels are cut and their connectors restarted. Every
// interval it prints memory, goroutines, open streams, requests, errors and
// throughput; at the end it fails if memory or goroutines grew after the
// warm-up, if anything stayed open once the clients stopped, or if any
// error was not one the clients expect. docs/soak.md has the rules.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served by -pprof only
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

func main() {
	os.Exit(mainErr(os.Args[1:], os.Stdout, os.Stderr))
}

// mainErr runs the command with args and returns its exit status: 0 for
// a pass, 1 for a failed soak, 2 for bad flags.
func mainErr(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	fs.DurationVar(&cfg.Duration, "duration", defaultDuration, "how long the clients run")
	fs.DurationVar(&cfg.Interval, "interval", defaultInterval, "time between report lines")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "time not judged for growth (default 20% of -duration, at least one -interval)")
	fs.IntVar(&cfg.Clients, "clients", defaultClients, "concurrent clients (HTTP/1.1 and SPDY/3.1, plain and TLS, in turn)")
	fs.IntVar(&cfg.Origins, "origins", defaultOrigins, "origins, each with its own tunnel")
	fs.Uint64Var(&cfg.Seed, "seed", defaultSeed, "seed of the clients' choices")
	fs.BoolVar(&cfg.JSON, "json", false, "print JSON lines instead of a table")
	fileMiB := fs.Int64("file-mib", defaultFileSize>>20, "size of each origin's movie in MiB")
	fs.DurationVar(&cfg.ReconnectEvery, "reconnect", defaultReconnectEvery, "time between disruptions of an origin's tunnel (cut at the proxy, or connector restarted)")
	fs.IntVar(&cfg.SPDYShare, "spdy-share", defaultSPDYShare, "SPDY clients sharing one connection")
	fs.DurationVar(&cfg.Drain, "drain", defaultDrain, "time the requests in flight at the end may take")
	profile := fs.String("profile", "", "directory to write goroutine dumps and heap profiles into: before the clients start, at each line, and once they stopped")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this loopback address (for example 127.0.0.1:6060)")
	verbose := fs.Bool("v", false, "log the proxy's and the connectors' records on standard error")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: soak [flags]\n\nRuns the proxy, its origins and media clients on 127.0.0.1 and fails if\nmemory or goroutines grow or an unexpected error happens.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "soak: unexpected arguments %q\n", fs.Args())
		return 2
	}
	// A zero in config means a default; on the command line it is a mistake.
	for _, f := range []struct {
		name string
		bad  bool
	}{
		{"-duration", cfg.Duration <= 0}, {"-interval", cfg.Interval <= 0}, {"-warmup", cfg.Warmup < 0},
		{"-clients", cfg.Clients < 1}, {"-origins", cfg.Origins < 1}, {"-reconnect", cfg.ReconnectEvery <= 0},
		{"-spdy-share", cfg.SPDYShare < 1}, {"-drain", cfg.Drain <= 0},
	} {
		if f.bad {
			fmt.Fprintf(stderr, "soak: %s %s: want a positive value\n", f.name, fs.Lookup(f.name[1:]).Value)
			return 2
		}
	}
	if *fileMiB < 1 || *fileMiB > 1<<14 {
		fmt.Fprintf(stderr, "soak: -file-mib %d: want 1 to 16384\n", *fileMiB)
		return 2
	}
	cfg.FileSize = *fileMiB << 20
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if *profile != "" {
		if err := os.MkdirAll(*profile, 0o755); err != nil {
			fmt.Fprintf(stderr, "soak: -profile: %v\n", err)
			return 2
		}
		cfg.ProfileDir = *profile
		// Finer heap profiles than the default of one sample per 512 KiB.
		runtime.MemProfileRate = 16 << 10
	}
	if err := cfg.defaults(); err != nil {
		fmt.Fprintf(stderr, "soak: %v\n", err)
		return 2
	}
	if *pprofAddr != "" {
		host, _, err := net.SplitHostPort(*pprofAddr)
		if err != nil || (host != "127.0.0.1" && host != "localhost" && host != "::1") {
			fmt.Fprintf(stderr, "soak: -pprof %q: want a loopback HOST:PORT\n", *pprofAddr)
			return 2
		}
		ln, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			fmt.Fprintf(stderr, "soak: -pprof: %v\n", err)
			return 2
		}
		srv := &http.Server{Handler: http.DefaultServeMux}
		go srv.Serve(ln)
		defer srv.Close()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, cfg, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "soak: %v\n", err)
		return 1
	}
	if !rep.Verdict.Pass {
		fmt.Fprintf(stderr, "soak: FAIL: %s\n", rep.Verdict.Reasons[0])
		return 1
	}
	return 0
}
