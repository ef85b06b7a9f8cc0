// Package faultnet breaks network connections on purpose, for tests: Conn
// wraps a net.Conn and cuts one direction of it after exactly N bytes, by
// closing the connection, by half-closing it, by stalling it (no byte
// passes and nothing closes, as on a dead link, until the connection is
// closed or a deadline passes), or by blackholing it (no byte passes
// either way and not even a close reaches the peer).
//
// A test records a healthy exchange through a Conn (Record, Recorded),
// finds the frame boundaries of the SPDY frames in it (FrameBoundaries)
// and picks seeded random offsets (Offsets, Thin), then runs the exchange
// again with a cut at each of those points (Cut) and checks that every
// call blocked on the connection returns, and that what arrived is either
// what was sent or ends with an error (ReadExpected). Listener and Dialer
// wrap the connections a server accepts or a client dials.
//
// The package imports only the standard library.
package faultnet
