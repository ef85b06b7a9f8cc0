package httpadapter

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/session"
)

// TestResponseBuffersReused checks that the response buffers the Server
// reuses carry nothing from one response into another: responses of every
// size around the buffer's, one after another and several at once, each
// with bytes of its own, and between them responses whose stream the
// client reset while the handler had bytes buffered, which must be
// dropped.
func TestResponseBuffersReused(t *testing.T) {
	forVersions(t, []session.Version{session.V3, session.V31}, func(t *testing.T, v session.Version) {
		const bufSize = 64
		buffered := make(chan struct{}, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			if r.URL.Path == "/reset" {
				// Bytes that must never reach another response stay in
				// the buffer when the handler returns after the reset.
				w.Write(bytes.Repeat([]byte{0xee}, bufSize/2))
				buffered <- struct{}{}
				<-r.Context().Done()
				return
			}
			body := deterministic(uint64(n)+1, n)
			for len(body) > 0 {
				k := min(len(body), 10)
				w.Write(body[:k])
				body = body[k:]
			}
		})
		ts := startServer(t, v, h, &serverOpts{server: func(s *Server) { s.WriteBufferSize = bufSize }})
		fetch := func(n int) error {
			st, err := ts.cs.Open(limitCtx(t), &session.OpenOptions{Headers: requestBlock(v, request{path: "/?n=" + strconv.Itoa(n)}), Fin: true})
			if err != nil {
				return err
			}
			defer st.Close()
			if _, err := st.WaitHeaders(limitCtx(t)); err != nil {
				return err
			}
			body, err := io.ReadAll(st)
			if err != nil {
				return err
			}
			if want := deterministic(uint64(n)+1, n); !bytes.Equal(body, want) {
				return fmt.Errorf("response of %d bytes: got %x, want %x", n, body, want)
			}
			return nil
		}
		for n := 0; n <= 3*bufSize+1; n += 7 {
			if err := fetch(n); err != nil {
				t.Fatal(err)
			}
			if n%3 == 0 {
				st := ts.open(request{path: "/reset"})
				recv(t, buffered, "the handler to buffer its bytes")
				st.Reset(framing.StatusCancel)
			}
		}
		errs := make(chan error, 4)
		for g := 0; g < 4; g++ {
			go func() {
				for n := g + 1; n <= 2*bufSize; n += 5 {
					if err := fetch(n); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for g := 0; g < 4; g++ {
			if err := recv(t, errs, "the concurrent responses"); err != nil {
				t.Fatal(err)
			}
		}
	})
}
