package expression

import (
	"encoding/json"
	"math"
)

// This file holds the fast evaluator. Most expressions on the per-reading
// hot paths are arithmetic and comparisons over numeric measurements
// ("u / 10", "(p^2 + q^2)^0.5", "value > 900 && previous < 100", a
// virtual sensor's "$0 + $1 + $2 + $3"). Through the expr-lang VM every
// operator is a variadic function call on boxed values: each intermediate
// number is an allocation, and the VM allocates its argument buffer on
// every run. For such expressions Compile also builds a small tree that
// evaluates numbers and booleans unboxed.
//
// The tree covers number and boolean literals, context variables, the
// arithmetic, equality, relational and logical operators, !, unary minus
// and the ternaries. It runs only when every variable the expression reads
// is a number or a boolean (after norm, as the VM would see it);
// otherwise, and for every other expression, the VM runs. On numbers and
// booleans each operator below computes exactly what its function in
// functions.go computes (ToNumber of a boolean is 0 or 1, and none of them
// can fail), so the choice never changes a result.

// scalar is a JavaScript number or boolean. A boolean is stored as 0 or 1
// in f, which is also its ToNumber.
type scalar struct {
	f      float64
	isBool bool
}

func boolScalar(b bool) scalar {
	if b {
		return scalar{f: 1, isBool: true}
	}
	return scalar{isBool: true}
}

// truthy is JavaScript's ToBoolean.
func (s scalar) truthy() bool { return s.f != 0 && s.f == s.f }

// export is what Eval returns for s (export turns -0 into 0).
func (s scalar) export() any {
	switch {
	case s.isBool:
		return s.f != 0
	case s.f == 0:
		return float64(0)
	}
	return s.f
}

// scalarOf reads a context value as the VM would (norm) and reports
// whether it is a number or a boolean.
func scalarOf(v any) (scalar, bool) {
	switch x := v.(type) {
	case float64:
		return scalar{f: x}, true
	case bool:
		return boolScalar(x), true
	case int, int64, int32, int16, int8, uint, uint64, uint32, uint16, uint8, float32, json.Number:
		// norm's conversions to float64; other types (reflection, JSON)
		// are left to the VM, which also recovers from their panics
		if f, ok := norm(x).(float64); ok {
			return scalar{f: f}, true
		}
	}
	return scalar{}, false
}

type fastOp uint8

const (
	fLit fastOp = iota
	fVar
	fAdd
	fSub
	fMul
	fDiv
	fIdiv
	fMod
	fPow
	fEq
	fNe
	fLt
	fLe
	fGt
	fGe
	fAnd
	fOr
	fNot
	fNeg
	fCond  // a ? b : c
	fElvis // a ?: c
)

var fastBin = map[string]fastOp{
	"+": fAdd, "-": fSub, "*": fMul, "/": fDiv, "//": fIdiv, "%": fMod, "^": fPow,
	"==": fEq, "!=": fNe, "<": fLt, "<=": fLe, ">": fGt, ">=": fGe, "&&": fAnd, "||": fOr,
}

// fastNode is a node of the fast evaluator's tree.
type fastNode struct {
	op      fastOp
	lit     scalar // fLit
	idx     int    // fVar: index into Program.vars
	a, b, c *fastNode
}

// fastCompile builds the fast tree of n, or returns nil when n uses
// something the fast evaluator does not cover. varIdx maps variable names
// to their index in Program.vars.
func fastCompile(n *node, varIdx map[string]int) *fastNode {
	if n == nil {
		return nil
	}
	sub := func(ns ...*node) ([]*fastNode, bool) {
		out := make([]*fastNode, len(ns))
		for i, x := range ns {
			if out[i] = fastCompile(x, varIdx); out[i] == nil {
				return nil, false
			}
		}
		return out, true
	}
	switch n.kind {
	case nLit:
		switch v := n.val.(type) {
		case float64:
			return &fastNode{op: fLit, lit: scalar{f: v}}
		case bool:
			return &fastNode{op: fLit, lit: boolScalar(v)}
		}
	case nVar:
		if i, ok := varIdx[n.name]; ok {
			return &fastNode{op: fVar, idx: i}
		}
	case nBin:
		op, ok := fastBin[n.name]
		if !ok {
			return nil
		}
		if s, ok := sub(n.a, n.b); ok {
			return &fastNode{op: op, a: s[0], b: s[1]}
		}
	case nNot, nNeg:
		if s, ok := sub(n.a); ok {
			op := fNot
			if n.kind == nNeg {
				op = fNeg
			}
			return &fastNode{op: op, a: s[0]}
		}
	case nCond:
		if n.b == nil {
			if s, ok := sub(n.a, n.c); ok {
				return &fastNode{op: fElvis, a: s[0], c: s[1]}
			}
			return nil
		}
		if s, ok := sub(n.a, n.b, n.c); ok {
			return &fastNode{op: fCond, a: s[0], b: s[1], c: s[2]}
		}
	}
	return nil
}

// eval evaluates the tree; vars holds the value of every variable.
func (n *fastNode) eval(vars []scalar) scalar {
	switch n.op {
	case fLit:
		return n.lit
	case fVar:
		return vars[n.idx]
	case fNot:
		return boolScalar(!n.a.eval(vars).truthy())
	case fNeg:
		return scalar{f: -n.a.eval(vars).f}
	case fAnd: // JEXL's && and || return an operand, as JavaScript's do
		if t := n.a.eval(vars); !t.truthy() {
			return t
		}
		return n.b.eval(vars)
	case fOr:
		if t := n.a.eval(vars); t.truthy() {
			return t
		}
		return n.b.eval(vars)
	case fCond:
		if n.a.eval(vars).truthy() {
			return n.b.eval(vars)
		}
		return n.c.eval(vars)
	case fElvis:
		if t := n.a.eval(vars); t.truthy() {
			return t
		}
		return n.c.eval(vars)
	}
	x, y := n.a.eval(vars).f, n.b.eval(vars).f
	switch n.op {
	case fAdd:
		return scalar{f: x + y}
	case fSub:
		return scalar{f: x - y}
	case fMul:
		return scalar{f: x * y}
	case fDiv:
		return scalar{f: x / y}
	case fIdiv:
		return scalar{f: math.Floor(x / y)}
	case fMod:
		return scalar{f: math.Mod(x, y)}
	case fPow:
		return scalar{f: jsPow(x, y)}
	case fEq: // looseEqual of numbers and booleans compares their ToNumber
		return boolScalar(x == y)
	case fNe:
		return boolScalar(x != y)
	case fLt: // lessThan: false when NaN is involved
		return boolScalar(x < y)
	case fGt:
		return boolScalar(y < x)
	case fLe:
		return boolScalar(x == x && y == y && !(y < x))
	case fGe:
		return boolScalar(x == x && y == y && !(x < y))
	}
	panic("expression: unknown fast op")
}

// maxFastVars bounds the variables of a fast evaluation, whose values live
// on the stack; expressions with more variables use the VM.
const maxFastVars = 16

// evalFastMap runs the fast tree against a context map. ok is false when
// it does not apply: no tree, or a variable that is absent or is not a
// number or a boolean.
func (p *Program) evalFastMap(env map[string]any) (scalar, bool) {
	if p.fast == nil {
		return scalar{}, false
	}
	var buf [maxFastVars]scalar
	vars := buf[:len(p.vars)]
	for i, name := range p.vars {
		s, ok := scalarOf(env[name]) // absent: nil, which does not qualify
		if !ok {
			return scalar{}, false
		}
		vars[i] = s
	}
	return p.fast.eval(vars), true
}

// evalFastVals is evalFastMap for EvalVars' values.
func (p *Program) evalFastVals(vals []any) (scalar, bool) {
	if p.fast == nil {
		return scalar{}, false
	}
	var buf [maxFastVars]scalar
	vars := buf[:len(p.vars)]
	for i := range vars {
		s, ok := scalarOf(vals[i])
		if !ok {
			return scalar{}, false
		}
		vars[i] = s
	}
	return p.fast.eval(vars), true
}
