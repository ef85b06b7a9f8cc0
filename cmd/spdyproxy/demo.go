package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/spdygo/spdy/proxy"
)

//go:embed site
var siteFS embed.FS

// demoMediaSize is the size of the demo's media-like file.
const demoMediaSize = 64 << 20

// demoOrigin is the origin -demo runs inside the proxy's process.
type demoOrigin struct {
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// stop ends the origin and waits for it; calls after the first return at
// once.
func (o *demoOrigin) stop() {
	o.once.Do(func() {
		o.cancel()
		<-o.done
	})
}

// newSiteHandler returns the demo site: the embedded pages, a generated
// image and a generated media-like file.
func newSiteHandler() (http.Handler, error) {
	sub, err := fs.Sub(siteFS, "site")
	if err != nil {
		return nil, err
	}
	img, err := demoImage()
	if err != nil {
		return nil, err
	}
	media, err := newPatternFile(demoMediaSize, 1<<20)
	if err != nil {
		return nil, err
	}
	started := time.Now()
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServerFS(sub))
	mux.HandleFunc("/spdy.png", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "spdy.png", started, bytes.NewReader(img))
	})
	mux.HandleFunc("/media/sample.bin", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "sample.bin", started, io.NewSectionReader(media, 0, media.size))
	})
	return mux, nil
}

// demoImage draws a 256x256 PNG.
func demoImage() ([]byte, error) {
	m := image.NewRGBA(image.Rect(0, 0, 256, 256))
	for y := range 256 {
		for x := range 256 {
			c := color.RGBA{uint8(x), uint8(y), uint8(255 - (x+y)/2), 255}
			if (x/32+y/32)%2 == 0 {
				c.A = 220
			}
			m.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// patternFile is a large read-only file made of one random block repeated:
// it costs one block of memory and supports reads at any offset.
type patternFile struct {
	block []byte
	size  int64
}

func newPatternFile(size int64, blockSize int) (*patternFile, error) {
	b := make([]byte, blockSize)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return &patternFile{block: b, size: size}, nil
}

// ReadAt reads the file's bytes at off.
func (f *patternFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.size {
		return 0, io.EOF
	}
	if rem := f.size - off; int64(len(p)) > rem {
		p = p[:rem]
	}
	n := 0
	bs := int64(len(f.block))
	for n < len(p) {
		n += copy(p[n:], f.block[(off+int64(n))%bs:])
	}
	if off+int64(n) == f.size {
		return n, io.EOF
	}
	return n, nil
}

// startDemo runs the embedded origin "demo", waits for its tunnel, checks
// that a request reaches it and prints the URLs to open.
func (d *daemon) startDemo(ctx context.Context, stdout io.Writer) error {
	site, err := newSiteHandler()
	if err != nil {
		return err
	}
	token := rand.Text()
	if err := d.p.Registry.Add("demo", token); err != nil {
		return err
	}
	tlsConf, err := proxy.PinnedTLSConfig(d.fingerprint())
	if err != nil {
		return err
	}
	c := &proxy.Connector{
		ProxyURL:  "https://" + d.tunnelLn.Addr().String(),
		Name:      "demo",
		Token:     token,
		Handler:   site,
		TLSConfig: tlsConf,
		Logger:    d.logger.With("side", "origin"),
	}
	octx, cancel := context.WithCancel(context.Background())
	o := &demoOrigin{cancel: cancel, done: make(chan error, 1)}
	go func() { o.done <- c.Run(octx) }()
	d.demo = o

	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := d.p.WaitConnected(wctx, "demo", false); err != nil {
		return fmt.Errorf("the demo origin did not connect: %w", err)
	}
	base := d.demoBase()
	if err := d.checkDemo(wctx, base); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "demo origin \"demo\" is connected through the tunnel; open:\n"+
		"  %s\n"+
		"  %sspdy.png          (an image)\n"+
		"  %smedia/sample.bin  (64 MiB, answers Range requests)\n"+
		"  %sfiles/            (a directory listing)\n"+
		"press Ctrl-C to stop\n", base, base, base, base)
	return err
}

// frontAddr returns the front end's address and scheme, the plain one
// when there is one.
func (d *daemon) frontAddr() (scheme, addr string) {
	if d.frontLn != nil {
		return "http", d.frontLn.Addr().String()
	}
	return "https", d.frontTLSLn.Addr().String()
}

// demoHost is the host name of the demo origin under -route host.
func (d *daemon) demoHost() string {
	if d.p.Domain != "" {
		return "demo." + d.p.Domain
	}
	return "demo.localhost" // browsers resolve *.localhost to loopback
}

// demoBase is the URL of the demo origin's root on the front end.
func (d *daemon) demoBase() string {
	scheme, addr := d.frontAddr()
	if d.p.Route == proxy.RouteHost {
		_, port, _ := net.SplitHostPort(addr)
		return scheme + "://" + net.JoinHostPort(d.demoHost(), port) + "/"
	}
	return scheme + "://" + addr + "/o/demo/"
}

// checkDemo fetches the demo's home page through the front end, by its
// address whatever the demo's host name resolves to.
func (d *daemon) checkDemo(ctx context.Context, base string) error {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	scheme, addr := d.frontAddr()
	if scheme == "https" {
		tlsConf, err := proxy.PinnedTLSConfig(d.fingerprint())
		if err != nil {
			return err
		}
		tr.TLSClientConfig = tlsConf
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base, nil)
	if err != nil {
		return err
	}
	req.Host = req.URL.Host
	req.URL.Host = addr
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("self-check: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("self-check: %w", err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("SPDY/3.1 tunnel")) {
		return fmt.Errorf("self-check: GET %s: %s", base, resp.Status)
	}
	d.logger.Info("demo self-check passed", "url", base, "bytes", len(body))
	return nil
}
