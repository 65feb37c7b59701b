package api

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tagpay/tagpay/store"
)

// This file finds, by reading the source, which error codes each route can answer with:
// it type-checks the packages of the ledger and the server, follows every call (and
// every reference to a function) from a route's handler, and collects the codes of the
// errors made on the way, with their HTTP status. openapi_test.go holds the spec to it.

const modulePath = "github.com/tagpay/tagpay"

// The packages of this module that the server depends on are read from source; every
// other import comes from export data.

// codeStatus is one error a route can give.
type codeStatus struct {
	code   string
	status int
}

type codeAnalysis struct {
	fset  *token.FileSet
	info  *types.Info
	decls map[*types.Func]*ast.FuncDecl
	vars  map[*types.Var][]ast.Expr // what each variable is set to, locals included
	pkgs  map[string]*types.Package
	files map[string][]*ast.File
	memo  map[string]map[codeStatus]bool
	busy  map[string]bool
}

var (
	analysisOnce sync.Once
	analysis     *codeAnalysis
	analysisErr  error
)

func loadCodeAnalysis(t *testing.T) *codeAnalysis {
	t.Helper()
	analysisOnce.Do(func() { analysis, analysisErr = newCodeAnalysis() })
	if analysisErr != nil {
		t.Fatal(analysisErr)
	}
	return analysis
}

func newCodeAnalysis() (*codeAnalysis, error) {
	// Export data of every dependency, as the go command built it; the list comes in
	// dependency order, so each of our packages is checked after those it imports.
	cmd := exec.Command("go", "list", "-deps", "-export", "-f", "{{.ImportPath}}\t{{.Export}}\t{{.Dir}}\t{{join .GoFiles \",\"}}", ".")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, err
	}
	exports := map[string]string{}
	type ours struct {
		path, dir string
		files     []string
	}
	var own []ours
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 4 {
			continue
		}
		if f[1] != "" {
			exports[f[0]] = f[1]
		}
		if f[0] == modulePath || strings.HasPrefix(f[0], modulePath+"/") {
			own = append(own, ours{f[0], f[2], strings.Split(f[3], ",")})
		}
	}
	a := &codeAnalysis{
		fset: token.NewFileSet(),
		info: &types.Info{
			Types:      map[ast.Expr]types.TypeAndValue{},
			Defs:       map[*ast.Ident]types.Object{},
			Uses:       map[*ast.Ident]types.Object{},
			Selections: map[*ast.SelectorExpr]*types.Selection{},
		},
		decls: map[*types.Func]*ast.FuncDecl{},
		vars:  map[*types.Var][]ast.Expr{},
		pkgs:  map[string]*types.Package{},
		files: map[string][]*ast.File{},
		memo:  map[string]map[codeStatus]bool{},
		busy:  map[string]bool{},
	}
	gc := importer.ForCompiler(a.fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok {
			return nil, os.ErrNotExist
		}
		return os.Open(f)
	}).(types.ImporterFrom)
	imp := importerFunc(func(path string) (*types.Package, error) {
		if p, ok := a.pkgs[path]; ok {
			return p, nil
		}
		return gc.ImportFrom(path, "", 0)
	})
	for _, o := range own {
		var files []*ast.File
		for _, name := range o.files {
			f, err := parser.ParseFile(a.fset, filepath.Join(o.dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				return nil, err
			}
			files = append(files, f)
		}
		conf := types.Config{Importer: imp, FakeImportC: true}
		pkg, err := conf.Check(o.path, a.fset, files, a.info)
		if err != nil {
			return nil, err
		}
		a.pkgs[pkg.Path()] = pkg
		a.files[strings.TrimPrefix(o.path, modulePath+"/")] = files
		for _, f := range files {
			for _, d := range f.Decls {
				switch d := d.(type) {
				case *ast.FuncDecl:
					if fn, ok := a.info.Defs[d.Name].(*types.Func); ok {
						a.decls[fn] = d
					}
				case *ast.GenDecl:
					for _, spec := range d.Specs {
						vs, ok := spec.(*ast.ValueSpec)
						if !ok || len(vs.Values) != len(vs.Names) {
							continue
						}
						for i, n := range vs.Names {
							if v, ok := a.info.Defs[n].(*types.Var); ok {
								a.vars[v] = append(a.vars[v], vs.Values[i])
							}
						}
					}
				}
			}
			// A local variable holding a function (tagState := func…) is followed
			// where it is used, like a package-level one.
			ast.Inspect(f, func(n ast.Node) bool {
				as, ok := n.(*ast.AssignStmt)
				if !ok || len(as.Lhs) != len(as.Rhs) {
					return true
				}
				for i, l := range as.Lhs {
					id, ok := l.(*ast.Ident)
					if !ok {
						continue
					}
					obj := a.info.Defs[id]
					if obj == nil {
						obj = a.info.Uses[id]
					}
					if v, ok := obj.(*types.Var); ok && !v.IsField() && v.Parent() != v.Pkg().Scope() {
						if _, isFunc := as.Rhs[i].(*ast.FuncLit); isFunc {
							a.vars[v] = append(a.vars[v], as.Rhs[i])
						}
					}
				}
				return true
			})
		}
	}
	return a, nil
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

// constString is the string value of e when it is constant under bindings (the string
// parameters of the function being read, where its caller passed constants).
func (a *codeAnalysis) constString(e ast.Expr, bind map[*types.Var]string) (string, bool) {
	s := a.codeText(e, bind)
	return s, !strings.Contains(s, "*")
}

// codeText is constString with "*" for each part that is not constant: the code
// "token_already_"+string(to) reads "token_already_*" when to is not known.
func (a *codeAnalysis) codeText(e ast.Expr, bind map[*types.Var]string) string {
	if tv, ok := a.info.Types[e]; ok && tv.Value != nil && tv.Value.Kind() == constant.String {
		return constant.StringVal(tv.Value)
	}
	switch e := e.(type) {
	case *ast.ParenExpr:
		return a.codeText(e.X, bind)
	case *ast.Ident:
		if v, ok := a.info.Uses[e].(*types.Var); ok {
			if s, ok := bind[v]; ok {
				return s
			}
		}
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			return a.codeText(e.X, bind) + a.codeText(e.Y, bind)
		}
	case *ast.CallExpr: // a conversion: string(to)
		if tv, ok := a.info.Types[e.Fun]; ok && tv.IsType() && len(e.Args) == 1 {
			return a.codeText(e.Args[0], bind)
		}
	}
	return "*"
}

func (a *codeAnalysis) constInt(e ast.Expr) (int64, bool) {
	if tv, ok := a.info.Types[e]; ok && tv.Value != nil {
		if v, ok := constant.Int64Val(constant.ToInt(tv.Value)); ok {
			return v, true
		}
	}
	return 0, false
}

// calleeOf is the function a call or reference names, when it is one of ours.
func (a *codeAnalysis) funcOf(e ast.Expr) *types.Func {
	var obj types.Object
	switch e := e.(type) {
	case *ast.Ident:
		obj = a.info.Uses[e]
	case *ast.SelectorExpr:
		if sel, ok := a.info.Selections[e]; ok {
			obj = sel.Obj()
		} else {
			obj = a.info.Uses[e.Sel]
		}
	case *ast.IndexExpr: // an instantiated generic function
		return a.funcOf(e.X)
	case *ast.IndexListExpr:
		return a.funcOf(e.X)
	}
	fn, ok := obj.(*types.Func)
	if !ok {
		return nil
	}
	return fn.Origin()
}

// codesOf collects the codes reachable from node, a function body or any expression,
// with bind giving the constant values of the enclosing function's string parameters.
func (a *codeAnalysis) codesOf(node ast.Node, bind map[*types.Var]string, out map[codeStatus]bool) {
	ast.Inspect(node, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			a.call(n, bind, out)
			switch fun := n.Fun.(type) {
			case *ast.SelectorExpr:
				a.codesOf(fun.X, bind, out)
			default:
				if a.funcOf(fun) == nil { // a function value: a literal, a variable
					a.codesOf(fun, bind, out)
				}
			}
			for _, arg := range n.Args {
				a.codesOf(arg, bind, out)
			}
			return false
		case *ast.Ident:
			if v, ok := a.info.Uses[n].(*types.Var); ok {
				if inits, ok := a.vars[v]; ok {
					a.enter("var "+a.fset.Position(v.Pos()).String(), func(o map[codeStatus]bool) {
						for _, e := range inits {
							a.codesOf(e, nil, o)
						}
					}, out)
				}
			}
			if fn := a.funcOf(n); fn != nil {
				a.function(fn, nil, nil, out) // a reference: it may be called later
			}
		case *ast.SelectorExpr:
			if fn := a.funcOf(n); fn != nil {
				a.function(fn, nil, nil, out)
			}
			a.codesOf(n.X, bind, out)
			return false
		}
		return true
	})
}

// call records the error a call makes (store.Errorf, store.Wrap, newHTTPError) and
// follows any other call into our code with its constant string arguments.
func (a *codeAnalysis) call(c *ast.CallExpr, bind map[*types.Var]string, out map[codeStatus]bool) {
	fn := a.funcOf(c.Fun)
	if fn == nil || fn.Pkg() == nil {
		return
	}
	switch {
	case fn.Pkg().Path() == modulePath+"/store" && (fn.Name() == "Errorf" || fn.Name() == "Wrap") && len(c.Args) >= 2:
		if kind, ok := a.constInt(c.Args[0]); ok {
			out[codeStatus{a.codeText(c.Args[1], bind), statusOf(store.Kind(kind))}] = true
		}
		return
	case fn.Pkg().Path() == modulePath+"/api" && fn.Name() == "newHTTPError" && len(c.Args) >= 3:
		if status, ok := a.constInt(c.Args[0]); ok {
			out[codeStatus{a.codeText(c.Args[2], bind), int(status)}] = true
		}
		return
	}
	a.function(fn, c.Args, bind, out)
}

// implementations are the methods of our concrete types that a call of the interface
// method fn may reach.
func (a *codeAnalysis) implementations(fn *types.Func) []*types.Func {
	recv := fn.Type().(*types.Signature).Recv()
	if recv == nil {
		return nil
	}
	iface, ok := recv.Type().Underlying().(*types.Interface)
	if !ok {
		return nil
	}
	var out []*types.Func
	for _, pkg := range a.pkgs {
		for _, name := range pkg.Scope().Names() {
			tn, ok := pkg.Scope().Lookup(name).(*types.TypeName)
			if !ok || types.IsInterface(tn.Type()) || pkg.Path() == modulePath+"/api" && name == "Client" {
				continue // the remote backend answers nothing of the server's own
			}
			for _, t := range []types.Type{tn.Type(), types.NewPointer(tn.Type())} {
				if !types.Implements(t, iface) {
					continue
				}
				obj, _, _ := types.LookupFieldOrMethod(t, true, fn.Pkg(), fn.Name())
				if m, ok := obj.(*types.Func); ok {
					out = append(out, m.Origin())
				}
				break
			}
		}
	}
	return out
}

// function adds the codes of fn called with args (nil for a mere reference).
func (a *codeAnalysis) function(fn *types.Func, args []ast.Expr, bind map[*types.Var]string, out map[codeStatus]bool) {
	if impls := a.implementations(fn); impls != nil {
		a.enter("iface "+fn.FullName(), func(o map[codeStatus]bool) {
			for _, m := range impls {
				a.function(m, args, bind, o)
			}
		}, out)
		return
	}
	decl, ok := a.decls[fn]
	if !ok || decl.Body == nil {
		return
	}
	sig := fn.Type().(*types.Signature)
	inner := map[*types.Var]string{}
	key := fn.FullName()
	for i := 0; i < sig.Params().Len() && i < len(args); i++ {
		if b, ok := sig.Params().At(i).Type().Underlying().(*types.Basic); ok && b.Info()&types.IsString != 0 {
			s := a.codeText(args[i], bind)
			inner[sig.Params().At(i)] = s
			key += "|" + s
		}
	}
	a.enter(key, func(o map[codeStatus]bool) { a.codesOf(decl.Body, inner, o) }, out)
}

// enter computes the codes of key once; a cycle contributes what is known so far.
func (a *codeAnalysis) enter(key string, compute func(map[codeStatus]bool), out map[codeStatus]bool) {
	if m, ok := a.memo[key]; ok {
		for k := range m {
			out[k] = true
		}
		return
	}
	if a.busy[key] {
		return
	}
	a.busy[key] = true
	m := map[codeStatus]bool{}
	compute(m)
	delete(a.busy, key)
	a.memo[key] = m
	for k := range m {
		out[k] = true
	}
}

// methodBody finds the declaration of the api method recv.name.
func (a *codeAnalysis) methodBody(recv, name string) *ast.FuncDecl {
	for _, f := range a.files["api"] {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Name.Name != name || fd.Recv == nil {
				continue
			}
			rt := fd.Recv.List[0].Type
			if st, ok := rt.(*ast.StarExpr); ok {
				rt = st.X
			}
			if id, ok := rt.(*ast.Ident); ok && id.Name == recv {
				return fd
			}
		}
	}
	return nil
}

// tableRow is one row of the table Server.routeTable returns, as the source spells it.
type tableRow struct {
	pattern string   // "METHOD /path"
	public  bool     // served without a key, so without the middleware of handle
	serve   ast.Expr // the handler
}

// routeRows reads the rows of Server.routeTable: every route literal in its body.
func (a *codeAnalysis) routeRows(t *testing.T) []tableRow {
	t.Helper()
	table := a.methodBody("Server", "routeTable")
	if table == nil {
		t.Fatal("no Server.routeTable")
	}
	var rows []tableRow
	ast.Inspect(table.Body, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		named, ok := a.info.Types[lit].Type.(*types.Named)
		if !ok || named.Obj().Name() != "route" || named.Obj().Pkg().Path() != modulePath+"/api" {
			return true
		}
		st := named.Underlying().(*types.Struct)
		fields := map[string]ast.Expr{}
		for i, e := range lit.Elts {
			if kv, ok := e.(*ast.KeyValueExpr); ok {
				fields[kv.Key.(*ast.Ident).Name] = kv.Value
			} else {
				fields[st.Field(i).Name()] = e
			}
		}
		method, okM := a.constString(fields["method"], nil)
		path, okP := a.constString(fields["path"], nil)
		if fields["method"] == nil || fields["path"] == nil || !okM || !okP {
			t.Fatalf("route with a method or path that is not constant at %s", a.fset.Position(lit.Pos()))
		}
		if fields["serve"] == nil {
			t.Fatalf("route without a handler at %s", a.fset.Position(lit.Pos()))
		}
		acc, _ := a.constInt(fields["access"])
		rows = append(rows, tableRow{pattern: method + " " + path, public: access(acc) == public, serve: fields["serve"]})
		return false
	})
	return rows
}

// routeCodes maps each route pattern of Server.routeTable to the codes its handler can
// answer with (the middleware of handle not included).
func (a *codeAnalysis) routeCodes(t *testing.T) map[string]map[codeStatus]bool {
	t.Helper()
	out := map[string]map[codeStatus]bool{}
	for _, row := range a.routeRows(t) {
		codes := map[codeStatus]bool{}
		a.codesOf(row.serve, nil, codes)
		if out[row.pattern] == nil {
			out[row.pattern] = map[codeStatus]bool{}
		}
		for k := range codes {
			out[row.pattern][k] = true
		}
	}
	return out
}

// middlewareCodes are the codes of Server.handle's wrapper, which every authenticated
// route shares; those of the POST-only block come separately.
func (a *codeAnalysis) middlewareCodes(t *testing.T) (all, postOnly map[codeStatus]bool) {
	t.Helper()
	handle := a.methodBody("Server", "handle")
	if handle == nil {
		t.Fatal("no Server.handle")
	}
	all, postOnly = map[codeStatus]bool{}, map[codeStatus]bool{}
	var postBlocks []ast.Node
	ast.Inspect(handle.Body, func(n ast.Node) bool {
		if is, ok := n.(*ast.IfStmt); ok {
			if b, ok := is.Cond.(*ast.BinaryExpr); ok && b.Op == token.EQL {
				if s, ok := a.constString(b.Y, nil); ok && s == "POST" {
					postBlocks = append(postBlocks, is.Body)
				}
			}
		}
		return true
	})
	for _, b := range postBlocks {
		a.codesOf(b, nil, postOnly)
	}
	a.codesOf(handle.Body, nil, all)
	for k := range postOnly {
		delete(all, k)
	}
	// describe answers a cancelled request and any error without a code itself.
	all[codeStatus{"request_cancelled", 503}] = true
	all[codeStatus{"internal", 500}] = true
	return all, postOnly
}

func sortedCodes(m map[codeStatus]bool) []codeStatus {
	out := make([]codeStatus, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(x, y codeStatus) int {
		if x.status != y.status {
			return x.status - y.status
		}
		return strings.Compare(x.code, y.code)
	})
	return out
}

// isPublic reports whether route is a public row of the table (no key, no middleware).
func (a *codeAnalysis) isPublic(t *testing.T, route string) bool {
	t.Helper()
	for _, row := range a.routeRows(t) {
		if row.pattern == route && row.public {
			return true
		}
	}
	return false
}
