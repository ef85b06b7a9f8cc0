// Spdycat fetches URLs over SPDY, as curl does over HTTP.
//
// Usage:
//
//	spdycat [flags] URL...
//
// http:// URLs are fetched over plain TCP with prior knowledge of the SPDY
// version (-proto), or after an HTTP/1.1 Upgrade (-upgrade); https:// URLs
// over TLS, with the SPDY version chosen by ALPN (falling back to HTTP/2 or
// HTTP/1.1 when the server speaks no SPDY). Several URLs of one origin share
// one session and are fetched concurrently; their outputs appear in the
// order of the URLs. Run "spdycat -h" for the flags and exit codes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spdygo/spdy/session"
)

// Exit codes, after curl's where curl has one.
const (
	exitOK         = 0
	exitUsage      = 2   // bad command line
	exitConnect    = 7   // could not connect: dial, TLS handshake, protocol negotiation
	exitProtocol   = 8   // session or stream error, or a response that is not HTTP
	exitHTTP       = 22  // -f and an HTTP status of 400 or more
	exitWrite      = 23  // could not write the output
	exitRead       = 26  // could not read the -d @FILE data
	exitTimeout    = 28  // -m elapsed
	exitInterrupts = 130 // SIGINT or SIGTERM, as a shell reports SIGINT
)

// options are spdycat's parsed command line.
type options struct {
	method     string
	headers    []string
	data       []string // -d, joined with '&'
	dataBinary []string // --data-binary
	outputs    []string // -o, one per URL in order
	include    bool
	head       bool
	fail       bool
	insecure   bool
	verbose    bool
	silent     bool
	proto      string
	upgrade    bool
	pushes     string
	maxTime    time.Duration
	urls       []*url.URL

	version session.Version // parsed -proto
}

// listFlag is a repeatable string flag.
type listFlag struct{ list *[]string }

func (f listFlag) String() string {
	if f.list == nil {
		return ""
	}
	return strings.Join(*f.list, ", ")
}

func (f listFlag) Set(s string) error {
	*f.list = append(*f.list, s)
	return nil
}

// secondsFlag is a duration given in (fractional) seconds, as curl's -m.
type secondsFlag struct{ d *time.Duration }

func (f secondsFlag) String() string {
	if f.d == nil || *f.d == 0 {
		return ""
	}
	return strconv.FormatFloat(f.d.Seconds(), 'f', -1, 64)
}

func (f secondsFlag) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		return errors.New("want a number of seconds")
	}
	*f.d = time.Duration(v * float64(time.Second))
	return nil
}

const usageText = `usage: spdycat [flags] URL...

Spdycat fetches URLs over SPDY, as curl does over HTTP. An http:// URL is
fetched over plain TCP with prior knowledge of the SPDY version (-proto), or
after an HTTP/1.1 Upgrade (-upgrade); an https:// URL over TLS with the SPDY
version chosen by ALPN, falling back to HTTP/2 or HTTP/1.1 when the server
speaks no SPDY. The URLs of one origin share one session and are fetched
concurrently; their outputs are written in the order of the URLs. Flags may
come before or after the URLs.

Flags:
`

const exitText = `
Exit status:
   0  success
   2  bad command line
   7  could not connect (dial, TLS handshake or protocol negotiation failed)
   8  protocol error (the session or a stream failed, or a bad response)
  22  an HTTP status of 400 or more, with -f
  23  could not write the output (-o, -pushes or standard output)
  26  could not read the data of -d @FILE
  28  timed out: the time of -m ran out, or a connection stalled
 130  interrupted by SIGINT or SIGTERM
With several URLs, the status is that of the first URL that failed.
`

// newFlagSet returns the flag set of spdycat filling o.
func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("spdycat", flag.ContinueOnError)
	fs.StringVar(&o.method, "X", "", "request `method` (default GET, POST with -d, HEAD with -I)")
	fs.Var(listFlag{&o.headers}, "H", "request header `'Name: value'` (repeatable); 'Name:' removes a default header")
	fs.Var(listFlag{&o.data}, "d", "request body `DATA`, or @FILE (@- for standard input) with CR and LF removed as curl does; repeated -d are joined with '&'; implies POST")
	fs.Var(listFlag{&o.dataBinary}, "data-binary", "request body `DATA` or @FILE sent as is; implies POST")
	fs.Var(listFlag{&o.outputs}, "o", "write the body to `FILE` instead of standard output (repeatable: the n-th -o is for the n-th URL; - is standard output)")
	fs.BoolVar(&o.include, "i", false, "include the response status line and headers in the output")
	fs.BoolVar(&o.head, "I", false, "send HEAD and print the response headers only")
	fs.BoolVar(&o.fail, "f", false, "fail with exit status 22 and no body on an HTTP status of 400 or more")
	fs.BoolVar(&o.insecure, "k", false, "do not verify the server's TLS certificate")
	fs.BoolVar(&o.verbose, "v", false, "show the frames in and out, decoded, and the request and response headers, on standard error")
	fs.BoolVar(&o.silent, "s", false, "silent: no progress bar and no error messages (-v shows no progress bar either)")
	fs.StringVar(&o.proto, "proto", "spdy/3.1", "SPDY `version`: spdy/3.1, spdy/3 or spdy/2; for http:// the version spoken (prior knowledge), for https:// the one preferred in ALPN")
	fs.BoolVar(&o.upgrade, "upgrade", false, "on http://, switch to SPDY with an HTTP/1.1 Upgrade instead of prior knowledge")
	fs.StringVar(&o.pushes, "pushes", "", "save the resources the server pushes under `DIR`, by path (without it pushes are refused)")
	fs.Var(secondsFlag{&o.maxTime}, "m", "give up after `SECONDS` in all (exit status 28)")
	return fs
}

// errHelp is returned by parseArgs for -h, after printing the usage.
var errHelp = flag.ErrHelp

// usageError is a bad command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// parseArgs parses the command line. Flags and URLs may be mixed; "--"
// ends the flags. For -h it writes the usage to stdout and returns errHelp;
// a bad command line gives a *usageError.
func parseArgs(args []string, stdout io.Writer) (*options, error) {
	o := new(options)
	fs := newFlagSet(o)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var rawURLs []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, usageText)
				fs.SetOutput(stdout)
				fs.PrintDefaults()
				fmt.Fprint(stdout, exitText)
				return nil, errHelp
			}
			return nil, &usageError{err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			rawURLs = append(rawURLs, rest...) // everything after "--" is a URL
			break
		}
		rawURLs = append(rawURLs, rest[0])
		args = rest[1:]
	}
	if len(rawURLs) == 0 {
		return nil, &usageError{"no URL given"}
	}
	for _, raw := range rawURLs {
		u, err := parseURL(raw)
		if err != nil {
			return nil, &usageError{err.Error()}
		}
		o.urls = append(o.urls, u)
	}
	for _, h := range o.headers {
		if _, _, _, err := parseHeaderArg(h); err != nil {
			return nil, &usageError{err.Error()}
		}
	}
	v, err := session.ParseVersion(o.proto)
	if err != nil {
		return nil, &usageError{fmt.Sprintf("-proto %q: want spdy/3.1, spdy/3 or spdy/2", o.proto)}
	}
	o.version = v
	if o.head && (len(o.data) > 0 || len(o.dataBinary) > 0) {
		return nil, &usageError{"-I and -d exclude each other"}
	}
	if len(o.data) > 0 && len(o.dataBinary) > 0 {
		return nil, &usageError{"-d and --data-binary exclude each other"}
	}
	if len(o.outputs) > len(o.urls) {
		return nil, &usageError{fmt.Sprintf("%d -o for %d URLs", len(o.outputs), len(o.urls))}
	}
	if o.upgrade {
		for _, u := range o.urls {
			if u.Scheme != "http" {
				return nil, &usageError{fmt.Sprintf("-upgrade is for http:// URLs, not %s", u.Redacted())}
			}
		}
	}
	if o.method != "" && strings.ContainsAny(o.method, " \t\r\n") {
		return nil, &usageError{fmt.Sprintf("-X %q: not a method", o.method)}
	}
	return o, nil
}

// parseURL parses an http:// or https:// URL; a URL without a scheme is
// taken as http:// as curl does.
func parseURL(raw string) (*url.URL, error) {
	s := raw
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("bad URL %q", raw)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("URL %q: scheme %q is not http or https", raw, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("URL %q has no host", raw)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u, nil
}

// parseHeaderArg splits a -H argument "Name: value". An empty value after
// the colon ("Name:") means: do not send that header; "Name;" sends the
// header with an empty value (empty is true), as in curl.
func parseHeaderArg(h string) (name, value string, empty bool, err error) {
	name, value, ok := strings.Cut(h, ":")
	if !ok && strings.HasSuffix(h, ";") {
		name, value, ok, empty = strings.TrimSuffix(h, ";"), "", true, true
	}
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t\r\n:;") {
		return "", "", false, fmt.Errorf("-H %q: want 'Name: value'", h)
	}
	value = strings.TrimSpace(value)
	if strings.ContainsAny(value, "\r\n") {
		return "", "", false, fmt.Errorf("-H %q: a value may not hold a line break", h)
	}
	return name, value, empty, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal ends the process at once
	}()
	os.Exit(run(ctx, os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, terminal: isTerminal(os.Stderr)}))
}

// env is what a run of spdycat reads and writes.
type env struct {
	stdin    io.Reader
	stdout   io.Writer
	stderr   io.Writer
	terminal bool // stderr is a terminal: show a progress bar for -o
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
