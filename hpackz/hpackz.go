package hpackz

import (
	_ "embed"
	"encoding/hex"
	"fmt"
	"strings"
)

// Version selects the header block format and the compression dictionary.
type Version int

const (
	// V2 is SPDY/2: 16-bit counts and lengths, the SPDY/2 dictionary.
	V2 Version = 2
	// V3 is SPDY/3 and SPDY/3.1: 32-bit counts and lengths, the SPDY/3
	// dictionary.
	V3 Version = 3
)

// String returns "spdy/2" or "spdy/3".
func (v Version) String() string {
	switch v {
	case V2:
		return "spdy/2"
	case V3:
		return "spdy/3"
	}
	return fmt.Sprintf("hpackz.Version(%d)", int(v))
}

func (v Version) valid() bool { return v == V2 || v == V3 }

// lenSize is the width in bytes of the pair count and of each length field.
func (v Version) lenSize() int {
	if v == V2 {
		return 2
	}
	return 4
}

// Field is one header: a name and its value. Several values for one name are
// joined with a single NUL byte, e.g. "a=1\x00b=2" for two set-cookie values.
type Field struct {
	Name  string
	Value string
}

// String returns "name: value", showing NUL separators as ", ".
func (f Field) String() string {
	return f.Name + ": " + strings.ReplaceAll(f.Value, "\x00", ", ")
}

// Values splits f.Value at its NUL separators.
func (f Field) Values() []string { return strings.Split(f.Value, "\x00") }

var (
	//go:embed dictionary-v2.hex
	dictV2Hex string
	//go:embed dictionary-v3.hex
	dictV3Hex string

	dictV2 = mustDecodeHex(dictV2Hex)
	dictV3 = mustDecodeHex(dictV3Hex)
)

// Adler-32 checksums of the dictionaries: the zlib DICTID that opens the
// first block of every direction.
const (
	dictV2ID = 0xdfa251b2
	dictV3ID = 0xe3c6a7c2
)

func mustDecodeHex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic("hpackz: bad embedded dictionary: " + err.Error())
	}
	return b
}

// dictionary returns the shared, read-only preset dictionary of v.
func dictionary(v Version) []byte {
	if v == V2 {
		return dictV2
	}
	return dictV3
}

// dictionaryID returns the Adler-32 of v's dictionary.
func dictionaryID(v Version) uint32 {
	if v == V2 {
		return dictV2ID
	}
	return dictV3ID
}

// Dictionary returns a copy of the zlib preset dictionary of version v (907
// bytes for SPDY/2, including its trailing NUL; 1423 bytes for SPDY/3 and
// SPDY/3.1). It returns nil for an unknown version.
func Dictionary(v Version) []byte {
	if !v.valid() {
		return nil
	}
	return append([]byte(nil), dictionary(v)...)
}

// CompressionError reports a broken zlib stream: corrupt or truncated data,
// a wrong dictionary, or a block that does not end on a flush boundary. The
// decoding context is lost, which is a session error (GOAWAY
// PROTOCOL_ERROR).
type CompressionError struct {
	Err error // what went wrong; never contains header data
}

func (e *CompressionError) Error() string {
	return "hpackz: corrupt compression stream: " + e.Err.Error()
}

// Unwrap returns e.Err.
func (e *CompressionError) Unwrap() error { return e.Err }

// BlockError reports a header block that inflated correctly but whose content
// breaks a rule of the format: counts or lengths that do not match the bytes
// present, an empty, upper-case or duplicate name, or an illegal value. The
// decoding context is still in step; this is a stream error
// (RST_STREAM PROTOCOL_ERROR).
//
// Encoders return it too, for fields that cannot be sent.
type BlockError struct {
	Reason string // never contains header values
}

func (e *BlockError) Error() string { return "hpackz: invalid header block: " + e.Reason }

// TooLargeError reports an inflated header block larger than the decoder's
// limit. The block was still inflated to its end, so the decoding context is
// in step; the stream should be refused or reset.
type TooLargeError struct {
	Size  int // inflated size of the block in bytes
	Limit int // the limit it exceeded
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("hpackz: header block of %d bytes exceeds the limit of %d", e.Size, e.Limit)
}

// TooManyFieldsError reports a header block with more name/value pairs than
// the decoder's limit (DecoderOptions.MaxFields). The block was inflated to
// its end, so the decoding context is in step; the stream should be
// refused or reset.
type TooManyFieldsError struct {
	Fields int // the pair count of the block
	Limit  int // the limit it exceeded
	Size   int // inflated size of the block in bytes
}

func (e *TooManyFieldsError) Error() string {
	return fmt.Sprintf("hpackz: header block of %d fields exceeds the limit of %d", e.Fields, e.Limit)
}

func blockErrorf(format string, args ...any) *BlockError {
	return &BlockError{Reason: fmt.Sprintf(format, args...)}
}

// checkName reports why name may not appear in a header block, or nil.
// Names are non-empty, contain no NUL, no upper-case ASCII and no bytes
// outside printable US-ASCII.
func checkName(name string) *BlockError {
	if name == "" {
		return &BlockError{Reason: "empty header name"}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'A' <= c && c <= 'Z':
			return &BlockError{Reason: "upper-case header name"}
		case c <= ' ' || c >= 0x7f:
			return blockErrorf("header name has byte %#02x", c)
		}
	}
	return nil
}

// checkValue reports why value may not follow a name in a v block, or nil.
// A non-empty value is one or more non-empty NUL-separated segments; SPDY/2
// also forbids the empty value.
func checkValue(v Version, value string) *BlockError {
	if value == "" {
		if v == V2 {
			return &BlockError{Reason: "empty header value (spdy/2)"}
		}
		return nil
	}
	if value[0] == 0 || value[len(value)-1] == 0 || strings.Contains(value, "\x00\x00") {
		return &BlockError{Reason: "header value has an empty NUL-separated segment"}
	}
	return nil
}
