// Package hpackz encodes and decodes SPDY name/value header blocks and their
// zlib compression, for SPDY/2 and SPDY/3 (SPDY/3.1 uses the SPDY/3 format).
//
// A header block is a count of name/value pairs followed by the pairs, each a
// length-prefixed name and a length-prefixed value (16-bit counts and lengths
// in SPDY/2, 32-bit in SPDY/3). Every block an endpoint sends on a session
// goes through one zlib stream primed with the version's preset dictionary,
// and every block ends with a sync flush so the receiver can decode it on its
// own. The package keeps one [Encoder] per sending direction and one
// [Decoder] per receiving direction; each must live as long as the session,
// and every received block must be decoded, in order, even when the frame
// carrying it is rejected, or every later block fails.
//
// # Fields
//
// A [Field] holds one name and its value. Several values for one name are
// joined with a single NUL byte (SPDY has no repeated names in a block).
// Names are lower-case; empty names, upper-case names, duplicate names and
// values with empty NUL-separated segments are rejected on both encode and
// decode. SPDY/2 also forbids empty values.
//
// # Errors
//
// Decoding errors come in three kinds, matching how much of the session they
// break:
//
//   - [*CompressionError]: the zlib stream itself is corrupt, truncated or
//     uses the wrong dictionary. The shared context is lost: the session must
//     end with GOAWAY PROTOCOL_ERROR. The Decoder returns the same error
//     from then on.
//   - [*BlockError]: the block inflated correctly but its content breaks a
//     rule. The context is still in step; the stream must be reset with
//     PROTOCOL_ERROR.
//   - [*TooLargeError]: the inflated block is larger than the configured
//     limit. The block was still inflated to its end, so the context is in
//     step; the stream should be refused or reset.
//   - [*TooManyFieldsError]: the block holds more name/value pairs than the
//     configured limit. The context is in step; the stream should be
//     refused or reset.
//
// # Compression and secrets
//
// The package has its own deflate and inflate implementations, tailored to
// a stream that is cut into sync-flushed blocks: an Encoder costs about
// 72 KiB (compress/flate: 0.8 to 1.2 MiB) and allocates nothing per block,
// and a Decoder inflates exactly the bytes of each block without reading
// ahead. [EncoderOptions.Level] chooses the compression effort; with
// [NoCompression] every block is stored. Because one context is shared by
// every header of a session, compressing a secret next to headers an
// attacker chooses leaks the secret through the compressed size (CRIME).
// [EncoderOptions.Sensitive] names headers whose values never take part in
// matching; by default cookie, set-cookie, authorization and
// proxy-authorization.
//
// Encoders and decoders are not safe for concurrent use.
package hpackz
