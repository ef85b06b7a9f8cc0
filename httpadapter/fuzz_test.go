package httpadapter

import (
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/session"
	"github.com/spdygo/spdy/stream"
)

// FuzzRequestMapping maps arbitrary header fields to an *http.Request as
// the Server does (parseRequest), to an *http.Response as a ClientConn does
// (clientStream.response), and to the request of a push as a ClientConn
// does (pushRequest). It checks that none of them panics and, for fields a
// header block can carry (hpackz.CheckFields), that:
//
//   - a refused request is an errBadRequest, which the Server answers with
//     400 Bad Request, and its message holds none of the header values;
//   - an accepted request has a method that is a token, a request target
//     that begins with "/" or is "*" (or, for CONNECT, a host; in SPDY/2, a
//     full URL with its host), a Host net/http would accept
//     (httpHost), header names and values net/http would
//     accept (httpToken and ValidHeaderFieldValue) in
//     canonical form, no hop-by-hop headers, a content length that matches
//     its header, and a protocol version that matches Proto;
//   - an accepted request encoded again as a client sends it
//     (requestFields) gives a block that can be sent and maps back to the
//     same method, host, target, headers and content length;
//   - an accepted response has a three-digit status code, a Status that
//     starts with it, valid headers without hop-by-hop ones, and encoded
//     again as a server sends it (responseFields) maps back to the same
//     status code and headers;
//   - an accepted push has a method that is a token, a scheme, and a host
//     net/http would accept that is also its Host.
//
// The input's first byte chooses the version (%3: SPDY/3.1, SPDY/3,
// SPDY/2) and, in bits 2-3, the method of the request a response answers
// (GET, HEAD, POST, CONNECT). The rest is a list of fields, each a name
// then a value. A name is a byte n: with bit 7 set, the name of entry n%64
// of fuzzNames (SPDY's own names and HTTP's special ones), otherwise the
// next n%64 bytes; a value is a byte m: with bit 7 set, entry m%128 of
// fuzzValues, otherwise the next m%128 bytes. An input that ends in a
// field ends the list.
//
// The seed corpus in testdata/fuzz/FuzzRequestMapping holds requests,
// responses and pushes of each version, valid and not; it runs in every
// `go test`.
func FuzzRequestMapping(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		v := []session.Version{session.V31, session.V3, session.V2}[in[0]%3]
		method := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodConnect}[in[0]>>2&3]
		fields := fuzzFields(in[1:])
		wire := hpackz.CheckFields(hversion(v), fields) == nil
		checkRequestMapping(t, v, fields, wire)
		checkResponseMapping(t, v, fields, method, wire)
		checkPushMapping(t, v, fields, wire)
	})
}

// fuzzNames are the names a fuzz input can pick with one byte.
var fuzzNames = []string{
	":method", ":path", ":host", ":scheme", ":version", ":status",
	"method", "url", "version", "host", "scheme", "status",
	"content-length", "content-type", "content-encoding", "connection", "keep-alive",
	"proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "http2-settings",
	"cookie", "set-cookie", "accept", "accept-encoding", "x-a", "x-b", "location",
	"trailer:x", ":authority", "Host", "X-Upper", "x y", "x\x00y", "", ":",
	"www-authenticate", "user-agent", "x_under", "x(y)", "x,y", "x/y", "x{y}", "x\"y",
}

// fuzzValues are the values a fuzz input can pick with one byte.
var fuzzValues = []string{
	"GET", "HEAD", "POST", "PUT", "CONNECT", "OPTIONS", "G T", "GET\r\n", "", "\x00",
	"/", "*", "/a?b=c", "/a#f", "//x/y", "/%zz", "/a b", "http://h.example/p", "https://h.example/p?q",
	"h.example:443", "https", "http", "ftp", "HTTP/1.1", "HTTP/1.0", "HTTP/2", "HTTP/1", "http/1.1",
	"example.com", "h.example:80", "[::1]:443", "a b", "a\r\nb", "a\nb", "a\x01b", "a\tb", "\x7f",
	"200", "200 OK", "204", "304", "100", "101", "099", "1000", "+20", "20", "abc", "404 Not Found\r\nX: y",
	"0", "10", "007", "-1", "18446744073709551616", " 10 ", "1\x002", "1\x001", "a\x00b", "x-a, x-b",
	"keep-alive", "close", "x-a", "gzip", "chunked", "trailers", "\u00e9", "\xff",
}

// fuzzFields decodes the field list of a fuzz input.
func fuzzFields(in []byte) []hpackz.Field {
	var fields []hpackz.Field
	next := func(table []string, mod int) (string, bool) {
		if len(in) == 0 {
			return "", false
		}
		n := in[0]
		in = in[1:]
		if n&0x80 != 0 {
			return table[int(n&0x7f)%len(table)], true
		}
		k := int(n) % mod
		if len(in) < k {
			return "", false
		}
		s := string(in[:k])
		in = in[k:]
		return s, true
	}
	for {
		name, ok := next(fuzzNames, 64)
		if !ok {
			return fields
		}
		value, ok := next(fuzzValues, 128)
		if !ok {
			return fields
		}
		fields = append(fields, hpackz.Field{Name: name, Value: value})
	}
}

// The rules of net/http (its httpguts package, which this module cannot
// import without a dependency of x/net it does not take) for what it
// accepts in a header: a name is an RFC 9110 token, a value has no control
// byte but the tab, a host has only the bytes of an RFC 3986 host and
// port.
const (
	tokenBytes = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	hostBytes  = "!$%&'()*+,-.:;=[]_~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

func httpToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(tokenBytes, s[i]) < 0 {
			return false
		}
	}
	return true
}

func httpValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func httpHost(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(hostBytes, s[i]) < 0 {
			return false
		}
	}
	return true
}

// fuzzHopByHop are the headers a mapped request or response may not hold.
var fuzzHopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "Te", "Host", "Http2-Settings"}

// checkHeader checks that h holds only what net/http would accept, in
// canonical form, without hop-by-hop headers.
func checkHeader(t *testing.T, what string, h http.Header) {
	t.Helper()
	for k, vv := range h {
		if !httpToken(k) || textproto.CanonicalMIMEHeaderKey(k) != k {
			t.Errorf("%s header name %q is not a canonical token", what, k)
		}
		for _, x := range vv {
			if !httpValue(x) {
				t.Errorf("%s header %s: value %q has bytes net/http refuses", what, k, x)
			}
		}
	}
	for _, k := range fuzzHopByHop {
		if _, ok := h[k]; ok {
			t.Errorf("%s holds the hop-by-hop header %s", what, k)
		}
	}
}

func checkRequestMapping(t *testing.T, v session.Version, fields []hpackz.Field, wire bool) {
	req, err := parseRequest(fields, v)
	if !wire {
		return // the session never hands such fields to the Server
	}
	if err != nil {
		var bad errBadRequest
		if !errors.As(err, &bad) {
			t.Fatalf("refused with %T %v, not a bad request (400)", err, err)
		}
		for _, f := range fields {
			// Values made of the letters of the messages could be in
			// them by chance.
			plain := strings.Trim(f.Value, "abcdefghijklmnopqrstuvwxyz :,-") == ""
			if len(f.Value) >= 4 && !plain && strings.Contains(err.Error(), f.Value) {
				t.Errorf("error %q holds the value of %s", err, f.Name)
			}
		}
		return
	}
	if !validToken(req.Method) || !httpToken(req.Method) {
		t.Errorf("accepted method %q", req.Method)
	}
	if req.Host == "" || !httpHost(req.Host) {
		t.Errorf("accepted host %q", req.Host)
	}
	if req.URL == nil {
		t.Fatalf("request without a URL")
	}
	absolute := v == session.V2 && req.URL.Scheme != ""
	switch {
	case req.Method == http.MethodConnect:
		if !httpHost(req.URL.Host) || req.URL.Host == "" {
			t.Errorf("CONNECT to %q", req.URL.Host)
		}
	case absolute:
		if req.URL.Host != req.Host || req.URL.Host == "" {
			t.Errorf("full URL %q of host %q, request host %q", req.RequestURI, req.URL.Host, req.Host)
		}
	default:
		if !strings.HasPrefix(req.RequestURI, "/") && req.RequestURI != "*" {
			t.Errorf("accepted target %q", req.RequestURI)
		}
		if req.URL.Host != "" || req.URL.Scheme != "" {
			t.Errorf("target %q has a host %q or scheme %q", req.RequestURI, req.URL.Host, req.URL.Scheme)
		}
	}
	if major, minor, ok := http.ParseHTTPVersion(req.Proto); !ok || major != req.ProtoMajor || minor != req.ProtoMinor {
		t.Errorf("Proto %q, version %d.%d", req.Proto, req.ProtoMajor, req.ProtoMinor)
	}
	checkHeader(t, "request", req.Header)
	for k := range req.Trailer {
		if !httpToken(k) {
			t.Errorf("trailer %q announced", k)
		}
	}
	switch cl := req.Header["Content-Length"]; {
	case len(cl) == 0 && req.ContentLength != -1:
		t.Errorf("content length %d without a header", req.ContentLength)
	case len(cl) > 1:
		t.Errorf("%d content-length values kept", len(cl))
	case len(cl) == 1 && req.ContentLength < 0:
		t.Errorf("content-length %q, length %d", cl[0], req.ContentLength)
	}

	// The request as a client would send it maps back to the same.
	again, err := requestFields(req, v)
	if err != nil {
		t.Fatalf("accepted request cannot be sent again: %v", err)
	}
	if err := hpackz.CheckFields(hversion(v), again); err != nil {
		t.Fatalf("accepted request sent again gives fields %q that cannot be sent: %v", again, err)
	}
	req2, err := parseRequest(again, v)
	if err != nil {
		t.Fatalf("request sent again as %q is refused: %v", again, err)
	}
	if req2.Method != req.Method || req2.Host != req.Host {
		t.Errorf("round trip: %s %s, then %s %s", req.Method, req.Host, req2.Method, req2.Host)
	}
	if req.Method != http.MethodConnect && req2.URL.RequestURI() != req.URL.RequestURI() {
		t.Errorf("round trip: target %q, then %q", req.URL.RequestURI(), req2.URL.RequestURI())
	}
	if req2.ContentLength != req.ContentLength && !(req.ContentLength == 0 && req2.ContentLength == -1) {
		t.Errorf("round trip: content length %d, then %d", req.ContentLength, req2.ContentLength)
	}
	h1, h2 := req.Header.Clone(), req2.Header.Clone()
	h1.Del("Content-Length")
	h2.Del("Content-Length")
	if diff := cmp.Diff(h1, h2); diff != "" {
		t.Errorf("round trip: headers (-first +again):\n%s", diff)
	}
}

// fuzzSender is a stream.Sender for a stream without a session.
type fuzzSender struct{}

func (fuzzSender) Notify(*stream.Handle) {}

// fuzzClientConn returns a ClientConn without a session, enough for the
// mappings, and a stream of it.
func fuzzClientConn(v session.Version) (*ClientConn, *stream.Stream) {
	cc := &ClientConn{version: v, names: namesFor(v), parents: make(map[framing.StreamID]*http.Request)}
	st, _ := stream.New(stream.Config{ID: 1, Local: true, Sender: fuzzSender{}, Version: hversion(v)})
	return cc, st
}

func checkResponseMapping(t *testing.T, v session.Version, fields []hpackz.Field, method string, wire bool) {
	cc, st := fuzzClientConn(v)
	cc.active = 1
	cs := &clientStream{cc: cc, st: st}
	resp, err := cs.response(fields, method, nil)
	if err != nil || !wire {
		if resp != nil {
			resp.Body.Close()
		}
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode < 100 || resp.StatusCode > 999 || !strings.HasPrefix(resp.Status, itoa3(resp.StatusCode)) {
		t.Errorf("status code %d, status %q", resp.StatusCode, resp.Status)
	}
	if !httpValue(resp.Status) {
		t.Errorf("status %q has bytes net/http refuses", resp.Status)
	}
	if major, minor, ok := http.ParseHTTPVersion(resp.Proto); !ok || major != resp.ProtoMajor || minor != resp.ProtoMinor {
		t.Errorf("Proto %q, version %d.%d", resp.Proto, resp.ProtoMajor, resp.ProtoMinor)
	}
	checkHeader(t, "response", resp.Header)
	for k := range resp.Trailer {
		if !httpToken(k) {
			t.Errorf("trailer %q announced", k)
		}
	}
	if resp.ContentLength < -1 {
		t.Errorf("content length %d", resp.ContentLength)
	}
	if resp.Body == nil {
		t.Fatalf("response without a body")
	}
	if resp.Body == http.NoBody {
		if _, err := io.ReadAll(resp.Body); err != nil {
			t.Errorf("empty body: %v", err)
		}
	}

	// The response as a server would send it maps back to the same.
	again := responseFields(resp.StatusCode, resp.Header, v)
	if err := hpackz.CheckFields(hversion(v), again); err != nil {
		t.Fatalf("accepted response sent again gives fields %q that cannot be sent: %v", again, err)
	}
	cc2, st2 := fuzzClientConn(v)
	cc2.active = 1
	resp2, err := (&clientStream{cc: cc2, st: st2}).response(again, method, nil)
	if err != nil {
		t.Fatalf("response sent again as %q is refused: %v", again, err)
	}
	defer resp2.Body.Close()
	if resp2.StatusCode != resp.StatusCode {
		t.Errorf("round trip: status %d, then %d", resp.StatusCode, resp2.StatusCode)
	}
	if diff := cmp.Diff(resp.Header, resp2.Header); diff != "" {
		t.Errorf("round trip: headers (-first +again):\n%s", diff)
	}
}

// itoa3 formats a code of three digits.
func itoa3(code int) string {
	return string([]byte{byte('0' + code/100%10), byte('0' + code/10%10), byte('0' + code%10)})
}

func checkPushMapping(t *testing.T, v session.Version, fields []hpackz.Field, wire bool) {
	cc, _ := fuzzClientConn(v)
	req, err := cc.pushRequest(fields, nil)
	if err != nil || !wire {
		return
	}
	if !validToken(req.Method) {
		t.Errorf("push with method %q", req.Method)
	}
	if req.URL.Scheme == "" || req.URL.Host == "" || !httpHost(req.URL.Host) || req.Host != req.URL.Host {
		t.Errorf("push of %q: scheme %q, host %q, Host %q", req.URL, req.URL.Scheme, req.URL.Host, req.Host)
	}
	checkHeader(t, "push", req.Header)
}
