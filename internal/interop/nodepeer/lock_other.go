//go:build !unix

package nodepeer

// lock does nothing where there is no flock: concurrent installs are then
// not serialized.
func lock(string) (func(), error) { return func() {}, nil }
