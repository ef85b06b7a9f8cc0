package proxy

import (
	"testing"

	"github.com/spdygo/spdy/session"
)

// Tunnel sessions get a flood bucket ten times a session's default: a
// tunnel carries the cancels of all its origin's clients. Values the
// caller set are kept.
func TestTunnelFloodDefaults(t *testing.T) {
	var cfg session.Config
	tunnelFlood(&cfg)
	if cfg.FloodLimit != DefaultTunnelFloodLimit || cfg.FloodRate != DefaultTunnelFloodRate {
		t.Fatalf("tunnel flood bucket %d, %d/s", cfg.FloodLimit, cfg.FloodRate)
	}
	if DefaultTunnelFloodLimit <= session.DefaultFloodLimit || DefaultTunnelFloodRate <= session.DefaultFloodRate {
		t.Fatal("tunnel defaults are not above a session's")
	}
	cfg = session.Config{FloodLimit: -1, FloodRate: 5}
	tunnelFlood(&cfg)
	if cfg.FloodLimit != -1 || cfg.FloodRate != 5 {
		t.Fatalf("configured bucket changed to %d, %d/s", cfg.FloodLimit, cfg.FloodRate)
	}
}
