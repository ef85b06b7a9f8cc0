package framing_test

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/spdygo/spdy/framing"
)

// A Framer writes frames to one stream of bytes and reads them from
// another; here both are the same buffer.
func ExampleFramer() {
	var conn bytes.Buffer
	fr := framing.NewFramer(&conn, &conn, framing.Version3)

	fr.WriteSettings(0, framing.Setting{ID: framing.SettingInitialWindowSize, Value: 1 << 20})
	fr.WriteWindowUpdate(0, 983040) // SPDY/3.1: grow the session window
	fr.WriteData(1, true, []byte("hello"))
	fr.WritePing(2)

	for {
		f, err := fr.ReadFrame()
		if err != nil {
			break
		}
		fmt.Println(f)
	}
	// Output:
	// SETTINGS v3 len=12 [INITIAL_WINDOW_SIZE=1048576]
	// WINDOW_UPDATE v3 stream=0 len=8 delta=983040
	// DATA stream=1 flags=FIN len=5
	// PING v3 len=4 id=2
}

// ReadFrame reports a broken rule with the error the protocol prescribes:
// a StreamError (reset one stream) or a ConnectionError (GOAWAY and close).
func ExampleFramer_ReadFrame_errors() {
	wire := []byte{
		0x80, 0x03, 0x00, 0x09, 0x00, 0x00, 0x00, 0x08, // WINDOW_UPDATE, length 8
		0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, // stream 5, delta 0
		0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x05, // PING, length 5
		0x00, 0x00, 0x00, 0x01, 0x00,
	}
	fr := framing.NewFramer(nil, bytes.NewReader(wire), framing.Version3)
	for range 2 {
		_, err := fr.ReadFrame()
		var se *framing.StreamError
		var ce *framing.ConnectionError
		switch {
		case errors.As(err, &se):
			fmt.Printf("send RST_STREAM %d %v\n", se.StreamID, se.Status)
		case errors.As(err, &ce):
			fmt.Printf("send GOAWAY %v, then close: %s\n", ce.Status, ce.Reason)
		}
	}
	// Output:
	// send RST_STREAM 5 PROTOCOL_ERROR
	// send GOAWAY PROTOCOL_ERROR, then close: PING payload of 5 bytes, want 4
}

// SPDY/2 frames differ in layout; the Framer writes the layout of its
// version and reads whichever version a frame carries.
func ExampleFramer_WriteSettings_versions() {
	for _, v := range []framing.Version{framing.Version2, framing.Version3} {
		var buf bytes.Buffer
		fr := framing.NewFramer(&buf, nil, v)
		fr.WriteSettings(0, framing.Setting{ID: 0x020304, Flags: framing.SettingPersistValue, Value: 10})
		fmt.Printf("%v: % x\n", v, buf.Bytes()[12:16])
	}
	// Output:
	// SPDY/2: 04 03 02 01
	// SPDY/3: 01 02 03 04
}
