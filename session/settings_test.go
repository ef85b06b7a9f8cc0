package session

import (
	"errors"
	"testing"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/stream"
)

// SETTINGS as the scripted peer sees it (spdy3.1.md §4.4).

func mcs(v uint32) framing.Setting {
	return framing.Setting{ID: framing.SettingMaxConcurrentStreams, Value: v}
}

// TestPeerMaxConcurrentStreams covers the peer's MAX_CONCURRENT_STREAMS:
// Open waits for a stream to end (by reset, both FINs, or a higher limit),
// or fails with ErrStreamLimit under Config.OpenFailsAtLimit.
func TestPeerMaxConcurrentStreams(t *testing.T) {
	ends := []struct {
		name string
		end  func(t *testing.T, s *Session, p *peer, st *stream.Stream)
	}{
		{"peer resets the stream", func(t *testing.T, s *Session, p *peer, st *stream.Stream) {
			p.rst(1, framing.StatusCancel)
		}},
		{"both sides finish", func(t *testing.T, s *Session, p *peer, st *stream.Stream) {
			p.synReply(1, framing.FlagFin)
			st.CloseWrite()
			p.expectFin(1)
		}},
		{"the application resets the stream", func(t *testing.T, s *Session, p *peer, st *stream.Stream) {
			st.Reset(framing.StatusCancel)
			p.expectRst(1, framing.StatusCancel)
		}},
		{"a higher limit", func(t *testing.T, s *Session, p *peer, st *stream.Stream) {
			p.settings(0, mcs(2))
		}},
	}
	for _, e := range ends {
		t.Run("Open waits until "+e.name, func(t *testing.T) {
			s, p, _ := scripted(t, Client, nil)
			p.settings(0, mcs(1))
			p.syncQuiet()
			st, _ := openStream(t, s, p, nil)
			type result struct {
				st  *stream.Stream
				err error
			}
			res := make(chan result, 1)
			go func() {
				st, err := s.Open(testCtx(t), nil)
				res <- result{st, err}
			}()
			waitFor(t, "Open to wait for the limit", func() bool {
				select {
				case r := <-res:
					t.Fatalf("Open over the peer's limit returned %v, %v", r.st, r.err)
				default:
				}
				return openWaiters(t, s) == 1
			})
			p.syncQuiet() // no SYN_STREAM yet
			e.end(t, s, p, st)
			g := p.skipUntil("SYN_STREAM", func(g got) bool { return g.Header().Type == framing.FrameSynStream })
			if id := g.Header().StreamID; id != 3 {
				t.Fatalf("SYN_STREAM for stream %d, want 3", id)
			}
			r := <-res
			if r.err != nil || r.st.ID() != 3 {
				t.Fatalf("Open = %v, %v", r.st, r.err)
			}
		})
	}
	t.Run("OpenFailsAtLimit", func(t *testing.T) {
		s, p, _ := scripted(t, Client, &Config{OpenFailsAtLimit: true})
		p.settings(0, mcs(1))
		p.syncQuiet()
		openStream(t, s, p, nil)
		if _, err := s.Open(testCtx(t), nil); !errors.Is(err, ErrStreamLimit) {
			t.Fatalf("Open over the limit: %v, want ErrStreamLimit", err)
		}
		p.rst(1, framing.StatusCancel)
		p.syncQuiet()
		if st, _ := openStream(t, s, p, nil); st.ID() != 3 {
			t.Fatalf("opened stream %d after the limit freed, want 3", st.ID())
		}
	})
	t.Run("limit 0", func(t *testing.T) {
		s, p, _ := scripted(t, Client, &Config{OpenFailsAtLimit: true})
		p.settings(0, mcs(0))
		p.syncQuiet()
		if _, err := s.Open(testCtx(t), nil); !errors.Is(err, ErrStreamLimit) {
			t.Fatalf("Open at limit 0: %v, want ErrStreamLimit", err)
		}
	})
}

// TestSettingsDuplicateIDs covers "a receiver that finds duplicates MUST
// use the first and ignore the rest".
func TestSettingsDuplicateIDs(t *testing.T) {
	s, p, _ := scripted(t, Client, &Config{OpenFailsAtLimit: true})
	p.settings(0, mcs(1), mcs(5),
		framing.Setting{ID: framing.SettingInitialWindowSize, Value: 10},
		framing.Setting{ID: framing.SettingInitialWindowSize, Value: 100000})
	p.syncQuiet()
	st, _ := openStream(t, s, p, nil)
	if _, err := s.Open(testCtx(t), nil); !errors.Is(err, ErrStreamLimit) {
		t.Fatalf("second Open: %v, want ErrStreamLimit (limit 1, the first entry)", err)
	}
	p.synReply(1, 0)
	res := writeAsync(st, 20)
	p.readData(1, 10)
	waitFor(t, "the stream to wait for window", func() bool { return blockedStreams(t, s) == 1 })
	p.windowUpdate(1, 10)
	p.readData(1, 10)
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	for _, e := range s.PeerSettings() {
		if e.ID == framing.SettingMaxConcurrentStreams && e.Value != 1 {
			t.Errorf("PeerSettings has %v, want the first entry", e)
		}
	}
}

// TestSettingsUnknownIDs covers "unknown ids: ignore" (and ids the
// session has no use for).
func TestSettingsUnknownIDs(t *testing.T) {
	s, p, _ := scripted(t, Client, nil)
	p.settings(0,
		framing.Setting{ID: framing.SettingUploadBandwidth, Value: 100},
		framing.Setting{ID: framing.SettingRoundTripTime, Value: 50},
		framing.Setting{ID: framing.SettingClientCertificateVectorSize, Value: 8},
		framing.Setting{ID: 0x42, Value: 0xffffffff},
		framing.Setting{ID: 0xffffff, Flags: 0xff, Value: 0},
	)
	p.syncQuiet()
	st, _ := openStream(t, s, p, nil)
	p.synReply(1, 0)
	res := writeAsync(st, 1000)
	p.readData(1, 1000)
	if err := <-res; err != nil {
		t.Fatal(err)
	}
}

// TestSettingsPersistence covers the persistence flags of §4.4: a server
// ignores entries flagged PERSISTED (but honours a client's value even if
// it wrongly asks for persistence, as node does); a client reports
// PERSIST_VALUE entries and CLEAR_SETTINGS to Config.PersistSettings, and
// sends Config.PersistedSettings back flagged PERSISTED.
func TestSettingsPersistence(t *testing.T) {
	t.Run("server ignores PERSISTED entries", func(t *testing.T) {
		s, p, _ := scripted(t, Server, &Config{OpenFailsAtLimit: true})
		p.settings(0,
			framing.Setting{ID: framing.SettingMaxConcurrentStreams, Flags: framing.SettingPersisted, Value: 1},
			framing.Setting{ID: framing.SettingInitialWindowSize, Flags: framing.SettingPersisted, Value: 10})
		p.syncQuiet()
		st, _ := openStream(t, s, p, nil)
		openStream(t, s, p, nil) // a limit of 1 would refuse it
		p.synReply(2, 0)
		res := writeAsync(st, 100) // a window of 10 would hold it back
		p.readData(2, 100)
		if err := <-res; err != nil {
			t.Fatal(err)
		}
		if ps := s.PeerSettings(); len(ps) != 0 {
			t.Errorf("PeerSettings = %v, want none", ps)
		}
	})
	t.Run("server honours a client's PERSIST_VALUE entry", func(t *testing.T) {
		s, p, _ := scripted(t, Server, &Config{OpenFailsAtLimit: true})
		p.settings(0, framing.Setting{ID: framing.SettingMaxConcurrentStreams, Flags: framing.SettingPersistValue, Value: 1})
		p.syncQuiet()
		openStream(t, s, p, nil)
		if _, err := s.Open(testCtx(t), nil); !errors.Is(err, ErrStreamLimit) {
			t.Fatalf("second Open: %v, want ErrStreamLimit", err)
		}
	})
	t.Run("client reports PERSIST_VALUE and CLEAR_SETTINGS", func(t *testing.T) {
		type call struct {
			settings []framing.Setting
			clear    bool
		}
		calls := make(chan call, 4)
		_, p, _ := scripted(t, Client, &Config{PersistSettings: func(s []framing.Setting, clear bool) {
			calls <- call{s, clear}
		}})
		p.settings(0,
			framing.Setting{ID: framing.SettingRoundTripTime, Flags: framing.SettingPersistValue, Value: 50},
			framing.Setting{ID: framing.SettingMaxConcurrentStreams, Flags: framing.SettingPersistValue, Value: 7},
			framing.Setting{ID: framing.SettingInitialWindowSize, Value: 100000})
		p.syncQuiet()
		select {
		case c := <-calls:
			if c.clear || len(c.settings) != 2 || c.settings[0].ID != framing.SettingRoundTripTime || c.settings[0].Value != 50 ||
				c.settings[1].ID != framing.SettingMaxConcurrentStreams || c.settings[1].Value != 7 {
				t.Fatalf("PersistSettings(%v, %v), want RTT 50 and MAX_CONCURRENT_STREAMS 7", c.settings, c.clear)
			}
		default:
			t.Fatal("PersistSettings was not called")
		}
		p.settings(framing.FlagClearSettings)
		p.syncQuiet()
		select {
		case c := <-calls:
			if !c.clear || len(c.settings) != 0 {
				t.Fatalf("PersistSettings(%v, %v) for CLEAR_SETTINGS", c.settings, c.clear)
			}
		default:
			t.Fatal("PersistSettings was not called for CLEAR_SETTINGS")
		}
		if len(calls) != 0 {
			t.Fatalf("%d more PersistSettings calls", len(calls))
		}
	})
	t.Run("client sends PersistedSettings flagged PERSISTED", func(t *testing.T) {
		persisted := []framing.Setting{
			{ID: framing.SettingRoundTripTime, Flags: framing.SettingPersistValue, Value: 42},
			{ID: framing.SettingMaxConcurrentStreams, Value: 9}, // ours wins
			{ID: framing.SettingUploadBandwidth, Value: 7},
		}
		_, _, set := scripted(t, Client, &Config{PersistedSettings: persisted, MaxConcurrentStreams: 100})
		want := []framing.Setting{
			{ID: framing.SettingUploadBandwidth, Flags: framing.SettingPersisted, Value: 7},
			{ID: framing.SettingRoundTripTime, Flags: framing.SettingPersisted, Value: 42},
			{ID: framing.SettingMaxConcurrentStreams, Value: 100},
		}
		if len(set.Settings) != len(want) {
			t.Fatalf("first SETTINGS %v, want %v", set.Settings, want)
		}
		for i := range want {
			if set.Settings[i] != want[i] {
				t.Fatalf("first SETTINGS %v, want %v", set.Settings, want)
			}
		}
	})
	t.Run("server sends no PersistedSettings", func(t *testing.T) {
		_, _, set := scripted(t, Server, &Config{PersistedSettings: []framing.Setting{{ID: framing.SettingRoundTripTime, Value: 42}}})
		if _, ok := set.Value(framing.SettingRoundTripTime); ok {
			t.Fatalf("a server sent persisted settings: %v", set)
		}
	})
}

// TestFirstSettings checks the SETTINGS a session starts with: our
// MAX_CONCURRENT_STREAMS, and INITIAL_WINDOW_SIZE only when it is not the
// protocol's 64 KiB.
func TestFirstSettings(t *testing.T) {
	_, _, set := scripted(t, Server, &Config{MaxConcurrentStreams: 12})
	if e, ok := set.Value(framing.SettingMaxConcurrentStreams); !ok || e.Value != 12 || e.Flags != 0 {
		t.Fatalf("first SETTINGS %v, want MAX_CONCURRENT_STREAMS 12", set)
	}
	if _, ok := set.Value(framing.SettingInitialWindowSize); ok {
		t.Fatalf("first SETTINGS %v carries the default window", set)
	}
}
