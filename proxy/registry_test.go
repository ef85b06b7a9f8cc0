package proxy

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"
)

func TestRegistryCheck(t *testing.T) {
	r := NewRegistry()
	if err := r.Add("home", "0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
	if err := r.AddDigest("cabin", sha256.Sum256([]byte("cabin-secret-token"))); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, token string
		ok          bool
	}{
		{"home", "0123456789abcdef", true},
		{"home", "0123456789abcdeF", false},
		{"home", "", false},
		{"cabin", "cabin-secret-token", true},
		{"cabin", "0123456789abcdef", false},
		{"nobody", "0123456789abcdef", false},
		{"", "", false},
	} {
		if got := r.Check(tc.name, tc.token); got != tc.ok {
			t.Errorf("Check(%q, %q) = %v, want %v", tc.name, tc.token, got, tc.ok)
		}
	}
	r.Remove("home")
	if r.Check("home", "0123456789abcdef") || r.Known("home") || r.Len() != 1 {
		t.Fatal("a removed origin still authenticates")
	}
}

func TestRegistryRejectsBadNamesAndShortTokens(t *testing.T) {
	r := NewRegistry()
	for _, name := range []string{"", "Home", "-a", "a-", "a.b", "a/b", strings.Repeat("a", 64), "é"} {
		if err := r.Add(name, "0123456789abcdef"); err == nil {
			t.Errorf("Add(%q) accepted a bad name", name)
		}
	}
	if err := r.Add("ok", "short"); err == nil {
		t.Error("Add accepted a 5-character token")
	}
	for _, name := range []string{"a", "a-b", "home2", strings.Repeat("a", 63)} {
		if !ValidName(name) {
			t.Errorf("ValidName(%q) = false", name)
		}
	}
}

func TestParseOrigins(t *testing.T) {
	in := "# origins\n\nhome  0123456789abcdef\n  cabin " + TokenDigest("cabin-secret-token") + "  \n"
	r, err := ParseOrigins(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Check("home", "0123456789abcdef") || !r.Check("cabin", "cabin-secret-token") || r.Len() != 2 {
		t.Fatalf("parsed registry: %v", r.Names())
	}
	for _, bad := range []string{
		"home\n",
		"home a b\n",
		"home 0123456789abcdef\nhome 0123456789abcdef\n",
		"home sha256:abcd\n",
		"home sha256:" + strings.Repeat("zz", 32) + "\n",
		"Home 0123456789abcdef\n",
		"home short\n",
	} {
		if _, err := ParseOrigins(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line ") {
			t.Errorf("ParseOrigins(%q) = %v, want an error naming the line", bad, err)
		}
	}
}

func TestFailureLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newFailureLimiter(3, time.Second)
	l.now = func() time.Time { return now }
	for i := range 3 {
		if ok, _ := l.allowed("a"); !ok {
			t.Fatalf("attempt %d refused within the burst", i)
		}
		l.failed("a")
	}
	ok, first := l.allowed("a")
	if ok || !first {
		t.Fatalf("after the burst: allowed=%v first=%v, want refused and first", ok, first)
	}
	if ok, first := l.allowed("a"); ok || first {
		t.Fatalf("second refusal: allowed=%v first=%v", ok, first)
	}
	if ok, _ := l.allowed("b"); !ok {
		t.Fatal("another source is refused")
	}
	now = now.Add(time.Second)
	if ok, _ := l.allowed("a"); !ok {
		t.Fatal("one interval later the source is still refused")
	}
	l.failed("a")
	if ok, _ := l.allowed("a"); ok {
		t.Fatal("the refilled token was not spent by the failure")
	}
}

func TestFailureLimiterTableIsBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newFailureLimiter(2, time.Minute)
	l.now = func() time.Time { return now }
	l.max = 50
	for i := range 500 {
		now = now.Add(time.Millisecond)
		l.failed("src" + itoa(i))
		if len(l.sources) > l.max {
			t.Fatalf("%d sources kept, max %d", len(l.sources), l.max)
		}
	}
	// The newest sources are the ones kept.
	if _, ok := l.sources["src499"]; !ok {
		t.Fatal("the newest source was evicted")
	}
}
