package proxy

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spdygo/spdy/httpadapter"
)

// Request headers of real media players, as they send them.
const (
	vlcAgent    = "VLC/3.0.18 LibVLC/3.0.18"
	safariAgent = "AppleCoreMedia/1.0.0.22G90 (Macintosh; U; Intel Mac OS X 13_5_2; en_us)"
)

// direct serves req with h in memory, without the proxy: what the origin
// answers by itself.
func direct(h http.Handler, method, path string, header ...string) *http.Response {
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// want206 checks a single-range response: status, Content-Range, length
// and the bytes of file from first to last.
func want206(t *testing.T, resp *http.Response, body, file []byte, first, last int) {
	t.Helper()
	wantCR := fmt.Sprintf("bytes %d-%d/%d", first, last, len(file))
	if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != wantCR {
		t.Fatalf("got %s, Content-Range %q; want 206, %q", resp.Status, resp.Header.Get("Content-Range"), wantCR)
	}
	if resp.ContentLength != int64(last-first+1) {
		t.Errorf("Content-Length %d, want %d", resp.ContentLength, last-first+1)
	}
	if !bytes.Equal(body, file[first:last+1]) {
		t.Fatalf("body of %d bytes differs from the file's bytes %d-%d", len(body), first, last)
	}
}

// sameHeaders checks that resp has the origin's own (want's) non-empty
// value of each of the headers.
func sameHeaders(t *testing.T, resp, want *http.Response, headers ...string) {
	t.Helper()
	for _, h := range headers {
		if got, want := resp.Header.Get(h), want.Header.Get(h); got != want || got == "" {
			t.Errorf("%s %q, the origin says %q", h, got, want)
		}
	}
}

func TestE2EFileServer(t *testing.T) {
	s := newSite(t)
	origin := siteHandler(s)
	e := newEnv(t, &Proxy{Route: RoutePath})
	e.connect("home", origin)
	c := e.httpClient()
	base := e.FrontURL + "/o/home/"
	movie := s.files["media/movie.mp4"]
	song := s.files["media/song.mp3"]
	lastModified := s.modTime.Format(http.TimeFormat)

	t.Run("Page", func(t *testing.T) {
		resp, body := do(t, c, newRequest(t, "GET", base, nil))
		if resp.StatusCode != 200 || !bytes.Equal(body, s.files["index.html"]) {
			t.Fatalf("got %s %q", resp.Status, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
	})

	t.Run("Listing", func(t *testing.T) {
		resp, body := do(t, c, newRequest(t, "GET", base+"media/", nil))
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("got %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
		}
		for _, name := range []string{"movie.mp4", "poster.png", "song.mp3"} {
			if link := fmt.Sprintf("<a href=%q>%s</a>", name, name); !bytes.Contains(body, []byte(link)) {
				t.Errorf("listing lacks %s:\n%s", link, body)
			}
		}
		// The directory without its slash redirects relative to the
		// path the origin saw, which the client follows through the
		// proxy's prefix.
		resp, body = do(t, c, newRequest(t, "GET", base+"media", nil))
		if resp.StatusCode != 200 || !bytes.Contains(body, []byte("movie.mp4")) {
			t.Fatalf("after the redirect: %s %q", resp.Status, body)
		}
	})

	t.Run("Image", func(t *testing.T) {
		resp, body := do(t, c, newRequest(t, "GET", base+"media/poster.png", nil))
		png := s.files["media/poster.png"]
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("got %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
		}
		if resp.ContentLength != int64(len(png)) || !bytes.Equal(body, png) {
			t.Fatalf("got %d bytes (Content-Length %d), want the %d of the image", len(body), resp.ContentLength, len(png))
		}
		if got := resp.Header.Get("Last-Modified"); got != lastModified {
			t.Errorf("Last-Modified %q, want %q", got, lastModified)
		}
	})

	t.Run("MediaWhole", func(t *testing.T) {
		resp, body := do(t, c, newRequest(t, "GET", base+"media/movie.mp4", nil))
		want := direct(origin, "GET", "/media/movie.mp4")
		if resp.StatusCode != 200 || resp.ContentLength != int64(len(movie)) || !bytes.Equal(body, movie) {
			t.Fatalf("got %s, %d bytes (Content-Length %d), want 200 and the %d of the file", resp.Status, len(body), resp.ContentLength, len(movie))
		}
		sameHeaders(t, resp, want, "Content-Type", "Accept-Ranges", "Last-Modified")
	})

	t.Run("IfModifiedSince", func(t *testing.T) {
		resp, body := do(t, c, newRequest(t, "GET", base+"media/movie.mp4", nil, "If-Modified-Since", lastModified))
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Fatalf("got %s with %d body bytes, want 304 without a body", resp.Status, len(body))
		}
		earlier := s.modTime.Add(-time.Hour).Format(http.TimeFormat)
		resp, body = do(t, c, newRequest(t, "GET", base+"media/poster.png", nil, "If-Modified-Since", earlier))
		if resp.StatusCode != 200 || !bytes.Equal(body, s.files["media/poster.png"]) {
			t.Fatalf("modified since an hour before: got %s with %d bytes", resp.Status, len(body))
		}
	})

	t.Run("VLC", func(t *testing.T) {
		vlc := []string{"User-Agent", vlcAgent, "Icy-MetaData", "1", "Accept", "*/*", "Accept-Language", "en_US"}
		resp, body := do(t, c, newRequest(t, "GET", base+"media/movie.mp4", nil, append(vlc, "Range", "bytes=0-")...))
		want206(t, resp, body, movie, 0, len(movie)-1)
		if resp.Header.Get("Accept-Ranges") != "bytes" {
			t.Errorf("Accept-Ranges %q", resp.Header.Get("Accept-Ranges"))
		}
		// A seek: VLC asks for the rest of the file from the new position.
		seek := len(movie)/2 + 3
		resp, body = do(t, c, newRequest(t, "GET", base+"media/movie.mp4", nil, append(vlc, "Range", fmt.Sprintf("bytes=%d-", seek))...))
		want206(t, resp, body, movie, seek, len(movie)-1)
	})

	t.Run("Safari", func(t *testing.T) {
		session := "E5E6B4C0-3D62-4F3B-9C44-8B5C2A6D2F10"
		safari := []string{"User-Agent", safariAgent, "X-Playback-Session-Id", session, "Accept", "*/*", "Accept-Encoding", "identity"}
		get := func(first, last int) {
			t.Helper()
			hdr := append(append([]string(nil), safari...), "Range", fmt.Sprintf("bytes=%d-%d", first, last))
			resp, body := do(t, c, newRequest(t, "GET", base+"media/movie.mp4", nil, hdr...))
			want206(t, resp, body, movie, first, last)
		}
		// The probe, then the spans AVFoundation asks for as it plays and
		// seeks (the moov atom at the end first, then forward).
		get(0, 1)
		get(0, len(movie)-1)
		get(len(movie)-65536, len(movie)-1)
		get(65536, 1<<20-1)
		get(1<<20, 2<<20+4095)
		get(len(movie)-1, len(movie)-1)
	})

	t.Run("MultiRange", func(t *testing.T) {
		spans := [][2]int{{0, 99}, {1000, 1999}, {len(movie) - 50, len(movie) - 1}}
		var parts []string
		for _, sp := range spans {
			parts = append(parts, fmt.Sprintf("%d-%d", sp[0], sp[1]))
		}
		resp, body := do(t, c, newRequest(t, "GET", base+"media/movie.mp4", nil, "Range", "bytes="+strings.Join(parts, ",")))
		mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if resp.StatusCode != http.StatusPartialContent || err != nil || mt != "multipart/byteranges" {
			t.Fatalf("got %s, Content-Type %q (%v)", resp.Status, resp.Header.Get("Content-Type"), err)
		}
		if resp.ContentLength != int64(len(body)) {
			t.Errorf("Content-Length %d, body %d bytes", resp.ContentLength, len(body))
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for i, sp := range spans {
			part, err := mr.NextPart()
			if err != nil {
				t.Fatalf("part %d: %v", i, err)
			}
			pb, err := io.ReadAll(part)
			if err != nil {
				t.Fatalf("part %d: %v", i, err)
			}
			wantCR := fmt.Sprintf("bytes %d-%d/%d", sp[0], sp[1], len(movie))
			if part.Header.Get("Content-Range") != wantCR || !bytes.Equal(pb, movie[sp[0]:sp[1]+1]) {
				t.Fatalf("part %d: Content-Range %q (want %q), %d bytes", i, part.Header.Get("Content-Range"), wantCR, len(pb))
			}
		}
		if _, err := mr.NextPart(); err != io.EOF {
			t.Fatalf("after the last part: %v, want io.EOF", err)
		}
	})

	t.Run("Head", func(t *testing.T) {
		resp, body := do(t, c, newRequest(t, "HEAD", base+"media/song.mp3", nil))
		want := direct(origin, "HEAD", "/media/song.mp3")
		if resp.StatusCode != 200 || len(body) != 0 {
			t.Fatalf("got %s with %d body bytes", resp.Status, len(body))
		}
		if resp.ContentLength != int64(len(song)) || resp.Header.Get("Content-Length") != strconv.Itoa(len(song)) {
			t.Errorf("Content-Length %d (header %q), want %d", resp.ContentLength, resp.Header.Get("Content-Length"), len(song))
		}
		sameHeaders(t, resp, want, "Content-Type", "Accept-Ranges", "Last-Modified")
		// And HEAD of a range.
		resp, body = do(t, c, newRequest(t, "HEAD", base+"media/song.mp3", nil, "Range", "bytes=10-19"))
		if resp.StatusCode != http.StatusPartialContent || len(body) != 0 || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 10-19/%d", len(song)) {
			t.Fatalf("HEAD with Range: got %s, Content-Range %q, %d body bytes", resp.Status, resp.Header.Get("Content-Range"), len(body))
		}
	})

	t.Run("Upload", func(t *testing.T) {
		// Larger than the 64 KiB stream window and the 1 MiB session
		// window, so that it needs many WINDOW_UPDATEs from the origin.
		up := pseudoRandom(3, 1<<20+300_001)
		req := newRequest(t, "POST", base+"upload", bytes.NewReader(up), "Content-Type", "application/octet-stream")
		resp, body := do(t, c, req)
		want := fmt.Sprintf("%s %d", sha256Hex(up), len(up))
		if resp.StatusCode != 200 || string(body) != want {
			t.Fatalf("got %s %q, want %q", resp.Status, body, want)
		}
		// A chunked upload (no Content-Length) too.
		req = newRequest(t, "POST", base+"upload", io.MultiReader(bytes.NewReader(up[:1<<19]), bytes.NewReader(up[1<<19:])))
		req.ContentLength = -1
		resp, body = do(t, c, req)
		if resp.StatusCode != 200 || string(body) != want {
			t.Fatalf("chunked: got %s %q, want %q", resp.Status, body, want)
		}
	})

	t.Run("SlowClient", func(t *testing.T) {
		resp, err := c.Do(newRequest(t, "GET", base+"media/song.mp3", nil))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got bytes.Buffer
		buf := make([]byte, 16<<10)
		// Bounded: the file is 2 MiB, so about 130 pauses.
		for i := 0; i < len(song)/len(buf)+2; i++ {
			n, err := io.ReadFull(resp.Body, buf)
			got.Write(buf[:n])
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				break
			}
			if err != nil {
				t.Fatalf("after %d bytes: %v", got.Len(), err)
			}
			time.Sleep(time.Millisecond)
		}
		if n, err := resp.Body.Read(buf); n != 0 || err != io.EOF {
			t.Fatalf("after %d bytes: Read = %d, %v; want the end", got.Len(), n, err)
		}
		if !bytes.Equal(got.Bytes(), song) {
			t.Fatalf("got %d bytes, want the %d of the file intact", got.Len(), len(song))
		}
	})

	t.Run("Curl", func(t *testing.T) {
		curl := lookCurl(t)
		dir := t.TempDir()
		out := filepath.Join(dir, "movie.mp4")
		curl.run(t, "-o", out, base+"media/movie.mp4")
		if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, movie) {
			t.Fatalf("curl -o: %d bytes (%v), want the %d of the file", len(b), err, len(movie))
		}
		if b := curl.run(t, "-r", "100-199", "-A", vlcAgent, "-H", "Icy-MetaData: 1", base+"media/movie.mp4"); !bytes.Equal(b, movie[100:200]) {
			t.Fatalf("curl -r 100-199: %d bytes", len(b))
		}
		head := string(curl.run(t, "-I", base+"media/song.mp3"))
		if !strings.HasPrefix(head, "HTTP/1.1 200") || !strings.Contains(strings.ToLower(head), "content-length: "+strconv.Itoa(len(song))+"\r\n") {
			t.Fatalf("curl -I:\n%s", head)
		}
		code := string(curl.run(t, "-o", "/dev/null", "-w", "%{http_code}", "-H", "If-Modified-Since: "+lastModified, base+"media/song.mp3"))
		if code != "304" {
			t.Fatalf("curl with If-Modified-Since: status %s, want 304", code)
		}
		up := filepath.Join(dir, "up.bin")
		upData := pseudoRandom(4, 1<<20+4321)
		if err := os.WriteFile(up, upData, 0o644); err != nil {
			t.Fatal(err)
		}
		if got, want := string(curl.run(t, "--data-binary", "@"+up, base+"upload")), fmt.Sprintf("%s %d", sha256Hex(upData), len(upData)); got != want {
			t.Fatalf("curl upload: %q, want %q", got, want)
		}
	})
}

// curlCmd runs curl, found in PATH.
type curlCmd struct {
	path string
	args []string // given before every run's own
}

// lookCurl skips the test when curl is not installed.
func lookCurl(t *testing.T) *curlCmd {
	t.Helper()
	path, err := exec.LookPath("curl")
	if err != nil {
		t.Skipf("curl is not installed (exec.LookPath: %v); the net/http checks ran without it", err)
	}
	return &curlCmd{path: path, args: []string{"-sS", "--fail", "--noproxy", "*", "--max-time", "60"}}
}

// run runs curl with args and returns its output, failing the test when it
// fails.
func (c *curlCmd) run(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(waitCtx(t), c.path, append(append([]string(nil), c.args...), args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl %s: %v: %s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// writeCA writes the certificate of e's servers as PEM to a temporary file,
// for curl's --cacert.
func (e *env) writeCA(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.cert.Certificate[0]})
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestE2EFrontProtocols fetches through a TLS front end with HTTP/2, SPDY
// and HTTP/1.1 clients, each negotiated by ALPN.
func TestE2EFrontProtocols(t *testing.T) {
	s := newSite(t)
	e := newEnv(t, &Proxy{Route: RoutePath})
	e.connect("home", siteHandler(s))
	front := e.startTLSFront()
	base := front + "/o/home/"
	movie := s.files["media/movie.mp4"]

	h2 := e.h2Client().Transport
	h1 := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.pool, NextProtos: []string{"http/1.1"}}}
	spdy := &httpadapter.Transport{TLSClientConfig: &tls.Config{RootCAs: e.pool}, DisableCompression: true}
	t.Cleanup(h1.CloseIdleConnections)
	t.Cleanup(spdy.CloseIdleConnections)

	for _, tc := range []struct {
		name       string
		rt         http.RoundTripper
		proto, alp string
	}{
		{"HTTP2", h2, "HTTP/2.0", "h2"},
		{"SPDY", spdy, "HTTP/1.1", "spdy/3.1"},
		{"HTTP1", h1, "HTTP/1.1", "http/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &http.Client{Transport: tc.rt}
			check := func(resp *http.Response) {
				t.Helper()
				if resp.Proto != tc.proto || resp.TLS == nil || resp.TLS.NegotiatedProtocol != tc.alp {
					var alp string
					if resp.TLS != nil {
						alp = resp.TLS.NegotiatedProtocol
					}
					t.Fatalf("Proto %q, ALPN %q; want %q, %q", resp.Proto, alp, tc.proto, tc.alp)
				}
			}
			resp, body := do(t, c, newRequest(t, "GET", base+"media/movie.mp4", nil))
			check(resp)
			if resp.StatusCode != 200 || !bytes.Equal(body, movie) {
				t.Fatalf("got %s with %d bytes, want the %d of the file", resp.Status, len(body), len(movie))
			}
			resp, body = do(t, c, newRequest(t, "GET", base+"media/movie.mp4", nil, "Range", "bytes=1000-200000", "User-Agent", safariAgent))
			check(resp)
			want206(t, resp, body, movie, 1000, 200000)
			up := pseudoRandom(5, 1<<20+99)
			resp, body = do(t, c, newRequest(t, "POST", base+"upload", bytes.NewReader(up)))
			check(resp)
			if want := fmt.Sprintf("%s %d", sha256Hex(up), len(up)); string(body) != want {
				t.Fatalf("upload: got %s %q, want %q", resp.Status, body, want)
			}
			resp, body = do(t, c, newRequest(t, "GET", base+"headers", nil))
			check(resp)
			if !bytes.Contains(body, []byte("X-Forwarded-Proto: https\r\n")) || !bytes.Contains(body, []byte("proto=https")) {
				t.Fatalf("the origin saw no https forwarding:\n%s", body)
			}
		})
	}

	t.Run("CurlHTTP2", func(t *testing.T) {
		curl := lookCurl(t)
		ca := e.writeCA(t)
		out := filepath.Join(t.TempDir(), "movie.mp4")
		ver := string(curl.run(t, "--http2", "--cacert", ca, "-w", "%{http_version}", "-o", out, base+"media/movie.mp4"))
		if ver != "2" {
			t.Fatalf("curl --http2: HTTP version %q, want 2", ver)
		}
		if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, movie) {
			t.Fatalf("curl --http2: %d bytes (%v), want the %d of the file", len(b), err, len(movie))
		}
		if b := curl.run(t, "--http2", "--cacert", ca, "-r", "5-1004", base+"media/movie.mp4"); !bytes.Equal(b, movie[5:1005]) {
			t.Fatalf("curl --http2 -r: %d bytes", len(b))
		}
	})
}

// TestE2EHostRouting routes by host name under a domain.
func TestE2EHostRouting(t *testing.T) {
	e := newEnv(t, &Proxy{Route: RouteHost, Domain: "example.test"})
	e.connect("home", http.HandlerFunc(echoHeaders))
	c := e.httpClient()
	for _, tc := range []struct {
		host string
		code int
	}{
		{"home.example.test", 200},
		{"HOME.Example.Test:8443", 200},
		{"home.example.test.", 200},
		{"other.example.test", 404},
		{"home.elsewhere.test", 404},
		{"example.test", 404},
		{"home.example.test.evil.test", 404},
		{"x.home.example.test", 404},
		{"127.0.0.1", 404},
	} {
		req := newRequest(t, "GET", e.FrontURL+"/a/b%2Fc?q=1", nil)
		req.Host = tc.host
		resp, body := do(t, c, req)
		if resp.StatusCode != tc.code {
			t.Errorf("Host %q: got %s %q, want %d", tc.host, resp.Status, body, tc.code)
			continue
		}
		if tc.code == 200 {
			if want := "Host: " + tc.host + "\nPath: /a/b/c\nURI: /a/b%2Fc?q=1\n"; !strings.HasPrefix(string(body), want) {
				t.Errorf("Host %q: the origin saw\n%s\nwant it to start with\n%s", tc.host, body, want)
			}
		}
	}
}

// TestE2EPathRouting strips the prefix and the name, keeping the escaping
// and the query, and tells the origin the prefix.
func TestE2EPathRouting(t *testing.T) {
	e := newEnv(t, &Proxy{Route: RoutePath})
	e.connect("home", http.HandlerFunc(echoHeaders))
	c := e.httpClient()
	for _, tc := range []struct{ path, want string }{
		{"/o/home/a/b%2Fc?q=1&r=%20", "Path: /a/b/c\nURI: /a/b%2Fc?q=1&r=%20\n"},
		{"/o/home/", "Path: /\nURI: /\n"},
		{"/o/home", "Path: /\nURI: /\n"},
		{"/o/home?x=y", "Path: /\nURI: /?x=y\n"},
		{"/o/home/caf%C3%A9/", "Path: /caf\u00e9/\nURI: /caf%C3%A9/\n"},
	} {
		resp, body := do(t, c, newRequest(t, "GET", e.FrontURL+tc.path, nil))
		if resp.StatusCode != 200 || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: got %s, the origin saw\n%s\nwant it to contain\n%s", tc.path, resp.Status, body, tc.want)
			continue
		}
		if !strings.Contains(string(body), "X-Forwarded-Prefix: /o/home\r\n") {
			t.Errorf("%s: no X-Forwarded-Prefix: /o/home in\n%s", tc.path, body)
		}
	}
}

// TestE2EForwardedHeaders checks what the origin sees of the client.
func TestE2EForwardedHeaders(t *testing.T) {
	for _, trust := range []bool{false, true} {
		t.Run(fmt.Sprintf("TrustForwarded=%v", trust), func(t *testing.T) {
			e := newEnv(t, &Proxy{Route: RouteHost, Domain: "example.test", TrustForwarded: trust})
			seen := make(chan http.Header, 1)
			e.connect("home", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen <- r.Header.Clone()
			}))
			c := e.httpClient()
			req := newRequest(t, "GET", e.FrontURL+"/", nil,
				"X-Forwarded-For", "203.0.113.7",
				"X-Forwarded-Host", "cdn.elsewhere.test",
				"X-Forwarded-Proto", "https",
				"Forwarded", "for=203.0.113.7;proto=https",
				"X-Real-Ip", "203.0.113.7")
			req.Host = "home.example.test"
			resp, _ := do(t, c, req)
			if resp.StatusCode != 200 {
				t.Fatalf("got %s", resp.Status)
			}
			h := <-seen
			want := map[string]string{
				"X-Forwarded-For":   "127.0.0.1",
				"X-Forwarded-Host":  "home.example.test",
				"X-Forwarded-Proto": "http",
				"Forwarded":         "for=127.0.0.1;host=home.example.test;proto=http",
				"X-Real-Ip":         "",
			}
			if trust {
				want = map[string]string{
					"X-Forwarded-For":   "203.0.113.7, 127.0.0.1",
					"X-Forwarded-Host":  "cdn.elsewhere.test",
					"X-Forwarded-Proto": "https",
					"Forwarded":         "for=203.0.113.7;proto=https, for=127.0.0.1;host=home.example.test;proto=http",
					"X-Real-Ip":         "203.0.113.7",
				}
			}
			for name, v := range want {
				if got := strings.Join(h.Values(name), ", "); got != v {
					t.Errorf("%s: the origin saw %q, want %q", name, got, v)
				}
			}
		})
	}
}

// TestE2EMethodsAndResponseTrailers sends every method with a body and
// gets the origin's response trailers, over HTTP/1.1 and HTTP/2.
func TestE2EMethodsAndResponseTrailers(t *testing.T) {
	e := newEnv(t, &Proxy{Route: RoutePath})
	e.connect("home", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Trailer", "X-Body-Sha256")
		w.Header().Set("X-Method", r.Method)
		w.Write(b)
		w.(http.Flusher).Flush()
		w.Header().Set("X-Body-Sha256", sha256Hex(b))
	}))
	fronts := map[string]struct {
		base string
		c    *http.Client
	}{
		"HTTP1": {e.FrontURL, e.httpClient()},
		"HTTP2": {e.startTLSFront(), e.h2Client()},
	}
	for name, f := range fronts {
		for _, m := range []string{"PUT", "POST", "PATCH", "DELETE", "OPTIONS"} {
			payload := pseudoRandom(uint64(len(m)), 200_000)
			resp, body := do(t, f.c, newRequest(t, m, f.base+"/o/home/x", bytes.NewReader(payload)))
			if resp.StatusCode != 200 || resp.Header.Get("X-Method") != m || !bytes.Equal(body, payload) {
				t.Errorf("%s %s: got %s, X-Method %q, %d bytes", name, m, resp.Status, resp.Header.Get("X-Method"), len(body))
				continue
			}
			if got := resp.Trailer.Get("X-Body-Sha256"); got != sha256Hex(payload) {
				t.Errorf("%s %s: trailer X-Body-Sha256 %q, want %q", name, m, got, sha256Hex(payload))
			}
		}
	}
}

// TestE2EHeadersPassThrough checks multi-valued headers both ways, the
// removal of hop-by-hop headers, and an origin's gzip body passed on
// untouched.
func TestE2EHeadersPassThrough(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte("a page that compresses well "), 4000))
	zw.Close()
	e := newEnv(t, &Proxy{Route: RoutePath})
	e.connect("home", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Set-Cookie", "a=1; Path=/")
		h.Add("Set-Cookie", "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT")
		h.Add("Set-Cookie", "c=3")
		h.Add("X-Multi", "x")
		h.Add("X-Multi", "y, z")
		h.Set("X-Saw-Cookie", strings.Join(r.Header.Values("Cookie"), "|"))
		h.Set("X-Saw-Hop", r.Header.Get("Connection")+r.Header.Get("Upgrade")+r.Header.Get("Te")+r.Header.Get("X-Hop"))
		h.Set("X-Saw-Accept-Encoding", r.Header.Get("Accept-Encoding"))
		if r.URL.Path == "/gz" {
			h.Set("Content-Encoding", "gzip")
			h.Set("Content-Type", "text/plain")
			w.Write(gz.Bytes())
		}
	}))
	c := e.httpClient()
	resp, _ := do(t, c, newRequest(t, "GET", e.FrontURL+"/o/home/", nil,
		"Cookie", "k=v", "Cookie", "k2=v2", "Connection", "Upgrade, X-Hop", "Upgrade", "websocket", "Te", "trailers", "X-Hop", "1"))
	if got, want := resp.Header.Values("Set-Cookie"), []string{"a=1; Path=/", "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT", "c=3"}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Set-Cookie %q, want %q", got, want)
	}
	if got := resp.Header.Values("X-Multi"); strings.Join(got, "|") != "x|y, z" {
		t.Errorf("X-Multi %q, want [x \"y, z\"]", got)
	}
	if got := resp.Header.Get("X-Saw-Cookie"); got != "k=v|k2=v2" && got != "k=v; k2=v2" {
		t.Errorf("the origin saw Cookie %q", got)
	}
	if got := resp.Header.Get("X-Saw-Hop"); got != "" {
		t.Errorf("the origin saw hop-by-hop headers: %q", got)
	}
	if got := resp.Header.Get("X-Saw-Accept-Encoding"); got != "" {
		t.Errorf("the proxy asked the origin for Accept-Encoding %q on its own", got)
	}
	resp, body := do(t, c, newRequest(t, "GET", e.FrontURL+"/o/home/gz", nil, "Accept-Encoding", "gzip"))
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.ContentLength != int64(gz.Len()) || !bytes.Equal(body, gz.Bytes()) {
		t.Fatalf("gzip: Content-Encoding %q, Content-Length %d, %d bytes; want the origin's %d gzip bytes untouched",
			resp.Header.Get("Content-Encoding"), resp.ContentLength, len(body), gz.Len())
	}
	if got := resp.Header.Get("X-Saw-Accept-Encoding"); got != "gzip" {
		t.Errorf("the origin saw Accept-Encoding %q, want gzip", got)
	}
}
