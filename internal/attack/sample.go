package attack

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Usage is what was measured while an attack ran.
type Usage struct {
	// BaseHeap and PeakHeap are the live heap objects plus goroutine
	// stacks of this process (runtime/metrics) before and at most during
	// the attack; BaseGoroutines and PeakGoroutines the goroutine count.
	BaseHeap, PeakHeap             uint64
	BaseGoroutines, PeakGoroutines int
	// BaseRSS and PeakRSS are the resident set of the sampled process
	// (/proc/PID/status VmRSS) before and at most during the attack, HWM
	// its VmHWM after, and CPU the user plus system time it spent
	// (/proc/PID/stat).
	BaseRSS, PeakRSS, HWM uint64
	CPU                   time.Duration
	// Samples is how many samples were taken.
	Samples int
}

// Meter measures a server while an attack runs.
type Meter interface {
	// Start takes the baseline and starts sampling.
	Start() error
	// Stop ends sampling and returns what was measured.
	Stop() Usage
}

// sampleInterval is the time between two samples.
const sampleInterval = 5 * time.Millisecond

// sampler runs a sampling function until stopped.
type sampler struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	u    Usage
}

func (s *sampler) start(sample func(u *Usage)) {
	s.stop = make(chan struct{})
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(sampleInterval)
		defer t.Stop()
		for {
			s.mu.Lock()
			sample(&s.u)
			s.u.Samples++
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
}

func (s *sampler) halt(final func(u *Usage)) Usage {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if final != nil {
		final(&s.u)
	}
	return s.u
}

// RuntimeMeter samples this process's heap, goroutine stacks and
// goroutines with runtime/metrics: the meter of a server in the same
// process (the attacker and the good client count too).
type RuntimeMeter struct {
	s       sampler
	samples []metrics.Sample
}

const (
	metricHeap       = "/memory/classes/heap/objects:bytes"
	metricStacks     = "/memory/classes/heap/stacks:bytes"
	metricGoroutines = "/sched/goroutines:goroutines"
)

// Start collects garbage, takes the baseline and starts sampling.
func (m *RuntimeMeter) Start() error {
	m.samples = []metrics.Sample{{Name: metricHeap}, {Name: metricStacks}, {Name: metricGoroutines}}
	runtime.GC()
	heap, g := m.read()
	m.s.u = Usage{BaseHeap: heap, PeakHeap: heap, BaseGoroutines: g, PeakGoroutines: g}
	m.s.start(func(u *Usage) {
		heap, g := m.read()
		u.PeakHeap = max(u.PeakHeap, heap)
		u.PeakGoroutines = max(u.PeakGoroutines, g)
	})
	return nil
}

func (m *RuntimeMeter) read() (heap uint64, goroutines int) {
	metrics.Read(m.samples)
	for _, s := range m.samples {
		if s.Value.Kind() != metrics.KindUint64 {
			continue
		}
		switch s.Name {
		case metricHeap, metricStacks:
			heap += s.Value.Uint64()
		case metricGoroutines:
			goroutines = int(s.Value.Uint64())
		}
	}
	return heap, goroutines
}

// Stop ends sampling.
func (m *RuntimeMeter) Stop() Usage { return m.s.halt(nil) }

// ProcMeter samples another process (a server started apart) through
// /proc: its resident set and its CPU time. Linux only.
type ProcMeter struct {
	// PID is the process.
	PID int

	s    sampler
	cpu0 time.Duration
}

// Start reads the baseline and starts sampling.
func (m *ProcMeter) Start() error {
	rss, _, err := procStatus(m.PID)
	if err != nil {
		return err
	}
	cpu, err := procCPU(m.PID)
	if err != nil {
		return err
	}
	m.cpu0 = cpu
	m.s.u = Usage{BaseRSS: rss, PeakRSS: rss}
	m.s.start(func(u *Usage) {
		if rss, _, err := procStatus(m.PID); err == nil {
			u.PeakRSS = max(u.PeakRSS, rss)
		}
	})
	return nil
}

// Stop ends sampling and reads the CPU time spent and VmHWM.
func (m *ProcMeter) Stop() Usage {
	return m.s.halt(func(u *Usage) {
		if rss, hwm, err := procStatus(m.PID); err == nil {
			u.PeakRSS = max(u.PeakRSS, rss)
			u.HWM = hwm
		}
		if cpu, err := procCPU(m.PID); err == nil {
			u.CPU = cpu - m.cpu0
		}
	})
}

// procStatus returns VmRSS and VmHWM of pid, in bytes.
func procStatus(pid int) (rss, hwm uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("reading process %d status: %w", pid, err)
	}
	found := 0
	for _, line := range strings.Split(string(b), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("process %d status: bad %s line %q", pid, name, line)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("process %d status: %s: %w", pid, name, err)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
		found++
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("process %d status: no VmRSS and VmHWM", pid)
	}
	return rss, hwm, nil
}

// clockTick is the unit of the times in /proc/PID/stat (USER_HZ, 100 on
// every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// procCPU returns the user plus system time pid has spent.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading process %d stat: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// fields 14 and 15 (utime, stime) are the 12th and 13th after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("process %d stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("process %d stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("process %d stat: bad utime or stime", pid)
	}
	return time.Duration(ut+st) * clockTick, nil
}
