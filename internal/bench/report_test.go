package bench

import (
	"math"
	"strings"
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

func TestVerdict(t *testing.T) {
	for _, c := range []struct {
		r, target float64
		atLeast   bool
		want      string
	}{
		{1.6, 1.5, true, "met"},
		{1.2, 1.5, true, "missed by 20 %"},
		{0.35, 0.7, true, "missed by 50 %"},
		{0.8, 1, false, "met"},
		{1.25, 1, false, "missed by 25 %"},
		{math.NaN(), 1, true, "no ratio (a run failed)"},
		{math.Inf(1), 1, false, "no ratio (a run failed)"},
	} {
		if got := Verdict("x", c.r, c.target, c.atLeast); !strings.HasSuffix(got, c.want) {
			t.Errorf("Verdict(%v, %v, %v) = %q, want suffix %q", c.r, c.target, c.atLeast, got, c.want)
		}
	}
	if got, want := Verdict("W1-http MB/s, spdy31", 2.5, 2, true), "W1-http MB/s, spdy31: 2.50× (target ≥ 2.0×): met"; got != want {
		t.Errorf("Verdict = %q, want %q", got, want)
	}
}

func TestParseWorkloads(t *testing.T) {
	names := []string{"w3", "w1", "wmem"}
	got, err := ParseWorkloads(" W1-http,,wmem ", names, "-http")
	if err != nil || len(got) != 2 || !got["w1"] || !got["wmem"] {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := ParseWorkloads("w1,w9", names, "-http"); err == nil || !strings.Contains(err.Error(), "(want w3, w1, wmem)") {
		t.Fatalf("an unknown workload: %v", err)
	}
}
