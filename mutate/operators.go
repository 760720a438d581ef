package mutate

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
)

// FileMutants lists the mutants of one file (file is its module-relative
// name, src its content) in offset order. Only function bodies are mutated;
// a generated file has none.
func FileMutants(file string, src []byte) ([]Mutant, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", file, err)
	}
	if ast.IsGenerated(f) {
		return nil, nil
	}
	w := &walker{file: file, src: src, fset: fset, seen: map[string]int{}}
	for _, decl := range f.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok || fd.Body == nil || quietFunc(fd) {
			continue
		}
		w.fn = funcName(fd)
		ast.Inspect(fd.Body, w.visit)
	}
	return w.out, nil
}

// quietFunc: methods that only describe a value (String, Error, Format,
// GoString) feed logs and messages, not behaviour.
func quietFunc(fd *ast.FuncDecl) bool {
	if fd.Recv == nil {
		return false
	}
	switch fd.Name.Name {
	case "String", "Error", "GoString", "Format":
		return true
	}
	return false
}

func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	star := ""
	if s, ok := t.(*ast.StarExpr); ok {
		star, t = "*", s.X
	}
	if ix, ok := t.(*ast.IndexExpr); ok {
		t = ix.X
	}
	if ix, ok := t.(*ast.IndexListExpr); ok {
		t = ix.X
	}
	name := "?"
	if id, ok := t.(*ast.Ident); ok {
		name = id.Name
	}
	if star != "" {
		return fmt.Sprintf("(*%s).%s", name, fd.Name.Name)
	}
	return name + "." + fd.Name.Name
}

// quietPackages are packages whose calls only format messages or log.
var quietPackages = map[string]map[string]bool{
	"fmt":    nil, // every function
	"slog":   nil,
	"log":    nil,
	"errors": {"New": true},
}

// quietMethods are logger methods (and error's Error).
var quietMethods = map[string]bool{
	"Debug": true, "Info": true, "Warn": true, "Error": true,
	"DebugContext": true, "InfoContext": true, "WarnContext": true, "ErrorContext": true,
	"Log": true, "LogAttrs": true, "Logf": true, "Printf": true, "Errorf": true,
}

// quietCall is a call that only logs, builds a message or asserts (panic):
// nothing inside it is mutated and it is never removed.
func quietCall(call *ast.CallExpr) bool {
	switch fun := call.Fun.(type) {
	case *ast.Ident:
		return fun.Name == "panic" || fun.Name == "print" || fun.Name == "println"
	case *ast.SelectorExpr:
		if pkg, ok := fun.X.(*ast.Ident); ok {
			if names, ok := quietPackages[pkg.Name]; ok && (names == nil || names[fun.Sel.Name]) {
				return true
			}
		}
		return quietMethods[fun.Sel.Name]
	}
	return false
}

// unswappable builtins: swapping min's or max's arguments changes nothing,
// and the others' arguments have different roles and types.
var unswappable = map[string]bool{
	"min": true, "max": true, "append": true, "copy": true, "make": true, "new": true,
	"len": true, "cap": true, "delete": true, "clear": true, "complex": true,
}

// observability names a statement that only feeds metrics.
func observability(text string) bool {
	return strings.Contains(text, "metrics") || strings.Contains(text, "Metrics")
}

type walker struct {
	file string
	src  []byte
	fset *token.FileSet
	fn   string
	seen map[string]int
	out  []Mutant
}

func (w *walker) text(n ast.Node) string {
	return string(w.src[w.fset.Position(n.Pos()).Offset:w.fset.Position(n.End()).Offset])
}

func (w *walker) offset(p token.Pos) int { return w.fset.Position(p).Offset }

// add records a mutant that replaces [from, to) with repl. shown is the
// node whose text the mutant displays, before and after.
func (w *walker) add(op string, shown ast.Node, from, to token.Pos, repl string) {
	start, end := w.offset(from), w.offset(to)
	showStart, showEnd := w.offset(shown.Pos()), w.offset(shown.End())
	original := string(w.src[showStart:showEnd])
	mutated := original[:start-showStart] + repl + original[end-showStart:]
	original, mutated = oneLine(original), oneLine(mutated)
	key := strings.Join([]string{w.fn, op, original, mutated}, "\x00")
	occurrence := w.seen[key]
	w.seen[key]++
	pos := w.fset.Position(from)
	m := Mutant{
		ID: mutantID(w.file, w.fn, op, original, mutated, occurrence), File: w.file, Func: w.fn,
		Line: pos.Line, Column: pos.Column, Operator: op, Original: original, Mutated: mutated,
		Offset: start, End: end, Replacement: repl,
	}
	mutatedSrc, _ := m.Apply(w.src)
	m.Diff = UnifiedDiff(w.file, w.src, mutatedSrc)
	w.out = append(w.out, m)
}

// oneLine shortens text to its first line and at most 100 bytes.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i]) + " …"
	}
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return s
}

func (w *walker) visit(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.CallExpr:
		if quietCall(n) {
			return false
		}
		w.swapArgs(n)
	case *ast.BlockStmt:
		w.removals(n.List)
	case *ast.CaseClause:
		w.removals(n.Body)
	case *ast.CommClause:
		w.removals(n.Body)
	case *ast.ExprStmt, *ast.AssignStmt, *ast.IncDecStmt:
		if observability(w.text(n)) {
			return false
		}
	case *ast.IfStmt:
		w.negate(n.Cond)
	case *ast.ForStmt:
		if n.Cond != nil {
			w.negate(n.Cond)
		}
	case *ast.BinaryExpr:
		w.binary(n)
	case *ast.Ident:
		switch n.Name {
		case "true":
			w.add(OpBool, n, n.Pos(), n.End(), "false")
		case "false":
			w.add(OpBool, n, n.Pos(), n.End(), "true")
		}
	}
	return true
}

func (w *walker) negate(cond ast.Expr) {
	w.add(OpNegateCondition, cond, cond.Pos(), cond.End(), "!("+w.text(cond)+")")
}

// boundary, equality, logical and arithmetic swaps, by operator.
var swaps = map[token.Token]struct {
	op   string
	with string
}{
	token.LSS:  {OpBoundary, "<="},
	token.LEQ:  {OpBoundary, "<"},
	token.GTR:  {OpBoundary, ">="},
	token.GEQ:  {OpBoundary, ">"},
	token.EQL:  {OpEquality, "!="},
	token.NEQ:  {OpEquality, "=="},
	token.LAND: {OpLogical, "||"},
	token.LOR:  {OpLogical, "&&"},
	token.ADD:  {OpArithmetic, "-"},
	token.SUB:  {OpArithmetic, "+"},
}

func (w *walker) binary(b *ast.BinaryExpr) {
	if s, ok := swaps[b.Op]; ok && !stringLiteral(b.X) && !stringLiteral(b.Y) {
		w.add(s.op, b, b.OpPos, b.OpPos+token.Pos(len(b.Op.String())), s.with)
	}
	if b.Op != token.ADD && b.Op != token.SUB {
		return
	}
	if isOne(b.Y) {
		w.add(OpOffByOne, b, b.X.End(), b.End(), "")
	} else if b.Op == token.ADD && isOne(b.X) {
		w.add(OpOffByOne, b, b.Pos(), b.Y.Pos(), "")
	}
}

func isOne(e ast.Expr) bool {
	lit, ok := e.(*ast.BasicLit)
	return ok && lit.Kind == token.INT && lit.Value == "1"
}

func stringLiteral(e ast.Expr) bool {
	lit, ok := e.(*ast.BasicLit)
	return ok && lit.Kind == token.STRING
}

// removals offers each call statement and assignment of a statement list
// for removal. Short variable declarations (:=) stay: removing one never
// builds.
func (w *walker) removals(list []ast.Stmt) {
	for _, s := range list {
		if observability(w.text(s)) {
			continue
		}
		switch s := s.(type) {
		case *ast.ExprStmt:
			if call, ok := s.X.(*ast.CallExpr); ok && !quietCall(call) {
				w.add(OpRemoveCall, s, s.Pos(), s.End(), "")
			}
		case *ast.AssignStmt:
			if s.Tok != token.DEFINE && !blankOnly(s.Lhs) {
				w.add(OpRemoveAssign, s, s.Pos(), s.End(), "")
			}
		case *ast.IncDecStmt:
			w.add(OpRemoveAssign, s, s.Pos(), s.End(), "")
		}
	}
}

func blankOnly(lhs []ast.Expr) bool {
	for _, e := range lhs {
		if id, ok := e.(*ast.Ident); !ok || id.Name != "_" {
			return false
		}
	}
	return true
}

// swapArgs swaps each pair of neighbouring arguments whose texts differ.
func (w *walker) swapArgs(call *ast.CallExpr) {
	if call.Ellipsis.IsValid() || len(call.Args) < 2 {
		return
	}
	if id, ok := call.Fun.(*ast.Ident); ok && unswappable[id.Name] {
		return
	}
	for i := 0; i+1 < len(call.Args); i++ {
		a, b := call.Args[i], call.Args[i+1]
		ta, tb := w.text(a), w.text(b)
		if ta == tb {
			continue
		}
		if _, ok := a.(*ast.FuncLit); ok {
			continue
		}
		if _, ok := b.(*ast.FuncLit); ok {
			continue
		}
		between := string(w.src[w.offset(a.End()):w.offset(b.Pos())])
		w.add(OpSwapArgs, call, a.Pos(), b.End(), tb+between+ta)
	}
}
