package gatehouse

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoYaegiMiscompiles fails on the Go that Yaegi v0.16 (Traefik v3.7's interpreter) gets
// wrong without an error, in the plugin and everything it vendors:
//   - a switch without a tag whose case lists several conditions (`switch { case a, b: }`) runs
//     as if only the first were written, so `case x < 0, x > 9:` would let 10 through. Write
//     such a case as `case a || b:`.
//   - a constant of a type the interpreted code defines, given that type and a value computed by
//     an expression (`const A Kind = iota + 1`, `const S Name = "a" + "b"`), compares unequal to
//     a variable holding the same value. Give such constants literals or a bare iota (a blank
//     `_ Kind = iota` first when the values start at 1), or no explicit type.
//
// (What Yaegi cannot run at all, it refuses at import, which the yaegitest module checks; what
// it runs differently, the yaegitest cases find by running each case interpreted and compiled.)
func TestNoYaegiMiscompiles(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "yaegitest" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if gd, ok := n.(*ast.GenDecl); ok && gd.Tok == token.CONST {
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					if !definedType(vs.Type) {
						continue
					}
					for _, v := range vs.Values {
						if !plainConst(v) {
							t.Errorf("%s: a constant of type %s given by an expression; Yaegi compares it wrongly: use a literal or a bare iota",
								fset.Position(v.Pos()), types(vs.Type))
						}
					}
				}
			}
			sw, ok := n.(*ast.SwitchStmt)
			if !ok || sw.Tag != nil {
				return true
			}
			for _, s := range sw.Body.List {
				if cc := s.(*ast.CaseClause); len(cc.List) > 1 {
					t.Errorf("%s: a tagless switch case with %d conditions; Yaegi evaluates only the first: join them with ||",
						fset.Position(cc.Pos()), len(cc.List))
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// definedType reports whether a declaration's type is one the interpreted code defines (not a
// predeclared type, not time.Duration or another standard library type the interpreter compiles).
func definedType(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		switch e.Name {
		case "bool", "string", "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16",
			"uint32", "uint64", "uintptr", "byte", "rune", "float32", "float64", "complex64", "complex128":
			return false
		}
		return true
	case *ast.SelectorExpr:
		x, _ := e.X.(*ast.Ident)
		return x == nil || !stdlibPackages[x.Name]
	}
	return false
}

// stdlibPackages are the standard library packages whose types the plugin's constants may have.
var stdlibPackages = map[string]bool{"time": true, "http": true, "os": true, "crypto": true}

// plainConst reports whether v is a literal or a bare iota.
func plainConst(v ast.Expr) bool {
	switch v := v.(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		return v.Name == "iota"
	}
	return false
}

func types(e ast.Expr) string {
	if s, ok := e.(*ast.SelectorExpr); ok {
		return types(s.X) + "." + s.Sel.Name
	}
	if i, ok := e.(*ast.Ident); ok {
		return i.Name
	}
	return "?"
}
