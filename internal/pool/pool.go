// Package pool keeps reusable byte buffers in a few size classes, for the
// DATA payloads that a session hands to its streams.
package pool

import "sync"

// classes are the buffer capacities kept, smallest first. A request larger
// than the largest class is allocated and not kept.
var classes = [...]int{1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20}

var pools [len(classes)]sync.Pool

// Get returns a buffer of length n. Its capacity is that of the smallest
// class that holds n bytes; its contents are undefined.
func Get(n int) []byte {
	for i, c := range classes {
		if n <= c {
			if p, ok := pools[i].Get().(*[]byte); ok {
				return (*p)[:n]
			}
			return make([]byte, n, c)
		}
	}
	return make([]byte, n)
}

// Put returns a buffer obtained from Get for reuse. Buffers of other
// capacities are dropped. The caller must not use b afterwards.
func Put(b []byte) {
	c := cap(b)
	for i, cc := range classes {
		if c == cc {
			b = b[:0]
			pools[i].Put(&b)
			return
		}
	}
}
