package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// userAgent is the User-Agent header spdycat sends.
const userAgent = "spdycat/1.0"

// loadBody returns the request body of -d or --data-binary, and whether
// there is one. "@FILE" reads a file, "@-" standard input; -d removes CR
// and LF from what it reads as curl does. Several pieces are joined with
// '&'.
func loadBody(o *options, stdin io.Reader) ([]byte, bool, error) {
	items, strip := o.data, true
	if len(o.dataBinary) > 0 {
		items, strip = o.dataBinary, false
	}
	if len(items) == 0 {
		return nil, false, nil
	}
	var parts [][]byte
	for _, it := range items {
		if !strings.HasPrefix(it, "@") {
			parts = append(parts, []byte(it))
			continue
		}
		var b []byte
		var err error
		if it == "@-" {
			b, err = io.ReadAll(stdin)
		} else {
			b, err = os.ReadFile(it[1:])
		}
		if err != nil {
			return nil, false, &exitError{exitRead, fmt.Sprintf("reading the data of -d %s: %v", it, err)}
		}
		if strip {
			b = bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r"), nil), []byte("\n"), nil)
		}
		parts = append(parts, b)
	}
	return bytes.Join(parts, []byte("&")), true, nil
}

// client runs the fetches of one spdycat command.
type client struct {
	o        *options
	env      *env
	body     []byte
	hasBody  bool
	conns    *connector
	progress *progress // nil without a terminal or -o
	pushes   *pushSaver
	errMu    sync.Mutex // serializes blocks of lines on stderr
}

// method returns the request method.
func (c *client) method() string {
	switch {
	case c.o.method != "":
		return c.o.method
	case c.o.head:
		return http.MethodHead
	case c.hasBody:
		return http.MethodPost
	}
	return http.MethodGet
}

// newRequest returns the request for u.
func (c *client) newRequest(ctx context.Context, u *url.URL) (*http.Request, error) {
	var body io.Reader
	if c.hasBody {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method(), u.String(), body)
	if err != nil {
		return nil, &exitError{exitUsage, err.Error()}
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "*/*")
	if c.hasBody {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	given := map[string]bool{}
	for _, h := range c.o.headers {
		name, value, empty, _ := parseHeaderArg(h)
		key := http.CanonicalHeaderKey(name)
		if key == "Host" {
			if value != "" {
				req.Host = value
			}
			continue
		}
		if !given[key] {
			req.Header.Del(key) // the user's value replaces the default
			given[key] = true
		}
		if value != "" || empty {
			req.Header.Add(key, value)
		}
	}
	return req, nil
}

// stderrf writes a block of lines on stderr at once.
func (c *client) stderrf(format string, args ...any) {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	fmt.Fprintf(c.env.stderr, format, args...)
}

// fetch fetches the i-th URL, writing its output to part unless an -o
// names a file for it.
func (c *client) fetch(ctx context.Context, i int, u *url.URL, part io.Writer) error {
	rt, err := c.conns.roundTripper(ctx, u)
	if err != nil {
		return err
	}
	req, err := c.newRequest(ctx, u)
	if err != nil {
		return err
	}
	if c.o.verbose {
		c.stderrf("%s", verboseRequest(req))
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	defer resp.Body.Close()
	if c.o.verbose {
		info := ""
		if resp.TLS != nil && resp.TLS.NegotiatedProtocol != "" {
			info = fmt.Sprintf("* ALPN: server accepted %s\n", resp.TLS.NegotiatedProtocol)
		}
		c.stderrf("%s%s", info, verboseResponse(resp))
	}
	if c.o.fail && resp.StatusCode >= 400 {
		return httpError(resp.StatusCode)
	}
	if i >= len(c.o.outputs) || c.o.outputs[i] == "-" {
		return c.writeResponse(ctx, req.Method, resp, part, false)
	}
	f, err := os.Create(c.o.outputs[i])
	if err != nil {
		return &writeError{err}
	}
	err = c.writeResponse(ctx, req.Method, resp, f, true)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = &writeError{cerr}
	}
	return err
}

// writeResponse writes resp as the command line asks: the head with -i
// or -I, the body unless -I or HEAD.
func (c *client) writeResponse(ctx context.Context, method string, resp *http.Response, out io.Writer, toFile bool) error {
	if c.o.include || c.o.head {
		if err := writeHead(out, resp); err != nil {
			return &writeError{err}
		}
	}
	if c.o.head || method == http.MethodHead {
		return nil
	}
	if toFile && c.progress != nil && (resp.ContentLength < 0 || resp.ContentLength >= progressMin) {
		var done func()
		out, done = c.progress.track(out, resp.ContentLength)
		defer done()
	}
	buf := make([]byte, 32<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, err := out.Write(buf[:n]); err != nil {
				return &writeError{err}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("reading the response body: %w", rerr)
		}
	}
}

// pushSaver saves pushed responses under a directory, by path. It also
// counts the pushes the server announced, from the frame trace, so that
// spdycat can wait for every one of them before it exits: the Transport
// hands a push to its handler from a goroutine of its own, which may run
// after the response the push belongs to has been read.
type pushSaver struct {
	dir     string
	verbose func(format string, args ...any) // nil without -v

	mu        sync.Mutex
	announced int           // SYN_STREAMs received with an associated stream
	refused   int           // RST_STREAMs sent on server streams (pushes)
	started   int           // pushes handed to handle
	inflight  int           // pushes being saved
	changed   chan struct{} // closed and replaced when a count changes
	err       error         // the first error saving a push
}

// newPushSaver returns a pushSaver of dir.
func newPushSaver(dir string) *pushSaver {
	return &pushSaver{dir: dir, changed: make(chan struct{})}
}

// update changes the counts under the lock and wakes wait.
func (p *pushSaver) update(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f()
	close(p.changed)
	p.changed = make(chan struct{})
}

// frame takes note of a frame of the trace: dir is "in" or "out", frame
// the frame as framing's String writes it ("SYN_STREAM v3 stream=2 ...
// assoc=1 ...").
func (p *pushSaver) frame(dir, frame string) {
	kind, _, _ := strings.Cut(frame, " ")
	switch {
	case dir == "in" && kind == "SYN_STREAM":
		if assoc, ok := frameField(frame, "assoc"); ok && assoc != 0 {
			p.update(func() { p.announced++ })
		}
	case dir == "out" && kind == "RST_STREAM":
		if id, ok := frameField(frame, "stream"); ok && id%2 == 0 {
			p.update(func() { p.refused++ })
		}
	}
}

// frameField returns the number after " key=" in a traced frame.
func frameField(frame, key string) (uint64, bool) {
	for _, f := range strings.Fields(frame) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			n, err := strconv.ParseUint(v, 10, 32)
			return n, err == nil
		}
	}
	return 0, false
}

// settled reports whether every push announced so far was saved, or
// refused (the Transport refuses pushes of another origin, and a failed
// save ends its push with a reset too, so a push may count twice: the
// check errs on the side of not waiting).
func (p *pushSaver) settled() bool {
	return p.inflight == 0 && p.started+p.refused >= p.announced
}

// wait waits until every push announced so far has been saved or
// refused, or ctx ends, or no push makes progress for stall.
func (p *pushSaver) wait(ctx context.Context, stall time.Duration) {
	t := time.NewTimer(stall)
	defer t.Stop()
	for {
		p.mu.Lock()
		done, ch := p.settled(), p.changed
		p.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ch:
			t.Reset(stall)
		case <-ctx.Done():
			return
		case <-t.C:
			return
		}
	}
}

// pushFile returns the file under dir for the URL path p: the path made
// absolute and cleaned (so it cannot leave dir), with index.html for a
// directory.
func pushFile(dir, p string) string {
	clean := path.Clean("/" + p)
	if strings.HasSuffix(p, "/") || clean == "/" {
		clean = path.Join(clean, "index.html")
	}
	return filepath.Join(dir, filepath.FromSlash(clean))
}

// handle saves one pushed response. It is the Transport's PushHandler.
func (p *pushSaver) handle(req *http.Request, resp *http.Response) {
	p.update(func() { p.started++; p.inflight++ })
	defer p.update(func() { p.inflight-- })
	defer resp.Body.Close()
	name := pushFile(p.dir, req.URL.Path)
	n, err := p.save(name, resp.Body)
	if err != nil {
		p.mu.Lock()
		if p.err == nil {
			p.err = fmt.Errorf("saving push %s: %w", req.URL.Path, err)
		}
		p.mu.Unlock()
		return
	}
	if p.verbose != nil {
		p.verbose("* pushed %s %s: %d, %d bytes saved to %s\n", req.Method, req.URL.RequestURI(), resp.StatusCode, n, name)
	}
}

func (p *pushSaver) save(name string, body io.Reader) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return 0, &writeError{err}
	}
	f, err := os.Create(name)
	if err != nil {
		return 0, &writeError{err}
	}
	n, err := io.Copy(f, body)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = &writeError{cerr}
	}
	return n, err
}

// error returns the first error saving a push.
func (p *pushSaver) error() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}
