package hpackz

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The CRIME setting: an attacker makes the victim's client send requests
// whose path it chooses and sees the size of every compressed header block;
// the cookie is the secret. These tests show that protecting the cookie
// makes the sizes independent of it, and that without protection they are
// not (so the tests exercise the mechanism rather than restate it).

const crimeAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func crimeToken(rnd *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = crimeAlphabet[rnd.IntN(len(crimeAlphabet))]
	}
	return string(b)
}

func crimeRequest(v Version, path, cookie string) []Field {
	p := func(name string) string { return versionName(v, name) }
	return []Field{
		{p(":method"), "GET"},
		{p(":path"), path},
		{p(":version"), "HTTP/1.1"},
		{p(":host"), "bank.example"},
		{p(":scheme"), "https"},
		{"user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"},
		{"cookie", cookie},
	}
}

// crimeSize is the size the attacker sees: the block of a request for path
// carrying cookie, optionally after the victim's own request for "/" (so
// the cookie is in the compression context already).
func crimeSize(t *testing.T, v Version, level int, sens func(string) bool, path, cookie string, earlier bool) int {
	t.Helper()
	e := NewEncoder(v, &EncoderOptions{Level: level, Sensitive: sens})
	if earlier {
		if _, err := e.AppendBlock(nil, crimeRequest(v, "/", cookie)); err != nil {
			t.Fatal(err)
		}
	}
	out, err := e.AppendBlock(nil, crimeRequest(v, path, cookie))
	if err != nil {
		t.Fatal(err)
	}
	return len(out)
}

// A path that guesses the whole cookie: with protection the block has the
// same size whatever the cookie is; without, the right cookie makes it
// clearly smaller.
func TestEncoderCRIMEWholeGuess(t *testing.T) {
	rnd := rand.New(rand.NewPCG(11, 12))
	for _, v := range []Version{V2, V3} {
		for _, level := range encLevels {
			for _, earlier := range []bool{false, true} {
				name := fmt.Sprintf("%v level %d earlier %v", v, level, earlier)
				guess := "sid=" + crimeToken(rnd, 32)
				path := "/search?q=" + guess
				right := crimeSize(t, v, level, nil, path, guess, earlier)
				rightOpen := crimeSize(t, v, level, NeverSensitive, path, guess, earlier)
				for range 5 {
					wrong := "sid=" + crimeToken(rnd, 32)
					if got := crimeSize(t, v, level, nil, path, wrong, earlier); got != right {
						t.Errorf("%s: protected: %d bytes with the right cookie, %d with another", name, right, got)
					}
					wrongOpen := crimeSize(t, v, level, NeverSensitive, path, wrong, earlier)
					if level != NoCompression && rightOpen+10 > wrongOpen {
						t.Errorf("%s: unprotected: %d bytes with the right cookie, %d with another: the test shows nothing",
							name, rightOpen, wrongOpen)
					}
				}
			}
		}
	}
}

// The attack itself, one character at a time: the attacker knows the
// cookie starts with "sid=" and, for each next character, sends one request
// per candidate and keeps the candidate whose block is smallest (the others
// must all be larger). Without protection it recovers the cookie; with
// protection every candidate gives the same size and it learns nothing.
func TestEncoderCRIMEAttack(t *testing.T) {
	rnd := rand.New(rand.NewPCG(13, 14))
	secret := "sid=" + crimeToken(rnd, 12)
	// Each probe repeats the guess after some filler so that its own
	// bytes cannot match each other, as CRIME probes do.
	probe := func(guess string) string { return "/img?a=" + guess + "&z=" + fmt.Sprint(len(guess)) }
	attack := func(sens func(string) bool, level int) (string, bool) {
		known := "sid="
		for len(known) < len(secret) {
			best, bestSize, ties := byte(0), 1<<30, 0
			for i := range len(crimeAlphabet) {
				c := crimeAlphabet[i]
				size := crimeSize(t, V3, level, sens, probe(known+string(c)), secret, true)
				switch {
				case size < bestSize:
					best, bestSize, ties = c, size, 1
				case size == bestSize:
					ties++
				}
			}
			if ties != 1 {
				return known, false
			}
			known += string(best)
		}
		return known, true
	}
	for _, level := range []int{BestSpeed, DefaultCompression, BestCompression} {
		if got, ok := attack(NeverSensitive, level); !ok || got != secret {
			t.Errorf("level %d: unprotected attack recovered %q (done %v), secret %q: the test shows nothing", level, got, ok, secret)
		}
		if got, ok := attack(nil, level); ok || got != "sid=" {
			t.Errorf("level %d: protected attack recovered %q", level, got)
		}
	}
}

// A protected value is neither a match source for later blocks nor a match
// target for earlier bytes: the size of a block echoing the secret in an
// unprotected header does not depend on whether the secret was sent before
// as a protected cookie, and the size of a block carrying the protected
// cookie does not depend on whether its value was sent before in the
// clear.
func TestEncoderSensitiveIsolation(t *testing.T) {
	rnd := rand.New(rand.NewPCG(15, 16))
	for _, v := range []Version{V2, V3} {
		for _, level := range encLevels {
			if level == NoCompression {
				continue
			}
			secret := "sid=" + crimeToken(rnd, 40)
			other := "sid=" + crimeToken(rnd, 40)
			twoBlocks := func(first, second []Field) int {
				e := NewEncoder(v, &EncoderOptions{Level: level})
				if _, err := e.AppendBlock(nil, first); err != nil {
					t.Fatal(err)
				}
				out, err := e.AppendBlock(nil, second)
				if err != nil {
					t.Fatal(err)
				}
				return len(out)
			}
			echo := []Field{{"x-echo", secret}, {"x-other", "1"}}
			// Source: the cookie sent earlier is not matched by the echo.
			a := twoBlocks([]Field{{"cookie", secret}, {"x-a", "b"}}, echo)
			b := twoBlocks([]Field{{"cookie", other}, {"x-a", "b"}}, echo)
			if a != b {
				t.Errorf("%v level %d: echo block %d bytes after the protected secret, %d after another", v, level, a, b)
			}
			// Within one block, cookie before the echo.
			one := func(cookie string) int {
				e := NewEncoder(v, &EncoderOptions{Level: level})
				out, err := e.AppendBlock(nil, []Field{{"cookie", cookie}, {"x-echo", secret}})
				if err != nil {
					t.Fatal(err)
				}
				return len(out)
			}
			if a, b := one(secret), one(other); a != b {
				t.Errorf("%v level %d: one block, %d bytes with the secret as cookie, %d with another", v, level, a, b)
			}
			// Target: the cookie is not matched against the earlier echo.
			cookie := []Field{{"x-a", "b"}, {"cookie", secret}, {"x-z", "1"}}
			a = twoBlocks([]Field{{"x-echo", secret}}, cookie)
			b = twoBlocks([]Field{{"x-echo", other}}, cookie)
			if a != b {
				t.Errorf("%v level %d: cookie block %d bytes after the echoed secret, %d after another", v, level, a, b)
			}
			// And unprotected, both of those do depend on the secret.
			e1 := NewEncoder(v, &EncoderOptions{Level: level, Sensitive: NeverSensitive})
			e2 := NewEncoder(v, &EncoderOptions{Level: level, Sensitive: NeverSensitive})
			e1.AppendBlock(nil, []Field{{"cookie", secret}})
			e2.AppendBlock(nil, []Field{{"cookie", other}})
			o1, _ := e1.AppendBlock(nil, echo)
			o2, _ := e2.AppendBlock(nil, echo)
			if len(o1)+20 > len(o2) {
				t.Errorf("%v level %d: unprotected echo %d bytes after the secret, %d after another", v, level, len(o1), len(o2))
			}
		}
	}
}
