package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// IO is what a command runs with: its arguments, its three standard
// streams, and the terminal sizes the client sends (closed when the
// client sends no more).
type IO struct {
	Args           []string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Resize         <-chan Size
}

// Command is a program the server can run. It returns its exit status.
// ctx ends when the client gives up on the request.
type Command func(ctx context.Context, cio IO) int

// Builtins are small commands that behave the same on every system; a
// Server could as well start processes with os/exec.
var Builtins = map[string]Command{
	// cat copies stdin to stdout.
	"cat": func(ctx context.Context, cio IO) int {
		if _, err := io.Copy(cio.Stdout, cio.Stdin); err != nil {
			return 1
		}
		return 0
	},
	// upper copies stdin to stdout in upper case.
	"upper": func(ctx context.Context, cio IO) int {
		buf := make([]byte, 32<<10)
		for {
			n, err := cio.Stdin.Read(buf)
			if _, werr := cio.Stdout.Write(bytes.ToUpper(buf[:n])); werr != nil {
				return 1
			}
			if err == io.EOF {
				return 0
			}
			if err != nil {
				return 1
			}
		}
	},
	// echo prints its arguments.
	"echo": func(ctx context.Context, cio IO) int {
		fmt.Fprintln(cio.Stdout, strings.Join(cio.Args, " "))
		return 0
	},
	// route copies the lines of stdin that start with "2>" to stderr,
	// without the prefix, and the others to stdout.
	"route": func(ctx context.Context, cio IO) int {
		sc := bufio.NewScanner(cio.Stdin)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), "2>"); ok {
				fmt.Fprintln(cio.Stderr, line)
			} else {
				fmt.Fprintln(cio.Stdout, line)
			}
		}
		if sc.Err() != nil {
			return 1
		}
		return 0
	},
	// fail prints its arguments after the first to stderr and exits with
	// the first as its status.
	"fail": func(ctx context.Context, cio IO) int {
		if len(cio.Args) == 0 {
			fmt.Fprintln(cio.Stderr, "usage: fail status [message ...]")
			return 2
		}
		code, err := strconv.Atoi(cio.Args[0])
		if err != nil {
			fmt.Fprintln(cio.Stderr, "fail:", err)
			return 2
		}
		fmt.Fprintln(cio.Stderr, strings.Join(cio.Args[1:], " "))
		return code
	},
	// winsize prints every terminal size it is sent, until the client
	// sends no more.
	"winsize": func(ctx context.Context, cio IO) int {
		for {
			select {
			case sz, ok := <-cio.Resize:
				if !ok {
					return 0
				}
				fmt.Fprintf(cio.Stdout, "%dx%d\n", sz.Width, sz.Height)
			case <-ctx.Done():
				return 1
			}
		}
	},
}
