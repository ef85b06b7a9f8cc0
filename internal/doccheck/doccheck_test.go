package doccheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	cited   = regexp.MustCompile(`\b(?:Test|Fuzz|Example)[A-Za-z0-9_]*\b`)
	defined = regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Example)[A-Za-z0-9_]*)\(`)
)

// TestSpecCoverageNamesExist checks every test named in
// docs/spec-coverage.md and docs/security.md against the functions defined
// in the module's test files (nested modules included).
func TestSpecCoverageNamesExist(t *testing.T) {
	root := filepath.Join("..", "..")
	have := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range defined.FindAllSubmatch(src, -1) {
			have[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []struct {
		name string
		min  int // a document citing fewer was not parsed as meant
	}{{"spec-coverage.md", 20}, {"security.md", 5}} {
		text, err := os.ReadFile(filepath.Join(root, "docs", doc.name))
		if err != nil {
			t.Fatal(err)
		}
		names := cited.FindAllString(string(text), -1)
		if len(names) < doc.min {
			t.Fatalf("only %d test names found in docs/%s", len(names), doc.name)
		}
		for _, name := range names {
			if name == "Test" || name == "Example" || name == "Fuzz" {
				continue
			}
			if !have[name] {
				t.Errorf("docs/%s cites %s, which no test file defines", doc.name, name)
			}
		}
	}
}
