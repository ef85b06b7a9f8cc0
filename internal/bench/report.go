package bench

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
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
