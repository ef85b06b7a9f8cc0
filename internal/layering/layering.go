package layering

import (
	"fmt"
	"sort"
	"strings"
)

// Rank is the layer of each top-level library package. A package may import
// only module packages of a strictly lower rank (or packages of its own
// top-level tree, such as hpackz importing hpackz/internal/...).
var Rank = map[string]int{
	"framing":     1,
	"hpackz":      1,
	"flowctl":     1,
	"stream":      2,
	"session":     3,
	"httpadapter": 4,
	"npn":         5,
	"proxy":       6,
}

// Unranked top-level trees. Nothing outside a tree may import cmd or
// examples; internal packages are leaves that import no ranked package.
const (
	topInternal = "internal"
	topCmd      = "cmd"
	topExamples = "examples"
)

// Tools are trees inside internal that sit above every library package,
// as cmd does: test harnesses such as the attack suite and the soak,
// which drive the whole stack. A tool may import any module package except cmd and
// examples; nothing outside its own tree may import it, so a library
// package can never depend on one.
var Tools = []string{
	"internal/attack",
	"internal/soak",
}

// maxNoHTTPRank is the highest rank whose transitive imports may not
// include net/http.
const maxNoHTTPRank = 3

// BannedStd lists standard-library import path prefixes that a top-level
// tree may not depend on, even transitively, beyond the net/http rule.
var BannedStd = map[string][]string{
	"framing": {"compress/"}, // header blocks stay opaque bytes
	"flowctl": {"compress/", "net"},
}

// Package is one node of the import graph as reported by go list.
type Package struct {
	ImportPath string
	Imports    []string // direct imports
	Deps       []string // transitive imports
}

// Check returns every layering violation in pkgs, a graph of the module
// whose path is module. The result is sorted and empty when the graph obeys
// the rules.
func Check(module string, pkgs []Package) []string {
	var bad []string
	report := func(format string, args ...any) {
		bad = append(bad, fmt.Sprintf(format, args...))
	}
	for _, p := range pkgs {
		top, ok := topOf(module, p.ImportPath)
		if !ok {
			continue // not a module package
		}
		if top == "" {
			report("%s: the module root may not hold Go code", p.ImportPath)
			continue
		}
		if tool, ok := toolOf(module, p.ImportPath); ok {
			for _, imp := range p.Imports {
				itop, inModule := topOf(module, imp)
				if inModule && (itop == topCmd || itop == topExamples) {
					report("%s imports %s: nothing may import %s/", p.ImportPath, imp, itop)
				}
				if itool, ok := toolOf(module, imp); ok && itool != tool {
					report("%s imports %s: nothing outside %s/ may import it", p.ImportPath, imp, itool)
				}
			}
			continue
		}
		rank, ranked := Rank[top]
		if !ranked && top != topInternal && top != topCmd && top != topExamples {
			report("%s: top-level package %q has no rank (add it to layering.Rank and docs/architecture.md)", p.ImportPath, top)
			continue
		}
		for _, imp := range p.Imports {
			if itool, ok := toolOf(module, imp); ok {
				report("%s imports %s: nothing outside %s/ may import it", p.ImportPath, imp, itool)
				continue
			}
			itop, inModule := topOf(module, imp)
			if !inModule || itop == top {
				continue
			}
			irank, iranked := Rank[itop]
			switch {
			case itop == topCmd || itop == topExamples:
				report("%s imports %s: nothing may import %s/", p.ImportPath, imp, itop)
			case top == topInternal && iranked:
				report("%s imports %s: internal packages are leaves and may not import library packages", p.ImportPath, imp)
			case ranked && iranked && irank >= rank:
				report("%s (rank %d) imports %s (rank %d): imports must go to a strictly lower rank", p.ImportPath, rank, imp, irank)
			case ranked && !iranked && itop != topInternal:
				report("%s imports %s, which has no rank", p.ImportPath, imp)
			}
		}
		if ranked && rank <= maxNoHTTPRank {
			for _, d := range p.Deps {
				if d == "net/http" || strings.HasPrefix(d, "net/http/") {
					report("%s (rank %d) depends on %s: net/http is not allowed below rank %d", p.ImportPath, rank, d, maxNoHTTPRank+1)
				}
			}
		}
		for _, prefix := range BannedStd[top] {
			for _, d := range p.Deps {
				if d == strings.TrimSuffix(prefix, "/") || strings.HasPrefix(d, prefix) ||
					(!strings.HasSuffix(prefix, "/") && strings.HasPrefix(d, prefix+"/")) {
					report("%s depends on %s, which %s/ may not use", p.ImportPath, d, top)
				}
			}
		}
	}
	sort.Strings(bad)
	return bad
}

// toolOf returns the tool tree (an element of Tools) that path lies in,
// and whether it lies in one.
func toolOf(module, path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, module+"/")
	if !ok {
		return "", false
	}
	for _, t := range Tools {
		if rest == t || strings.HasPrefix(rest, t+"/") {
			return t, true
		}
	}
	return "", false
}

// topOf returns the first path element of path below module ("" for the
// module root) and whether path is inside the module at all.
func topOf(module, path string) (string, bool) {
	if path == module {
		return "", true
	}
	rest, ok := strings.CutPrefix(path, module+"/")
	if !ok {
		return "", false
	}
	top, _, _ := strings.Cut(rest, "/")
	return top, true
}
