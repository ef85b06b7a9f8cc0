package hpackz

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// This file holds the compressor behind Encoder: a small deflate (RFC 1951)
// writer made for SPDY header blocks. It produces one raw deflate stream per
// session direction that is never finished; the caller wraps it in the zlib
// header (RFC 1950) and ends every header block with a sync flush.
//
// Layout of the state:
//
//   - The window is a 32 KiB ring of the stream's uncompressed bytes,
//     starting with the preset dictionary, plus a mirror of its first
//     dflMaxMatch bytes after its end so that a match can be compared with
//     plain slices even where it wraps.
//   - A set-associative hash table maps the hash of 4 bytes to the most
//     recent positions that started with them (1 to 64 per bucket
//     depending on the level). Positions are kept as their low 16 bits; every
//     candidate is checked against the window before use, so a stale entry
//     costs a comparison, never a wrong match.
//   - A bitmap marks the window bytes that belong to sensitive values. Those
//     bytes are stored in the ring as zeros and never hashed: the secret
//     never reaches the matcher. The bitmap keeps matches from covering
//     them. A match that did would make the peer copy secret bytes where
//     the encoder assumed zeros, so every round-trip test also checks that
//     no match covers them.
//   - Tokens (literals and matches) of the current deflate block are
//     buffered so that the block can be written with whichever of a
//     dynamic Huffman code, the fixed code or a stored block is smallest.
//
// Everything lives in one dflWindow allocated once per encoder; encoding a
// block allocates nothing beyond the growth of the caller's buffer.

const (
	dflWinSize   = 1 << 15 // window: the largest deflate distance
	dflWinMask   = dflWinSize - 1
	dflMinMatch  = 4 // shortest match we look for (deflate allows 3)
	dflMaxMatch  = 258
	dflMaxDist   = 1 << 15
	dflLookahead = 4 << 10  // input buffered ahead of the matcher
	dflMaxTokens = 1 << 11  // tokens per deflate block
	dflMaxSpan   = 16 << 10 // input bytes per deflate block
	dflTableSize = 1 << 13  // hash table entries, shared out into buckets
	dflMaxStored = 1<<16 - 1
	dflNumLit    = 286 // literal/length symbols (0-255, EOB, 257-285)
	dflNumDist   = 30
	dflNumCL     = 19 // code length symbols
	dflEOB       = 256
)

// Block types, as the 3 header bits of a non-final block (BFINAL is 0).
const (
	dflStored  = 0 << 1
	dflFixed   = 1 << 1
	dflDynamic = 2 << 1
)

// dflParams is the effort of one compression level.
type dflParams struct {
	ways      int  // candidates kept per hash bucket: 1 to 64
	lazy      bool // look one byte ahead before taking a match
	maxLazy   int  // lazy: do not look ahead past a match this long
	nice      int  // stop looking once a match is this long
	maxInsert int  // index the positions inside matches up to this long
}

// dflLevels holds the parameters of levels 1 to 9. The table has
// dflTableSize entries at every level: more ways means fewer buckets.
// Indexing only the inside of short matches keeps the buckets from filling
// up with copies of the same bytes, which for header blocks (mostly long
// matches against earlier blocks) gives both smaller output and speed.
var dflLevels = [10]dflParams{
	1: {ways: 1, nice: dflMaxMatch, maxInsert: 8},
	2: {ways: 2, nice: dflMaxMatch, maxInsert: 16},
	3: {ways: 4, nice: dflMaxMatch, maxInsert: 32},
	4: {ways: 4, lazy: true, maxLazy: 16, nice: 32, maxInsert: 16},
	5: {ways: 4, lazy: true, maxLazy: 32, nice: 64, maxInsert: 16},
	6: {ways: 8, lazy: true, maxLazy: 64, nice: 128, maxInsert: 32},
	7: {ways: 16, lazy: true, maxLazy: 128, nice: dflMaxMatch, maxInsert: 32},
	8: {ways: 32, lazy: true, maxLazy: dflMaxMatch, nice: dflMaxMatch, maxInsert: 32},
	9: {ways: 64, lazy: true, maxLazy: dflMaxMatch, nice: dflMaxMatch, maxInsert: 32},
}

// Length and distance codes (RFC 1951 section 3.2.5).
var (
	dflLenBase = [29]uint16{
		3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
		35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
	}
	dflLenExtra = [29]uint8{
		0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
		3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
	}
	dflDistBase = [30]uint16{
		1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
		257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
		8193, 12289, 16385, 24577,
	}
	dflDistExtra = [30]uint8{
		0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
		7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
	}

	dflLenIndex = dflMakeLenIndex() // length-3 -> index into dflLenBase
	dflFixedLit = dflMakeFixedLit()
)

type dflCode struct {
	lens  [dflNumLit]uint8
	codes [dflNumLit]uint16 // bit-reversed, ready to be written LSB first
}

func dflMakeLenIndex() (t [256]uint8) {
	for i := range dflLenBase {
		lo := int(dflLenBase[i]) - 3
		hi := lo + 1<<dflLenExtra[i]
		for x := lo; x < hi && x < 256; x++ {
			t[x] = uint8(i)
		}
	}
	t[255] = 28 // 258 has its own code, not the top of 227-257
	return t
}

// dflMakeFixedLit builds the fixed literal/length code. Its canonical codes
// are assigned over all 288 symbols: 286 and 287 are never used but their
// 8-bit codes come before the 9-bit ones.
func dflMakeFixedLit() *dflCode {
	var lens [288]uint8
	var codes [288]uint16
	for s := range lens {
		switch {
		case s < 144:
			lens[s] = 8
		case s < 256:
			lens[s] = 9
		case s < 280:
			lens[s] = 7
		default:
			lens[s] = 8
		}
	}
	dflAssignCodes(lens[:], codes[:])
	c := new(dflCode)
	copy(c.lens[:], lens[:])
	copy(c.codes[:], codes[:])
	return c
}

// dflDistCode returns the distance code of dist (1 to 32768).
func dflDistCode(dist int) int {
	x := uint32(dist - 1)
	if x < 4 {
		return int(x)
	}
	n := bits.Len32(x) - 1
	return 2*n + int(x>>(n-1)&1)
}

// dflAssignCodes gives the canonical codes of RFC 1951 section 3.2.2 to the
// code lengths lens, bit-reversed for writing.
func dflAssignCodes(lens []uint8, codes []uint16) {
	var count, next [16]uint16
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	code := uint16(0)
	for b := 1; b < 16; b++ {
		code = (code + count[b-1]) << 1
		next[b] = code
	}
	for s, l := range lens {
		if l != 0 {
			codes[s] = bits.Reverse16(next[l]) >> (16 - l)
			next[l]++
		}
	}
}

// dflHuffman is the scratch space of Huffman code construction.
type dflHuffman struct {
	lit    dflCode
	dist   dflCode // only the first dflNumDist entries are used
	clLens [dflNumCL]uint8
	clCode [dflNumCL]uint16
	clFreq [dflNumCL]uint32
	rle    [dflNumLit + dflNumDist]uint16 // code length symbol | extra<<8
	nrle   int
	all    [dflNumLit + dflNumDist]uint8 // literal then distance code lengths

	keys   [dflNumLit]uint64 // freq<<16 | symbol, sorted
	weight [2 * dflNumLit]uint32
	parent [2 * dflNumLit]uint16
	depth  [2 * dflNumLit]uint16
}

// buildLengths sets lens to the code lengths of a Huffman code for freq
// whose codes are at most maxBits long. Unused symbols get length 0. The code
// is always complete (its Kraft sum is exactly 1): with fewer than two used
// symbols, two symbols get one bit each, as zlib does, because inflaters
// reject incomplete codes.
func (h *dflHuffman) buildLengths(freq []uint32, lens []uint8, maxBits int) {
	clear(lens)
	used, first := 0, -1
	for s, f := range freq {
		if f != 0 {
			used++
			if first < 0 {
				first = s
			}
		}
	}
	if used < 2 {
		other := 0
		if first <= 0 {
			other = 1
		}
		if first < 0 {
			first = 0
		}
		lens[first], lens[other] = 1, 1
		return
	}
	// A Huffman code longer than maxBits means very skewed frequencies;
	// flatten them until the code fits. With all frequencies equal to 1 the
	// longest code of n symbols is ceil(log2(n)) bits, at most 9 here.
	for shift := 0; shift < 40; shift++ {
		keys := h.keys[:0]
		for s, f := range freq {
			if f != 0 {
				f >>= min(shift, 31)
				keys = append(keys, uint64(max(f, 1))<<16|uint64(s))
			}
		}
		slices.Sort(keys)
		if h.huffman(keys, lens, maxBits) {
			return
		}
	}
	panic("hpackz: internal error: no length-limited Huffman code")
}

// huffman computes Huffman code lengths for keys (sorted by frequency) with
// the two-queue method and stores them in lens, unless a code would be
// longer than maxBits.
func (h *dflHuffman) huffman(keys []uint64, lens []uint8, maxBits int) bool {
	n := len(keys)
	w, parent, depth := h.weight[:2*n-1], h.parent[:2*n-1], h.depth[:2*n-1]
	for i, k := range keys {
		w[i] = uint32(k >> 16)
	}
	leaf, node := 0, n // heads of the leaf queue and of the node queue
	for next := n; next < 2*n-1; next++ {
		var pick [2]int
		for j := range pick {
			if leaf < n && (node >= next || w[leaf] <= w[node]) {
				pick[j] = leaf
				leaf++
			} else {
				pick[j] = node
				node++
			}
		}
		w[next] = w[pick[0]] + w[pick[1]]
		parent[pick[0]], parent[pick[1]] = uint16(next), uint16(next)
	}
	depth[2*n-2] = 0
	for i := 2*n - 3; i >= 0; i-- { // a parent always comes after its children
		depth[i] = depth[parent[i]] + 1
	}
	for i := range n {
		if int(depth[i]) > maxBits {
			return false
		}
	}
	for i, k := range keys {
		lens[k&0xffff] = uint8(depth[i])
	}
	return true
}

// rleLengths run-length encodes the hlit literal/length and hdist distance
// code lengths with the code length alphabet (RFC 1951 section 3.2.7) into
// h.rle and counts the symbols in h.clFreq. Runs may cross from one table
// into the other.
func (h *dflHuffman) rleLengths(hlit, hdist int) {
	all := h.all[:0]
	all = append(all, h.lit.lens[:hlit]...)
	all = append(all, h.dist.lens[:hdist]...)
	clear(h.clFreq[:])
	h.nrle = 0
	emit := func(sym, extra int) {
		h.rle[h.nrle] = uint16(sym | extra<<8)
		h.nrle++
		h.clFreq[sym]++
	}
	for i := 0; i < len(all); {
		l := all[i]
		run := 1
		for i+run < len(all) && all[i+run] == l {
			run++
		}
		i += run
		if l == 0 {
			for run >= 11 {
				r := min(run, 138)
				emit(18, r-11)
				run -= r
			}
			if run >= 3 {
				emit(17, run-3)
				run = 0
			}
		} else {
			emit(int(l), 0)
			run--
			for run >= 3 {
				r := min(run, 6)
				emit(16, r-3)
				run -= r
			}
		}
		for ; run > 0; run-- {
			emit(int(l), 0)
		}
	}
}

// dflCLExtra is the number of extra bits after code length symbols 16-18.
func dflCLExtra(sym int) uint {
	switch sym {
	case 16:
		return 2
	case 17:
		return 3
	case 18:
		return 7
	}
	return 0
}

// dflWindow is the memory of a compressing deflater, allocated once.
type dflWindow struct {
	ring  [dflWinSize + dflMaxMatch]byte
	sens  [dflWinSize / 64]uint64 // sensitive bytes of the ring
	table [dflTableSize]uint16

	tokens   [dflMaxTokens]uint32 // literal, or dist<<8 | length-3
	ntok     int
	litFreq  [dflNumLit]uint32
	distFreq [dflNumDist]uint32

	huff dflHuffman
}

// deflater is one direction's deflate stream. Positions are absolute
// offsets in the uncompressed stream, the preset dictionary being at
// positions 0 to len(dictionary)-1.
type deflater struct {
	out   []byte // the caller's buffer while a block is written
	bits  uint64 // pending output bits, LSB first
	nbits uint

	level       int // 0 to 9
	par         dflParams
	bucketShift uint // 32 - log2(number of buckets)

	end        int64 // stream bytes so far
	cur        int64 // next position for the matcher
	tokEnd     int64 // end of the input covered by tokens
	blockStart int64 // start of the input of the pending deflate block
	histStart  int64 // positions before this cannot be match sources
	sensEnd    int64 // end of the last sensitive run

	havePrev bool // lazy: the byte at cur-1 awaits a decision
	prevLen  int  // lazy: length of the match at cur-1, or 0
	prevDist int

	storedLeft   int // level 0: bytes left in the current stored block
	storedRemain int // level 0: bytes left in the current header block

	w *dflWindow // nil at level 0 until another level is set

	stats *dflStats // nil except in tests
}

// dflStats counts the deflate blocks written for buffered tokens by form,
// and the bits each form would have cost.
type dflStats struct {
	stored, fixed, dynamic             int
	storedBits, fixedBits, dynamicBits int
}

// init starts a stream after dict, at the given level.
func (d *deflater) init(dict []byte, level int) {
	d.end = int64(len(dict))
	d.cur, d.tokEnd, d.blockStart, d.histStart = d.end, d.end, d.end, d.end
	d.setLevel(level, dict)
}

// setLevel switches to level (0 to 9) between header blocks. The window is
// allocated the first time a level above 0 is set; if nothing was written yet
// it is primed with dict, otherwise the history before now is unknown and
// left out of matching.
func (d *deflater) setLevel(level int, dict []byte) {
	old := d.par.ways
	d.level, d.par = level, dflLevels[level]
	if level == 0 {
		return
	}
	d.bucketShift = uint(32 - bits.Len(uint(dflTableSize/d.par.ways)) + 1)
	if d.w == nil {
		d.w = new(dflWindow)
		if d.end == int64(len(dict)) {
			d.primeDictionary(dict)
		}
		return
	}
	if d.par.ways != old {
		clear(d.w.table[:]) // the bucket layout changed
	}
}

func (d *deflater) primeDictionary(dict []byte) {
	d.end = 0
	dflPut(d, dict)
	for p := int64(0); p+dflMinMatch <= d.end; p++ {
		d.insert(p)
	}
	d.cur, d.tokEnd, d.blockStart, d.histStart = d.end, d.end, d.end, 0
}

// writeBits queues the n low bits of v (n <= 32).
func (d *deflater) writeBits(v uint64, n uint) {
	d.bits |= v << d.nbits
	d.nbits += n
	if d.nbits >= 32 {
		d.out = binary.LittleEndian.AppendUint32(d.out, uint32(d.bits))
		d.bits >>= 32
		d.nbits -= 32
	}
}

// alignByte writes out the pending bits, padding the last byte with zeros.
func (d *deflater) alignByte() {
	for d.nbits > 0 {
		d.out = append(d.out, byte(d.bits))
		d.bits >>= 8
		d.nbits -= min(d.nbits, 8)
	}
	d.bits = 0
}

// storedHeader starts a stored block of n bytes (n <= 65535).
func (d *deflater) storedHeader(n int) {
	d.writeBits(dflStored, 3)
	d.alignByte()
	d.out = append(d.out, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8))
}

// syncFlush ends the header block: an empty stored block, which leaves the
// output byte-aligned and ending in 00 00 ff ff.
func (d *deflater) syncFlush() { d.storedHeader(0) }

// beginBlock prepares a header block whose encoding has nv bytes.
func (d *deflater) beginBlock(nv int) {
	d.storedRemain, d.storedLeft = nv, 0
}

// endBlock compresses what is buffered, writes it and the sync flush.
func (d *deflater) endBlock() {
	if d.level == 0 {
		d.syncFlush()
		// The window (if any) missed this block: nothing before here
		// can be matched any more, and no mark is needed either.
		d.cur, d.tokEnd, d.blockStart, d.histStart = d.end, d.end, d.end, d.end
		if d.w != nil {
			clear(d.w.sens[:])
			d.sensEnd = 0
		}
		return
	}
	d.compress(true)
	d.flushBlock()
	d.syncFlush()
}

// dflWrite adds s, which does not need protection, to the stream.
func dflWrite[T string | []byte](d *deflater, s T) {
	if d.level == 0 {
		dflWriteStored(d, s)
		return
	}
	for len(s) > 0 {
		if d.end-d.cur >= dflLookahead {
			d.compress(false)
		}
		n := min(len(s), dflLookahead-int(d.end-d.cur))
		dflPut(d, s[:n])
		s = s[n:]
	}
}

// dflWriteStored copies s into stored blocks (level 0).
func dflWriteStored[T string | []byte](d *deflater, s T) {
	for len(s) > 0 {
		if d.storedLeft == 0 {
			if d.storedRemain <= 0 {
				panic("hpackz: internal error: header block longer than announced")
			}
			n := min(d.storedRemain, dflMaxStored)
			d.storedHeader(n)
			d.storedLeft, d.storedRemain = n, d.storedRemain-n
		}
		n := min(len(s), d.storedLeft)
		d.out = append(d.out, s[:n]...)
		d.storedLeft -= n
		d.end += int64(n)
		s = s[n:]
	}
}

// dflPut appends s to the window.
func dflPut[T string | []byte](d *deflater, s T) {
	w := d.w
	for len(s) > 0 {
		i := int(d.end & dflWinMask)
		n := copy(w.ring[i:dflWinSize], s)
		if i < dflMaxMatch {
			copy(w.ring[dflWinSize+i:], s[:n])
		}
		if d.end-dflWinSize < d.sensEnd { // the bytes replaced may have been sensitive
			d.mark(i, n, false)
		}
		d.end += int64(n)
		s = s[n:]
	}
}

// writeSensitive adds s to the stream without letting it take part in
// compression: what is buffered is compressed and written first, then s goes
// out in stored blocks, whose size depends only on len(s), and the window
// records zeros in its place, marked as unusable. The next bytes start a new
// deflate block, whose Huffman codes therefore do not depend on s either.
func (d *deflater) writeSensitive(s string) {
	if d.level == 0 {
		dflWriteStored(d, s)
		return
	}
	d.compress(true)
	d.flushBlock()
	for rest := s; len(rest) > 0; {
		n := min(len(rest), dflMaxStored)
		d.storedHeader(n)
		d.out = append(d.out, rest[:n]...)
		rest = rest[n:]
	}
	w := d.w
	for left := len(s); left > 0; {
		i := int(d.end & dflWinMask)
		n := min(left, dflWinSize-i)
		clear(w.ring[i : i+n])
		if i < dflMaxMatch {
			clear(w.ring[dflWinSize+i : dflWinSize+min(i+n, dflMaxMatch)])
		}
		d.mark(i, n, true)
		d.end += int64(n)
		left -= n
	}
	d.cur, d.tokEnd, d.blockStart, d.sensEnd = d.end, d.end, d.end, d.end
}

// mark sets or clears the sensitive bits of ring[i:i+n] (i+n <= dflWinSize).
func (d *deflater) mark(i, n int, set bool) {
	for n > 0 {
		off := uint(i & 63)
		k := min(n, 64-int(off))
		m := ^uint64(0) >> (64 - uint(k)) << off
		if set {
			d.w.sens[i>>6] |= m
		} else {
			d.w.sens[i>>6] &^= m
		}
		i += k
		n -= k
	}
}

// cleanRun returns how many of the n bytes at position pos come before the
// first sensitive byte.
func (d *deflater) cleanRun(pos int64, n int) int {
	i := int(pos & dflWinMask)
	for done := 0; done < n; {
		off := uint(i & 63)
		if b := d.w.sens[i>>6] >> off; b != 0 {
			return min(n, done+bits.TrailingZeros64(b))
		}
		done += 64 - int(off)
		i = (i + 64 - int(off)) & dflWinMask
	}
	return n
}

// bucket returns the hash table slots for the 4 bytes at pos.
func (d *deflater) bucket(pos int64) []uint16 {
	i := int(pos & dflWinMask)
	h := binary.LittleEndian.Uint32(d.w.ring[i:]) * 0x9e3779b1 >> d.bucketShift
	b := int(h) * d.par.ways
	return d.w.table[b : b+d.par.ways : b+d.par.ways]
}

// insert records pos, which has 4 bytes after it, as the newest position of
// its bucket.
func (d *deflater) insert(pos int64) {
	b := d.bucket(pos)
	if len(b) <= 8 {
		for i := len(b) - 1; i > 0; i-- {
			b[i] = b[i-1]
		}
	} else {
		copy(b[1:], b)
	}
	b[0] = uint16(pos)
}

// findMatch returns the longest match for the bytes at p that is longer than
// better, or 0 and 0. A match never reaches past the buffered input, before
// histStart or the start of the ring, or over a sensitive byte.
func (d *deflater) findMatch(p int64, better int) (length, dist int) {
	maxLen := int(min(d.end-p, dflMaxMatch))
	if maxLen < dflMinMatch || maxLen <= better {
		return 0, 0
	}
	low := max(d.end-dflWinSize, d.histStart, p-dflMaxDist)
	w := &d.w.ring
	pi := int(p & dflWinMask)
	cur := w[pi : pi+maxLen]
	bestLen, bestDist := max(better, dflMinMatch-1), 0
	for _, e := range d.bucket(p) {
		dist := int64(uint16(p) - e)
		c := p - dist
		if dist == 0 || c < low {
			continue
		}
		ci := int(c & dflWinMask)
		if w[ci+bestLen] != cur[bestLen] {
			continue
		}
		l := dflMatchLen(w[ci:ci+maxLen], cur)
		if l > bestLen && c < d.sensEnd {
			l = d.cleanRun(c, l)
		}
		if l > bestLen {
			bestLen, bestDist = l, int(dist)
			if l >= d.par.nice || l == maxLen {
				break
			}
		}
	}
	if bestDist == 0 {
		return 0, 0
	}
	return bestLen, bestDist
}

// dflMatchLen returns the length of the common prefix of a and b (equal
// lengths).
func dflMatchLen(a, b []byte) int {
	n := 0
	for len(a)-n >= 8 {
		x := binary.LittleEndian.Uint64(a[n:]) ^ binary.LittleEndian.Uint64(b[n:])
		if x != 0 {
			return n + bits.TrailingZeros64(x)>>3
		}
		n += 8
	}
	for n < len(a) && a[n] == b[n] {
		n++
	}
	return n
}

// compress runs the matcher over the buffered input. Unless final it stops
// dflMaxMatch bytes before the end so that matches can reach full length;
// final processes everything and settles a pending lazy decision.
func (d *deflater) compress(final bool) {
	limit := d.end
	if !final {
		limit -= dflMaxMatch
	}
	if d.par.lazy {
		d.compressLazy(limit, final)
	} else {
		d.compressGreedy(limit)
	}
}

func (d *deflater) compressGreedy(limit int64) {
	p := d.cur
	for p < limit {
		l, dist := d.findMatch(p, 0)
		if p+dflMinMatch <= d.end {
			d.insert(p)
		}
		if l == 0 {
			d.literal(d.w.ring[p&dflWinMask])
			p++
			continue
		}
		d.match(l, dist)
		if l <= d.par.maxInsert {
			for q := p + 1; q < p+int64(l) && q+dflMinMatch <= d.end; q++ {
				d.insert(q)
			}
		}
		p += int64(l)
	}
	d.cur = p
}

func (d *deflater) compressLazy(limit int64, final bool) {
	p := d.cur
	for p < limit {
		var l, dist int
		if d.prevLen < d.par.maxLazy {
			l, dist = d.findMatch(p, d.prevLen)
		}
		if p+dflMinMatch <= d.end {
			d.insert(p)
		}
		if d.havePrev && d.prevLen >= dflMinMatch && l == 0 {
			// Nothing longer starts at p: take the match at p-1.
			d.match(d.prevLen, d.prevDist)
			stop := p - 1 + int64(d.prevLen)
			if d.prevLen <= d.par.maxInsert {
				for q := p + 1; q < stop && q+dflMinMatch <= d.end; q++ {
					d.insert(q)
				}
			}
			p = stop
			d.havePrev, d.prevLen = false, 0
			continue
		}
		if d.havePrev {
			d.literal(d.w.ring[(p-1)&dflWinMask])
		}
		d.havePrev, d.prevLen, d.prevDist = true, l, dist
		p++
	}
	d.cur = p
	if final && d.havePrev {
		// The byte at end-1 has no room for a match.
		d.literal(d.w.ring[(p-1)&dflWinMask])
		d.havePrev, d.prevLen = false, 0
	}
}

func (d *deflater) literal(b byte) {
	w := d.w
	w.tokens[w.ntok] = uint32(b)
	w.ntok++
	w.litFreq[b]++
	d.tokEnd++
	d.tokenAdded()
}

func (d *deflater) match(length, dist int) {
	w := d.w
	w.tokens[w.ntok] = uint32(dist)<<8 | uint32(length-3)
	w.ntok++
	w.litFreq[257+int(dflLenIndex[length-3])]++
	w.distFreq[dflDistCode(dist)]++
	d.tokEnd += int64(length)
	d.tokenAdded()
}

func (d *deflater) tokenAdded() {
	if d.w.ntok == dflMaxTokens || d.tokEnd-d.blockStart >= dflMaxSpan {
		d.flushBlock()
	}
}

// flushBlock writes the buffered tokens as one non-final deflate block, in
// whichever form is smallest: dynamic Huffman, fixed Huffman or stored.
func (d *deflater) flushBlock() {
	w := d.w
	if w.ntok == 0 {
		return
	}
	h := &w.huff
	w.litFreq[dflEOB] = 1
	span := int(d.tokEnd - d.blockStart)

	// Extra bits are the same in both Huffman forms.
	extra := 0
	for i, x := range dflLenExtra {
		extra += int(w.litFreq[257+i]) * int(x)
	}
	for i, x := range dflDistExtra {
		extra += int(w.distFreq[i]) * int(x)
	}

	fixedBits := 3 + extra
	for s, f := range w.litFreq {
		fixedBits += int(f) * int(dflFixedLit.lens[s])
	}
	for _, f := range w.distFreq {
		fixedBits += int(f) * 5
	}

	// A dynamic block spends at least its fixed header fields, its
	// extra bits, one bit per token and end of block, and two code-length
	// symbols: when the fixed code costs no more than that, the dynamic code
	// cannot win, and building it (the usual case for the tiny blocks of
	// short header sets) is skipped. The output is the same either way.
	if fixedBits <= 3+5+5+4+3*4+extra+w.ntok+1+2 {
		d.flushFixedOrStored(span, fixedBits)
		return
	}
	h.buildLengths(w.litFreq[:], h.lit.lens[:], 15)
	h.buildLengths(w.distFreq[:], h.dist.lens[:dflNumDist], 15)
	hlit := dflNumLit
	for hlit > 257 && h.lit.lens[hlit-1] == 0 {
		hlit--
	}
	hdist := dflNumDist
	for hdist > 1 && h.dist.lens[hdist-1] == 0 {
		hdist--
	}
	h.rleLengths(hlit, hdist)
	h.buildLengths(h.clFreq[:], h.clLens[:], 7)
	hclen := dflNumCL
	for hclen > 4 && h.clLens[clOrder[hclen-1]] == 0 {
		hclen--
	}
	dynBits := 3 + 5 + 5 + 4 + 3*hclen + extra
	for s, f := range h.clFreq {
		dynBits += int(f) * (int(h.clLens[s]) + int(dflCLExtra(s)))
	}
	for s, f := range w.litFreq {
		dynBits += int(f) * int(h.lit.lens[s])
	}
	for s, f := range w.distFreq {
		dynBits += int(f) * int(h.dist.lens[s])
	}

	pad := int(-(d.nbits + 3) & 7)
	storedBits := 3 + pad + 32 + 8*span
	if s := d.stats; s != nil {
		s.storedBits += storedBits
		s.fixedBits += fixedBits
		s.dynamicBits += dynBits
		switch {
		case storedBits < min(fixedBits, dynBits):
			s.stored++
		case dynBits < fixedBits:
			s.dynamic++
		default:
			s.fixed++
		}
	}

	switch {
	case storedBits < min(fixedBits, dynBits):
		d.storedHeader(span)
		i := int(d.blockStart & dflWinMask)
		n := min(span, dflWinSize-i)
		d.out = append(d.out, w.ring[i:i+n]...)
		d.out = append(d.out, w.ring[:span-n]...)
	case dynBits < fixedBits:
		dflAssignCodes(h.lit.lens[:], h.lit.codes[:])
		dflAssignCodes(h.dist.lens[:dflNumDist], h.dist.codes[:dflNumDist])
		dflAssignCodes(h.clLens[:], h.clCode[:])
		d.writeBits(dflDynamic, 3)
		d.writeBits(uint64(hlit-257), 5)
		d.writeBits(uint64(hdist-1), 5)
		d.writeBits(uint64(hclen-4), 4)
		for _, s := range clOrder[:hclen] {
			d.writeBits(uint64(h.clLens[s]), 3)
		}
		for _, r := range h.rle[:h.nrle] {
			s := int(r & 0xff)
			d.writeBits(uint64(h.clCode[s]), uint(h.clLens[s]))
			if x := dflCLExtra(s); x > 0 {
				d.writeBits(uint64(r>>8), x)
			}
		}
		d.writeTokens(&h.lit, &h.dist)
	default:
		d.writeBits(dflFixed, 3)
		d.writeTokens(dflFixedLit, nil)
	}

	w.ntok = 0
	clear(w.litFreq[:])
	clear(w.distFreq[:])
	d.blockStart = d.tokEnd
}

// flushFixedOrStored ends the block as flushBlock does when the dynamic
// code is known not to be the smallest.
func (d *deflater) flushFixedOrStored(span, fixedBits int) {
	w := d.w
	pad := int(-(d.nbits + 3) & 7)
	storedBits := 3 + pad + 32 + 8*span
	if s := d.stats; s != nil {
		s.storedBits += storedBits
		s.fixedBits += fixedBits
		s.dynamicBits += fixedBits + 1 // not built; known to be larger
		if storedBits < fixedBits {
			s.stored++
		} else {
			s.fixed++
		}
	}
	if storedBits < fixedBits {
		d.storedHeader(span)
		i := int(d.blockStart & dflWinMask)
		n := min(span, dflWinSize-i)
		d.out = append(d.out, w.ring[i:i+n]...)
		d.out = append(d.out, w.ring[:span-n]...)
	} else {
		d.writeBits(dflFixed, 3)
		d.writeTokens(dflFixedLit, nil)
	}
	w.ntok = 0
	clear(w.litFreq[:])
	clear(w.distFreq[:])
	d.blockStart = d.tokEnd
}

// writeTokens writes the buffered tokens and the end of block with the
// literal/length code lit and the distance code dist (nil: the fixed 5-bit
// distance code).
func (d *deflater) writeTokens(lit, dist *dflCode) {
	for _, t := range d.w.tokens[:d.w.ntok] {
		if t < 256 {
			d.writeBits(uint64(lit.codes[t]), uint(lit.lens[t]))
			continue
		}
		l, dst := int(t&0xff), int(t>>8)
		li := int(dflLenIndex[l])
		d.writeBits(uint64(lit.codes[257+li]), uint(lit.lens[257+li]))
		if x := dflLenExtra[li]; x > 0 {
			d.writeBits(uint64(l+3-int(dflLenBase[li])), uint(x))
		}
		dc := dflDistCode(dst)
		if dist == nil {
			d.writeBits(uint64(bits.Reverse8(uint8(dc))>>3), 5)
		} else {
			d.writeBits(uint64(dist.codes[dc]), uint(dist.lens[dc]))
		}
		if x := dflDistExtra[dc]; x > 0 {
			d.writeBits(uint64(dst-int(dflDistBase[dc])), uint(x))
		}
	}
	d.writeBits(uint64(lit.codes[dflEOB]), uint(lit.lens[dflEOB]))
}
