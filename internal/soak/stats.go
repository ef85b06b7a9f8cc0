package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Error kinds. Those a client expects (it cancelled; an origin it asked
// for was being disconnected or restarted; the run ended) are counted apart
// from the unexpected ones, each of which fails the run.
const (
	kindCancel     = "cancel"     // the client cancelled the request itself
	kindCutAtEnd   = "cut_at_end" // still running when the drain time ended
	kindReconnect  = "reconnect"  // prefix: a failure while the origin was disrupted
	kindWrongBytes = "wrong_bytes"
	kindShortBody  = "short_body"
	kindLongBody   = "long_body"
	kindBadHeader  = "bad_header" // Content-Range, Content-Length or ETag not as asked
	kindStatus     = "status_"    // prefix: an unexpected status code
	kindTransport  = "transport"  // the round trip failed
	kindBody       = "body_error" // reading the body failed
	kindTimeout    = "timeout"    // the per-request hang guard fired
	kindNotBack    = "origin_not_back"
)

// counters are the figures the clients and the chaos loop update.
type counters struct {
	started   atomic.Uint64 // requests sent
	ok        atomic.Uint64 // requests whose response was complete and right
	cancelled atomic.Uint64 // requests the client cancelled on purpose
	bytes     atomic.Uint64 // body bytes the clients read
	active    atomic.Int64  // client requests in flight

	disconnects atomic.Uint64 // tunnels closed with Proxy.Disconnect
	restarts    atomic.Uint64 // Connectors stopped and started again
	reconnects  atomic.Uint64 // disruptions after which the origin came back

	mu         sync.Mutex
	expected   map[string]uint64
	unexpected map[string]uint64
	examples   []string // the first unexpected errors, for the report
}

// maxExamples bounds the unexpected errors kept verbatim.
const maxExamples = 20

func newCounters() *counters {
	return &counters{expected: map[string]uint64{}, unexpected: map[string]uint64{}}
}

func (c *counters) expect(kind string) {
	c.mu.Lock()
	c.expected[kind]++
	c.mu.Unlock()
}

func (c *counters) fail(kind, detail string) {
	c.mu.Lock()
	c.unexpected[kind]++
	if len(c.examples) < maxExamples {
		c.examples = append(c.examples, kind+": "+detail)
	}
	c.mu.Unlock()
}

// errorCounts returns copies of both error maps.
func (c *counters) errorCounts() (expected, unexpected map[string]uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.expected), maps.Clone(c.unexpected)
}

// sample is one line of the report: the state at the end of an interval,
// with counts since the start and rates over the interval.
type sample struct {
	Elapsed    time.Duration `json:"-"`
	ElapsedS   float64       `json:"elapsed_s"`
	WarmUp     bool          `json:"warm_up"`
	RSS        uint64        `json:"rss_bytes"`
	HeapInuse  uint64        `json:"heap_inuse_bytes"`
	HeapAlloc  uint64        `json:"heap_alloc_bytes"`
	Goroutines int           `json:"goroutines"`

	ProxyStreams  int64  `json:"proxy_streams_open"`   // Proxy.Stats().StreamsOpen
	OriginActive  int64  `json:"origin_requests_open"` // origin handlers running
	ClientActive  int64  `json:"client_requests_open"` // client requests in flight
	FrontSessions int    `json:"front_spdy_sessions"`  // live SPDY sessions of the front end
	FrontStreams  uint64 `json:"front_spdy_streams"`   // streams those sessions accepted, in all
	Tunnels       int    `json:"tunnels"`              // connected origins
	TunnelStreams uint64 `json:"tunnel_streams"`       // streams opened on the current tunnels

	Started     uint64            `json:"requests_started"`
	OK          uint64            `json:"requests_ok"`
	Cancelled   uint64            `json:"cancelled"`
	Expected    map[string]uint64 `json:"expected_errors"`
	Unexpected  map[string]uint64 `json:"unexpected_errors"`
	Disconnects uint64            `json:"disconnects"`
	Restarts    uint64            `json:"restarts"`
	Reconnects  uint64            `json:"reconnects"`
	ProxyErrors map[string]uint64 `json:"proxy_errors"`

	Bytes     uint64  `json:"bytes"`
	MBps      float64 `json:"mb_per_s"`
	ReqPerSec float64 `json:"req_per_s"`
}

// readRSS returns the process's resident set size from /proc/self/status
// (VmRSS), or 0 where there is none.
func readRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0
		}
		kib, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return 0
		}
		return kib << 10
	}
	return 0
}

// memory collects garbage, then reads the heap in use, the live heap and
// the RSS: after a collection the heap figures are what is alive, not what
// the collector has yet to reclaim, so they are comparable between samples.
func memory() (rss, inuse, alloc uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return readRSS(), ms.HeapInuse, ms.HeapAlloc
}

// liveHeap returns the bytes of live heap objects once nothing but live
// objects is left: two collections, since the buffers in a sync.Pool
// survive the first.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

const mib = 1 << 20

// rowFormat lays out the text report's columns.
const rowFormat = "%-8s %6s %6s %6s %6s %-15s %4s %3s %9s %9s  %-30s %-10s %7s %7s\n"

// tableHeader is the header of the text report: heap is the heap in use,
// live the bytes of live objects in it (both after a collection); streams
// are those the
// proxy has open, the origins' handlers running and the clients' requests
// in flight; spdy the front end's SPDY sessions, tun the connected tunnels.
var tableHeader = fmt.Sprintf(rowFormat, "elapsed", "rss", "heap", "live", "gor", "streams p/o/c", "spdy", "tun",
	"ok", "cancelled", "expected errors", "unexpect.", "MB/s", "req/s")

// writeLine writes s as one line of the report: JSON or a table row.
func writeLine(w io.Writer, s sample, asJSON bool) error {
	if asJSON {
		js, err := json.Marshal(s)
		if err != nil {
			return fmt.Errorf("soak: encoding a sample: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", js)
		return err
	}
	el := fmtElapsed(s.Elapsed)
	if s.WarmUp {
		el += " w"
	}
	_, err := fmt.Fprintf(w, rowFormat, el,
		fmt.Sprintf("%.0fM", float64(s.RSS)/mib), fmt.Sprintf("%.0fM", float64(s.HeapInuse)/mib),
		fmt.Sprintf("%.0fM", float64(s.HeapAlloc)/mib),
		fmt.Sprint(s.Goroutines), fmt.Sprintf("%d/%d/%d", s.ProxyStreams, s.OriginActive, s.ClientActive),
		fmt.Sprint(s.FrontSessions), fmt.Sprint(s.Tunnels), fmt.Sprint(s.OK), fmt.Sprint(s.Cancelled),
		short(kinds(s.Expected)), short(kinds(s.Unexpected)), fmt.Sprintf("%.1f", s.MBps), fmt.Sprintf("%.1f", s.ReqPerSec))
	return err
}

// short abbreviates the kinds of errors for the table: "reconnect:" and
// "status_" prefixes and "_error" suffixes dropped ("502" is a 502 answer
// while the origin was disrupted; the JSON lines and the summary have the
// full names).
func short(s string) string {
	return strings.NewReplacer("reconnect:", "", "status_", "", "_error", "").Replace(s)
}

// fmtElapsed writes d as 1m30s, rounded to the tenth of a second below a
// minute and to the second above.
func fmtElapsed(d time.Duration) string {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// kinds writes counts by kind as "total(kind=n,...)", or "0".
func kinds(m map[string]uint64) string {
	var total uint64
	for _, n := range m {
		total += n
	}
	if total == 0 {
		return "0"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d(", total)
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%d", k, m[k])
	}
	b.WriteByte(')')
	return b.String()
}
