package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRoutePath(t *testing.T) {
	p := &Proxy{Route: RoutePath}
	for _, tc := range []struct {
		url, name, path, raw string
		ok                   bool
	}{
		{"/o/home/a/b", "home", "/a/b", "", true},
		{"/o/home/", "home", "/", "", true},
		{"/o/home", "home", "/", "", true},
		{"/o/home/a%2Fb", "home", "/a/b", "/a%2Fb", true},
		{"/o/Home/x", "", "", "", false},
		{"/o//x", "", "", "", false},
		{"/x/home/a", "", "", "", false},
		{"/", "", "", "", false},
	} {
		r := httptest.NewRequest(http.MethodGet, tc.url, nil)
		name, path, raw, ok := p.route(r)
		if ok != tc.ok || (ok && (name != tc.name || path != tc.path || raw != tc.raw)) {
			t.Errorf("route(%s) = %q %q %q %v, want %q %q %q %v", tc.url, name, path, raw, ok, tc.name, tc.path, tc.raw, tc.ok)
		}
	}
	p.PathPrefix = "/origins/"
	r := httptest.NewRequest(http.MethodGet, "/origins/cabin/v.mp4", nil)
	if name, path, _, ok := p.route(r); !ok || name != "cabin" || path != "/v.mp4" {
		t.Fatalf("custom prefix: %q %q %v", name, path, ok)
	}
}

func TestRouteHost(t *testing.T) {
	for _, tc := range []struct {
		domain, host, name string
		ok                 bool
	}{
		{"example.net", "home.example.net", "home", true},
		{"example.net", "HOME.Example.NET:8080", "home", true},
		{"example.net", "home.example.net.", "home", true},
		{"example.net.", "home.example.net", "home", true},
		{"example.net", "home.example.org", "", false},
		{"example.net", "a.home.example.net", "", false},
		{"example.net", "example.net", "", false},
		{"", "home.anything.test", "home", true},
		{"", "localhost", "", false},
		{"", "bad_name.test", "", false},
	} {
		p := &Proxy{Route: RouteHost, Domain: tc.domain}
		r := httptest.NewRequest(http.MethodGet, "/p?q=1", nil)
		r.Host = tc.host
		name, path, _, ok := p.route(r)
		if ok != tc.ok || (ok && (name != tc.name || path != "/p")) {
			t.Errorf("domain %q host %q: route = %q %q %v, want %q %v", tc.domain, tc.host, name, path, ok, tc.name, tc.ok)
		}
	}
}

func TestForwardedHeaders(t *testing.T) {
	in := httptest.NewRequest(http.MethodGet, "http://home.example.net/x", nil)
	in.RemoteAddr = "[2001:db8::1]:5555"
	in.Header.Set("X-Forwarded-For", "10.0.0.1")
	in.Header.Set("Forwarded", "for=10.0.0.1")

	p := &Proxy{Route: RouteHost}
	out := in.Clone(in.Context())
	p.setForwarded(out, in, "home")
	if got, want := out.Header.Get("Forwarded"), `for="[2001:db8::1]";host=home.example.net;proto=http`; got != want {
		t.Errorf("Forwarded = %q, want %q", got, want)
	}
	if got := out.Header.Get("X-Forwarded-For"); got != "2001:db8::1" {
		t.Errorf("X-Forwarded-For = %q: a client's own value must not survive by default", got)
	}
	if out.Header.Get("X-Forwarded-Host") != "home.example.net" || out.Header.Get("X-Forwarded-Proto") != "http" {
		t.Errorf("X-Forwarded-Host/Proto = %q/%q", out.Header.Get("X-Forwarded-Host"), out.Header.Get("X-Forwarded-Proto"))
	}

	p.TrustForwarded = true
	out = in.Clone(in.Context())
	p.setForwarded(out, in, "home")
	if got := out.Header.Get("X-Forwarded-For"); got != "10.0.0.1, 2001:db8::1" {
		t.Errorf("trusted X-Forwarded-For = %q", got)
	}
	if got := out.Header.Get("Forwarded"); got != `for=10.0.0.1, for="[2001:db8::1]";host=home.example.net;proto=http` {
		t.Errorf("trusted Forwarded = %q", got)
	}

	pp := &Proxy{Route: RoutePath}
	in2 := httptest.NewRequest(http.MethodGet, "/o/home/x", nil)
	out = in2.Clone(in2.Context())
	pp.setForwarded(out, in2, "home")
	if got := out.Header.Get("X-Forwarded-Prefix"); got != "/o/home" {
		t.Errorf("X-Forwarded-Prefix = %q", got)
	}
	if got := quoteForwarded("a b"); got != `"a b"` {
		t.Errorf("quoteForwarded = %q", got)
	}
}

func TestParseRoute(t *testing.T) {
	for _, r := range []Route{RouteHost, RoutePath} {
		got, err := ParseRoute(r.String())
		if err != nil || got != r {
			t.Errorf("ParseRoute(%q) = %v, %v", r.String(), got, err)
		}
	}
	if _, err := ParseRoute("dns"); err == nil {
		t.Error("ParseRoute accepted dns")
	}
}
