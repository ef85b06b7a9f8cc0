package hpackz

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// encFeeder hands compress/zlib the blocks received so far, one byte at a
// time if asked (it is an io.ByteReader, so flate does not read ahead). A
// block that is not complete in itself makes the reader hit EOF.
type encFeeder struct {
	buf []byte
	off int
}

func (f *encFeeder) Read(p []byte) (int, error) {
	if f.off >= len(f.buf) {
		return 0, io.EOF
	}
	n := copy(p, f.buf[f.off:])
	f.off += n
	return n, nil
}

func (f *encFeeder) ReadByte() (byte, error) {
	if f.off >= len(f.buf) {
		return 0, io.EOF
	}
	f.off++
	return f.buf[f.off-1], nil
}

// encOracle decodes a session's blocks with compress/zlib: one reader for
// the whole session, fed block by block, reading exactly the expected
// number of bytes each time (never to EOF).
type encOracle struct {
	v      Version
	f      encFeeder
	r      io.ReadCloser
	blocks int
}

// decode checks the framing of block and inflates exactly n bytes from it.
func (o *encOracle) decode(block []byte, n int) ([]byte, error) {
	if o.blocks == 0 {
		if err := encCheckZlibHeader(block, o.v); err != nil {
			return nil, err
		}
	}
	if !bytes.HasSuffix(block, []byte{0, 0, 0xff, 0xff}) {
		return nil, errors.New("block does not end with a sync flush")
	}
	o.blocks++
	o.f.buf = append(o.f.buf, block...)
	if o.r == nil {
		r, err := zlib.NewReaderDict(&o.f, dictionary(o.v))
		if err != nil {
			return nil, fmt.Errorf("zlib header: %w", err)
		}
		o.r = r
	}
	out := make([]byte, n)
	if _, err := io.ReadFull(o.r, out); err != nil {
		return nil, fmt.Errorf("inflate block %d: %w", o.blocks, err)
	}
	return out, nil
}

// encCheckZlibHeader checks the RFC 1950 header of a first block: deflate
// with a window of at most 32 KiB, a valid check, FDICT and v's dictionary
// id.
func encCheckZlibHeader(b []byte, v Version) error {
	if len(b) < 6 {
		return errors.New("first block shorter than a zlib header")
	}
	cmf, flg := b[0], b[1]
	switch {
	case cmf&0x0f != 8 || cmf>>4 > 7:
		return fmt.Errorf("bad CMF %#02x", cmf)
	case (uint(cmf)<<8|uint(flg))%31 != 0:
		return fmt.Errorf("bad FCHECK in %#02x %#02x", cmf, flg)
	case flg&0x20 == 0:
		return errors.New("FDICT not set")
	case binary.BigEndian.Uint32(b[2:]) != dictionaryID(v):
		return fmt.Errorf("dictionary id %#08x, want %#08x", binary.BigEndian.Uint32(b[2:]), dictionaryID(v))
	}
	return nil
}

// encNV encodes fields as an uncompressed block with rawBlock, the tests'
// own encoding of the format, to check AppendUncompressed against.
func encNV(v Version, fields []Field) []byte {
	nv := make([]string, 0, 2*len(fields))
	for _, f := range fields {
		nv = append(nv, f.Name, f.Value)
	}
	return rawBlock(v, nv...)
}

// versionName drops the leading colon of a SPDY/3 name for SPDY/2, whose
// names have none (":method" is "method").
func versionName(v Version, name string) string {
	if v == V2 {
		return name[1:]
	}
	return name
}

func encHex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// Vectors NV-v3-bar-foo, NV-v2-bar-foo and NV-v3-multivalue of
// spec/test-vectors.md section 7.
func TestAppendUncompressedVectors(t *testing.T) {
	barFoo := []Field{{"bar", "foo"}, {"foo", "bar"}}
	for _, tc := range []struct {
		name   string
		v      Version
		fields []Field
		want   string
	}{
		{"NV-v3-bar-foo", V3, barFoo, `00 00 00 02 00 00 00 03 62 61 72 00 00 00 03 66
			6f 6f 00 00 00 03 66 6f 6f 00 00 00 03 62 61 72`},
		{"NV-v2-bar-foo", V2, barFoo, `00 02 00 03 62 61 72 00 03 66 6f 6f 00 03 66 6f
			6f 00 03 62 61 72`},
		{"NV-v3-multivalue", V3, []Field{{"set-cookie", "a=1\x00b=2"}}, `00 00 00 01 00 00 00 0a 73 65 74 2d 63 6f 6f 6b
			69 65 00 00 00 07 61 3d 31 00 62 3d 32`},
	} {
		got, err := AppendUncompressed([]byte("x"), tc.v, tc.fields)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if want := append([]byte("x"), encHex(tc.want)...); !bytes.Equal(got, want) {
			t.Errorf("%s:\n got % x\nwant % x", tc.name, got, want)
		}
	}
	if _, err := AppendUncompressed(nil, Version(4), nil); err == nil {
		t.Error("AppendUncompressed accepted version 4")
	}
}

// The first block starts with the zlib header of spec/spdy3.1.md section
// 6.3 (e.g. 78 f9 e3 c6 a7 c2 at level 9), later blocks do not, and every
// block ends with 00 00 ff ff.
func TestEncoderFraming(t *testing.T) {
	for _, tc := range []struct {
		v     Version
		level int
		head  string
	}{
		{V3, BestCompression, "78 f9 e3 c6 a7 c2"},
		{V3, DefaultCompression, "78 bb e3 c6 a7 c2"},
		{V2, DefaultCompression, "78 bb df a2 51 b2"},
		{V3, NoCompression, "78 3f e3 c6 a7 c2"},
		{V2, BestSpeed, "78 3f df a2 51 b2"},
		{V3, 4, "78 7d e3 c6 a7 c2"},
	} {
		e := NewEncoder(tc.v, &EncoderOptions{Level: tc.level})
		fields := []Field{{"bar", "foo"}, {"foo", "bar"}}
		b1, err := e.AppendBlock(nil, fields)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b1, encHex(tc.head)) {
			t.Errorf("%v level %d: first block starts % x, want %s", tc.v, tc.level, b1[:6], tc.head)
		}
		if err := encCheckZlibHeader(b1, tc.v); err != nil {
			t.Errorf("%v level %d: %v", tc.v, tc.level, err)
		}
		if adler32.Checksum(dictionary(tc.v)) != binary.BigEndian.Uint32(b1[2:]) {
			t.Errorf("%v: dictionary id is not the Adler-32 of the dictionary", tc.v)
		}
		b2, err := e.AppendBlock(nil, fields)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(b2, b1[:2]) {
			t.Errorf("%v level %d: second block starts with the zlib header again", tc.v, tc.level)
		}
		for i, b := range [][]byte{b1, b2} {
			if !bytes.HasSuffix(b, []byte{0, 0, 0xff, 0xff}) {
				t.Errorf("%v level %d: block %d ends % x", tc.v, tc.level, i+1, b[len(b)-4:])
			}
		}
		o := &encOracle{v: tc.v}
		want := encNV(tc.v, fields)
		for i, b := range [][]byte{b1, b2} {
			got, err := o.decode(b, len(want))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%v level %d block %d: %q, %v", tc.v, tc.level, i+1, got, err)
			}
		}
	}
}

// encLevels is every valid level.
var encLevels = []int{DefaultCompression, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}

func encAlways(string) bool { return true }

// encSensModes are the protection settings tried by the session tests.
var encSensModes = []struct {
	name string
	f    func(string) bool
}{
	{"default", nil},
	{"none", NeverSensitive},
	{"all", encAlways},
}

// encSession generates plausible header blocks: requests and responses with
// changing paths, dates, cookies and lengths, plus an occasional big or odd
// block, for version v.
type encSession struct {
	v   Version
	rnd *rand.Rand
	n   int
}

func (s *encSession) token(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[s.rnd.IntN(len(alphabet))]
	}
	return string(b)
}

func (s *encSession) next() []Field {
	s.n++
	p := func(name string) string { return versionName(s.v, name) }
	switch s.rnd.IntN(10) {
	case 0, 1, 2, 3, 4:
		f := []Field{
			{p(":method"), []string{"GET", "POST", "HEAD"}[s.rnd.IntN(3)]},
			{p(":path"), "/static/" + s.token(1+s.rnd.IntN(30)) + ".js?v=" + fmt.Sprint(s.n)},
			{p(":version"), "HTTP/1.1"},
			{p(":host"), "www.example.com"},
			{p(":scheme"), "https"},
			{"user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/39.0.2171.95 Safari/537.36"},
			{"accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
			{"accept-language", "en-US,en;q=0.8"},
			{"accept-encoding", "gzip, deflate, sdch"},
		}
		if s.rnd.IntN(3) > 0 {
			f = append(f, Field{"cookie", "sid=" + s.token(32) + "\x00theme=dark\x00csrf=" + s.token(16)})
		}
		if s.rnd.IntN(4) == 0 {
			f = append(f, Field{"authorization", "Bearer " + s.token(40)})
		}
		s.rnd.Shuffle(len(f), func(i, j int) { f[i], f[j] = f[j], f[i] })
		return f
	case 5, 6, 7:
		f := []Field{
			{p(":status"), "200 OK"},
			{p(":version"), "HTTP/1.1"},
			{"content-type", "text/html; charset=utf-8"},
			{"content-length", fmt.Sprint(s.rnd.IntN(100000))},
			{"date", fmt.Sprintf("Mon, 0%d Dec 2014 10:%02d:%02d GMT", 1+s.rnd.IntN(9), s.rnd.IntN(60), s.rnd.IntN(60))},
			{"server", "spdygo"},
			{"cache-control", "private, max-age=0"},
		}
		if s.rnd.IntN(2) == 0 {
			f = append(f, Field{"set-cookie", "sid=" + s.token(32) + "; Path=/; HttpOnly\x00lang=en"})
		}
		return f
	case 8: // a large block: one long value, compressible or not
		v := s.token(1 + s.rnd.IntN(70000))
		if s.rnd.IntN(2) == 0 {
			v = strings.Repeat(s.token(1+s.rnd.IntN(20)), 1+s.rnd.IntN(5000))
		}
		if s.v == V2 && len(v) > 0xffff {
			v = v[:0xffff]
		}
		return []Field{{"x-big", v}, {"cookie", s.token(1 + s.rnd.IntN(40000))}, {"x-after", s.token(10)}}
	default: // many small fields, some empty (v3), arbitrary bytes
		var f []Field
		for i := range s.rnd.IntN(40) {
			val := s.token(s.rnd.IntN(12))
			if s.rnd.IntN(5) == 0 {
				val = string([]byte{byte(1 + s.rnd.IntN(255)), 0, byte(1 + s.rnd.IntN(255))})
			}
			if s.v == V2 && val == "" {
				val = "-"
			}
			f = append(f, Field{fmt.Sprintf("x-h%d", i), val})
		}
		return f
	}
}

// Many blocks through one encoder, both versions, every level, with and
// without protection; some invalid blocks are refused in the middle. Every
// block must inflate, with the blocks before it, to exactly its fields.
func TestEncoderSessionRoundTrip(t *testing.T) {
	blocks := 60
	if testing.Short() {
		blocks = 15
	}
	bad := [][]Field{
		{{"ok", "1"}, {"Upper", "x"}},
		{{"a", "1"}, {"a", "2"}},
		{{"a", "x\x00\x00y"}},
		{{"", "x"}},
	}
	for _, v := range []Version{V2, V3} {
		for _, level := range encLevels {
			for _, sm := range encSensModes {
				name := fmt.Sprintf("%v/level%d/%s", v, level, sm.name)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					s := &encSession{v: v, rnd: rand.New(rand.NewPCG(uint64(level+2), uint64(v)))}
					e := NewEncoder(v, &EncoderOptions{Level: level, Sensitive: sm.f})
					o := &encOracle{v: v}
					var dst []byte
					for i := range blocks {
						if i%7 == 3 {
							before := len(dst)
							var err error
							dst, err = e.AppendBlock(dst, bad[i%len(bad)])
							var be *BlockError
							if !errors.As(err, &be) || len(dst) != before {
								t.Fatalf("block %d: invalid block gave %v and %d bytes", i, err, len(dst)-before)
							}
						}
						fields := s.next()
						want := encNV(v, fields)
						var err error
						dst, err = e.AppendBlock(dst[:0], fields)
						if err != nil {
							t.Fatalf("block %d: %v", i, err)
						}
						if len(dst) > encWorstCase(len(want), len(fields)) {
							t.Fatalf("block %d: %d bytes, over the bound %d", i, len(dst), encWorstCase(len(want), len(fields)))
						}
						got, err := o.decode(dst, len(want))
						if err != nil {
							t.Fatalf("block %d: %v", i, err)
						}
						if !bytes.Equal(got, want) {
							t.Fatalf("block %d: inflated block differs from the fields", i)
						}
					}
				})
			}
		}
	}
}

// Invalid blocks give a *BlockError whose message names no header value,
// nothing is appended, and the encoder goes on as if the call had not
// happened: its output equals that of an encoder that never saw the block.
func TestEncoderRejects(t *testing.T) {
	long := strings.Repeat("s", 0x10000)
	many := make([]Field, 0x10000)
	for i := range many {
		many[i] = Field{fmt.Sprintf("h%d", i), "v"}
	}
	dupLarge := make([]Field, 40)
	for i := range dupLarge {
		dupLarge[i] = Field{fmt.Sprintf("h%d", i), "secretvalue"}
	}
	dupLarge[33].Name = "h7"
	for _, tc := range []struct {
		name   string
		v      Version
		fields []Field
		reason string
	}{
		{"empty name", V3, []Field{{"", "secretvalue"}}, "field 0: empty header name"},
		{"upper-case name", V3, []Field{{"a", "x"}, {"Cookie", "secretvalue"}}, "field 1: upper-case header name"},
		{"space in name", V3, []Field{{"a b", "secretvalue"}}, "header name has byte"},
		{"NUL in name", V2, []Field{{"a\x00", "secretvalue"}}, "header name has byte"},
		{"duplicate", V3, []Field{{"a", "secretvalue"}, {"b", "x"}, {"a", "secretvalue"}}, "field 2: duplicate header name (as field 0)"},
		{"duplicate, many fields", V3, dupLarge, "field 33: duplicate header name (as field 7)"},
		{"leading NUL", V3, []Field{{"a", "\x00secretvalue"}}, "empty NUL-separated segment"},
		{"trailing NUL", V2, []Field{{"a", "secretvalue\x00"}}, "empty NUL-separated segment"},
		{"double NUL", V3, []Field{{"a", "secret\x00\x00value"}}, "empty NUL-separated segment"},
		{"empty value v2", V2, []Field{{"a", ""}}, "empty header value (spdy/2)"},
		{"long value v2", V2, []Field{{"a", long}}, "field 0: name or value longer than 65535 bytes (spdy/2)"},
		{"long name v2", V2, []Field{{long, "x"}}, "field 0: name or value longer than 65535 bytes (spdy/2)"},
		{"too many fields v2", V2, many, "65536 header fields exceed the spdy/2 limit of 65535"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEncoder(tc.v, nil)
			ref := NewEncoder(tc.v, nil)
			ok := []Field{{"x-a", "1"}, {"cookie", "c=1"}}
			b1, _ := e.AppendBlock(nil, ok)
			r1, _ := ref.AppendBlock(nil, ok)
			dst := []byte("prefix")
			got, err := e.AppendBlock(dst, tc.fields)
			var be *BlockError
			if !errors.As(err, &be) {
				t.Fatalf("error %v (%T), want *BlockError", err, err)
			}
			if !strings.Contains(be.Reason, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", be.Reason, tc.reason)
			}
			if msg := err.Error(); strings.Contains(msg, "secret") || !strings.HasPrefix(msg, "hpackz: ") ||
				strings.ToLower(msg[:9]) != msg[:9] {
				t.Errorf("error %q shows a value or does not start in lower case", err)
			}
			if string(got) != "prefix" {
				t.Errorf("dst changed to %q", got)
			}
			b2, err := e.AppendBlock(nil, ok)
			if err != nil {
				t.Fatal(err)
			}
			r2, _ := ref.AppendBlock(nil, ok)
			if !bytes.Equal(b1, r1) || !bytes.Equal(b2, r2) {
				t.Error("the refused block changed the encoder's output")
			}
			if _, err := AppendUncompressed(nil, tc.v, tc.fields); !errors.As(err, &be) {
				t.Errorf("AppendUncompressed: %v, want *BlockError", err)
			}
		})
	}
}

// A block that could exceed a frame once compressed is refused before
// anything is written; one just under the limit is encoded and fits.
func TestEncoderBlockSizeLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 16 MiB blocks")
	}
	big := strings.Repeat("a", 8<<20)
	e := NewEncoder(V3, nil)
	_, err := e.AppendBlock(nil, []Field{{"a", big}, {"b", big}})
	var be *BlockError
	if !errors.As(err, &be) || !strings.Contains(be.Reason, "does not fit in a frame") {
		t.Fatalf("16 MiB block: %v", err)
	}
	if _, err := AppendUncompressed(nil, V3, []Field{{"a", big}, {"b", big}}); !errors.As(err, &be) {
		t.Fatalf("AppendUncompressed 16 MiB block: %v", err)
	}

	// The largest accepted single value, found from the bound.
	n := encMaxBlock - 6 - 13
	for encWorstCase(13+n, 1) > encMaxBlock {
		n -= 1 << 10
	}
	val := strings.Repeat("z", n)
	for _, level := range []int{NoCompression, BestSpeed} {
		for _, sens := range []func(string) bool{NeverSensitive, encAlways} {
			e := NewEncoder(V3, &EncoderOptions{Level: level, Sensitive: sens})
			out, err := e.AppendBlock(nil, []Field{{"a", val}})
			if err != nil {
				t.Fatalf("level %d: %v", level, err)
			}
			if len(out) > encMaxBlock {
				t.Errorf("level %d: %d bytes, over %d", level, len(out), encMaxBlock)
			}
			o := &encOracle{v: V3}
			want := encNV(V3, []Field{{"a", val}})
			if got, err := o.decode(out, len(want)); err != nil || !bytes.Equal(got, want) {
				t.Errorf("level %d: round trip failed: %v", level, err)
			}
		}
	}
	if _, err := e.AppendBlock(nil, []Field{{"a", val + strings.Repeat("z", 64<<10)}}); !errors.As(err, &be) {
		t.Errorf("block over the bound: %v", err)
	}
}

func TestEncoderPanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"version 1", func() { NewEncoder(Version(1), nil) }},
		{"version 4", func() { NewEncoder(Version(4), nil) }},
		{"level 10", func() { NewEncoder(V3, &EncoderOptions{Level: 10}) }},
		{"level -2", func() { NewEncoder(V3, &EncoderOptions{Level: -2}) }},
		{"SetLevel 11", func() { NewEncoder(V3, nil).SetLevel(11) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			tc.f()
		}()
	}
}

func TestDefaultSensitive(t *testing.T) {
	for _, n := range []string{"cookie", "set-cookie", "authorization", "proxy-authorization"} {
		if !DefaultSensitive(n) {
			t.Errorf("DefaultSensitive(%q) = false", n)
		}
	}
	for _, n := range []string{":path", "user-agent", "cookies", "x-cookie", "www-authenticate"} {
		if DefaultSensitive(n) {
			t.Errorf("DefaultSensitive(%q) = true", n)
		}
	}
	if NeverSensitive("cookie") {
		t.Error("NeverSensitive(cookie) = true")
	}
}

// Level changes between blocks, including to NoCompression and back, keep
// the stream decodable.
func TestEncoderSetLevel(t *testing.T) {
	for _, start := range []int{NoCompression, BestSpeed, DefaultCompression} {
		for _, v := range []Version{V2, V3} {
			s := &encSession{v: v, rnd: rand.New(rand.NewPCG(7, uint64(start+1)))}
			e := NewEncoder(v, &EncoderOptions{Level: start})
			o := &encOracle{v: v}
			for i := range 40 {
				e.SetLevel(encLevels[(i*7+start+1)%len(encLevels)])
				fields := s.next()
				want := encNV(v, fields)
				out, err := e.AppendBlock(nil, fields)
				if err != nil {
					t.Fatal(err)
				}
				got, err := o.decode(out, len(want))
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("start %d %v block %d: %v", start, v, i, err)
				}
			}
		}
	}
}

// At NoCompression every block is stored: the block is the NV bytes in
// stored blocks, readable without inflating.
func TestEncoderNoCompressionIsStored(t *testing.T) {
	e := NewEncoder(V3, &EncoderOptions{Level: NoCompression})
	fields := []Field{{"bar", "foo"}, {"foo", "bar"}}
	nv := encNV(V3, fields)
	want := append(encHex("78 3f e3 c6 a7 c2 00 20 00 df ff"), nv...)
	want = append(want, 0, 0, 0, 0xff, 0xff)
	if got, _ := e.AppendBlock(nil, fields); !bytes.Equal(got, want) {
		t.Errorf("got  % x\nwant % x", got, want)
	}
	want = append(encHex("00 20 00 df ff"), nv...)
	want = append(want, 0, 0, 0, 0xff, 0xff)
	if got, _ := e.AppendBlock(nil, fields); !bytes.Equal(got, want) {
		t.Errorf("second block\ngot  % x\nwant % x", got, want)
	}
}

// In steady state a block costs no allocation.
func TestEncoderAllocs(t *testing.T) {
	if encRaceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, level := range encLevels {
		for _, sm := range encSensModes {
			e := NewEncoder(V3, &EncoderOptions{Level: level, Sensitive: sm.f})
			req := encBenchRequest(V3, 0)
			many := make([]Field, 30)
			for i := range many {
				many[i] = Field{fmt.Sprintf("x-%02d", i), "v"}
			}
			buf := make([]byte, 0, 4096)
			for range 3 {
				buf, _ = e.AppendBlock(buf[:0], req)
				buf, _ = e.AppendBlock(buf[:0], many)
			}
			n := testing.AllocsPerRun(50, func() {
				buf, _ = e.AppendBlock(buf[:0], req)
				buf, _ = e.AppendBlock(buf[:0], many)
			})
			if n != 0 {
				t.Errorf("level %d, %s: %v allocations per block", level, sm.name, n)
			}
		}
	}
}
