package pool

import "testing"

func TestGetSizes(t *testing.T) {
	for _, n := range []int{0, 1, 1024, 1025, 16 << 10, 1 << 20, 1<<20 + 1} {
		b := Get(n)
		if len(b) != n {
			t.Fatalf("Get(%d) has length %d", n, len(b))
		}
		if n <= 1<<20 && cap(b) < n {
			t.Fatalf("Get(%d) has capacity %d", n, cap(b))
		}
		Put(b)
	}
}

func TestPutForeignBufferDropped(t *testing.T) {
	Put(make([]byte, 10, 1000)) // not a class: must not be returned later
	for i := 0; i < 10; i++ {
		if b := Get(900); cap(b) != 1<<10 {
			t.Fatalf("Get(900) has capacity %d, want %d", cap(b), 1<<10)
		}
	}
}
