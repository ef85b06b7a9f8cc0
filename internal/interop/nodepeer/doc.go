// Package nodepeer runs the node peers of the interop tests: it installs
// the npm packages that ../node/package-lock.json pins (with `npm ci`, once
// per machine, under a file lock so that test binaries running at the same
// time do not install over each other) and runs node scripts whose stdout
// is one JSON object per line.
package nodepeer
