// Package layering enforces the module's import layering.
//
// Its test reads the import graph with `go list` and fails when a package
// imports a top-level package of the same or a higher rank, when net/http
// appears among the transitive imports of ranks 1 to 3, or when a top-level
// directory holds a package that has no rank. The rank table is in
// layering.go and mirrors docs/architecture.md. Internal packages are
// leaves, except the tool trees listed in Tools (test harnesses that drive
// the whole stack, like cmd): they may import any library package, and
// nothing outside them may import them.
//
// DO NOT RELAX THE TABLES TO MAKE A BUILD PASS: change the design first.
package layering
