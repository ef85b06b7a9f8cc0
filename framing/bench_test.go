package framing

import (
	"bytes"
	"io"
	"testing"
)

// replay is an io.Reader that serves the same bytes forever, so that a
// benchmark reads frames without refilling buffers.
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

var benchSizes = []struct {
	name string
	n    int
}{{"1KiB", 1 << 10}, {"16KiB", 16 << 10}}

// BenchmarkReadData reads DATA frames; BenchmarkReadRaw is its baseline:
// the same bytes read with the two exact reads (header, payload) that any
// framer needs.
func BenchmarkReadData(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			var wire bytes.Buffer
			NewFramer(&wire, nil, Version3).WriteData(1, false, make([]byte, sz.n))
			fr := NewFramer(nil, &replay{b: wire.Bytes()}, Version3)
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

func BenchmarkReadRaw(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			var wire bytes.Buffer
			NewFramer(&wire, nil, Version3).WriteData(1, false, make([]byte, sz.n))
			r := &replay{b: wire.Bytes()}
			hdr := make([]byte, FrameHeaderLen)
			payload := make([]byte, sz.n)
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			for b.Loop() {
				io.ReadFull(r, hdr)
				io.ReadFull(r, payload)
			}
		})
	}
}

// BenchmarkWriteData writes DATA frames; BenchmarkWriteRaw is its
// baseline: copying the same header and payload into a buffer and one
// Write.
func BenchmarkWriteData(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			payload := make([]byte, sz.n)
			fr := NewFramer(discard{}, nil, Version3)
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			for b.Loop() {
				if err := fr.WriteData(1, false, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWriteRaw(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			payload := make([]byte, sz.n)
			var w io.Writer = discard{}
			buf := make([]byte, 0, FrameHeaderLen+sz.n)
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			for b.Loop() {
				buf = append(buf[:0], 0, 0, 0, 1, 0, byte(sz.n>>16), byte(sz.n>>8), byte(sz.n))
				buf = append(buf, payload...)
				w.Write(buf)
			}
		})
	}
}

var benchControl = []struct {
	name  string
	write func(*Framer) error
}{
	{"ping", func(f *Framer) error { return f.WritePing(1) }},
	{"rst_stream", func(f *Framer) error { return f.WriteRstStream(1, StatusCancel) }},
	{"window_update", func(f *Framer) error { return f.WriteWindowUpdate(1, 65536) }},
	{"settings", func(f *Framer) error {
		return f.WriteSettings(0, Setting{SettingMaxConcurrentStreams, 0, 100}, Setting{SettingInitialWindowSize, 0, 1 << 20})
	}},
	{"goaway", func(f *Framer) error { return f.WriteGoAway(7, GoAwayOK) }},
}

func BenchmarkReadControl(b *testing.B) {
	for _, c := range benchControl {
		b.Run(c.name, func(b *testing.B) {
			var wire bytes.Buffer
			c.write(NewFramer(&wire, nil, Version3))
			fr := NewFramer(nil, &replay{b: wire.Bytes()}, Version3)
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
	for _, c := range benchControl {
		b.Run(c.name, func(b *testing.B) {
			fr := NewFramer(discard{}, nil, Version3)
			b.ReportAllocs()
			for b.Loop() {
				if err := c.write(fr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
