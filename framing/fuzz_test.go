package framing

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzReadFrame feeds arbitrary bytes to a Framer and checks that it never
// panics, never buffers much more than it was given, returns only the
// errors it documents, and that every frame it reads can be written back
// and reads back the same. The seed corpus in testdata/fuzz/FuzzReadFrame
// holds every spec vector and runs in every `go test`.
func FuzzReadFrame(f *testing.F) {
	for _, v := range specVectors {
		f.Add(unhex(f, v))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewFramer(nil, bytes.NewReader(in), Version3)
		r.MaxDataFrameSize = MaxPayloadLen // allocation must still follow the input
		for range 1000 {
			fr, err := r.ReadFrame()
			if limit := 2*len(in) + initialReadBuffer; cap(r.rbuf) > limit {
				t.Fatalf("payload buffer of %d bytes for %d input bytes", cap(r.rbuf), len(in))
			}
			var ce *ConnectionError
			var se *StreamError
			switch {
			case err == io.EOF || err == io.ErrUnexpectedEOF:
				return
			case errors.As(err, &ce):
				if fr != nil {
					t.Fatalf("frame %v returned with session error %v", fr, err)
				}
				continue
			case errors.As(err, &se):
				if fr == nil || fr.Header().StreamID != se.StreamID {
					t.Fatalf("stream error %v without its frame (%v)", err, fr)
				}
				continue
			case err != nil:
				t.Fatalf("undocumented error %T: %v", err, err)
			}
			checkWriteBack(t, fr)
		}
	})
}

// checkWriteBack writes fr with a Framer that enforces every rule and reads
// it back.
func checkWriteBack(t *testing.T, fr Frame) {
	t.Helper()
	w := NewFramer(nil, nil, Version3)
	b, err := w.AppendFrame(nil, fr)
	if err != nil {
		t.Fatalf("read %v but cannot write it back: %v", fr, err)
	}
	back, err := NewFramer(nil, bytes.NewReader(b), Version3).ReadFrame()
	if err != nil {
		t.Fatalf("wrote %v as % x, which reads back as error %v", fr, b, err)
	}
	want := CopyFrame(fr)
	if ga, ok := want.(*GoAwayFrame); ok && ga.Version == Version2 {
		ga.Status = 0 // SPDY/2 GOAWAY is written without a status
	}
	if diff := cmp.Diff(want, back, equateEmpty, ignoreLength); diff != "" {
		t.Fatalf("write-back mismatch (-read +reread):\n%s", diff)
	}
}
