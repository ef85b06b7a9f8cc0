package hpackz

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
)

// This file holds a DEFLATE (RFC 1951) decompressor shaped for SPDY header
// blocks. A SPDY direction is one endless deflate stream, cut by the sender
// into chunks that each end with a sync flush (an empty stored block), and
// every chunk must be decoded on its own from the bytes of one frame. The
// decompressor therefore takes whole chunks, keeps only the 32 KiB history
// window (and whether the final block was seen) between them, and never reads
// past the end of a chunk: a chunk that does not end with a sync flush is an
// error, not a request for more input.

const (
	winSize = 1 << 15 // the largest distance a deflate stream may use
	winMask = winSize - 1

	maxCodeLen = 15 // longest Huffman code in deflate

	// Decoding tables are two-level: a root table indexed by the next
	// litRootBits (distRootBits) input bits, whose entries either decode a
	// code directly or point at a sub-table for the longer codes sharing
	// that prefix. The table sizes are the maxima found by zlib's exhaustive
	// search (examples/enough.c: "enough 286 9 15" = 852 and
	// "enough 30 6 15" = 592) for complete codes with these root sizes.
	litRootBits   = 9
	distRootBits  = 6
	clRootBits    = 7 // code-length codes are at most 7 bits: one level
	litTableSize  = 852
	distTableSize = 592
	clTableSize   = 1 << clRootBits

	numLitCodes   = 286 // literal/length codes a dynamic block may define
	numDistCodes  = 30  // distance codes a dynamic block may define
	numCLCodes    = 19  // code-length codes
	endOfBlockSym = 256
)

// A table entry packs what a code means and how many bits it takes:
//
//	bits 0-3   code length in bits (for a link: unused)
//	bits 4-7   kind
//	bits 8-11  number of extra bits (length, distance) or sub-table index
//	           bits (link)
//	bits 16-31 literal byte, base length, base distance, code-length symbol
//	           or sub-table offset (link)
//
// The zero entry is kindBad with length 0.
const (
	kindBad  = iota // no symbol: the data is corrupt
	kindLit         // literal byte
	kindLen         // length code (a match follows)
	kindEOB         // end of block
	kindDist        // distance code
	kindSym         // code-length alphabet symbol
	kindLink        // pointer to a sub-table
)

func tableEntry(kind, extra, value uint32) uint32 { return value<<16 | extra<<8 | kind<<4 }

var (
	// litSyms and distSyms give the table entry (without the code length)
	// of every literal/length and distance symbol, including the two of
	// each that only the fixed code defines and that are invalid in data.
	litSyms  [288]uint32
	distSyms [32]uint32
	clSyms   [numCLCodes]uint32

	fixedLit  [litTableSize]uint32
	fixedDist [distTableSize]uint32

	// clOrder is the order in which code-length code lengths are sent.
	clOrder = [numCLCodes]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

func init() {
	for i := range 256 {
		litSyms[i] = tableEntry(kindLit, 0, uint32(i))
	}
	litSyms[endOfBlockSym] = tableEntry(kindEOB, 0, 0)
	base := uint32(3)
	for sym := 257; sym < 285; sym++ {
		extra := uint32(0)
		if sym >= 265 {
			extra = uint32(sym-261) / 4
		}
		litSyms[sym] = tableEntry(kindLen, extra, base)
		base += 1 << extra
	}
	litSyms[285] = tableEntry(kindLen, 0, 258)
	// litSyms[286], litSyms[287]: kindBad.

	base = 1
	for sym := range numDistCodes {
		extra := uint32(0)
		if sym >= 4 {
			extra = uint32(sym)/2 - 1
		}
		distSyms[sym] = tableEntry(kindDist, extra, base)
		base += 1 << extra
	}
	// distSyms[30], distSyms[31]: kindBad.

	for sym := range numCLCodes {
		clSyms[sym] = tableEntry(kindSym, 0, uint32(sym))
	}

	var lens [288]uint8
	for i := range lens {
		switch {
		case i < 144:
			lens[i] = 8
		case i < 256:
			lens[i] = 9
		case i < 280:
			lens[i] = 7
		default:
			lens[i] = 8
		}
	}
	var b tableBuilder
	if b.build(fixedLit[:], litRootBits, lens[:], litSyms[:]) != nil {
		panic("hpackz: bad fixed literal/length code")
	}
	for i := range 32 {
		lens[i] = 5
	}
	if b.build(fixedDist[:], distRootBits, lens[:32], distSyms[:]) != nil {
		panic("hpackz: bad fixed distance code")
	}
}

// Errors of the deflate layer. The Decoder wraps them in *CompressionError.
var (
	errTruncated     = errors.New("header block ends inside a deflate block")
	errNoSync        = errors.New("header block does not end with a sync flush")
	errAfterFinal    = errors.New("data after the final deflate block")
	errBlockType     = errors.New("reserved deflate block type")
	errStoredLen     = errors.New("stored block length does not match its complement")
	errCodeCount     = errors.New("too many literal/length or distance codes")
	errOverSubscribe = errors.New("over-subscribed huffman code")
	errIncomplete    = errors.New("incomplete huffman code")
	errRepeatFirst   = errors.New("code length repeat with no previous length")
	errRepeatPastEnd = errors.New("code length repeat past the last code")
	errNoEndOfBlock  = errors.New("huffman code has no end-of-block code")
	errBadLitLen     = errors.New("invalid literal/length code")
	errBadDist       = errors.New("invalid distance code")
	errDistTooFar    = errors.New("distance too far back")
	errTableTooLarge = errors.New("huffman code needs too large a table")
)

// tableBuilder holds the scratch space for building decoding tables.
type tableBuilder struct {
	count [maxCodeLen + 1]uint16
	offs  [maxCodeLen + 2]uint16
	order [288]uint16 // symbols sorted by code length, then value
}

// build fills t with the decoding table of the canonical Huffman code whose
// code lengths are lens (0: symbol unused), with a root table of rootBits
// bits. syms gives each symbol's entry. The code must be complete, except
// that a code with a single one-bit code is allowed (zlib and compress/flate
// accept it too); an empty code gives a table that decodes nothing.
func (b *tableBuilder) build(t []uint32, rootBits uint, lens []uint8, syms []uint32) error {
	b.count = [maxCodeLen + 1]uint16{}
	for _, l := range lens {
		b.count[l]++
	}
	b.count[0] = 0
	left := 1
	maxLen := 0
	for l := 1; l <= maxCodeLen; l++ {
		left = left<<1 - int(b.count[l])
		if left < 0 {
			return errOverSubscribe
		}
		if b.count[l] != 0 {
			maxLen = l
		}
	}
	rootSize := 1 << rootBits
	switch {
	case maxLen == 0:
		// No codes: every lookup finds kindBad with no bits used.
		clear(t[:rootSize])
		return nil
	case left > 0:
		if maxLen != 1 {
			return errIncomplete
		}
		// One code of one bit: the other bit value is invalid.
		for i := range t[:rootSize] {
			t[i] = tableEntry(kindBad, 0, 0) | 1
		}
	}

	b.offs[1] = 0
	for l := 1; l <= maxCodeLen; l++ {
		b.offs[l+1] = b.offs[l] + b.count[l]
	}
	for sym, l := range lens {
		if l != 0 {
			b.order[b.offs[l]] = uint16(sym)
			b.offs[l]++
		}
	}
	n := int(b.offs[maxCodeLen+1])

	rootMask := rootSize - 1
	code, codeLen := 0, 0 // canonical code (MSB first) of the current symbol
	next := rootSize      // where the next sub-table goes
	prefix := -1          // root index of the current sub-table
	subStart, subBits := 0, 0
	for _, sym := range b.order[:n] {
		l := int(lens[sym])
		code <<= l - codeLen
		codeLen = l
		// Deflate sends codes most significant bit first, and the bit
		// reader hands out bits least significant first: index by the
		// reversed code.
		rev := int(bits.Reverse16(uint16(code)) >> (16 - l))
		code++
		e := syms[sym] | uint32(l)
		if l <= int(rootBits) {
			for i := rev; i < rootSize; i += 1 << l {
				t[i] = e
			}
			b.count[l]--
			continue
		}
		if p := rev & rootMask; p != prefix {
			// A new sub-table: as deep as needed to hold every code
			// that shares this prefix, which for a complete code is
			// found from the counts of the codes not yet placed.
			prefix = p
			subBits = l - int(rootBits)
			room := 1 << subBits
			for subBits+int(rootBits) < maxLen {
				room -= int(b.count[subBits+int(rootBits)])
				if room <= 0 {
					break
				}
				subBits++
				room <<= 1
			}
			subStart = next
			next += 1 << subBits
			if next > len(t) {
				return errTableTooLarge
			}
			t[p] = tableEntry(kindLink, uint32(subBits), uint32(subStart))
		}
		for i := rev >> rootBits; i < 1<<subBits; i += 1 << (l - int(rootBits)) {
			t[subStart+i] = e
		}
		b.count[l]--
	}
	return nil
}

// inflater decodes a deflate stream chunk by chunk. Its zero value is not
// ready: call init first.
type inflater struct {
	win     [winSize]byte // history ring; output is written here first
	wp      int           // next write position in win
	mark    int           // start of the output not yet handed out
	wrapped bool          // win holds winSize bytes of history
	final   bool          // the final block was seen
	err     error         // sticky

	// Output of the current chunk.
	out    []byte
	outMax int // len(out) may not grow past this
	size   int // inflated size of the chunk so far, saturating

	lit   [litTableSize]uint32
	dist  [distTableSize]uint32
	cl    [clTableSize]uint32
	lens  [numLitCodes + numDistCodes]uint8
	build tableBuilder
}

// init starts a new stream whose history is the preset dictionary dict (only
// its last 32 KiB matter).
func (f *inflater) init(dict []byte) {
	if len(dict) > winSize {
		dict = dict[len(dict)-winSize:]
	}
	f.wp = copy(f.win[:], dict)
	f.wrapped = false
	if f.wp == winSize {
		f.wp, f.wrapped = 0, true
	}
	f.mark = f.wp
	f.final = false
	f.err = nil
}

// inflate decodes one chunk: one or more complete deflate blocks, the last of
// which is either an empty stored block (the sync flush marker) or the final
// block of the stream. It appends the inflated bytes to dst, but at most
// limit of them; the rest is decoded into the history and dropped. It
// returns the extended dst and the full inflated size of the chunk (capped
// at math.MaxInt).
//
// Any error is permanent: the history no longer matches the sender's.
func (f *inflater) inflate(dst, chunk []byte, limit int) ([]byte, int, error) {
	if f.err != nil {
		return dst, 0, f.err
	}
	f.out, f.size = dst, 0
	f.outMax = len(dst) + max(limit, 0)
	if f.outMax < len(dst) { // overflow
		f.outMax = math.MaxInt
	}
	err := f.blocks(chunk)
	f.flush(f.wp)
	dst, f.out = f.out, nil
	if err != nil {
		f.err = err
	}
	return dst, f.size, err
}

// blocks decodes the blocks of one chunk.
func (f *inflater) blocks(chunk []byte) error {
	switch {
	case len(chunk) == 0:
		return errNoSync
	case f.final:
		return errAfterFinal
	}
	br := bitReader{in: chunk}
	synced := false // the last block was a sync flush marker
	for {
		br.refill()
		if br.nb < 8 {
			// Only the padding of the last byte can be left.
			switch {
			case f.final && br.bits&(1<<br.nb-1) != 0:
				return errAfterFinal
			case f.final || synced && br.nb == 0:
				return nil
			}
			return errNoSync
		}
		if f.final {
			return errAfterFinal
		}
		f.final = br.bits&1 == 1
		typ := br.bits >> 1 & 3
		br.consume(3)
		synced = false
		var err error
		switch typ {
		case 0:
			var n int
			n, err = f.stored(&br)
			synced = n == 0 && !f.final
		case 1:
			err = f.huffman(&br, &fixedLit, &fixedDist)
		case 2:
			if err = f.readCodes(&br); err == nil {
				err = f.huffman(&br, &f.lit, &f.dist)
			}
		default:
			err = errBlockType
		}
		if err != nil {
			return err
		}
	}
}

// bitReader hands out the bits of a chunk least significant bit first.
// Invariant: the nb low bits of bits are the next input bits, taken from the
// bytes just before in[pos]; higher bits are zero or copies of later input.
type bitReader struct {
	in   []byte
	pos  int
	bits uint64
	nb   uint
}

// refill loads input until at least 56 bits are buffered or the input ends.
func (br *bitReader) refill() {
	br.pos, br.bits, br.nb = refillBits(br.in, br.pos, br.bits, br.nb)
}

// refillBits is refill on values, for loops that keep the reader's state in
// locals.
func refillBits(in []byte, pos int, bits uint64, nb uint) (int, uint64, uint) {
	if pos+8 <= len(in) {
		bits |= binary.LittleEndian.Uint64(in[pos:]) << nb
		return pos + int(63-nb)>>3, bits, nb | 56
	}
	for nb <= 56 && pos < len(in) {
		bits |= uint64(in[pos]) << nb
		pos++
		nb += 8
	}
	return pos, bits, nb
}

// need reports whether n bits are available, refilling if needed.
func (br *bitReader) need(n uint) bool {
	if br.nb < n {
		br.refill()
	}
	return br.nb >= n
}

func (br *bitReader) consume(n uint) {
	br.bits >>= n
	br.nb -= n
}

// decode reads one symbol with a single-level table.
func (br *bitReader) decode(t *[clTableSize]uint32) (uint32, error) {
	br.need(clRootBits)
	e := t[br.bits&(clTableSize-1)]
	l := uint(e & 15)
	if l > br.nb {
		return 0, errTruncated
	}
	br.consume(l)
	return e, nil
}

// stored copies the data of a stored block into the history and returns
// its length.
func (f *inflater) stored(br *bitReader) (int, error) {
	// Skip to the byte boundary, then give back the whole bytes still
	// buffered so the block can be read straight from the input.
	br.consume(br.nb & 7)
	br.pos -= int(br.nb >> 3)
	br.bits, br.nb = 0, 0
	in := br.in[br.pos:]
	if len(in) < 4 {
		return 0, errTruncated
	}
	n := int(binary.LittleEndian.Uint16(in))
	if uint16(n) != ^binary.LittleEndian.Uint16(in[2:]) {
		return 0, errStoredLen
	}
	if len(in) < 4+n {
		return 0, errTruncated
	}
	data := in[4 : 4+n]
	br.pos += 4 + n
	for len(data) > 0 {
		k := copy(f.win[f.wp:], data)
		data = data[k:]
		f.wp += k
		if f.wp == winSize {
			f.wrap()
		}
	}
	return n, nil
}

// readCodes reads the code lengths of a dynamic block and builds its tables.
func (f *inflater) readCodes(br *bitReader) error {
	if !br.need(14) {
		return errTruncated
	}
	nlit := int(br.bits&31) + 257
	ndist := int(br.bits>>5&31) + 1
	nclen := int(br.bits>>10&15) + 4
	br.consume(14)
	if nlit > numLitCodes || ndist > numDistCodes {
		return errCodeCount
	}

	var clLens [numCLCodes]uint8
	for _, sym := range clOrder[:nclen] {
		if !br.need(3) {
			return errTruncated
		}
		clLens[sym] = uint8(br.bits & 7)
		br.consume(3)
	}
	if err := f.build.build(f.cl[:], clRootBits, clLens[:], clSyms[:]); err != nil {
		return err
	}

	lens := f.lens[:nlit+ndist]
	for i := 0; i < len(lens); {
		e, err := br.decode(&f.cl)
		if err != nil {
			return err
		}
		if e>>4&15 != kindSym {
			return errIncomplete // only an empty code-length code gets here
		}
		sym := e >> 16
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var nb uint
		var val uint8
		switch sym {
		case 16:
			if i == 0 {
				return errRepeatFirst
			}
			rep, nb, val = 3, 2, lens[i-1]
		case 17:
			rep, nb = 3, 3
		default:
			rep, nb = 11, 7
		}
		if !br.need(nb) {
			return errTruncated
		}
		rep += int(br.bits & (1<<nb - 1))
		br.consume(nb)
		if i+rep > len(lens) {
			return errRepeatPastEnd
		}
		for range rep {
			lens[i] = val
			i++
		}
	}
	if lens[endOfBlockSym] == 0 {
		return errNoEndOfBlock
	}
	if err := f.build.build(f.lit[:], litRootBits, lens[:nlit], litSyms[:]); err != nil {
		return err
	}
	return f.build.build(f.dist[:], distRootBits, lens[nlit:], distSyms[:])
}

// huffman decodes the data of a fixed or dynamic block through its
// end-of-block code.
func (f *inflater) huffman(br *bitReader, lt *[litTableSize]uint32, dt *[distTableSize]uint32) error {
	// The loop keeps the reader's state and the write position in locals,
	// which the compiler can keep in registers.
	in, pos, bitbuf, nb := br.in, br.pos, br.bits, br.nb
	win := &f.win
	wp := f.wp
	var err error
decode:
	for {
		// One refill gives the 48 bits the longest symbol pair needs,
		// unless the input ends.
		if nb < 48 {
			pos, bitbuf, nb = refillBits(in, pos, bitbuf, nb)
		}
		e := lt[bitbuf&(1<<litRootBits-1)]
		if e>>4&15 == kindLink {
			e = lt[e>>16+uint32(bitbuf>>litRootBits)&(1<<(e>>8&15)-1)]
		}
		l := uint(e & 15)
		if l > nb {
			err = errTruncated
			break
		}
		bitbuf >>= l
		nb -= l

		switch e >> 4 & 15 {
		case kindLit:
			win[wp&winMask] = byte(e >> 16)
			wp++
			if wp == winSize {
				f.wp = wp
				f.wrap()
				wp = 0
			}
			continue
		case kindEOB:
			break decode
		case kindLen: // decoded below
		default:
			err = errBadLitLen
			break decode
		}

		xb := uint(e >> 8 & 15)
		if xb > nb {
			err = errTruncated
			break
		}
		length := int(e>>16) + int(bitbuf&(1<<xb-1))
		bitbuf >>= xb
		nb -= xb

		e = dt[bitbuf&(1<<distRootBits-1)]
		if e>>4&15 == kindLink {
			e = dt[e>>16+uint32(bitbuf>>distRootBits)&(1<<(e>>8&15)-1)]
		}
		l = uint(e & 15)
		if l > nb {
			err = errTruncated
			break
		}
		bitbuf >>= l
		nb -= l
		if e>>4&15 != kindDist {
			err = errBadDist
			break
		}
		xb = uint(e >> 8 & 15)
		if xb > nb {
			err = errTruncated
			break
		}
		dist := int(e>>16) + int(bitbuf&(1<<xb-1))
		bitbuf >>= xb
		nb -= xb
		if dist > wp && !f.wrapped {
			err = errDistTooFar
			break
		}

		// Copy the match. The fast case: neither the source nor the
		// destination crosses the end of the ring.
		if src := wp - dist; src >= 0 && wp+length < winSize {
			if dist >= length {
				copy(win[wp:wp+length], win[src:src+length])
			} else {
				forwardCopy(win[src:wp+length], dist)
			}
			wp += length
			continue
		}
		f.wp = wp
		f.copyWrapping(dist, length)
		wp = f.wp
	}
	br.pos, br.bits, br.nb = pos, bitbuf, nb
	f.wp = wp
	return err
}

// forwardCopy fills b[dist:] by repeating b[:dist], as an overlapping LZ77
// copy does, doubling the copied span each round.
func forwardCopy(b []byte, dist int) {
	for done := dist; done < len(b); done *= 2 {
		copy(b[done:], b[:done])
	}
}

// copyWrapping copies a match whose source or destination crosses the end of
// the ring.
func (f *inflater) copyWrapping(dist, length int) {
	for length > 0 {
		src := f.wp - dist
		if src < 0 {
			src += winSize
		}
		// Keep both spans inside the ring. A source behind the write
		// position can overlap the destination (dist < length); a source
		// ahead of it (wrapped) never catches up with it.
		k := min(length, winSize-f.wp, winSize-src)
		if src < f.wp && dist < k {
			forwardCopy(f.win[src:f.wp+k], dist)
		} else {
			copy(f.win[f.wp:f.wp+k], f.win[src:src+k])
		}
		f.wp += k
		length -= k
		if f.wp == winSize {
			f.wrap()
		}
	}
}

// wrap hands out the output up to the end of the ring and starts over at its
// beginning.
func (f *inflater) wrap() {
	f.flush(winSize)
	f.wp, f.mark, f.wrapped = 0, 0, true
}

// flush hands out win[mark:end] and moves mark to end.
func (f *inflater) flush(end int) {
	p := f.win[f.mark:end]
	f.mark = end
	if f.size > math.MaxInt-len(p) {
		f.size = math.MaxInt
	} else {
		f.size += len(p)
	}
	if room := f.outMax - len(f.out); len(p) > room {
		p = p[:room]
	}
	if len(p) == 0 {
		return
	}
	if len(f.out)+len(p) > cap(f.out) {
		// Grow by doubling, but never past the limit.
		c := min(max(2*cap(f.out), len(f.out)+len(p), 512), f.outMax)
		out := make([]byte, len(f.out), c)
		copy(out, f.out)
		f.out = out
	}
	f.out = append(f.out, p...)
}
