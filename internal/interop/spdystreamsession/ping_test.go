package spdystreamsession

import (
	"sync"
	"testing"
)

// TestPing pings both ways, ours concurrently from several goroutines
// while a stream carries data, spdystream's one at a time (its Ping is not
// safe for concurrent use).
func TestPing(t *testing.T) {
	const ourPingers, ourPings, theirPings = 4, 10, 20
	for _, sd := range sides {
		t.Run(sd.String(), func(t *testing.T) {
			p := newPeers(t, sd, &options{handler: theirEcho})
			ctx := testContext(t)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { // traffic while pinging
				defer wg.Done()
				if err := ourRoundTrip(ctx, p.ours, 99); err != nil {
					t.Errorf("echo: %v", err)
				}
			}()
			for range ourPingers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range ourPings {
						if _, err := p.ours.Ping(ctx); err != nil {
							t.Errorf("our Ping: %v", err)
							return
						}
					}
				}()
			}
			for range theirPings {
				if _, err := p.theirs.Ping(); err != nil {
					t.Errorf("spdystream Ping: %v", err)
					break
				}
			}
			wg.Wait()
			st := p.ours.Stats()
			if st.PingsReceived != theirPings {
				t.Errorf("PingsReceived = %d, want %d", st.PingsReceived, theirPings)
			}
			// Our session also pings once at the start to measure the RTT.
			if want := uint64(ourPingers*ourPings + 1); st.PingsSent != want {
				t.Errorf("PingsSent = %d, want %d", st.PingsSent, want)
			}
			if st.RTT <= 0 {
				t.Errorf("RTT = %v after answered pings", st.RTT)
			}
		})
	}
}
