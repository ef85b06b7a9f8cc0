package hpackz

import (
	"bytes"
	"compress/flate"
	"errors"
	"math/rand"
	"testing"
)

// This file tests the deflate layer with blocks written bit by bit by a
// small independent encoder, and against compress/flate.

// bitWriter writes a deflate bit stream, least significant bit first.
type bitWriter struct {
	out []byte
	acc uint64
	n   uint
}

func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.n
	w.n += n
	for w.n >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

// code writes a Huffman code, most significant bit first.
func (w *bitWriter) code(c uint32, l uint8) {
	for i := int(l) - 1; i >= 0; i-- {
		w.bits(uint64(c>>uint(i)&1), 1)
	}
}

func (w *bitWriter) align() {
	if w.n > 0 {
		w.bits(0, 8-w.n)
	}
}

// stored writes a whole stored block; stored(nil, false) is the sync flush.
func (w *bitWriter) stored(data []byte, final bool) {
	w.header(final, 0)
	w.align()
	n := len(data)
	w.out = append(w.out, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8))
	w.out = append(w.out, data...)
}

func (w *bitWriter) header(final bool, typ uint64) {
	f := uint64(0)
	if final {
		f = 1
	}
	w.bits(f|typ<<1, 3)
}

// bytes returns the stream so far, padding a partial byte with pad.
func (w *bitWriter) bytes(pad uint64) []byte {
	out := append([]byte(nil), w.out...)
	if w.n > 0 {
		out = append(out, byte(w.acc|pad<<w.n))
	}
	return out
}

// huffCode is a canonical Huffman code, built the slow, obvious way.
type huffCode struct {
	lens  []uint8
	codes []uint32
}

func newHuffCode(lens []uint8) huffCode {
	codes := make([]uint32, len(lens))
	code := uint32(0)
	for l := uint8(1); l <= 15; l++ {
		for s, sl := range lens {
			if sl == l {
				codes[s] = code
				code++
			}
		}
		code <<= 1
	}
	return huffCode{lens, codes}
}

func (h huffCode) put(w *bitWriter, sym int) {
	if h.lens[sym] == 0 {
		panic("symbol without a code")
	}
	w.code(h.codes[sym], h.lens[sym])
}

// The length and distance code tables of RFC 1951 section 3.2.5, as printed
// there.
var (
	testLenBase  = []int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	testLenExtra = []uint{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	testDistBase = []int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	testDistExtr = []uint{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

func fixedCodes() (lit, dist huffCode) {
	ll := make([]uint8, 288)
	for i := range ll {
		switch {
		case i < 144:
			ll[i] = 8
		case i < 256:
			ll[i] = 9
		case i < 280:
			ll[i] = 7
		default:
			ll[i] = 8
		}
	}
	dl := make([]uint8, 32)
	for i := range dl {
		dl[i] = 5
	}
	return newHuffCode(ll), newHuffCode(dl)
}

// blockWriter writes the data of a fixed or dynamic block and keeps the
// expected output in step.
type blockWriter struct {
	bitWriter
	lit, dist huffCode
	hist      []byte // everything the stream has produced, dictionary first
}

func (b *blockWriter) literal(c byte) {
	b.lit.put(&b.bitWriter, int(c))
	b.hist = append(b.hist, c)
}

// match writes a back-reference; with long258 it spells length 258 as code
// 284 plus 31 instead of code 285.
func (b *blockWriter) match(length, dist int, long258 bool) {
	i := len(testLenBase) - 1
	for testLenBase[i] > length || (long258 && i == 28) {
		i--
	}
	b.lit.put(&b.bitWriter, 257+i)
	b.bits(uint64(length-testLenBase[i]), testLenExtra[i])
	j := len(testDistBase) - 1
	for testDistBase[j] > dist {
		j--
	}
	b.dist.put(&b.bitWriter, j)
	b.bits(uint64(dist-testDistBase[j]), testDistExtr[j])
	if dist > len(b.hist) {
		return // invalid on purpose: nothing to model
	}
	for range length {
		b.hist = append(b.hist, b.hist[len(b.hist)-dist])
	}
}

func (b *blockWriter) eob() { b.lit.put(&b.bitWriter, 256) }

func newFixedWriter(dict []byte) *blockWriter {
	lit, dist := fixedCodes()
	return &blockWriter{lit: lit, dist: dist, hist: append([]byte(nil), dict...)}
}

// clItem is one symbol of the code-length alphabet and its extra bits.
type clItem struct {
	sym   int
	extra uint64
}

// dynamicHeader writes a dynamic block header with the given counts,
// code-length code and code-length symbols.
func (w *bitWriter) dynamicHeader(final bool, nlit, ndist int, clLens []uint8, items []clItem) {
	w.header(final, 2)
	nclen := 19
	for nclen > 4 && clLens[clOrder[nclen-1]] == 0 {
		nclen--
	}
	w.bits(uint64(nlit-257), 5)
	w.bits(uint64(ndist-1), 5)
	w.bits(uint64(nclen-4), 4)
	for _, s := range clOrder[:nclen] {
		w.bits(uint64(clLens[s]), 3)
	}
	cl := newHuffCode(clLens)
	for _, it := range items {
		cl.put(w, it.sym)
		switch it.sym {
		case 16:
			w.bits(it.extra, 2)
		case 17:
			w.bits(it.extra, 3)
		case 18:
			w.bits(it.extra, 7)
		}
	}
}

// directCL is a complete code-length code in which the lengths 0-15 are
// sent as themselves (4 bits each) and no repeat codes exist.
var directCL = []uint8{4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 0, 0, 0}

// newDynamicWriter starts a dynamic block with the given code lengths.
func newDynamicWriter(dict []byte, final bool, litLens, distLens []uint8) *blockWriter {
	b := &blockWriter{hist: append([]byte(nil), dict...)}
	var items []clItem
	for _, l := range append(append([]uint8(nil), litLens...), distLens...) {
		items = append(items, clItem{sym: int(l)})
	}
	b.dynamicHeader(final, len(litLens), len(distLens), directCL, items)
	b.lit, b.dist = newHuffCode(litLens), newHuffCode(distLens)
	return b
}

func mustInflate(t *testing.T, f *inflater, chunk []byte) []byte {
	t.Helper()
	out, size, err := f.inflate(nil, chunk, 1<<30)
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	if size != len(out) {
		t.Fatalf("size %d, output %d bytes", size, len(out))
	}
	return out
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	r.Read(b)
	return b
}

func TestInflateStored(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	big := randomBytes(r, 65535)
	var f inflater
	f.init(nil)
	for _, tc := range []struct {
		name   string
		blocks [][]byte
	}{
		{"empty", nil},
		{"one", [][]byte{[]byte("hello")}},
		{"several", [][]byte{[]byte("a"), nil, []byte("bc"), []byte("def")}},
		{"max length", [][]byte{big}},
		{"max length twice", [][]byte{big, big[:40000]}},
	} {
		var w bitWriter
		var want []byte
		for _, b := range tc.blocks {
			w.stored(b, false)
			want = append(want, b...)
		}
		w.stored(nil, false)
		if got := mustInflate(t, &f, w.bytes(0)); !bytes.Equal(got, want) {
			t.Errorf("%s: got %d bytes, want %d", tc.name, len(got), len(want))
		}
	}
}

// TestInflateLengths checks every match length, each way it can be coded,
// with overlapping and plain copies.
func TestInflateLengths(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	var f inflater
	f.init(nil)
	b := newFixedWriter(nil)
	var w bitWriter
	hist := randomBytes(r, 1000)
	w.stored(hist, false)
	w.stored(nil, false)
	mustInflate(t, &f, w.bytes(0))
	b.hist = append(b.hist, hist...)
	for _, dist := range []int{1, 2, 3, 100, 258, 300, 1000} {
		b.bitWriter = bitWriter{}
		b.header(false, 1)
		start := len(b.hist)
		for length := 3; length <= 258; length++ {
			b.match(length, dist, false)
		}
		b.match(258, dist, true) // code 284 + 31
		b.eob()
		b.stored(nil, false)
		if got := mustInflate(t, &f, b.bytes(0)); !bytes.Equal(got, b.hist[start:]) {
			t.Fatalf("dist %d: output differs", dist)
		}
	}
}

// TestInflateDistances checks every distance code at its smallest and
// largest distance, up to 32768, over a history that wraps the window, with
// matches that cross its end.
func TestInflateDistances(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	var f inflater
	f.init(dictV3)
	b := newFixedWriter(dictV3)
	for range 3 { // 3*20000 bytes: the ring wraps
		var w bitWriter
		data := randomBytes(r, 20000)
		w.stored(data, false)
		w.stored(nil, false)
		mustInflate(t, &f, w.bytes(0))
		b.hist = append(b.hist, data...)
	}
	var dists []int
	for j, base := range testDistBase {
		dists = append(dists, base, base+1<<testDistExtr[j]-1)
	}
	for round := range 40 { // enough output to cross the ring end often
		b.bitWriter = bitWriter{}
		b.header(false, 1)
		start := len(b.hist)
		for i, dist := range dists {
			b.match(3+(i*7+round*31)%256, dist, false)
			b.literal(byte(i))
		}
		b.eob()
		b.stored(nil, false)
		if got := mustInflate(t, &f, b.bytes(0)); !bytes.Equal(got, b.hist[start:]) {
			t.Fatalf("round %d: output differs", round)
		}
	}
}

// TestInflateDictionary checks back-references into the preset dictionary,
// and that the dictionary is all the history a fresh stream has.
func TestInflateDictionary(t *testing.T) {
	for _, v := range []Version{V2, V3} {
		dict := dictionary(v)
		var f inflater
		f.init(dict)
		b := newFixedWriter(dict)
		b.header(false, 1)
		b.match(10, len(dict), false) // the dictionary's first bytes
		b.match(258, 300, false)
		b.match(3, 1, false)
		b.eob()
		b.stored(nil, false)
		if got := mustInflate(t, &f, b.bytes(0)); !bytes.Equal(got, b.hist[len(dict):]) {
			t.Errorf("%v: output %q", v, got)
		}

		// One byte further than the dictionary reaches.
		f.init(dict)
		b = newFixedWriter(dict)
		b.header(false, 1)
		b.literal('x')
		b.match(3, len(dict)+2, false)
		b.eob()
		b.stored(nil, false)
		if _, _, err := f.inflate(nil, b.bytes(0), 1000); err != errDistTooFar {
			t.Errorf("%v: distance past the dictionary: %v", v, err)
		}
	}
	var f inflater
	f.init(nil)
	b := newFixedWriter(nil)
	b.header(false, 1)
	b.match(3, 1, false)
	b.eob()
	if _, _, err := f.inflate(nil, b.bytes(0), 1000); err != errDistTooFar {
		t.Errorf("match with no history: %v", err)
	}
}

// TestInflateDynamic decodes dynamic blocks whose codes reach 15 bits, so
// that both tables need sub-tables.
func TestInflateDynamic(t *testing.T) {
	litLens := make([]uint8, 286)
	// Lengths 1..14 once and 15 twice: a complete code.
	litSyms := []int{'a', 256, 'b', 257, 'c', 285, 'd', 270, 'e', 'f', 'g', 284, 'h', 'i', 'j', 280}
	for i, s := range litSyms {
		litLens[s] = uint8(min(i+1, 15))
	}
	distLens := make([]uint8, 30)
	distSyms := []int{0, 29, 3, 10, 20, 25, 1, 2, 4, 5, 6, 7, 8, 9, 11, 12}
	for i, s := range distSyms {
		distLens[s] = uint8(min(i+1, 15))
	}
	history := randomBytes(rand.New(rand.NewSource(8)), 40000)
	for _, final := range []bool{false, true} {
		var f inflater
		f.init(dictV2)
		var w bitWriter
		w.stored(history, false)
		w.stored(nil, false)
		mustInflate(t, &f, w.bytes(0))

		b := newDynamicWriter(nil, final, litLens, distLens)
		b.hist = append(append(b.hist, dictV2...), history...)
		start := len(b.hist)
		for _, c := range []byte("abcdefghij") {
			b.literal(c)
		}
		// Only lengths and distances the codes above can express.
		for _, m := range [][2]int{{3, 1}, {258, 5}, {24, 1100}, {120, 7000}, {227, 24577},
			{250, 32768}, {3, 3}, {26, 40}, {130, 70}, {23, 1536}} {
			b.match(m[0], m[1], false)
		}
		b.match(258, 2, true)
		b.eob()
		if !final {
			b.stored(nil, false)
		}
		if got := mustInflate(t, &f, b.bytes(0)); !bytes.Equal(got, b.hist[start:]) {
			t.Fatalf("final=%v: output differs", final)
		}
	}
}

// TestInflateDegenerateCodes: a code with a single one-bit code is accepted
// (as zlib and compress/flate do), and its unused bit pattern is invalid; an
// empty distance code is fine for a block of literals only.
func TestInflateDegenerateCodes(t *testing.T) {
	lit := make([]uint8, 257)
	lit[256] = 1 // only end-of-block
	for _, tc := range []struct {
		name     string
		litLens  []uint8
		distLens []uint8
		body     func(b *blockWriter)
		err      error
	}{
		{"eob only", lit, []uint8{0}, func(b *blockWriter) { b.eob() }, nil},
		{"eob only, other bit", lit, []uint8{0}, func(b *blockWriter) { b.bits(1, 1) }, errBadLitLen},
		{"one distance code", withLens(258, 'a', 1, 256, 2, 257, 2), []uint8{1}, func(b *blockWriter) {
			b.literal('a')
			b.match(3, 1, false)
			b.eob()
		}, nil},
		{"one distance code, other bit", withLens(258, 'a', 1, 256, 2, 257, 2), []uint8{1}, func(b *blockWriter) {
			b.literal('a')
			b.lit.put(&b.bitWriter, 257)
			b.bits(1, 1)
		}, errBadDist},
		{"no distance codes", withLens(258, 'a', 1, 256, 2, 257, 2), []uint8{0}, func(b *blockWriter) {
			b.literal('a')
			b.eob()
		}, nil},
		{"no distance codes, match", withLens(258, 'a', 1, 256, 2, 257, 2), []uint8{0}, func(b *blockWriter) {
			b.literal('a')
			b.lit.put(&b.bitWriter, 257)
		}, errBadDist},
	} {
		b := newDynamicWriter(nil, false, tc.litLens, tc.distLens)
		tc.body(b)
		if tc.err == nil {
			b.stored(nil, false)
		} else {
			b.align()
		}
		var f inflater
		f.init(nil)
		out, _, err := f.inflate(nil, b.bytes(0), 100)
		if err != tc.err {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.err)
		}
		if err == nil && !bytes.Equal(out, b.hist) {
			t.Errorf("%s: output %q, want %q", tc.name, out, b.hist)
		}
	}
}

// withLens returns n code lengths, zero except for the given symbol/length
// pairs.
func withLens(n int, symLen ...int) []uint8 {
	l := make([]uint8, n)
	for i := 0; i < len(symLen); i += 2 {
		l[symLen[i]] = uint8(symLen[i+1])
	}
	return l
}

func repeat(n int, l uint8) []uint8 { return bytes.Repeat([]uint8{l}, n) }

// TestInflateInvalid feeds malformed blocks: every one is an error.
func TestInflateInvalid(t *testing.T) {
	// A code-length code with the repeat codes: 0-12 and 16-18, 4 bits.
	repCL := []uint8{4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 0, 0, 0, 4, 4, 4}
	complete8 := append(repeat(256, 8), 0) // 256 literals, no end-of-block
	okLit := withLens(257, 'a', 1, 256, 1)
	for _, tc := range []struct {
		name  string
		write func(w *bitWriter)
		err   error
	}{
		{"reserved block type", func(w *bitWriter) { w.header(false, 3); w.bits(0, 13) }, errBlockType},
		{"stored length check", func(w *bitWriter) {
			w.header(false, 0)
			w.align()
			w.out = append(w.out, 5, 0, 0xfa, 0xfe, 1, 2, 3, 4, 5)
		}, errStoredLen},
		{"287 literal/length codes", func(w *bitWriter) {
			w.dynamicHeader(false, 287, 1, directCL, nil)
		}, errCodeCount},
		{"31 distance codes", func(w *bitWriter) {
			w.dynamicHeader(false, 257, 31, directCL, nil)
		}, errCodeCount},
		{"over-subscribed code-length code", func(w *bitWriter) {
			w.dynamicHeader(false, 257, 1, withLens(19, 0, 1, 1, 1, 2, 1), nil)
		}, errOverSubscribe},
		{"incomplete code-length code", func(w *bitWriter) {
			w.dynamicHeader(false, 257, 1, withLens(19, 0, 2, 1, 2), nil)
		}, errIncomplete},
		{"over-subscribed literal/length code", func(w *bitWriter) {
			writeLens(w, repeat(286, 8), []uint8{1})
		}, errOverSubscribe},
		{"incomplete literal/length code", func(w *bitWriter) {
			writeLens(w, repeat(257, 9), []uint8{1})
		}, errIncomplete},
		{"over-subscribed distance code", func(w *bitWriter) {
			writeLens(w, okLit, []uint8{1, 1, 1})
		}, errOverSubscribe},
		{"incomplete distance code", func(w *bitWriter) {
			writeLens(w, okLit, []uint8{2, 2})
		}, errIncomplete},
		{"no end-of-block code", func(w *bitWriter) {
			writeLens(w, complete8, []uint8{1})
		}, errNoEndOfBlock},
		{"repeat with no previous length", func(w *bitWriter) {
			w.dynamicHeader(false, 257, 1, repCL, []clItem{{16, 0}})
		}, errRepeatFirst},
		{"repeat past the end", func(w *bitWriter) {
			w.dynamicHeader(false, 257, 1, repCL, []clItem{{18, 127}, {18, 127}})
		}, errRepeatPastEnd},
		{"repeat of a length past the end", func(w *bitWriter) {
			w.dynamicHeader(false, 257, 1, repCL, []clItem{{18, 127}, {18, 107}, {1, 0}, {16, 3}})
		}, errRepeatPastEnd},
		{"fixed literal/length code 286", func(w *bitWriter) {
			b := newFixedWriter(nil)
			b.header(false, 1)
			b.lit.put(&b.bitWriter, 286)
			*w = b.bitWriter
		}, errBadLitLen},
		{"fixed literal/length code 287", func(w *bitWriter) {
			b := newFixedWriter(nil)
			b.header(false, 1)
			b.lit.put(&b.bitWriter, 287)
			*w = b.bitWriter
		}, errBadLitLen},
		{"fixed distance code 30", func(w *bitWriter) {
			b := newFixedWriter(nil)
			b.header(false, 1)
			b.literal('a')
			b.lit.put(&b.bitWriter, 257)
			b.dist.put(&b.bitWriter, 30)
			*w = b.bitWriter
		}, errBadDist},
		{"fixed distance code 31", func(w *bitWriter) {
			b := newFixedWriter(nil)
			b.header(false, 1)
			b.literal('a')
			b.lit.put(&b.bitWriter, 257)
			b.dist.put(&b.bitWriter, 31)
			*w = b.bitWriter
		}, errBadDist},
		{"distance too far back", func(w *bitWriter) {
			b := newFixedWriter(nil)
			b.header(false, 1)
			b.literal('a')
			b.literal('b')
			b.lit.put(&b.bitWriter, 257)
			b.dist.put(&b.bitWriter, 2) // distance 3
			*w = b.bitWriter
		}, errDistTooFar},
	} {
		var w bitWriter
		tc.write(&w)
		w.align()
		chunk := append(w.bytes(0), 0, 0, 0, 0, 0, 0, 0, 0) // room to read ahead
		var f inflater
		f.init(nil)
		_, _, err := f.inflate(nil, chunk, 100)
		if err != tc.err {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.err)
		}
		// The error is permanent.
		if _, _, err2 := f.inflate(nil, []byte{0, 0, 0, 0xff, 0xff}, 100); err2 != err {
			t.Errorf("%s: next chunk: %v, want the same error", tc.name, err2)
		}
	}
}

// writeLens writes a dynamic block header with these code lengths.
func writeLens(w *bitWriter, litLens, distLens []uint8) {
	var items []clItem
	for _, l := range append(append([]uint8(nil), litLens...), distLens...) {
		items = append(items, clItem{sym: int(l)})
	}
	w.dynamicHeader(false, len(litLens), len(distLens), directCL, items)
}

// TestInflateChunkEnd checks that a chunk must end with a sync flush or the
// final block.
func TestInflateChunkEnd(t *testing.T) {
	fixedA := func(final bool) *blockWriter { // a fixed block holding "a"
		b := newFixedWriter(nil)
		b.header(final, 1)
		b.literal('a')
		b.eob()
		return b
	}
	for _, tc := range []struct {
		name  string
		chunk func() []byte
		err   error
	}{
		{"empty", func() []byte { return nil }, errNoSync},
		{"sync flush", func() []byte { b := fixedA(false); b.stored(nil, false); return b.bytes(0) }, nil},
		{"no sync flush", func() []byte { return fixedA(false).bytes(0) }, errNoSync},
		{"no sync flush, set padding", func() []byte { return fixedA(false).bytes(1) }, errNoSync},
		{"stored block with data last", func() []byte {
			var w bitWriter
			w.stored([]byte("a"), false)
			return w.bytes(0)
		}, errNoSync},
		{"byte after the sync flush", func() []byte {
			b := fixedA(false)
			b.stored(nil, false)
			return append(b.bytes(0), 0)
		}, errTruncated},
		{"sync flush cut short", func() []byte {
			b := fixedA(false)
			b.stored(nil, false)
			out := b.bytes(0)
			return out[:len(out)-1]
		}, errTruncated},
		{"final block", func() []byte { return fixedA(true).bytes(0) }, nil},
		{"final block, set padding", func() []byte { return fixedA(true).bytes(1) }, errAfterFinal},
		{"final block, then a byte", func() []byte { return append(fixedA(true).bytes(0), 0) }, errAfterFinal},
		{"final block, then a block", func() []byte {
			b := fixedA(true)
			b.stored(nil, false)
			return b.bytes(0)
		}, errAfterFinal},
		{"final stored block", func() []byte {
			var w bitWriter
			w.stored([]byte("a"), true)
			return w.bytes(0)
		}, nil},
	} {
		var f inflater
		f.init(nil)
		out, _, err := f.inflate(nil, tc.chunk(), 100)
		if err != tc.err {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.err)
		}
		if err == nil && string(out) != "a" {
			t.Errorf("%s: output %q", tc.name, out)
		}
	}

	// After the final block, nothing more.
	var f inflater
	f.init(nil)
	mustInflate(t, &f, fixedA(true).bytes(0))
	var w bitWriter
	w.stored(nil, false)
	if _, _, err := f.inflate(nil, w.bytes(0), 100); err != errAfterFinal {
		t.Errorf("block after the final one: %v", err)
	}
}

// TestInflatePrefixes: every strict prefix of a chunk is rejected, and never
// panics.
func TestInflatePrefixes(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for _, level := range []int{flate.NoCompression, flate.HuffmanOnly, 1, 6, 9} {
		chunks, pieces := flateChunks(t, level, dictV3, textPieces(r, 3, 3000))
		for i, c := range chunks {
			for n := range len(c) {
				var f inflater
				f.init(dictV3)
				for _, prev := range chunks[:i] {
					mustInflate(t, &f, prev)
				}
				if _, _, err := f.inflate(nil, c[:n], 1<<20); err == nil {
					t.Fatalf("level %d chunk %d: prefix of %d of %d bytes accepted", level, i, n, len(c))
				}
			}
			var f inflater
			f.init(dictV3)
			for j, prev := range chunks[:i+1] {
				if got := mustInflate(t, &f, prev); !bytes.Equal(got, pieces[j]) {
					t.Fatalf("level %d chunk %d: output differs", level, j)
				}
			}
		}
	}
}

// textPieces returns n pieces of header-like text, each up to max bytes.
func textPieces(r *rand.Rand, n, max int) [][]byte {
	words := []string{"accept", "text/html", "gzip", "cookie", "=", ";", " ", "\x00", "\x00\x00\x00\x07", "user-agent", "Mozilla/5.0"}
	var pieces [][]byte
	for range n {
		var p []byte
		for size := r.Intn(max + 1); len(p) < size; {
			if r.Intn(4) == 0 {
				p = append(p, byte(r.Intn(256)))
			} else {
				p = append(p, words[r.Intn(len(words))]...)
			}
		}
		pieces = append(pieces, p)
	}
	return pieces
}

// flateChunks compresses each piece with compress/flate, one sync flush
// after each, and returns the chunks.
func flateChunks(t testing.TB, level int, dict []byte, pieces [][]byte) (chunks, out [][]byte) {
	var buf bytes.Buffer
	w, err := flate.NewWriterDict(&buf, level, dict)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pieces {
		w.Write(p)
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, append([]byte(nil), buf.Bytes()...))
		buf.Reset()
	}
	return chunks, pieces
}

// TestInflateMatchesFlate decodes compress/flate's output for every level,
// with and without a dictionary, chunk by chunk, over enough data to wrap the
// window many times.
func TestInflateMatchesFlate(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for _, level := range []int{flate.HuffmanOnly, flate.NoCompression, 1, 2, 4, 6, 9} {
		for _, dict := range [][]byte{nil, dictV2, dictV3} {
			pieces := textPieces(r, 60, 9000)
			chunks, _ := flateChunks(t, level, dict, pieces)
			var f inflater
			f.init(dict)
			for i, c := range chunks {
				if got := mustInflate(t, &f, c); !bytes.Equal(got, pieces[i]) {
					t.Fatalf("level %d chunk %d: output differs", level, i)
				}
			}
		}
	}
}

// TestInflateLimit: output past the limit is dropped, the size still
// counted, and the history kept whole.
func TestInflateLimit(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	pieces := textPieces(r, 20, 5000)
	chunks, _ := flateChunks(t, 6, dictV3, pieces)
	var f inflater
	f.init(dictV3)
	dst := make([]byte, 3, 3+40)
	for i, c := range chunks {
		out, size, err := f.inflate(dst[:3], c, 40)
		if err != nil {
			t.Fatal(err)
		}
		want := pieces[i][:min(40, len(pieces[i]))]
		if size != len(pieces[i]) || !bytes.Equal(out[3:], want) {
			t.Fatalf("chunk %d: size %d (want %d), output %q", i, size, len(pieces[i]), out[3:])
		}
		if cap(out) != cap(dst) {
			t.Fatalf("chunk %d: output buffer reallocated", i)
		}
	}
}

func TestInflateAllocs(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	pieces := textPieces(r, 101, 2000)
	chunks, _ := flateChunks(t, 6, dictV3, pieces)
	var f inflater
	f.init(dictV3)
	dst := make([]byte, 0, 4096)
	i := 0
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if _, _, err = f.inflate(dst, chunks[i], 4096); err != nil {
			t.Fatal(err)
		}
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per chunk, want 0", allocs)
	}
}

// The error values are distinct and read as lower-case sentences.
func TestInflateErrors(t *testing.T) {
	seen := map[string]bool{}
	for _, err := range []error{errTruncated, errNoSync, errAfterFinal, errBlockType, errStoredLen,
		errCodeCount, errOverSubscribe, errIncomplete, errRepeatFirst, errRepeatPastEnd,
		errNoEndOfBlock, errBadLitLen, errBadDist, errDistTooFar, errTableTooLarge} {
		s := err.Error()
		if seen[s] || s == "" || s[0] < 'a' || s[0] > 'z' {
			t.Errorf("bad error text %q", s)
		}
		seen[s] = true
		if !errors.Is(&CompressionError{Err: err}, err) {
			t.Errorf("CompressionError does not unwrap to %q", s)
		}
	}
}
