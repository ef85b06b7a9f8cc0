package httpadapter

import (
	"net/textproto"
	"strings"
	"testing"
)

// TestCommonNameTables checks the tables that spare the header mapping
// its allocations against what they stand for.
func TestCommonNameTables(t *testing.T) {
	if len(commonLower) != len(commonCanonical) {
		t.Fatalf("%d lower-case names for %d canonical ones", len(commonCanonical), len(commonLower))
	}
	for k, l := range commonLower {
		if c := textproto.CanonicalMIMEHeaderKey(k); c != k {
			t.Errorf("%q is not canonical (%q)", k, c)
		}
		if l != strings.ToLower(k) || lowerName(k) != l {
			t.Errorf("lower-case form of %q is %q", k, l)
		}
		if canonicalName(l) != k {
			t.Errorf("canonical form of %q is %q, want %q", l, canonicalName(l), k)
		}
	}
	for _, name := range []string{"x-custom-thing", "content-md5", "a"} {
		if got, want := canonicalName(name), textproto.CanonicalMIMEHeaderKey(name); got != want {
			t.Errorf("canonicalName(%q) = %q, want %q", name, got, want)
		}
	}
	if got := lowerName("X-Custom-Thing"); got != "x-custom-thing" {
		t.Errorf("lowerName = %q", got)
	}
	for code, want := range map[int]string{200: "200 OK", 404: "404 Not Found", 299: "299", 599: "599"} {
		if got := statusLine(code); got != want {
			t.Errorf("statusLine(%d) = %q, want %q", code, got, want)
		}
	}
}
