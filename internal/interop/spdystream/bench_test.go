package spdystream

import (
	"bufio"
	"bytes"
	"io"
	"testing"

	ss "github.com/moby/spdystream/spdy"
	"github.com/spdygo/spdy/framing"
)

// replay serves the same bytes forever.
type replay struct {
	b   []byte
	off int
}

func (r *replay) Read(p []byte) (int, error) {
	if r.off == len(r.b) {
		r.off = 0
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

var sizes = []struct {
	name string
	n    int
}{{"1KiB", 1 << 10}, {"16KiB", 16 << 10}}

// Each benchmark has an "ours" and a "spdystream" sub-benchmark over the
// same wire bytes, so one run gives the ratio.

func BenchmarkReadData(b *testing.B) {
	for _, sz := range sizes {
		var wire bytes.Buffer
		framing.NewFramer(&wire, nil, framing.Version3).WriteData(1, false, make([]byte, sz.n))
		b.Run(sz.name+"/ours", func(b *testing.B) {
			fr := framing.NewFramer(nil, &replay{b: wire.Bytes()}, framing.Version3)
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fr.ReadFrame(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(sz.name+"/spdystream", func(b *testing.B) {
			fr, _ := ss.NewFramer(nil, &replay{b: wire.Bytes()})
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fr.ReadFrame(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWriteData(b *testing.B) {
	for _, sz := range sizes {
		payload := make([]byte, sz.n)
		b.Run(sz.name+"/ours", func(b *testing.B) {
			fr := framing.NewFramer(discard{}, nil, framing.Version3)
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			for b.Loop() {
				if err := fr.WriteData(1, false, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(sz.name+"/spdystream", func(b *testing.B) {
			fr, _ := ss.NewFramer(discard{}, nil)
			f := &ss.DataFrame{StreamId: 1, Data: payload}
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			for b.Loop() {
				if err := fr.WriteFrame(f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReadControl(b *testing.B) {
	for _, c := range []struct {
		name  string
		write func(*framing.Framer) error
	}{
		{"ping", func(f *framing.Framer) error { return f.WritePing(1) }},
		{"window_update", func(f *framing.Framer) error { return f.WriteWindowUpdate(1, 65536) }},
		{"settings", func(f *framing.Framer) error {
			return f.WriteSettings(0, framing.Setting{ID: framing.SettingMaxConcurrentStreams, Value: 100},
				framing.Setting{ID: framing.SettingInitialWindowSize, Value: 1 << 20})
		}},
	} {
		var wire bytes.Buffer
		c.write(framing.NewFramer(&wire, nil, framing.Version3))
		b.Run(c.name+"/ours", func(b *testing.B) {
			fr := framing.NewFramer(nil, &replay{b: wire.Bytes()}, framing.Version3)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fr.ReadFrame(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/spdystream", func(b *testing.B) {
			fr, _ := ss.NewFramer(nil, &replay{b: wire.Bytes()})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fr.ReadFrame(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWriteControl(b *testing.B) {
	b.Run("ping/ours", func(b *testing.B) {
		fr := framing.NewFramer(discard{}, nil, framing.Version3)
		b.ReportAllocs()
		for b.Loop() {
			fr.WritePing(1)
		}
	})
	b.Run("ping/spdystream", func(b *testing.B) {
		fr, _ := ss.NewFramer(discard{}, nil)
		f := &ss.PingFrame{Id: 1}
		b.ReportAllocs()
		for b.Loop() {
			fr.WriteFrame(f)
		}
	})
	b.Run("window_update/ours", func(b *testing.B) {
		fr := framing.NewFramer(discard{}, nil, framing.Version3)
		b.ReportAllocs()
		for b.Loop() {
			fr.WriteWindowUpdate(1, 65536)
		}
	})
	b.Run("window_update/spdystream", func(b *testing.B) {
		fr, _ := ss.NewFramer(discard{}, nil)
		f := &ss.WindowUpdateFrame{StreamId: 1, DeltaWindowSize: 65536}
		b.ReportAllocs()
		for b.Loop() {
			fr.WriteFrame(f)
		}
	})
}

// BenchmarkWriteDataBuffered writes through a bufio.Writer, as a session
// does to coalesce frames: both framers then copy the payload once.
func BenchmarkWriteDataBuffered(b *testing.B) {
	for _, sz := range sizes {
		payload := make([]byte, sz.n)
		b.Run(sz.name+"/ours", func(b *testing.B) {
			bw := bufio.NewWriterSize(discard{}, 64<<10)
			fr := framing.NewFramer(bw, nil, framing.Version3)
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			for b.Loop() {
				if err := fr.WriteData(1, false, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(sz.name+"/ours-append", func(b *testing.B) {
			// What a coalescing session writer does: append frames to a
			// batch buffer, one Write per batch.
			fr := framing.NewFramer(nil, nil, framing.Version3)
			batch := make([]byte, 0, 64<<10+32)
			var w io.Writer = discard{}
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			for b.Loop() {
				if len(batch)+framing.FrameHeaderLen+sz.n > cap(batch) {
					w.Write(batch)
					batch = batch[:0]
				}
				batch, _ = fr.AppendData(batch, 1, false, payload)
			}
		})
		b.Run(sz.name+"/spdystream", func(b *testing.B) {
			bw := bufio.NewWriterSize(discard{}, 64<<10)
			fr, _ := ss.NewFramer(bw, nil)
			f := &ss.DataFrame{StreamId: 1, Data: payload}
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			for b.Loop() {
				if err := fr.WriteFrame(f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
