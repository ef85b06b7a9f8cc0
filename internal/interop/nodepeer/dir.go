package nodepeer

import (
	"path/filepath"
	"sync"
	"testing"
)

var (
	dirOnce sync.Once
	dirPath string
	dirErr  error
)

// Dir returns the absolute path of ../node (the node scripts, relative to
// the test's package directory) with the packages of its
// package-lock.json installed, installing them on the first call. The
// test is skipped only when node or npm is not installed; peer names what
// the skipped tests run against. A failed install fails the test.
func Dir(t testing.TB, peer string) string {
	t.Helper()
	if tool, ok := Available(); !ok {
		t.Skipf("%s is not installed; the interop tests with %s need node and npm", tool, peer)
	}
	dirOnce.Do(func() {
		dirPath, dirErr = filepath.Abs(filepath.Join("..", "node"))
		if dirErr == nil {
			dirErr = Install(dirPath)
		}
	})
	if dirErr != nil {
		t.Fatal(dirErr)
	}
	return dirPath
}
