// Package spdystreamsession runs whole sessions of package session against
// github.com/moby/spdystream over loopback TCP, with either side as the
// SPDY client: many concurrent streams, bulk transfers, headers of every
// kind, PING, GOAWAY, half-close and reset. It has tests only.
//
// spdystream has no flow control, so our side runs SPDY/3 with
// session.Config.UnlimitedPeerWindow.
package spdystreamsession
