package bench

import (
	"math"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"100": 100, "1KiB": 1024, "1 MiB": 1 << 20, "2GiB": 2 << 30, "3KB": 3000, "5B": 5} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ParseSize("-1"); err == nil {
		t.Error("negative size accepted")
	}
}

func TestStatOf(t *testing.T) {
	id := func(x float64) float64 { return x }
	if s := StatOf([]float64{3, 1, 2}, id); s != (Stat{2, 1, 3}) {
		t.Errorf("odd count: %+v", s)
	}
	if s := StatOf([]float64{4, 1, 2, 9}, id); s != (Stat{3, 1, 9}) {
		t.Errorf("even count: %+v", s)
	}
	if s := StatOf(nil, id); !math.IsNaN(s.Med) || !math.IsNaN(s.Lo) || !math.IsNaN(s.Hi) {
		t.Errorf("empty: %+v", s)
	}
}
