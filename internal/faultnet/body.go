package faultnet

import (
	"bytes"
	"fmt"
	"io"
)

// BodyError reports bytes that arrived wrong through a broken connection:
// bytes that differ from what was sent, or a clean io.EOF before its end,
// which a reader would take for the whole of it.
type BodyError struct {
	Off, N int  // the wrong bytes are [Off, Off+N); for a short body, Off is what arrived
	Len    int  // the length of what was sent
	Short  bool // a clean io.EOF at Off, before Len
}

// Error describes the wrong bytes.
func (e *BodyError) Error() string {
	if e.Short {
		return fmt.Sprintf("io.EOF after %d of %d bytes: a silently short body", e.Off, e.Len)
	}
	return fmt.Sprintf("the body differs from what was sent at bytes %d to %d", e.Off, e.Off+e.N)
}

// ReadExpected reads r until an error and checks what it reads against
// want, the bytes that were sent. It returns nil for all of want followed
// by io.EOF, a *BodyError for a byte that differs (or one past want) or for
// an io.EOF before the end of want, and otherwise the error of r's Read
// that ended a correct prefix of want: a broken connection may end a body
// early, but only with an error.
func ReadExpected(r io.Reader, want []byte) error {
	buf := make([]byte, 3000)
	off := 0
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if off+n > len(want) || !bytes.Equal(buf[:n], want[off:off+n]) {
				return &BodyError{Off: off, N: n, Len: len(want)}
			}
			off += n
		}
		if err == io.EOF {
			if off != len(want) {
				return &BodyError{Off: off, Len: len(want), Short: true}
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}
