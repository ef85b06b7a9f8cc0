package session

import (
	"context"
	"io"
	"sync"
	"testing"
)

// BenchmarkStreamThroughput moves data over one stream (loopback TCP).
func BenchmarkStreamThroughput(b *testing.B) {
	cs, ss := pair(b, nil, nil)
	go func() {
		st, err := ss.Accept(context.Background())
		if err != nil {
			return
		}
		io.Copy(io.Discard, st)
		st.Close()
	}()
	st, err := cs.Open(context.Background(), nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 256<<10)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := st.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	st.Close()
}

// BenchmarkRequestResponse opens a stream per request: 100 bytes up,
// 1 KiB down, from 64 goroutines on one session.
func BenchmarkRequestResponse(b *testing.B) {
	cs, ss := pair(b, nil, nil)
	resp := make([]byte, 1024)
	go func() {
		for {
			st, err := ss.Accept(context.Background())
			if err != nil {
				return
			}
			go func() {
				io.Copy(io.Discard, st)
				st.Write(resp)
				st.Close()
			}()
		}
	}()
	req := make([]byte, 100)
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N/64 + 1
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 2048)
			for i := 0; i < per; i++ {
				st, err := cs.Open(context.Background(), nil)
				if err != nil {
					b.Error(err)
					return
				}
				st.Write(req)
				st.CloseWrite()
				for {
					if _, err := st.Read(buf); err != nil {
						break
					}
				}
				st.Close()
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(cs.Stats().Writes)/float64(64*per), "writes/op")
	b.ReportMetric(float64(ss.Stats().Writes)/float64(64*per), "peer-writes/op")
}
