package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// mix is the finalizer of splitmix64: a cheap, well-spread function of
// one 64-bit word, which makes the content of every offset of every origin
// different and computable anywhere.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// fill writes the pattern of salt at offset off into b: byte off of the
// pattern is byte off%8 (little-endian) of mix(salt ^ off/8).
func fill(b []byte, salt uint64, off int64) {
	i := 0
	// The unaligned head.
	for ; i < len(b) && (off+int64(i))&7 != 0; i++ {
		o := off + int64(i)
		b[i] = byte(mix(salt^uint64(o>>3)) >> (8 * (o & 7)))
	}
	// Whole words.
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], mix(salt^uint64((off+int64(i))>>3)))
	}
	// The tail.
	for ; i < len(b); i++ {
		o := off + int64(i)
		b[i] = byte(mix(salt^uint64(o>>3)) >> (8 * (o & 7)))
	}
}

// pattern is a file of size bytes whose content is fill's pattern of salt:
// a large, Range-capable file that costs no memory.
type pattern struct {
	salt uint64
	size int64
}

// ReadAt implements io.ReaderAt.
func (p pattern) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("pattern: negative offset %d", off)
	}
	if off >= p.size {
		return 0, io.EOF
	}
	n := len(b)
	if rem := p.size - off; int64(n) > rem {
		n = int(rem)
	}
	fill(b[:n], p.salt, off)
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// Salts of the origins' resources: origin k's movie uses movieSalt+k, and
// so on, so that a response of the wrong origin or resource fails its check.
const (
	movieSalt  = 0x6d6f766965000000
	streamSalt = 0x73747265616d0000
)

// verifier checks a body against the pattern of salt, from offset off on.
type verifier struct {
	salt uint64
	off  int64
	want []byte
}

// check compares b, the next bytes of the body, with the pattern and
// advances. It returns an error naming the first differing offset.
func (v *verifier) check(b []byte) error {
	if cap(v.want) < len(b) {
		v.want = make([]byte, len(b))
	}
	want := v.want[:len(b)]
	fill(want, v.salt, v.off)
	if !bytes.Equal(b, want) {
		for i := range b {
			if b[i] != want[i] {
				return fmt.Errorf("byte %d is %#02x, want %#02x", v.off+int64(i), b[i], want[i])
			}
		}
	}
	v.off += int64(len(b))
	return nil
}

// page returns origin name's HTML page: a few KiB that name the origin, so
// that a page of the wrong origin fails its check.
func page(name string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<!doctype html>\n<html><head><title>%s media</title></head><body>\n<h1>Library of %s</h1>\n<ul>\n", name, name)
	for i := 0; i < 120; i++ {
		fmt.Fprintf(&b, "<li><a href=\"/movie.mp4#t=%d\">%s chapter %03d</a></li>\n", i*60, name, i)
	}
	b.WriteString("</ul>\n</body></html>\n")
	return b.Bytes()
}

// modTime is the Last-Modified time of every resource.
var modTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// Limits of the /stream endpoint's query parameters.
const (
	maxStreamChunks = 1000
	maxStreamChunk  = 1 << 20
	maxStreamDelay  = time.Second
)

// originHandler serves origin k (named name) with a movie of size bytes:
//
//	/page        an HTML page (ETag, If-None-Match answered 304)
//	/movie.mp4   the movie, with Range, If-Range and conditional requests
//	/stream      ?chunks=N&size=S&delay=D: N chunks of S bytes of the stream
//	             pattern, flushed one by one, D apart (a live stream)
//
// active counts the requests being served.
func originHandler(k int, name string, size int64, active *atomic.Int64) http.Handler {
	pg := page(name)
	movie := pattern{salt: movieSalt + uint64(k), size: size}
	pageTag := fmt.Sprintf("\"page-%s\"", name)
	movieTag := fmt.Sprintf("\"movie-%s-%d\"", name, size)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", pageTag)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		http.ServeContent(w, r, "page.html", modTime, bytes.NewReader(pg))
	})
	mux.HandleFunc("GET /movie.mp4", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", movieTag)
		http.ServeContent(w, r, "movie.mp4", modTime, io.NewSectionReader(movie, 0, size))
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		chunks, err1 := strconv.Atoi(q.Get("chunks"))
		csize, err2 := strconv.Atoi(q.Get("size"))
		delay, err3 := time.ParseDuration(q.Get("delay"))
		if err1 != nil || err2 != nil || err3 != nil || chunks < 1 || chunks > maxStreamChunks ||
			csize < 1 || csize > maxStreamChunk || delay < 0 || delay > maxStreamDelay {
			http.Error(w, "bad stream parameters", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		rc := http.NewResponseController(w)
		buf := make([]byte, csize)
		salt := streamSalt + uint64(k)
		t := time.NewTimer(0)
		defer t.Stop()
		for i := 0; i < chunks; i++ {
			if i > 0 {
				t.Reset(delay)
				select {
				case <-t.C:
				case <-r.Context().Done():
					return
				}
			}
			fill(buf, salt, int64(i)*int64(csize))
			if _, err := w.Write(buf); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		active.Add(1)
		defer active.Add(-1)
		mux.ServeHTTP(w, r)
	})
}
