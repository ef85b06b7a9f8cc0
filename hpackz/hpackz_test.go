package hpackz

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/adler32"
	"testing"
)

// The dictionaries must be byte-identical to the ones every SPDY peer uses;
// the digests and lengths come from the protocol digest.
func TestDictionaries(t *testing.T) {
	for _, tc := range []struct {
		v      Version
		len    int
		sha256 string
		adler  uint32
	}{
		{V2, 907, "0088d05d3b07b510aae796d67857c83308247ae79078d5743f412e483c23fbc6", 0xdfa251b2},
		{V3, 1423, "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02", 0xe3c6a7c2},
	} {
		d := Dictionary(tc.v)
		if len(d) != tc.len {
			t.Errorf("%v: len %d, want %d", tc.v, len(d), tc.len)
		}
		sum := sha256.Sum256(d)
		if got := hex.EncodeToString(sum[:]); got != tc.sha256 {
			t.Errorf("%v: sha256 %s, want %s", tc.v, got, tc.sha256)
		}
		if got := adler32.Checksum(d); got != tc.adler || got != dictionaryID(tc.v) {
			t.Errorf("%v: adler32 %#x, want %#x (const %#x)", tc.v, got, tc.adler, dictionaryID(tc.v))
		}
		d[0] ^= 0xff // a copy: must not change the package's dictionary
		if Dictionary(tc.v)[0] == d[0] {
			t.Errorf("%v: Dictionary returned the shared slice", tc.v)
		}
	}
	if Dictionary(Version(4)) != nil {
		t.Error("Dictionary(4) != nil")
	}
}

func TestCheckNameValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{":method", true}, {"x-a_b.c~1", true}, {"", false}, {"Host", false},
		{"a b", false}, {"a\x00b", false}, {"caf\xc3\xa9", false}, {"a\x7f", false},
	} {
		if got := checkName(tc.name) == nil; got != tc.ok {
			t.Errorf("checkName(%q) ok=%v, want %v", tc.name, got, tc.ok)
		}
	}
	for _, tc := range []struct {
		v     Version
		value string
		ok    bool
	}{
		{V3, "", true}, {V2, "", false}, {V3, "a", true}, {V2, "a\x00b", true},
		{V3, "\x00a", false}, {V3, "a\x00", false}, {V3, "a\x00\x00b", false}, {V3, "\x00", false},
		{V2, "a\x00\x00b", false},
	} {
		if got := checkValue(tc.v, tc.value) == nil; got != tc.ok {
			t.Errorf("checkValue(%v, %q) ok=%v, want %v", tc.v, tc.value, got, tc.ok)
		}
	}
}

func TestCheckFieldsAgreesWithAppendUncompressed(t *testing.T) {
	for _, tc := range []struct {
		v      Version
		fields []Field
	}{
		{V3, []Field{{Name: "a", Value: "1"}}},
		{V3, []Field{{Name: "A", Value: "1"}}},
		{V3, []Field{{Name: "a", Value: "1"}, {Name: "a", Value: "2"}}},
		{V3, []Field{{Name: "a", Value: "x\x00"}}},
		{V3, []Field{{Name: "a", Value: ""}}},
		{V2, []Field{{Name: "a", Value: ""}}},
		{Version(9), nil},
	} {
		_, want := AppendUncompressed(nil, tc.v, tc.fields)
		got := CheckFields(tc.v, tc.fields)
		if (got == nil) != (want == nil) || (got != nil && got.Error() != want.Error()) {
			t.Errorf("CheckFields(%v, %v) = %v, AppendUncompressed says %v", tc.v, tc.fields, got, want)
		}
	}
}
