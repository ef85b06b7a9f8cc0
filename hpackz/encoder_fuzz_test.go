package hpackz

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// encRefValid is an independent statement of which fields a v block may
// carry (spec/spdy3.1.md section 6.2, spec/versions.md section 3).
func encRefValid(v Version, fields []Field) bool {
	if v == V2 && len(fields) > 0xffff {
		return false
	}
	seen := make(map[string]bool)
	for _, f := range fields {
		if f.Name == "" || seen[f.Name] {
			return false
		}
		seen[f.Name] = true
		for _, c := range []byte(f.Name) {
			if c <= ' ' || c >= 0x7f || 'A' <= c && c <= 'Z' {
				return false
			}
		}
		if v == V2 && (len(f.Name) > 0xffff || len(f.Value) > 0xffff || f.Value == "") {
			return false
		}
		if f.Value != "" {
			for _, seg := range strings.Split(f.Value, "\x00") {
				if seg == "" {
					return false
				}
			}
		}
	}
	return true
}

// encFuzzSplit turns fuzzer bytes into blocks: blocks are separated by
// 0xfe, a block's first byte chooses its level, fields are separated by
// 0xfd and a field's name ends at its first 0xfc (no 0xfc: empty value).
func encFuzzSplit(data []byte) (levels []int, blocks [][]Field) {
	for _, b := range bytes.Split(data, []byte{0xfe}) {
		level := DefaultCompression
		if len(b) > 0 {
			level = int(b[0]%11) - 1
			b = b[1:]
		}
		var fields []Field
		if len(b) > 0 {
			for _, f := range bytes.Split(b, []byte{0xfd}) {
				name, value, _ := bytes.Cut(f, []byte{0xfc})
				fields = append(fields, Field{string(name), string(value)})
			}
		}
		levels = append(levels, level)
		blocks = append(blocks, fields)
	}
	return levels, blocks
}

// encFuzzOptions decodes the mode byte: bit 0 the version, bits 1-2 what
// is protected.
func encFuzzOptions(mode uint8) (Version, *EncoderOptions) {
	v := V3
	if mode&1 != 0 {
		v = V2
	}
	opts := &EncoderOptions{Level: DefaultCompression}
	switch mode >> 1 & 3 {
	case 1:
		opts.Sensitive = NeverSensitive
	case 2:
		opts.Sensitive = encAlways
	case 3:
		opts.Sensitive = func(name string) bool { return len(name)%2 == 1 }
	}
	return v, opts
}

func encFuzzSeeds(f *testing.F) {
	req := "\x05:method\xfcGET\xfd:path\xfc/index.html?q=1\xfd:version\xfcHTTP/1.1\xfd:host\xfcexample.com" +
		"\xfd:scheme\xfchttps\xfdcookie\xfcsid=0123456789abcdef\x00theme=dark\xfduser-agent\xfcspdygo"
	f.Add(uint8(0), []byte(req))
	f.Add(uint8(2), []byte(req+"\xfe"+req+"\xfe\x0a"+req))
	f.Add(uint8(4), []byte(req+"\xfe\x01"+strings.ReplaceAll(req, "index", "style")))
	f.Add(uint8(6), []byte("\x00a\xfc1\xfdb\xfc\xfdc\xfc3\xfe\x09a\xfc1"))
	f.Add(uint8(1), []byte("\x06method\xfcGET\xfdurl\xfc/\xfdversion\xfcHTTP/1.1\xfeurl\xfc/a"))
	f.Add(uint8(0), []byte("\x03Upper\xfcx\xfe\x03a\xfc1\xfda\xfc2\xfe\x03a\xfcx\x00\x00y\xfe\x03ok\xfcfine"))
	f.Add(uint8(0), []byte("\x0a"+"x-big\xfc"+strings.Repeat("abcdefgh", 700)+"\xfdcookie\xfc"+strings.Repeat("s3cr3t", 200)))
	f.Add(uint8(1), []byte("\x07a\xfc\xfe\x07\xfe"))
	f.Add(uint8(3), []byte(""))
}

// FuzzEncodeRoundTrip encodes fuzzer-chosen blocks at fuzzer-chosen levels
// through one encoder. Invalid blocks must give a *BlockError and leave
// nothing behind; valid ones must inflate with compress/zlib to exactly the
// bytes of AppendUncompressed, which must match an independent encoding.
func FuzzEncodeRoundTrip(f *testing.F) {
	encFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, mode uint8, data []byte) {
		v, opts := encFuzzOptions(mode)
		levels, blocks := encFuzzSplit(data)
		e := NewEncoder(v, opts)
		o := &encOracle{v: v}
		prefix := []byte("prefix")
		for i, fields := range blocks {
			e.SetLevel(levels[i])
			out, err := e.AppendBlock(prefix, fields)
			raw, rawErr := AppendUncompressed(nil, v, fields)
			if !encRefValid(v, fields) {
				var be *BlockError
				if !errors.As(err, &be) || !errors.As(rawErr, &be) {
					t.Fatalf("block %d: invalid fields gave %v and %v", i, err, rawErr)
				}
				if string(out) != "prefix" {
					t.Fatalf("block %d: refused block wrote %q", i, out[len(prefix):])
				}
				continue
			}
			if err != nil || rawErr != nil {
				t.Fatalf("block %d: valid fields refused: %v, %v", i, err, rawErr)
			}
			want := encNV(v, fields)
			if !bytes.Equal(raw, want) {
				t.Fatalf("block %d: AppendUncompressed\n% x\nwant\n% x", i, raw, want)
			}
			if !bytes.HasPrefix(out, prefix) {
				t.Fatalf("block %d: dst prefix lost", i)
			}
			out = out[len(prefix):]
			if len(out) > encWorstCase(len(want), len(fields)) {
				t.Fatalf("block %d: %d bytes, over the bound %d", i, len(out), encWorstCase(len(want), len(fields)))
			}
			got, err := o.decode(out, len(want))
			if err != nil {
				t.Fatalf("block %d (level %d): %v", i, levels[i], err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("block %d (level %d): inflated\n% x\nwant\n% x", i, levels[i], got, want)
			}
		}
	})
}

// encDecodeSession sends blocks through one Encoder and one Decoder (one
// compression context each side) and checks that every valid block comes
// out as its fields, in order.
func encDecodeSession(t *testing.T, v Version, opts *EncoderOptions, levels []int, blocks [][]Field) {
	t.Helper()
	e := NewEncoder(v, opts)
	d := NewDecoder(v, &DecoderOptions{MaxBlockSize: encMaxBlock})
	var out []byte
	var got []Field
	for i, fields := range blocks {
		if levels != nil {
			e.SetLevel(levels[i])
		}
		var err error
		out, err = e.AppendBlock(out[:0], fields)
		if !encRefValid(v, fields) {
			if err == nil {
				t.Fatalf("block %d: invalid fields accepted", i)
			}
			continue
		}
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		got, err = d.AppendFields(got[:0], out)
		if err != nil {
			t.Fatalf("block %d: decoder: %v", i, err)
		}
		if len(got) != len(fields) {
			t.Fatalf("block %d: %d fields decoded, want %d", i, len(got), len(fields))
		}
		for j := range got {
			if got[j] != fields[j] {
				t.Fatalf("block %d: field %d decoded differently", i, j)
			}
		}
	}
}

// FuzzRoundTrip sends fuzzer-chosen blocks through our Encoder and our
// Decoder.
func FuzzRoundTrip(f *testing.F) {
	encFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, mode uint8, data []byte) {
		v, opts := encFuzzOptions(mode)
		levels, blocks := encFuzzSplit(data)
		encDecodeSession(t, v, opts, levels, blocks)
	})
}

// Realistic sessions through our Encoder and our Decoder, every level and
// protection setting.
func TestEncoderDecoderSession(t *testing.T) {
	for _, v := range []Version{V2, V3} {
		for _, level := range encLevels {
			for _, sm := range encSensModes {
				s := &encSession{v: v, rnd: rand.New(rand.NewPCG(21, uint64(level+1)))}
				blocks := make([][]Field, 40)
				for i := range blocks {
					blocks[i] = s.next()
				}
				encDecodeSession(t, v, &EncoderOptions{Level: level, Sensitive: sm.f}, nil, blocks)
			}
		}
	}
}
