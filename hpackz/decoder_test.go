package hpackz

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vectorBlock returns the header block of a §8 vector, checking the frame's
// length field on the way.
func vectorBlock(t testing.TB, hexFrame string, off int) []byte {
	t.Helper()
	b := hexBytes(t, hexFrame)
	if off < 0 {
		return b
	}
	if n := int(b[5])<<16 | int(b[6])<<8 | int(b[7]); n != len(b)-8 {
		t.Fatalf("frame length field %d, payload %d bytes", n, len(b)-8)
	}
	return b[8+off:]
}

// rawBlock encodes an uncompressed header block from name, value, name,
// value...; it writes whatever it is given, valid or not.
func rawBlock(v Version, nv ...string) []byte {
	b := appendLen(nil, v, len(nv)/2)
	for _, s := range nv {
		b = appendLen(b, v, len(s))
		b = append(b, s...)
	}
	return b
}

func appendLen(b []byte, v Version, n int) []byte {
	if v == V2 {
		return binary.BigEndian.AppendUint16(b, uint16(n))
	}
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

func fieldsOf(nv ...string) []Field {
	var f []Field
	for i := 0; i < len(nv); i += 2 {
		f = append(f, Field{nv[i], nv[i+1]})
	}
	return f
}

// zstream compresses blocks the way a SPDY sender using compress/zlib does:
// one writer per direction, one sync flush per block.
type zstream struct {
	buf bytes.Buffer
	w   *zlib.Writer
}

func newZStream(t testing.TB, v Version, level int) *zstream {
	z := new(zstream)
	w, err := zlib.NewWriterLevelDict(&z.buf, level, dictionary(v))
	if err != nil {
		t.Fatal(err)
	}
	z.w = w
	return z
}

func (z *zstream) block(raw []byte) []byte {
	z.w.Write(raw)
	z.w.Flush()
	out := bytes.Clone(z.buf.Bytes())
	z.buf.Reset()
	return out
}

func decodeAll(d *Decoder, block []byte) ([]Field, error) {
	var got []Field
	err := d.Decode(block, func(f Field) { got = append(got, f) })
	return got, err
}

var barFoo = fieldsOf("bar", "foo", "foo", "bar")

// TestDecodeVectors decodes every compressed vector of the digest with a
// fresh Decoder, and fails each with the other version's dictionary.
func TestDecodeVectors(t *testing.T) {
	browser := []string{":version", ":method", ":host", ":scheme", ":path", "pragma", "cache-control",
		"accept", "upgrade-insecure-requests", "user-agent", "accept-encoding", "accept-language", "cookie"}
	for _, tc := range compressedVectors {
		block := vectorBlock(t, tc.hex, tc.off)
		got, err := decodeAll(NewDecoder(tc.v, nil), block)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		switch tc.name {
		case "ZV2-BLOCK-chromium-get":
			if want := fieldsOf("method", "GET", "url", "http://www.google.com/", "version", "HTTP/1.1"); !slices.Equal(got, want) {
				t.Errorf("%s: got %v", tc.name, got)
			}
		case "ZV3-SYN-browser":
			var names []string
			for _, f := range got {
				names = append(names, f.Name)
			}
			if !slices.Equal(names, browser) {
				t.Errorf("%s: names %q", tc.name, names)
			}
			if got[0].Value != "HTTP/1.1" || got[1].Value != "GET" || got[2].Value != "www.afrind.sb.facebook.com" ||
				got[3].Value != "https" || got[4].Value != "/status.php" || got[10].Value != "gzip, deflate, sdch" {
				t.Errorf("%s: values %v", tc.name, got[:5])
			}
			if sum := sha256.Sum256(hexBytes(t, tc.hex)); hex.EncodeToString(sum[:]) != "379cf6aaf150d84c0706c822462cbd775fac61aa0e816bb64b1dd5ea2d3d0c4d" {
				t.Errorf("%s: frame bytes differ from the capture", tc.name)
			}
			// 1271 inflated bytes: exactly at a limit of 1271, over 1270.
			if _, err := decodeAll(NewDecoder(V3, &DecoderOptions{MaxBlockSize: 1271}), block); err != nil {
				t.Errorf("%s: limit 1271: %v", tc.name, err)
			}
			_, err := decodeAll(NewDecoder(V3, &DecoderOptions{MaxBlockSize: 1270}), block)
			if e, ok := err.(*TooLargeError); !ok || e.Size != 1271 || e.Limit != 1270 {
				t.Errorf("%s: limit 1270: %v", tc.name, err)
			}
		default:
			if !slices.Equal(got, barFoo) {
				t.Errorf("%s: got %v", tc.name, got)
			}
		}

		// The other version's dictionary: the stream is unusable.
		other := V2 + V3 - tc.v
		d := NewDecoder(other, nil)
		_, err = decodeAll(d, block)
		var ce *CompressionError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "dictionary") {
			t.Errorf("%s as %v: %v, want a dictionary CompressionError", tc.name, other, err)
		}
		if _, err2 := decodeAll(d, block); err2 != err {
			t.Errorf("%s as %v: second call %v, want the same error", tc.name, other, err2)
		}
	}
}

// TestDecodeUncompressedVectors parses the inflated blocks of §7.
func TestDecodeUncompressedVectors(t *testing.T) {
	for _, tc := range []struct {
		v    Version
		hex  string
		want []Field
	}{
		{V3, nvV3BarFoo, barFoo},
		{V2, nvV2BarFoo, barFoo},
		{V3, nvV3MultiValue, fieldsOf("set-cookie", "a=1\x00b=2")},
	} {
		d := NewDecoder(tc.v, nil)
		got, err := d.parse(nil, hexBytes(t, tc.hex))
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%v %v: got %v, %v", tc.v, tc.want, got, err)
		}
	}
	got, _ := NewDecoder(V3, nil).parse(nil, hexBytes(t, nvV3MultiValue))
	if v := got[0].Values(); !slices.Equal(v, []string{"a=1", "b=2"}) {
		t.Errorf("values %q", v)
	}
}

// TestDecodeSharedContext: the two blocks of §9 through one Decoder; the
// second alone cannot be decoded.
func TestDecodeSharedContext(t *testing.T) {
	b1, b2 := hexBytes(t, ctxV3Block1), hexBytes(t, ctxV3Block2)
	want := fieldsOf(":method", "GET", ":path", "/", ":version", "HTTP/1.1", ":host", "example.com", ":scheme", "https")
	d := NewDecoder(V3, nil)
	got, err := decodeAll(d, b1)
	if err != nil || !sameFieldSet(got, want) {
		t.Fatalf("block 1: %v, %v", got, err)
	}
	want[1].Value = "/style.css"
	got, err = decodeAll(d, b2)
	if err != nil || !sameFieldSet(got, want) {
		t.Fatalf("block 2: %v, %v", got, err)
	}
	var ce *CompressionError
	if _, err := decodeAll(NewDecoder(V3, nil), b2); !errors.As(err, &ce) {
		t.Errorf("block 2 alone: %v, want a CompressionError", err)
	}
}

// sameFieldSet compares fields regardless of order (§9 does not say the
// order).
func sameFieldSet(a, b []Field) bool {
	cmp := func(x, y Field) int { return strings.Compare(x.Name, y.Name) }
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, cmp)
	slices.SortFunc(b, cmp)
	return slices.Equal(a, b)
}

// badBlocks are inflated blocks that break a rule of the format, for each
// version.
func badBlocks(v Version) []struct {
	name string
	raw  []byte
} {
	ls := v.lenSize()
	huge := bytes.Repeat([]byte{0xff}, ls)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	blocks := []struct {
		name string
		raw  []byte
	}{
		{"empty", nil},
		{"short count", make([]byte, ls-1)},
		{"count without pairs", appendLen(nil, v, 1)},
		{"huge count", cat(huge, rawBlock(v, "a", "b")[ls:])},
		{"huge name length", cat(appendLen(nil, v, 1), huge, []byte("abcdefgh"))},
		{"huge value length", cat(appendLen(nil, v, 1), appendLen(nil, v, 1), []byte("a"), huge, []byte("xyz"))},
		{"value length cut", cat(appendLen(nil, v, 1), appendLen(nil, v, 1), []byte("a"), make([]byte, ls-1))},
		{"name past the end", cat(appendLen(nil, v, 1), appendLen(nil, v, 9), []byte("abc"), appendLen(nil, v, 0))},
		{"bytes after the last pair", append(rawBlock(v, "a", "b"), 0)},
		{"bytes after a zero count", append(rawBlock(v), 'x', 'y', 'z', 'w')},
		{"empty name", rawBlock(v, "", "x")},
		{"upper-case name", rawBlock(v, "Host", "x")},
		{"space in name", rawBlock(v, "a b", "x")},
		{"NUL in name", rawBlock(v, "a\x00b", "x")},
		{"non-ASCII name", rawBlock(v, "caf\xc3\xa9", "x")},
		{"leading NUL", rawBlock(v, "a", "\x00x")},
		{"trailing NUL", rawBlock(v, "a", "x\x00")},
		{"double NUL", rawBlock(v, "a", "x\x00\x00y")},
		{"NUL only", rawBlock(v, "a", "\x00")},
		{"duplicate", rawBlock(v, "a", "1", "b", "2", "a", "3")},
		{"duplicate, 16 pairs", rawBlock(v, manyPairs(16, 3)...)},
		{"duplicate, 17 pairs", rawBlock(v, manyPairs(17, 16)...)},
		{"duplicate, 40 pairs", rawBlock(v, manyPairs(40, 39)...)},
		{"bad field after good ones", rawBlock(v, "a", "1", "b", "2", "C", "3")},
	}
	if v == V2 {
		blocks = append(blocks, struct {
			name string
			raw  []byte
		}{"empty value (spdy/2)", rawBlock(v, "a", "")})
	}
	return blocks
}

// manyPairs returns n distinct pairs, except that pair dup repeats the name
// of pair 0 (dup < 0: none).
func manyPairs(n, dup int) []string {
	var nv []string
	for i := range n {
		name := fmt.Sprintf("x-header-%d", i)
		if i == dup {
			name = "x-header-0"
		}
		nv = append(nv, name, fmt.Sprint(i))
	}
	return nv
}

// TestDecodeBlockErrors: each rule broken gives a BlockError, emits nothing
// and leaves the context in step for the next block.
func TestDecodeBlockErrors(t *testing.T) {
	for _, v := range []Version{V2, V3} {
		z := newZStream(t, v, 6)
		d := NewDecoder(v, nil)
		good := rawBlock(v, ":method", "GET", "x-many", "a\x00b\x00c")
		if _, err := decodeAll(d, z.block(good)); err != nil {
			t.Fatalf("%v: first block: %v", v, err)
		}
		for _, tc := range badBlocks(v) {
			emitted := 0
			err := d.Decode(z.block(tc.raw), func(Field) { emitted++ })
			var be *BlockError
			if !errors.As(err, &be) {
				t.Errorf("%v %s: %v, want a BlockError", v, tc.name, err)
			}
			if emitted != 0 {
				t.Errorf("%v %s: emitted %d fields", v, tc.name, emitted)
			}
			got, err := decodeAll(d, z.block(good))
			if err != nil || len(got) != 2 {
				t.Fatalf("%v: block after %s: %v, %v", v, tc.name, got, err)
			}
		}
	}
}

// TestDecodeValidEdges: blocks at the edges of the rules that must pass.
func TestDecodeValidEdges(t *testing.T) {
	for _, tc := range []struct {
		v    Version
		raw  []byte
		want []Field
	}{
		{V3, rawBlock(V3), nil},
		{V2, rawBlock(V2), nil},
		{V3, rawBlock(V3, "a", ""), fieldsOf("a", "")},
		{V3, rawBlock(V3, "a", "x\x00y\x00z"), fieldsOf("a", "x\x00y\x00z")},
		{V2, rawBlock(V2, "a", "x\x00y"), fieldsOf("a", "x\x00y")},
		{V3, rawBlock(V3, "~!#$%&'*+-.^_`|0", "\x01\xff\x7f any bytes"), fieldsOf("~!#$%&'*+-.^_`|0", "\x01\xff\x7f any bytes")},
		{V3, rawBlock(V3, manyPairs(16, -1)...), fieldsOf(manyPairs(16, -1)...)},
		{V3, rawBlock(V3, manyPairs(200, -1)...), fieldsOf(manyPairs(200, -1)...)},
	} {
		got, err := decodeAll(NewDecoder(tc.v, nil), newZStream(t, tc.v, 6).block(tc.raw))
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%v %q: got %v, %v", tc.v, tc.raw, got, err)
		}
	}
}

// TestDecodeManyBlocks runs long streams from compress/zlib at several
// levels through one Decoder, with invalid and oversized blocks among them.
func TestDecodeManyBlocks(t *testing.T) {
	const limit = 4096
	r := rand.New(rand.NewSource(10))
	names := []string{":method", ":path", ":host", ":scheme", ":version", "accept", "cookie", "user-agent", "x-trace", "referer"}
	for _, v := range []Version{V2, V3} {
		bad := badBlocks(v)
		for _, level := range []int{flate.NoCompression, flate.BestSpeed, 5, flate.BestCompression, flate.HuffmanOnly} {
			z := newZStream(t, v, level)
			d := NewDecoder(v, &DecoderOptions{MaxBlockSize: limit})
			var dst []Field
			for i := range 300 {
				var raw []byte
				var want []Field
				kind := "valid"
				switch {
				case i%7 == 3:
					kind = "invalid"
					raw = bad[i%len(bad)].raw
				case i%11 == 5:
					kind = "too large"
					raw = rawBlock(v, "cookie", strings.Repeat("c", limit+i))
				default:
					for _, n := range names[:1+r.Intn(len(names))] {
						val := fmt.Sprintf("value-%d-%d", r.Intn(20), r.Intn(3))
						if r.Intn(5) == 0 {
							val += "\x00second"
						}
						want = append(want, Field{n, val})
					}
					var nv []string
					for _, f := range want {
						nv = append(nv, f.Name, f.Value)
					}
					raw = rawBlock(v, nv...)
				}
				var err error
				dst, err = d.AppendFields(dst[:0], z.block(raw))
				var be *BlockError
				var tl *TooLargeError
				switch {
				case kind == "valid" && (err != nil || !slices.Equal(dst, want)):
					t.Fatalf("%v level %d block %d: %v, %v", v, level, i, dst, err)
				case kind == "invalid" && !errors.As(err, &be):
					t.Fatalf("%v level %d block %d (%s): %v, want a BlockError", v, level, i, bad[i%len(bad)].name, err)
				case kind == "too large" && (!errors.As(err, &tl) || tl.Size != len(raw) || tl.Limit != limit):
					t.Fatalf("%v level %d block %d: %v, want a TooLargeError of %d", v, level, i, err, len(raw))
				}
				if err != nil && len(dst) != 0 {
					t.Fatalf("%v level %d block %d: fields returned with an error", v, level, i)
				}
			}
		}
	}
}

// TestDecodeTruncated: every prefix of a valid block is a CompressionError,
// whether it is the first block of a direction or a later one.
func TestDecodeTruncated(t *testing.T) {
	type stream struct {
		name   string
		v      Version
		blocks [][]byte
	}
	var streams []stream
	for _, tc := range compressedVectors {
		streams = append(streams, stream{tc.name, tc.v, [][]byte{vectorBlock(t, tc.hex, tc.off)}})
	}
	streams = append(streams, stream{"CTX-v3", V3, [][]byte{hexBytes(t, ctxV3Block1), hexBytes(t, ctxV3Block2)}})
	for _, level := range []int{flate.NoCompression, flate.BestSpeed, flate.BestCompression} {
		z := newZStream(t, V3, level)
		s := stream{fmt.Sprint("zlib level ", level), V3, nil}
		for i := range 3 {
			s.blocks = append(s.blocks, z.block(rawBlock(V3, ":path", strings.Repeat("/x", i*50), "accept", "*/*")))
		}
		streams = append(streams, s)
	}
	for _, s := range streams {
		for i, block := range s.blocks {
			for n := range len(block) {
				d := NewDecoder(s.v, nil)
				for _, prev := range s.blocks[:i] {
					if _, err := decodeAll(d, prev); err != nil {
						t.Fatal(err)
					}
				}
				_, err := decodeAll(d, block[:n])
				var ce *CompressionError
				if !errors.As(err, &ce) {
					t.Fatalf("%s block %d: prefix of %d/%d bytes: %v, want a CompressionError", s.name, i, n, len(block), err)
				}
			}
		}
	}
}

// TestDecodeBomb: a block that inflates to megabytes is reported as too
// large, never held in memory beyond the limit, and the next block decodes.
func TestDecodeBomb(t *testing.T) {
	z := newZStream(t, V3, flate.BestCompression)
	bombRaw := rawBlock(V3, "x-bomb", strings.Repeat("a", 8<<20))
	bomb := z.block(bombRaw)
	if len(bomb) > 16<<10 {
		t.Fatalf("bomb compressed to %d bytes", len(bomb))
	}
	d := NewDecoder(V3, nil)
	_, err := decodeAll(d, bomb)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Size != len(bombRaw) || tl.Limit != DefaultMaxBlockSize {
		t.Fatalf("bomb: %v", err)
	}
	if cap(d.buf) > DefaultMaxBlockSize {
		t.Errorf("bomb: buffer of %d bytes, limit %d", cap(d.buf), DefaultMaxBlockSize)
	}
	got, err := decodeAll(d, z.block(rawBlock(V3, ":status", "200")))
	if err != nil || !slices.Equal(got, fieldsOf(":status", "200")) {
		t.Fatalf("after the bomb: %v, %v", got, err)
	}

	// In steady state a bomb costs the error value and nothing else.
	var bombs [][]byte
	for range 11 {
		bombs = append(bombs, z.block(rawBlock(V3, "x-bomb", strings.Repeat("b", 1<<20))))
	}
	i := 0
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := d.AppendFields(nil, bombs[i]); !errors.As(err, &tl) {
			t.Fatal(err)
		}
		i++
	})
	if allocs > 1 {
		t.Errorf("%v allocations per bomb, want at most 1", allocs)
	}
}

// TestDecodeHugeCounts: counts and lengths far beyond the block are refused
// before anything is allocated for them.
func TestDecodeHugeCounts(t *testing.T) {
	for _, v := range []Version{V2, V3} {
		huge := bytes.Repeat([]byte{0xff}, v.lenSize())
		for _, raw := range [][]byte{
			append(slices.Clone(huge), make([]byte, 64)...),
			append(append(appendLen(nil, v, 1), huge...), make([]byte, 64)...),
		} {
			z := newZStream(t, v, 6)
			var blocks [][]byte
			for range 102 {
				blocks = append(blocks, z.block(raw))
			}
			d := NewDecoder(v, nil)
			dst := make([]Field, 0, 4)
			i := 0
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			allocs := testing.AllocsPerRun(100, func() {
				if _, err := d.AppendFields(dst, blocks[i]); !isBlockError(err) {
					t.Fatalf("%v: %v, want a BlockError", v, err)
				}
				i++
			})
			runtime.ReadMemStats(&after)
			if allocs != 0 {
				t.Errorf("%v: %v allocations per block", v, allocs)
			}
			if b := (after.TotalAlloc - before.TotalAlloc) / 101; b > 256 {
				t.Errorf("%v: %d bytes allocated per block", v, b)
			}
		}
	}
}

// isBlockError is errors.As without the allocation of its target.
func isBlockError(err error) bool {
	_, ok := err.(*BlockError)
	return ok
}

// TestDecodeZlibHeader checks the header of a direction's first block.
func TestDecodeZlibHeader(t *testing.T) {
	var spdystream []byte
	for _, tc := range compressedVectors {
		if tc.name == "ZV3-SYN-spdystream" {
			spdystream = vectorBlock(t, tc.hex, tc.off)
		}
	}
	body := spdystream[6:]
	// header returns a CMF/FLG pair with valid check bits.
	header := func(cmf, flg byte) []byte {
		flg &^= 31
		flg += byte(31 - (uint(cmf)<<8|uint(flg))%31)
		if (uint(cmf)<<8|uint(flg))%31 != 0 {
			flg -= 31
		}
		return []byte{cmf, flg}
	}
	id := binary.BigEndian.AppendUint32(nil, dictV3ID)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name  string
		block []byte
		ok    bool
	}{
		{"spdystream 78 f9", spdystream, true},
		{"chromium 38 ea", cat([]byte{0x38, 0xea}, id, body), true},
		{"window 256 bytes", cat(header(0x08, 0x20), id, body), true},
		{"level 0 flags", cat(header(0x78, 0x20), id, body), true},
		{"window too large", cat(header(0x88, 0x20), id, body), false},
		{"method 7", cat(header(0x77, 0x20), id, body), false},
		{"method 15", cat(header(0x7f, 0x20), id, body), false},
		{"check bits", cat([]byte{0x78, 0xfa}, id, body), false},
		{"no dictionary", cat(header(0x78, 0x80), body), false},
		{"spdy/2 dictionary", cat(header(0x78, 0xe0), binary.BigEndian.AppendUint32(nil, dictV2ID), body), false},
		{"unknown dictionary", cat(header(0x78, 0xe0), []byte{1, 2, 3, 4}, body), false},
		{"empty", nil, false},
		{"1 byte", spdystream[:1], false},
		{"header only", spdystream[:2], false},
		{"header and 3 id bytes", spdystream[:5], false},
		{"header and id", spdystream[:6], false},
	} {
		got, err := decodeAll(NewDecoder(V3, nil), tc.block)
		var ce *CompressionError
		switch {
		case tc.ok && (err != nil || !slices.Equal(got, barFoo)):
			t.Errorf("%s: %v, %v", tc.name, got, err)
		case !tc.ok && !errors.As(err, &ce):
			t.Errorf("%s: %v, want a CompressionError", tc.name, err)
		}
	}
}

// TestDecodeCompressionErrorSticky: after a CompressionError every call
// returns that same error, whatever it is given.
func TestDecodeCompressionErrorSticky(t *testing.T) {
	z := newZStream(t, V3, 6)
	d := NewDecoder(V3, nil)
	if _, err := decodeAll(d, z.block(rawBlock(V3, "a", "1"))); err != nil {
		t.Fatal(err)
	}
	corrupt := z.block(rawBlock(V3, "b", "2"))
	corrupt[0] ^= 0x06 // block type 3
	_, err := decodeAll(d, corrupt)
	var ce *CompressionError
	if !errors.As(err, &ce) {
		t.Fatalf("corrupt block: %v", err)
	}
	for range 3 {
		if _, err2 := decodeAll(d, z.block(rawBlock(V3, "c", "3"))); err2 != err {
			t.Fatalf("later block: %v, want the first error", err2)
		}
		if _, err2 := d.AppendFields(nil, nil); err2 != err {
			t.Fatalf("later empty block: %v, want the first error", err2)
		}
	}
}

func TestNewDecoderPanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"version 0", func() { NewDecoder(0, nil) }},
		{"version 4", func() { NewDecoder(4, nil) }},
		{"negative limit", func() { NewDecoder(V3, &DecoderOptions{MaxBlockSize: -1}) }},
		{"zero Decoder", func() { new(Decoder).Decode([]byte{0x78}, func(Field) {}) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			tc.f()
		}()
	}
	if d := NewDecoder(V2, &DecoderOptions{}); d.limit != DefaultMaxBlockSize {
		t.Errorf("zero MaxBlockSize: limit %d", d.limit)
	}
}

// TestAppendFields: fields are appended to dst, which comes back unchanged
// on error.
func TestAppendFields(t *testing.T) {
	z := newZStream(t, V3, 6)
	d := NewDecoder(V3, nil)
	dst := fieldsOf("keep", "me")
	dst, err := d.AppendFields(dst, z.block(rawBlock(V3, "a", "1", "b", "2")))
	if err != nil || !slices.Equal(dst, fieldsOf("keep", "me", "a", "1", "b", "2")) {
		t.Fatalf("got %v, %v", dst, err)
	}
	dst2, err := d.AppendFields(dst, z.block(rawBlock(V3, "c", "3", "c", "4")))
	if err == nil || !slices.Equal(dst2, dst) {
		t.Fatalf("duplicate: got %v, %v", dst2, err)
	}
}

// TestDecodeAllocs: in steady state a block costs one allocation, the string
// its fields share.
func TestDecodeAllocs(t *testing.T) {
	blocks, _ := requestBlocks(t, V3, flate.DefaultCompression, 102)
	d := NewDecoder(V3, nil)
	n := 0
	emit := func(Field) { n++ }
	i := 0
	if allocs := testing.AllocsPerRun(100, func() {
		if err := d.Decode(blocks[i], emit); err != nil {
			t.Fatal(err)
		}
		i++
	}); allocs != 1 {
		t.Errorf("Decode: %v allocations per block, want 1", allocs)
	}

	blocks, _ = requestBlocks(t, V3, flate.DefaultCompression, 102)
	d = NewDecoder(V3, nil)
	var dst []Field
	i = 0
	if allocs := testing.AllocsPerRun(100, func() {
		var err error
		if dst, err = d.AppendFields(dst[:0], blocks[i]); err != nil {
			t.Fatal(err)
		}
		i++
	}); allocs != 1 {
		t.Errorf("AppendFields: %v allocations per block, want 1", allocs)
	}
}
