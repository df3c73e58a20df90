package relman

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestEverySentinelClassified parses the package's own source and fails
// for every exported sentinel (var Err… = errors.New("…")) that
// sentinelClasses does not place, so a new sentinel cannot ship without a
// class.
func TestEverySentinelClassified(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	placed := map[string]ErrorClass{}
	for _, s := range sentinelClasses {
		placed[s.err.Error()] = s.class
	}
	fset := token.NewFileSet()
	found := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, id := range vs.Names {
				if !id.IsExported() || !strings.HasPrefix(id.Name, "Err") || i >= len(vs.Values) {
					continue
				}
				call, ok := vs.Values[i].(*ast.CallExpr)
				if !ok {
					continue
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "New" || len(call.Args) != 1 {
					continue
				}
				if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "errors" {
					continue
				}
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok {
					t.Errorf("%s: %s: errors.New without a literal message", fset.Position(id.Pos()), id.Name)
					continue
				}
				msg, _ := strconv.Unquote(lit.Value)
				found++
				if c, ok := placed[msg]; !ok || c == ClassNone {
					t.Errorf("%s: %s has no ErrorClass: add it to sentinelClasses", fset.Position(id.Pos()), id.Name)
				}
			}
			return true
		})
	}
	if found < 30 {
		t.Fatalf("found only %d sentinels: the parser missed some", found)
	}
}
