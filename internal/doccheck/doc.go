// Package doccheck keeps the documentation honest: its test fails when
// docs/spec-coverage.md names a test, fuzz target or example that does not
// exist in the module.
package doccheck
