package hpackz

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"fmt"
	"io"
	"testing"
)

// Benchmarks decode a session's worth of header blocks, as compress/zlib
// produces them, through one context, and compare with the two ways of doing
// the same with the standard library:
//
//   - zlib-stream: one zlib reader for the whole direction over a source that
//     is fed each block, reading exactly the block's inflated size (the
//     decoder must know it: here the benchmark does), then the same parser;
//   - flate-reset: a flate reader Reset for every block with the last 32 KiB
//     of output as its dictionary, then the same parser.

// browserFields returns the fields of the captured browser request (§8
// ZV3-SYN-browser).
func browserFields(tb testing.TB) []Field {
	for _, tc := range compressedVectors {
		if tc.name == "ZV3-SYN-browser" {
			f, err := NewDecoder(V3, nil).AppendFields(nil, vectorBlock(tb, tc.hex, tc.off))
			if err != nil {
				tb.Fatal(err)
			}
			return f
		}
	}
	tb.Fatal("no browser vector")
	return nil
}

// requestFields is the i-th request of a page load: the captured browser
// request with its path changed.
func requestFields(base []Field, i int) []Field {
	f := append([]Field(nil), base...)
	for j := range f {
		if f[j].Name == ":path" {
			f[j].Value = fmt.Sprintf("/static/%d/app-%x.js", i%7, i*2654435761%1000003)
		}
	}
	return f
}

// responseFields is the i-th response: ten typical headers.
func responseFields(i int) []Field {
	return fieldsOf(
		":status", "200",
		":version", "HTTP/1.1",
		"content-type", "application/javascript; charset=utf-8",
		"content-length", fmt.Sprint(1000+i*37%50000),
		"date", fmt.Sprintf("Sun, 22 Nov 2026 05:%02d:%02d GMT", i/60%60, i%60),
		"server", "spdyd/1.0",
		"cache-control", "public, max-age=31536000, immutable",
		"etag", fmt.Sprintf("\"%016x\"", uint64(i)*0x9e3779b97f4a7c15),
		"last-modified", "Tue, 03 Nov 2026 10:00:00 GMT",
		"vary", "accept-encoding",
	)
}

// makeBlocks compresses n blocks of fields gen(i) through one zlib stream.
func makeBlocks(tb testing.TB, v Version, level, n int, gen func(int) []Field) (blocks, raws [][]byte) {
	z := newZStream(tb, v, level)
	for i := range n {
		var nv []string
		for _, f := range gen(i) {
			nv = append(nv, f.Name, f.Value)
		}
		raw := rawBlock(v, nv...)
		raws = append(raws, raw)
		blocks = append(blocks, z.block(raw))
	}
	return blocks, raws
}

func requestBlocks(tb testing.TB, v Version, level, n int) (blocks, raws [][]byte) {
	base := browserFields(tb)
	return makeBlocks(tb, v, level, n, func(i int) []Field { return requestFields(base, i) })
}

// feed is a byte source fed block by block. It is an io.ByteReader, so
// compress/flate reads from it byte by byte and never past what it needs.
type feed struct {
	buf []byte
	off int
}

func (f *feed) add(b []byte) {
	n := copy(f.buf, f.buf[f.off:])
	f.buf = append(f.buf[:n], b...)
	f.off = 0
}

func (f *feed) Read(p []byte) (int, error) {
	if f.off == len(f.buf) {
		return 0, io.EOF
	}
	n := copy(p, f.buf[f.off:])
	f.off += n
	return n, nil
}

func (f *feed) ReadByte() (byte, error) {
	if f.off == len(f.buf) {
		return 0, io.EOF
	}
	f.off++
	return f.buf[f.off-1], nil
}

func BenchmarkDecode(b *testing.B) {
	const n = 1000 // blocks per session
	reqBlocks, reqRaws := requestBlocks(b, V3, flate.DefaultCompression, n)
	respBlocks, respRaws := makeBlocks(b, V3, flate.DefaultCompression, n, responseFields)
	for _, w := range []struct {
		name         string
		blocks, raws [][]byte
	}{
		{"request", reqBlocks, reqRaws},
		{"response", respBlocks, respRaws},
	} {
		b.Run(w.name+"/hpackz", func(b *testing.B) { benchHpackz(b, w.blocks) })
		b.Run(w.name+"/zlib-stream", func(b *testing.B) { benchZlibStream(b, w.blocks, w.raws) })
		b.Run(w.name+"/flate-reset", func(b *testing.B) { benchFlateReset(b, w.blocks, w.raws) })
	}
}

func benchHpackz(b *testing.B, blocks [][]byte) {
	var d *Decoder
	var dst []Field
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		j := i % len(blocks)
		if j == 0 {
			b.StopTimer()
			d = NewDecoder(V3, nil)
			b.StartTimer()
		}
		var err error
		if dst, err = d.AppendFields(dst[:0], blocks[j]); err != nil {
			b.Fatal(err)
		}
	}
}

func benchZlibStream(b *testing.B, blocks, raws [][]byte) {
	p := NewDecoder(V3, nil) // its parser only
	src := new(feed)
	var zr io.ReadCloser
	var out []byte
	var dst []Field
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		j := i % len(blocks)
		if j == 0 {
			b.StopTimer()
			zr = restartZlib(b, zr, src, blocks[0])
			b.StartTimer()
		} else {
			src.add(blocks[j])
		}
		out = append(out[:0], make([]byte, len(raws[j]))...)
		if _, err := io.ReadFull(zr, out); err != nil {
			b.Fatal(err)
		}
		var err error
		if dst, err = p.parse(dst[:0], out); err != nil {
			b.Fatal(err)
		}
	}
}

func benchFlateReset(b *testing.B, blocks, raws [][]byte) {
	p := NewDecoder(V3, nil) // its parser only
	fr := flate.NewReader(nil)
	var src bytes.Reader
	var hist, out []byte
	var dst []Field
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		j := i % len(blocks)
		chunk := blocks[j]
		if j == 0 {
			hist = append(hist[:0], dictionary(V3)...)
			chunk = chunk[6:] // the zlib header
		}
		src.Reset(chunk)
		if err := fr.(flate.Resetter).Reset(&src, hist); err != nil {
			b.Fatal(err)
		}
		out = append(out[:0], make([]byte, len(raws[j]))...)
		if _, err := io.ReadFull(fr, out); err != nil {
			b.Fatal(err)
		}
		hist = append(hist, out...)
		if len(hist) > winSize {
			hist = append(hist[:0], hist[len(hist)-winSize:]...)
		}
		var err error
		if dst, err = p.parse(dst[:0], out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeFirstBlock measures the start of a direction: a new
// decoder and the captured browser request.
func BenchmarkDecodeFirstBlock(b *testing.B) {
	var block []byte
	for _, tc := range compressedVectors {
		if tc.name == "ZV3-SYN-browser" {
			block = vectorBlock(b, tc.hex, tc.off)
		}
	}
	b.Run("hpackz", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := NewDecoder(V3, nil).AppendFields(nil, block); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("zlib", func(b *testing.B) {
		p := NewDecoder(V3, nil)
		b.ReportAllocs()
		for b.Loop() {
			zr, err := zlib.NewReaderDict(bytes.NewReader(block), dictionary(V3))
			if err != nil {
				b.Fatal(err)
			}
			out := make([]byte, 1271)
			if _, err := io.ReadFull(zr, out); err != nil {
				b.Fatal(err)
			}
			if _, err := p.parse(nil, out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkInflate isolates inflation: the same blocks as BenchmarkDecode,
// inflated only, by the inflater and by a compress/zlib stream reader.
func BenchmarkInflate(b *testing.B) {
	const n = 1000
	reqBlocks, reqRaws := requestBlocks(b, V3, flate.DefaultCompression, n)
	respBlocks, respRaws := makeBlocks(b, V3, flate.DefaultCompression, n, responseFields)
	for _, w := range []struct {
		name         string
		blocks, raws [][]byte
	}{
		{"request", reqBlocks, reqRaws},
		{"response", respBlocks, respRaws},
	} {
		b.Run(w.name+"/hpackz", func(b *testing.B) {
			var f inflater
			out := make([]byte, 0, 4096)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				j := i % len(w.blocks)
				chunk := w.blocks[j]
				if j == 0 {
					f.init(dictionary(V3))
					chunk = chunk[6:]
				}
				if _, _, err := f.inflate(out, chunk, cap(out)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(w.name+"/zlib-stream", func(b *testing.B) {
			src := new(feed)
			var zr io.ReadCloser
			out := make([]byte, 4096)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				j := i % len(w.blocks)
				if j == 0 {
					b.StopTimer()
					zr = restartZlib(b, zr, src, w.blocks[0])
					b.StartTimer()
				} else {
					src.add(w.blocks[j])
				}
				if _, err := io.ReadFull(zr, out[:len(w.raws[j])]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// restartZlib starts a compress/zlib stream over a fresh feed holding
// first, reusing zr when there is one.
func restartZlib(b *testing.B, zr io.ReadCloser, src *feed, first []byte) io.ReadCloser {
	src.buf, src.off = src.buf[:0], 0
	src.add(first)
	var err error
	if zr == nil {
		zr, err = zlib.NewReaderDict(src, dictionary(V3))
	} else {
		err = zr.(zlib.Resetter).Reset(src, dictionary(V3))
	}
	if err != nil {
		b.Fatal(err)
	}
	return zr
}
