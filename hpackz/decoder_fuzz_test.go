package hpackz

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A FuzzDecodeBlock input is a control byte and then blocks, each a 16-bit
// big-endian length and that many bytes (the last block takes what is left
// if it is shorter). The control byte picks:
//
//	bit 0     the version: 0 SPDY/3, 1 SPDY/2
//	bits 1-2  the limit: default, 64, 1024 or 65536 bytes
//	bit 3     prefix the first block with a valid zlib header for the
//	          version, so that the fuzzer can spend its effort on deflate data
const (
	ctlV2        = 1 << 0
	ctlLimit1024 = 2 << 1
	ctlZlib      = 1 << 3
)

var fuzzLimits = [4]int{0, 64, 1024, 1 << 16}

// fuzzInput builds a FuzzDecodeBlock input.
func fuzzInput(ctl byte, blocks ...[]byte) []byte {
	in := []byte{ctl}
	for _, b := range blocks {
		in = binary.BigEndian.AppendUint16(in, uint16(len(b)))
		in = append(in, b...)
	}
	return in
}

// FuzzDecodeBlock feeds arbitrary blocks to one Decoder. It must not panic,
// must keep its memory within the limit, must return only the four error
// kinds (a CompressionError for good), must emit nothing with an error, and
// must emit only fields that follow the rules and that encode back to
// exactly the block it inflated. Its seed corpus is in
// testdata/fuzz/FuzzDecodeBlock (see TestWriteFuzzSeeds).
func FuzzDecodeBlock(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		ctl := in[0]
		in = in[1:]
		v := V3
		if ctl&ctlV2 != 0 {
			v = V2
		}
		d := NewDecoder(v, &DecoderOptions{MaxBlockSize: fuzzLimits[ctl>>1&3]})
		var dead error
		for i := 0; len(in) > 0 && i < 64; i++ {
			n := len(in)
			if n >= 2 {
				n = min(int(binary.BigEndian.Uint16(in)), n-2)
				in = in[2:]
			}
			block := in[:n]
			in = in[n:]
			if i == 0 && ctl&ctlZlib != 0 {
				hdr := binary.BigEndian.AppendUint32([]byte{0x78, 0xbb}, dictionaryID(v))
				block = append(hdr, block...)
			}
			var got []Field
			err := d.Decode(block, func(f Field) { got = append(got, f) })
			if dead != nil {
				if err != dead {
					t.Fatalf("block %d: %v after a CompressionError, want the same error", i, err)
				}
				continue
			}
			if err != nil && len(got) > 0 {
				t.Fatalf("block %d: %d fields emitted with an error", i, len(got))
			}
			if cap(d.buf) > d.limit {
				t.Fatalf("block %d: buffer of %d bytes, limit %d", i, cap(d.buf), d.limit)
			}
			switch e := err.(type) {
			case nil:
				checkFields(t, v, got, d.buf)
			case *CompressionError:
				dead = err
			case *BlockError:
			case *TooLargeError:
				if e.Limit != d.limit || e.Size <= e.Limit {
					t.Fatalf("block %d: %v with a limit of %d", i, err, d.limit)
				}
			case *TooManyFieldsError:
				if e.Limit != d.maxFields || e.Fields <= e.Limit || e.Size > d.limit {
					t.Fatalf("block %d: %v with a limit of %d fields", i, err, d.maxFields)
				}
			default:
				t.Fatalf("block %d: error %T: %v", i, err, err)
			}
		}
	})
}

// checkFields checks the fields of an accepted block against the rules and
// against the inflated bytes raw.
func checkFields(t *testing.T, v Version, fields []Field, raw []byte) {
	t.Helper()
	seen := map[string]bool{}
	var nv []string
	for _, f := range fields {
		if checkName(f.Name) != nil || checkValue(v, f.Value) != nil || seen[f.Name] {
			t.Fatalf("accepted a bad field %q", f)
		}
		seen[f.Name] = true
		nv = append(nv, f.Name, f.Value)
	}
	if !bytes.Equal(rawBlock(v, nv...), raw) {
		t.Fatalf("fields %q do not encode back to the inflated block", fields)
	}
}

type fuzzSeed struct {
	name string
	data []byte
}

// fuzzSeeds returns the inputs of the committed seed corpus: every
// compressed vector of the digest, the shared-context pair, and streams from
// compress/zlib with good, bad and oversized blocks.
func fuzzSeeds(tb testing.TB) []fuzzSeed {
	var seeds []fuzzSeed
	add := func(name string, data []byte) { seeds = append(seeds, fuzzSeed{name, data}) }
	ctlOf := func(v Version) byte {
		if v == V2 {
			return ctlV2
		}
		return 0
	}
	for _, tc := range compressedVectors {
		b := vectorBlock(tb, tc.hex, tc.off)
		add("vector-"+tc.name, fuzzInput(ctlOf(tc.v), b))
		add("vector-"+tc.name+"-bare", fuzzInput(ctlOf(tc.v)|ctlZlib, b[6:]))
		add("vector-"+tc.name+"-wrong-version", fuzzInput(ctlOf(V2+V3-tc.v), b))
		add("vector-"+tc.name+"-truncated", fuzzInput(ctlOf(tc.v), b[:len(b)-3]))
	}
	add("ctx-v3", fuzzInput(0, hexBytes(tb, ctxV3Block1), hexBytes(tb, ctxV3Block2)))
	add("ctx-v3-block2-alone", fuzzInput(0, hexBytes(tb, ctxV3Block2)))

	for _, v := range []Version{V2, V3} {
		for _, level := range []int{flate.NoCompression, flate.BestSpeed, flate.BestCompression, flate.HuffmanOnly} {
			z := newZStream(tb, v, level)
			var blocks [][]byte
			for i, bad := range badBlocks(v)[:8] {
				blocks = append(blocks,
					z.block(rawBlock(v, ":method", "GET", ":path", fmt.Sprintf("/%d", i), "accept", "*/*")),
					z.block(bad.raw))
			}
			blocks = append(blocks, z.block(rawBlock(v, "x-big", strings.Repeat("ab", 600))))
			blocks = append(blocks, z.block(rawBlock(v, ":status", "200 OK", "set-cookie", "a=1\x00b=2")))
			add(fmt.Sprintf("zlib-v%d-level%d", int(v), level), fuzzInput(ctlOf(v)|ctlLimit1024, blocks...))
		}
	}
	return seeds
}

// TestWriteFuzzSeeds writes the seed corpus of FuzzDecodeBlock to
// testdata/fuzz when HPACKZ_WRITE_SEEDS is set.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("HPACKZ_WRITE_SEEDS") == "" {
		t.Skip("set HPACKZ_WRITE_SEEDS=1 to rewrite testdata/fuzz/FuzzDecodeBlock")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeBlock")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range fuzzSeeds(t) {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s.data)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, s.name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
