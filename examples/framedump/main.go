// Command framedump decodes a captured byte stream of SPDY frames and prints
// every frame readably, header blocks included. It uses only the framing and
// hpackz packages.
//
// The input is one direction of one session (the header blocks of a
// direction share one compression context), as raw bytes or, with -hex, as
// hex text in which whitespace is ignored and '#' starts a comment. With no
// file arguments it reads standard input; -demo decodes a built-in capture.
//
//	framedump -demo
//	framedump capture.bin
//	tshark ... | framedump -hex
package main

import (
	"bufio"
	_ "embed"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
)

//go:embed demo.hex
var demoCapture string

func main() {
	hexInput := flag.Bool("hex", false, "the input is hex text ('#' starts a comment)")
	demo := flag.Bool("demo", false, "decode a built-in SPDY/3.1 capture")
	dataBytes := flag.Int("data", 64, "show at most this many bytes of each DATA payload")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: framedump [-hex] [-data n] [file ...]\n       framedump -demo\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()

	var in io.Reader
	switch {
	case *demo:
		if flag.NArg() > 0 {
			fail(errors.New("-demo takes no file arguments"))
		}
		in, *hexInput = strings.NewReader(demoCapture), true
	case flag.NArg() == 0:
		in = os.Stdin
	default:
		var readers []io.Reader
		for _, name := range flag.Args() {
			f, err := os.Open(name)
			if err != nil {
				fail(err)
			}
			defer f.Close()
			readers = append(readers, f)
		}
		in = io.MultiReader(readers...)
	}
	if *hexInput {
		raw, err := decodeHex(in)
		if err != nil {
			fail(err)
		}
		in = strings.NewReader(string(raw))
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	if err := dump(out, bufio.NewReader(in), *dataBytes); err != nil {
		out.Flush()
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "framedump:", err)
	os.Exit(1)
}

// decodeHex reads hex text, ignoring whitespace and '#' comments.
func decodeHex(r io.Reader) ([]byte, error) {
	var digits strings.Builder
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		for _, field := range strings.Fields(text) {
			if i := strings.IndexFunc(field, notHexDigit); i >= 0 {
				return nil, fmt.Errorf("line %d: %q is not hex", line, field)
			}
			digits.WriteString(field)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return hex.DecodeString(digits.String())
}

func notHexDigit(r rune) bool {
	return !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F')
}

// dump prints every frame read from r. Header blocks are decoded with one
// decoder per direction, created at the first header block with that
// frame's version. It stops at the end of the input or at an error after
// which the stream cannot be followed.
func dump(w io.Writer, r io.Reader, dataBytes int) error {
	fr := framing.NewFramer(nil, r, framing.Version3)
	fr.MaxDataFrameSize = framing.MaxPayloadLen
	var dec *hpackz.Decoder
	for n := 1; ; n++ {
		f, err := fr.ReadFrame()
		if err == io.EOF {
			return nil
		}
		var se *framing.StreamError
		var ce *framing.ConnectionError
		switch {
		case errors.As(err, &se) && f != nil:
			fmt.Fprintf(w, "%4d %v\n     ! %v\n", n, f, err)
			continue
		case errors.As(err, &ce) && !errors.Is(err, framing.ErrFrameTooLarge):
			fmt.Fprintf(w, "%4d ! %v\n", n, err)
			continue // the frame was read in full; the next one can be read
		case err != nil:
			return fmt.Errorf("frame %d: %w", n, err)
		}
		fmt.Fprintf(w, "%4d %v\n", n, f)
		var block []byte
		switch f := f.(type) {
		case *framing.SynStreamFrame:
			block = f.HeaderBlock
		case *framing.SynReplyFrame:
			block = f.HeaderBlock
		case *framing.HeadersFrame:
			block = f.HeaderBlock
		case *framing.DataFrame:
			if len(f.Data) > 0 && dataBytes > 0 {
				fmt.Fprintf(w, "     %q", f.Data[:min(len(f.Data), dataBytes)])
				if len(f.Data) > dataBytes {
					fmt.Fprintf(w, "... (%d more bytes)", len(f.Data)-dataBytes)
				}
				fmt.Fprintln(w)
			}
			continue
		default:
			continue
		}
		if dec == nil {
			dec = hpackz.NewDecoder(hpackz.Version(f.Header().Version), nil)
		}
		err = dec.Decode(block, func(fl hpackz.Field) {
			fmt.Fprintf(w, "     %s\n", fl)
		})
		var cerr *hpackz.CompressionError
		if errors.As(err, &cerr) {
			return fmt.Errorf("frame %d: %w (the rest of this direction cannot be decoded)", n, err)
		}
		if err != nil {
			fmt.Fprintf(w, "     ! %v\n", err)
		}
	}
}
