package main

import "fmt"

// The growth rule (docs/soak.md): the samples after warm-up are split in
// thirds; the maximum of the last third may exceed the maximum of the first
// third by at most growthFraction of it or by the absolute allowance,
// whichever is larger.
const (
	growthFraction = 0.25
	rssAllowance   = 16 * mib
	heapAllowance  = 16 * mib
	// minGoroutineAllowance is the least goroutine allowance; the allowance
	// is the number of clients when that is larger, since each client may
	// hold a connection or a request more or less at the moment of a sample.
	minGoroutineAllowance = 16
	// quietAllowance is how many goroutines more than before the clients
	// started may remain once they stopped and closed their connections.
	quietAllowance = 8
	// endHeapAllowance is how much more live heap than before the clients
	// started may remain once they stopped: what the first requests
	// initialise once (the MIME table of http.ServeContent, for one).
	endHeapAllowance = 4 * mib
)

// quiescence is the state once the clients stopped and closed their
// connections, compared with the state before they started.
type quiescence struct {
	GoroutinesBefore int `json:"goroutines_before_clients"`
	GoroutinesAfter  int `json:"goroutines_after_clients"`
	// HeapBefore and HeapAfter are the live heap (liveHeap) just before
	// the clients started and once they stopped and the end state was
	// reached.
	HeapBefore    uint64 `json:"heap_live_before_clients_bytes"`
	HeapAfter     uint64 `json:"heap_live_after_clients_bytes"`
	ProxyStreams  int64  `json:"proxy_streams_open"`
	OriginActive  int64  `json:"origin_requests_open"`
	FrontSessions int    `json:"front_spdy_sessions"`
	Reached       bool   `json:"reached"`
}

// verdict is the outcome of a run.
type verdict struct {
	Pass    bool     `json:"pass"`
	Reasons []string `json:"reasons,omitempty"` // why it failed
	Notes   []string `json:"notes,omitempty"`   // the figures compared
}

func (v *verdict) fail(format string, args ...any) {
	v.Pass = false
	v.Reasons = append(v.Reasons, fmt.Sprintf(format, args...))
}

func (v *verdict) note(format string, args ...any) {
	v.Notes = append(v.Notes, fmt.Sprintf(format, args...))
}

// windows returns the first and the last third (at least one sample each)
// of the samples after warm-up, and how many samples there are after
// warm-up; first and last are nil when there are fewer than two.
func windows(samples []sample) (first, last []sample, n int) {
	var post []sample
	for _, s := range samples {
		if !s.WarmUp {
			post = append(post, s)
		}
	}
	if len(post) < 2 {
		return nil, nil, len(post)
	}
	k := max(1, len(post)/3)
	return post[:k], post[len(post)-k:], len(post)
}

func maxOf(ss []sample, f func(sample) uint64) uint64 {
	var m uint64
	for _, s := range ss {
		m = max(m, f(s))
	}
	return m
}

// judgeGrowth applies the growth rule to samples.
func judgeGrowth(v *verdict, samples []sample, clients int) {
	first, last, n := windows(samples)
	if first == nil {
		v.fail("only %d samples after warm-up: at least 2 are needed to judge growth (lengthen -duration or shorten -interval or -warmup)", n)
		return
	}
	check := func(what string, unit uint64, fraction float64, allowance uint64, f func(sample) uint64) {
		base, end := maxOf(first, f), maxOf(last, f)
		allowed := base + max(uint64(float64(base)*fraction), allowance)
		v.note("%s: max %s over the first %d samples after warm-up, %s over the last %d, allowed %s",
			what, show(base, unit), len(first), show(end, unit), len(last), show(allowed, unit))
		if end > allowed {
			v.fail("%s grew from %s to %s after warm-up (allowed up to %s)", what, show(base, unit), show(end, unit), show(allowed, unit))
		}
	}
	check("RSS", mib, growthFraction, rssAllowance, func(s sample) uint64 { return s.RSS })
	check("heap in use", mib, growthFraction, heapAllowance, func(s sample) uint64 { return s.HeapInuse })
	// Goroutines get no fraction: the allowance is a count of clients.
	check("goroutines", 1, 0, uint64(max(minGoroutineAllowance, clients)), func(s sample) uint64 { return uint64(s.Goroutines) })
}

// show writes n in unit (MiB or 1).
func show(n, unit uint64) string {
	if unit == mib {
		return fmt.Sprintf("%.1f MiB", float64(n)/mib)
	}
	return fmt.Sprint(n)
}

// judge decides a run: no unexpected error, no growth after warm-up, and
// nothing left behind once the clients stopped.
func judge(samples []sample, clients int, unexpected map[string]uint64, examples []string, q quiescence) verdict {
	v := verdict{Pass: true}
	var total uint64
	for _, n := range unexpected {
		total += n
	}
	if total > 0 {
		v.fail("%d unexpected errors: %s", total, kinds(unexpected))
		for _, e := range examples {
			v.Reasons = append(v.Reasons, "  "+e)
		}
	}
	judgeGrowth(&v, samples, clients)
	v.note("after the clients stopped: %d goroutines (%d before they started), %d proxy streams, %d origin requests, %d front-end SPDY sessions, live heap %s (%s before they started)",
		q.GoroutinesAfter, q.GoroutinesBefore, q.ProxyStreams, q.OriginActive, q.FrontSessions, show(q.HeapAfter, mib), show(q.HeapBefore, mib))
	if q.HeapAfter > q.HeapBefore+endHeapAllowance {
		v.fail("after the clients stopped and closed their connections, the live heap is %s, %s more than before they started (allowed %s more): memory of finished requests is still referenced",
			show(q.HeapAfter, mib), show(q.HeapAfter-q.HeapBefore, mib), show(endHeapAllowance, mib))
	}
	if !q.Reached {
		v.fail("after the clients stopped and closed their connections, %d goroutines remain (%d before they started, allowed %d more), %d proxy streams, %d origin requests and %d front-end SPDY sessions are open",
			q.GoroutinesAfter, q.GoroutinesBefore, quietAllowance, q.ProxyStreams, q.OriginActive, q.FrontSessions)
	}
	return v
}
