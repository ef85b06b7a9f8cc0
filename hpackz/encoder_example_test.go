package hpackz_test

import (
	"fmt"

	"github.com/spdygo/spdy/hpackz"
)

// One Encoder per sending direction and one Decoder per receiving
// direction, each living as long as the session. The cookie is protected by
// default: it goes out uncompressed and never takes part in matching.
func ExampleEncoder() {
	enc := hpackz.NewEncoder(hpackz.V3, nil)
	dec := hpackz.NewDecoder(hpackz.V3, nil)

	var block []byte
	for _, path := range []string{"/", "/style.css"} {
		var err error
		block, err = enc.AppendBlock(block[:0], []hpackz.Field{
			{Name: ":method", Value: "GET"},
			{Name: ":path", Value: path},
			{Name: ":version", Value: "HTTP/1.1"},
			{Name: ":host", Value: "example.com"},
			{Name: ":scheme", Value: "https"},
			{Name: "cookie", Value: "sid=31d4d96e407aad42"},
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		// block is the header block of one SYN_STREAM frame.
		err = dec.Decode(block, func(f hpackz.Field) {
			if f.Name == ":path" || f.Name == "cookie" {
				fmt.Println(f)
			}
		})
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	// Output:
	// :path: /
	// cookie: sid=31d4d96e407aad42
	// :path: /style.css
	// cookie: sid=31d4d96e407aad42
}

// Refused fields leave the encoder as it was.
func ExampleEncoder_AppendBlock_refused() {
	enc := hpackz.NewEncoder(hpackz.V3, &hpackz.EncoderOptions{
		Level:     hpackz.BestCompression,
		Sensitive: hpackz.NeverSensitive,
	})
	_, err := enc.AppendBlock(nil, []hpackz.Field{{Name: "Host", Value: "example.com"}})
	fmt.Println(err)
	// Output:
	// hpackz: invalid header block: field 0: upper-case header name
}
