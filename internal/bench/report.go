package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
)

// Stat is the median and range of the repetitions of one table cell.
type Stat struct{ Med, Lo, Hi float64 }

// StatOf returns the median and range of f over rs; every field is NaN
// when rs is empty.
func StatOf[R any](rs []R, f func(R) float64) Stat {
	if len(rs) == 0 {
		return Stat{math.NaN(), math.NaN(), math.NaN()}
	}
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return Stat{med, v[0], v[len(v)-1]}
}

// Ratio formats a/b as "1.23×", or "–" when either side is missing or b
// is zero.
func Ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// ParseSize reads a byte count with an optional suffix: KiB, MiB, GiB
// (powers of 1024), KB, MB, GB (powers of 1000), or B.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if strings.HasSuffix(t, u.suf) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suf)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

// ParseBufSize reads a size as ParseSize does and refuses one outside
// 1 B to 1 GiB, the range of a buffer, a chunk or a message.
func ParseBufSize(s string) (int, error) {
	n, err := ParseSize(s)
	if err != nil {
		return 0, err
	}
	if n < 1 || n > 1<<30 {
		return 0, fmt.Errorf("size %q out of range", s)
	}
	return int(n), nil
}

// ParseCounts reads a comma-separated list of positive counts, the value
// of the flag named flagName (quoted in the error).
func ParseCounts(s, flagName string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad -%s entry %q", flagName, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// FormatSize prints a byte count in the largest binary unit that divides
// it: "1 GiB", "40 KiB", "100 B".
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// StartCPUProfile writes a CPU profile to the named file until the
// returned stop is called; an empty name profiles nothing.
func StartCPUProfile(file string) (stop func(), err error) {
	if file == "" {
		return func() {}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// StartMemProfile makes the runtime sample every 64 KiB allocated and
// returns a stop that writes the allocation profile to the named file; an
// empty name profiles nothing. A file that cannot be written is skipped
// without a word.
func StartMemProfile(file string) (stop func()) {
	if file == "" {
		return func() {}
	}
	runtime.MemProfileRate = 64 << 10
	return func() {
		if f, err := os.Create(file); err == nil {
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
}

// Machine describes the machine a run measures: "Go VERSION, OS/ARCH,
// GOMAXPROCS N, N CPUs (MODEL)".
func Machine() string {
	return fmt.Sprintf("Go %s, %s/%s, GOMAXPROCS %d, %d CPUs (%s)",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU(), CPUModel())
}

// CPUModel returns the machine's CPU model name from /proc/cpuinfo, or
// "unknown CPU".
func CPUModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// LoadAvg returns the 1, 5 and 15 minute load averages from
// /proc/loadavg, or "unknown".
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// Usage returns a Usage function for fs that prints the command's
// synopsis, summary, the names of its transports and its flags to w.
func Usage(fs *flag.FlagSet, w io.Writer, summary string, transports []string) func() {
	return func() {
		fmt.Fprintf(w, "usage: %s [flags]\n\n%s\nTransports: %s\n\nFlags:\n", fs.Name(), summary, strings.Join(transports, ", "))
		fs.PrintDefaults()
	}
}

// Main runs a command's run with the process's arguments and standard
// streams. When run fails, Main prints "NAME: ERROR" to the standard
// error (nothing for flag.ErrHelp: the usage is out already) and exits
// with status 2.
func Main(name string, run func(args []string, stdout, stderr io.Writer) error) {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, name+":", err)
		}
		os.Exit(2)
	}
}

// ParseWorkloads reads a comma-separated list of workloads, each one of
// names once trimmed, lower-cased and stripped of suffix; empty entries
// are skipped.
func ParseWorkloads(list string, names []string, suffix string) (map[string]bool, error) {
	sel := map[string]bool{}
	for _, w := range strings.Split(list, ",") {
		w = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(w)), suffix)
		switch {
		case w == "":
		case slices.Contains(names, w):
			sel[w] = true
		default:
			return nil, fmt.Errorf("unknown workload %q (want %s)", w, strings.Join(names, ", "))
		}
	}
	return sel, nil
}

// Verdict says whether ratio r of what meets its target: at least the
// target when more is better (atLeast), below it otherwise; a missing
// ratio (NaN or infinite: a run failed) meets nothing.
func Verdict(what string, r, target float64, atLeast bool) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return fmt.Sprintf("%s: no ratio (a run failed)", what)
	}
	if atLeast {
		if r >= target {
			return fmt.Sprintf("%s: %.2f× (target ≥ %.1f×): met", what, r, target)
		}
		return fmt.Sprintf("%s: %.2f× (target ≥ %.1f×): missed by %.0f %%", what, r, target, (1-r/target)*100)
	}
	if r < target {
		return fmt.Sprintf("%s: %.2f× (target < %.1f×): met", what, r, target)
	}
	return fmt.Sprintf("%s: %.2f× (target < %.1f×): missed by %.0f %%", what, r, target, (r/target-1)*100)
}

// Cell names one cell of a results table: a workload, its count for the
// workloads run at several (0 otherwise), and a transport.
type Cell struct {
	W string
	N int
	T string
}

// Failure is a run that ended with an error: it is reported and left out
// of the medians.
type Failure struct {
	Rep  int
	Cell Cell
	Err  error
}

// WriteFailures prints the list of failed runs, if any, naming each
// workload by label.
func WriteFailures(w io.Writer, fails []Failure, label func(w string, n int) string) {
	if len(fails) == 0 {
		return
	}
	fmt.Fprintf(w, "Failed runs (left out of the medians):\n\n")
	for _, f := range fails {
		fmt.Fprintf(w, "- rep %d, %s, %s: %v\n", f.Rep, label(f.Cell.W, f.Cell.N), f.Cell.T, f.Err)
	}
	fmt.Fprintln(w)
}
