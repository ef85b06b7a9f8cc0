package httpadapter

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/session"
)

// The names of SPDY's own headers in each version.
type names struct {
	method, path, version, host, scheme, status string
}

var (
	namesV2 = names{method: "method", path: "url", version: "version", host: "host", scheme: "scheme", status: "status"}
	namesV3 = names{method: ":method", path: ":path", version: ":version", host: ":host", scheme: ":scheme", status: ":status"}
)

func namesFor(v session.Version) *names {
	if v == session.V2 {
		return &namesV2
	}
	return &namesV3
}

// hopByHop are the headers SPDY forbids (connection-specific in HTTP/1.1).
var hopByHop = map[string]bool{
	"connection":          true,
	"host":                true,
	"keep-alive":          true,
	"proxy-connection":    true,
	"transfer-encoding":   true,
	"upgrade":             true,
	"te":                  true,
	"trailer":             false, // kept: it announces trailers
	"http2-settings":      true,
	"proxy-authenticate":  false,
	"proxy-authorization": false,
}

// appendHeader appends h to fields as SPDY fields: lower-case names,
// several values joined with NUL, hop-by-hop headers (and those named by
// Connection) dropped, names that SPDY reserves or cannot carry skipped.
// The order is sorted by name so that blocks compress well.
func appendHeader(fields []hpackz.Field, h http.Header, v session.Version, skip func(string) bool) []hpackz.Field {
	connNamed := connectionNamed(h["Connection"])
	start := len(fields)
	for k, vv := range h {
		if len(vv) == 0 {
			continue // a key without values is not sent (net/http's rule)
		}
		name := lowerName(k)
		if hopByHop[name] || connNamed[name] || !validName(name) || (skip != nil && skip(name)) {
			continue
		}
		if v == session.V2 && reservedV2[name] {
			continue
		}
		if len(vv) == 1 {
			// The usual case, without allocating: cleanValue returns a
			// value that needs no cleaning as it is.
			if x := cleanValue(vv[0]); x != "" || v != session.V2 {
				fields = append(fields, hpackz.Field{Name: name, Value: x})
			}
			continue
		}
		vals := make([]string, 0, len(vv))
		for _, x := range vv {
			if x = cleanValue(x); x != "" {
				vals = append(vals, x) // SPDY values cannot hold empty segments
			}
		}
		if len(vals) == 0 {
			if v == session.V2 {
				continue // SPDY/2 forbids empty values
			}
			vals = append(vals, "")
		}
		fields = append(fields, hpackz.Field{Name: name, Value: strings.Join(vals, "\x00")})
	}
	added := fields[start:]
	slices.SortFunc(added, func(a, b hpackz.Field) int { return strings.Compare(a.Name, b.Name) })
	// Distinct header keys may lower-case to one name: merge them.
	out := fields[:start]
	for _, f := range added {
		if n := len(out); n > start && out[n-1].Name == f.Name {
			if f.Value != "" {
				if out[n-1].Value == "" {
					out[n-1].Value = f.Value
				} else {
					out[n-1].Value += "\x00" + f.Value
				}
			}
			continue
		}
		out = append(out, f)
	}
	return out
}

// commonLower maps the canonical form of common header names to their
// lower-case form, so that sending them allocates nothing.
var commonLower = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Accept-Ranges",
		"Access-Control-Allow-Origin", "Age", "Allow", "Authorization", "Cache-Control",
		"Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
		"Content-Location", "Content-Range", "Content-Type", "Cookie", "Date", "Etag", "Expect",
		"Expires", "From", "If-Match", "If-Modified-Since", "If-None-Match", "If-Range",
		"If-Unmodified-Since", "Last-Modified", "Link", "Location", "Origin", "Pragma", "Range",
		"Referer", "Retry-After", "Server", "Set-Cookie", "Trailer", "User-Agent", "Vary", "Via",
		"Www-Authenticate", "X-Content-Type-Options", "X-Forwarded-For", "X-Forwarded-Proto",
		"X-Frame-Options", "X-Requested-With",
	} {
		m[k] = strings.ToLower(k)
	}
	return m
}()

// commonCanonical maps the lower-case names of commonLower back to their
// canonical form.
var commonCanonical = func() map[string]string {
	m := make(map[string]string, len(commonLower))
	for k, l := range commonLower {
		m[l] = k
	}
	return m
}()

// canonicalName returns the canonical form of a received header name.
func canonicalName(name string) string {
	if k, ok := commonCanonical[name]; ok {
		return k
	}
	return textproto.CanonicalMIMEHeaderKey(name)
}

// lowerName returns the lower-case form of a header name.
func lowerName(k string) string {
	if l, ok := commonLower[k]; ok {
		return l
	}
	return strings.ToLower(k) // allocates only when k has upper case
}

// reservedV2 are the SPDY/2 names of the request and response lines,
// which a plain header may not take.
var reservedV2 = map[string]bool{"method": true, "url": true, "version": true, "scheme": true, "status": true}

// connectionNamed returns the lower-case names listed in Connection
// headers, which are hop-by-hop too.
func connectionNamed(conn []string) map[string]bool {
	var named map[string]bool
	for _, c := range conn {
		for _, f := range strings.Split(c, ",") {
			if f = strings.TrimSpace(strings.ToLower(f)); f != "" {
				if named == nil {
					named = make(map[string]bool)
				}
				named[f] = true
			}
		}
	}
	return named
}

// cleanValue maps the bytes of a header value that cannot be sent: NUL
// (SPDY's separator) is dropped, and CR and LF become spaces as in
// net/http, so that a value cannot split a header when an HTTP/1.1 peer
// gets it later. It works on bytes: a value that is not UTF-8 (HTTP allows
// any byte from 0x80 up) is sent as it is.
func cleanValue(v string) string {
	if strings.IndexAny(v, "\x00\r\n") < 0 {
		return v
	}
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case 0:
		case '\r', '\n':
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// validName reports whether name can be sent: non-empty, printable
// US-ASCII without upper case, not starting with ':' (SPDY's own names).
func validName(name string) bool {
	if name == "" || name[0] == ':' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || ('A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// toHeader adds the fields that are not SPDY's own to h, splitting
// NUL-joined values. Hop-by-hop headers, which SPDY forbids, and those a
// connection header names are dropped; so is host, which the request
// carries in its Host (in SPDY/3 a host header is not allowed at all).
func toHeader(h http.Header, fields []hpackz.Field, n *names) {
	var connNamed map[string]bool
	for _, f := range fields {
		if f.Name == "connection" {
			connNamed = connectionNamed(strings.Split(f.Value, "\x00"))
		}
	}
	// One backing array for the first value of every name, as
	// net/textproto does: a header of one value costs no allocation of
	// its own (the capacity of 1 makes a later append copy).
	strs := make([]string, 0, len(fields))
	for _, f := range fields {
		if f.Name == "" || f.Name[0] == ':' || (n == &namesV2 && reservedV2[f.Name]) || hopByHop[f.Name] || connNamed[f.Name] ||
			!validToken(f.Name) || !validValue(f.Value) {
			continue
		}
		key := canonicalName(f.Name)
		if strings.IndexByte(f.Value, 0) < 0 {
			// One value, the usual case.
			if vv, ok := h[key]; ok {
				h[key] = append(vv, f.Value)
			} else {
				strs = append(strs, f.Value)
				h[key] = strs[len(strs)-1 : len(strs) : len(strs)]
			}
			continue
		}
		for _, v := range strings.Split(f.Value, "\x00") {
			h[key] = append(h[key], v)
		}
	}
}

// field returns the value of the field named name.
func field(fields []hpackz.Field, name string) (string, bool) {
	for _, f := range fields {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}

// requestOrigin returns the scheme and host a request is sent to: its Host
// or else its URL's, and its URL's scheme or else https.
func requestOrigin(r *http.Request) (scheme, host string) {
	host = r.Host
	if host == "" && r.URL != nil {
		host = r.URL.Host
	}
	scheme = "https"
	if r.URL != nil && r.URL.Scheme != "" {
		scheme = r.URL.Scheme
	}
	return scheme, host
}

// requestFields builds the header block of a request.
func requestFields(r *http.Request, v session.Version) ([]hpackz.Field, error) {
	n := namesFor(v)
	scheme, host := requestOrigin(r)
	if host == "" {
		return nil, errors.New("httpadapter: request has no host")
	}
	path := "/"
	if r.URL != nil {
		if r.URL.Opaque != "" {
			path = r.URL.Opaque
		} else if p := r.URL.RequestURI(); p != "" {
			path = p
		}
	}
	if r.Method == http.MethodConnect {
		path = host
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	if !validToken(method) {
		return nil, fmt.Errorf("httpadapter: invalid method %q", method)
	}
	fields := make([]hpackz.Field, 0, 8+len(r.Header)) // room for content-length and accept-encoding
	fields = append(fields,
		hpackz.Field{Name: n.host, Value: host},
		hpackz.Field{Name: n.method, Value: method},
		hpackz.Field{Name: n.path, Value: path},
		hpackz.Field{Name: n.scheme, Value: scheme},
		hpackz.Field{Name: n.version, Value: "HTTP/1.1"},
	)
	if v == session.V2 {
		// SPDY/2 has no :host; the host header is kept instead.
		fields[0].Name = "host"
	}
	skip := func(name string) bool { return name == "content-length" }
	fields = appendHeader(fields, r.Header, v, skip)
	if r.ContentLength > 0 {
		fields = append(fields, hpackz.Field{Name: "content-length", Value: strconv.FormatInt(r.ContentLength, 10)})
	} else if cl := r.Header.Get("Content-Length"); cl != "" && r.ContentLength != 0 {
		fields = append(fields, hpackz.Field{Name: "content-length", Value: cl})
	}
	if len(r.Trailer) > 0 {
		keys := make([]string, 0, len(r.Trailer))
		for k := range r.Trailer {
			keys = append(keys, strings.ToLower(k))
		}
		sort.Strings(keys)
		if _, ok := field(fields, "trailer"); !ok {
			fields = append(fields, hpackz.Field{Name: "trailer", Value: strings.Join(keys, ", ")})
		}
	}
	return dedupe(fields), nil
}

// invalidField returns why one of fields received cannot go into an HTTP
// message, or "": a header name that is not a token, or a value with a
// control byte other than the tab and the NUL that separates values. These
// are what net/http refuses (CR and LF would split the header when it is
// passed on over HTTP/1.1). SPDY's own names, which start with ':', are
// checked by their meaning.
func invalidField(fields []hpackz.Field) string {
	for _, f := range fields {
		if !validValue(f.Value) {
			return "invalid header value"
		}
		if f.Name != "" && f.Name[0] != ':' && !validToken(f.Name) {
			return "invalid header name"
		}
	}
	return ""
}

// validValue reports whether a received value (NUL-separated values) has
// no control byte but the tab.
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t' && c != 0) || c == 0x7f {
			return false
		}
	}
	return true
}

// validHost reports whether host has only the bytes net/http accepts in a
// Host: those of an RFC 3986 host (a name, an IPv4 or IPv6 address, a
// percent-encoded zone) and its port.
func validHost(host string) bool {
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!$%&'()*+,-.:;=[]_~", c) >= 0) {
			return false
		}
	}
	return true
}

// validToken reports whether m is a token (RFC 9110), as a method and a
// header name must be.
func validToken(m string) bool {
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return m != ""
}

// dedupe drops later fields of a name already present, which hpackz
// refuses (SPDY has one field per name).
func dedupe(fields []hpackz.Field) []hpackz.Field {
	if len(fields) <= 32 {
		// Small blocks, the usual ones: no map.
		out := fields[:0]
	next:
		for _, f := range fields {
			for _, o := range out {
				if o.Name == f.Name {
					continue next
				}
			}
			out = append(out, f)
		}
		return out
	}
	seen := make(map[string]bool, len(fields))
	out := fields[:0]
	for _, f := range fields {
		if seen[f.Name] {
			continue
		}
		seen[f.Name] = true
		out = append(out, f)
	}
	return out
}

// errBadRequest is a request whose SPDY headers are missing or wrong: the
// server answers 400.
type errBadRequest string

func (e errBadRequest) Error() string { return "httpadapter: bad request: " + string(e) }

// parseRequest builds the request of an accepted stream's headers.
func parseRequest(fields []hpackz.Field, v session.Version) (*http.Request, error) {
	n := namesFor(v)
	get := func(name string) string { x, _ := field(fields, name); return x }
	method, path, version, scheme := get(n.method), get(n.path), get(n.version), get(n.scheme)
	host := get(n.host)
	absolute := false
	if v == session.V2 {
		// SPDY/2 requires method, url and version; the host comes from a
		// full URL if the url is one (it is authoritative then), else from
		// the host header. The scheme is optional.
		host = get("host")
		if u, err := url.Parse(path); err == nil && u.Scheme != "" && u.Host != "" && method != http.MethodConnect {
			host, scheme, absolute = u.Host, u.Scheme, true
		}
		if method == "" || path == "" || version == "" || host == "" {
			return nil, errBadRequest("missing one of method, url, version, host")
		}
	} else if method == "" || path == "" || version == "" || host == "" || scheme == "" {
		return nil, errBadRequest("missing one of :method, :path, :version, :host, :scheme")
	}
	if why := invalidField(fields); why != "" {
		return nil, errBadRequest(why)
	}
	if !validToken(method) {
		return nil, errBadRequest("invalid method")
	}
	if !validHost(host) {
		return nil, errBadRequest("invalid host")
	}
	// The target is an absolute path, "*", a full URL (SPDY/2) or, for
	// CONNECT, a host: nothing else names a resource of this host.
	switch {
	case method == http.MethodConnect:
		if !validHost(path) {
			return nil, errBadRequest("invalid connect target")
		}
	case !absolute && path[0] != '/' && path != "*":
		return nil, errBadRequest("invalid path")
	}
	major, minor, ok := http.ParseHTTPVersion(version)
	if !ok {
		return nil, errBadRequest("invalid version")
	}
	r := &http.Request{
		Method:     method,
		Proto:      version,
		ProtoMajor: major,
		ProtoMinor: minor,
		Header:     make(http.Header, len(fields)),
		Host:       host,
		RequestURI: path,
	}
	var err error
	if method == http.MethodConnect {
		r.URL = &url.URL{Host: path}
	} else if absolute {
		if r.URL, err = url.Parse(path); err != nil {
			return nil, errBadRequest("invalid url")
		}
	} else if r.URL, err = url.ParseRequestURI(path); err != nil {
		return nil, errBadRequest("invalid path")
	}
	toHeader(r.Header, fields, n)
	r.ContentLength = -1
	if cls := r.Header["Content-Length"]; len(cls) > 0 {
		cl := strings.TrimSpace(cls[0])
		for _, other := range cls[1:] {
			if strings.TrimSpace(other) != cl {
				return nil, errBadRequest("conflicting content-lengths")
			}
		}
		r.Header["Content-Length"] = cls[:1]
		n, err := strconv.ParseUint(cl, 10, 63) // no sign, as in net/http
		if err != nil {
			return nil, errBadRequest("invalid content-length")
		}
		r.ContentLength = int64(n)
	}
	r.Trailer = declaredTrailers(r.Header["Trailer"])
	return r, nil
}

// declaredTrailers returns the names that Trailer header values announce,
// each a key without values; nil when there are no values.
func declaredTrailers(vv []string) http.Header {
	if len(vv) == 0 {
		return nil
	}
	tr := make(http.Header)
	for _, v := range vv {
		for _, k := range strings.Split(v, ",") {
			if k = textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(k)); k != "" {
				tr[k] = nil
			}
		}
	}
	return tr
}

// responseFields builds the header block of a response.
func responseFields(code int, h http.Header, v session.Version) []hpackz.Field {
	n := namesFor(v)
	fields := make([]hpackz.Field, 0, 2+len(h))
	fields = append(fields, hpackz.Field{Name: n.status, Value: statusLine(code)}, hpackz.Field{Name: n.version, Value: "HTTP/1.1"})
	fields = appendHeader(fields, h, v, isTrailerPrefixed)
	return dedupe(fields)
}

// lowerTrailerPrefix is http.TrailerPrefix as a lower-case field name
// starts with it.
var lowerTrailerPrefix = strings.ToLower(http.TrailerPrefix)

func isTrailerPrefixed(name string) bool { return strings.HasPrefix(name, lowerTrailerPrefix) }

// statusLines holds the status values of the codes net/http names
// ("200 OK"), built once.
var statusLines = func() map[int]string {
	m := make(map[int]string)
	for code := 100; code < 600; code++ {
		if t := http.StatusText(code); t != "" {
			m[code] = strconv.Itoa(code) + " " + t
		}
	}
	return m
}()

// statusLine returns the status value of a code: its number and, if it
// has one, its reason phrase.
func statusLine(code int) string {
	if s, ok := statusLines[code]; ok {
		return s
	}
	return strconv.Itoa(code)
}

// parseStatus reads the status code of a response's headers.
func parseStatus(fields []hpackz.Field, v session.Version) (code int, status string, err error) {
	n := namesFor(v)
	st, ok := field(fields, n.status)
	_, vok := field(fields, n.version)
	if !ok || !vok {
		return 0, "", errors.New("httpadapter: response without status or version")
	}
	digits, _, hasReason := strings.Cut(st, " ")
	code, err = strconv.Atoi(digits)
	if err != nil || len(digits) != 3 || code < 100 || digits[0] == '+' {
		return 0, "", errors.New("httpadapter: invalid response status") // the value stays out of error strings
	}
	if !hasReason {
		if t := http.StatusText(code); t != "" {
			st += " " + t
		}
	}
	return code, st, nil
}

// trailerFields builds the HEADERS block of trailers.
func trailerFields(h http.Header, v session.Version) []hpackz.Field {
	return dedupe(appendHeader(nil, h, v, nil))
}
