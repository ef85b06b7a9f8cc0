package nodepeer

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// InstallTimeout bounds one `npm ci`.
const InstallTimeout = 5 * time.Minute

// Available reports whether node and npm are installed, and if not which
// one is missing.
func Available() (missing string, ok bool) {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool, false
		}
	}
	return "", true
}

// Install runs `npm ci` in dir unless every dependency that its
// package.json pins is installed at its pinned version. It holds a lock
// on dir/.install.lock meanwhile, so that several processes calling it at
// once install only once.
func Install(dir string) error {
	if Installed(dir) {
		return nil
	}
	unlock, err := lock(filepath.Join(dir, ".install.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if Installed(dir) { // installed by the process that held the lock
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), InstallTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci in %s: %v\n%s", dir, err, out)
	}
	if !Installed(dir) {
		return fmt.Errorf("npm ci in %s did not install the pinned packages", dir)
	}
	return nil
}

// Installed reports whether every dependency that dir/package.json pins
// is in dir/node_modules at its pinned version.
func Installed(dir string) bool {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil || json.Unmarshal(b, &pkg) != nil || len(pkg.Dependencies) == 0 {
		return false
	}
	for name, want := range pkg.Dependencies {
		var dep struct {
			Version string `json:"version"`
		}
		b, err := os.ReadFile(filepath.Join(dir, "node_modules", name, "package.json"))
		if err != nil || json.Unmarshal(b, &dep) != nil || dep.Version != want {
			return false
		}
	}
	return true
}
