package caddyauth

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestOptionTableCoversParsers reads this package's parsers: every function that reads a block
// with newOptionBlock(d, "<block>") must have in optionTable[<block>] each option its switch
// takes, with an example, so that a new option cannot lack what argErr and unknown say about
// it; and the table must name no option the parser does not take.
func TestOptionTableCoversParsers(t *testing.T) {
	// Options a parser names only to refuse them.
	refused := map[string][]string{"jwt_forward_auth": {"cors", "from_query"}}
	// Options a block takes through another block's parser.
	inherits := map[string]string{"jwt_forward_auth": "jwt_auth"}

	cases := parserOptions(t)
	if len(cases) < len(optionTable) {
		t.Errorf("found parsers for %d blocks, want one for each of the %d blocks of optionTable", len(cases), len(optionTable))
	}
	for block, names := range cases {
		table, ok := optionTable[block]
		if !ok {
			t.Errorf("newOptionBlock(d, %q): optionTable has no block %s; add its options to caddyfile_usage.go", block, block)
			continue
		}
		for _, name := range names {
			if slices.Contains(refused[block], name) {
				continue
			}
			opt, ok := lookupOption(block, name)
			switch {
			case !ok:
				t.Errorf("%s option %s is not in optionTable; add it to caddyfile_usage.go with what it takes and an example", block, name)
			case opt.syntax != "" && opt.example == "":
				t.Errorf("%s option %s has no example in optionTable", block, name)
			}
		}
		taken := append(slices.Clone(names), cases[inherits[block]]...)
		for _, opt := range table {
			if !slices.Contains(taken, opt.name) {
				t.Errorf("optionTable lists %s option %s, which its parser does not take", block, opt.name)
			}
		}
	}
}

// parserOptions returns, by block, the option names that the package's parsers compare the
// current token with: the cases of switches on name or d.Val(), and d.Val() == or != a string,
// in every function that calls newOptionBlock(d, "<block>").
func parserOptions(t *testing.T) map[string][]string {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	out := make(map[string][]string)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			var blocks, names []string
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "newOptionBlock" && len(n.Args) == 2 {
						lit, ok := stringLit(n.Args[1])
						if !ok {
							// JWTAuth.unmarshalBlock reads jwt_auth's options for jwt_auth and
							// for jwt_forward_auth: its switch is jwt_auth's.
							if lit, ok = variableBlocks[fn.Name.Name]; !ok {
								t.Errorf("%s: newOptionBlock with a block that is no string; name the function in variableBlocks", fn.Name.Name)
							}
						}
						blocks = append(blocks, lit)
					}
				case *ast.SwitchStmt:
					if isOptionName(n.Tag) {
						for _, stmt := range n.Body.List {
							for _, expr := range stmt.(*ast.CaseClause).List {
								if lit, ok := stringLit(expr); ok {
									names = append(names, lit)
								}
							}
						}
					}
				case *ast.BinaryExpr:
					if (n.Op == token.EQL || n.Op == token.NEQ) && isOptionName(n.X) {
						if lit, ok := stringLit(n.Y); ok {
							names = append(names, lit)
						}
					}
				}
				return true
			})
			// A function reading blocks of its own and of sub-blocks (none does today) would
			// mix their names; the first block is the function's own.
			if len(blocks) > 0 {
				out[blocks[0]] = append(out[blocks[0]], names...)
			}
		}
	}
	return out
}

// variableBlocks are the blocks of the parsers that name theirs with a variable.
var variableBlocks = map[string]string{"unmarshalBlock": "jwt_auth"}

// isOptionName reports whether e is the current option's name: name or d.Val().
func isOptionName(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name == "name"
	case *ast.CallExpr:
		sel, ok := e.Fun.(*ast.SelectorExpr)
		return ok && sel.Sel.Name == "Val" && len(e.Args) == 0
	}
	return false
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// TestNearest: the suggestion is the closest option at most one edit away (two for names longer
// than four characters), swaps of neighbours counting as one edit, case ignored; nothing when no
// option is that close.
func TestNearest(t *testing.T) {
	names := optionNames("jwt_issuer")
	for _, tt := range []struct{ in, want string }{
		{"acess_ttl", "access_ttl"},
		{"access_tll", "access_ttl"}, // a swap
		{"ACCESS_TTL", "access_ttl"},
		{"users", "user"},
		{"usersfile", "users_file"},
		{"refresh", ""},
		{"nam", "name"},
		{"xyz", ""},
	} {
		got, ok := nearest(tt.in, names)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("nearest(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
	if d := editDistance("ca", "abc"); d != 3 {
		t.Errorf("editDistance(ca, abc) = %d, want 3 (optimal string alignment)", d)
	}
}
