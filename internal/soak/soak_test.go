package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestSoakShort runs the whole soak for a few seconds: the proxy, two
// origins whose tunnels are cut and restarted, and clients of every kind.
func TestSoakShort(t *testing.T) {
	cfg := config{
		Duration:       5 * time.Second,
		Interval:       500 * time.Millisecond,
		Clients:        8,
		Origins:        2,
		Seed:           7,
		JSON:           true,
		FileSize:       4 << 20,
		ReconnectEvery: 600 * time.Millisecond,
		Drain:          10 * time.Second,
		MaxBackoff:     200 * time.Millisecond,
	}
	var out bytes.Buffer
	rep, err := run(context.Background(), cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", out.String())

	// One JSON line per interval, then the summary.
	var lines []sample
	var summary bool
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, `{"summary":`) {
			summary = true
			continue
		}
		var s sample
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("report line %q: %v", line, err)
		}
		lines = append(lines, s)
	}
	if want := int(cfg.Duration / cfg.Interval); len(lines) != want || len(rep.Samples) != want {
		t.Errorf("%d report lines and %d samples, want %d", len(lines), len(rep.Samples), want)
	}
	if !summary {
		t.Error("no summary line")
	}
	for i, s := range lines {
		if s.RSS == 0 || s.HeapInuse == 0 || s.Goroutines == 0 {
			t.Errorf("line %d lacks memory or goroutine figures: %+v", i, s)
		}
		if i > 0 && s.ElapsedS <= lines[i-1].ElapsedS {
			t.Errorf("line %d: elapsed %v after %v", i, s.ElapsedS, lines[i-1].ElapsedS)
		}
	}
	if last := lines[len(lines)-1]; last.OK > rep.OK {
		t.Errorf("last line counts %d requests ok, the summary %d", last.OK, rep.OK)
	}

	if rep.OK == 0 {
		t.Error("no request succeeded")
	}
	if rep.Cancelled == 0 {
		t.Error("no request was cancelled")
	}
	if rep.Disconnects == 0 || rep.Restarts == 0 || rep.Reconnects == 0 {
		t.Errorf("%d disconnects, %d restarts, %d reconnections: want some of each", rep.Disconnects, rep.Restarts, rep.Reconnects)
	}
	if rep.FrontSPDYSessions == 0 {
		t.Error("the front end served no SPDY session")
	}
	if len(rep.Unexpected) > 0 {
		t.Errorf("unexpected errors %v:\n%s", rep.Unexpected, strings.Join(rep.Examples, "\n"))
	}
	if !rep.Quiet.Reached {
		t.Errorf("the end state was not reached: %+v", rep.Quiet)
	}
	// The growth rule is not asserted here: a few seconds are mostly
	// warm-up. Its own tests are below.
}

func flat(n int, rss, heap uint64, gor int) []sample {
	var ss []sample
	for i := range n {
		ss = append(ss, sample{Elapsed: time.Duration(i+1) * time.Minute, WarmUp: i < 2, RSS: rss, HeapInuse: heap, Goroutines: gor})
	}
	return ss
}

var quiet = quiescence{GoroutinesBefore: 40, GoroutinesAfter: 41, HeapBefore: mib, HeapAfter: 4 * mib, Reached: true}

func TestJudgePassesNoise(t *testing.T) {
	ss := flat(10, 100*mib, 40*mib, 300)
	// Noise within the allowances: +20% RSS, +15 MiB heap, +20 goroutines.
	ss[9].RSS, ss[8].HeapInuse, ss[9].Goroutines = 120*mib, 55*mib, 320
	// A warm-up spike is not judged.
	ss[0].RSS = 900 * mib
	if v := judge(ss, 24, nil, nil, quiet); !v.Pass {
		t.Fatalf("verdict %+v, want a pass", v)
	}
}

func TestJudgeDetectsGrowth(t *testing.T) {
	cases := []struct {
		name   string
		change func([]sample)
		want   string
	}{
		{"rss", func(ss []sample) { ss[9].RSS = 130 * mib }, "RSS grew"},
		{"heap", func(ss []sample) { ss[8].HeapInuse = 60 * mib }, "heap in use grew"},
		{"goroutines", func(ss []sample) { ss[9].Goroutines = 325 }, "goroutines grew"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ss := flat(10, 100*mib, 40*mib, 300)
			tc.change(ss)
			v := judge(ss, 24, nil, nil, quiet)
			if v.Pass || !strings.Contains(strings.Join(v.Reasons, "\n"), tc.want) {
				t.Fatalf("verdict %+v, want a failure %q", v, tc.want)
			}
		})
	}
}

func TestJudgeFails(t *testing.T) {
	ss := flat(10, 100*mib, 40*mib, 300)
	if v := judge(ss, 24, map[string]uint64{kindWrongBytes: 1}, []string{"wrong_bytes: x"}, quiet); v.Pass {
		t.Error("an unexpected error passed")
	}
	if v := judge(ss, 24, nil, nil, quiescence{GoroutinesBefore: 40, GoroutinesAfter: 90}); v.Pass {
		t.Error("goroutines left after the clients stopped passed")
	}
	if v := judge(ss[:3], 24, nil, nil, quiet); v.Pass {
		t.Error("a single sample after warm-up passed")
	}
	kept := quiet
	kept.HeapBefore, kept.HeapAfter = 1*mib, 6*mib
	if v := judge(ss, 24, nil, nil, kept); v.Pass {
		t.Error("live heap kept after the clients stopped passed")
	}
}

func TestPatternAndVerifier(t *testing.T) {
	const salt = 42
	whole := make([]byte, 1000)
	fill(whole, salt, 0)
	// Any offset and length gives the same bytes as the whole.
	for _, c := range [][2]int{{0, 1}, {3, 5}, {7, 9}, {8, 8}, {13, 400}, {999, 1}} {
		part := make([]byte, c[1])
		fill(part, salt, int64(c[0]))
		if !bytes.Equal(part, whole[c[0]:c[0]+c[1]]) {
			t.Errorf("fill at %d, %d bytes differs from the whole", c[0], c[1])
		}
	}
	p := pattern{salt: salt, size: 1000}
	b := make([]byte, 100)
	if n, err := p.ReadAt(b, 950); n != 50 || err == nil || !bytes.Equal(b[:50], whole[950:]) {
		t.Errorf("ReadAt at 950: %d, %v", n, err)
	}
	other := make([]byte, 100)
	fill(other, salt+1, 0)
	if bytes.Equal(other, whole[:100]) {
		t.Error("two salts give the same bytes")
	}

	v := verifier{salt: salt, off: 10}
	if err := v.check(whole[10:500]); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(whole[500:600])
	bad[17] ^= 1
	err := v.check(bad)
	if err == nil || !strings.Contains(err.Error(), "byte 517 ") {
		t.Fatalf("check of a flipped byte: %v", err)
	}
}

func TestTableLine(t *testing.T) {
	var b bytes.Buffer
	s := sample{Elapsed: 90 * time.Second, RSS: 100 * mib, HeapInuse: 40 * mib, HeapAlloc: 30 * mib, Goroutines: 321,
		ProxyStreams: 3, OriginActive: 2, ClientActive: 5, FrontSessions: 4, Tunnels: 3, OK: 1000, Cancelled: 99,
		Expected: map[string]uint64{"reconnect:status_503": 4}, MBps: 12.5, ReqPerSec: 3.25}
	if err := writeLine(&b, s, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1m30s", "100M", "40M", "30M", "321", "3/2/5", "1000", "99", "4(503=4)", "12.5", "3.2"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("line %q lacks %q", b.String(), want)
		}
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-clients", "0"},
		{"-origins", "-1"},
		{"-interval", "0"},
		{"-duration", "1m", "-interval", "1m"},
		{"-file-mib", "0"},
		{"-pprof", "0.0.0.0:6060"},
		{"extra"},
	} {
		var stderr bytes.Buffer
		if code := mainErr(args, &bytes.Buffer{}, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("soak %q: exit %d, stderr %q; want 2 and a message", args, code, stderr.String())
		}
	}
}
