package hpackz

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Compression levels for [EncoderOptions] and [Encoder.SetLevel]. They have
// the values of the compress/flate and compress/zlib constants of the same
// names, so those can be used too; levels 2 to 8 lie between BestSpeed and
// BestCompression. Every level above NoCompression matches against the
// 32 KiB window (at first the preset dictionary) and writes each deflate
// block with whichever of a dynamic Huffman code, the fixed code or a stored
// block is smallest.
const (
	// NoCompression sends every header block as stored (uncompressed)
	// deflate blocks. The output is still the zlib stream with the preset
	// dictionary that every peer expects, so it interoperates, but nothing
	// in it depends on anything else: no header can leak through the size
	// of another (see [EncoderOptions] on CRIME). It needs no compression
	// window, so an encoder that stays at this level uses a few hundred
	// bytes instead of about 72 KiB.
	NoCompression = 0
	// BestSpeed takes the first match found (greedy matching), looking at
	// one earlier position per hash of 4 bytes, and indexes the inside of
	// matches only up to 8 bytes long.
	BestSpeed = 1
	// BestCompression looks at 64 earlier positions per hash and, before
	// taking a match, checks whether a longer one starts at the next byte
	// (lazy matching).
	BestCompression = 9
	// DefaultCompression is level 6: 8 positions per hash and lazy
	// matching unless the match is 64 bytes or longer.
	DefaultCompression = -1
)

// EncoderOptions configures an [Encoder]. A nil *EncoderOptions means
// DefaultCompression with the values of [DefaultSensitive] protected.
//
// # CRIME
//
// One compression context serves every header block of a session, so the
// compressed size of a block shows how much of it matched what was sent
// before. When an attacker can choose part of the headers (for example a
// URL path that a script makes the victim's browser request) and observe
// the size of the encrypted frames, it can guess a secret sent in the same
// context (a cookie) one character at a time, keeping the guess that
// compresses best. This is the CRIME attack (2012); it is why browsers
// stopped compressing SPDY request headers.
//
// The Encoder defends against it header by header: the value of a header
// for which Sensitive reports true is written as stored blocks, never as
// the target of a match, and is kept out of the window, so that no later
// byte can be matched against it either. On the wire it takes its length
// plus 4 bytes per 64 KiB and a stored block header (3 bits, padded to a
// byte boundary that depends only on what came before), whatever it and
// the rest of the block contain; and every other byte is compressed exactly
// as if the secret were any other string of that length. The header name and the value's length are
// still compressed and visible. The protected values are still in the
// peer's decompression window (the format gives no way around that); the
// Encoder only never refers to them.
//
// The cost: a protected value is sent in full in every block, and a
// protected value in the middle of a block ends a deflate block (the
// headers after it start a new one, with a new Huffman table). Setting
// Level to NoCompression protects everything.
type EncoderOptions struct {
	// Level is the compression level: NoCompression (0), BestSpeed (1)
	// to BestCompression (9), or DefaultCompression (-1). As in
	// compress/flate the zero value is NoCompression: set
	// DefaultCompression explicitly when filling in other fields.
	Level int

	// Sensitive reports whether the value of the header named name (a
	// valid, lower-case name) must be kept out of the compression context.
	// It is called once per block for each header with a non-empty value,
	// before anything is written.
	// nil means DefaultSensitive; NeverSensitive protects nothing.
	Sensitive func(name string) bool
}

// DefaultSensitive is the Sensitive function used when none is given: it
// reports true for "cookie", "set-cookie", "authorization" and
// "proxy-authorization", the headers that carry credentials in HTTP.
// Protecting them is the default because a leaked session cookie is worth
// far more than the bytes saved by compressing it; a server whose responses
// never reflect request data may choose NeverSensitive.
func DefaultSensitive(name string) bool {
	switch name {
	case "cookie", "set-cookie", "authorization", "proxy-authorization":
		return true
	}
	return false
}

// NeverSensitive reports false for every name: with it, every header takes
// part in compression. Use it only when no header can be influenced by an
// attacker or carries a secret (see [EncoderOptions] on CRIME).
func NeverSensitive(name string) bool { return false }

// An Encoder compresses the header blocks of one direction of a session:
// every block goes through the same zlib stream, so a block may refer to
// earlier ones, and the peer must decompress them all, in order, with one
// decompressor. The first block starts with the zlib header; every block
// ends with a sync flush, so it can be decompressed as soon as it arrives.
//
// An Encoder holds about 72 KiB of state at levels above NoCompression and
// allocates nothing per block beyond the growth of the caller's buffer. It
// is not safe for concurrent use.
type Encoder struct {
	v         Version
	sensitive func(string) bool
	started   bool     // the zlib header is out
	flags     []bool   // per field: protect the value
	names     []string // scratch for duplicate detection
	z         deflater
}

// NewEncoder returns an Encoder for version v configured by opts (nil for
// the defaults). It panics if v is not V2 or V3 or if the level is out of
// range: both are programming errors, not conditions of the peer.
func NewEncoder(v Version, opts *EncoderOptions) *Encoder {
	if !v.valid() {
		panic(fmt.Sprintf("hpackz: NewEncoder: invalid version %d", int(v)))
	}
	level, sens := DefaultCompression, DefaultSensitive
	if opts != nil {
		level = opts.Level
		if opts.Sensitive != nil {
			sens = opts.Sensitive
		}
	}
	e := &Encoder{v: v, sensitive: sens}
	e.z.init(dictionary(v), encCheckLevel(level))
	return e
}

func encCheckLevel(level int) int {
	if level == DefaultCompression {
		return 6
	}
	if level < NoCompression || level > BestCompression {
		panic(fmt.Sprintf("hpackz: invalid compression level %d", level))
	}
	return level
}

// SetLevel changes the compression level for the following blocks; it
// panics if level is out of range. The peer needs no notice. Switching to
// NoCompression for one block and back protects that whole block; the
// history before a NoCompression block is not used for matching afterwards.
func (e *Encoder) SetLevel(level int) {
	e.z.setLevel(encCheckLevel(level), dictionary(e.v))
}

// encMaxBlock is the longest compressed block AppendBlock returns: a
// SYN_STREAM carries 10 fixed bytes before the block, in a payload whose
// length is a 24-bit field.
const encMaxBlock = 1<<24 - 1 - 10

// encWorstCase bounds the compressed length of a block whose encoding is nv
// bytes long, nsens of which in non-empty protected values. Every deflate
// block the Encoder writes is at most its input plus 6 bytes (the cost of a
// stored block: 3 header bits, up to 7 bits of padding, LEN and NLEN). There
// is one block per dflMaxTokens tokens or dflMaxSpan input bytes (so per
// dflMaxTokens bytes at worst), one per 64 KiB of stored data, two more per
// protected value (its stored block and the one that ends the input before
// it), a last partial block and the sync flush; then the zlib header.
func encWorstCase(nv, nsens int) int {
	blocks := nv/dflMaxTokens + nv/dflMaxStored + 2*nsens + 3
	return 6 + nv + 6*blocks
}

// AppendBlock appends the compressed header block of fields to dst and
// returns the extended buffer. The block ends with a sync flush (its last
// four bytes are 00 00 ff ff) and is at most 16 MiB minus 11 bytes long, so
// it fits in any SYN_STREAM, SYN_REPLY or HEADERS frame. The fields are not
// modified or retained.
//
// Fields are checked before anything is written: names must be non-empty,
// lower-case, printable US-ASCII and unique in the block; values must not
// have empty NUL-separated segments, and must not be empty in SPDY/2;
// SPDY/2 also limits names, values and the number of fields to 65535. A
// block whose worst-case compressed size exceeds the frame limit is
// refused. The error is then a *[BlockError], dst is returned unchanged,
// and the Encoder is as before the call: the compression context does not
// advance, so the next block is encoded as if this call had not happened.
func (e *Encoder) AppendBlock(dst []byte, fields []Field) ([]byte, error) {
	nv, err := encCheckFields(e.v, fields, &e.names)
	if err != nil {
		return dst, err
	}
	e.flags = slices.Grow(e.flags[:0], len(fields))[:len(fields)]
	nsens := 0
	for i, f := range fields {
		e.flags[i] = f.Value != "" && e.sensitive(f.Name)
		if e.flags[i] {
			nsens++
		}
	}
	if n := encWorstCase(nv, nsens); n > encMaxBlock {
		if cap(e.flags) > encKeepScratch {
			e.flags = nil
		}
		return dst, blockErrorf("header block of %d bytes may not fit in a frame once compressed", nv)
	}

	d := &e.z
	d.out = dst
	if !e.started {
		d.out = encAppendZlibHeader(d.out, d.level, dictionaryID(e.v))
		e.started = true
	}
	d.beginBlock(nv)
	var num [4]byte
	length := func(n int) []byte {
		if e.v == V2 {
			binary.BigEndian.PutUint16(num[:], uint16(n))
			return num[:2]
		}
		binary.BigEndian.PutUint32(num[:], uint32(n))
		return num[:4]
	}
	dflWrite(d, length(len(fields)))
	for i, f := range fields {
		dflWrite(d, length(len(f.Name)))
		dflWrite(d, f.Name)
		dflWrite(d, length(len(f.Value)))
		if e.flags[i] {
			d.writeSensitive(f.Value)
		} else {
			dflWrite(d, f.Value)
		}
	}
	d.endBlock()
	out := d.out
	d.out = nil
	if cap(e.flags) > encKeepScratch {
		e.flags = nil
	}
	return out, nil
}

// encAppendZlibHeader appends the RFC 1950 header of a stream with a preset
// dictionary: CMF (deflate, 32 KiB window), FLG (level hint, FDICT, check
// bits) and the dictionary's Adler-32.
func encAppendZlibHeader(dst []byte, level int, dictID uint32) []byte {
	const cmf = 0x78
	var flevel byte
	switch {
	case level >= 7:
		flevel = 3
	case level == 6:
		flevel = 2
	case level >= 2:
		flevel = 1
	}
	flg := flevel<<6 | 0x20
	flg += byte(31 - (uint(cmf)<<8|uint(flg))%31)
	dst = append(dst, cmf, flg)
	return binary.BigEndian.AppendUint32(dst, dictID)
}

// AppendUncompressed appends the uncompressed name/value block of fields
// for version v to dst: the pair count, then each name and value with its
// length (16-bit numbers in SPDY/2, 32-bit in SPDY/3). It is what a
// Decoder's zlib stream inflates to, for tests and tools; peers only accept
// compressed blocks. Fields are checked as by [Encoder.AppendBlock].
func AppendUncompressed(dst []byte, v Version, fields []Field) ([]byte, error) {
	nv, err := checkBlock(v, fields)
	if err != nil {
		return dst, err
	}
	dst = slices.Grow(dst, nv)
	put := func(n int) {
		if v == V2 {
			dst = binary.BigEndian.AppendUint16(dst, uint16(n))
		} else {
			dst = binary.BigEndian.AppendUint32(dst, uint32(n))
		}
	}
	put(len(fields))
	for _, f := range fields {
		put(len(f.Name))
		dst = append(dst, f.Name...)
		put(len(f.Value))
		dst = append(dst, f.Value...)
	}
	return dst, nil
}

// CheckFields reports whether fields can be sent in a header block of
// version v, with the error Encoder.AppendBlock and AppendUncompressed would
// return, without building the block. Callers that queue headers to be
// encoded later use it to report bad fields at once.
func CheckFields(v Version, fields []Field) error {
	_, err := checkBlock(v, fields)
	return err
}

// checkBlock checks fields for a block of version v and returns the size
// of the uncompressed block.
func checkBlock(v Version, fields []Field) (int, error) {
	if !v.valid() {
		return 0, fmt.Errorf("hpackz: invalid version %d", int(v))
	}
	var names []string
	nv, err := encCheckFields(v, fields, &names)
	if err != nil {
		return 0, err
	}
	if nv > encMaxBlock {
		return 0, blockErrorf("header block of %d bytes does not fit in a frame", nv)
	}
	return nv, nil
}

// encKeepScratch is the largest number of fields for which an Encoder
// keeps its per-field scratch space between blocks.
const encKeepScratch = 256

// encDupQuadratic is the number of fields up to which duplicate names are
// found by comparing every pair rather than by sorting.
const encDupQuadratic = 16

// encCheckFields checks fields for a v block and returns the length of
// their uncompressed encoding. names is scratch space for duplicate
// detection in large blocks. Reasons never contain header values.
func encCheckFields(v Version, fields []Field, names *[]string) (int, error) {
	if v == V2 && len(fields) > 0xffff {
		return 0, blockErrorf("%d header fields exceed the spdy/2 limit of 65535", len(fields))
	}
	ls := v.lenSize()
	nv := ls
	for i, f := range fields {
		if err := checkName(f.Name); err != nil {
			return 0, blockErrorf("field %d: %s", i, err.Reason)
		}
		if err := checkValue(v, f.Value); err != nil {
			return 0, blockErrorf("field %d: %s", i, err.Reason)
		}
		if v == V2 && (len(f.Name) > 0xffff || len(f.Value) > 0xffff) {
			return 0, blockErrorf("field %d: name or value longer than 65535 bytes (spdy/2)", i)
		}
		// Checked field by field, so the sum cannot overflow.
		nv += 2*ls + len(f.Name) + len(f.Value)
		if nv > encMaxBlock {
			return 0, blockErrorf("header block of more than %d bytes does not fit in a frame", encMaxBlock)
		}
	}
	if len(fields) <= encDupQuadratic {
		for i := 1; i < len(fields); i++ {
			for j := range i {
				if fields[i].Name == fields[j].Name {
					return 0, blockErrorf("field %d: duplicate header name (as field %d)", i, j)
				}
			}
		}
		return nv, nil
	}
	s := (*names)[:0]
	for _, f := range fields {
		s = append(s, f.Name)
	}
	slices.Sort(s)
	dup := ""
	for i := 1; i < len(s) && dup == ""; i++ {
		if s[i] == s[i-1] {
			dup = s[i]
		}
	}
	clear(s) // do not keep the caller's strings alive
	*names = s[:0]
	if cap(s) > encKeepScratch {
		*names = nil // one huge block should not cost memory for good
	}
	if dup != "" {
		first := slices.IndexFunc(fields, func(f Field) bool { return f.Name == dup })
		second := first + 1 + slices.IndexFunc(fields[first+1:], func(f Field) bool { return f.Name == dup })
		return 0, blockErrorf("field %d: duplicate header name (as field %d)", second, first)
	}
	return nv, nil
}
