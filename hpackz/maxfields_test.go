package hpackz

import (
	"errors"
	"fmt"
	"testing"
)

// manyFields returns the raw block of n pairs with distinct one-letter-ish
// names and one-byte values.
func manyFields(v Version, n int) []byte {
	nv := make([]string, 0, 2*n)
	for i := range n {
		nv = append(nv, fmt.Sprintf("h%d", i), "v")
	}
	return rawBlock(v, nv...)
}

// A block with more pairs than MaxFields is refused with a
// *TooManyFieldsError, and the next block decodes: the context is in step.
// The default is DefaultMaxFields; a negative MaxFields means no limit.
func TestMaxFields(t *testing.T) {
	for _, v := range []Version{V2, V3} {
		for _, tc := range []struct {
			opts  *DecoderOptions
			n     int
			limit int // 0: accepted
		}{
			{nil, DefaultMaxFields, 0},
			{nil, DefaultMaxFields + 1, DefaultMaxFields},
			{&DecoderOptions{MaxFields: 10}, 10, 0},
			{&DecoderOptions{MaxFields: 10}, 11, 10},
			{&DecoderOptions{MaxFields: -1}, 5 * DefaultMaxFields, 0},
		} {
			z := newZStream(t, v, 6)
			d := NewDecoder(v, tc.opts)
			got, err := decodeAll(d, z.block(manyFields(v, tc.n)))
			var tm *TooManyFieldsError
			switch {
			case tc.limit == 0 && (err != nil || len(got) != tc.n):
				t.Errorf("%v, %d fields, opts %+v: %d fields, %v", v, tc.n, tc.opts, len(got), err)
			case tc.limit != 0 && (!errors.As(err, &tm) || tm.Fields != tc.n || tm.Limit != tc.limit || tm.Size == 0):
				t.Errorf("%v, %d fields, opts %+v: %v, want a TooManyFieldsError", v, tc.n, tc.opts, err)
			}
			next, err := decodeAll(d, z.block(rawBlock(v, "after", "ok")))
			if err != nil || len(next) != 1 || next[0] != (Field{"after", "ok"}) {
				t.Errorf("%v: the block after: %v, %v", v, next, err)
			}
		}
	}
}
