// Package nodetransport runs sessions of package session against node's
// spdy-transport 3.0.0 (npm), driven through its own connection and stream
// API by the script in ../node, for SPDY/2, SPDY/3 and SPDY/3.1 in both
// directions: our client against a node server and a node client against
// our server. It has tests only.
//
// The tests install the pinned npm packages with `npm ci` when
// ../node/node_modules is missing, and are skipped only on machines without
// node or npm.
package nodetransport
