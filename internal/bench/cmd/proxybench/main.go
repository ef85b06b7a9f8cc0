// Command proxybench measures this module's reverse-connection proxy (P,
// package proxy) against the ways to an origin it competes with, in one
// invocation on loopback, and prints the medians of several repetitions
// with their ratios as Markdown tables.
//
//	download  one GET whose response is -size bytes, written by the handler
//	          from a reused -chunk buffer with a Content-Length: direct to
//	          the origin's net/http HTTP/1.1 server against through P
//	          (HTTP/1.1 to P's front end, then the origin's SPDY/3.1 tunnel
//	          over TLS)
//	small     -workers clients sharing one http.Client, each sending a POST
//	          of -req bytes and reading a -resp response, for -dur: through
//	          P against through httputil.ReverseProxy over HTTP/1.1 to the
//	          origin's HTTP/1.1 server (direct too, for reference)
//	mem       -streams requests held open at once (the origin sent the
//	          headers and waits): the memory and goroutines per request of
//	          the front end (P, or the ReverseProxy), which runs in a
//	          process of its own, and of the rest (client and origin)
//
// Every path is reached by the same client: net/http's HTTP/1.1 Transport
// with keep-alive and an idle connection for every client. -variants adds
// rows for P with other tunnel settings. Repetitions interleave the paths
// so that a noisy moment on a shared machine does not hit one path only.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/spdygo/spdy/internal/bench"
)

type config struct {
	reps      int
	workloads map[string]bool
	paths     map[string]bool
	variants  []bench.ProxyVariant

	size     int64
	chunk    int
	workers  int
	req      int
	resp     int
	dur      time.Duration
	ops      int64
	streams  []int
	verify   bool
	timeout  time.Duration
	heapProf string
}

// workloads in the order they run and print.
var workloadNames = []string{"download", "small", "mem"}

// Targets: P's download rate against direct HTTP/1.1 to the origin, and
// its small-request rate against httputil.ReverseProxy.
const (
	downloadTarget = 0.7
	smallTarget    = 1.5
)

func main() {
	bench.ProxyChild()
	bench.Main("proxybench", run)
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("proxybench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var names []string
	for _, t := range bench.ProxyPaths() {
		names = append(names, t.Name)
	}
	fs.Usage = bench.Usage(fs, stderr, "Runs the download, small-request and memory workloads through the reverse-connection proxy and the paths it is compared with.", names)
	var c config
	var workloads, paths, variants, size, chunk, req, resp, streams, cpuprofile, memprofile string
	fs.IntVar(&c.reps, "reps", 5, "repetitions of each workload on each path (the tables show medians)")
	fs.StringVar(&workloads, "workloads", "download,small,mem", "comma-separated workloads to run: download, small, mem")
	fs.StringVar(&paths, "paths", "all", "comma-separated paths to run, or all")
	fs.StringVar(&variants, "variants", "", "more rows for P with other tunnel settings: `specs` separated by ';', each a comma-separated list of settings: KEY=SIZE with the keys win, maxwin, swin, maxswin (stream and session windows, both ends), frame (MaxFrameSize), maxstreams (MaxConcurrentStreams, both ends, a count) and wbuf (the origin's Connector.WriteBufferSize), or the switches stored (header blocks not compressed), plain (the tunnel over plain TCP) and noflush (the front end's flushes do nothing; a mem run refuses it), e.g. \"win=1MiB,swin=16MiB;wbuf=64KiB;plain,stored\"")
	fs.StringVar(&size, "size", "1GiB", "download: size of the one response")
	fs.StringVar(&chunk, "chunk", "64KiB", "download: size of each handler Write and client Read")
	fs.IntVar(&c.workers, "workers", 64, "small: concurrent clients")
	fs.StringVar(&req, "req", "100", "small: request body size")
	fs.StringVar(&resp, "resp", "1KiB", "small: response body size")
	fs.DurationVar(&c.dur, "dur", 3*time.Second, "small: duration of each run")
	fs.Int64Var(&c.ops, "ops", 0, "small: stop each run after this many requests instead of after -dur (0: -dur)")
	fs.StringVar(&streams, "streams", "1000", "mem: comma-separated counts of requests held open")
	fs.BoolVar(&c.verify, "verify", false, "download: check every received byte, not only the count (small and mem always check)")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Minute, "limit of each run; a run over it fails the invocation")
	fs.StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the whole invocation to `file` (mem's front ends run in processes of their own and are not in it)")
	fs.StringVar(&memprofile, "memprofile", "", "write an allocation profile of the whole invocation to `file` at the end")
	fs.StringVar(&c.heapProf, "front-heapprofile", "", "mem: write the front end's heap profile, as the requests are held open, to `prefix`-PATH-N.pprof (the last repetition's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if c.reps < 1 {
		return fmt.Errorf("-reps must be at least 1")
	}
	sel, err := bench.LookupProxyPaths(paths)
	if err != nil {
		return err
	}
	c.paths = map[string]bool{}
	for _, t := range sel {
		c.paths[t.Name] = true
	}
	for _, spec := range strings.Split(variants, ";") {
		if strings.TrimSpace(spec) == "" {
			continue
		}
		v, err := bench.ParseProxyVariant(spec)
		if err != nil {
			return fmt.Errorf("-variants: %w", err)
		}
		if v == (bench.ProxyVariant{}) {
			return fmt.Errorf("-variants: %q changes nothing", spec)
		}
		c.variants = append(c.variants, v)
	}
	if c.workloads, err = bench.ParseWorkloads(workloads, workloadNames, ""); err != nil {
		return err
	}
	if c.size, err = bench.ParseSize(size); err != nil {
		return err
	}
	if c.chunk, err = bench.ParseBufSize(chunk); err != nil {
		return err
	}
	if c.req, err = bench.ParseBufSize(req); err != nil {
		return err
	}
	if c.resp, err = bench.ParseBufSize(resp); err != nil {
		return err
	}
	if c.streams, err = bench.ParseCounts(streams, "streams"); err != nil {
		return err
	}
	if c.workers < 1 || c.size < 1 || c.ops < 0 || (c.ops == 0 && c.dur <= 0) {
		return fmt.Errorf("counts, sizes and durations must be positive")
	}
	stopCPU, err := bench.StartCPUProfile(cpuprofile)
	if err != nil {
		return err
	}
	defer stopCPU()
	defer bench.StartMemProfile(memprofile)()
	load0 := bench.LoadAvg()
	res, fails := measure(&c, stderr)
	report(stdout, &c, res, fails, load0, bench.LoadAvg())
	if len(fails) > 0 {
		return fmt.Errorf("%d runs failed", len(fails))
	}
	return nil
}

// row is one path of a workload's table.
type row struct {
	name    string
	front   string              // mem: PathProxy or PathRevProxy
	variant bench.ProxyVariant  // mem: P's settings
	t       bench.HTTPTransport // download and small
}

// rows returns the rows of workload w, in the order they run and print:
// the baseline first, P and its variants last.
func rows(c *config, w string) []row {
	paths := map[string]bench.HTTPTransport{}
	for _, t := range bench.ProxyPaths() {
		paths[t.Name] = t
	}
	var order []string
	switch w {
	case "download":
		order = []string{bench.PathDirect, bench.PathProxy}
	case "small":
		order = []string{bench.PathDirect, bench.PathRevProxy, bench.PathProxy}
	case "mem":
		order = []string{bench.PathRevProxy, bench.PathProxy}
	}
	var out []row
	for _, name := range order {
		if c.paths[name] {
			out = append(out, row{name: name, front: name, t: paths[name]})
		}
	}
	for _, v := range c.variants {
		t := bench.ProxyPath(v)
		out = append(out, row{name: t.Name, front: bench.PathProxy, variant: v, t: t})
	}
	return out
}

// result is the outcome of one run of any workload.
type result struct {
	http bench.HTTPResult
	mem  bench.ProxyIdleResult
}

func key(w string, n int, r string) bench.Cell { return bench.Cell{W: w, N: n, T: r} }

func measure(c *config, log io.Writer) (map[bench.Cell][]result, []bench.Failure) {
	res := map[bench.Cell][]result{}
	var fails []bench.Failure
	for rep := 1; rep <= c.reps; rep++ {
		for _, w := range workloadNames {
			if !c.workloads[w] {
				continue
			}
			ns := []int{0}
			if w == "mem" {
				ns = c.streams
			}
			for _, n := range ns {
				for _, r := range rows(c, w) {
					k := key(w, n, r.name)
					out, err := runOne(c, w, n, r, rep == c.reps)
					if err != nil {
						fails = append(fails, bench.Failure{Rep: rep, Cell: k, Err: err})
						fmt.Fprintf(log, "rep %d/%d %s %-8s FAILED: %v\n", rep, c.reps, label(w, n), r.name, err)
						continue
					}
					res[k] = append(res[k], out)
					fmt.Fprintf(log, "rep %d/%d %s %-8s %s\n", rep, c.reps, label(w, n), r.name, describe(w, out))
				}
			}
		}
	}
	return res, fails
}

func runOne(c *config, w string, n int, r row, last bool) (result, error) {
	runtime.GC()
	switch w {
	case "download":
		hr, err := bench.HTTPBulk(r.t, bench.HTTPBulkParams{Size: c.size, Chunk: c.chunk, Verify: c.verify, Timeout: c.timeout})
		if err == nil && hr.Bytes != c.size {
			err = fmt.Errorf("%d bytes received, want %d", hr.Bytes, c.size)
		}
		return result{http: hr}, err
	case "small":
		hr, err := bench.HTTPReqResp(r.t, bench.HTTPReqRespParams{Workers: c.workers, ReqSize: c.req, RespSize: c.resp, Duration: c.dur, Ops: c.ops, Timeout: c.timeout})
		return result{http: hr}, err
	case "mem":
		p := bench.ProxyIdleParams{FrontEnd: r.front, Variant: r.variant, Requests: n, Timeout: c.timeout}
		if c.heapProf != "" && last {
			p.HeapProfile = fmt.Sprintf("%s-%s-%d.pprof", c.heapProf, strings.ReplaceAll(r.name, " ", "-"), n)
		}
		m, err := bench.ProxyIdle(p)
		return result{mem: m}, err
	}
	return result{}, fmt.Errorf("unknown workload %s", w)
}

func label(w string, n int) string {
	if w == "mem" {
		return fmt.Sprintf("mem/%d", n)
	}
	return w
}

func describe(w string, r result) string {
	switch w {
	case "download":
		return fmt.Sprintf("%8.1f MB/s  %.2f CPU s/GB  (%v)", r.http.Throughput()/1e6, r.http.CPUPerGB(), r.http.Elapsed.Round(time.Millisecond))
	case "small":
		return fmt.Sprintf("%8.0f requests/s  %.1f CPU µs/request  %d connections  (%d in %v)", r.http.Rate(), cpuPerOp(r), r.http.Conns, r.http.Ops, r.http.Elapsed.Round(time.Millisecond))
	case "mem":
		m := r.mem
		return fmt.Sprintf("front end: heap %.0f B, stack %.0f B, %.2f goroutines per request; rest: heap %.0f B, stack %.0f B, %.2f goroutines; %d connections (held in %v)",
			m.Front.Heap, m.Front.Stack, m.Front.Goroutines, m.Rest.Heap, m.Rest.Stack, m.Rest.Goroutines, m.Conns, m.Elapsed.Round(time.Millisecond))
	}
	return ""
}

func cpuPerOp(r result) float64 { return r.http.CPU.Seconds() * 1e6 / float64(r.http.Ops) }

func report(out io.Writer, c *config, res map[bench.Cell][]result, fails []bench.Failure, load0, load1 string) {
	w := bufio.NewWriter(out)
	defer w.Flush()
	fmt.Fprintf(w, "%s; load average %s before, %s after; medians of %d repetitions, [min–max] in brackets.\n\n", bench.Machine(), load0, load1, c.reps)
	var verdicts []string
	get := func(w string, n int, name string) []result { return res[key(w, n, name)] }

	if c.workloads["download"] {
		fmt.Fprintf(w, "Download: one response of %s (handler writes and client reads of %s), ratios to %s\n\n", bench.FormatSize(c.size), bench.FormatSize(int64(c.chunk)), bench.PathDirect)
		fmt.Fprintf(w, "| path | MB/s | vs %s | CPU s/GB | vs %s |\n", bench.PathDirect, bench.PathDirect)
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
		tput := func(r result) float64 { return r.http.Throughput() / 1e6 }
		cpu := func(r result) float64 { return r.http.CPUPerGB() }
		base := bench.StatOf(get("download", 0, bench.PathDirect), tput)
		baseCPU := bench.StatOf(get("download", 0, bench.PathDirect), cpu)
		for _, r := range rows(c, "download") {
			rs := get("download", 0, r.name)
			if len(rs) == 0 {
				continue
			}
			s, cs := bench.StatOf(rs, tput), bench.StatOf(rs, cpu)
			fmt.Fprintf(w, "| %s | %.0f [%.0f–%.0f] | %s | %.2f [%.2f–%.2f] | %s |\n", r.name, s.Med, s.Lo, s.Hi, bench.Ratio(s.Med, base.Med), cs.Med, cs.Lo, cs.Hi, bench.Ratio(cs.Med, baseCPU.Med))
			if r.name == bench.PathProxy && c.paths[bench.PathDirect] {
				verdicts = append(verdicts, bench.Verdict("download MB/s, proxy vs direct", s.Med/base.Med, downloadTarget, true))
			}
		}
		fmt.Fprintln(w)
	}
	if c.workloads["small"] {
		run := fmt.Sprintf("%v per run", c.dur)
		if c.ops > 0 {
			run = fmt.Sprintf("%d requests per run", c.ops)
		}
		fmt.Fprintf(w, "Small requests: %d clients, %d B POST body -> %d B response (%s), ratios to %s\n\n", c.workers, c.req, c.resp, run, bench.PathRevProxy)
		fmt.Fprintf(w, "| path | requests/s | vs %s | CPU µs/request | vs %s | connections |\n", bench.PathRevProxy, bench.PathRevProxy)
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
		rate := func(r result) float64 { return r.http.Rate() }
		conns := func(r result) float64 { return float64(r.http.Conns) }
		base := bench.StatOf(get("small", 0, bench.PathRevProxy), rate)
		baseCPU := bench.StatOf(get("small", 0, bench.PathRevProxy), cpuPerOp)
		for _, r := range rows(c, "small") {
			rs := get("small", 0, r.name)
			if len(rs) == 0 {
				continue
			}
			s, cs := bench.StatOf(rs, rate), bench.StatOf(rs, cpuPerOp)
			fmt.Fprintf(w, "| %s | %.0f [%.0f–%.0f] | %s | %.1f [%.1f–%.1f] | %s | %.0f |\n", r.name, s.Med, s.Lo, s.Hi, bench.Ratio(s.Med, base.Med), cs.Med, cs.Lo, cs.Hi, bench.Ratio(cs.Med, baseCPU.Med), bench.StatOf(rs, conns).Hi)
			if r.name == bench.PathProxy && c.paths[bench.PathRevProxy] {
				verdicts = append(verdicts, bench.Verdict("small requests/s, proxy vs revproxy", s.Med/base.Med, smallTarget, true))
			}
		}
		fmt.Fprintln(w)
	}
	if c.workloads["mem"] {
		fmt.Fprintf(w, "Memory per request held open (the origin sent the headers and waits), after a GC: the front end's process alone, and the rest (client and origin, in the harness's process)\n\n")
		fmt.Fprintf(w, "| front end | requests | heap B | stack B | heap+stack B | vs %s | goroutines | rest: heap+stack B | rest: goroutines | connections |\n", bench.PathRevProxy)
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, n := range c.streams {
			base := bench.StatOf(get("mem", n, bench.PathRevProxy), func(r result) float64 { return r.mem.Front.Total() })
			for _, r := range rows(c, "mem") {
				rs := get("mem", n, r.name)
				if len(rs) == 0 {
					continue
				}
				h := bench.StatOf(rs, func(r result) float64 { return r.mem.Front.Heap })
				st := bench.StatOf(rs, func(r result) float64 { return r.mem.Front.Stack })
				tot := bench.StatOf(rs, func(r result) float64 { return r.mem.Front.Total() })
				g := bench.StatOf(rs, func(r result) float64 { return r.mem.Front.Goroutines })
				rest := bench.StatOf(rs, func(r result) float64 { return r.mem.Rest.Total() })
				rg := bench.StatOf(rs, func(r result) float64 { return r.mem.Rest.Goroutines })
				cn := bench.StatOf(rs, func(r result) float64 { return float64(r.mem.Conns) })
				fmt.Fprintf(w, "| %s | %d | %.0f [%.0f–%.0f] | %.0f | %.0f | %s | %.2f | %.0f | %.2f | %.0f |\n",
					r.name, n, h.Med, h.Lo, h.Hi, st.Med, tot.Med, bench.Ratio(tot.Med, base.Med), g.Med, rest.Med, rg.Med, cn.Hi)
			}
		}
		fmt.Fprintln(w)
	}
	if len(verdicts) > 0 {
		fmt.Fprintf(w, "Targets (ratios in this run):\n\n")
		for _, v := range verdicts {
			fmt.Fprintf(w, "- %s\n", v)
		}
		fmt.Fprintln(w)
	}
	bench.WriteFailures(w, fails, label)
}
