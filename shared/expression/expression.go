package expression

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// Default limits used when the corresponding Options field is zero.
const (
	DefaultMaxNodes     = 10000
	DefaultMaxLength    = 64 << 10
	DefaultMaxStringLen = 1 << 20
	DefaultMaxArrayLen  = 1 << 20
)

// Options tunes Compile. The zero value is ready to use.
type Options struct {
	// MaxNodes bounds the number of syntax-tree nodes (default 10000).
	MaxNodes int
	// MaxLength bounds the length of the source in bytes (default 64 KiB).
	MaxLength int
	// MaxStringLen bounds, in bytes, every string the expression builds
	// (concatenation, replace, join, jsonstringify…; default 1 MiB).
	MaxStringLen int
	// MaxArrayLen bounds the length of every array the expression builds
	// (split, concatarr, addset…; default 1 Mi elements).
	MaxArrayLen int
	// Now is the clock used by the now transform (default time.Now). Tests
	// inject a fake clock here.
	Now func() time.Time
	// Location is the time zone used where JavaScript uses the host's local
	// time: timeoffset, localestring without a timeZone option, and date
	// strings without an offset (default time.Local).
	Location *time.Location
}

func (o Options) withDefaults() Options {
	if o.MaxNodes <= 0 {
		o.MaxNodes = DefaultMaxNodes
	}
	if o.MaxLength <= 0 {
		o.MaxLength = DefaultMaxLength
	}
	if o.MaxStringLen <= 0 {
		o.MaxStringLen = DefaultMaxStringLen
	}
	if o.MaxArrayLen <= 0 {
		o.MaxArrayLen = DefaultMaxArrayLen
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	return o
}

// Program is a compiled expression. It is immutable and safe for concurrent
// use by multiple goroutines.
type Program struct {
	src  string
	vars []string
	prog *vm.Program
	rt   *runtime
	fast *fastNode // nil: the VM always runs (see fast.go)
	// varsOnly: the program reads no context variable but vars (see VarsOnly).
	varsOnly bool
}

// runtime holds what transforms need besides their arguments.
type runtime struct {
	opts Options
}

// Compile parses a JEXL expression and compiles it to an expr-lang program.
// Syntax errors are returned as *SyntaxError with the byte offset in src;
// a call of an unknown transform is a *SyntaxError wrapping
// ErrUnknownTransform.
func Compile(src string, opts Options) (_ *Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("expression: %w: %v", errInternal, r)
		}
	}()
	opts = opts.withDefaults()
	if len(src) > opts.MaxLength {
		return nil, &SyntaxError{Pos: opts.MaxLength, Msg: fmt.Sprintf("expression longer than %d bytes", opts.MaxLength), Err: ErrLimit}
	}
	root, serr := parse(src, opts.MaxNodes, isTransform)
	if serr != nil {
		return nil, serr
	}
	g := &gen{varIdx: map[string]bool{}, used: map[string]bool{}}
	tree := &parser.Tree{Node: g.node(root), Source: file.NewSource(src)}

	rt := &runtime{opts: opts}
	cfg := conf.CreateNew()
	cfg.MaxNodes = 0 // the JEXL parser already bounded the tree
	for name := range cfg.Builtins {
		delete(cfg.Builtins, name)
	}
	for name := range g.used {
		f := lookupFunc(name)
		if f == nil {
			return nil, fmt.Errorf("expression: %w: no function %q", errInternal, name)
		}
		expr.Function(name, rt.bind(name, f))(cfg)
	}
	if _, err := checker.Check(tree, cfg); err != nil {
		return nil, fmt.Errorf("expression: %w: %w", errInternal, err)
	}
	prog, err := compiler.Compile(tree, cfg)
	if err != nil {
		return nil, fmt.Errorf("expression: %w: %w", errInternal, err)
	}
	p := &Program{src: src, vars: g.vars, prog: prog, rt: rt, varsOnly: !g.relCtx}
	if len(g.vars) <= maxFastVars {
		idx := make(map[string]int, len(g.vars))
		for i, name := range g.vars {
			idx[name] = i
		}
		p.fast = fastCompile(root, idx)
	}
	return p, nil
}

// MustCompile is like Compile with default options but panics on error. It
// is meant for expressions that are constants in the program.
func MustCompile(src string) *Program {
	p, err := Compile(src, Options{})
	if err != nil {
		panic(err)
	}
	return p
}

// Source returns the expression as given to Compile.
func (p *Program) Source() string { return p.src }

// Vars returns the names of the context variables the expression reads, in
// order of first appearance. An IoT-agent style pipeline runs an expression
// only when all of them are present in the reading.
func (p *Program) Vars() []string { return append([]string(nil), p.vars...) }

var vmPool = sync.Pool{New: func() any { return new(vm.VM) }}

// Eval evaluates the program against env, the expression's context. env is
// only read. The result is a JavaScript-like Go value: float64, string,
// bool, nil (null or undefined), []any or map[string]any (NaN and ±Inf are
// returned as float64; use EvalJSON to get JSON.stringify's output with
// object keys in JavaScript order). Eval never panics.
func (p *Program) Eval(env map[string]any) (any, error) {
	if s, ok := p.evalFastMap(env); ok {
		return s.export(), nil
	}
	var e any = env
	if env == nil {
		e = map[string]any{}
	}
	v, err := p.eval(e)
	if err != nil {
		return nil, err
	}
	return export(v), nil
}

// EvalJSON evaluates the program and renders the result as JSON.stringify
// does (object keys in insertion order, NaN, ±Inf and undefined as null).
func (p *Program) EvalJSON(env map[string]any) ([]byte, error) {
	var e any = env
	if env == nil {
		e = map[string]any{}
	}
	v, err := p.eval(e)
	if err != nil {
		return nil, err
	}
	b, err := marshalJSON(v, p.rt.opts.MaxStringLen)
	if err != nil {
		return nil, &EvalError{Pos: 0, Msg: err.Error(), Err: err}
	}
	return b, nil
}

// eval runs the VM; env is a map[string]any or a *varEnv, which lookupVar reads.
func (p *Program) eval(env any) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, &EvalError{Msg: fmt.Sprintf("internal error: %v", r), Err: errInternal}
		}
	}()
	m := vmPool.Get().(*vm.VM)
	v, err := m.Run(p.prog, env)
	vmPool.Put(m)
	if err != nil {
		return nil, p.evalError(err)
	}
	return v, nil
}

// Undefined is JavaScript's undefined: as a value given to EvalVars, it
// marks a variable absent from the context.
var Undefined = undefined

// EvalVars is Eval with the context given positionally: vals[i] is the
// value of the variable Vars()[i] (Undefined for one that is absent). It
// spares callers on hot paths a map per evaluation: they resolve, once at
// setup, where each variable comes from. vals is only read and must have
// len(Vars()) elements; it does not escape, so callers may pass a buffer
// on their stack.
func (p *Program) EvalVars(vals []any) (any, error) {
	if len(vals) != len(p.vars) {
		err := fmt.Errorf("%w: EvalVars got %d values for %d variables", errInternal, len(vals), len(p.vars))
		return nil, &EvalError{Msg: err.Error(), Err: err}
	}
	if s, ok := p.evalFastVals(vals); ok {
		return s.export(), nil
	}
	v, err := p.eval(&varEnv{names: p.vars, vals: slices.Clone(vals)})
	if err != nil {
		return nil, err
	}
	return export(v), nil
}

// VarsOnly reports whether the expression reads nothing of its context
// but Vars(), so that EvalVars always gives Eval's result. It is false for
// an expression with a relative filter (objs[.a > 1]): for an element that
// is falsy, JEXL reads a from the context, which EvalVars does not have.
func (p *Program) VarsOnly() bool { return p.varsOnly }

// NumVars is len(Vars()), without the copy.
func (p *Program) NumVars() int { return len(p.vars) }

// varEnv is the context of EvalVars: the program's variables and their values.
type varEnv struct {
	names []string
	vals  []any
}

// get returns the value of variable name (few: a linear search is fastest).
func (e *varEnv) get(name string) (any, bool) {
	for i, n := range e.names {
		if n == name {
			return e.vals[i], true
		}
	}
	return nil, false
}

func (p *Program) evalError(err error) error {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return &EvalError{Msg: err.Error(), Err: err}
	}
	cause := fe.Unwrap()
	msg := fe.Message
	if cause != nil {
		msg = cause.Error()
	} else if strings.Contains(msg, "memory budget exceeded") {
		cause = fmt.Errorf("%w: %s", ErrLimit, msg)
	} else {
		cause = errors.New(msg)
	}
	return &EvalError{Pos: fe.From, Msg: msg, Err: cause}
}

// Eval compiles src with default options and evaluates it against env.
func Eval(src string, env map[string]any) (any, error) {
	p, err := Compile(src, Options{})
	if err != nil {
		return nil, err
	}
	return p.Eval(env)
}

// EvalJSON evaluates src against the JSON object contextJSON and returns the
// result as JSON, exactly what `gridedge expr eval --expr E --context JSON`
// prints. Object key order is kept as JavaScript would keep it; NaN and
// undefined print as null as JSON.stringify prints them.
func EvalJSON(src string, contextJSON []byte) ([]byte, error) {
	p, err := Compile(src, Options{})
	if err != nil {
		return nil, err
	}
	env := map[string]any{}
	if len(contextJSON) > 0 {
		v, err := parseJSON(string(contextJSON))
		if err != nil {
			return nil, fmt.Errorf("expression: context: %w", err)
		}
		o, ok := v.(*object)
		if !ok {
			return nil, fmt.Errorf("expression: context must be a JSON object")
		}
		for k, v := range o.m {
			env[k] = v
		}
	}
	return p.EvalJSON(env)
}

// ---- code generation: JEXL tree -> expr-lang AST ----

type gen struct {
	vars   []string
	varIdx map[string]bool
	used   map[string]bool
	tmp    int
	rel    int // depth of relative-filter predicates around the current node
	// relCtx: a relative identifier may read the context (see VarsOnly).
	relCtx bool
}

func (g *gen) call(pos int, name string, args ...ast.Node) ast.Node {
	g.used[name] = true
	n := &ast.CallNode{Callee: &ast.IdentifierNode{Value: name}, Arguments: args}
	setLoc(n, pos)
	setLoc(n.Callee, pos)
	return n
}

func setLoc(n ast.Node, pos int) { n.SetLocation(file.Location{From: pos, To: pos}) }

func (g *gen) str(pos int, s string) ast.Node {
	n := &ast.StringNode{Value: s}
	setLoc(n, pos)
	return n
}

func (g *gen) ident(pos int, name string) ast.Node {
	n := &ast.IdentifierNode{Value: name}
	setLoc(n, pos)
	return n
}

func (g *gen) variable(pos int, name string) ast.Node {
	if !g.varIdx[name] {
		g.varIdx[name] = true
		g.vars = append(g.vars, name)
	}
	return g.call(pos, "$var", g.ident(pos, "$env"), g.str(pos, name))
}

// shortCircuit builds `let t = a; cond(t) ? x : y` where x/y use t.
func (g *gen) shortCircuit(pos int, a *node, build func(t ast.Node) (ast.Node, ast.Node)) ast.Node {
	g.tmp++
	name := "$t" + strconv.Itoa(g.tmp)
	left := g.node(a)
	then, els := build(g.ident(pos, name))
	cond := &ast.ConditionalNode{Ternary: true, Cond: g.call(pos, "$truthy", g.ident(pos, name)), Exp1: then, Exp2: els}
	setLoc(cond, pos)
	n := &ast.VariableDeclaratorNode{Name: name, Value: left, Expr: cond}
	setLoc(n, pos)
	return n
}

var binFuncs = map[string]string{
	"+": "$add", "-": "$sub", "*": "$mul", "/": "$div", "//": "$idiv", "%": "$mod", "^": "$pow",
	"==": "$eq", "!=": "$ne", "<": "$lt", "<=": "$le", ">": "$gt", ">=": "$ge", "in": "$in",
}

func (g *gen) node(n *node) ast.Node {
	switch n.kind {
	case nLit:
		var out ast.Node
		switch v := n.val.(type) {
		case float64:
			out = &ast.FloatNode{Value: v}
		case string:
			out = &ast.StringNode{Value: v}
		case bool:
			out = &ast.BoolNode{Value: v}
		}
		setLoc(out, n.pos)
		return out
	case nVar:
		return g.variable(n.pos, n.name)
	case nRel:
		if g.rel > 0 {
			g.relCtx = true
			p := &ast.PointerNode{}
			setLoc(p, n.pos)
			return g.call(n.pos, "$rel", p, g.str(n.pos, n.name), g.ident(n.pos, "$env"))
		}
		return g.variable(n.pos, n.name)
	case nMember:
		return g.call(n.pos, "$get", g.node(n.a), g.str(n.pos, n.name))
	case nIndex:
		return g.call(n.pos, "$index", g.node(n.a), g.node(n.b))
	case nFilter:
		subject := g.call(n.pos, "$toarr", g.node(n.a))
		g.rel++
		pred := g.call(n.pos, "$truthy", g.node(n.b))
		g.rel--
		p := &ast.PredicateNode{Node: pred}
		setLoc(p, n.pos)
		b := &ast.BuiltinNode{Name: "filter", Arguments: []ast.Node{subject, p}}
		setLoc(b, n.pos)
		return b
	case nBin:
		switch n.name {
		case "&&":
			return g.shortCircuit(n.pos, n.a, func(t ast.Node) (ast.Node, ast.Node) { return g.node(n.b), t })
		case "||":
			return g.shortCircuit(n.pos, n.a, func(t ast.Node) (ast.Node, ast.Node) { return t, g.node(n.b) })
		}
		return g.call(n.pos, binFuncs[n.name], g.node(n.a), g.node(n.b))
	case nNot:
		return g.call(n.pos, "$not", g.node(n.a))
	case nNeg:
		return g.call(n.pos, "$neg", g.node(n.a))
	case nCond:
		if n.b == nil {
			return g.shortCircuit(n.pos, n.a, func(t ast.Node) (ast.Node, ast.Node) { return t, g.node(n.c) })
		}
		c := &ast.ConditionalNode{Ternary: true, Cond: g.call(n.pos, "$truthy", g.node(n.a)), Exp1: g.node(n.b), Exp2: g.node(n.c)}
		setLoc(c, n.pos)
		return c
	case nArr:
		elems := make([]ast.Node, len(n.list))
		for i, e := range n.list {
			elems[i] = g.node(e)
		}
		a := &ast.ArrayNode{Nodes: elems}
		setLoc(a, n.pos)
		return a
	case nObj:
		args := make([]ast.Node, 0, 2*len(n.list))
		for i, e := range n.list {
			args = append(args, g.str(n.pos, n.keys[i]), g.node(e))
		}
		return g.call(n.pos, "$obj", args...)
	case nCall:
		args := make([]ast.Node, len(n.list))
		for i, e := range n.list {
			args[i] = g.node(e)
		}
		return g.call(n.pos, n.name, args...)
	}
	panic(fmt.Sprintf("expression: unknown node kind %d", n.kind))
}
