package faultnet

import (
	"math/rand/v2"
	"slices"
)

// FrameHeaderLen is the length of a SPDY frame header: every frame, control
// or data, has its payload length in bytes 5 to 7 of it.
const FrameHeaderLen = 8

// FrameBoundaries returns the offsets in b at which SPDY frames begin,
// reading frames from offset start (the bytes before it, such as an
// HTTP/1.1 upgrade handshake, are not frames), followed by the end of the
// last whole frame. A frame cut short by the end of b ends the list; the
// offset of its start is the last one. The offsets are those of b, not
// relative to start.
func FrameBoundaries(b []byte, start int) []int64 {
	var out []int64
	off := max(start, 0)
	for off+FrameHeaderLen <= len(b) {
		out = append(out, int64(off))
		off += FrameHeaderLen + (int(b[off+5])<<16 | int(b[off+6])<<8 | int(b[off+7]))
	}
	if off <= len(b) {
		out = append(out, int64(off))
	}
	return out
}

// Offsets returns n offsets drawn uniformly from [0, span) by a generator
// seeded with seed: the same arguments give the same offsets on every run.
func Offsets(seed uint64, n int, span int64) []int64 {
	if n <= 0 || span <= 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]int64, n)
	for i := range out {
		out[i] = rng.Int64N(span)
	}
	return out
}

// Thin returns at most n of points, evenly spread over the slice, its
// first and last ones included: a shorter run over the same range.
func Thin(points []int64, n int) []int64 {
	if len(points) <= n {
		return slices.Clone(points)
	}
	if n <= 0 {
		return nil
	}
	if n == 1 {
		return []int64{points[len(points)-1]}
	}
	out := make([]int64, 0, n)
	for i := range n {
		out = append(out, points[i*(len(points)-1)/(n-1)])
	}
	return out
}
