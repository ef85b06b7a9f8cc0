package layering

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// goList runs go list over the whole module (with an optional overlay file)
// and returns the module path and its package graph.
func goList(t *testing.T, overlay string) (string, []Package) {
	t.Helper()
	root := moduleRoot(t)
	mod := strings.TrimSpace(run(t, root, "go", "list", "-m"))
	args := []string{"list", "-e", "-f", "{{.ImportPath}}\t{{join .Imports \" \"}}\t{{join .Deps \" \"}}"}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	args = append(args, "./...")
	out := run(t, root, "go", args...)
	var pkgs []Package
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<16), 1<<22)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 {
			t.Fatalf("unexpected go list line %q", sc.Text())
		}
		pkgs = append(pkgs, Package{ImportPath: f[0], Imports: strings.Fields(f[1]), Deps: strings.Fields(f[2])})
	}
	return mod, pkgs
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	return strings.TrimSpace(run(t, ".", "go", "list", "-m", "-f", "{{.Dir}}"))
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// TestLayering is the real check: the module as it is must obey the table.
func TestLayering(t *testing.T) {
	mod, pkgs := goList(t, "")
	if len(pkgs) == 0 {
		t.Fatal("go list returned no packages")
	}
	for _, v := range Check(mod, pkgs) {
		t.Error(v)
	}
}

// TestLayeringBitesOnRealViolations injects files into the real tree through
// go list -overlay (nothing on disk changes) and requires Check to report
// each violation.
func TestLayeringBitesOnRealViolations(t *testing.T) {
	root := moduleRoot(t)
	mod := strings.TrimSpace(run(t, root, "go", "list", "-m"))
	cases := []struct {
		name  string
		files map[string]string // path relative to the module root -> content
		want  string            // substring of the expected violation
	}{
		{
			name: "same rank",
			files: map[string]string{
				"framing/zz_violation.go": "package framing\nimport _ \"" + mod + "/hpackz\"\n",
				"hpackz/zz_exists.go":     "package hpackz\n",
			},
			want: "imports must go to a strictly lower rank",
		},
		{
			name: "higher rank",
			files: map[string]string{
				"flowctl/zz_violation.go": "package flowctl\nimport _ \"" + mod + "/proxy\"\n",
				"proxy/zz_exists.go":      "package proxy\n",
			},
			want: "imports must go to a strictly lower rank",
		},
		{
			name: "net/http below rank 4",
			files: map[string]string{
				"hpackz/zz_violation.go": "package hpackz\nimport _ \"net/http\"\n",
			},
			want: "net/http is not allowed below rank 4",
		},
		{
			name: "net/http transitively through internal",
			files: map[string]string{
				"internal/zzhttp/x.go":    "package zzhttp\nimport _ \"net/http/httptrace\"\n",
				"flowctl/zz_violation.go": "package flowctl\nimport _ \"" + mod + "/internal/zzhttp\"\n",
			},
			want: "depends on net/http",
		},
		{
			name:  "top-level package without rank",
			files: map[string]string{"zzunranked/x.go": "package zzunranked\n"},
			want:  "has no rank",
		},
		{
			name:  "code in the module root",
			files: map[string]string{"zz_root.go": "package spdy\n"},
			want:  "module root may not hold Go code",
		},
		{
			name: "importing cmd",
			files: map[string]string{
				"cmd/zztool/main.go":      "package main\n",
				"framing/zz_violation.go": "package framing\nimport _ \"" + mod + "/cmd/zztool\"\n",
			},
			want: "nothing may import cmd/",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			replace := map[string]string{}
			for rel, content := range tc.files {
				src := filepath.Join(dir, strings.ReplaceAll(rel, "/", "_"))
				if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				replace[filepath.Join(root, filepath.FromSlash(rel))] = src
			}
			js, err := json.Marshal(map[string]any{"Replace": replace})
			if err != nil {
				t.Fatal(err)
			}
			overlay := filepath.Join(dir, "overlay.json")
			if err := os.WriteFile(overlay, js, 0o644); err != nil {
				t.Fatal(err)
			}
			_, pkgs := goList(t, overlay)
			got := Check(mod, pkgs)
			for _, v := range got {
				if strings.Contains(v, tc.want) {
					return
				}
			}
			t.Fatalf("no violation containing %q; got %q", tc.want, got)
		})
	}
}

// TestCheckRules covers each rule on a synthetic graph, including the
// allowed cases, so a rule cannot silently stop applying.
func TestCheckRules(t *testing.T) {
	const m = "example.com/m"
	p := func(path string, imports ...string) Package {
		return Package{ImportPath: m + "/" + path, Imports: prefixAll(m, imports), Deps: prefixAll(m, imports)}
	}
	cases := []struct {
		name string
		pkg  Package
		bad  bool
	}{
		{"lower rank ok", p("session", "framing", "stream"), false},
		{"own tree ok", p("hpackz", "hpackz/internal/inflate"), false},
		{"internal leaf ok", p("framing", "internal/buf"), false},
		{"stdlib ok", Package{ImportPath: m + "/framing", Imports: []string{"io"}, Deps: []string{"io", "errors"}}, false},
		{"cmd may import anything public", p("cmd/spdyd", "proxy", "npn", "internal/x"), false},
		{"same rank", p("flowctl", "framing"), true},
		{"higher rank", p("stream", "session"), true},
		{"internal imports ranked", p("internal/x", "framing"), true},
		{"import examples", p("proxy", "examples/dump"), true},
		{"unranked top", p("widgets"), true},
		{"net/http in rank 3 deps", Package{ImportPath: m + "/session", Deps: []string{"net/http"}}, true},
		{"net/http ok in rank 4", Package{ImportPath: m + "/httpadapter", Imports: []string{"net/http"}, Deps: []string{"net/http"}}, false},
		{"compress in framing", Package{ImportPath: m + "/framing", Deps: []string{"compress/flate"}}, true},
		{"net in flowctl", Package{ImportPath: m + "/flowctl", Deps: []string{"net"}}, true},
		{"root code", Package{ImportPath: m}, true},
		{"tool may import library packages", p("internal/attack", "framing", "proxy", "internal/selfsigned"), false},
		{"tool command in its tree", p("internal/attack/cmd/spdyattack", "internal/attack", "npn"), false},
		{"tool imports cmd", p("internal/attack", "cmd/spdyd"), true},
		{"library imports tool", p("proxy", "internal/attack"), true},
		{"internal leaf imports tool", p("internal/pool", "internal/attack"), true},
		{"cmd imports tool", p("cmd/spdyd", "internal/attack"), true},
		{"outside module ignored", Package{ImportPath: "other.org/x", Imports: []string{m + "/proxy"}}, false},
	}
	for _, tc := range cases {
		got := Check(m, []Package{tc.pkg})
		if (len(got) > 0) != tc.bad {
			t.Errorf("%s: Check = %q, want violation: %v", tc.name, got, tc.bad)
		}
	}
}

func prefixAll(m string, paths []string) []string {
	out := make([]string, len(paths))
	for i, s := range paths {
		out[i] = m + "/" + s
	}
	return out
}
