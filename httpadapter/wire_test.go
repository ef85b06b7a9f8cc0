package httpadapter

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/session"
	"github.com/spdygo/spdy/stream"
)

// TestTransportRequestOnTheWire checks what the Transport puts in a
// SYN_STREAM (§9.1): the five required headers, no header HTTP/1.1 uses
// for the connection, no name with SPDY's ':' prefix from the caller, and
// FIN on the SYN_STREAM itself when the request has no body.
func TestTransportRequestOnTheWire(t *testing.T) {
	for _, v := range []session.Version{session.V2, session.V3, session.V31} {
		t.Run(v.String(), func(t *testing.T) {
			type seen struct {
				fields []hpackz.Field
				finNow bool
			}
			got := make(chan seen, 1)
			srv := ctStartRaw(t, v, func(sess *session.Session) {
				for {
					st, err := sess.Accept(context.Background())
					if err != nil {
						return
					}
					_, rerr := st.Read(nil) // does not block: io.EOF only if FIN came with the SYN_STREAM
					got <- seen{fields: st.Headers(), finNow: rerr == io.EOF}
					n := namesFor(v)
					st.Reply([]hpackz.Field{{Name: n.status, Value: "200"}, {Name: n.version, Value: "HTTP/1.1"}}, true)
					st.Close()
				}
			})
			tr := &Transport{Version: v}
			defer tr.CloseIdleConnections()
			req, _ := http.NewRequest("GET", "http://"+srv.ln.Addr().String()+"/p?q=1", nil)
			req.Header.Set("Connection", "keep-alive, X-Hop")
			req.Header.Set("X-Hop", "gone")
			req.Header.Set("Keep-Alive", "timeout=5")
			req.Header.Set("Proxy-Connection", "keep-alive")
			req.Header.Set("Transfer-Encoding", "chunked")
			req.Header.Set("Upgrade", "websocket")
			req.Header.Set("X-Kept", "yes")
			req.Header[":path"] = []string{"/evil"}
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			s := <-got
			if !s.finNow {
				t.Error("a request without a body did not carry FIN on its SYN_STREAM")
			}
			n := namesFor(v)
			want := map[string]string{n.method: "GET", n.path: "/p?q=1", n.version: "HTTP/1.1", n.scheme: "http", "x-kept": "yes"}
			if v == session.V2 {
				want["host"] = srv.ln.Addr().String()
			} else {
				want[n.host] = srv.ln.Addr().String()
			}
			for name, val := range want {
				if got, ok := field(s.fields, name); !ok || got != val {
					t.Errorf("%s = %q (present %v), want %q", name, got, ok, val)
				}
			}
			for _, f := range s.fields {
				switch f.Name {
				case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "x-hop":
					t.Errorf("forbidden header %q sent", f.Name)
				case "host":
					if v != session.V2 {
						t.Error("host sent besides :host")
					}
				}
				if strings.HasPrefix(f.Name, ":") && f.Value == "/evil" {
					t.Error("a caller's ':' header replaced SPDY's own")
				}
			}
		})
	}
}

// TestServerRefusesClientPush: a client may not open a stream that names
// a parent (§10: only servers push); the server resets it.
func TestServerRefusesClientPush(t *testing.T) {
	c1, c2 := tcpPair(t)
	srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/child" {
			t.Error("handler ran for a client push")
		}
	})}
	done := make(chan error, 1)
	go func() { done <- srv.ServeConn(c2, &ServeConnOpts{Version: session.V3}) }()
	cs, err := session.New(c1, session.Client, &session.Config{Version: session.V3})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cs.Close()
		<-done
	}()
	n := namesFor(session.V3)
	hdr := []hpackz.Field{{Name: n.host, Value: "x"}, {Name: n.method, Value: "GET"}, {Name: n.path, Value: "/"}, {Name: n.scheme, Value: "http"}, {Name: n.version, Value: "HTTP/1.1"}}
	parent, err := cs.Open(context.Background(), &session.OpenOptions{Headers: hdr})
	if err != nil {
		t.Fatal(err)
	}
	defer parent.Close()
	childHdr := append([]hpackz.Field(nil), hdr...)
	childHdr[2].Value = "/child"
	child, err := cs.Open(context.Background(), &session.OpenOptions{Headers: childHdr, AssociatedTo: parent.ID(), Fin: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = child.WaitHeaders(context.Background())
	var re *stream.ResetError
	if !asReset(err, &re) || !re.Remote {
		t.Fatalf("a client stream naming a parent got %v, want a reset from the server", err)
	}
}

func asReset(err error, re **stream.ResetError) bool {
	for err != nil {
		if r, ok := err.(*stream.ResetError); ok {
			*re = r
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}
