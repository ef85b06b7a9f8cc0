package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// progressInterval is how often the progress bar is redrawn.
const progressInterval = 200 * time.Millisecond

// run is spdycat: it fetches the URLs of args and returns the exit status.
func run(ctx context.Context, args []string, e *env) int {
	o, err := parseArgs(args, e.stdout)
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "spdycat: %v\nusage: spdycat [flags] URL... (spdycat -h lists the flags)\n", err)
		return exitUsage
	}
	if o.maxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.maxTime)
		defer cancel()
	}
	c := &client{o: o, env: e}
	c.body, c.hasBody, err = loadBody(o, e.stdin)
	if err != nil {
		return c.report([]error{err})
	}
	var pushFn func(*http.Request, *http.Response)
	th := &traceHandler{mu: &c.errMu, w: e.stderr, print: o.verbose}
	if o.pushes != "" {
		c.pushes = newPushSaver(o.pushes)
		if o.verbose {
			c.pushes.verbose = c.stderrf
		}
		pushFn = c.pushes.handle
		th.frames = c.pushes.frame
	}
	var trace *slog.Logger
	if o.verbose || o.pushes != "" {
		trace = slog.New(th)
	}
	c.conns = newConnector(o, pushFn, trace)
	c.conns.info = c.stderrf
	if e.terminal && !o.silent && !o.verbose && hasFileOutput(o) {
		c.progress = newProgress(e.stderr, progressInterval)
	}

	seq := newSequencer(e.stdout, len(o.urls))
	errs := make([]error, len(o.urls))
	var wg sync.WaitGroup
	for i, u := range o.urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := seq.part(i)
			err := c.fetch(ctx, i, u, p)
			if ferr := p.finish(); err == nil && ferr != nil {
				err = &writeError{ferr}
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if c.pushes != nil {
		c.pushes.wait(ctx, pushStall)
	}
	c.conns.close()
	if c.progress != nil {
		c.progress.close()
	}
	if c.pushes != nil {
		if err := c.pushes.error(); err != nil {
			errs = append(errs, err)
		}
	}
	return c.report(errs)
}

// report prints a line for each error (unless -s) and returns the exit
// status of the first.
func (c *client) report(errs []error) int {
	code := exitOK
	for i, err := range errs {
		if err == nil {
			continue
		}
		ee := classify(err)
		if !c.o.silent {
			where := ""
			if i < len(c.o.urls) && len(errs) > 1 {
				where = c.o.urls[i].Redacted() + ": "
			}
			c.stderrf("spdycat: %s%s\n", where, ee.msg)
		}
		if code == exitOK {
			code = ee.code
		}
	}
	return code
}

// hasFileOutput reports whether a body goes to a file.
func hasFileOutput(o *options) bool {
	for _, f := range o.outputs {
		if f != "-" {
			return true
		}
	}
	return false
}

// traceHandler is the slog.Handler of the sessions and the Transport.
// With print (-v) it writes one line per record: frames as "=> FRAME"
// (sent) and "<= FRAME" (received), other records as "* message
// key=value...". It hands every frame to frames, if set.
type traceHandler struct {
	mu     *sync.Mutex
	w      io.Writer
	print  bool
	frames func(dir, frame string)
	attrs  []slog.Attr
}

func (h *traceHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *traceHandler) Handle(_ context.Context, r slog.Record) error {
	var dir, frame string
	var rest []string
	add := func(a slog.Attr) bool {
		switch {
		case a.Key == "dir" && r.Message == "frame":
			dir = a.Value.String()
		case a.Key == "frame" && r.Message == "frame":
			frame = a.Value.String()
		default:
			rest = append(rest, a.Key+"="+a.Value.String())
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	if frame != "" && h.frames != nil {
		h.frames(dir, frame)
	}
	if !h.print {
		return nil
	}
	var line string
	switch {
	case frame != "" && dir == "out":
		line = "=> " + frame
	case frame != "" && dir == "in":
		line = "<= " + frame
	default:
		line = "* " + r.Message
	}
	if len(rest) > 0 {
		line += " " + strings.Join(rest, " ")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, line+"\n")
	return err
}

func (h *traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &c
}

func (h *traceHandler) WithGroup(string) slog.Handler { return h }

// pushStall bounds the wait for a push announced but not yet handed to
// the handler; only a push the Transport drops without a reset would need
// it.
const pushStall = 10 * time.Second
