package hpackz

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// DefaultMaxBlockSize is the limit on the inflated size of one header block
// that a [Decoder] applies when [DecoderOptions.MaxBlockSize] is zero:
// 256 KiB.
//
// A SPDY header block carries one request or response head. Real heads are a
// few hundred bytes to a few KiB, and common servers refuse much less than
// this limit (nginx 32 KiB in total by default, Apache 8 KiB per field);
// Go's net/http allows 1 MiB for a whole HTTP/1 head. 256 KiB leaves room for
// any head a browser or API client sends, including many large cookies,
// while keeping what one block may make a Decoder hold small: the Decoder
// never holds more than the limit of inflated output for a block.
const DefaultMaxBlockSize = 256 << 10

// DefaultMaxFields is the limit on the name/value pairs of one header block
// that a [Decoder] applies when [DecoderOptions.MaxFields] is zero. Real
// requests and responses carry a few dozen; a block of tens of thousands of
// tiny pairs fits in DefaultMaxBlockSize, compresses to a few KiB, and
// costs its receiver far more per byte (a map entry and strings for each)
// than any other header block.
const DefaultMaxFields = 1000

// DecoderOptions configures a [Decoder]. The zero value gives the defaults.
type DecoderOptions struct {
	// MaxBlockSize limits the inflated size of one header block, in
	// bytes. A larger block is still inflated to its end, keeping the
	// compression context in step, but its output beyond the limit is
	// dropped and Decode reports a *TooLargeError. Zero means
	// DefaultMaxBlockSize. It must not be negative.
	//
	// The limit bounds memory, not work. Deflate expands at most about
	// 1032:1, so a block of n compressed bytes inflates to at most about
	// 1032·n bytes, and all of them go through the history window whatever
	// the limit; on a 2026 server core that runs at 5-7 GB/s, about 2-3 ms
	// per 16 KiB of compressed input. The compressed size is bounded by the
	// frame size the framing layer accepts: bound it there.
	MaxBlockSize int
	// MaxFields limits the name/value pairs of one header block: a block
	// with more is refused with a *TooManyFieldsError before its fields
	// are built (the context stays in step). Zero means DefaultMaxFields;
	// negative means no limit.
	MaxFields int
}

// A Decoder decodes the header blocks that one direction of a SPDY session
// carries: it inflates each block through the direction's zlib stream and
// parses the name/value pairs.
//
// Every block received on the direction must go through the same Decoder, in
// order, including blocks of frames that are then rejected: the blocks share
// one compression context. See the package documentation for what each kind
// of error means for the session.
//
// Each block must hold whole deflate blocks and end with the sync flush
// marker (an empty stored block, the bytes 00 00 ff ff) that SPDY senders
// put after every header block; the first block of the direction starts
// with the zlib header, which must name the version's dictionary. A block
// that instead ends the zlib stream (a final deflate block, without the
// Adler-32 trailer, which SPDY never sends) is accepted, and every block
// after it is a CompressionError. So is an empty block.
//
// A Decoder is not safe for concurrent use. It holds a 32 KiB history window
// and about 7 KiB of decoding tables for the life of the session, plus a
// scratch buffer for the inflated block that grows to the largest block seen,
// but never past the limit (MaxBlockSize). Keeping that buffer makes
// decoding allocation-free apart from the fields' strings, even for blocks
// over the limit.
type Decoder struct {
	v         Version
	limit     int
	maxFields int   // 0: no limit
	started   bool  // the zlib header was read
	err       error // sticky *CompressionError

	buf    []byte   // the inflated block
	fields []Field  // scratch for Decode
	names  []string // scratch for the duplicate check

	inf inflater
}

// NewDecoder returns a Decoder for the header blocks of version v, with the
// options opts (nil means the defaults). It panics if v is not V2 or V3 or if
// opts.MaxBlockSize is negative: both are programming errors.
func NewDecoder(v Version, opts *DecoderOptions) *Decoder {
	if !v.valid() {
		panic(fmt.Sprintf("hpackz: NewDecoder with invalid version %d", int(v)))
	}
	limit, maxFields := DefaultMaxBlockSize, DefaultMaxFields
	if opts != nil {
		switch {
		case opts.MaxBlockSize < 0:
			panic("hpackz: negative DecoderOptions.MaxBlockSize")
		case opts.MaxBlockSize > 0:
			limit = opts.MaxBlockSize
		}
		switch {
		case opts.MaxFields < 0:
			maxFields = 0
		case opts.MaxFields > 0:
			maxFields = opts.MaxFields
		}
	}
	return &Decoder{v: v, limit: limit, maxFields: maxFields}
}

// Decode decodes one header block, the compressed bytes that one
// SYN_STREAM, SYN_REPLY or HEADERS frame carries, and calls emit for each
// field in the order of the block. It checks the whole block first: when it
// returns an error, it has not called emit. emit must not call methods of d.
//
// The error is nil, a *CompressionError (the context is lost: every later
// call returns the same error), a *BlockError, a *TooLargeError or a
// *TooManyFieldsError (the
// context is still in step and the next block decodes normally).
//
// The names and values of one block are substrings of a single string of
// the block's inflated size, its only allocation in steady state: a caller
// that keeps one of them keeps that string alive.
func (d *Decoder) Decode(block []byte, emit func(Field)) error {
	fields, err := d.AppendFields(d.fields[:0], block)
	d.fields = fields[:0]
	if err != nil {
		return err
	}
	for _, f := range fields {
		emit(f)
	}
	clear(fields) // do not pin the block's strings until the next call
	return nil
}

// AppendFields decodes one header block like Decode and appends its fields,
// in order, to dst. On error it returns dst unchanged (its spare capacity may
// have been written to). In steady state, with a dst that has room, it makes
// one allocation per non-empty block: the string that the names and values
// of the block share.
func (d *Decoder) AppendFields(dst []Field, block []byte) ([]Field, error) {
	raw, err := d.inflate(block)
	if err != nil {
		return dst, err
	}
	return d.parse(dst, raw)
}

// inflate inflates one block into d.buf.
func (d *Decoder) inflate(block []byte) ([]byte, error) {
	if d.err != nil {
		return nil, d.err
	}
	if !d.started {
		if d.v == 0 {
			panic("hpackz: Decoder not made by NewDecoder")
		}
		n, err := readZlibHeader(block, d.v)
		if err != nil {
			d.err = &CompressionError{Err: err}
			return nil, d.err
		}
		d.inf.init(dictionary(d.v))
		d.started = true
		block = block[n:]
	}
	buf, size, err := d.inf.inflate(d.buf[:0], block, d.limit)
	d.buf = buf
	if err != nil {
		d.err = &CompressionError{Err: err}
		return nil, d.err
	}
	if size > d.limit {
		return nil, &TooLargeError{Size: size, Limit: d.limit}
	}
	return buf, nil
}

// readBlockLen reads a count or length field of size ls (2 or 4 bytes).
func readBlockLen(b []byte, ls int) uint64 {
	if ls == 2 {
		return uint64(binary.BigEndian.Uint16(b))
	}
	return uint64(binary.BigEndian.Uint32(b))
}

// Errors of the block layout. They are shared values, so that refusing a
// block for its counts and lengths allocates nothing.
var (
	errShortBlock    = &BlockError{Reason: "block shorter than its pair count"}
	errPairCount     = &BlockError{Reason: "pair count larger than the block can hold"}
	errCutLength     = &BlockError{Reason: "block ends inside a length field"}
	errLongLength    = &BlockError{Reason: "length runs past the end of the block"}
	errTrailingBytes = &BlockError{Reason: "bytes after the last pair"}
	errDuplicateName = &BlockError{Reason: "duplicate header name"}
)

// dupScanMax is the largest block whose names are checked for duplicates
// pair by pair; larger blocks sort a copy of the names.
const dupScanMax = 16

// parse checks the inflated block raw and appends its fields to dst. It
// allocates nothing until the counts and lengths of the whole block have
// been checked against the bytes present.
func (d *Decoder) parse(dst []Field, raw []byte) ([]Field, error) {
	ls := d.v.lenSize()
	if len(raw) < ls {
		return dst, errShortBlock
	}
	count := readBlockLen(raw, ls)
	// Every pair takes at least two length fields.
	if count > uint64(len(raw)-ls)/uint64(2*ls) {
		return dst, errPairCount
	}
	if d.maxFields > 0 && count > uint64(d.maxFields) {
		return dst, &TooManyFieldsError{Fields: int(count), Limit: d.maxFields, Size: len(raw)}
	}
	p := ls
	for range count {
		for range 2 { // the name, then the value
			if len(raw)-p < ls {
				return dst, errCutLength
			}
			n := readBlockLen(raw[p:], ls)
			p += ls
			if n > uint64(len(raw)-p) {
				return dst, errLongLength
			}
			p += int(n)
		}
	}
	if p != len(raw) {
		return dst, errTrailingBytes
	}
	if count == 0 {
		return dst, nil
	}

	// The counts and lengths hold: build the fields on one string.
	s := string(raw)
	n0 := len(dst)
	dst = slices.Grow(dst, int(count))
	p = ls
	next := func() string {
		n := int(readBlockLen(raw[p:], ls))
		p += ls + n
		return s[p-n : p]
	}
	var err error
	for range count {
		name, value := next(), next()
		if e := checkName(name); e != nil {
			err = e
			break
		}
		if e := checkValue(d.v, value); e != nil {
			err = e
			break
		}
		dst = append(dst, Field{Name: name, Value: value})
	}
	if err == nil && d.hasDuplicate(dst[n0:]) {
		err = errDuplicateName
	}
	if err != nil {
		clear(dst[n0:])
		return dst[:n0], err
	}
	return dst, nil
}

// hasDuplicate reports whether two fields have the same name, without
// allocating in steady state.
func (d *Decoder) hasDuplicate(fields []Field) bool {
	if len(fields) <= dupScanMax {
		for i := 1; i < len(fields); i++ {
			for j := range i {
				if fields[i].Name == fields[j].Name {
					return true
				}
			}
		}
		return false
	}
	names := d.names[:0]
	for _, f := range fields {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	dup := false
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] {
			dup = true
			break
		}
	}
	clear(names)
	d.names = names[:0]
	return dup
}

// Errors of the zlib header that opens each direction's stream.
var (
	errZlibShort  = errors.New("zlib header truncated")
	errZlibMethod = errors.New("zlib compression method is not deflate")
	errZlibWindow = errors.New("zlib window larger than 32 KiB")
	errZlibCheck  = errors.New("zlib header check bits are wrong")
	errZlibNoDict = errors.New("zlib stream does not use a preset dictionary")
)

// readZlibHeader checks the RFC 1950 header that starts the first block of a
// direction, which must name v's dictionary, and returns its length.
func readZlibHeader(b []byte, v Version) (int, error) {
	if len(b) < 2 {
		return 0, errZlibShort
	}
	cmf, flg := b[0], b[1]
	switch {
	case cmf&0x0f != 8:
		return 0, errZlibMethod
	case cmf>>4 > 7:
		return 0, errZlibWindow
	case (uint(cmf)<<8|uint(flg))%31 != 0:
		return 0, errZlibCheck
	case flg&0x20 == 0:
		return 0, errZlibNoDict
	case len(b) < 6:
		return 0, errZlibShort
	}
	if id := binary.BigEndian.Uint32(b[2:]); id != dictionaryID(v) {
		other := ""
		for _, o := range [...]Version{V2, V3} {
			if id == dictionaryID(o) {
				other = " (" + o.String() + "'s)"
			}
		}
		return 0, fmt.Errorf("zlib stream uses preset dictionary %#08x%s, not %s's %#08x",
			id, other, v, dictionaryID(v))
	}
	return 6, nil
}
