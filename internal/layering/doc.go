// Package layering enforces the module's import layering.
//
// Its test reads the import graph with `go list` and fails when a package
// imports a top-level package of the same or a higher rank, when net/http
// appears among the transitive imports of ranks 1 to 3, or when a top-level
// directory holds a package that has no rank. The rank table is in
// layering.go and mirrors docs/architecture.md.
//
// DO NOT RELAX THE TABLES TO MAKE A BUILD PASS: change the design first.
package layering
