// Command muxbench compares stream multiplexers on loopback TCP: plain
// TCP, hashicorp/yamux, xtaci/smux, moby/spdystream and this module's SPDY
// session, on five workloads, in one invocation, and prints the medians of
// several repetitions with their ratios as Markdown tables.
//
//	W1  one stream moving -w1-size bytes; also CPU seconds per GB
//	W2  -w2-streams concurrent streams of -w2-size bytes each
//	W3  -w3-workers workers doing a -w3-req request and a -w3-resp
//	    response on a new stream each time, for -w3-dur
//	W4  memory and goroutines per idle open stream, at each of -w4-streams
//	W5  open, send 1 B, receive 1 B, close, -w5-workers workers, -w5-dur
//
// Throughput ratios (W1, W2, CPU per GB) are against plain TCP, request
// ratios (W3, W5) against yamux. Repetitions interleave the transports so
// that a noisy moment on a shared machine does not hit one transport only.
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
	reps       int
	workloads  map[string]bool
	transports []bench.Transport

	w1Size    int64
	w2Streams int
	w2Size    int64
	chunk     int
	frameSize int
	w3Workers int
	w3Req     int
	w3Resp    int
	w3Dur     time.Duration
	w4Streams []int
	w5Workers int
	w5Dur     time.Duration
	verify    bool
	timeout   time.Duration
}

func main() {
	bench.Main("muxbench", run)
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("muxbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var names []string
	for _, t := range bench.Transports() {
		names = append(names, t.Name)
	}
	fs.Usage = bench.Usage(fs, stderr, "Runs workloads W1-W5 on every transport and prints medians and ratios.", names)
	var c config
	var workloads, transports, w1Size, w2Size, chunk, w3Req, w3Resp, w4 string
	var cpuprofile string
	fs.IntVar(&c.reps, "reps", 5, "repetitions of each workload on each transport (the tables show medians)")
	fs.StringVar(&workloads, "workloads", "w1,w2,w3,w4,w5", "comma-separated workloads to run")
	fs.StringVar(&transports, "transports", "all", "comma-separated transports to run, or all")
	fs.StringVar(&w1Size, "w1-size", "1GiB", "W1: bytes moved on the one stream")
	fs.IntVar(&c.w2Streams, "w2-streams", 1000, "W2: concurrent streams")
	fs.StringVar(&w2Size, "w2-size", "1MiB", "W2: bytes moved on each stream")
	fs.StringVar(&chunk, "chunk", "32KiB", "W1, W2: size of each application Write")
	fs.IntVar(&c.frameSize, "spdy-frame-size", 0, "W1, W2: the SPDY session's MaxFrameSize (0: the library default)")
	fs.IntVar(&c.w3Workers, "w3-workers", 64, "W3: concurrent workers")
	fs.StringVar(&w3Req, "w3-req", "100", "W3: request size")
	fs.StringVar(&w3Resp, "w3-resp", "1KiB", "W3: response size")
	fs.DurationVar(&c.w3Dur, "w3-dur", 3*time.Second, "W3: duration of each run")
	fs.StringVar(&w4, "w4-streams", "10000,100000", "W4: comma-separated counts of idle streams")
	fs.IntVar(&c.w5Workers, "w5-workers", 16, "W5: concurrent workers")
	fs.DurationVar(&c.w5Dur, "w5-dur", 3*time.Second, "W5: duration of each run")
	fs.BoolVar(&c.verify, "verify", false, "W1, W2, W4: check every received byte, not only the count (W3 and W5 always check)")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Minute, "limit of each run; a run over it fails the invocation")
	fs.StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the whole invocation to `file`")
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
	if c.transports, err = bench.Lookup(transports); err != nil {
		return err
	}
	c.workloads = map[string]bool{}
	for _, w := range strings.Split(workloads, ",") {
		w = strings.ToLower(strings.TrimSpace(w))
		switch w {
		case "w1", "w2", "w3", "w4", "w5":
			c.workloads[w] = true
		case "":
		default:
			return fmt.Errorf("unknown workload %q (want w1..w5)", w)
		}
	}
	sizes := []struct {
		s   string
		dst *int64
	}{{w1Size, &c.w1Size}, {w2Size, &c.w2Size}}
	for _, s := range sizes {
		if *s.dst, err = bench.ParseSize(s.s); err != nil {
			return err
		}
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
	if c.w4Streams, err = bench.ParseCounts(w4, "w4-streams"); err != nil {
		return err
	}
	if c.w2Streams < 1 || c.w3Workers < 1 || c.w5Workers < 1 || c.w1Size < 1 || c.w2Size < 1 {
		return fmt.Errorf("counts and sizes must be positive")
	}
	stopCPU, err := bench.StartCPUProfile(cpuprofile)
	if err != nil {
		return err
	}
	defer stopCPU()
	res, fails := measure(&c, stderr)
	report(stdout, &c, res, fails)
	if len(fails) > 0 {
		return fmt.Errorf("%d runs failed", len(fails))
	}
	return nil
}

// key names the cell of workload w (with its count n) on transport t.
func key(w string, n int, t string) bench.Cell { return bench.Cell{W: w, N: n, T: t} }

func measure(c *config, log io.Writer) (map[bench.Cell][]bench.Result, []bench.Failure) {
	res := map[bench.Cell][]bench.Result{}
	var fails []bench.Failure
	for rep := 1; rep <= c.reps; rep++ {
		for _, w := range []string{"w1", "w2", "w3", "w4", "w5"} {
			if !c.workloads[w] {
				continue
			}
			ns := []int{0}
			if w == "w4" {
				ns = c.w4Streams
			}
			for _, n := range ns {
				for _, t := range c.transports {
					if w == "w4" && !t.Multiplexed {
						continue
					}
					r, err := runOne(c, w, n, t)
					k := key(w, n, t.Name)
					if err != nil {
						fails = append(fails, bench.Failure{Rep: rep, Cell: k, Err: err})
						fmt.Fprintf(log, "rep %d/%d %s %-10s FAILED: %v\n", rep, c.reps, label(w, n), t.Name, err)
						continue
					}
					res[k] = append(res[k], r)
					fmt.Fprintf(log, "rep %d/%d %s %-10s %s\n", rep, c.reps, label(w, n), t.Name, describe(w, r))
				}
			}
		}
	}
	return res, fails
}

func runOne(c *config, w string, n int, t bench.Transport) (bench.Result, error) {
	runtime.GC()
	switch w {
	case "w1":
		return bench.Bulk(t, bench.BulkParams{Streams: 1, Size: c.w1Size, Chunk: c.chunk, SPDYFrameSize: c.frameSize, Verify: c.verify, Timeout: c.timeout})
	case "w2":
		return bench.Bulk(t, bench.BulkParams{Streams: c.w2Streams, Size: c.w2Size, Chunk: c.chunk, SPDYFrameSize: c.frameSize, Verify: c.verify, Timeout: c.timeout})
	case "w3":
		return bench.ReqResp(t, bench.ReqRespParams{Workers: c.w3Workers, ReqSize: c.w3Req, RespSize: c.w3Resp, Duration: c.w3Dur, Timeout: c.timeout})
	case "w4":
		return bench.Idle(t, bench.IdleParams{Streams: n, Verify: c.verify, Timeout: c.timeout})
	case "w5":
		return bench.ReqResp(t, bench.ReqRespParams{Workers: c.w5Workers, ReqSize: 1, RespSize: 1, Duration: c.w5Dur, Timeout: c.timeout})
	}
	return bench.Result{}, fmt.Errorf("unknown workload %s", w)
}

func label(w string, n int) string {
	if w == "w4" {
		return fmt.Sprintf("w4/%d", n)
	}
	return w
}

func describe(w string, r bench.Result) string {
	switch w {
	case "w1", "w2":
		return fmt.Sprintf("%8.1f MB/s  %.2f CPU s/GB  (%v)", r.Throughput()/1e6, r.CPUPerGB(), r.Elapsed.Round(time.Millisecond))
	case "w3", "w5":
		return fmt.Sprintf("%8.0f ops/s  (%d in %v)", r.Rate(), r.Ops, r.Elapsed.Round(time.Millisecond))
	case "w4":
		return fmt.Sprintf("heap %.0f B/stream/side, stack %.0f B/stream/side, %.3f goroutines/stream (opened in %v)",
			r.HeapPerStream/2, r.StackPerStream/2, r.GoroutinesPerStream, r.Elapsed.Round(time.Millisecond))
	}
	return ""
}

func report(out io.Writer, c *config, res map[bench.Cell][]bench.Result, fails []bench.Failure) {
	w := bufio.NewWriter(out)
	defer w.Flush()
	fmt.Fprintf(w, "%s; medians of %d repetitions, [min–max] in brackets.\n\n", bench.Machine(), c.reps)
	has := func(w string, t string) bool { return len(res[key(w, 0, t)]) > 0 }
	tput := func(r bench.Result) float64 { return r.Throughput() / 1e6 }
	cpuGB := func(r bench.Result) float64 { return r.CPUPerGB() }
	rate := func(r bench.Result) float64 { return r.Rate() }

	if c.workloads["w1"] {
		fmt.Fprintf(w, "W1: one stream moving %s (writes of %s)\n\n", bench.FormatSize(c.w1Size), bench.FormatSize(int64(c.chunk)))
		fmt.Fprintln(w, "| transport | MB/s | vs tcp | CPU s/GB | vs tcp |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
		base := bench.StatOf(res[key("w1", 0, "tcp")], tput)
		baseCPU := bench.StatOf(res[key("w1", 0, "tcp")], cpuGB)
		for _, t := range c.transports {
			if !has("w1", t.Name) {
				continue
			}
			s := bench.StatOf(res[key("w1", 0, t.Name)], tput)
			cs := bench.StatOf(res[key("w1", 0, t.Name)], cpuGB)
			fmt.Fprintf(w, "| %s | %.0f [%.0f–%.0f] | %s | %.2f [%.2f–%.2f] | %s |\n", t.Name, s.Med, s.Lo, s.Hi, bench.Ratio(s.Med, base.Med), cs.Med, cs.Lo, cs.Hi, bench.Ratio(cs.Med, baseCPU.Med))
		}
		fmt.Fprintln(w)
	}
	if c.workloads["w2"] {
		fmt.Fprintf(w, "W2: %d concurrent streams of %s each (writes of %s)\n\n", c.w2Streams, bench.FormatSize(c.w2Size), bench.FormatSize(int64(c.chunk)))
		fmt.Fprintln(w, "| transport | MB/s | vs tcp | CPU s/GB |")
		fmt.Fprintln(w, "|---|---:|---:|---:|")
		base := bench.StatOf(res[key("w2", 0, "tcp")], tput)
		for _, t := range c.transports {
			if !has("w2", t.Name) {
				continue
			}
			s := bench.StatOf(res[key("w2", 0, t.Name)], tput)
			cs := bench.StatOf(res[key("w2", 0, t.Name)], cpuGB)
			fmt.Fprintf(w, "| %s | %.0f [%.0f–%.0f] | %s | %.2f |\n", t.Name, s.Med, s.Lo, s.Hi, bench.Ratio(s.Med, base.Med), cs.Med)
		}
		fmt.Fprintln(w)
	}
	rr := func(wl, title string) {
		fmt.Fprintf(w, "%s\n\n", title)
		fmt.Fprintln(w, "| transport | ops/s | vs yamux | CPU µs/op |")
		fmt.Fprintln(w, "|---|---:|---:|---:|")
		base := bench.StatOf(res[key(wl, 0, "yamux")], rate)
		for _, t := range c.transports {
			if !has(wl, t.Name) {
				continue
			}
			s := bench.StatOf(res[key(wl, 0, t.Name)], rate)
			cpu := bench.StatOf(res[key(wl, 0, t.Name)], func(r bench.Result) float64 { return r.CPU.Seconds() * 1e6 / float64(r.Ops) })
			fmt.Fprintf(w, "| %s | %.0f [%.0f–%.0f] | %s | %.1f |\n", t.Name, s.Med, s.Lo, s.Hi, bench.Ratio(s.Med, base.Med), cpu.Med)
		}
		fmt.Fprintln(w)
	}
	if c.workloads["w3"] {
		rr("w3", fmt.Sprintf("W3: %d workers, %d B request -> %d B response on a new stream each time (%v per run)", c.w3Workers, c.w3Req, c.w3Resp, c.w3Dur))
	}
	if c.workloads["w4"] {
		fmt.Fprintf(w, "W4: idle open streams, both sides in this process (heap and stacks per stream per side; goroutines per stream, both sides together)\n\n")
		fmt.Fprintln(w, "| transport | streams | heap B | stack B | goroutines |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
		for _, n := range c.w4Streams {
			for _, t := range c.transports {
				rs := res[key("w4", n, t.Name)]
				if len(rs) == 0 {
					continue
				}
				h := bench.StatOf(rs, func(r bench.Result) float64 { return r.HeapPerStream / 2 })
				st := bench.StatOf(rs, func(r bench.Result) float64 { return r.StackPerStream / 2 })
				g := bench.StatOf(rs, func(r bench.Result) float64 { return r.GoroutinesPerStream })
				fmt.Fprintf(w, "| %s | %d | %.0f [%.0f–%.0f] | %.0f | %.3f |\n", t.Name, n, h.Med, h.Lo, h.Hi, st.Med, g.Med)
			}
		}
		fmt.Fprintln(w)
	}
	if c.workloads["w5"] {
		rr("w5", fmt.Sprintf("W5: %d workers, open, send 1 B, receive 1 B, close (%v per run)", c.w5Workers, c.w5Dur))
	}
	bench.WriteFailures(w, fails, label)
}
