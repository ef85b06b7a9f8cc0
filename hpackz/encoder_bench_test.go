package hpackz

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"runtime"
	"testing"
)

// encBenchRequest is a typical browser request block; i varies the path
// and the cookie's last part as a page's subresources would.
func encBenchRequest(v Version, i int) []Field {
	p := func(name string) string { return versionName(v, name) }
	return []Field{
		{p(":method"), "GET"},
		{p(":path"), fmt.Sprintf("/assets/app-%d.js?v=3f9a2c%02d", i%8, i%8)},
		{p(":version"), "HTTP/1.1"},
		{p(":host"), "www.example.com"},
		{p(":scheme"), "https"},
		{"user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/39.0.2171.95 Safari/537.36"},
		{"accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/webp,*/*;q=0.8"},
		{"accept-language", "en-US,en;q=0.8,de;q=0.6"},
		{"accept-encoding", "gzip, deflate, sdch"},
		{"cookie", fmt.Sprintf("sid=Zx81kQp0cV7mN2bL4tY6wR9eU3iO5aS1; theme=dark; _ga=GA1.2.1234567890.14181%05d", i%8)},
	}
}

// encBenchResponse is a typical response block.
func encBenchResponse(v Version, i int) []Field {
	p := func(name string) string { return versionName(v, name) }
	return []Field{
		{p(":status"), "200 OK"},
		{p(":version"), "HTTP/1.1"},
		{"content-type", "application/javascript; charset=utf-8"},
		{"content-length", fmt.Sprint(10000 + 7919*(i%8))},
		{"date", fmt.Sprintf("Mon, 08 Dec 2014 10:21:%02d GMT", i%8)},
		{"server", "spdygo/1.0"},
		{"cache-control", "public, max-age=31536000"},
		{"set-cookie", fmt.Sprintf("sid=Zx81kQp0cV7mN2bL4tY6wR9eU3iO5aS%d; Path=/; Secure; HttpOnly", i%8)},
	}
}

var encBenchKinds = []struct {
	name   string
	fields func(Version, int) []Field
}{
	{"request", encBenchRequest},
	{"response", encBenchResponse},
}

// BenchmarkEncode encodes the blocks in steady state through one encoder:
// ours with the default protection ("ours") and with none ("ours-nosens");
// compress/zlib with a Flush per block on the same name/value bytes, built
// beforehand ("zlib") or by AppendUncompressed for each block, which checks
// the fields as AppendBlock does ("zlib+nv"). B/block is the mean
// compressed size.
func BenchmarkEncode(b *testing.B) {
	const variants = 8
	for _, kind := range encBenchKinds {
		blocks := make([][]Field, variants)
		nvs := make([][]byte, variants)
		for i := range blocks {
			blocks[i] = kind.fields(V3, i)
			nvs[i] = encNV(V3, blocks[i])
		}
		for _, level := range []int{NoCompression, BestSpeed, DefaultCompression, BestCompression} {
			for _, impl := range []string{"ours", "ours-nosens", "zlib", "zlib+nv"} {
				b.Run(fmt.Sprintf("%s/level%d/%s", kind.name, level, impl), func(b *testing.B) {
					var encode func(i int) int
					switch impl {
					case "zlib", "zlib+nv":
						var buf bytes.Buffer
						w, err := zlib.NewWriterLevelDict(&buf, level, dictionary(V3))
						if err != nil {
							b.Fatal(err)
						}
						nv := make([]byte, 0, 4096)
						encode = func(i int) int {
							buf.Reset()
							if impl == "zlib" {
								w.Write(nvs[i%variants])
							} else {
								nv, _ = AppendUncompressed(nv[:0], V3, blocks[i%variants])
								w.Write(nv)
							}
							w.Flush()
							return buf.Len()
						}
					default:
						opts := &EncoderOptions{Level: level}
						if impl == "ours-nosens" {
							opts.Sensitive = NeverSensitive
						}
						e := NewEncoder(V3, opts)
						buf := make([]byte, 0, 4096)
						encode = func(i int) int {
							buf, _ = e.AppendBlock(buf[:0], blocks[i%variants])
							return len(buf)
						}
					}
					for i := range 2 * variants { // past the first blocks
						encode(i)
					}
					total := 0
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; b.Loop(); i++ {
						total += encode(i)
					}
					b.ReportMetric(float64(total)/float64(b.N), "B/block")
				})
			}
		}
	}
}

// BenchmarkNewEncoder measures what one session direction costs: creating
// the encoder and sending its first block. B/op is the per-encoder memory.
func BenchmarkNewEncoder(b *testing.B) {
	fields := encBenchRequest(V3, 0)
	nv := encNV(V3, fields)
	for _, level := range []int{NoCompression, BestSpeed, 2, DefaultCompression, BestCompression} {
		b.Run(fmt.Sprintf("level%d/ours", level), func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 4096)
			for b.Loop() {
				e := NewEncoder(V3, &EncoderOptions{Level: level})
				buf, _ = e.AppendBlock(buf[:0], fields)
			}
		})
		b.Run(fmt.Sprintf("level%d/zlib", level), func(b *testing.B) {
			b.ReportAllocs()
			var buf bytes.Buffer
			buf.Grow(4096)
			for b.Loop() {
				buf.Reset()
				w, _ := zlib.NewWriterLevelDict(&buf, level, dictionary(V3))
				w.Write(nv)
				w.Flush()
			}
		})
	}
}

// encMemPerEncoder returns the bytes allocated by newEnc, the mean over n
// calls, keeping the results alive meanwhile.
func encMemPerEncoder(n int, newEnc func() any) uint64 {
	keep := make([]any, n)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range keep {
		keep[i] = newEnc()
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(n)
}

// The per-encoder memory, ours against compress/zlib (which is why the
// package has its own compressor). Only our side is asserted.
func TestEncoderMemory(t *testing.T) {
	fields := encBenchRequest(V3, 0)
	nv := encNV(V3, fields)
	out := make([]byte, 0, 4096) // shared: only the encoders are measured
	for _, level := range []int{NoCompression, BestSpeed, 2, DefaultCompression, BestCompression} {
		ours := encMemPerEncoder(20, func() any {
			e := NewEncoder(V3, &EncoderOptions{Level: level})
			e.AppendBlock(out[:0], fields)
			return e
		})
		theirs := encMemPerEncoder(20, func() any {
			w, _ := zlib.NewWriterLevelDict(io.Discard, level, dictionary(V3))
			w.Write(nv)
			w.Flush()
			return w
		})
		t.Logf("level %2d: ours %6d B per encoder, compress/zlib %7d B", level, ours, theirs)
		limit := uint64(80 << 10)
		if level == NoCompression {
			limit = 1 << 10
		}
		if ours > limit {
			t.Errorf("level %d: %d bytes per encoder, want at most %d", level, ours, limit)
		}
	}
}
