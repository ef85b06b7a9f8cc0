package hpackz

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
)

// dflUnreverse turns a code as stored (bit-reversed for LSB-first output)
// back into its value as RFC 1951 writes it (MSB first).
func dflUnreverse(code uint16, n uint8) uint16 { return bits.Reverse16(code) >> (16 - n) }

// The fixed literal/length code of RFC 1951 section 3.2.6.
func TestDeflateFixedCode(t *testing.T) {
	for _, tc := range []struct {
		sym  int
		n    uint8
		code uint16
	}{
		{0, 8, 0b00110000}, {143, 8, 0b10111111},
		{144, 9, 0b110010000}, {255, 9, 0b111111111},
		{256, 7, 0b0000000}, {279, 7, 0b0010111},
		{280, 8, 0b11000000}, {285, 8, 0b11000101},
	} {
		n, code := dflFixedLit.lens[tc.sym], dflUnreverse(dflFixedLit.codes[tc.sym], dflFixedLit.lens[tc.sym])
		if n != tc.n || code != tc.code {
			t.Errorf("symbol %d: %0*b (%d bits), want %0*b (%d bits)", tc.sym, n, code, n, tc.n, tc.code, tc.n)
		}
	}
}

// Every length and distance maps to the code whose range holds it (RFC 1951
// section 3.2.5).
func TestDeflateLengthDistanceCodes(t *testing.T) {
	for l := 3; l <= 258; l++ {
		i := dflLenIndex[l-3]
		base, n := int(dflLenBase[i]), int(dflLenExtra[i])
		if l < base || l >= base+1<<n || (l == 258) != (i == 28) {
			t.Errorf("length %d: code %d (base %d, %d extra bits)", l, 257+int(i), base, n)
		}
	}
	for d := 1; d <= 32768; d++ {
		c := dflDistCode(d)
		base, n := int(dflDistBase[c]), int(dflDistExtra[c])
		if d < base || d >= base+1<<n {
			t.Errorf("distance %d: code %d (base %d, %d extra bits)", d, c, base, n)
		}
	}
}

// dflHuffmanCost is the cost in bits of an optimal (unlimited) Huffman
// code for freq: the sum of the weights of all internal nodes.
func dflHuffmanCost(freq []uint32) int {
	var w []int
	for _, f := range freq {
		if f > 0 {
			w = append(w, int(f))
		}
	}
	cost := 0
	for len(w) > 1 {
		// Take the two smallest (quadratic; fine for a test).
		for k := range 2 {
			m := k
			for i := k; i < len(w); i++ {
				if w[i] < w[m] {
					m = i
				}
			}
			w[k], w[m] = w[m], w[k]
		}
		s := w[0] + w[1]
		cost += s
		w = append(w[2:], s)
	}
	return cost
}

// Code lengths are complete (Kraft sum exactly 1), within the limit, give a
// code only to used symbols (plus a dummy when fewer than two are used), and
// are optimal when the limit does not bind.
func TestDeflateHuffmanLengths(t *testing.T) {
	var h dflHuffman
	rnd := rand.New(rand.NewPCG(1, 2))
	for iter := range 3000 {
		n := []int{dflNumLit, dflNumDist, dflNumCL}[iter%3]
		maxBits := 15
		if n == dflNumCL {
			maxBits = 7
		}
		freq := make([]uint32, n)
		used := rnd.IntN(n + 1)
		switch iter % 5 {
		case 0: // Fibonacci frequencies: the deepest possible trees
			a, b := uint32(1), uint32(1)
			for _, s := range rnd.Perm(n)[:used] {
				freq[s] = a
				a, b = b, a+b
				if b > 1<<24 {
					a, b = 1, 1
				}
			}
		case 1:
			for _, s := range rnd.Perm(n)[:used] {
				freq[s] = 1 << rnd.IntN(20)
			}
		default:
			for _, s := range rnd.Perm(n)[:used] {
				freq[s] = 1 + uint32(rnd.IntN(1000))
			}
		}
		lens := make([]uint8, n)
		h.buildLengths(freq, lens, maxBits)
		kraft, codes, longest, cost := 0, 0, 0, 0
		for s, l := range lens {
			if l == 0 {
				if freq[s] != 0 {
					t.Fatalf("iter %d: used symbol %d has no code", iter, s)
				}
				continue
			}
			codes++
			longest = max(longest, int(l))
			kraft += 1 << (maxBits - int(l))
			cost += int(freq[s]) * int(l)
			if freq[s] == 0 && used >= 2 {
				t.Fatalf("iter %d: unused symbol %d has a code", iter, s)
			}
		}
		if kraft != 1<<maxBits || longest > maxBits || codes < 2 {
			t.Fatalf("iter %d: %d used of %d: Kraft %d/%d, longest %d, %d codes", iter, used, n, kraft, 1<<maxBits, longest, codes)
		}
		// Without a limit the code is optimal; with one that does not
		// bind, it is the same code.
		unl := make([]uint8, n)
		h.buildLengths(freq, unl, 1000)
		unlCost, unlLongest := 0, 0
		for s, l := range unl {
			unlCost += int(freq[s]) * int(l)
			unlLongest = max(unlLongest, int(l))
		}
		if opt := dflHuffmanCost(freq); used >= 2 && unlCost != opt {
			t.Fatalf("iter %d: unlimited cost %d, optimal %d", iter, unlCost, opt)
		}
		if unlLongest <= maxBits && cost != unlCost {
			t.Fatalf("iter %d: cost %d, optimal %d", iter, cost, unlCost)
		}
	}
}

// encRoundTrip encodes the blocks through one encoder and checks each
// against compress/zlib; it returns the encoded blocks.
func encRoundTrip(t *testing.T, v Version, opts *EncoderOptions, blocks [][]Field) [][]byte {
	t.Helper()
	e := NewEncoder(v, opts)
	o := &encOracle{v: v}
	var out [][]byte
	for i, fields := range blocks {
		b, err := e.AppendBlock(nil, fields)
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		want := encNV(v, fields)
		got, err := o.decode(b, len(want))
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("block %d: inflated block differs", i)
		}
		out = append(out, b)
	}
	return out
}

// Inputs larger than the lookahead, a deflate block's span, a stored block
// and the window; repeated and random data; protected values larger than a
// stored block and than the window; a stream long enough for the 16-bit
// positions in the hash table to wrap several times.
func TestDeflateLargeInputs(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	random := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('!' + rnd.IntN(90))
		}
		return string(b)
	}
	rep := strings.Repeat("abcdefgh-", 30000)
	blocks := [][]Field{
		{{"x-random", random(200000)}},
		{{"x-repeat", rep}},
		{{"x-a", random(5000)}, {"cookie", random(100000)}, {"x-b", rep[:40000]}, {"cookie2", random(70000)}},
		{{"x-again", rep[3:50003]}, {"x-random", random(300)}},
		{{"cookie", random(33000)}},
		{{"x-after", rep[:1000]}},
	}
	levels := encLevels
	if testing.Short() || encRaceEnabled {
		levels = []int{NoCompression, BestSpeed, BestCompression}
	}
	for _, level := range levels {
		for _, sens := range []func(string) bool{NeverSensitive, func(n string) bool { return strings.HasPrefix(n, "cookie") }} {
			enc := encRoundTrip(t, V3, &EncoderOptions{Level: level, Sensitive: sens}, blocks)
			if level > 0 && len(enc[1]) > len(rep)/20 {
				t.Errorf("level %d: repeated block compressed to %d bytes", level, len(enc[1]))
			}
			if len(enc[0]) > 200000+200 {
				t.Errorf("level %d: random block grew to %d bytes", level, len(enc[0]))
			}
		}
	}
}

// Many small blocks, long enough for the window to wrap many times over.
func TestDeflateLongSession(t *testing.T) {
	n := 1000 // some 700 KB: the window wraps 20 times, positions 10 times
	if testing.Short() || encRaceEnabled {
		n = 300
	}
	for _, level := range []int{BestSpeed, 4, BestCompression} {
		s := &encSession{v: V3, rnd: rand.New(rand.NewPCG(5, uint64(level)))}
		blocks := make([][]Field, n)
		for i := range blocks {
			blocks[i] = s.next()
		}
		encRoundTrip(t, V3, &EncoderOptions{Level: level}, blocks)
	}
}

// A protected value never reaches the window: its bytes are zeros there
// and marked, and cleanRun stops at them.
func TestDeflateSensitiveWindow(t *testing.T) {
	e := NewEncoder(V3, nil)
	secret := "sid=QWERTYUIOPASDFGHJKL"
	if _, err := e.AppendBlock(nil, []Field{{"x-a", "1"}, {"cookie", secret}, {"x-b", "2"}}); err != nil {
		t.Fatal(err)
	}
	d := &e.z
	// The block ends with: value length (4), cookie value, x-b's name length, name, value length, value.
	start := d.end - int64(4+3+4+1) - int64(len(secret))
	for k := range int64(len(secret)) {
		p := start + k
		if d.w.ring[p&dflWinMask] != 0 || d.w.sens[(p&dflWinMask)>>6]>>(p&63)&1 != 1 {
			t.Fatalf("secret byte %d is in the window or not marked", k)
		}
	}
	if bytes.Contains(d.w.ring[:], []byte("QWERTY")) {
		t.Error("the secret is in the window")
	}
	if got := d.cleanRun(start-5, 100); got != 5 {
		t.Errorf("cleanRun before the secret = %d, want 5", got)
	}
	if got := d.cleanRun(start+int64(len(secret)), 5); got != 5 {
		t.Errorf("cleanRun after the secret = %d, want 5", got)
	}
	// Overwriting the ring with plain bytes clears the marks.
	if _, err := e.AppendBlock(nil, []Field{{"x-fill", strings.Repeat("y", 40000)}}); err != nil {
		t.Fatal(err)
	}
	for _, w := range d.w.sens {
		if w != 0 {
			t.Fatal("marks remain after the window was overwritten")
		}
	}
}

// Each form of deflate block is used where it is smallest: stored for
// random bytes, dynamic Huffman for typical header blocks.
func TestDeflateBlockForms(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 9))
	noise := make([]byte, 3000)
	for i := range noise {
		noise[i] = byte(1 + rnd.IntN(255))
	}
	e := NewEncoder(V3, &EncoderOptions{Level: DefaultCompression, Sensitive: NeverSensitive})
	e.z.stats = new(dflStats)
	if _, err := e.AppendBlock(nil, []Field{{"x-noise", strings.ReplaceAll(string(noise), "\x00", "")}}); err != nil {
		t.Fatal(err)
	}
	if s := e.z.stats; s.stored == 0 {
		t.Errorf("random bytes: no stored block (%+v)", *s)
	}
	*e.z.stats = dflStats{}
	for i := range 16 {
		if _, err := e.AppendBlock(nil, encBenchRequest(V3, i)); err != nil {
			t.Fatal(err)
		}
	}
	s := e.z.stats
	if s.dynamic == 0 {
		t.Errorf("request blocks: no dynamic block (%+v)", *s)
	}
	t.Logf("16 request blocks: %d dynamic, %d fixed, %d stored; dynamic would take %d bytes, fixed %d, stored %d",
		s.dynamic, s.fixed, s.stored, s.dynamicBits/8, s.fixedBits/8, s.storedBits/8)
}

// Guard against the compressor getting worse: the typical blocks must
// compress at least as well as compress/zlib at the same level, give or
// take 10%.
func TestDeflateRatioAgainstZlib(t *testing.T) {
	for _, kind := range encBenchKinds {
		for _, level := range []int{BestSpeed, DefaultCompression, BestCompression} {
			ours, theirs := encSessionSizes(kind.fields, level)
			t.Logf("%s level %d: ours %d bytes for 64 blocks, compress/zlib %d", kind.name, level, ours, theirs)
			if ours > theirs*11/10 {
				t.Errorf("%s level %d: %d bytes, compress/zlib %d", kind.name, level, ours, theirs)
			}
		}
	}
}

// encSessionSizes returns the total compressed size of 64 blocks made by
// gen, with our encoder (protecting nothing, as zlib does not) and with
// compress/zlib.
func encSessionSizes(gen func(Version, int) []Field, level int) (ours, theirs int) {
	e := NewEncoder(V3, &EncoderOptions{Level: level, Sensitive: NeverSensitive})
	var zb bytes.Buffer
	zw, err := zlib.NewWriterLevelDict(&zb, level, dictionary(V3))
	if err != nil {
		panic(fmt.Sprint("zlib: ", err))
	}
	for i := range 64 {
		f := gen(V3, i)
		out, err := e.AppendBlock(nil, f)
		if err != nil {
			panic(err)
		}
		ours += len(out)
		zw.Write(encNV(V3, f))
		zw.Flush()
	}
	return ours, zb.Len()
}
