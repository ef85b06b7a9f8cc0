package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// memLimit is how much of a waiting output is kept in memory before the
// rest goes to a temporary file.
const memLimit = 4 << 20

// sequencer writes the outputs of concurrent fetches to one writer in
// the order of the fetches: the output whose turn it is goes straight
// through, the later ones wait in buffers until their turn.
type sequencer struct {
	mu    sync.Mutex
	w     io.Writer
	turn  int
	parts []*part
	err   error // the first error of w
}

// part is the output of one fetch; it is an io.Writer.
type part struct {
	s    *sequencer
	idx  int
	mem  bytes.Buffer
	file *os.File // spill file, once mem is full
	done bool
}

// newSequencer returns a sequencer of n outputs to w.
func newSequencer(w io.Writer, n int) *sequencer {
	s := &sequencer{w: w}
	for i := range n {
		s.parts = append(s.parts, &part{s: s, idx: i})
	}
	return s
}

// part returns the i-th output.
func (s *sequencer) part(i int) *part { return s.parts[i] }

func (p *part) Write(b []byte) (int, error) {
	s := p.s
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return 0, err
	}
	if s.turn != p.idx {
		defer s.mu.Unlock()
		return p.buffer(b)
	}
	// Our turn lasts until finish, so the lock is not needed to write.
	s.mu.Unlock()
	n, err := s.w.Write(b)
	if err != nil {
		s.mu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
	}
	return n, err
}

// buffer keeps b until p's turn.
func (p *part) buffer(b []byte) (int, error) {
	if p.file == nil && p.mem.Len()+len(b) <= memLimit {
		return p.mem.Write(b)
	}
	if p.file == nil {
		f, err := os.CreateTemp("", "spdycat-*")
		if err != nil {
			return 0, err
		}
		os.Remove(f.Name()) // it lives as long as it is open
		p.file = f
	}
	return p.file.Write(b)
}

// finish ends p's output; the outputs after it that are waiting are
// written out as their turn comes. It returns the error of writing p's
// buffered output, if it was written now.
func (p *part) finish() error {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	p.done = true
	for s.turn < len(s.parts) {
		cur := s.parts[s.turn]
		if err := cur.flush(); err != nil && s.err == nil {
			s.err = err
		}
		if !cur.done {
			break // it writes straight through from now on
		}
		s.turn++
	}
	return s.err
}

// flush writes what p buffered.
func (p *part) flush() error {
	var err error
	if p.mem.Len() > 0 {
		if p.s.err == nil {
			_, err = p.s.w.Write(p.mem.Bytes())
		}
		p.mem.Reset()
	}
	if p.file != nil {
		if err == nil && p.s.err == nil {
			if _, err = p.file.Seek(0, io.SeekStart); err == nil {
				_, err = io.Copy(p.s.w, p.file)
			}
		}
		p.file.Close()
		p.file = nil
	}
	return err
}

// writeHead writes a response's status line and headers as curl -i
// shows them, with CRLF line ends and a blank line after.
func writeHead(w io.Writer, resp *http.Response) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\r\n", resp.Proto, resp.Status)
	writeHeaderLines(&b, "", resp.Header, "\r\n")
	b.WriteString("\r\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// writeHeaderLines writes every header of h as "Name: value", sorted by
// name, each line between prefix and end.
func writeHeaderLines(b *strings.Builder, prefix string, h http.Header, end string) {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range h[k] {
			fmt.Fprintf(b, "%s%s: %s%s", prefix, k, v, end)
		}
	}
}

// verboseRequest returns the lines -v shows for a request, curl style.
func verboseRequest(req *http.Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "> %s %s %s\n", req.Method, req.URL.RequestURI(), "HTTP/1.1")
	fmt.Fprintf(&b, "> Host: %s\n", req.Host)
	writeHeaderLines(&b, "> ", req.Header, "\n")
	b.WriteString(">\n")
	return b.String()
}

// verboseResponse returns the lines -v shows for a response.
func verboseResponse(resp *http.Response) string {
	var b strings.Builder
	fmt.Fprintf(&b, "< %s %s\n", resp.Proto, resp.Status)
	writeHeaderLines(&b, "< ", resp.Header, "\n")
	b.WriteString("<\n")
	return b.String()
}

// progress draws one progress bar on a terminal for the bodies being
// written to files: bytes so far of the bytes expected, and the rate.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	got     int64
	want    int64 // -1 once a body of unknown length joined
	active  int
	start   time.Time
	stop    chan struct{}
	stopped chan struct{}
	drawn   bool
}

// progressMin is the smallest body that gets a progress bar (an unknown
// length always does).
const progressMin = 1 << 20

// newProgress starts a progress bar on w, redrawn every interval.
func newProgress(w io.Writer, interval time.Duration) *progress {
	p := &progress{w: w, start: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(p.stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
	return p
}

// track returns w counting into the bar, for a body of length n (-1 if
// unknown), and a func to call when the body is done.
func (p *progress) track(w io.Writer, n int64) (io.Writer, func()) {
	p.mu.Lock()
	p.active++
	if n < 0 || p.want < 0 {
		p.want = -1
	} else {
		p.want += n
	}
	p.mu.Unlock()
	return &countingWriter{w: w, p: p}, func() {
		p.mu.Lock()
		p.active--
		p.mu.Unlock()
	}
}

// close stops the bar and ends its line.
func (p *progress) close() {
	close(p.stop)
	<-p.stopped
	p.draw()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\n")
	}
}

func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.got == 0 && !p.drawn {
		return
	}
	fmt.Fprintf(p.w, "\r%s", progressLine(p.got, p.want, time.Since(p.start), 30))
	p.drawn = true
}

// progressLine renders a bar of width cells for got of want bytes (want
// -1 when unknown) after elapsed.
func progressLine(got, want int64, elapsed time.Duration, width int) string {
	rate := ""
	if s := elapsed.Seconds(); s > 0 {
		rate = fmt.Sprintf("  %s/s", byteSize(int64(float64(got)/s)))
	}
	if want <= 0 {
		return fmt.Sprintf("[%s] %s%s", strings.Repeat("?", width), byteSize(got), rate)
	}
	frac := float64(got) / float64(want)
	frac = min(max(frac, 0), 1)
	n := int(frac * float64(width))
	bar := strings.Repeat("#", n) + strings.Repeat(".", width-n)
	return fmt.Sprintf("[%s] %3d%%  %s / %s%s", bar, int(frac*100), byteSize(got), byteSize(want), rate)
}

// byteSize formats n bytes with a binary unit.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// countingWriter adds what it writes to a progress bar.
type countingWriter struct {
	w io.Writer
	p *progress
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.p.mu.Lock()
	c.p.got += int64(n)
	c.p.mu.Unlock()
	return n, err
}
