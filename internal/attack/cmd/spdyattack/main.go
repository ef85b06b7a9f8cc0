// Spdyattack aims the attacks of package attack (hostile SPDY/3.1 peers:
// floods, rapid reset, stream exhaustion, window abuse, decompression
// bombs, oversize and truncated frames, slowloris, idle connections by the
// thousand, many sessions) at a running SPDY server on loopback, and
// checks that each gets the outcome the protocol prescribes.
//
// Usage:
//
//	spdyattack -target HOST:PORT [-tls [-insecure]] [flags]
//	spdyattack -spawn [flags]
//
// With -target it attacks a server that is already running; -pid names
// its process, whose resident memory (VmRSS, VmHWM) and CPU time it
// samples from /proc during each attack, and -good runs a well-behaved
// client beside the attacks that checks every answer byte for byte. With
// -spawn it builds cmd/spdyd and cmd/spdyproxy, starts them on free ports
// of 127.0.0.1 (spdyproxy with its demo origin), runs the attacks (by
// default every one, at full size; -attack and -n choose) against each
// with sampling and the good client, prints a table and stops them ("make
// attack").
//
// It exits 0 when every attack got its prescribed outcome and the good
// client every answer right, 1 otherwise, 2 for a bad command line. Run
// "spdyattack -h" for the flags.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spdygo/spdy/internal/attack"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // an attack got the wrong outcome, the good client failed, or the run failed
	exitUsage = 2
)

// options are spdyattack's parsed flags.
type options struct {
	target   string
	tls      bool
	insecure bool
	host     string
	small    string
	large    string
	attacks  []attack.Attack
	scale    float64
	conns    int
	hold     time.Duration
	wait     time.Duration
	timeout  time.Duration
	unpaced  bool
	pid      int
	good     bool
	json     bool
	spawn    bool
}

const usageText = `usage: spdyattack -target HOST:PORT [-tls [-insecure]] [flags]
       spdyattack -spawn [flags]

Spdyattack aims hostile SPDY/3.1 peers at a server and checks that each
gets the outcome the protocol prescribes (GOAWAY and RST_STREAM statuses,
the connection closed or kept). With -target the server is already
running: plain TCP with prior knowledge, or TLS with ALPN spdy/3.1 (-tls).
With -spawn it builds cmd/spdyd and cmd/spdyproxy (with its demo origin),
starts them on 127.0.0.1, runs the attacks (by default every one, at full
size) against each with -pid sampling and the good client, prints a table
and stops them.

Attacks: %s.

Flags:
`

func newFlagSet(o *options, attacks *string) *flag.FlagSet {
	fs := flag.NewFlagSet("spdyattack", flag.ContinueOnError)
	fs.StringVar(&o.target, "target", "", "`host:port` of the server to attack")
	fs.BoolVar(&o.tls, "tls", false, "dial TLS with ALPN spdy/3.1 (with -spawn: start the servers with TLS)")
	fs.BoolVar(&o.insecure, "insecure", false, "with -tls, do not verify the server's certificate")
	fs.StringVar(&o.host, "host", "", "`name` sent as :host (default: the -target address)")
	fs.StringVar(&o.small, "small", "/", "`path` of a small resource (a page that fits in one stream window)")
	fs.StringVar(&o.large, "large", "", "`path` of a resource of 1 MiB or more that answers Range requests (default: -small)")
	fs.StringVar(attacks, "attack", "all", "attack `names`, comma-separated, or all")
	fs.Float64Var(&o.scale, "n", 1, "`scale` of the attacks: 1 is full size, 0.1 a tenth of the connections and streams")
	fs.IntVar(&o.conns, "conns", 0, "`number` of connections of idle-connections (default 1000 times -n)")
	fs.DurationVar(&o.hold, "hold", 5*time.Second, "how long idle-connections holds its connections")
	fs.DurationVar(&o.wait, "wait", 3*time.Minute, "how long slowloris waits for the server to close its connections")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "hang guard of one attack")
	fs.BoolVar(&o.unpaced, "unpaced", false, "floods write as fast as the socket takes them, without waiting for the server's PING answer after each batch (a server that closes with the flood unread may then lose its GOAWAY)")
	fs.IntVar(&o.pid, "pid", 0, "`pid` of the server process: sample its VmRSS, VmHWM and CPU time during each attack")
	fs.BoolVar(&o.good, "good", false, "run a well-behaved client beside the attacks and count its answers")
	fs.BoolVar(&o.json, "json", false, "print the reports as JSON, one object per line")
	fs.BoolVar(&o.spawn, "spawn", false, "build and start spdyd and spdyproxy, attack both, stop them")
	return fs
}

// usageError is a bad command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// parseFlags parses args. For -h it writes the usage to stdout and
// returns flag.ErrHelp; a bad command line gives a *usageError.
func parseFlags(args []string, stdout io.Writer) (*options, error) {
	o := new(options)
	var names string
	fs := newFlagSet(o, &names)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, usageText, attack.Names())
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			fmt.Fprintf(stdout, "\nExit status: %d when every attack got its prescribed outcome and the good\nclient every answer right, %d otherwise, %d for a bad command line.\n", exitOK, exitFail, exitUsage)
			return nil, flag.ErrHelp
		}
		return nil, &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	switch {
	case o.spawn && o.target != "":
		return nil, &usageError{"-spawn and -target exclude each other"}
	case !o.spawn && o.target == "":
		return nil, &usageError{"-target HOST:PORT or -spawn is required"}
	case o.spawn && o.pid != 0:
		return nil, &usageError{"-pid goes with -target (-spawn samples the servers it starts)"}
	case o.insecure && !o.tls:
		return nil, &usageError{"-insecure goes with -tls"}
	case o.scale <= 0 || o.scale > 100:
		return nil, &usageError{fmt.Sprintf("-n %v: want a scale above 0, at most 100", o.scale)}
	case o.conns < 0:
		return nil, &usageError{"-conns must not be negative"}
	case o.hold <= 0 || o.wait <= 0 || o.timeout <= 0:
		return nil, &usageError{"-hold, -wait and -timeout must be positive"}
	case o.pid < 0:
		return nil, &usageError{"-pid must be positive"}
	}
	if o.target != "" {
		if _, _, err := net.SplitHostPort(o.target); err != nil {
			return nil, &usageError{fmt.Sprintf("-target %q: want host:port", o.target)}
		}
	}
	for _, p := range []string{o.small, o.large} {
		if p != "" && !strings.HasPrefix(p, "/") {
			return nil, &usageError{fmt.Sprintf("path %q must start with /", p)}
		}
	}
	if names == "all" || names == "" {
		o.attacks = attack.Suite()
	} else {
		for _, n := range strings.Split(names, ",") {
			a, ok := attack.Lookup(strings.TrimSpace(n))
			if !ok {
				return nil, &usageError{fmt.Sprintf("unknown attack %q; the attacks are %s", n, attack.Names())}
			}
			o.attacks = append(o.attacks, a)
		}
	}
	return o, nil
}

// attackOptions returns the sizes of the attacks.
func (o *options) attackOptions() *attack.Options {
	return &attack.Options{Scale: o.scale, Conns: o.conns, Hold: o.hold, Wait: o.wait, Unpaced: o.unpaced}
}

// tlsConfig returns the TLS configuration of the attacks, nil without
// -tls.
func (o *options) tlsConfig() *tls.Config {
	if !o.tls {
		return nil
	}
	return &tls.Config{InsecureSkipVerify: o.insecure}
}

// site is one server to attack.
type site struct {
	label  string
	target *attack.Target
	pid    int
}

// attackSite runs the attacks against s and returns their reports.
func attackSite(ctx context.Context, o *options, s site, good bool, progress io.Writer) ([]*attack.Report, error) {
	var g *attack.GoodClient
	if good {
		g = &attack.GoodClient{Target: s.target}
		gctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := g.Start(gctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.label, err)
		}
		defer g.Stop()
	}
	var reps []*attack.Report
	for _, a := range o.attacks {
		if ctx.Err() != nil {
			return reps, ctx.Err()
		}
		rc := attack.RunConfig{Label: s.label, Options: o.attackOptions(), Good: g, Timeout: o.timeout}
		if s.pid > 0 {
			rc.Meter = &attack.ProcMeter{PID: s.pid}
		}
		if progress != nil {
			fmt.Fprintf(progress, "spdyattack: %s: %s...\n", s.label, a.Name)
		}
		reps = append(reps, attack.RunAttack(ctx, a, s.target, rc))
	}
	return reps, nil
}

// run is spdyattack; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "spdyattack: %v\nusage: spdyattack -target HOST:PORT [flags] | -spawn (spdyattack -h lists them)\n", err)
		return exitUsage
	}
	var reps []*attack.Report
	if o.spawn {
		reps, err = runSpawn(ctx, o, build, stderr)
	} else {
		t := &attack.Target{Addr: o.target, TLS: o.tlsConfig(), Host: o.host, SmallPath: o.small, LargePath: o.large}
		reps, err = attackSite(ctx, o, site{label: o.target, target: t, pid: o.pid}, o.good, stderr)
	}
	if perr := printReports(stdout, reps, o.json); perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		fmt.Fprintf(stderr, "spdyattack: %v\n", err)
		return exitFail
	}
	for _, r := range reps {
		if !r.Passed() {
			return exitFail
		}
	}
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
