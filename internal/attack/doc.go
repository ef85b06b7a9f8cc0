// Package attack is a library of hostile SPDY/3.1 peers, aimed at a running
// server (spdyd, spdyproxy's front end, or any httpadapter.Server) to check
// that it defends itself as the protocol and this module's limits say it
// must.
//
// Each attack dials the target over plain TCP (prior knowledge) or over TLS
// with ALPN spdy/3.1, speaks raw frames written with package framing and
// header blocks compressed with its own zlib context (so that it can send
// blocks no well-behaved encoder would), and returns a Result: frames and
// bytes sent, duration, and what the server did about it: the GOAWAY
// statuses and RST_STREAM statuses it sent, whether it closed the
// connection, whether the session still answers a PING.
//
// Suite is the table of attacks, each with the outcome the protocol
// prescribes for it (Attack.Check); the package's tests run every attack
// against in-process servers and the spdyattack command runs it against
// server processes, with the same table. GoodClient is the well-behaved
// client that runs beside an attack and checks that the server keeps
// answering it correctly, and RuntimeMeter and ProcMeter measure the memory
// and CPU the server spends.
//
// Scale shrinks the attacks that can be shrunk (connection counts, stream
// counts); a flood always runs until the server ends the session or its
// frame cap is reached, since the point is to exceed the server's budget.
package attack
