package hpackz

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"testing"
)

// fuzzLevels are the compress/flate levels the differential target uses.
var fuzzLevels = [...]int{flate.HuffmanOnly, flate.NoCompression, 1, 2, 3, 4, 5, 6, 7, 8, 9, flate.DefaultCompression}

// fuzzDict picks a preset dictionary: none, SPDY/2's, SPDY/3's, or the first
// half of the data itself.
func fuzzDict(sel uint8, data []byte) []byte {
	switch sel % 4 {
	case 1:
		return dictV2
	case 2:
		return dictV3
	case 3:
		return data[:len(data)/2]
	}
	return nil
}

// FuzzInflate compresses fuzzer-chosen data with compress/flate, cut into
// pieces each followed by a sync flush (and optionally ending the stream),
// and checks that the inflater, fed chunk by chunk, gives back every piece.
func FuzzInflate(f *testing.F) {
	f.Add([]byte(":method GET :path / :version HTTP/1.1 :host example.com"), []byte{5, 20}, uint8(6), uint8(2), uint8(0), uint16(0), false)
	f.Add(bytes.Repeat([]byte("abc"), 100), []byte{1, 2, 3, 0, 0}, uint8(0), uint8(0), uint8(10), uint16(17), true)
	f.Add([]byte("accept-encoding: gzip, deflate\x00user-agent"), []byte{255}, uint8(1), uint8(1), uint8(31), uint16(0), false)
	f.Add(dictV3[:700], []byte{100, 100, 100}, uint8(10), uint8(3), uint8(20), uint16(3), true)
	f.Fuzz(func(t *testing.T, data, cuts []byte, level, dictSel, reps uint8, limit uint16, final bool) {
		if len(data) > 1<<14 || len(cuts) > 64 {
			return
		}
		dict := fuzzDict(dictSel, data)
		// Cut the data at the lengths in cuts; repeat each piece so that
		// the stream can outgrow the window.
		var pieces [][]byte
		start := 0
		for _, c := range append(cuts, 255) {
			end := min(start+int(c), len(data))
			pieces = append(pieces, bytes.Repeat(data[start:end], 1+int(reps)%32))
			start = end
		}
		pieces[len(pieces)-1] = append(pieces[len(pieces)-1], data[start:]...)

		var buf bytes.Buffer
		w, err := flate.NewWriterDict(&buf, fuzzLevels[int(level)%len(fuzzLevels)], dict)
		if err != nil {
			t.Fatal(err)
		}
		var inf inflater
		inf.init(dict)
		for i, p := range pieces {
			w.Write(p)
			if final && i == len(pieces)-1 {
				err = w.Close()
			} else {
				err = w.Flush()
			}
			if err != nil {
				t.Fatal(err)
			}
			lim := len(p)
			if limit != 0 {
				lim = int(limit)
			}
			out, size, err := inf.inflate(nil, buf.Bytes(), lim)
			if err != nil {
				t.Fatalf("chunk %d of %d (%d bytes): %v", i, len(pieces), buf.Len(), err)
			}
			if size != len(p) || !bytes.Equal(out, p[:min(lim, len(p))]) {
				t.Fatalf("chunk %d: size %d, want %d; output differs: %v", i, size, len(p), !bytes.Equal(out, p[:min(lim, len(p))]))
			}
			buf.Reset()
		}
		if final {
			if _, _, err := inf.inflate(nil, []byte{3, 0}, 10); err != errAfterFinal {
				t.Fatalf("chunk after the final block: %v", err)
			}
		}
	})
}

// FuzzInflateBytes feeds arbitrary bytes as one chunk. The inflater must not
// panic, must not write past its output limit, and must agree with
// compress/flate on the data wherever the two answers are comparable:
//
//   - accepted: compress/flate gives the same bytes and then stops at the end
//     of the stream (final block) or for want of input (sync flush);
//   - data after the final block: compress/flate stops at that block, with
//     the same bytes;
//   - ends inside a block: compress/flate wants more input;
//   - corrupt: compress/flate finds the data corrupt too, once given enough
//     zero bytes after it to reach the same point (it reads ahead less
//     eagerly, so without them it may stop for want of input first).
//
// A chunk that stops between blocks without a sync flush, or a dynamic block
// with no end-of-block code, are errors here that compress/flate may only
// see as a want of input: any error from it is accepted there.
func FuzzInflateBytes(f *testing.F) {
	for _, tc := range compressedVectors {
		b := vectorBlock(f, tc.hex, tc.off)[6:]
		f.Add(b, uint8(tc.v))
		f.Add(b[:len(b)/2], uint8(tc.v))
	}
	f.Add([]byte{0x01, 0x00, 0x00, 0xff, 0xff}, uint8(0))
	f.Add([]byte{0x03, 0x00}, uint8(0))
	f.Add([]byte{0x05, 0xc0, 0x81, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0xff}, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, dictSel uint8) {
		if len(data) > 1<<12 {
			return
		}
		dict := fuzzDict(dictSel, nil)
		var inf inflater
		inf.init(dict)
		out, size, err := inf.inflate(fuzzOut[:0], data, fuzzLimit)
		if len(out) > fuzzLimit || cap(out) != fuzzLimit {
			t.Fatalf("output of %d bytes, capacity %d: past the limit or reallocated", len(out), cap(out))
		}
		if err == nil && size != len(out) && size <= fuzzLimit {
			t.Fatalf("size %d, output %d bytes", size, len(out))
		}

		goOut, goErr := readFlate(data, dict, fuzzLimit)
		if size > fuzzLimit {
			// Only the first limit bytes were kept.
			if !bytes.HasPrefix(goOut, out) {
				t.Fatal("output differs from compress/flate")
			}
			return
		}
		var corrupt flate.CorruptInputError
		switch err {
		case nil:
			want := io.ErrUnexpectedEOF
			if inf.final {
				want = nil
			}
			if !bytes.Equal(out, goOut) || goErr != want {
				t.Fatalf("accepted, compress/flate: %v after %d bytes (%d here)", goErr, len(goOut), len(out))
			}
		case errAfterFinal:
			if !bytes.Equal(out, goOut) || goErr != nil {
				t.Fatalf("%v, compress/flate: %v after %d bytes (%d here)", err, goErr, len(goOut), len(out))
			}
		case errTruncated:
			if goErr != io.ErrUnexpectedEOF {
				t.Fatalf("%v, compress/flate: %v", err, goErr)
			}
		case errNoSync, errNoEndOfBlock:
			if goErr == nil {
				t.Fatalf("%v, compress/flate accepts the data", err)
			}
		default:
			padded := append(bytes.Clone(data), make([]byte, 16)...)
			if _, goErr = readFlate(padded, dict, fuzzLimit); !errors.As(goErr, &corrupt) {
				t.Fatalf("%v, compress/flate: %v", err, goErr)
			}
		}
	})
}

// fuzzOut is FuzzInflateBytes's output buffer, reused by every run (fuzz
// functions run one at a time in a process).
var fuzzOut = make([]byte, 0, fuzzLimit)

// fuzzLimit is FuzzInflateBytes's output limit.
const fuzzLimit = 1 << 20

// readFlate inflates data with compress/flate, at most limit+1 bytes.
func readFlate(data, dict []byte, limit int) ([]byte, error) {
	r := flate.NewReaderDict(bytes.NewReader(data), dict)
	return io.ReadAll(io.LimitReader(r, int64(limit)+1))
}
