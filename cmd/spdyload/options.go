package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spdygo/spdy/session"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailed      = 1   // a request failed or a connection could not be established
	exitUsage       = 2   // bad command line
	exitInterrupted = 130 // SIGINT or SIGTERM, as a shell reports SIGINT
)

// Defaults of the flags.
const (
	defaultRequests = 1000
	defaultConns    = 1
	defaultStreams  = 1
	defaultTimeout  = 30 * time.Second
)

// dialTimeout bounds a connection's dial and TLS handshake when -timeout
// is 0.
const dialTimeout = 30 * time.Second

// userAgent is the User-Agent of the requests unless -H sets one.
const userAgent = "spdyload/1"

// The values of -proto.
const (
	protoAuto   = "auto"
	protoHTTP11 = "http/1.1"
)

// options are spdyload's parsed command line.
type options struct {
	requests int
	conns    int
	streams  int
	duration time.Duration
	bodySize int64
	method   string
	headers  []string
	proto    string
	insecure bool
	v2compat bool
	caFile   string
	timeout  time.Duration
	json     bool
	url      *url.URL

	requestsSet bool            // -n was given
	version     session.Version // -proto as a SPDY version, 0 for auto and http/1.1
	header      http.Header     // the -H headers but Host
	host        string          // the -H Host header, if any
	roots       *x509.CertPool  // -ca
	notes       []string        // said on standard error before the run
}

// limit is the number of requests the run is bounded by, -1 for none
// (-d without -n).
func (o *options) limit() int64 {
	if o.duration > 0 && !o.requestsSet {
		return -1
	}
	return int64(o.requests)
}

// bound is -timeout, or dialTimeout when it is 0: it bounds a connection's
// dial and handshake, and how long the requests in flight on a connection
// being shut down may still take.
func (o *options) bound() time.Duration {
	if o.timeout > 0 {
		return o.timeout
	}
	return dialTimeout
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

const usageText = `usage: spdyload [flags] URL

Spdyload sends the URL many times over -c connections, up to -m requests at
once on each, and reports the time taken, requests and megabytes per second,
latency (time to first and to last byte: min, mean, p50, p90, p99, max),
status codes and errors by kind. Each connection is one SPDY session (or one
HTTP/1.1 connection). The run ends after -n requests, or with -d after that
duration (then -n bounds it only if given); SIGINT stops it early and the
report is printed all the same. Every response body is read to its end. A
request succeeds when its whole response arrived with a status below 500.

-proto auto: an https:// URL negotiates spdy/3.1, spdy/3, spdy/2 or
http/1.1 by ALPN; an http:// URL speaks SPDY/3.1 with prior knowledge. A
SPDY version is spoken with prior knowledge on http:// and is the only one
offered by ALPN on https://. With http/1.1 (or when ALPN picks it) a
connection carries one request at a time: -m is taken as 1. Against node's
spdy servers, SPDY/2 needs -v2compat.

Flags may come before or after the URL. Megabytes are 10^6 bytes.

Flags:
`

const exitText = `
Exit status:
   0  every request started succeeded and every connection was established
   1  a request failed (an error, or a status of 500 or more), or a
      connection could not be established
   2  bad command line
 130  interrupted by SIGINT or SIGTERM (the report is printed)
`

// newFlagSet returns the flag set of spdyload filling o.
func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("spdyload", flag.ContinueOnError)
	fs.IntVar(&o.requests, "n", defaultRequests, "number of `requests` in all; with -d, a bound only when given")
	fs.IntVar(&o.conns, "c", defaultConns, "number of `connections` (sessions), each its own TCP or TLS connection")
	fs.IntVar(&o.streams, "m", defaultStreams, "most `streams` in flight on each connection (taken as 1 for HTTP/1.1)")
	fs.DurationVar(&o.duration, "d", 0, "run for this `duration` (such as 10s) instead of -n requests; 0 means until -n are done")
	fs.Int64Var(&o.bodySize, "body", 0, "send a request body of this many `bytes` (generated); with a body the default method is POST")
	fs.StringVar(&o.method, "method", "", "request `method` (default GET, or POST with -body)")
	fs.Var(listFlag{&o.headers}, "H", "request header `'Name: value'` (repeatable); Host sets the request's host")
	fs.StringVar(&o.proto, "proto", protoAuto, "`protocol`: auto, spdy/3.1, spdy/3, spdy/2 or http/1.1 (see above)")
	fs.BoolVar(&o.insecure, "insecure", false, "do not verify the server's TLS certificate")
	fs.BoolVar(&o.v2compat, "v2compat", false, "speak SPDY/2 as node's spdy-transport does (SPDY/3's GOAWAY and flow control), which node's servers need; no effect on SPDY/3")
	fs.StringVar(&o.caFile, "ca", "", "verify the server's certificate with the CA certificates in `file` (PEM) instead of the system's")
	fs.DurationVar(&o.timeout, "timeout", defaultTimeout, "bound of each request, from its start to the last byte of its response, and of each connection's setup; 0 means none (connections then get 30s)")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	return fs
}

// errHelp is returned by parseArgs for -h, after printing the usage.
var errHelp = flag.ErrHelp

// usageError is a bad command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// parseArgs parses the command line; flags may come before and after the
// URL, and "--" ends them. For -h it writes the usage to stdout and returns
// errHelp; a bad command line gives a *usageError.
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
			rawURLs = append(rawURLs, rest...)
			break
		}
		rawURLs = append(rawURLs, rest[0])
		args = rest[1:]
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "n" {
			o.requestsSet = true
		}
	})
	switch len(rawURLs) {
	case 0:
		return nil, &usageError{"no URL given"}
	case 1:
	default:
		return nil, &usageError{fmt.Sprintf("one URL, not %d", len(rawURLs))}
	}
	u, err := parseURL(rawURLs[0])
	if err != nil {
		return nil, &usageError{err.Error()}
	}
	o.url = u
	if err := o.check(); err != nil {
		return nil, err
	}
	return o, nil
}

// check validates the parsed flags and fills the fields derived from them.
func (o *options) check() error {
	switch {
	case o.requests < 1:
		return &usageError{fmt.Sprintf("-n %d: want at least 1", o.requests)}
	case o.conns < 1:
		return &usageError{fmt.Sprintf("-c %d: want at least 1", o.conns)}
	case o.streams < 1:
		return &usageError{fmt.Sprintf("-m %d: want at least 1", o.streams)}
	case o.duration < 0:
		return &usageError{"-d: want a positive duration"}
	case o.timeout < 0:
		return &usageError{"-timeout: want a positive duration, or 0 for none"}
	case o.bodySize < 0:
		return &usageError{fmt.Sprintf("-body %d: want a size in bytes", o.bodySize)}
	case o.insecure && o.caFile != "":
		return &usageError{"-insecure and -ca exclude each other"}
	}
	switch o.proto {
	case protoAuto, protoHTTP11:
	default:
		v, err := session.ParseVersion(o.proto)
		if err != nil {
			return &usageError{fmt.Sprintf("-proto %q: want auto, spdy/3.1, spdy/3, spdy/2 or http/1.1", o.proto)}
		}
		o.version = v
	}
	if o.proto == protoHTTP11 && o.streams > 1 {
		o.notes = append(o.notes, fmt.Sprintf("http/1.1 has no multiplexing: -m %d is taken as 1 (use -c for more concurrency)", o.streams))
		o.streams = 1
	}
	if o.method == "" {
		o.method = http.MethodGet
		if o.bodySize > 0 {
			o.method = http.MethodPost
		}
	}
	if !validToken(o.method) {
		return &usageError{fmt.Sprintf("-method %q: not a method", o.method)}
	}
	o.header = http.Header{}
	for _, h := range o.headers {
		name, value, err := parseHeaderArg(h)
		if err != nil {
			return &usageError{err.Error()}
		}
		if name == "Host" {
			o.host = value
			continue
		}
		o.header.Add(name, value)
	}
	if o.header.Get("User-Agent") == "" {
		o.header.Set("User-Agent", userAgent)
	}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return &usageError{fmt.Sprintf("-ca: %v", err)}
		}
		o.roots = x509.NewCertPool()
		if !o.roots.AppendCertsFromPEM(pem) {
			return &usageError{fmt.Sprintf("-ca %s: no PEM certificate in it", o.caFile)}
		}
	}
	return nil
}

// parseURL parses an http:// or https:// URL; a URL without a scheme is
// taken as http://.
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
	u.Fragment = ""
	return u, nil
}

// dialAddr returns the host:port to dial for u.
func dialAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// parseHeaderArg splits a -H argument "Name: value" and returns the name
// in canonical form.
func parseHeaderArg(h string) (name, value string, err error) {
	name, value, ok := strings.Cut(h, ":")
	name = strings.TrimSpace(name)
	if !ok || !validToken(name) {
		return "", "", fmt.Errorf("-H %q: want 'Name: value'", h)
	}
	value = strings.TrimSpace(value)
	if strings.ContainsAny(value, "\r\n\x00") {
		return "", "", fmt.Errorf("-H %q: a value may not hold a line break or NUL", h)
	}
	return textproto.CanonicalMIMEHeaderKey(name), value, nil
}

// validToken reports whether s is an HTTP token (a method or header name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

// tlsConfig returns the TLS configuration of the connections, offering
// protos by ALPN.
func (o *options) tlsConfig(protos []string) *tls.Config {
	return &tls.Config{
		ServerName:         o.url.Hostname(),
		InsecureSkipVerify: o.insecure,
		RootCAs:            o.roots,
		NextProtos:         protos,
	}
}
