package main

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"golang.org/x/net/html"
)

// protoKey is the context key under which a SPDY session's protocol
// ("spdy/3.1", ...) is stored for the request log.
type protoKey struct{}

// withProto returns ctx carrying proto as the connection's protocol.
func withProto(ctx context.Context, proto string) context.Context {
	return context.WithValue(ctx, protoKey{}, proto)
}

// protoOf names the protocol a request arrived over: the SPDY version for
// SPDY requests, otherwise the HTTP version ("HTTP/1.1", "HTTP/2.0").
func protoOf(r *http.Request) string {
	if p, ok := r.Context().Value(protoKey{}).(string); ok && p != "" {
		return p
	}
	if r.TLS != nil && strings.HasPrefix(r.TLS.NegotiatedProtocol, "spdy/") {
		return r.TLS.NegotiatedProtocol
	}
	return r.Proto
}

// newHandler returns the file server of root, pushing the assets of HTML
// pages when push is set, that logs one line per request to logger.
func newHandler(root string, push bool, logger *log.Logger) http.Handler {
	var h http.Handler = http.FileServer(http.Dir(root))
	if push {
		h = &pushHandler{fs: http.Dir(root), next: h}
	}
	if logger != nil {
		h = &logHandler{log: logger, next: h}
	}
	return h
}

// logHandler logs one line per request: remote address, method, path,
// protocol, status, body bytes and duration.
type logHandler struct {
	log  *log.Logger
	next http.Handler
}

func (h *logHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	lw := &logWriter{ResponseWriter: w}
	defer func() {
		status := lw.status
		if status == 0 {
			status = http.StatusOK
		}
		h.log.Printf("%s %s %s %s %d %d %s", r.RemoteAddr, r.Method, r.URL.RequestURI(), protoOf(r), status, lw.bytes, time.Since(start).Round(time.Microsecond))
	}()
	h.next.ServeHTTP(lw, r)
}

// logWriter records the status and body size of a response. It keeps the
// optional interfaces of the ResponseWriter it wraps reachable: Flush and
// Push directly, the others through Unwrap (http.ResponseController).
type logWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *logWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *logWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom lets io.Copy use the wrapped writer's ReadFrom (sendfile over
// HTTP/1.1).
func (w *logWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
	}
	w.bytes += n
	return n, err
}

func (w *logWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *logWriter) Push(target string, opts *http.PushOptions) error {
	if p, ok := w.ResponseWriter.(http.Pusher); ok {
		return p.Push(target, opts)
	}
	return http.ErrNotSupported
}

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController.
func (w *logWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Limits of -push.
const (
	pushScanBytes  = 64 << 10 // how much of a page is searched for assets
	maxPushTargets = 32       // pushes per page
)

// pushHandler pushes, before serving an HTML page, the same-origin assets
// that the start of the page links to and that exist under fs.
type pushHandler struct {
	fs   http.FileSystem
	next http.Handler
}

func (h *pushHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p, ok := w.(http.Pusher); ok && wantsPush(r) {
		if page := htmlPage(r.URL.Path); page != "" {
			for _, target := range h.targets(page, r.URL) {
				if err := p.Push(target, nil); err != nil {
					break // refused or not supported: the rest would be too
				}
			}
		}
	}
	h.next.ServeHTTP(w, r)
}

// wantsPush reports whether r is a full GET of a page: a conditional or
// partial request comes from a client that has the page, and its assets
// most likely, cached.
func wantsPush(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	for _, h := range []string{"Range", "If-Modified-Since", "If-None-Match", "If-Range"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	return true
}

// htmlPage returns the name of the HTML file that the file server answers
// upath with when that file exists (a directory's index.html), or "" when
// it would answer with something else; targets checks the file.
func htmlPage(upath string) string {
	if !strings.HasPrefix(upath, "/") {
		upath = "/" + upath
	}
	name := path.Clean(upath)
	if strings.HasSuffix(upath, "/") {
		name = path.Join(name, "index.html")
	} else if strings.HasSuffix(upath, "/index.html") {
		return "" // the file server redirects it to the directory
	}
	ext := strings.ToLower(path.Ext(name))
	if ext != ".html" && ext != ".htm" {
		return ""
	}
	return name
}

func (h *pushHandler) isFile(name string) bool {
	f, err := h.fs.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	return err == nil && st.Mode().IsRegular()
}

// targets returns the paths to push for the page at name, requested as
// base: its assets that exist as files. It returns none when name is not
// a regular file.
func (h *pushHandler) targets(name string, base *url.URL) []string {
	f, err := h.fs.Open(name)
	if err != nil {
		return nil
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil
	}
	var out []string
	for _, t := range assetLinks(io.LimitReader(f, pushScanBytes), base, maxPushTargets) {
		u, err := url.Parse(t)
		if err == nil && h.isFile(u.Path) {
			out = append(out, t)
		}
	}
	return out
}

// navigationRel lists <link rel> values that name other pages rather than
// assets of this one.
var navigationRel = map[string]bool{
	"alternate": true, "canonical": true, "next": true, "prev": true, "author": true,
	"license": true, "search": true, "help": true, "bookmark": true,
	"dns-prefetch": true, "preconnect": true, "prefetch": true, "prerender": true,
}

// assetLinks returns, in document order and without repeats, at most max
// absolute paths of the same-origin assets an HTML document links to with
// <link href>, <script src> and <img src>, resolved against base. URLs
// with a scheme or a host are left out, as are links to the page itself.
func assetLinks(r io.Reader, base *url.URL, max int) []string {
	z := html.NewTokenizer(r)
	seen := map[string]bool{}
	var out []string
	for len(out) < max {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		var ref, rel string
		for _, a := range tok.Attr {
			switch {
			case a.Key == "href" && tok.Data == "link":
				ref = a.Val
			case a.Key == "src" && (tok.Data == "script" || tok.Data == "img"):
				ref = a.Val
			case a.Key == "rel":
				rel = strings.ToLower(a.Val)
			}
		}
		if ref == "" || tok.Data == "link" && isNavigation(rel) {
			continue
		}
		target, ok := resolveSameOrigin(base, strings.TrimSpace(ref))
		if !ok || seen[target] {
			continue
		}
		seen[target] = true
		out = append(out, target)
	}
	return out
}

func isNavigation(rel string) bool {
	for _, r := range strings.Fields(rel) {
		if navigationRel[r] {
			return true
		}
	}
	return false
}

// resolveSameOrigin resolves the relative URL ref against base and returns
// its path and query, or false for an absolute URL, a URL of another
// origin, or the page itself.
func resolveSameOrigin(base *url.URL, ref string) (string, bool) {
	u, err := url.Parse(ref)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || strings.HasPrefix(ref, "//") {
		return "", false
	}
	if u.Path == "" {
		return "", false // a fragment or query of the page itself
	}
	b := &url.URL{Path: base.Path}
	if b.Path == "" {
		b.Path = "/"
	}
	abs := b.ResolveReference(u)
	abs.Fragment = ""
	if abs.Path == b.Path {
		return "", false
	}
	return abs.RequestURI(), true
}
