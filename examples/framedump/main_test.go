package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestDemoGolden(t *testing.T) {
	raw, err := decodeHex(strings.NewReader(demoCapture))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := dump(&out, bytes.NewReader(raw), 64); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/demo.golden")
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestDumpErrors(t *testing.T) {
	raw, _ := decodeHex(strings.NewReader(demoCapture))
	// Cut inside the third frame: the frames before it are printed, then
	// the error.
	var out bytes.Buffer
	err := dump(&out, bytes.NewReader(raw[:60]), 64)
	if err == nil || !strings.Contains(err.Error(), "frame 3") {
		t.Errorf("truncated input: %v", err)
	}
	if !strings.Contains(out.String(), "WINDOW_UPDATE") {
		t.Errorf("frames before the cut not printed:\n%s", out.String())
	}
	// A broken rule is shown and the dump goes on.
	bad := []byte{0x80, 3, 0, 6, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 9}
	out.Reset()
	if err := dump(&out, bytes.NewReader(bad), 64); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "! framing: session error") || !strings.Contains(out.String(), "PING v3 len=4 id=9") {
		t.Errorf("output:\n%s", out.String())
	}
	// DATA payloads are shown, cut at the limit.
	data := []byte{0, 0, 0, 1, 1, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'}
	out.Reset()
	dump(&out, bytes.NewReader(data), 2)
	if !strings.Contains(out.String(), `"he"... (3 more bytes)`) {
		t.Errorf("output:\n%s", out.String())
	}
	if _, err := decodeHex(strings.NewReader("80 03 zz")); err == nil {
		t.Error("bad hex accepted")
	}
}
