package proxy

import (
	"io"
	"net/http"
	"testing"
)

func TestProxyRoutesByPath(t *testing.T) {
	e := newEnv(t, &Proxy{Route: RoutePath})
	e.connect("home", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Path", r.URL.Path)
		io.WriteString(w, "hello from home, fwd="+r.Header.Get("X-Forwarded-For"))
	}))
	resp, body := do(t, e.httpClient(), newRequest(t, "GET", e.FrontURL+"/o/home/a/b.txt", nil))
	if resp.StatusCode != 200 || resp.Header.Get("X-Path") != "/a/b.txt" || string(body) != "hello from home, fwd=127.0.0.1" {
		t.Fatalf("got %d %q %q", resp.StatusCode, resp.Header.Get("X-Path"), body)
	}
}
