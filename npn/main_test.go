package npn

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/internal/selfsigned"
	"github.com/spdygo/spdy/session"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTimeout bounds every wait of the tests, so that a missing answer
// fails the test instead of hanging it. It is no assertion about speed.
const testTimeout = 20 * time.Second

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// listen returns a TCP listener on loopback.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// testCert is a self-signed certificate for 127.0.0.1, ::1 and localhost,
// made once per run, and a pool that trusts it.
var testCert = sync.OnceValues(func() (tlsPair, error) {
	cert, pool, err := selfsigned.Loopback("npn test")
	return tlsPair{cert, pool}, err
})

// tlsPair is a certificate and a pool that trusts it.
type tlsPair struct {
	cert tls.Certificate
	pool *x509.CertPool
}

// tlsConfigs returns a server config with the test certificate and a
// client config that trusts it.
func tlsConfigs(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	p, err := testCert()
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{p.cert}}, &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1"}
}

// spdyGet sends a GET for path over a client session and returns the
// response's status and body.
func spdyGet(ctx context.Context, sess *session.Session, host, path string) (string, string, error) {
	var fields []hpackz.Field
	if sess.Version() == session.V2 {
		fields = []hpackz.Field{{Name: "host", Value: host}, {Name: "method", Value: "GET"}, {Name: "scheme", Value: "http"}, {Name: "url", Value: path}, {Name: "version", Value: "HTTP/1.1"}}
	} else {
		fields = []hpackz.Field{{Name: ":host", Value: host}, {Name: ":method", Value: "GET"}, {Name: ":path", Value: path}, {Name: ":scheme", Value: "http"}, {Name: ":version", Value: "HTTP/1.1"}}
	}
	st, err := sess.Open(ctx, &session.OpenOptions{Headers: fields, Fin: true})
	if err != nil {
		return "", "", err
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(testTimeout))
	hdr, err := st.WaitHeaders(ctx)
	if err != nil {
		return "", "", err
	}
	status := ""
	for _, f := range hdr {
		if f.Name == ":status" || f.Name == "status" {
			status = f.Value
		}
	}
	body, err := io.ReadAll(st)
	return status, string(body), err
}

// rawFrames encodes frames of version v with a fresh header compression
// context, as the first frames of a connection.
type rawFrames struct {
	t   testing.TB
	buf bytes.Buffer
	fr  *framing.Framer
	enc *hpackz.Encoder
}

func newRawFrames(t testing.TB, v session.Version) *rawFrames {
	r := &rawFrames{t: t}
	fv, hv := framing.Version3, hpackz.V3
	if v == session.V2 {
		fv, hv = framing.Version2, hpackz.V2
	}
	r.fr = framing.NewFramer(&r.buf, nil, fv)
	r.enc = hpackz.NewEncoder(hv, nil)
	return r
}

func (r *rawFrames) check(err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawFrames) settings() *rawFrames {
	r.check(r.fr.WriteSettings(0, framing.Setting{ID: framing.SettingMaxConcurrentStreams, Value: 100}))
	return r
}

func (r *rawFrames) windowUpdate(id framing.StreamID, delta uint32) *rawFrames {
	r.check(r.fr.WriteWindowUpdate(id, delta))
	return r
}

func (r *rawFrames) ping(id uint32) *rawFrames {
	r.check(r.fr.WritePing(id))
	return r
}

func (r *rawFrames) synStream(id framing.StreamID, fin bool, fields ...hpackz.Field) *rawFrames {
	block, err := r.enc.AppendBlock(nil, fields)
	r.check(err)
	var flags framing.Flags
	if fin {
		flags = framing.FlagFin
	}
	r.check(r.fr.WriteSynStream(id, 0, 0, flags, block))
	return r
}

func (r *rawFrames) data(id framing.StreamID, fin bool, b []byte) *rawFrames {
	r.check(r.fr.WriteData(id, fin, b))
	return r
}

// take returns the frames encoded since the last take.
func (r *rawFrames) take() []byte {
	b := append([]byte(nil), r.buf.Bytes()...)
	r.buf.Reset()
	return b
}

// frameReader reads the frames a session writes, decoding header blocks.
type frameReader struct {
	fr  *framing.Framer
	dec *hpackz.Decoder
}

func newFrameReader(r io.Reader, v session.Version) *frameReader {
	fv, hv := framing.Version3, hpackz.V3
	if v == session.V2 {
		fv, hv = framing.Version2, hpackz.V2
	}
	return &frameReader{fr: framing.NewFramer(io.Discard, r, fv), dec: hpackz.NewDecoder(hv, nil)}
}

// next returns the next frame and its decoded header block, if it has one.
func (f *frameReader) next() (framing.Frame, []hpackz.Field, error) {
	fr, err := f.fr.ReadFrame()
	if err != nil {
		return nil, nil, err
	}
	var block []byte
	switch x := fr.(type) {
	case *framing.SynStreamFrame:
		block = x.HeaderBlock
	case *framing.SynReplyFrame:
		block = x.HeaderBlock
	case *framing.HeadersFrame:
		block = x.HeaderBlock
	}
	var fields []hpackz.Field
	if block != nil {
		if fields, err = f.dec.AppendFields(nil, block); err != nil {
			return nil, nil, err
		}
	}
	return framing.CopyFrame(fr), fields, nil
}

// httpGet fetches url with c and returns the response's protocol and body.
func httpGet(ctx context.Context, c *http.Client, url string) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != 200 {
		return resp, string(b), fmt.Errorf("status %s", resp.Status)
	}
	return resp, string(b), nil
}

// readerOf gives a net.Conn a buffered reader, for raw HTTP.
func readerOf(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }
