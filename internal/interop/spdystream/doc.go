// Package spdystream checks the framing and header-compression layers
// against the SPDY/3 framer of github.com/moby/spdystream, in both
// directions, and benchmarks the two side by side. It has tests only.
package spdystream
