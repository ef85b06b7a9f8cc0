package nodehttp

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/spdygo/spdy/internal/interop/testcert"
	"github.com/spdygo/spdy/session"
)

// TestSpdyloadNodeServer runs cmd/spdyload against node's spdy server,
// over plain TCP with prior knowledge and over TLS with ALPN, in every
// version, and checks its report: every request done, every body counted,
// on the connections asked for, in the version asked for.
func TestSpdyloadNodeServer(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "spdyload")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/spdygo/spdy/cmd/spdyload").CombinedOutput(); err != nil {
		t.Fatalf("go build spdyload: %v\n%s", err, out)
	}
	for _, m := range modes {
		for _, v := range versions {
			t.Run(m.name+"/"+alpn(v), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
				defer cancel()
				args := []string{"server", "--protocol", alpn(v)}
				scheme := "http"
				var ca string
				if m.tls {
					cs := testcert.New(t)
					args = append(args, "--cert", cs.CertFile, "--key", cs.KeyFile)
					scheme, ca = "https", cs.CertFile
				}
				node := startNode(t, args...)
				var ls struct{ Port int }
				node.Wait(ctx, "listening", nil).Decode(t, &ls)
				url := scheme + "://127.0.0.1:" + strconv.Itoa(ls.Port) + "/small"
				load := []string{"-n", "200", "-c", "2", "-m", "8", "-proto", alpn(v), "-json"}
				if v == session.V2 {
					load = append(load, "-v2compat") // node's SPDY/2 has flow control
				}
				if ca != "" {
					load = append(load, "-ca", ca)
				}
				cmd := exec.CommandContext(ctx, bin, append(load, url)...)
				var stderr strings.Builder
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("spdyload: %v\n%s\n%s", err, out, stderr.String())
				}
				var rep struct {
					Requests struct {
						Done, Succeeded, Failed int64
					}
					Traffic struct {
						Body int64 `json:"body_bytes"`
					}
					Connections struct {
						Opened    int64
						Protocols map[string]int64
					}
				}
				if err := json.Unmarshal(out, &rep); err != nil {
					t.Fatalf("report: %v\n%s", err, out)
				}
				const body = len("hello from node spdy\n")
				if rep.Requests.Done != 200 || rep.Requests.Succeeded != 200 || rep.Requests.Failed != 0 ||
					rep.Traffic.Body != 200*int64(body) || rep.Connections.Opened != 2 || rep.Connections.Protocols[alpn(v)] != 2 {
					t.Fatalf("report: %+v\n%s", rep, out)
				}
			})
		}
	}
}
