package doccheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportedNamesDocumented fails for every exported function, method,
// type, constant or variable of a non-main package that has no doc comment
// (its own, its group's, or a trailing line comment for a constant in a
// group), and for every package without a package comment.
func TestExportedNamesDocumented(t *testing.T) {
	root := filepath.Join("..", "..")
	checked := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".")) {
			return filepath.SkipDir
		}
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, path, func(fi os.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ParseComments)
		if err != nil {
			return err
		}
		for _, pkg := range pkgs {
			if pkg.Name == "main" {
				continue
			}
			checked++
			hasPkgDoc := false
			for _, f := range pkg.Files {
				if f.Doc != nil {
					hasPkgDoc = true
				}
				for _, miss := range undocumented(f) {
					t.Errorf("%s: %s has no doc comment", fset.Position(miss.Pos()), miss.Name)
				}
			}
			if !hasPkgDoc {
				t.Errorf("%s: package %s has no package comment", path, pkg.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 4 {
		t.Fatalf("only %d packages checked", checked)
	}
}

// undocumented returns the exported names declared in f without a doc
// comment.
func undocumented(f *ast.File) []*ast.Ident {
	var out []*ast.Ident
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() || d.Doc != nil {
				continue
			}
			if d.Recv != nil && !exportedReceiver(d.Recv) {
				continue
			}
			if d.Recv != nil && isStandardMethod(d.Name.Name) {
				continue // Error, String, Unwrap...: documented by their interface
			}
			out = append(out, d.Name)
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() && s.Doc == nil && d.Doc == nil {
						out = append(out, s.Name)
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() && s.Doc == nil && s.Comment == nil && d.Doc == nil {
							out = append(out, n)
						}
					}
				}
			}
		}
	}
	return out
}

func exportedReceiver(recv *ast.FieldList) bool {
	typ := recv.List[0].Type
	if star, ok := typ.(*ast.StarExpr); ok {
		typ = star.X
	}
	if idx, ok := typ.(*ast.IndexExpr); ok {
		typ = idx.X
	}
	id, ok := typ.(*ast.Ident)
	return ok && id.IsExported()
}

func isStandardMethod(name string) bool {
	switch name {
	case "Error", "String", "Unwrap", "Is", "As", "Format", "GoString", "Timeout", "Temporary":
		return true
	}
	return false
}

func TestUndocumentedFinds(t *testing.T) {
	src := `package p
// Documented is fine.
func Documented() {}
func Bare() {}
type T struct{}
// M is documented.
func (T) M() {}
func (T) N() {}
func (T) String() string { return "" }
type unexported struct{}
func (unexported) Exported() {}
const (
	// A has a doc.
	A = 1
	B = 2 // B has a line comment.
	C = 3
)
// Group docs cover every name.
var (
	D = 1
	E = 2
)
`
	f, err := parser.ParseFile(token.NewFileSet(), "p.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, id := range undocumented(f) {
		got = append(got, id.Name)
	}
	if want := "Bare T N C"; strings.Join(got, " ") != want {
		t.Errorf("undocumented = %q, want %q", got, want)
	}
}
