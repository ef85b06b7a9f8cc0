// Command httpbench compares HTTP carried over loopback TCP by net/http's
// HTTP/1.1, net/http's HTTP/2 cleartext (prior knowledge) and this
// module's httpadapter over SPDY/3.1 and SPDY/3, on three workloads, in
// one invocation, and prints the medians of several repetitions with
// their ratios to HTTP/2 as Markdown tables.
//
//	W3-http    -w3-workers clients sharing one http.Client, each sending
//	           a POST of -w3-req bytes and reading a -w3-resp response,
//	           for -w3-dur (HTTP/1.1: a pool of connections)
//	W1-http    one GET whose response is -w1-size bytes
//	Wmem-http  memory and goroutines per idle request in flight: the
//	           handler has sent the headers and waits, at each of
//	           -wmem-requests
//
// Repetitions interleave the transports so that a noisy moment on a
// shared machine does not hit one transport only.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/spdygo/spdy/internal/bench"
)

type config struct {
	reps       int
	workloads  map[string]bool
	transports []bench.HTTPTransport

	w1Size    int64
	chunk     int
	w3Workers int
	w3Req     int
	w3Resp    int
	w3Dur     time.Duration
	wmem      []int
	verify    bool
	timeout   time.Duration
}

// workloads in the order they run and print.
var workloadNames = []string{"w3", "w1", "wmem"}

func main() {
	bench.Main("httpbench", run)
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("httpbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var names []string
	for _, t := range bench.HTTPTransports() {
		names = append(names, t.Name)
	}
	fs.Usage = bench.Usage(fs, stderr, "Runs W3-http, W1-http and Wmem-http on every HTTP transport and prints medians and ratios to h2c.", names)
	var c config
	var workloads, transports, w1Size, chunk, w3Req, w3Resp, wmem, cpuprofile, memprofile string
	fs.IntVar(&c.reps, "reps", 5, "repetitions of each workload on each transport (the tables show medians)")
	fs.StringVar(&workloads, "workloads", "w3,w1,wmem", "comma-separated workloads to run: w3, w1, wmem")
	fs.StringVar(&transports, "transports", "all", "comma-separated transports to run, or all")
	fs.StringVar(&w1Size, "w1-size", "1GiB", "W1-http: size of the one response")
	fs.StringVar(&chunk, "chunk", "32KiB", "W1-http: size of each handler Write and client Read")
	fs.IntVar(&c.w3Workers, "w3-workers", 64, "W3-http: concurrent clients")
	fs.StringVar(&w3Req, "w3-req", "100", "W3-http: request body size")
	fs.StringVar(&w3Resp, "w3-resp", "1KiB", "W3-http: response body size")
	fs.DurationVar(&c.w3Dur, "w3-dur", 3*time.Second, "W3-http: duration of each run")
	fs.StringVar(&wmem, "wmem-requests", "1000,10000", "Wmem-http: comma-separated counts of idle requests in flight")
	fs.BoolVar(&c.verify, "verify", false, "W1-http: check every received byte, not only the count (W3-http and Wmem-http always check)")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Minute, "limit of each run; a run over it fails the invocation")
	fs.StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the whole invocation to `file`")
	fs.StringVar(&memprofile, "memprofile", "", "write an allocation profile of the whole invocation to `file` at the end")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if c.reps < 1 {
		return fmt.Errorf("-reps must be at least 1")
	}
	var err error
	if c.transports, err = bench.LookupHTTP(transports); err != nil {
		return err
	}
	if c.workloads, err = bench.ParseWorkloads(workloads, workloadNames, "-http"); err != nil {
		return err
	}
	if c.w1Size, err = bench.ParseSize(w1Size); err != nil {
		return err
	}
	if c.chunk, err = bench.ParseBufSize(chunk); err != nil {
		return err
	}
	if c.w3Req, err = bench.ParseBufSize(w3Req); err != nil {
		return err
	}
	if c.w3Resp, err = bench.ParseBufSize(w3Resp); err != nil {
		return err
	}
	if c.wmem, err = bench.ParseCounts(wmem, "wmem-requests"); err != nil {
		return err
	}
	if c.w3Workers < 1 || c.w1Size < 1 {
		return fmt.Errorf("counts and sizes must be positive")
	}
	stopCPU, err := bench.StartCPUProfile(cpuprofile)
	if err != nil {
		return err
	}
	defer stopCPU()
	defer bench.StartMemProfile(memprofile)()
	load0 := bench.LoadAvg()
	res, fails, skips := measure(&c, stderr)
	report(stdout, &c, res, fails, skips, load0, bench.LoadAvg())
	if len(fails) > 0 {
		return fmt.Errorf("%d runs failed", len(fails))
	}
	return nil
}

// key names the cell of workload w (with its count n) on transport t.
func key(w string, n int, t string) bench.Cell { return bench.Cell{W: w, N: n, T: t} }

func measure(c *config, log io.Writer) (map[bench.Cell][]bench.HTTPResult, []bench.Failure, map[bench.Cell]error) {
	res := map[bench.Cell][]bench.HTTPResult{}
	skips := map[bench.Cell]error{}
	var fails []bench.Failure
	for rep := 1; rep <= c.reps; rep++ {
		for _, w := range workloadNames {
			if !c.workloads[w] {
				continue
			}
			ns := []int{0}
			if w == "wmem" {
				ns = c.wmem
			}
			for _, n := range ns {
				for _, t := range c.transports {
					k := key(w, n, t.Name)
					if _, skipped := skips[k]; skipped {
						continue
					}
					r, err := runOne(c, w, n, t)
					if errors.Is(err, bench.ErrNotEnoughFiles) {
						skips[k] = err
						fmt.Fprintf(log, "rep %d/%d %s %-7s skipped: %v\n", rep, c.reps, label(w, n), t.Name, err)
						continue
					}
					if err != nil {
						fails = append(fails, bench.Failure{Rep: rep, Cell: k, Err: err})
						fmt.Fprintf(log, "rep %d/%d %s %-7s FAILED: %v\n", rep, c.reps, label(w, n), t.Name, err)
						continue
					}
					res[k] = append(res[k], r)
					fmt.Fprintf(log, "rep %d/%d %s %-7s %s\n", rep, c.reps, label(w, n), t.Name, describe(w, r))
				}
			}
		}
	}
	return res, fails, skips
}

func runOne(c *config, w string, n int, t bench.HTTPTransport) (bench.HTTPResult, error) {
	runtime.GC()
	switch w {
	case "w3":
		return bench.HTTPReqResp(t, bench.HTTPReqRespParams{Workers: c.w3Workers, ReqSize: c.w3Req, RespSize: c.w3Resp, Duration: c.w3Dur, Timeout: c.timeout})
	case "w1":
		return bench.HTTPBulk(t, bench.HTTPBulkParams{Size: c.w1Size, Chunk: c.chunk, Verify: c.verify, Timeout: c.timeout})
	case "wmem":
		return bench.HTTPIdle(t, bench.HTTPIdleParams{Requests: n, Timeout: c.timeout})
	}
	return bench.HTTPResult{}, fmt.Errorf("unknown workload %s", w)
}

func label(w string, n int) string {
	if w == "wmem" {
		return fmt.Sprintf("wmem/%d", n)
	}
	return w
}

func describe(w string, r bench.HTTPResult) string {
	switch w {
	case "w1":
		return fmt.Sprintf("%8.1f MB/s  %.2f CPU s/GB  (%v)", r.Throughput()/1e6, r.CPUPerGB(), r.Elapsed.Round(time.Millisecond))
	case "w3":
		return fmt.Sprintf("%8.0f requests/s  %.1f CPU µs/request  %d connections  (%d in %v)", r.Rate(), cpuPerOp(r), r.Conns, r.Ops, r.Elapsed.Round(time.Millisecond))
	case "wmem":
		return fmt.Sprintf("heap %.0f B/request, stack %.0f B/request, %.2f goroutines/request, %d connections (started in %v)",
			r.HeapPerStream, r.StackPerStream, r.GoroutinesPerStream, r.Conns, r.Elapsed.Round(time.Millisecond))
	}
	return ""
}

func cpuPerOp(r bench.HTTPResult) float64 { return r.CPU.Seconds() * 1e6 / float64(r.Ops) }

// baseline is the transport every ratio is taken against.
const baseline = "h2c"

func report(out io.Writer, c *config, res map[bench.Cell][]bench.HTTPResult, fails []bench.Failure, skips map[bench.Cell]error, load0, load1 string) {
	w := bufio.NewWriter(out)
	defer w.Flush()
	fmt.Fprintf(w, "%s; load average %s before, %s after; medians of %d repetitions, [min–max] in brackets; ratios to %s.\n\n", bench.Machine(), load0, load1, c.reps, baseline)
	rate := func(r bench.HTTPResult) float64 { return r.Rate() }
	tput := func(r bench.HTTPResult) float64 { return r.Throughput() / 1e6 }
	conns := func(r bench.HTTPResult) float64 { return float64(r.Conns) }
	var verdicts []string

	if c.workloads["w3"] {
		fmt.Fprintf(w, "W3-http: %d clients, %d B POST body -> %d B response (%v per run)\n\n", c.w3Workers, c.w3Req, c.w3Resp, c.w3Dur)
		fmt.Fprintf(w, "| transport | requests/s | vs %s | CPU µs/request | vs %s | connections |\n", baseline, baseline)
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
		base := bench.StatOf(res[key("w3", 0, baseline)], rate)
		baseCPU := bench.StatOf(res[key("w3", 0, baseline)], cpuPerOp)
		for _, t := range c.transports {
			rs := res[key("w3", 0, t.Name)]
			if len(rs) == 0 {
				continue
			}
			s := bench.StatOf(rs, rate)
			cpu := bench.StatOf(rs, cpuPerOp)
			fmt.Fprintf(w, "| %s | %.0f [%.0f–%.0f] | %s | %.1f | %s | %.0f |\n", t.Name, s.Med, s.Lo, s.Hi, bench.Ratio(s.Med, base.Med), cpu.Med, bench.Ratio(cpu.Med, baseCPU.Med), bench.StatOf(rs, conns).Hi)
			if t.Multiplexed && t.Name != baseline {
				verdicts = append(verdicts, bench.Verdict("W3-http requests/s, "+t.Name, s.Med/base.Med, 1.5, true))
			}
		}
		fmt.Fprintln(w)
	}
	if c.workloads["w1"] {
		fmt.Fprintf(w, "W1-http: one response of %s (handler writes and client reads of %s)\n\n", bench.FormatSize(c.w1Size), bench.FormatSize(int64(c.chunk)))
		fmt.Fprintf(w, "| transport | MB/s | vs %s | CPU s/GB | vs %s |\n", baseline, baseline)
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
		base := bench.StatOf(res[key("w1", 0, baseline)], tput)
		baseCPU := bench.StatOf(res[key("w1", 0, baseline)], func(r bench.HTTPResult) float64 { return r.CPUPerGB() })
		for _, t := range c.transports {
			rs := res[key("w1", 0, t.Name)]
			if len(rs) == 0 {
				continue
			}
			s := bench.StatOf(rs, tput)
			cs := bench.StatOf(rs, func(r bench.HTTPResult) float64 { return r.CPUPerGB() })
			fmt.Fprintf(w, "| %s | %.0f [%.0f–%.0f] | %s | %.2f [%.2f–%.2f] | %s |\n", t.Name, s.Med, s.Lo, s.Hi, bench.Ratio(s.Med, base.Med), cs.Med, cs.Lo, cs.Hi, bench.Ratio(cs.Med, baseCPU.Med))
			if t.Multiplexed && t.Name != baseline {
				verdicts = append(verdicts, bench.Verdict("W1-http MB/s, "+t.Name, s.Med/base.Med, 2, true))
			}
		}
		fmt.Fprintln(w)
	}
	if c.workloads["wmem"] {
		fmt.Fprintf(w, "Wmem-http: idle requests in flight (handler sent the headers and waits), both sides in this process, per request\n\n")
		fmt.Fprintf(w, "| transport | requests | heap B | stack B | heap+stack B | vs %s | goroutines | connections |\n", baseline)
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
		mem := func(r bench.HTTPResult) float64 { return r.HeapPerStream + r.StackPerStream }
		for _, n := range c.wmem {
			base := bench.StatOf(res[key("wmem", n, baseline)], mem)
			for _, t := range c.transports {
				k := key("wmem", n, t.Name)
				if err, ok := skips[k]; ok {
					fmt.Fprintf(w, "| %s | %d | – | – | – | – | – | (not run: %v) |\n", t.Name, n, err)
					continue
				}
				rs := res[k]
				if len(rs) == 0 {
					continue
				}
				h := bench.StatOf(rs, func(r bench.HTTPResult) float64 { return r.HeapPerStream })
				st := bench.StatOf(rs, func(r bench.HTTPResult) float64 { return r.StackPerStream })
				m := bench.StatOf(rs, mem)
				g := bench.StatOf(rs, func(r bench.HTTPResult) float64 { return r.GoroutinesPerStream })
				fmt.Fprintf(w, "| %s | %d | %.0f [%.0f–%.0f] | %.0f | %.0f | %s | %.2f | %.0f |\n", t.Name, n, h.Med, h.Lo, h.Hi, st.Med, m.Med, bench.Ratio(m.Med, base.Med), g.Med, bench.StatOf(rs, conns).Hi)
				if t.Multiplexed && t.Name != baseline {
					verdicts = append(verdicts, bench.Verdict(fmt.Sprintf("Wmem-http/%d memory per request, %s", n, t.Name), m.Med/base.Med, 1, false))
				}
			}
		}
		fmt.Fprintln(w)
	}
	if len(verdicts) > 0 {
		fmt.Fprintf(w, "Targets (ratios to %s in this run):\n\n", baseline)
		for _, v := range verdicts {
			fmt.Fprintf(w, "- %s\n", v)
		}
		fmt.Fprintln(w)
	}
	bench.WriteFailures(w, fails, label)
}
