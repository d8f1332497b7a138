package convert

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/shared/config"
)

// TestSandboxAttacks runs hostile code: every call must end within its
// budgets with the right error, and the process must survive.
func TestSandboxAttacks(t *testing.T) {
	lim := Limits{Timeout: config.Duration(time.Second)}
	tests := []struct {
		name string
		code string
		want error
		msg  string
	}{
		{"infinite loop", "(d) => { for (;;) {} }", ErrTimeout, "ran longer than 1s"},
		{"infinite recursion through a loop", "(d) => { while (true) { d = {d}; } }", nil, ""},
		{"fill a huge array", "(d) => new Array(3e7).fill(0).length", ErrMemory, "new Array(3e+07)"},
		{"fill a huge array made by length", "(d) => { const a = []; a.length = 3e7; return a.fill(0).length }", ErrMemory, "array of 30000000 elements"},
		{"Array.from a huge length", "(d) => Array.from({length: 3e7}).length", ErrMemory, "Array.from of 30000000 elements"},
		{"generic call on an array-like", "(d) => Array.prototype.join.call({length: 3e8}, 'x').length", ErrMemory, "array of 300000000 elements"},
		{"repeat", "(d) => 'x'.repeat(3e8).length", ErrMemory, "repeat to 3e+08 characters"},
		{"padStart", "(d) => 'x'.padStart(3e8).length", ErrMemory, "padStart to 3e+08 characters"},
		{"replaceAll expansion", "(d) => 'x'.repeat(1e5).replaceAll('x', 'y'.repeat(1e5)).length", ErrMemory, "replaceAll could make"},
		{"string doubling", "(d) => { let s = 'x'.repeat(1 << 20); for (let i = 0; i < 40; i++) s = s + s; return s.length }", nil, ""},
		{"push forever", "(d) => { const a = []; for (;;) a.push({i: a.length, s: 'abcdefgh'}); }", nil, ""},
		{"huge sparse result", "(d) => { const a = []; a.length = 1e9; return a }", ErrTooLarge, "an array of 1000000000 elements (limit 100000)"},
		{"stringify a huge sparse array", "(d) => { const a = []; a.length = 1e9; return JSON.stringify(a).length }", ErrMemory, "JSON.stringify of more than"},
		{"cyclic result", "(d) => { const a = {}; a.self = a; return a }", ErrTooLarge, "nested deeper than 256 (a cycle?)"},
		{"getter that changes its mind", "(d) => { let n = 0; return { get x() { if (n++ === 0) return [1]; const a = []; a.length = 1e9; return a } } }", nil, "[1]"},
		{"stringify a cycle", "(d) => { const a = {}; a.self = a; return JSON.stringify(a) }", ErrScript, "Converting circular structure to JSON"},
		{"getter bomb on the result", "(d) => ({ get x() { for (;;) {} } })", ErrTimeout, "ran longer than 1s"},
		{"Function constructor stays inside", "(d) => Function('return typeof require')()", nil, "undefined"},
		{"async", "async (d) => d", ErrScript, "converters are synchronous"},
		{"a promise job that never ends", "(d) => { Promise.resolve().then(() => { for (;;) {} }); return 1 }", ErrTimeout, "ran longer than 1s"},
		{"typed arrays are gone", "(d) => new Uint8Array(1e10)", ErrScript, "ReferenceError: Uint8Array is not defined"},
		{"ArrayBuffer is gone", "(d) => new ArrayBuffer(1e10)", ErrScript, "ReferenceError: ArrayBuffer is not defined"},
		{"require", "(d) => require('fs').readFileSync('/etc/passwd')", ErrScript, "ReferenceError: require is not defined"},
		{"console", "(d) => console.log('x')", ErrScript, "ReferenceError: console is not defined"},
		{"process", "(d) => process.env", ErrScript, "ReferenceError: process is not defined"},
		{"setTimeout", "(d) => setTimeout(() => 1, 1)", ErrScript, "ReferenceError: setTimeout is not defined"},
		{"import", "(d) => import('fs')", ErrScript, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Compile(&Transformation{ID: "attack", Code: tt.code}, lim)
			if err != nil {
				if tt.name == "import" && errors.Is(err, ErrInvalid) {
					return // dynamic import does not even compile
				}
				t.Fatal(err)
			}
			start := time.Now()
			out, err := c.Apply(map[string]any{"a": 1.0})
			took := time.Since(start)
			if tt.want == nil && tt.msg != "" { // a result
				if err != nil || !strings.Contains(textOf(out), tt.msg) {
					t.Fatalf("got %v, %v, want %s", out, err, tt.msg)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %v, want an error", out)
			}
			if tt.want != nil && (!errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg)) {
				t.Errorf("got %v, want %v with %q", err, tt.want, tt.msg)
			}
			if tt.want == nil && !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrMemory) {
				t.Errorf("got %v, want a timeout or memory error", err)
			}
			if took > 5*time.Second {
				t.Errorf("the call took %v", took)
			}
		})
	}
}

// TestNoPollutionAcrossCalls: what one call changes in the built-ins or
// the global object is not seen by the next call.
func TestNoPollutionAcrossCalls(t *testing.T) {
	polluter := mustCompile(t, map[string]any{"_id": "p", "code": `(d) => {
		Object.prototype.polluted = 'yes';
		Array.prototype.map = function () { return ['hijacked'] };
		JSON.parse = () => ({hijacked: true});
		globalThis.stash = (globalThis.stash || 0) + 1;
		return {stash: globalThis.stash};
	}`}, Limits{})
	reader := mustCompile(t, map[string]any{"_id": "r", "code": `(d) => ({
		polluted: ({}).polluted === undefined ? 'no' : 'yes',
		mapped: [1, 2].map((x) => x * 2),
		stash: typeof globalThis.stash,
		input: d.a,
	})`}, Limits{})
	for i := 0; i < 3; i++ {
		got, err := polluter.Apply(map[string]any{})
		if err != nil {
			t.Fatal(err)
		}
		if s := got.(map[string]any)["stash"]; s != 1.0 {
			t.Errorf("call %d: a global survived the previous call: stash = %v", i, s)
		}
		got, err = reader.Apply(map[string]any{"a": "x"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"polluted": "no", "mapped": []any{2.0, 4.0}, "stash": "undefined", "input": "x"}
		for k, v := range want {
			if g := got.(map[string]any)[k]; !equalJSON(g, v) {
				t.Errorf("call %d: %s = %v, want %v", i, k, g, v)
			}
		}
	}
}

func equalJSON(a, b any) bool {
	as, bs := strings.TrimSpace(strings.ReplaceAll(toText(a), " ", "")), strings.ReplaceAll(toText(b), " ", "")
	return as == bs
}

func toText(v any) string { return textOf(v) }

func TestInputAndOutputLimits(t *testing.T) {
	lim := Limits{MaxInputBytes: 1000, MaxOutputBytes: 1000}
	c := mustCompile(t, map[string]any{"_id": "x", "code": "(d) => d.big ? 'y'.repeat(5000) : d"}, lim)
	if _, err := c.Apply(map[string]any{"s": strings.Repeat("x", 2000)}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "input of 2008 bytes as JSON (limit 1000)") {
		t.Errorf("big input: got %v", err)
	}
	if _, err := c.Apply(map[string]any{"big": true}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "result larger than the output limit") {
		t.Errorf("big output: got %v", err)
	}
	tm := mustCompile(t, map[string]any{"_id": "t", "template": map[string]any{"a": "{{s}}", "b": "{{s}}"}}, lim)
	if _, err := tm.Apply(map[string]any{"s": strings.Repeat("x", 600)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("big template output: got %v", err)
	}
}

// TestGuardsKeepBuiltinsWorking: the guarded built-ins behave as usual
// within the limits.
func TestGuardsKeepBuiltinsWorking(t *testing.T) {
	tests := []struct{ code, want string }{
		{"(d) => Array(3).length", "3"},
		{"(d) => new Array(1, 2, 3)", "[1,2,3]"},
		{"(d) => [[] instanceof Array, [].constructor === Array, Array.isArray([1])]", "[true,true,true]"},
		{"(d) => Array.from('abc').concat(Array.of(1, 2))", `["a","b","c",1,2]`},
		{"(d) => [3, 1, 2].sort().map((x) => x * 2).filter((x) => x > 2).join('-')", "4-6"},
		{"(d) => 'ab'.repeat(3) + 'x'.padStart(3, '.') + 'a-b'.replaceAll('-', '+') + 'a'.replace(/a/, (m) => m.toUpperCase())", "ababab..xa+bA"},
		{"(d) => JSON.stringify({a: [1, 2], b: 'x'})", `{"a":[1,2],"b":"x"}`},
		{"(d) => [[1, [2]], 3].flat(Infinity)", "[1,2,3]"},
		{"(d) => { class X extends Array {} return new X(1, 2).length }", "2"},
		{"(d) => new Array(100000).fill(1).reduce((a, b) => a + b, 0)", "100000"},
		{"(d) => ({n: NaN, f() { return 1 }, when: new Date(0)})", `{"n":null,"when":"1970-01-01T00:00:00Z"}`},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			c := mustCompile(t, map[string]any{"_id": "x", "code": tt.code}, Limits{Timeout: config.Duration(5 * time.Second)})
			out, err := c.Apply(map[string]any{})
			if err != nil {
				t.Fatal(err)
			}
			if got := textOf(out); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
