package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// stats are the counts of one worker, merged into the run's at its end.
type stats struct {
	started, done, errored, aborted, retried int64
	status                                   [6]int64 // by code/100; 0 is anything outside 100 to 599
	body                                     int64    // response body bytes
	ttfb, ttlb                               []time.Duration
	errs                                     errorCounts
}

func newStats() *stats { return &stats{} }

// record counts the result of a request; interrupted tells that the run
// was interrupted, which makes a failed request aborted.
func (s *stats) record(res result, interrupted bool) {
	s.body += res.body
	switch {
	case res.err != nil && interrupted:
		s.aborted++
	case res.err != nil:
		s.errored++
		s.errs.add(errorKind(res.err), res.err)
	default:
		s.done++
		class := res.status / 100
		if class < 1 || class > 5 {
			class = 0
		}
		s.status[class]++
		s.ttfb = append(s.ttfb, res.ttfb)
		s.ttlb = append(s.ttlb, res.ttlb)
	}
}

// merge adds t's counts to s.
func (s *stats) merge(t *stats) {
	s.started += t.started
	s.done += t.done
	s.errored += t.errored
	s.aborted += t.aborted
	s.retried += t.retried
	for i := range s.status {
		s.status[i] += t.status[i]
	}
	s.body += t.body
	s.ttfb = append(s.ttfb, t.ttfb...)
	s.ttlb = append(s.ttlb, t.ttlb...)
	s.errs.merge(t.errs)
}

// errorCounts counts errors by kind, keeping the first of each.
type errorCounts map[string]*errorEntry

// errorEntry is the count of one kind of error.
type errorEntry struct {
	Count int64  `json:"count"`
	First string `json:"first"` // the message of the first error of the kind
	seq   int64  // when First happened, in the order of errorSeq
}

// errorSeq orders the errors of a run, so that merging keeps the first.
var errorSeq atomic.Int64

func (c *errorCounts) add(kind string, err error) {
	if *c == nil {
		*c = errorCounts{}
	}
	e := (*c)[kind]
	if e == nil {
		e = &errorEntry{First: oneLine(err), seq: errorSeq.Add(1)}
		(*c)[kind] = e
	}
	e.Count++
}

func (c *errorCounts) merge(d errorCounts) {
	if len(d) > 0 && *c == nil {
		*c = errorCounts{}
	}
	for kind, e := range d {
		mine := (*c)[kind]
		if mine == nil {
			cp := *e
			(*c)[kind] = &cp
			continue
		}
		if e.seq < mine.seq {
			mine.First, mine.seq = e.First, e.seq
		}
		mine.Count += e.Count
	}
}

// report is the outcome of a run, as printed.
type report struct {
	URL         string                 `json:"url"`
	Proto       string                 `json:"proto"` // -proto
	Streams     int                    `json:"streams_per_connection"`
	Duration    float64                `json:"seconds"` // from the start to the end of the last request
	Interrupted bool                   `json:"interrupted"`
	Requests    requestCounts          `json:"requests"`
	Status      map[string]int64       `json:"status"` // "2xx" and so on, and "other"
	Traffic     traffic                `json:"traffic"`
	Rates       rates                  `json:"rates"`
	Connections connectionCounts       `json:"connections"`
	Errors      map[string]*errorEntry `json:"errors"` // by kind, of requests and of connection setups
	FirstByte   latency                `json:"time_to_first_byte"`
	Request     latency                `json:"time_for_request"` // to the last byte
}

// requestCounts are the requests of a run. started = done + errored +
// aborted; succeeded + the 5xx responses = done; failed = the 5xx
// responses + errored.
type requestCounts struct {
	Total     int64 `json:"total"` // -n, or those started when only -d bounds the run
	Started   int64 `json:"started"`
	Done      int64 `json:"done"` // whole responses
	Succeeded int64 `json:"succeeded"`
	Failed    int64 `json:"failed"`
	Errored   int64 `json:"errored"` // failed with an error, without a whole response
	Aborted   int64 `json:"aborted"` // cancelled by SIGINT or SIGTERM
	Retried   int64 `json:"retried"` // sendings again after the server proved a request unprocessed
}

// traffic counts bytes.
type traffic struct {
	Received int64 `json:"received_bytes"` // all bytes read from the connections (TLS records, frames, headers, bodies)
	Sent     int64 `json:"sent_bytes"`     // all bytes written to them
	Body     int64 `json:"body_bytes"`     // response body bytes
}

// rates are per second of the run's duration.
type rates struct {
	Requests float64 `json:"requests_per_second"` // done
	BodyMB   float64 `json:"body_mb_per_second"`
	TotalMB  float64 `json:"received_mb_per_second"`
}

// connectionCounts are the connections of a run.
type connectionCounts struct {
	Configured int              `json:"configured"` // -c
	Opened     int64            `json:"opened"`     // replacements and HTTP/1.1 reconnections included
	Failed     int64            `json:"failed"`
	Protocols  map[string]int64 `json:"protocols"` // opened, by protocol
}

// latency sums up durations; times are in milliseconds.
type latency struct {
	Count int     `json:"count"`
	Min   float64 `json:"min_ms"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// statusClasses are the keys of report.Status, in order.
var statusClasses = []string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// report builds the report of the run from its merged stats.
func (r *runner) report(s *stats, elapsed time.Duration) *report {
	rep := &report{
		URL:         r.o.url.Redacted(),
		Proto:       r.o.proto,
		Streams:     r.o.streams,
		Duration:    elapsed.Seconds(),
		Interrupted: r.ctx.Err() != nil,
		Status:      map[string]int64{},
		FirstByte:   summarize(s.ttfb),
		Request:     summarize(s.ttlb),
	}
	for i, class := range statusClasses {
		rep.Status[class] = s.status[i]
	}
	total := r.limit
	if total < 0 {
		total = s.started
	}
	rep.Requests = requestCounts{
		Total:     total,
		Started:   s.started,
		Done:      s.done,
		Succeeded: s.done - s.status[5],
		Failed:    s.status[5] + s.errored,
		Errored:   s.errored,
		Aborted:   s.aborted,
		Retried:   s.retried,
	}
	rep.Traffic = traffic{Received: r.d.read.Load(), Sent: r.d.writ.Load(), Body: s.body}
	if secs := elapsed.Seconds(); secs > 0 {
		rep.Rates = rates{
			Requests: float64(s.done) / secs,
			BodyMB:   float64(s.body) / 1e6 / secs,
			TotalMB:  float64(rep.Traffic.Received) / 1e6 / secs,
		}
	}
	r.mu.Lock()
	rep.Connections = connectionCounts{Configured: r.o.conns, Opened: r.d.dialed.Load(), Failed: r.failed, Protocols: r.d.protocols()}
	all := errorCounts{} // not nil: no errors is {} in JSON
	all.merge(r.setupErr)
	r.mu.Unlock()
	all.merge(s.errs)
	rep.Errors = all
	return rep
}

// summarize returns the latency figures of ds, which it sorts.
func summarize(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return latency{
		Count: len(ds),
		Min:   ms(ds[0]),
		Mean:  ms(sum / time.Duration(len(ds))),
		P50:   ms(percentile(ds, 50)),
		P90:   ms(percentile(ds, 90)),
		P99:   ms(percentile(ds, 99)),
		Max:   ms(ds[len(ds)-1]),
	}
}

// percentile returns the p-th percentile of the sorted ds, by nearest
// rank.
func percentile(ds []time.Duration, p int) time.Duration {
	rank := (p*len(ds) + 99) / 100 // ceil(p/100 * n)
	return ds[max(rank, 1)-1]
}

// ms returns d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// exitCode returns the exit status of the run.
func (rep *report) exitCode() int {
	switch {
	case rep.Interrupted:
		return exitInterrupted
	case rep.Requests.Failed > 0 || rep.Connections.Failed > 0:
		return exitFailed
	}
	return exitOK
}

// writeJSON writes the report as one JSON object.
func (rep *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// writeText writes the report in the manner of h2load.
func (rep *report) writeText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "spdyload %s: -proto %s, %s, %s each\n", rep.URL, rep.Proto,
		plural(rep.Connections.Configured, "connection"), plural(rep.Streams, "stream"))
	if rep.Interrupted {
		b.WriteString("interrupted: the requests in flight were aborted\n")
	}
	fmt.Fprintf(&b, "\nfinished in %s, %.2f req/s, %s/s body, %s/s received\n",
		fmtDuration(time.Duration(rep.Duration*float64(time.Second))), rep.Rates.Requests, fmtMB(rep.Rates.BodyMB), fmtMB(rep.Rates.TotalMB))
	q := rep.Requests
	fmt.Fprintf(&b, "requests: %d total, %d started, %d done, %d succeeded, %d failed, %d errored, %d aborted, %d retried\n",
		q.Total, q.Started, q.Done, q.Succeeded, q.Failed, q.Errored, q.Aborted, q.Retried)
	fmt.Fprintf(&b, "status codes: %d 1xx, %d 2xx, %d 3xx, %d 4xx, %d 5xx", rep.Status["1xx"], rep.Status["2xx"], rep.Status["3xx"], rep.Status["4xx"], rep.Status["5xx"])
	if n := rep.Status["other"]; n > 0 {
		fmt.Fprintf(&b, ", %d other", n)
	}
	b.WriteString("\n")
	t := rep.Traffic
	fmt.Fprintf(&b, "traffic: %s (%d) received, %s (%d) body, %s (%d) sent\n",
		fmtBytes(t.Received), t.Received, fmtBytes(t.Body), t.Body, fmtBytes(t.Sent), t.Sent)
	c := rep.Connections
	fmt.Fprintf(&b, "connections: %d opened", c.Opened)
	if len(c.Protocols) > 0 {
		var parts []string
		for _, p := range slices.Sorted(maps.Keys(c.Protocols)) {
			parts = append(parts, fmt.Sprintf("%s %d", p, c.Protocols[p]))
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintf(&b, ", %d failed\n", c.Failed)
	if len(rep.Errors) == 0 {
		b.WriteString("errors: none\n")
	} else {
		b.WriteString("errors:\n")
		for _, kind := range errorKinds {
			if e := rep.Errors[kind]; e != nil {
				fmt.Fprintf(&b, "  %-10s %6d  first: %s\n", kind, e.Count, e.First)
			}
		}
	}
	fmt.Fprintf(&b, "\n%-18s %10s %10s %10s %10s %10s %10s\n", "", "min", "mean", "p50", "p90", "p99", "max")
	for _, row := range []struct {
		name string
		l    latency
	}{{"time to 1st byte:", rep.FirstByte}, {"time for request:", rep.Request}} {
		l := row.l
		cells := []string{"-", "-", "-", "-", "-", "-"}
		if l.Count > 0 {
			cells = []string{fmtMs(l.Min), fmtMs(l.Mean), fmtMs(l.P50), fmtMs(l.P90), fmtMs(l.P99), fmtMs(l.Max)}
		}
		fmt.Fprintf(&b, "%-18s %10s %10s %10s %10s %10s %10s\n", row.name,
			cells[0], cells[1], cells[2], cells[3], cells[4], cells[5])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// plural returns "n thing" or "n things".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// fmtMs formats a time in milliseconds.
func fmtMs(v float64) string { return fmtDuration(time.Duration(v * float64(time.Millisecond))) }

// fmtDuration formats d in us, ms or s, as h2load does.
func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dus", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.2fms", ms(d))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// fmtBytes formats n bytes in B, KB, MB or GB (powers of 10).
func fmtBytes(n int64) string {
	v := float64(n)
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2fGB", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2fMB", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2fKB", v/1e3)
	}
	return fmt.Sprintf("%dB", n)
}

// fmtMB formats a number of megabytes.
func fmtMB(v float64) string { return fmt.Sprintf("%.2fMB", v) }
