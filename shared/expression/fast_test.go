package expression

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

// fastSources are expressions the fast evaluator covers.
var fastSources = []string{
	"a + b", "a - b", "a * b", "a / b", "a // b", "a % b", "a ^ b", "-a", "!a", "- -a",
	"a == b", "a != b", "a < b", "a <= b", "a > b", "a >= b",
	"a && b", "a || b", "a ? b : c", "a ?: c", "!a && b || c",
	"(a^2 + b^2)^0.5", "a / 10", "a > 900 && b < 100", "c > 3600", "a + b + c + 1", "a / b * 1000",
	"a == true", "a + true", "false || a", "a ? true : 0.5", "1 + 2 * 3", "true", "-0", "a * -0",
}

// fastValues are variable values of every kind the fast evaluator reads,
// and some it leaves to the VM.
var fastValues = []any{
	0.0, math.Copysign(0, -1), 1.0, -2.5, 3.0, 1e300, math.NaN(), math.Inf(1), math.Inf(-1),
	true, false, 7, int64(-3), uint8(200), float32(0.5), json.Number("12.5"), json.Number("x"),
	"12", "", nil, Undefined, []any{1.0}, map[string]any{"k": 1.0},
}

// same compares Eval results, with NaN equal to NaN.
func same(a, b any) bool {
	if x, ok := a.(float64); ok {
		y, ok := b.(float64)
		return ok && (x == y && math.Signbit(x) == math.Signbit(y) || x != x && y != y)
	}
	return reflect.DeepEqual(a, b)
}

// TestFastMatchesVM checks that the fast evaluator gives the VM's results:
// Eval and EvalVars (fast when the values allow) against the VM run
// directly, for every combination of values.
func TestFastMatchesVM(t *testing.T) {
	for _, src := range fastSources {
		p, err := Compile(src, Options{})
		if err != nil {
			t.Fatalf("Compile(%q): %v", src, err)
		}
		if p.fast == nil {
			t.Errorf("%q: no fast tree", src)
			continue
		}
		n := p.NumVars()
		idx := make([]int, n)
		for {
			env := map[string]any{}
			vals := make([]any, n)
			for i, name := range p.Vars() {
				vals[i] = fastValues[idx[i]]
				env[name] = vals[i]
			}
			want, werr := p.eval(env)
			if werr == nil {
				want = export(want)
			}
			got, err := p.Eval(env)
			if !same(got, want) || (err == nil) != (werr == nil) {
				t.Errorf("%q with %v: Eval = %#v, %v; VM = %#v, %v", src, env, got, err, want, werr)
			}
			got, err = p.EvalVars(vals)
			if !same(got, want) || (err == nil) != (werr == nil) {
				t.Errorf("%q with %v: EvalVars = %#v, %v; VM = %#v, %v", src, env, got, err, want, werr)
			}
			// next combination
			i := 0
			for ; i < n; i++ {
				if idx[i]++; idx[i] < len(fastValues) {
					break
				}
				idx[i] = 0
			}
			if i == n {
				break
			}
		}
	}
}

// TestFastCoverage checks which expressions get a fast tree.
func TestFastCoverage(t *testing.T) {
	for src, want := range map[string]bool{
		"a + b": true, "a ? b : c": true,
		"a + 'x'": false, "a.b > 1": false, "a in b": false, "a|tofixed(2)": false, "[a]": false,
	} {
		p, err := Compile(src, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.fast != nil; got != want {
			t.Errorf("%q: fast tree %v, want %v", src, got, want)
		}
	}
}

// TestEvalVars checks the positional context against the map context,
// through the VM (expressions the fast evaluator does not cover), with
// absent variables.
func TestEvalVars(t *testing.T) {
	for _, tc := range []struct {
		src  string
		vals []any
	}{
		{"a + 'x' + b", []any{1.0, "y"}},
		{"a + 'x' + b", []any{1.0, Undefined}},
		{"a|tofixed(2)", []any{3.14159}},
		{"objs[.a > x].b", []any{[]any{map[string]any{"a": 1.0, "b": "p"}, map[string]any{"a": 2.0, "b": "q"}}, 1.0}},
		{"a > 1", []any{Undefined}},
		{"a == undefinedvar", []any{nil, Undefined}},
	} {
		p, err := Compile(tc.src, Options{})
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]any{}
		for i, name := range p.Vars() {
			if tc.vals[i] != Undefined {
				env[name] = tc.vals[i]
			}
		}
		want, werr := p.Eval(env)
		got, err := p.EvalVars(tc.vals)
		if !same(got, want) || (err == nil) != (werr == nil) {
			t.Errorf("%q %v: EvalVars = %#v, %v; Eval = %#v, %v", tc.src, tc.vals, got, err, want, werr)
		}
	}
	p := MustCompile("a + b")
	if _, err := p.EvalVars([]any{1.0}); err == nil {
		t.Error("EvalVars with too few values: no error")
	}
}

// FuzzFastMatchesVM compares the fast evaluator with the VM on random
// expressions over three numeric or boolean variables.
func FuzzFastMatchesVM(f *testing.F) {
	for _, s := range fastSources {
		f.Add(s, 1.5, -2.0, true)
	}
	f.Fuzz(func(t *testing.T, src string, a, b float64, c bool) {
		p, err := Compile(src, Options{MaxNodes: 200})
		if err != nil || p.fast == nil {
			return
		}
		env := map[string]any{"a": a, "b": b, "c": c}
		want, werr := p.eval(env)
		if werr == nil {
			want = export(want)
		}
		got, err := p.Eval(env)
		if !same(got, want) || (err == nil) != (werr == nil) {
			t.Fatalf("%q with %v: Eval = %#v, %v; VM = %#v, %v", src, env, got, err, want, werr)
		}
	})
}

// TestVarsOnly checks that relative filters, which may read the context,
// are reported.
func TestVarsOnly(t *testing.T) {
	for src, want := range map[string]bool{"a + b": true, "objs[.a > 1].b": false, "objs[x > 1]": true, "objs[0].a": true} {
		if got := MustCompile(src).VarsOnly(); got != want {
			t.Errorf("%q: VarsOnly() = %v, want %v", src, got, want)
		}
	}
	// for an element that is falsy, JEXL reads .a from the context
	p := MustCompile("objs[.a == 1]")
	got, err := p.Eval(map[string]any{"objs": []any{0.0, map[string]any{"a": 2.0}}, "a": 1.0})
	if err != nil || !reflect.DeepEqual(got, []any{0.0}) {
		t.Errorf("Eval = %v, %v; want [0]", got, err)
	}
}
