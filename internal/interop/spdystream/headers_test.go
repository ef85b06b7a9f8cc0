package spdystream

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	ss "github.com/moby/spdystream/spdy"
	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
)

func fld(name, value string) hpackz.Field { return hpackz.Field{Name: name, Value: value} }

// requests are header sets sent over one session; later blocks reuse the
// compression context of earlier ones.
var requests = [][]hpackz.Field{
	{fld(":method", "GET"), fld(":path", "/"), fld(":version", "HTTP/1.1"), fld(":host", "example.com"), fld(":scheme", "https"), fld("accept", "*/*")},
	{fld(":method", "GET"), fld(":path", "/style.css"), fld(":version", "HTTP/1.1"), fld(":host", "example.com"), fld(":scheme", "https"), fld("cookie", "a=1")},
	{fld(":method", "POST"), fld(":path", "/upload"), fld(":version", "HTTP/1.1"), fld(":host", "example.com"), fld(":scheme", "https"), fld("x-multi", "a\x00b")},
}

// TestTheirFramerReadsOurHeaderBlocks: SYN_STREAMs whose blocks come from
// our Encoder (default level, cookie protected) are read by spdystream.
func TestTheirFramerReadsOurHeaderBlocks(t *testing.T) {
	for _, level := range []int{hpackz.NoCompression, hpackz.BestSpeed, hpackz.DefaultCompression, hpackz.BestCompression} {
		var wire bytes.Buffer
		fr := framing.NewFramer(&wire, nil, framing.Version3)
		enc := hpackz.NewEncoder(hpackz.V3, &hpackz.EncoderOptions{Level: level})
		theirs, err := ss.NewFramer(nil, &wire)
		if err != nil {
			t.Fatal(err)
		}
		for i, fields := range requests {
			block, err := enc.AppendBlock(nil, fields)
			if err != nil {
				t.Fatal(err)
			}
			if err := fr.WriteSynStream(framing.StreamID(2*i+1), 0, 3, 0, block); err != nil {
				t.Fatal(err)
			}
			f, err := theirs.ReadFrame()
			if err != nil {
				t.Fatalf("level %d block %d: spdystream: %v", level, i, err)
			}
			syn := f.(*ss.SynStreamFrame)
			if syn.StreamId != ss.StreamId(2*i+1) || syn.Priority != 3 {
				t.Errorf("level %d block %d: %+v", level, i, syn)
			}
			want := http.Header{}
			for _, fl := range fields {
				want[http.CanonicalHeaderKey(fl.Name)] = strings.Split(fl.Value, "\x00")
			}
			if !equalHeader(syn.Headers, want) {
				t.Errorf("level %d block %d: spdystream read %v, want %v", level, i, syn.Headers, want)
			}
		}
	}
}

// TestOurDecoderReadsTheirHeaderBlocks: spdystream compresses, we decode.
func TestOurDecoderReadsTheirHeaderBlocks(t *testing.T) {
	var wire bytes.Buffer
	theirs, err := ss.NewFramer(&wire, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, fields := range requests {
		h := http.Header{}
		for _, fl := range fields {
			h[fl.Name] = strings.Split(fl.Value, "\x00")
		}
		if err := theirs.WriteFrame(&ss.SynStreamFrame{StreamId: ss.StreamId(2*i + 1), Priority: 2, Headers: h}); err != nil {
			t.Fatal(err)
		}
	}
	fr := framing.NewFramer(nil, &wire, framing.Version3)
	dec := hpackz.NewDecoder(hpackz.V3, nil)
	for i, fields := range requests {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		syn := f.(*framing.SynStreamFrame)
		got, err := dec.AppendFields(nil, syn.HeaderBlock)
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		m := map[string]string{}
		for _, g := range got {
			m[g.Name] = g.Value
		}
		if len(m) != len(fields) {
			t.Errorf("block %d: got %v, want %v", i, got, fields)
		}
		for _, w := range fields {
			if m[w.Name] != w.Value {
				t.Errorf("block %d: %s = %q, want %q", i, w.Name, m[w.Name], w.Value)
			}
		}
	}
}

func equalHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w := b[k]
		if strings.Join(v, "\x00") != strings.Join(w, "\x00") {
			return false
		}
	}
	return true
}
