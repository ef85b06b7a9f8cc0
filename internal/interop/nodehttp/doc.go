// Package nodehttp runs HTTP over SPDY between this module's httpadapter
// (with npn for TLS) and node's spdy 4.0.2 (npm), its HTTP server and its
// agent, for SPDY/2, SPDY/3 and SPDY/3.1, over plain TCP with prior
// knowledge and over TLS with ALPN, in both directions: our Transport
// against a node server and a node agent against our Server. The node side
// is ../node/http.js. It has tests only.
//
// The tests install the pinned npm packages with `npm ci` when
// ../node/node_modules is missing, and are skipped only on machines without
// node or npm.
package nodehttp
