package faultnet

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"testing/iotest"
)

func TestReadExpected(t *testing.T) {
	want := pattern(10000)
	corrupt := bytes.Clone(want)
	corrupt[7000] ^= 1
	for _, tc := range []struct {
		name  string
		r     io.Reader
		short bool // a *BodyError for a short body
		wrong bool // a *BodyError for wrong bytes
		err   error
	}{
		{name: "whole", r: bytes.NewReader(want)},
		{name: "whole, a byte at a time", r: iotest.OneByteReader(bytes.NewReader(want))},
		{name: "whole, EOF with the data", r: iotest.DataErrReader(bytes.NewReader(want))},
		{name: "short", r: bytes.NewReader(want[:6000]), short: true},
		{name: "empty", r: bytes.NewReader(nil), short: true},
		{name: "corrupt", r: bytes.NewReader(corrupt), wrong: true},
		{name: "long", r: bytes.NewReader(append(bytes.Clone(want), 'x')), wrong: true},
		{name: "cut with an error", r: io.MultiReader(bytes.NewReader(want[:6000]), iotest.ErrReader(net.ErrClosed)), err: net.ErrClosed},
		{name: "wrong bytes before an error", r: io.MultiReader(bytes.NewReader(corrupt[:8000]), iotest.ErrReader(net.ErrClosed)), wrong: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ReadExpected(tc.r, want)
			var be *BodyError
			isBody := errors.As(err, &be)
			switch {
			case tc.short || tc.wrong:
				if !isBody || be.Short != tc.short {
					t.Fatalf("ReadExpected: %v, want a BodyError with Short %v", err, tc.short)
				}
				if be.Len != len(want) {
					t.Errorf("Len %d, want %d", be.Len, len(want))
				}
			case tc.err != nil:
				if isBody || !errors.Is(err, tc.err) {
					t.Fatalf("ReadExpected: %v, want %v", err, tc.err)
				}
			case err != nil:
				t.Fatalf("ReadExpected refused the whole body: %v", err)
			}
		})
	}
}

func TestBodyErrorDescribesTheBytes(t *testing.T) {
	for _, tc := range []struct {
		e    BodyError
		want string
	}{
		{BodyError{Off: 6000, Len: 10000, Short: true}, "io.EOF after 6000 of 10000 bytes: a silently short body"},
		{BodyError{Off: 6000, N: 3000, Len: 10000}, "the body differs from what was sent at bytes 6000 to 9000"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.e, got, tc.want)
		}
	}
}
