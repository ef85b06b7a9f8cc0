package httpadapter

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/session"
)

// hversion is the header block format of a session version.
func hversion(v session.Version) hpackz.Version {
	if v == session.V2 {
		return hpackz.V2
	}
	return hpackz.V3
}

// encodable fails the test if fields cannot be sent in a v header block.
func encodable(t *testing.T, v session.Version, fields []hpackz.Field) {
	t.Helper()
	if _, err := hpackz.AppendUncompressed(nil, hversion(v), fields); err != nil {
		t.Fatalf("fields %q cannot be sent: %v", fields, err)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestRequestFieldsNames(t *testing.T) {
	r := &http.Request{Method: "GET", URL: &url.URL{Scheme: "https", Host: "example.com", Path: "/a", RawQuery: "b=c"}, Header: http.Header{"Accept": {"*/*"}}}
	for _, c := range []struct {
		v    session.Version
		want []hpackz.Field
	}{
		{session.V2, []hpackz.Field{
			{Name: "host", Value: "example.com"}, {Name: "method", Value: "GET"}, {Name: "url", Value: "/a?b=c"},
			{Name: "scheme", Value: "https"}, {Name: "version", Value: "HTTP/1.1"}, {Name: "accept", Value: "*/*"},
		}},
		{session.V3, []hpackz.Field{
			{Name: ":host", Value: "example.com"}, {Name: ":method", Value: "GET"}, {Name: ":path", Value: "/a?b=c"},
			{Name: ":scheme", Value: "https"}, {Name: ":version", Value: "HTTP/1.1"}, {Name: "accept", Value: "*/*"},
		}},
		{session.V31, []hpackz.Field{
			{Name: ":host", Value: "example.com"}, {Name: ":method", Value: "GET"}, {Name: ":path", Value: "/a?b=c"},
			{Name: ":scheme", Value: "https"}, {Name: ":version", Value: "HTTP/1.1"}, {Name: "accept", Value: "*/*"},
		}},
	} {
		got, err := requestFields(r, c.v)
		if err != nil {
			t.Fatalf("%v: %v", c.v, err)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%v: fields (-want +got):\n%s", c.v, diff)
		}
		encodable(t, c.v, got)
	}
}

func TestRequestRoundTrip(t *testing.T) {
	type want struct {
		method, host, requestURI, path, rawQuery, urlHost string
		header                                            http.Header
		contentLength                                     int64
		trailer                                           http.Header
	}
	for _, c := range []struct {
		name string
		req  *http.Request
		want want
	}{
		{
			name: "get with query and headers",
			req: &http.Request{Method: "GET", URL: mustURL(t, "http://example.com:8080/index.html?x=1&y=%20"), Header: http.Header{
				"Accept":     {"text/html"},
				"X-Multi":    {"one", "two"},
				"Connection": {"keep-alive, X-Conn"},
				"X-Conn":     {"dropped"},
				"Keep-Alive": {"300"},
				"Upgrade":    {"h2c"},
				"Te":         {"trailers"},
				"Host":       {"ignored.example"},
				"X-Empty":    nil,
			}},
			want: want{method: "GET", host: "example.com:8080", requestURI: "/index.html?x=1&y=%20", path: "/index.html", rawQuery: "x=1&y=%20",
				header: http.Header{"Accept": {"text/html"}, "X-Multi": {"one", "two"}}, contentLength: -1},
		},
		{
			name: "host field wins over the URL",
			req:  &http.Request{Method: "GET", Host: "virtual.example", URL: mustURL(t, "http://10.0.0.1/")},
			want: want{method: "GET", host: "virtual.example", requestURI: "/", path: "/", header: http.Header{}, contentLength: -1},
		},
		{
			name: "post with a length",
			req:  &http.Request{Method: "POST", URL: mustURL(t, "https://example.com/form"), ContentLength: 5, Header: http.Header{"Content-Type": {"text/plain"}}},
			want: want{method: "POST", host: "example.com", requestURI: "/form", path: "/form",
				header: http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"5"}}, contentLength: 5},
		},
		{
			name: "a Content-Length header is replaced by the request's",
			req:  &http.Request{Method: "PUT", URL: mustURL(t, "https://example.com/f"), ContentLength: 7, Header: http.Header{"Content-Length": {"99"}}},
			want: want{method: "PUT", host: "example.com", requestURI: "/f", path: "/f", header: http.Header{"Content-Length": {"7"}}, contentLength: 7},
		},
		{
			name: "empty path",
			req:  &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: "example.com"}},
			want: want{method: "GET", host: "example.com", requestURI: "/", path: "/", header: http.Header{}, contentLength: -1},
		},
		{
			name: "default method",
			req:  &http.Request{URL: mustURL(t, "http://example.com/x")},
			want: want{method: "GET", host: "example.com", requestURI: "/x", path: "/x", header: http.Header{}, contentLength: -1},
		},
		{
			name: "connect",
			req:  &http.Request{Method: "CONNECT", Host: "tunnel.example:443", URL: &url.URL{Host: "tunnel.example:443"}},
			want: want{method: "CONNECT", host: "tunnel.example:443", requestURI: "tunnel.example:443", urlHost: "tunnel.example:443", header: http.Header{}, contentLength: -1},
		},
		{
			name: "trailers announced",
			req:  &http.Request{Method: "POST", URL: mustURL(t, "http://example.com/up"), Trailer: http.Header{"X-Sum": nil, "X-Other": nil}},
			want: want{method: "POST", host: "example.com", requestURI: "/up", path: "/up",
				header: http.Header{"Trailer": {"x-other, x-sum"}}, contentLength: -1, trailer: http.Header{"X-Sum": nil, "X-Other": nil}},
		},
		{
			name: "escaped path",
			req:  &http.Request{Method: "GET", URL: mustURL(t, "http://example.com/a%2Fb/c%20d")},
			want: want{method: "GET", host: "example.com", requestURI: "/a%2Fb/c%20d", path: "/a/b/c d", header: http.Header{}, contentLength: -1},
		},
		{
			name: "values with newlines and NULs",
			req:  &http.Request{Method: "GET", URL: mustURL(t, "http://example.com/"), Header: http.Header{"X-Bad": {"a\r\nInjected: 1", "b\x00c"}}},
			want: want{method: "GET", host: "example.com", requestURI: "/", path: "/", header: http.Header{"X-Bad": {"a  Injected: 1", "bc"}}, contentLength: -1},
		},
	} {
		for _, v := range versions {
			t.Run(c.name+"/"+v.String(), func(t *testing.T) {
				fields, err := requestFields(c.req, v)
				if err != nil {
					t.Fatal(err)
				}
				encodable(t, v, fields)
				r, err := parseRequest(fields, v)
				if err != nil {
					t.Fatalf("parseRequest(%q): %v", fields, err)
				}
				got := want{method: r.Method, host: r.Host, requestURI: r.RequestURI, path: r.URL.Path, rawQuery: r.URL.RawQuery,
					urlHost: r.URL.Host, header: r.Header, contentLength: r.ContentLength, trailer: r.Trailer}
				if diff := cmp.Diff(c.want, got, cmp.AllowUnexported(want{})); diff != "" {
					t.Errorf("request (-want +got):\n%s\nfields %q", diff, fields)
				}
				if r.Proto != "HTTP/1.1" || r.ProtoMajor != 1 || r.ProtoMinor != 1 {
					t.Errorf("proto %q %d.%d", r.Proto, r.ProtoMajor, r.ProtoMinor)
				}
			})
		}
	}
}

func TestRequestFieldsErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		req  *http.Request
	}{
		{"no host", &http.Request{Method: "GET", URL: &url.URL{Path: "/"}}},
		{"method with a space", &http.Request{Method: "GE T", URL: mustURL(t, "http://example.com/")}},
		{"method with a separator", &http.Request{Method: "GET/", URL: mustURL(t, "http://example.com/")}},
	} {
		for _, v := range versions {
			if _, err := requestFields(c.req, v); err == nil {
				t.Errorf("%s (%v): no error", c.name, v)
			}
		}
	}
}

// v3Request returns the fields of a v3 request with name set to value
// ("" removes it).
func withField(fields []hpackz.Field, name, value string) []hpackz.Field {
	out := make([]hpackz.Field, 0, len(fields)+1)
	found := false
	for _, f := range fields {
		if f.Name == name {
			found = true
			if value == "" {
				continue
			}
			f.Value = value
		}
		out = append(out, f)
	}
	if !found && value != "" {
		out = append(out, hpackz.Field{Name: name, Value: value})
	}
	return out
}

func TestParseRequestErrors(t *testing.T) {
	v3 := requestBlock(session.V3, request{})
	v2 := requestBlock(session.V2, request{})
	for _, c := range []struct {
		name   string
		v      session.Version
		fields []hpackz.Field
	}{
		{"v3 no :method", session.V3, withField(v3, ":method", "")},
		{"v3 no :path", session.V3, withField(v3, ":path", "")},
		{"v3 no :version", session.V3, withField(v3, ":version", "")},
		{"v3 no :host", session.V3, withField(v3, ":host", "")},
		{"v3 no :scheme", session.V3, withField(v3, ":scheme", "")},
		{"v3 host header instead of :host", session.V3, withField(withField(v3, ":host", ""), "host", "example.com")},
		{"v3 v2 names", session.V3, v2},
		{"v3 invalid method", session.V3, withField(v3, ":method", "G(E)T")},
		{"v3 invalid version", session.V3, withField(v3, ":version", "HTTP/one")},
		{"v3 relative path", session.V3, withField(v3, ":path", "index.html")},
		{"v3 negative content-length", session.V3, withField(v3, "content-length", "-1")},
		{"v3 content-length not a number", session.V3, withField(v3, "content-length", "ten")},
		{"v3 two content-lengths", session.V3, withField(v3, "content-length", "1\x002")},
		{"v3 signed content-length", session.V3, withField(v3, "content-length", "+5")},
		{"v2 no method", session.V2, withField(v2, "method", "")},
		{"v2 no url", session.V2, withField(v2, "url", "")},
		{"v2 no version", session.V2, withField(v2, "version", "")},
		{"v2 no host and a path", session.V2, withField(v2, "host", "")},
		{"v2 v3 names", session.V2, v3},
		{"v2 invalid version", session.V2, withField(v2, "version", "1.1")},
	} {
		r, err := parseRequest(c.fields, c.v)
		if err == nil {
			t.Errorf("%s: parsed %s %s", c.name, r.Method, r.RequestURI)
			continue
		}
		if _, ok := err.(errBadRequest); !ok {
			t.Errorf("%s: error %T, want errBadRequest", c.name, err)
		}
		if strings.Contains(err.Error(), "example.com") {
			t.Errorf("%s: error %q contains a header value", c.name, err)
		}
	}
}

func TestParseRequestSPDY2(t *testing.T) {
	v2 := requestBlock(session.V2, request{})
	for _, c := range []struct {
		name                              string
		fields                            []hpackz.Field
		host, requestURI, path, urlScheme string
	}{
		{"path and host", v2, "example.com", "/", "/", ""},
		{"no scheme", withField(v2, "scheme", ""), "example.com", "/", "/", ""},
		{"full url, no host", withField(withField(v2, "host", ""), "url", "http://full.example:81/p?q=1"), "full.example:81", "http://full.example:81/p?q=1", "/p", "http"},
		{"full url wins over host", withField(v2, "url", "https://url.example/p"), "url.example", "https://url.example/p", "/p", "https"},
	} {
		r, err := parseRequest(c.fields, session.V2)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if r.Host != c.host || r.RequestURI != c.requestURI || r.URL.Path != c.path || r.URL.Scheme != c.urlScheme {
			t.Errorf("%s: host %q request URI %q path %q scheme %q", c.name, r.Host, r.RequestURI, r.URL.Path, r.URL.Scheme)
		}
		if len(r.Header) != 0 {
			t.Errorf("%s: header %v, want the request fields kept out", c.name, r.Header)
		}
	}
}

func TestResponseFields(t *testing.T) {
	h := http.Header{
		"Content-Type":                 {"text/html"},
		"Set-Cookie":                   {"a=1", "b=2"},
		"Connection":                   {"close, X-Hop"},
		"X-Hop":                        {"1"},
		"Transfer-Encoding":            {"chunked"},
		"Keep-Alive":                   {"timeout=5"},
		"Proxy-Connection":             {"keep-alive"},
		"Upgrade":                      {"websocket"},
		"Trailer":                      {"X-Sum"},
		http.TrailerPrefix + "X-Later": {"1"},
		"X-Nil":                        nil,
		"X-Empty":                      {""},
		"X-Split":                      {"one\r\ntwo"},
	}
	for _, c := range []struct {
		v    session.Version
		code int
		want []hpackz.Field
	}{
		{session.V3, 200, []hpackz.Field{
			{Name: ":status", Value: "200 OK"}, {Name: ":version", Value: "HTTP/1.1"},
			{Name: "content-type", Value: "text/html"}, {Name: "set-cookie", Value: "a=1\x00b=2"}, {Name: "trailer", Value: "X-Sum"},
			{Name: "x-empty", Value: ""}, {Name: "x-split", Value: "one  two"},
		}},
		{session.V31, 299, []hpackz.Field{
			{Name: ":status", Value: "299"}, {Name: ":version", Value: "HTTP/1.1"},
			{Name: "content-type", Value: "text/html"}, {Name: "set-cookie", Value: "a=1\x00b=2"}, {Name: "trailer", Value: "X-Sum"},
			{Name: "x-empty", Value: ""}, {Name: "x-split", Value: "one  two"},
		}},
		{session.V2, 404, []hpackz.Field{
			{Name: "status", Value: "404 Not Found"}, {Name: "version", Value: "HTTP/1.1"},
			{Name: "content-type", Value: "text/html"}, {Name: "set-cookie", Value: "a=1\x00b=2"}, {Name: "trailer", Value: "X-Sum"},
			{Name: "x-split", Value: "one  two"}, // SPDY/2 has no empty values
		}},
	} {
		got := responseFields(c.code, h, c.v)
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%v %d: fields (-want +got):\n%s", c.v, c.code, diff)
		}
		encodable(t, c.v, got)
		code, _, err := parseStatus(got, c.v)
		if err != nil || code != c.code {
			t.Errorf("%v: parseStatus of responseFields(%d) = %d, %v", c.v, c.code, code, err)
		}
		back := make(http.Header)
		toHeader(back, got, namesFor(c.v))
		if sc := back["Set-Cookie"]; len(sc) != 2 || sc[0] != "a=1" || sc[1] != "b=2" {
			t.Errorf("%v: Set-Cookie back %q", c.v, sc)
		}
	}
}

func TestResponseFieldsReservedV2Names(t *testing.T) {
	// A plain header may not take the name of a SPDY/2 response field.
	h := http.Header{"Status": {"fake"}, "Version": {"fake"}, "Url": {"fake"}, "X-Ok": {"1"}}
	got := responseFields(200, h, session.V2)
	want := []hpackz.Field{{Name: "status", Value: "200 OK"}, {Name: "version", Value: "HTTP/1.1"}, {Name: "x-ok", Value: "1"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}

func TestParseStatus(t *testing.T) {
	for _, c := range []struct {
		v          session.Version
		status     string
		code       int
		statusLine string
	}{
		{session.V3, "200", 200, "200 OK"},
		{session.V3, "200 OK", 200, "200 OK"},
		{session.V31, "404 Nope", 404, "404 Nope"},
		{session.V3, "299", 299, "299"},
		{session.V3, "101 Switching Protocols", 101, "101 Switching Protocols"},
		{session.V2, "204", 204, "204 No Content"},
		{session.V2, "503 Service Unavailable", 503, "503 Service Unavailable"},
	} {
		n := namesFor(c.v)
		fields := []hpackz.Field{{Name: n.status, Value: c.status}, {Name: n.version, Value: "HTTP/1.1"}}
		code, line, err := parseStatus(fields, c.v)
		if err != nil || code != c.code || line != c.statusLine {
			t.Errorf("%v %q: %d %q %v, want %d %q", c.v, c.status, code, line, err, c.code, c.statusLine)
		}
	}
	for _, c := range []struct {
		name   string
		v      session.Version
		fields []hpackz.Field
	}{
		{"no status", session.V3, []hpackz.Field{{Name: ":version", Value: "HTTP/1.1"}}},
		{"no version", session.V3, []hpackz.Field{{Name: ":status", Value: "200"}}},
		{"v2 names in v3", session.V3, []hpackz.Field{{Name: "status", Value: "200"}, {Name: "version", Value: "HTTP/1.1"}}},
		{"v3 names in v2", session.V2, []hpackz.Field{{Name: ":status", Value: "200"}, {Name: ":version", Value: "HTTP/1.1"}}},
		{"empty", session.V3, []hpackz.Field{{Name: ":status", Value: ""}, {Name: ":version", Value: "HTTP/1.1"}}},
		{"letters", session.V3, []hpackz.Field{{Name: ":status", Value: "OK"}, {Name: ":version", Value: "HTTP/1.1"}}},
		{"two digits", session.V3, []hpackz.Field{{Name: ":status", Value: "20"}, {Name: ":version", Value: "HTTP/1.1"}}},
		{"four digits", session.V3, []hpackz.Field{{Name: ":status", Value: "2000"}, {Name: ":version", Value: "HTTP/1.1"}}},
		{"below 100", session.V3, []hpackz.Field{{Name: ":status", Value: "099"}, {Name: ":version", Value: "HTTP/1.1"}}},
		{"signed", session.V3, []hpackz.Field{{Name: ":status", Value: "+20"}, {Name: ":version", Value: "HTTP/1.1"}}},
		{"leading space", session.V3, []hpackz.Field{{Name: ":status", Value: " 200"}, {Name: ":version", Value: "HTTP/1.1"}}},
		{"no space before reason", session.V3, []hpackz.Field{{Name: ":status", Value: "200OK"}, {Name: ":version", Value: "HTTP/1.1"}}},
	} {
		if code, _, err := parseStatus(c.fields, c.v); err == nil {
			t.Errorf("%s: parsed %d", c.name, code)
		}
	}
}

func TestTrailerFields(t *testing.T) {
	h := http.Header{"X-Sum": {"1"}, "X-Multi": {"a", "b"}, "Connection": {"close"}}
	for _, v := range versions {
		got := trailerFields(h, v)
		want := []hpackz.Field{{Name: "x-multi", Value: "a\x00b"}, {Name: "x-sum", Value: "1"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%v: (-want +got):\n%s", v, diff)
		}
		encodable(t, v, got)
	}
}

func TestToHeader(t *testing.T) {
	fields := []hpackz.Field{
		{Name: ":status", Value: "200"}, {Name: "status", Value: "200"}, {Name: "host", Value: "h"},
		{Name: "connection", Value: "x-named"}, {Name: "x-named", Value: "1"}, {Name: "keep-alive", Value: "1"},
		{Name: "x-multi", Value: "a\x00b"}, {Name: "content-type", Value: "text/plain"},
	}
	for _, c := range []struct {
		v    session.Version
		want http.Header
	}{
		{session.V3, http.Header{"Status": {"200"}, "X-Multi": {"a", "b"}, "Content-Type": {"text/plain"}}},
		{session.V2, http.Header{"X-Multi": {"a", "b"}, "Content-Type": {"text/plain"}}},
	} {
		got := make(http.Header)
		toHeader(got, fields, namesFor(c.v))
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%v: (-want +got):\n%s", c.v, diff)
		}
	}
}
